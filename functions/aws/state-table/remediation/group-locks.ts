/**
 * The lock on an Auto Scaling group's capacity: Phoenix changes a group's desired capacity only
 * under it (docs/adr/0009-asg-surge-without-races.md). Taking, joining, renewing and leaving
 * it are here; what its holder records doing to the group is in group-changes.ts, and the
 * retirements that go before any surge in group-retirers.ts.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../../domain/errors';
import { nonNegativeInteger, type StateTableHandle } from '../handle';
import {
  epochSeconds,
  type GroupLock,
  groupLockFromItem,
  groupLockItem,
  groupLockKey,
  LOCK_CONDITIONS,
  LOCK_NAMES,
  lockMembers,
  RENEW,
} from '../schema';
import { liveGroupLock } from '../views';
import { failedCondition } from './conditional';
import { noRetirerWaits, retirerServed, retirersRefusal, retirerWaits } from './group-retirers';

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

/** A request for a group's lock. */
export interface GroupLockRequest {
  group: string;
  holder: string;
  instanceId: string;
  ttlSeconds: number;
  purpose: GroupLockPurpose;
  /**
   * A surge that may share the lock with others' (docs/adr/0034-waves.md): it founds a wave, or
   * joins one that has not raised yet. The group is then raised once for all its members.
   */
  wave?: boolean;
  /** The holder believes it is a member already (a wave's retirement): its membership is tried first, in one request. */
  member?: boolean;
}

/**
 * Takes the lock on an Auto Scaling group's capacity for `holder`, or says who holds it.
 *
 * Phoenix changes a group's desired capacity only under this lock: a wave's surges join it
 * until one of them reads the CURRENT desired capacity and raises it once for them all; the
 * members keep it until each has handed its old instance back (each a decrement AWS makes
 * itself), so the next wave reads a capacity nobody is changing. Any other change (Standby
 * first, a retirement outside a wave) holds it alone. So no two executions ever compute a
 * desired capacity from the same reading, and no one's increment or decrement is lost in
 * between.
 *
 * Re-entrant: a member gets the lock back, with the change recorded, and its expiry renewed.
 * `reentered` then says, for a retirement, whether this member had begun handing capacity
 * back already (a retried step), and, for a surge, always. A lock whose `expiresAt` has passed
 * is free (its holders died); so is one whose members all left.
 */
export async function acquireGroupLock(
  table: StateTableHandle,
  request: GroupLockRequest,
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
    members: [request.holder],
  };
  if (request.purpose === 'retire') lock.retiring = [request.holder];
  if (request.wave === true) lock.wave = true;
  if (request.member === true) {
    // A member's take is its membership renewed (and, retiring, marked): one request. Not a
    // member after all (it expired, or it left): taken as anyone's, below.
    const renewed = await renewMembership(table, request, lock.expiresAt);
    if (renewed !== undefined) return { acquired: true, lock: renewed.after, reentered: renewed.reentered };
  }
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
              ConditionExpression: LOCK_CONDITIONS.free,
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
  const way = current === undefined ? undefined : wayIntoHeldLock(current, request.holder, nowSeconds);
  if (way === 'renew') {
    const renewed = await renewMembership(table, request, lock.expiresAt);
    if (renewed !== undefined) {
      if (request.purpose === 'retire')
        await table.dynamodb.send(new UpdateItemCommand(retirerServed(table, request.group, request.holder)));
      return { acquired: true, lock: renewed.after, reentered: renewed.reentered };
    }
  } else if (way === 'join' && request.wave === true && current !== undefined) {
    const joined = await joinWave(table, request, current, lock.expiresAt, nowSeconds);
    if (joined.acquired || joined.retirersFirst !== undefined) return joined;
  }
  // A retirement refused waits first in line: no surge takes the lock until it has had it.
  if (request.purpose === 'retire') await retirerWaits(table, request.group, request.holder, nowSeconds);
  // Released between the two requests: the caller simply asks again (a retry).
  return {
    acquired: false,
    heldBy: current ?? { ...lock, holder: 'unknown', acquiredAt: now.toISOString(), members: [] },
  };
}

/**
 * How `holder` may still take a lock it found held (live): its own membership renewed (a
 * retried step, a wave's member), or a wave that has not raised yet joined; undefined: busy.
 * The lease's one transaction and {@link acquireGroupLock} decide by it alike.
 */
export function wayIntoHeldLock(
  lock: GroupLock,
  holder: string,
  nowSeconds: number,
): 'renew' | 'join' | undefined {
  if (lock.expiresAt < nowSeconds) return undefined;
  if (lockMembers(lock).includes(holder)) return 'renew';
  if (lock.wave === true && lock.change === undefined) return 'join';
  return undefined;
}

/**
 * A member's lock renewed (a retirement marked as handing back), and whether this is a retried
 * take (a surge's always; a retirement's when it had begun handing back already); undefined if
 * it is no longer a member.
 */
async function renewMembership(
  table: StateTableHandle,
  request: GroupLockRequest,
  expiresAt: number,
): Promise<{ after: GroupLock; reentered: boolean } | undefined> {
  try {
    const { Attributes } = await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: groupLockKey(request.group),
        UpdateExpression: request.purpose === 'retire' ? `${RENEW} ADD handingBack :holders` : RENEW,
        ConditionExpression: LOCK_CONDITIONS.member,
        ExpressionAttributeValues: {
          ':expiresAt': { N: String(expiresAt) },
          ':holder': { S: request.holder },
          ...(request.purpose === 'retire' ? { ':holders': { SS: [request.holder] } } : {}),
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const before = groupLockFromItem(request.group, Attributes);
    if (before === undefined) return undefined;
    const retiring = before.retiring ?? [];
    const after: GroupLock = { ...before, expiresAt };
    if (request.purpose === 'retire' && !retiring.includes(request.holder))
      after.retiring = [...retiring, request.holder].sort();
    return {
      after,
      reentered: request.purpose === 'surge' || retiring.includes(request.holder),
    };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

/**
 * Joins a wave that has not raised yet, unless retirements wait for the lock (one
 * transaction). Refused (it raised, or emptied, meanwhile): busy, as for a held lock.
 */
async function joinWave(
  table: StateTableHandle,
  request: GroupLockRequest,
  current: GroupLock,
  expiresAt: number,
  nowSeconds: number,
): Promise<GroupLockDecision & { retirersFirst?: number }> {
  try {
    await table.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Update: joinWaveUpdate(table, request.group, request.holder, expiresAt, nowSeconds) },
          { ConditionCheck: noRetirerWaits(table, request.group, nowSeconds) },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const [, retirersReason] = error.CancellationReasons ?? [];
    if (failedCondition(retirersReason))
      return { acquired: false, ...retirersRefusal(request.group, retirersReason, nowSeconds) };
    const now = await liveGroupLock(table, request.group);
    return {
      acquired: false,
      heldBy: now ?? {
        group: request.group,
        holder: 'unknown',
        instanceId: 'unknown',
        acquiredAt: new Date(nowSeconds * 1000).toISOString(),
        expiresAt: nowSeconds,
        members: [],
      },
    };
  }
  // The wave as read before the join, with this member (no read back: its change is not
  // recorded, the join's condition says so).
  const joined: GroupLock = {
    ...current,
    members: [...lockMembers(current), request.holder].sort(),
    expiresAt,
  };
  return { acquired: true, lock: joined, reentered: false };
}

/** The update that adds `holder` to a wave that has not raised yet (a transaction item). */
export function joinWaveUpdate(
  table: StateTableHandle,
  group: string,
  holder: string,
  expiresAt: number,
  nowSeconds: number,
) {
  return {
    TableName: table.name,
    Key: groupLockKey(group),
    UpdateExpression: 'ADD holders :holders SET expiresAt = :expiresAt',
    ConditionExpression: LOCK_CONDITIONS.openWave,
    ExpressionAttributeNames: { ...LOCK_NAMES },
    ExpressionAttributeValues: {
      ':holders': { SS: [holder] },
      ':expiresAt': { N: String(expiresAt) },
      ':now': { N: String(nowSeconds) },
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/**
 * `holder` leaves the group's lock (the lock is free once its last member left); true if it
 * was a member. Leaving twice is fine.
 */
export async function releaseGroupLock(
  table: StateTableHandle,
  group: string,
  holder: string,
): Promise<boolean> {
  try {
    await table.dynamodb.send(new UpdateItemCommand(leaveGroupLock(table, group, holder)));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** The update by which `holder` leaves the group's lock, taking effect only while it is a member (a transaction item). */
export function leaveGroupLock(table: StateTableHandle, group: string, holder: string) {
  return {
    TableName: table.name,
    Key: groupLockKey(group),
    UpdateExpression: 'DELETE holders :holders, handingBack :holders',
    ConditionExpression: LOCK_CONDITIONS.member,
    ExpressionAttributeValues: { ':holders': { SS: [holder] }, ':holder': { S: holder } },
  };
}
