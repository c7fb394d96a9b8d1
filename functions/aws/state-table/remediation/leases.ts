/**
 * Budget leases: at most `maxConcurrent` replacements in flight per fleet, and never below
 * its healthy floor.
 *
 * Every lease is its own item taken with a conditional put, so two executions can never hold
 * the same slot: the concurrency limit holds without a lock or a read-modify-write. Every
 * lease also claims the instance it replaces, so two executions can never replace one
 * instance twice (docs/adr/0021-one-replacement-per-instance.md).
 *
 * This module chooses the way and gives back what a refused slow path took first: launch
 * before terminate in one transaction (lease-one-transaction.ts), a disruptive or very wide
 * lease reading first (lease-reading-first.ts). The request, the decision and what both ways
 * share are in lease-request.ts.
 */
import {
  GetItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { healthyFloor } from '../../../domain/headroom';
import { queryAll, type StateTableHandle } from '../handle';
import { epochSeconds, leaseFromItem, leaseKey, leasePk } from '../schema';
import { claimInstance, settleInstanceClaim } from './claims';
import { deleteIfHeld } from './conditional';
import { remediationGate } from './gate';
import { leaseInOneTransaction } from './lease-one-transaction';
import { leaseReadingFirst } from './lease-reading-first';
import {
  floorRefusal,
  type LeaseDecision,
  type LeaseRequest,
  liveLeases,
  othersInFlight,
  releaseLeaseItem,
  validateLeaseRequest,
} from './lease-request';
import { isWaiterPending } from './queue';
import { answeredReason, gateReason, instanceClaimReason } from './reasons';
import {
  admissionReturn,
  admissionUpdate,
  memberKey,
  memberMarkerPut,
  rolloutMovedReason,
} from './rollout-admission';

export type { Lease, LeaseDecision, LeaseRequest } from './lease-request';

/** A transaction has room for this many items. */
const MAX_TRANSACTION_ITEMS = 100;
/** Items of a one-transaction lease besides its slots: the group lock and the retirements before it, the pause switch, the quarantine, the instance's claim, the rollout (two), the queue (a newcomer's) or the waiter (a grant's). */
const ITEMS_BESIDE_SLOTS = 8;

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
