/** Notification de-duplication: `notification#<key>` / `claim`, one per notification sent, expiring. */
import { expiry, type Item, itemKey } from './table';

/** A notification claimed: sent (or being sent) once, not again until `expiresAt`. */
export interface NotificationClaim {
  /** What was notified, e.g. instance + fingerprint + event. */
  key: string;
  /** ISO-8601. */
  claimedAt: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The claim's key. */
export function notificationClaimKey(key: string): Item {
  return itemKey(`notification#${key}`, 'claim');
}

export function notificationClaimItem(claim: NotificationClaim): Item {
  return {
    ...notificationClaimKey(claim.key),
    claimedAt: { S: claim.claimedAt },
    ...expiry(claim.expiresAt),
  };
}
