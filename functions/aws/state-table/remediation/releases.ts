/** The end of a remediation: everything it holds, given back together. */
import {
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import { groupLockKey } from '../schema';
import { settleClaimItem, settleInstanceClaim } from './claims';
import { deleteIfHeld } from './conditional';
import { releaseGroupLock } from './group-locks';
import { leaseItemRelease, releaseLease } from './leases';

/** What a remediation holds at its end. */
export interface Release {
  holder: string;
  fleet: string;
  /** The lease's items, as granted. */
  items: readonly string[];
  /** The group whose lock it may hold. */
  group?: string;
  /** The instance it claimed: given back, or kept as replaced by `replacedBy`. */
  instance?: { id: string; replacedBy?: string };
}

/**
 * The end of a remediation: its group lock (if any), its lease items and its claim on the
 * instance (if given: given back, or kept as replaced by `instance.replacedBy`), settled in
 * one transaction. Anything no longer the holder's (expired and taken) is left alone: then
 * each is released on its own. Returns how many lease items were released.
 */
export async function releaseAll(table: StateTableHandle, release: Release): Promise<number> {
  const deletes: TransactWriteItem[] = release.items.map((sk) =>
    leaseItemRelease(table, release.fleet, sk, release.holder),
  );
  if (release.group !== undefined)
    deletes.push({ Delete: deleteIfHeld(table, groupLockKey(release.group), release.holder) });
  const instance = release.instance;
  if (instance !== undefined)
    deletes.push(settleClaimItem(table, instance.id, release.holder, instance.replacedBy));
  if (deletes.length === 0) return 0;
  try {
    await table.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: deletes }));
    return release.items.length;
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
  }
  if (release.group !== undefined) await releaseGroupLock(table, release.group, release.holder);
  if (instance !== undefined)
    await settleInstanceClaim(table, instance.id, release.holder, instance.replacedBy);
  return releaseLease(table, release.fleet, release.holder, release.items);
}
