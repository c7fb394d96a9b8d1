/**
 * Replacement claims: `replacement#<instance>` / `claim`, the execution a freshly launched Auto
 * Scaling instance belongs to (the group's new instances carry nothing that says which
 * execution asked for them: the first to claim one owns it).
 */
import { expiry, type Item, itemKey } from './table';

export interface ReplacementClaim {
  /** The new instance. */
  instanceId: string;
  /** The execution ARN. */
  holder: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The claim's key. */
export function replacementClaimKey(instanceId: string): Item {
  return itemKey(`replacement#${instanceId}`, 'claim');
}

export function replacementClaimItem(claim: ReplacementClaim): Item {
  return {
    ...replacementClaimKey(claim.instanceId),
    holder: { S: claim.holder },
    ...expiry(claim.expiresAt),
  };
}
