/**
 * Budget leases: at most `maxConcurrent` replacements in flight per fleet, and never below
 * its healthy floor.
 *
 * Every lease is its own item taken with a conditional put, so two executions can never hold
 * the same slot: the concurrency limit holds without a lock or a read-modify-write. Every
 * lease also claims the instance it replaces, so two executions can never replace one
 * instance twice (docs/adr/0021-one-replacement-per-instance.md).
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../../domain/errors';
import { healthyFloor } from '../../../domain/headroom';
import { nonNegativeInteger, queryAll, type StateTableHandle } from '../handle';
import {
  CONDITIONS,
  epochSeconds,
  type GroupLock,
  groupLockFromItem,
  groupLockItem,
  groupLockKey,
  type InstanceClaim,
  instanceClaimFromItem,
  isLeaseSk,
  isLive,
  type LeaseItem,
  LOCK_CONDITIONS,
  leaseFromItem,
  leaseItem,
  leaseKey,
  leasePk,
  leaseSk,
  NOT_PAUSED,
  PAUSE_KEY,
  pauseFromItem,
  type QuarantineKey,
  quarantineFromItem,
  quarantineKey,
  RENEW,
} from '../schema';
import { claimInstance, instanceClaimPut, settleInstanceClaim } from './claims';
import { deleteIfHeld, failedCondition } from './conditional';
import { type RemediationGate, remediationGate } from './gate';
import {
  acquireGroupLock,
  joinWaveUpdate,
  noRetirerWaits,
  retirersRefusal,
  wayIntoHeldLock,
} from './group-locks';
import { isWaiterPending, type PendingWaiter, queueIsEmpty, waiterPending } from './queue';
import {
  concurrencyReason,
  floorInFlightReason,
  floorReason,
  gateReason,
  groupBusyReason,
  groupRefusalReason,
  instanceClaimReason,
} from './reasons';
import {
  admissionReturn,
  admissionUpdate,
  memberKey,
  memberMarkerPut,
  type RolloutAdmission,
  rolloutMovedReason,
} from './rollout-admission';

export interface LeaseRequest {
  fleet: string;
  /** Unique per remediation (the execution ARN): only the holder releases its lease. */
  holder: string;
  /** The instance replaced: claimed with the lease, so no other holder replaces it meanwhile. */
  instanceId: string;
  /** The instance's Availability Zone, kept on the lease items (the queue counts in-flight replacements per zone). */
  az?: string;
  /** Replacements in flight per fleet, this one included. */
  maxConcurrent: number;
  /** Healthy capacity may never fall below this share of `desired`. */
  minHealthyPercent: number;
  /** Healthy instances in the fleet right now, as measured by the caller. */
  healthy: number;
  /** The capacity the fleet is meant to have (ASG desired capacity, or the fleet size). */
  desired: number;
  /**
   * Instances this replacement takes out of service before its successor is healthy:
   * 0 for launch-before-terminate, 1 for standby-replace without MaxSize headroom.
   */
  disruption: number;
  /** The lease frees itself after this long, so a dead execution cannot block the fleet. */
  ttlSeconds: number;
  /**
   * Also take the lock on this Auto Scaling group's capacity, in the same transaction: a
   * surge changes the group next, and a lease without the lock (or the lock without a slot)
   * would only make the other wait for nothing.
   */
  groupLock?: { group: string; ttlSeconds: number };
  /**
   * Grant only while remediation is not paused and this launch template version is not
   * quarantined for the fleet, checked in the same transaction: a pause or a quarantine
   * written after the caller's own check still stops it.
   */
  gate?: QuarantineKey;
  /**
   * A newcomer, not a waiter being granted: refused (`queued`) while others wait in the fleet's
   * queue, checked in the same transaction, so it never takes a slot ahead of them. Checked on
   * the one-transaction path only (a disruptive replacement's slow path reads first anyway).
   */
  behindQueue?: boolean;
  /**
   * A waiter being granted: only while it is still parked with this token, unanswered, checked
   * in the same transaction. A granter that read the queue before another answered it (and the
   * execution then ran, and gave its lease back) takes nothing for it (`answered`).
   */
  waiter?: PendingWaiter;
  /**
   * A member of the fleet's rollout: `admitted` is counted in the same transaction as the
   * lease, conditional on the stage read and its quota. Refused with `rolloutMoved` when the
   * rollout moved first.
   */
  rollout?: RolloutAdmission;
}

export interface Lease {
  fleet: string;
  holder: string;
  instanceId: string;
  /** Sort keys of the items held: one `slot#<i>` and, for a disruptive replacement, one `dip#<i>`. */
  items: string[];
  /** Epoch seconds. */
  expiresAt: number;
}

export type LeaseDecision =
  | { granted: true; lease: Lease & { groupLocked: boolean } }
  | {
      granted: false;
      reason: string;
      /** Set when the budget allowed it but the group lock is held by another execution. */
      groupHeldBy?: GroupLock;
      /** Set when remediation is paused or the version quarantined (see `LeaseRequest.gate`). */
      gateClosed?: RemediationGate;
      /** Set when another execution replaces the instance now, or replaced it. */
      instanceClaimedBy?: InstanceClaim;
      /** Set when the rollout moved under the admission (`LeaseRequest.rollout`): decide again. */
      rolloutMoved?: true;
      /**
       * `floor`: this replacement alone would take the fleet below its healthy floor (only the
       * group changing frees it); absent: the budget is in use by others (their ends free it).
       */
      limit?: 'floor';
      /** Set when others wait in the fleet's queue (`LeaseRequest.behindQueue`): it waits behind them. */
      queued?: true;
      /** Set when the waiter was answered (or gone) before its grant (`LeaseRequest.waiter`). */
      answered?: true;
    };

type Refusal = Extract<LeaseDecision, { granted: false }>;

/** A transaction has room for this many items. */
const MAX_TRANSACTION_ITEMS = 100;
/** Items of a one-transaction lease besides its slots: the group lock and the retirements before it, the pause switch, the quarantine, the instance's claim, the rollout (two), the queue (a newcomer's) or the waiter (a grant's). */
const ITEMS_BESIDE_SLOTS = 8;

/** Transaction conflicts a lease request sits out before it is denied (and backs off in the state machine). */
const MAX_CONFLICTS = 4;

/**
 * Takes a replacement lease for `request.fleet`, or says why not.
 *
 * Granted only when fewer than `maxConcurrent` live leases exist for the fleet and the
 * healthy floor holds: `healthy - disruption` (and, for a disruptive replacement, minus
 * the disruptions other live leases may already cause) stays ≥ the floor. Counting other
 * leases' disruption even when `healthy` already reflects it errs on the side of safety.
 * And only when no other holder claims `request.instanceId`: the lease claims it, and a
 * refusal says who replaces it now or replaced it (`instanceClaimedBy`).
 *
 * Idempotent per holder: a Step Functions retry of the same execution gets its lease back.
 */
export async function acquireLease(table: StateTableHandle, asked: LeaseRequest): Promise<LeaseDecision> {
  validateLeaseRequest(asked);
  const request = await withoutAdmissionTaken(table, asked);
  const nowSeconds = epochSeconds(table.clock());
  const expiresAt = nowSeconds + request.ttlSeconds;

  const floor = healthyFloor(request.desired, request.minHealthyPercent);
  const belowFloor = request.healthy - request.disruption < floor;
  // Launch before terminate takes one slot and nothing else: one transaction, no read.
  if (request.disruption === 0 && request.maxConcurrent + ITEMS_BESIDE_SLOTS <= MAX_TRANSACTION_ITEMS) {
    if (belowFloor) {
      const others = othersInFlight(await liveLeases(table, request.fleet, nowSeconds), request.holder);
      return floorRefusal(request, floor, others);
    }
    return leaseInOneTransaction(table, request, expiresAt, nowSeconds);
  }

  if (request.gate !== undefined) {
    // Not in one transaction with the slot-by-slot path: read just before it.
    const gate = await remediationGate(table, request.gate);
    if (gate.pause.paused || gate.quarantine !== undefined)
      return { granted: false, reason: gateReason(gate), gateClosed: gate };
  }
  // A waiter answered while its granter rechecked it takes nothing (checked again at the end).
  if (request.waiter !== undefined && !(await isWaiterPending(table, request.waiter)))
    return { granted: false, reason: answeredReason(request), answered: true };
  // The instance first, given back if the lease is refused after all (unless it was the
  // holder's already: a retried step).
  const claim = await claimInstance(table, request, expiresAt, nowSeconds);
  if (claim.heldBy !== undefined)
    return { granted: false, reason: instanceClaimReason(claim.heldBy), instanceClaimedBy: claim.heldBy };
  // The slow path takes several writes: the rollout counts the admission first (conditional,
  // as in the one transaction) and gets it back if the lease is refused after all. Counted a
  // moment too early only makes another member wait, never admits one too many.
  if (request.rollout !== undefined) {
    try {
      await table.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: memberMarkerPut(table, request.rollout, request.holder, nowSeconds) },
            { Update: admissionUpdate(table, request.rollout) },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      if (claim.taken) await settleInstanceClaim(table, request.instanceId, request.holder);
      return { granted: false, reason: rolloutMovedReason(request.rollout), rolloutMoved: true };
    }
  }
  const decision = await leaseReadingFirst(table, request, expiresAt, nowSeconds, floor, belowFloor);
  if (!decision.granted) {
    if (request.rollout !== undefined)
      await table.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Delete: {
                TableName: table.name,
                Key: memberKey(request.rollout.fleet, request.rollout.source, request.holder),
              },
            },
            { Update: admissionReturn(table, request.rollout) },
          ],
        }),
      );
    if (claim.taken) await settleInstanceClaim(table, request.instanceId, request.holder);
  }
  return decision;
}

/**
 * Releases the lease items `holder` holds for `fleet`; returns how many it released. With
 * `items` (the lease as granted) they are deleted directly; without, the fleet's leases are
 * read first to find them.
 */
export async function releaseLease(
  table: StateTableHandle,
  fleet: string,
  holder: string,
  items?: readonly string[],
): Promise<number> {
  const sks =
    items ??
    (await queryAll(table, leasePk(fleet)))
      .map(leaseFromItem)
      .filter((lease) => lease.holder === holder)
      .map((lease) => lease.sk);
  const released = await Promise.all(sks.map((sk) => releaseLeaseItem(table, fleet, sk, holder)));
  return released.filter(Boolean).length;
}

/** The delete of one lease item while `holder` holds it, as a transaction item. */
export function leaseItemRelease(
  table: StateTableHandle,
  fleet: string,
  sk: string,
  holder: string,
): TransactWriteItem {
  return { Delete: deleteIfHeld(table, leaseKey(fleet, sk), holder) };
}

/**
 * The slow path (a disruptive or very wide lease): the fleet's live leases read first, then
 * one conditional put per slot or dip tried, then the group lock. What the holder holds
 * already (a retried step) is renewed to the new expiry, not taken again, so everything it
 * is told it holds lives as long as it is told; a refusal gives back only what this request
 * took.
 */
async function leaseReadingFirst(
  table: StateTableHandle,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
  floor: number,
  belowFloor: boolean,
): Promise<LeaseDecision> {
  const live = await liveLeases(table, request.fleet, nowSeconds);
  const mine: string[] = [];
  for (const item of live) {
    if (item.holder !== request.holder) continue;
    if (await putLeaseItem(table, item.sk, request, expiresAt, nowSeconds)) mine.push(item.sk);
  }
  const taken: string[] = [];
  const refuse = async (refusal: Refusal): Promise<LeaseDecision> => {
    await Promise.all(taken.map((sk) => releaseLeaseItem(table, request.fleet, sk, request.holder)));
    return refusal;
  };
  let slot = mine.find((sk) => isLeaseSk(sk, 'slot'));
  const dips = mine.filter((sk) => isLeaseSk(sk, 'dip'));
  if ((slot === undefined || dips.length < request.disruption) && belowFloor)
    return refuse(floorRefusal(request, floor, othersInFlight(live, request.holder)));
  if (slot === undefined) {
    slot = await takeOne(table, 'slot', request.maxConcurrent, request, expiresAt, nowSeconds);
    if (slot === undefined)
      return refuse({ granted: false, reason: concurrencyReason(request.fleet, request.maxConcurrent) });
    taken.push(slot);
  }
  // Headroom for disruptive replacements: one dip slot per instance the floor can spare.
  const dipsAllowed = request.healthy - floor;
  while (dips.length < request.disruption) {
    const dip = await takeOne(table, 'dip', dipsAllowed, request, expiresAt, nowSeconds);
    if (dip === undefined) {
      return refuse({
        granted: false,
        reason:
          `fleet ${request.fleet}: other replacements already use the ${dipsAllowed} instance(s) of headroom ` +
          `above its healthy floor of ${floor}`,
      });
    }
    taken.push(dip);
    dips.push(dip);
  }
  const lease = { ...leaseBase(request), items: [...mine, ...taken], expiresAt };
  if (request.waiter !== undefined && !(await isWaiterPending(table, request.waiter)))
    return refuse({ granted: false, reason: answeredReason(request), answered: true });
  if (request.groupLock === undefined) return { granted: true, lease: { ...lease, groupLocked: false } };
  const lock = await acquireGroupLock(table, {
    purpose: 'surge',
    wave: true,
    group: request.groupLock.group,
    holder: request.holder,
    instanceId: request.instanceId,
    ttlSeconds: request.groupLock.ttlSeconds,
  });
  if (lock.acquired) return { granted: true, lease: { ...lease, groupLocked: true } };
  return refuse({ granted: false, reason: groupRefusalReason(lock), groupHeldBy: lock.heldBy });
}

/**
 * Slot `i` for the holder in one transaction that also proves it holds no other live slot
 * (a condition check per other slot), and takes the group lock if asked. A slot of its own
 * found by a check (a retried step) is taken again instead; a slot held by another moves
 * on to the next.
 */
async function leaseInOneTransaction(
  table: StateTableHandle,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<LeaseDecision> {
  const values = { ':now': { N: String(nowSeconds) }, ':holder': { S: request.holder } };
  const acquiredAt = new Date(nowSeconds * 1000).toISOString();
  const lockIndex = request.maxConcurrent;
  const gateIndex = lockIndex + (request.groupLock === undefined ? 0 : 1);
  const claimIndex = gateIndex + (request.gate === undefined ? 0 : 2);
  let slot = 0;
  let conflicts = 0;
  // A surge founds its group's wave, or joins one that has not raised yet
  // (docs/adr/0034-waves.md), or, a retried step, renews its own membership.
  let lockWay: WaveWay = 'found';
  const waysTried = new Set<WaveWay>([lockWay]);
  while (slot < request.maxConcurrent) {
    const items: TransactWriteItem[] = [];
    for (let i = 0; i < request.maxConcurrent; i += 1) {
      const sk = leaseSk('slot', i);
      items.push(
        i === slot
          ? {
              Put: {
                TableName: table.name,
                Item: leaseItem({ ...leaseBase(request), sk, acquiredAt, expiresAt }),
                ConditionExpression: CONDITIONS.freeOrHeld,
                ExpressionAttributeValues: values,
              },
            }
          : {
              ConditionCheck: {
                TableName: table.name,
                Key: leaseKey(request.fleet, sk),
                ConditionExpression: CONDITIONS.notHeld,
                ExpressionAttributeValues: values,
              },
            },
      );
    }
    if (request.groupLock !== undefined)
      items.push(waveItem(table, request, request.groupLock, lockWay, acquiredAt, nowSeconds));
    if (request.gate !== undefined) {
      items.push(
        {
          ConditionCheck: {
            TableName: table.name,
            Key: PAUSE_KEY,
            ConditionExpression: NOT_PAUSED.condition,
            ExpressionAttributeValues: NOT_PAUSED.values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          ConditionCheck: {
            TableName: table.name,
            Key: quarantineKey(request.gate),
            ConditionExpression: CONDITIONS.absent,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      );
    }
    items.push({ Put: instanceClaimPut(table, request, acquiredAt, expiresAt, nowSeconds) });
    const rolloutIndex = items.length;
    if (request.rollout !== undefined)
      items.push(
        { Put: memberMarkerPut(table, request.rollout, request.holder, nowSeconds) },
        { Update: admissionUpdate(table, request.rollout) },
      );
    const queueIndex = items.length;
    if (request.behindQueue === true) items.push({ ConditionCheck: queueIsEmpty(table, request.fleet) });
    const waiterIndex = items.length;
    if (request.waiter !== undefined) items.push({ ConditionCheck: waiterPending(table, request.waiter) });
    // A surge goes after the retirements waiting for the group's lock (group-locks.ts).
    const retirersIndex = items.length;
    if (request.groupLock !== undefined)
      items.push({ ConditionCheck: noRetirerWaits(table, request.groupLock.group, nowSeconds) });
    try {
      await table.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return {
        granted: true,
        lease: {
          ...leaseBase(request),
          items: [leaseSk('slot', slot)],
          expiresAt,
          groupLocked: request.groupLock !== undefined,
        },
      };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const claimReason = reasons[claimIndex];
      if (failedCondition(claimReason)) {
        const claim = instanceClaimFromItem(request.instanceId, claimReason?.Item) ?? {
          instanceId: request.instanceId,
          holder: 'unknown',
          acquiredAt,
          expiresAt,
        };
        return { granted: false, reason: instanceClaimReason(claim), instanceClaimedBy: claim };
      }
      if (request.behindQueue === true && failedCondition(reasons[queueIndex]))
        return { granted: false, reason: queuedReason(request.fleet), queued: true };
      if (request.waiter !== undefined && failedCondition(reasons[waiterIndex]))
        return { granted: false, reason: answeredReason(request), answered: true };
      if (request.groupLock !== undefined && failedCondition(reasons[retirersIndex])) {
        const refusal = retirersRefusal(request.groupLock.group, reasons[retirersIndex], nowSeconds);
        return { granted: false, reason: groupRefusalReason(refusal), groupHeldBy: refusal.heldBy };
      }
      if (
        request.rollout !== undefined &&
        (failedCondition(reasons[rolloutIndex]) || failedCondition(reasons[rolloutIndex + 1]))
      )
        return { granted: false, reason: rolloutMovedReason(request.rollout), rolloutMoved: true };
      const pauseReason = reasons[gateIndex];
      const quarantineReason = reasons[gateIndex + 1];
      if (request.gate !== undefined && (failedCondition(pauseReason) || failedCondition(quarantineReason))) {
        const gate: RemediationGate = {
          pause: failedCondition(pauseReason) ? pauseFromItem(pauseReason?.Item) : { paused: false },
        };
        if (failedCondition(quarantineReason) && quarantineReason?.Item !== undefined)
          gate.quarantine = quarantineFromItem(quarantineReason.Item);
        return { granted: false, reason: gateReason(gate), gateClosed: gate };
      }
      const lockReason = reasons[lockIndex];
      if (request.groupLock !== undefined && failedCondition(lockReason)) {
        const heldBy = groupLockFromItem(request.groupLock.group, lockReason?.Item) ?? {
          group: request.groupLock.group,
          holder: 'unknown',
          instanceId: 'unknown',
          acquiredAt,
          expiresAt: nowSeconds,
          members: [],
        };
        const next = wayIntoHeldLock(heldBy, request.holder, nowSeconds);
        if (next !== undefined && !waysTried.has(next)) {
          waysTried.add(next);
          lockWay = next;
          continue;
        }
        return { granted: false, reason: groupBusyReason(heldBy), groupHeldBy: heldBy };
      }
      const mine = reasons.findIndex((reason, i) => i !== slot && i < lockIndex && failedCondition(reason));
      if (mine >= 0) {
        slot = mine;
      } else if (failedCondition(reasons[slot])) {
        slot += 1;
      } else if (conflicts < MAX_CONFLICTS) {
        // Another transaction touched the same items at the same moment (many executions
        // start together after a template change): ask again after a short random pause.
        conflicts += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** conflicts));
      } else {
        return {
          granted: false,
          reason: `fleet ${request.fleet}: too many replacements asked for a slot at the same moment; asking again later`,
        };
      }
    }
  }
  return { granted: false, reason: concurrencyReason(request.fleet, request.maxConcurrent) };
}

/** How a surge's lease takes its group's lock: a new wave, another's open wave, or its own again. */
type WaveWay = 'found' | 'join' | 'renew';

/** The lock's part of a surge's one-transaction lease, the way asked. */
function waveItem(
  table: StateTableHandle,
  request: LeaseRequest,
  { group, ttlSeconds }: NonNullable<LeaseRequest['groupLock']>,
  way: WaveWay,
  acquiredAt: string,
  nowSeconds: number,
): TransactWriteItem {
  const expiresAt = nowSeconds + ttlSeconds;
  if (way === 'join') return { Update: joinWaveUpdate(table, group, request.holder, expiresAt, nowSeconds) };
  if (way === 'renew')
    return {
      Update: {
        TableName: table.name,
        Key: groupLockKey(group),
        UpdateExpression: RENEW,
        ConditionExpression: LOCK_CONDITIONS.member,
        ExpressionAttributeValues: {
          ':expiresAt': { N: String(expiresAt) },
          ':holder': { S: request.holder },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  return {
    Put: {
      TableName: table.name,
      Item: groupLockItem({
        group,
        holder: request.holder,
        instanceId: request.instanceId,
        acquiredAt,
        expiresAt,
        members: [request.holder],
        wave: true,
      }),
      ConditionExpression: LOCK_CONDITIONS.free,
      ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Tries `<kind>#0` … `<kind>#<count-1>` in turn; the sort key taken, or undefined if all are held. */
async function takeOne(
  table: StateTableHandle,
  kind: 'slot' | 'dip',
  count: number,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<string | undefined> {
  for (let i = 0; i < count; i += 1) {
    const sk = leaseSk(kind, i);
    if (await putLeaseItem(table, sk, request, expiresAt, nowSeconds)) return sk;
  }
  return undefined;
}

/** Puts one lease item for the holder if it is free, expired or its own already (renewed); false if held by another. */
async function putLeaseItem(
  table: StateTableHandle,
  sk: string,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<boolean> {
  try {
    await table.dynamodb.send(
      new PutItemCommand({
        TableName: table.name,
        Item: leaseItem({
          ...leaseBase(request),
          sk,
          acquiredAt: new Date(nowSeconds * 1000).toISOString(),
          expiresAt,
        }),
        // A slot is free when nobody holds it or its holder's lease has run out.
        ConditionExpression: CONDITIONS.freeOrHeld,
        ExpressionAttributeValues: {
          ':now': { N: String(nowSeconds) },
          ':holder': { S: request.holder },
        },
      }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}

/** Deletes one lease item if `holder` still holds it; false if it had moved on. */
async function releaseLeaseItem(
  table: StateTableHandle,
  fleet: string,
  sk: string,
  holder: string,
): Promise<boolean> {
  try {
    await table.dynamodb.send(new DeleteItemCommand(deleteIfHeld(table, leaseKey(fleet, sk), holder)));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * The request without its admission when the holder was admitted already (a retried lease
 * step: its marker is there), so a retry renews its lease without counting it twice.
 */
async function withoutAdmissionTaken(table: StateTableHandle, request: LeaseRequest): Promise<LeaseRequest> {
  const admission = request.rollout;
  if (admission === undefined) return request;
  const { Item } = await table.dynamodb.send(
    new GetItemCommand({
      TableName: table.name,
      Key: memberKey(admission.fleet, admission.source, request.holder),
      ConsistentRead: true,
    }),
  );
  if (Item === undefined) return request;
  const { rollout: _taken, ...rest } = request;
  return rest;
}

/** The fleet's leases whose holders' time has not run out. */
async function liveLeases(table: StateTableHandle, fleet: string, nowSeconds: number) {
  return (await queryAll(table, leasePk(fleet)))
    .filter((item) => isLive(item, nowSeconds))
    .map(leaseFromItem);
}

/** How many other holders have live slots in the fleet (replacements in flight). */
function othersInFlight(live: ReadonlyArray<{ sk: string; holder: string }>, holder: string): number {
  return new Set(live.filter((l) => isLeaseSk(l.sk, 'slot') && l.holder !== holder).map((l) => l.holder))
    .size;
}

/**
 * Below the healthy floor. With others' replacements in flight (a surge's new instance not yet
 * healthy counts in the desired capacity, not yet in the healthy), their ends lift it: the fleet
 * is busy, and the execution waits in its queue. With none, only the group changing does
 * (`floor`).
 */
function floorRefusal(request: LeaseRequest, floor: number, inFlight: number): Refusal {
  if (inFlight > 0) return { granted: false, reason: floorInFlightReason(request, floor, inFlight) };
  return { granted: false, reason: floorReason(request, floor), limit: 'floor' };
}

/** Why a granter takes nothing for a waiter: another answered it first (or it is gone). */
function answeredReason(request: LeaseRequest): string {
  return `fleet ${request.fleet}: the waiter for ${request.instanceId} was answered (or is gone) before this grant; nothing taken for it`;
}

/** Why a newcomer waits although a slot may be free: others were waiting first. */
function queuedReason(fleet: string): string {
  return `fleet ${fleet}: other replacements wait in its queue; this one waits behind them`;
}

function leaseBase(request: LeaseRequest): Pick<LeaseItem, 'fleet' | 'holder' | 'instanceId' | 'az'> {
  return {
    fleet: request.fleet,
    holder: request.holder,
    instanceId: request.instanceId,
    ...(request.az === undefined ? {} : { az: request.az }),
  };
}

function validateLeaseRequest(request: LeaseRequest): void {
  if (request.fleet === '') throw new InvalidInputError('a lease needs a fleet name');
  if (request.holder === '') throw new InvalidInputError('a lease needs a holder');
  if (!Number.isInteger(request.maxConcurrent) || request.maxConcurrent < 1) {
    throw new InvalidInputError(`maxConcurrent must be a whole number ≥ 1, got ${request.maxConcurrent}`);
  }
  if (!(request.minHealthyPercent >= 0 && request.minHealthyPercent <= 100)) {
    throw new InvalidInputError(
      `minHealthyPercent must be between 0 and 100, got ${request.minHealthyPercent}`,
    );
  }
  nonNegativeInteger('healthy', request.healthy);
  nonNegativeInteger('desired', request.desired);
  nonNegativeInteger('disruption', request.disruption);
  nonNegativeInteger('ttlSeconds', request.ttlSeconds);
}
