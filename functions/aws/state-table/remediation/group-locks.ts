/**
 * The lock on an Auto Scaling group's capacity: Phoenix changes a group's desired capacity only
 * under it (docs/adr/0009-asg-surge-without-races.md).
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
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
  RENEW,
} from '../schema';
import { liveGroupLock } from '../views';
import { deleteIfHeld } from './conditional';

export type GroupLockDecision =
  /** `reentered`: the holder had the lock already (a retried step); `lock` then carries what it recorded. */
  { acquired: true; lock: GroupLock; reentered: boolean } | { acquired: false; heldBy: GroupLock };

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
  request: { group: string; holder: string; instanceId: string; ttlSeconds: number },
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
  let held: Record<string, AttributeValue> | undefined;
  try {
    await table.dynamodb.send(
      new PutItemCommand({
        TableName: table.name,
        Item: groupLockItem(lock),
        ConditionExpression: CONDITIONS.free,
        ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { acquired: true, lock, reentered: false };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    held = error.Item;
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
      if (renewed !== undefined) return { acquired: true, lock: renewed, reentered: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
  // Released between the two requests: the caller simply asks again (a retry).
  return {
    acquired: false,
    heldBy: current ?? { ...lock, holder: 'unknown', acquiredAt: now.toISOString() },
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
