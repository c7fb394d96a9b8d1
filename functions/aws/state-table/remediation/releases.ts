/** The end of a remediation: everything it holds, given back together. */
import {
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import { settleClaimItem, settleInstanceClaim } from './claims';
import { failedCondition } from './conditional';
import { leaveGroupLock, releaseGroupLock } from './group-locks';
import { leaseItemRelease, releaseLease } from './leases';
import { queueIsEmpty } from './queue';

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
 * The end of a remediation: its part of its group's lock (if any: it leaves it), its lease items and its claim on the
 * instance (if given: given back, or kept as replaced by `instance.replacedBy`), settled in
 * one transaction. Anything no longer the holder's (expired and taken) is left alone: then
 * each is released on its own. Returns how many lease items were released.
 */
export async function releaseAll(table: StateTableHandle, release: Release): Promise<number> {
  return (await releaseAllSeeingQueue(table, release, false)).released;
}

/**
 * {@link releaseAll}, also saying whether anyone waits in the fleet's queue (then the slot is
 * theirs to be granted): learnt for nothing when nobody does, by a condition in the same
 * transaction; only when someone does is the release sent again without it.
 */
export async function releaseAllSeeingQueue(
  table: StateTableHandle,
  release: Release,
  seeQueue = true,
): Promise<{ released: number; waiters: boolean }> {
  const deletes: TransactWriteItem[] = release.items.map((sk) =>
    leaseItemRelease(table, release.fleet, sk, release.holder),
  );
  if (release.group !== undefined)
    deletes.push({ Update: leaveGroupLock(table, release.group, release.holder) });
  const instance = release.instance;
  if (instance !== undefined)
    deletes.push(settleClaimItem(table, instance.id, release.holder, instance.replacedBy));
  if (deletes.length === 0) return { released: 0, waiters: false };
  const queueIndex = deletes.length;
  if (seeQueue) deletes.push({ ConditionCheck: queueIsEmpty(table, release.fleet) });
  try {
    await table.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: deletes }));
    return { released: release.items.length, waiters: false };
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const reasons = error.CancellationReasons ?? [];
    const onlyTheQueue =
      seeQueue &&
      failedCondition(reasons[queueIndex]) &&
      reasons.every((reason, i) => i === queueIndex || reason.Code === undefined || reason.Code === 'None');
    if (onlyTheQueue) return { ...(await releaseAllSeeingQueue(table, release, false)), waiters: true };
  }
  if (release.group !== undefined) await releaseGroupLock(table, release.group, release.holder);
  if (instance !== undefined)
    await settleInstanceClaim(table, instance.id, release.holder, instance.replacedBy);
  // Released item by item: whether anyone waits is not known, so the caller asks.
  return {
    released: await releaseLease(table, release.fleet, release.holder, release.items),
    waiters: seeQueue,
  };
}
