/**
 * The lock on an Auto Scaling group's capacity: Phoenix changes a group's desired capacity only
 * under it (docs/adr/0009-asg-surge-without-races.md).
 */
import {
  type AttributeValue,
  type CancellationReason,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../../domain/errors';
import { nonNegativeInteger, type StateTableHandle } from '../handle';
import {
  CONDITIONS,
  epochSeconds,
  GROUP_CHANGE_ATTRIBUTE,
  type GroupChange,
  type GroupLock,
  groupChangeValue,
  groupLockFromItem,
  groupLockItem,
  groupLockKey,
  groupRetirersKey,
  RENEW,
} from '../schema';
import { liveGroupLock } from '../views';
import { deleteIfHeld, failedCondition } from './conditional';

export type GroupLockDecision =
  /** `reentered`: the holder had the lock already (a retried step); `lock` then carries what it recorded. */
  | { acquired: true; lock: GroupLock; reentered: boolean }
  /** `retirersFirst`: the lock may be free, but retirements wait for it, and a surge goes after them. */
  | { acquired: false; heldBy: GroupLock; retirersFirst?: number };

/**
 * What the lock is taken for. A `surge` adds capacity (launches a member); a `retire` hands
 * capacity back (an old member, a rollback). Retirements go first: one refused registers as
 * waiting, and no surge takes the lock while one waits, so finishing replacements is never
 * starved by starting new ones (a healthy replacement rolled back because its retirement
 * could not get the lock).
 */
export type GroupLockPurpose = 'surge' | 'retire';

/** How long a waiting retirement's registration holds surges off without being renewed (each of its tries renews it). */
export const RETIRER_WAIT_SECONDS = 300;

/** What {@link recordGroupChange} found. */
export type RecordOutcome =
  | { outcome: 'recorded' }
  /** The holder had already recorded a change (a retried step): this is it, untouched. */
  | { outcome: 'already-recorded'; change: GroupChange }
  /** The holder does not hold the lock (never took it, or it expired). */
  | { outcome: 'not-held' };

/**
 * Takes the lock on an Auto Scaling group's capacity for `holder`, or says who holds it.
 *
 * Phoenix changes a group's desired capacity only under this lock: a surge reads the
 * CURRENT desired capacity and raises it by one, and keeps the lock until it has found and
 * claimed the instance the group launched; finishing (detach with decrement) and rollback
 * take it for their own changes. So no two executions ever compute a desired capacity from
 * the same reading, and no one's increment or decrement is lost in between.
 *
 * Re-entrant: the holder gets its lock back, with the change it recorded, and its expiry
 * renewed. A lock whose `expiresAt` has passed is free (its holder died).
 */
export async function acquireGroupLock(
  table: StateTableHandle,
  request: {
    group: string;
    holder: string;
    instanceId: string;
    ttlSeconds: number;
    purpose: GroupLockPurpose;
  },
): Promise<GroupLockDecision> {
  if (request.group === '' || request.holder === '')
    throw new InvalidInputError('a group lock needs a group and a holder');
  nonNegativeInteger('ttlSeconds', request.ttlSeconds);
  const now = table.clock();
  const nowSeconds = epochSeconds(now);
  const lock: GroupLock = {
    group: request.group,
    holder: request.holder,
    instanceId: request.instanceId,
    acquiredAt: now.toISOString(),
    expiresAt: nowSeconds + request.ttlSeconds,
  };
  const values = { ':now': { N: String(nowSeconds) } };
  let held: Record<string, AttributeValue> | undefined;
  try {
    // One request either way: a surge's take is conditional on no retirement waiting; a
    // retirement's take ends its wait, if it waited.
    await table.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: table.name,
              Item: groupLockItem(lock),
              ConditionExpression: CONDITIONS.free,
              ExpressionAttributeValues: values,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          request.purpose === 'surge'
            ? { ConditionCheck: noRetirerWaits(table, request.group, nowSeconds) }
            : { Update: retirerServed(table, request.group, request.holder) },
        ],
      }),
    );
    return { acquired: true, lock, reentered: false };
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const [lockReason, retirersReason] = error.CancellationReasons ?? [];
    if (failedCondition(lockReason)) held = lockReason?.Item;
    else if (failedCondition(retirersReason))
      return { acquired: false, ...retirersRefusal(request.group, retirersReason, nowSeconds) };
    // Otherwise another transaction touched the lock at the same moment (a conflict): not
    // taken, and who has it is read below; the caller asks again, as for a held lock.
  }
  const current = groupLockFromItem(request.group, held) ?? (await liveGroupLock(table, request.group));
  if (current?.holder === request.holder) {
    // Its own lock (a retried step): renewed, with the change it recorded kept.
    try {
      const { Attributes } = await table.dynamodb.send(
        new UpdateItemCommand({
          TableName: table.name,
          Key: groupLockKey(request.group),
          UpdateExpression: RENEW,
          ConditionExpression: CONDITIONS.held,
          ExpressionAttributeValues: {
            ':expiresAt': { N: String(lock.expiresAt) },
            ':holder': { S: request.holder },
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const renewed = groupLockFromItem(request.group, Attributes);
      if (renewed !== undefined) {
        if (request.purpose === 'retire')
          await table.dynamodb.send(
            new UpdateItemCommand(retirerServed(table, request.group, request.holder)),
          );
        return { acquired: true, lock: renewed, reentered: true };
      }
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
  // A retirement refused waits first in line: no surge takes the lock until it has had it.
  if (request.purpose === 'retire') await retirerWaits(table, request.group, request.holder, nowSeconds);
  // Released between the two requests: the caller simply asks again (a retry).
  return {
    acquired: false,
    heldBy: current ?? { ...lock, holder: 'unknown', acquiredAt: now.toISOString() },
  };
}

/**
 * What a surge is told when retirements wait for the group's lock (the `retirers` item's
 * cancellation reason, from {@link noRetirerWaits}): no holder to name, and how many wait.
 */
export function retirersRefusal(
  group: string,
  reason: CancellationReason | undefined,
  nowSeconds: number,
): { heldBy: GroupLock; retirersFirst: number } {
  return {
    heldBy: {
      group,
      holder: 'retirements waiting for it',
      instanceId: 'unknown',
      acquiredAt: new Date(nowSeconds * 1000).toISOString(),
      expiresAt: nowSeconds,
    },
    retirersFirst: reason?.Item?.holders?.SS?.length ?? 1,
  };
}

/** A condition, for a transaction: no retirement waits for the group's lock (or their registration lapsed). */
export function noRetirerWaits(table: StateTableHandle, group: string, nowSeconds: number) {
  return {
    TableName: table.name,
    Key: groupRetirersKey(group),
    ConditionExpression: 'attribute_not_exists(holders) OR expiresAt < :now',
    ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** Registers `holder` as a retirement waiting for the lock, and holds surges off for {@link RETIRER_WAIT_SECONDS} more. */
async function retirerWaits(table: StateTableHandle, group: string, holder: string, nowSeconds: number) {
  await table.dynamodb.send(
    new UpdateItemCommand({
      TableName: table.name,
      Key: groupRetirersKey(group),
      UpdateExpression: 'ADD holders :me SET expiresAt = :until',
      ExpressionAttributeValues: {
        ':me': { SS: [holder] },
        ':until': { N: String(nowSeconds + RETIRER_WAIT_SECONDS) },
      },
    }),
  );
}

/**
 * `holder` ended without the lock it waited for (a rollback that ran out of retries): it no
 * longer holds surges off. Every other registration leaves with its lock or lapses.
 */
export async function forgetRetirer(table: StateTableHandle, group: string, holder: string): Promise<void> {
  await table.dynamodb.send(new UpdateItemCommand(retirerServed(table, group, holder)));
}

/** `holder` has the lock: no longer waiting for it (the set's last member gone, surges may go). */
function retirerServed(table: StateTableHandle, group: string, holder: string) {
  return {
    TableName: table.name,
    Key: groupRetirersKey(group),
    UpdateExpression: 'DELETE holders :me',
    ExpressionAttributeValues: { ':me': { SS: [holder] } },
  };
}

/**
 * Records what the holder is about to do to the group, before doing it, unless it already
 * recorded a change (a retried step gets that one back, untouched). `not-held` when the
 * holder does not hold the lock (never took it, or it expired and someone else took it):
 * do nothing to the group then.
 */
export async function recordGroupChange(
  table: StateTableHandle,
  group: string,
  holder: string,
  change: GroupChange,
): Promise<RecordOutcome> {
  const nowSeconds = epochSeconds(table.clock());
  try {
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: groupLockKey(group),
        UpdateExpression: 'SET #change = :change',
        ConditionExpression: `${CONDITIONS.heldLive} AND attribute_not_exists(#change)`,
        ExpressionAttributeNames: { '#change': GROUP_CHANGE_ATTRIBUTE },
        ExpressionAttributeValues: {
          ':change': groupChangeValue(change),
          ':holder': { S: holder },
          ':now': { N: String(nowSeconds) },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { outcome: 'recorded' };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const current = groupLockFromItem(group, error.Item);
    if (current === undefined || current.holder !== holder || current.expiresAt < nowSeconds)
      return { outcome: 'not-held' };
    if (current.change !== undefined) return { outcome: 'already-recorded', change: current.change };
    return { outcome: 'not-held' };
  }
}

/** Releases the group lock if `holder` holds it; true if it did. Releasing twice is fine. */
export async function releaseGroupLock(
  table: StateTableHandle,
  group: string,
  holder: string,
): Promise<boolean> {
  try {
    await table.dynamodb.send(new DeleteItemCommand(deleteIfHeld(table, groupLockKey(group), holder)));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
