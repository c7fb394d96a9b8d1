/**
 * The fleet's queue (docs/adr/0032-a-queue-not-a-poll.md): an execution that finds its fleet
 * busy parks its task token and waits, spending nothing, until a release hands it the slot.
 *
 * - {@link acquireLease} (the `AcquireLease` callback task) tries the lease at once; granted,
 *   it answers its own token. The fleet busy (its budget, its healthy floor, its group's lock):
 *   it parks, then admits, so a slot freed between its try and its park is not lost.
 * - {@link releaseLease} (the `ReleaseLease` step) gives the lease back and hands the slot on.
 * - The granter (`granter.ts`, {@link admit}) serves the waiters; the sweep
 *   (`sweep-queues.ts`) recovers what a granter or an execution left behind.
 *
 * A waiter never gives up because its fleet is busy: the task has no timeout, and if its
 * heartbeat lapses (the sweep stopped) the definition parks it again, in the same place.
 */

import type { Waiter } from '../../aws/remediation-store';
import { waitingElsewhereSentence } from '../../domain/gate/messages';
import { LeaseDeniedError, ReplacingElsewhereError } from '../errors';
import type { MachineData } from '../input';
import type { StepContext, StepDeps } from './deps';
import {
  admitAfterRelease,
  queues,
  recheckedIfStale,
  requireCallbacks,
  spentLaunchTokens,
  UNKNOWN_ZONE,
} from './granter';
import { giveBackLease, type LeaseResult, takeLease } from './lease';

/** What the step answers the Lambda invocation with (the task's output is the grant, sent with the token). */
export type QueueEntry =
  | { queue: 'granted'; lease: LeaseResult }
  | { queue: 'parked'; waiter: Pick<Waiter, 'fleet' | 'az' | 'launchTime' | 'instanceId'>; reason: string };

/**
 * The `AcquireLease` step. Without a task token (a direct call), one try: the lease, or the
 * error that says why not. With one: the lease sent with the token, or a place in the queue.
 * Errors other than a busy fleet (claimed elsewhere, paused, quarantined, a rollout's wait)
 * fail the task as before: the definition retries or catches them by name.
 */
export async function acquireLease(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<LeaseResult | QueueEntry> {
  const token = ctx.taskToken;
  if (token === undefined) return takeLease(deps, data, ctx);
  const queue = requireCallbacks(deps);
  // Entered again long after its recheck (a lapsed heartbeat, a rollout's wait retried): the
  // same question a granter asks a waiter first, still wanted and may it start now?
  const current = await recheckedIfStale(deps, data, ctx);
  let lease: LeaseResult;
  try {
    if (current.wait !== undefined) throw new LeaseDeniedError(current.wait);
    // A newcomer: while others wait in the fleet's queue it waits behind them, never ahead.
    lease = await takeLease(deps, current.data, ctx, { behindQueue: true });
  } catch (error) {
    if (!queues(error)) throw error;
    const waiter = waiterOf(deps, current.data, ctx, token);
    const park = await deps.store.parkWaiter(waiter);
    // Two runs saw the same drift: the one already waiting replaces it, this one stands down.
    if (!park.parked)
      throw new ReplacingElsewhereError(waitingElsewhereSentence({ ...waiter, ...park.heldBy }));
    await admitAfterRelease(queue, data.fleet);
    return {
      queue: 'parked',
      waiter: {
        fleet: waiter.fleet,
        az: waiter.az,
        launchTime: waiter.launchTime,
        instanceId: waiter.instanceId,
      },
      reason: error.message,
    };
  }
  // Its launch comes off the count of EC2's tokens; a wave's, with its raise's record.
  if (!lease.groupLocked) await spentLaunchTokens(deps, 1);
  const delivery = await queue.callbacks.succeed(token, lease);
  if (delivery === 'gone') {
    // Stopped while it took the lease: nobody will release it but this.
    await giveBackLease(deps, { ...data, lease }, ctx);
    await admitAfterRelease(queue, data.fleet);
  }
  return { queue: 'granted', lease };
}

/** The waiter an execution parks: its state without what a granter re-reads (the group's member lists). */
function waiterOf(deps: StepDeps, data: MachineData, ctx: StepContext, token: string): Waiter {
  const now = deps.clock().toISOString();
  const placement = data.recheck?.snapshot?.instance;
  const kept: MachineData = structuredClone(data);
  if (kept.recheck?.snapshot?.group !== undefined) delete kept.recheck.snapshot.group;
  if (kept.plan?.asg !== undefined) kept.plan.asg.instancesBefore = [];
  return {
    fleet: data.fleet,
    az: placement?.availabilityZone ?? UNKNOWN_ZONE,
    launchTime: placement?.launchTime ?? '9999-12-31T23:59:59.999Z',
    instanceId: data.instanceId,
    holder: ctx.executionId,
    token,
    data: JSON.stringify({ startedAt: ctx.startedAt, data: kept }),
    parkedAt: now,
    heartbeatAt: now,
  };
}

/**
 * The `ReleaseLease` step: the lease (and a group lock still held, and the claim) given back,
 * then the freed slot handed to the fleet's next waiter.
 */
export async function releaseLease(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{ released: number }> {
  const { released, waiters } = await giveBackLease(deps, data, ctx);
  // Nobody waiting (learnt in the release's own transaction): nothing to grant, nothing read.
  if (waiters) await admitAfterRelease(deps, data.fleet);
  return { released };
}
