/**
 * A lease request and its decision, and what both ways of taking a lease share
 * (leases.ts chooses the way: lease-one-transaction.ts or lease-reading-first.ts).
 */
import { ConditionalCheckFailedException, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../../domain/errors';
import { nonNegativeInteger, queryAll, type StateTableHandle } from '../handle';
import {
  type GroupLock,
  type InstanceClaim,
  isLeaseSk,
  isLive,
  type LeaseItem,
  leaseFromItem,
  leaseKey,
  leasePk,
  type QuarantineKey,
} from '../schema';
import { deleteIfHeld } from './conditional';
import type { RemediationGate } from './gate';
import type { PendingWaiter } from './queue';
import { floorInFlightReason, floorReason } from './reasons';
import type { RolloutAdmission } from './rollout-admission';

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

export type Refusal = Extract<LeaseDecision, { granted: false }>;

export function validateLeaseRequest(request: LeaseRequest): void {
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

/** What every item of the lease says of it. */
export function leaseBase(request: LeaseRequest): Pick<LeaseItem, 'fleet' | 'holder' | 'instanceId' | 'az'> {
  return {
    fleet: request.fleet,
    holder: request.holder,
    instanceId: request.instanceId,
    ...(request.az === undefined ? {} : { az: request.az }),
  };
}

/** The fleet's leases whose holders' time has not run out. */
export async function liveLeases(table: StateTableHandle, fleet: string, nowSeconds: number) {
  return (await queryAll(table, leasePk(fleet)))
    .filter((item) => isLive(item, nowSeconds))
    .map(leaseFromItem);
}

/** How many other holders have live slots in the fleet (replacements in flight). */
export function othersInFlight(live: ReadonlyArray<{ sk: string; holder: string }>, holder: string): number {
  return new Set(live.filter((l) => isLeaseSk(l.sk, 'slot') && l.holder !== holder).map((l) => l.holder))
    .size;
}

/**
 * Below the healthy floor. With others' replacements in flight (a surge's new instance not yet
 * healthy counts in the desired capacity, not yet in the healthy), their ends lift it: the fleet
 * is busy, and the execution waits in its queue. With none, only the group changing does
 * (`floor`).
 */
export function floorRefusal(request: LeaseRequest, floor: number, inFlight: number): Refusal {
  if (inFlight > 0) return { granted: false, reason: floorInFlightReason(request, floor, inFlight) };
  return { granted: false, reason: floorReason(request, floor), limit: 'floor' };
}

/** Deletes one lease item if `holder` still holds it; false if it had moved on. */
export async function releaseLeaseItem(
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
