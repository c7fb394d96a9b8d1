/**
 * The remediation's coordination in the state table: the gate read before a remediation
 * starts, budget leases, the Auto Scaling group locks and replacement claims, and their
 * release. Only the remediation steps (and tools that run them) need it; the evaluator
 * uses {@link StateStore}.
 *
 * Each part is its own module over the table's schema (functions/aws/state-table/): the gate
 * (remediation/gate.ts), leases (leases.ts), group locks (group-locks.ts, with the change
 * recorded on them in group-changes.ts and retirements first in group-retirers.ts), instance
 * and replacement claims (claims.ts), the final release (releases.ts) and the sentences their
 * refusals carry (reasons.ts). This class puts them behind one object for the steps.
 *
 * A remediation's happy path is counted in calls (bench: remediation overhead), so the
 * common cases take one request each: the pause switch and the quarantine are read in one
 * batch, a launch-before-terminate lease and its group lock are one transaction (which also
 * checks the pause switch and the quarantine again, and claims the instance), a claim and the
 * lock's release are one transaction, and so is the final release of everything.
 *
 * Every lease is its own item taken with a conditional put, so two executions can never
 * hold the same slot: the concurrency limit holds without a lock or a read-modify-write.
 * Every lease also claims the instance it replaces (`instance#<id>`), so two executions
 * (two processes that named them alike, a local run beside the deployed stack) can never
 * replace one instance twice; the claim of a replaced instance is kept a while as the record
 * of it (docs/adr/0021-one-replacement-per-instance.md).
 */

import { StateStore } from './state-store';
import { claimReplacementSeeingQueue, settleInstanceClaim } from './state-table/remediation/claims';
import { type RemediationGate, remediationGate } from './state-table/remediation/gate';
import {
  markGroupRaised,
  type RecordOutcome,
  recordGroupChange,
} from './state-table/remediation/group-changes';
import {
  acquireGroupLock,
  type GroupLockDecision,
  type GroupLockRequest,
  releaseGroupLock,
} from './state-table/remediation/group-locks';
import { forgetRetirer } from './state-table/remediation/group-retirers';
import { launchTokens, type SpendForm, spendLaunchTokens } from './state-table/remediation/launch-tokens';
import {
  acquireLease,
  type LeaseDecision,
  type LeaseRequest,
  releaseLease,
} from './state-table/remediation/leases';
import {
  answerWaiter,
  askGranterAgain,
  leaveGranter,
  listWaiters,
  markWaiterSent,
  type ParkResult,
  parkWaiter,
  queueState,
  queueZones,
  removeWaiter,
  takeGranter,
  touchWaiter,
  zoneHeads,
} from './state-table/remediation/queue';
import { type Release, releaseAll, releaseAllSeeingQueue } from './state-table/remediation/releases';
import type { GroupChange, QuarantineKey, Waiter } from './state-table/schema';

export type { RemediationGate } from './state-table/remediation/gate';
export type { RecordOutcome } from './state-table/remediation/group-changes';
export type {
  GroupLockDecision,
  GroupLockPurpose,
  GroupLockRequest,
} from './state-table/remediation/group-locks';
export { RETIRER_WAIT_SECONDS } from './state-table/remediation/group-retirers';
export type { Lease, LeaseDecision, LeaseRequest } from './state-table/remediation/leases';
export type { ParkResult, PendingWaiter } from './state-table/remediation/queue';
export {
  groupBusyReason,
  groupRefusalReason,
  instanceClaimReason,
  pausedReason,
} from './state-table/remediation/reasons';
export type { Release } from './state-table/remediation/releases';
export { type InstanceClaim, REPLACED_CLAIM_TTL_SECONDS, type Waiter } from './state-table/schema';

/** Which waiter: its fleet, zone, launch time and instance. */
export type WaiterKey = Pick<Waiter, 'fleet' | 'az' | 'launchTime' | 'instanceId'>;

/** {@link StateStore} and the remediation's coordination. */
export class RemediationStore extends StateStore {
  /**
   * The pause switch and the quarantine of one launch template version for one fleet, in one
   * strongly consistent batch read: what a remediation must know before it may start. With
   * `instanceId`, the instance's claim too, when someone holds it (replacing it, or having
   * replaced it).
   */
  remediationGate(key: QuarantineKey, instanceId?: string): Promise<RemediationGate> {
    return remediationGate(this.state, key, instanceId);
  }

  /** Takes a replacement lease for `request.fleet`, or says why not (see `leases.ts`). */
  acquireLease(request: LeaseRequest): Promise<LeaseDecision> {
    return acquireLease(this.state, request);
  }

  /**
   * Releases the lease items `holder` holds for `fleet`; returns how many it released. With
   * `items` (the lease as granted) they are deleted directly; without, the fleet's leases are
   * read first to find them.
   */
  releaseLease(fleet: string, holder: string, items?: readonly string[]): Promise<number> {
    return releaseLease(this.state, fleet, holder, items);
  }

  /**
   * The end of a remediation: its group lock, lease items and claim on the instance settled
   * in one transaction (see `releases.ts`). Returns how many lease items were released.
   */
  releaseAll(release: Release): Promise<number> {
    return releaseAll(this.state, release);
  }

  /** {@link releaseAll}, also saying whether anyone waits in the fleet's queue (see `releases.ts`). */
  releaseAllSeeingQueue(release: Release): Promise<{ released: number; waiters: boolean }> {
    return releaseAllSeeingQueue(this.state, release);
  }

  /**
   * Claims a freshly launched Auto Scaling instance as `holder`'s replacement: the first to
   * claim one owns it. True when `holder` owns it (now or already). With `releaseGroupLock`,
   * the lock on that group is given back in the same transaction.
   */
  claimReplacement(
    instanceId: string,
    holder: string,
    ttlSeconds: number,
    options: { releaseGroupLock?: string } = {},
  ): Promise<boolean> {
    return this.claimReplacementSeeingQueue(instanceId, holder, ttlSeconds, options).then((c) => c.claimed);
  }

  /** {@link claimReplacement}; with `seeQueueOf`, also whether anyone waits in that fleet's queue (see `claims.ts`). */
  claimReplacementSeeingQueue(
    instanceId: string,
    holder: string,
    ttlSeconds: number,
    options: { releaseGroupLock?: string; seeQueueOf?: string } = {},
  ): Promise<{ claimed: boolean; waiters: boolean }> {
    return claimReplacementSeeingQueue(this.state, instanceId, holder, ttlSeconds, options);
  }

  /** `holder` ended without the group lock it waited for: it no longer holds surges off. */
  forgetRetirer(group: string, holder: string): Promise<void> {
    return forgetRetirer(this.state, group, holder);
  }

  /** Takes the lock on an Auto Scaling group's capacity for `holder`, or says who holds it (see `group-locks.ts`). */
  acquireGroupLock(request: GroupLockRequest): Promise<GroupLockDecision> {
    return acquireGroupLock(this.state, request);
  }

  /**
   * Records what the holder is about to do to the group, before doing it, unless it already
   * recorded a change (a retried step gets that one back, untouched).
   */
  recordGroupChange(
    group: string,
    holder: string,
    change: GroupChange,
    options: { launches?: number; form?: SpendForm } = {},
  ): Promise<RecordOutcome> {
    return recordGroupChange(this.state, group, holder, change, options);
  }

  /** Phoenix's estimate of EC2's RunInstances tokens now (see `launch-tokens.ts`). */
  launchTokens(): Promise<number> {
    return launchTokens(this.state);
  }

  /** `count` launches asked of EC2 just now, taken off the estimate. */
  spendLaunchTokens(count: number): Promise<void> {
    return spendLaunchTokens(this.state, count);
  }

  /** A wave's raise was made (`SetDesiredCapacity` answered): a retried step will not make it again. */
  markGroupRaised(group: string, holder: string, failed?: { code: string; message: string }): Promise<void> {
    return markGroupRaised(this.state, group, holder, failed);
  }

  /** `holder` leaves the group lock (free once its last member left); true if it was a member. Leaving twice is fine. */
  releaseGroupLock(group: string, holder: string): Promise<boolean> {
    return releaseGroupLock(this.state, group, holder);
  }

  /**
   * Ends `holder`'s claim on replacing `instanceId`: given back, or, with `replacedBy`, kept
   * a while as the record that it was replaced (see `claims.ts`). False when the claim is
   * another holder's live one: it is left alone.
   */
  settleInstanceClaim(instanceId: string, holder: string, replacedBy?: string): Promise<boolean> {
    return settleInstanceClaim(this.state, instanceId, holder, replacedBy);
  }

  /** Parks an execution in its fleet's queue (see `queue.ts`). */
  parkWaiter(waiter: Waiter): Promise<ParkResult> {
    return parkWaiter(this.state, waiter);
  }

  /** The zones of a fleet's queue. */
  queueZones(fleet: string): Promise<string[]> {
    return queueZones(this.state, fleet);
  }

  /** One admission at a time per fleet: takes the fleet's granter item for `id`, or false while another holds it. */
  takeGranter(fleet: string, id: string, ttlSeconds: number): Promise<boolean> {
    return takeGranter(this.state, fleet, id, ttlSeconds);
  }

  /** Asks the admission serving the fleet to pass once more; false when none does any longer. */
  askGranterAgain(fleet: string): Promise<boolean> {
    return askGranterAgain(this.state, fleet);
  }

  /** Gives the granter item back, unless asked to pass again (`again`: it keeps it, the request taken off). */
  leaveGranter(fleet: string, id: string, options: { force?: boolean } = {}): Promise<'left' | 'again'> {
    return leaveGranter(this.state, fleet, id, options);
  }

  /** The zones of a fleet's queue and how many wait in it now. */
  queueState(fleet: string): Promise<{ zones: string[]; waiting: number }> {
    return queueState(this.state, fleet);
  }

  /** The first `limit` waiters of one zone, oldest launch time first. */
  zoneHeads(fleet: string, az: string, limit: number): Promise<Waiter[]> {
    return zoneHeads(this.state, fleet, az, limit);
  }

  /** The grant or the refusal written on the waiter, once (false when someone answered first). */
  answerWaiter(
    waiter: Waiter,
    answer: { granted: string } | { failed: string },
    at: string,
  ): Promise<boolean> {
    return answerWaiter(this.state, waiter, answer, at);
  }

  /** The answer on the waiter was sent to a token of another process (it takes it from the table). */
  markWaiterSent(waiter: Waiter, at: string): Promise<void> {
    return markWaiterSent(this.state, waiter, at);
  }

  /** Every waiter of one zone. */
  listWaiters(fleet: string, az: string): Promise<Waiter[]> {
    return listWaiters(this.state, fleet, az);
  }

  /** Removes the waiter parked with its token. */
  removeWaiter(waiter: Waiter): Promise<void> {
    return removeWaiter(this.state, waiter);
  }

  /** A sign of life of the waiter parked with its token. */
  touchWaiter(waiter: Waiter, at: string): Promise<void> {
    return touchWaiter(this.state, waiter, at);
  }
}
