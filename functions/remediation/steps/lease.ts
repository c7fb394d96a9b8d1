/**
 * The fleet's budget: a lease taken before anything changes, given back at every end. The
 * lease also claims the instance, and for a surge takes the group lock in the same request.
 */
import { listFleetInstances } from '../../aws/inventory';
import type { PendingWaiter } from '../../aws/remediation-store';
import { concurrencyLimit } from '../../domain/budget';
import { findFleet } from '../../domain/drift/match';
import type { CompiledFleet } from '../../domain/model';
import {
  AlreadyReplacedError,
  GateClosedError,
  GroupBusyError,
  LeaseDeniedError,
  ReplacingElsewhereError,
  RolloutWaitError,
  WaiterAnsweredError,
} from '../errors';
import type { MachineData, Plan, QueueGrant } from '../input';
import {
  describeGroup,
  groupView,
  requireFleet,
  requirePart,
  type StepContext,
  type StepDeps,
  timingsOf,
} from './deps';
import { groupLockTtlSeconds } from './group-lock';
import { admitUnderRollout, sourceOfExecution } from './rollout-admission';

/** How long the recheck's reading of a group stands in for a new one (the lease's first attempt follows within seconds). */
const SNAPSHOT_FRESH_MS = 30_000;

/** What {@link acquireLease} returns: the state's `$.lease`. */
export interface LeaseResult {
  holder: string;
  items: string[];
  expiresAt: number;
  healthy: number;
  desired: number;
  groupLocked: boolean;
  /** Admitted as a member of this rollout: every end settles it there. */
  rollout?: { templateId: string; version: number; imageId?: string };
  /** Granted after a wait in the fleet's queue (granter.ts). */
  queue?: QueueGrant;
}

/**
 * Takes a slot of the fleet's budget, measured now; throws LeaseDeniedError when there is
 * none. A surge takes the group lock in the same transaction (it changes the group next),
 * and throws GroupBusyError, holding nothing, when another execution has it. The step the
 * state machine runs (`acquireLease` with a task token) waits in the fleet's queue instead of
 * throwing those two (queue.ts); a granter tries each waiter's lease with this.
 */
export async function takeLease(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  options: { behindQueue?: boolean; waiter?: PendingWaiter } = {},
): Promise<LeaseResult> {
  const currentPlan = requirePart(data.plan, 'a plan', 'acquireLease');
  const fleet = requireFleet(deps, data.fleet);
  const timings = timingsOf(data);
  const { healthy, desired } = await measureFleet(deps, fleet, currentPlan, data);
  const surge = currentPlan.asg?.mode === 'surge' ? currentPlan.asg : undefined;
  const maxConcurrent = concurrencyLimit(fleet.budget.maxConcurrent, desired);
  // The fleet's alarms and its rollout decide first; a member is counted with its lease.
  const admission = await admitUnderRollout(deps, data, ctx, fleet, maxConcurrent);
  const decision = await deps.store.acquireLease({
    fleet: fleet.name,
    holder: ctx.executionId,
    instanceId: data.instanceId,
    ...zoneOf(data),
    // A share of the fleet is of its size now (the group's desired capacity, or its members).
    maxConcurrent,
    minHealthyPercent: fleet.budget.minHealthyPercent,
    healthy,
    desired,
    disruption: currentPlan.disruption,
    ttlSeconds: timings.leaseTtlSeconds,
    ...(surge === undefined
      ? {}
      : { groupLock: { group: surge.name, ttlSeconds: groupLockTtlSeconds(timings) } }),
    // The recheck read the switches; checked again atomically with the lease, the last
    // moment before anything changes.
    gate: { fleet: fleet.name, templateId: data.launchTemplate.id, version: data.launchTemplate.version },
    ...(admission === undefined ? {} : { rollout: admission }),
    ...(options.behindQueue === true ? { behindQueue: true } : {}),
    ...(options.waiter === undefined ? {} : { waiter: options.waiter }),
  });
  if (!decision.granted) {
    if (decision.answered === true) throw new WaiterAnsweredError(decision.reason);
    if (decision.rolloutMoved === true) throw new RolloutWaitError(decision.reason);
    if (decision.queued === true) throw new LeaseDeniedError(decision.reason, { limit: 'concurrency' });
    const claim = decision.instanceClaimedBy;
    if (claim !== undefined) {
      throw claim.replacedBy === undefined
        ? new ReplacingElsewhereError(decision.reason)
        : new AlreadyReplacedError(decision.reason);
    }
    if (decision.gateClosed !== undefined) throw new GateClosedError(decision.reason);
    if (decision.groupHeldBy !== undefined) throw new GroupBusyError(decision.reason);
    const atMax = currentPlan.asg?.mode === 'standby-first' ? currentPlan.asg : undefined;
    throw new LeaseDeniedError(
      atMax === undefined
        ? decision.reason
        : `${decision.reason}; no headroom to launch first: Auto Scaling group ${atMax.name} is at MaxSize ${atMax.maxSize}, so the old instance must go out first (raise MaxSize by 1 to launch first instead)`,
      { limit: decision.limit ?? 'concurrency' },
    );
  }
  return {
    holder: decision.lease.holder,
    items: decision.lease.items,
    expiresAt: decision.lease.expiresAt,
    healthy,
    desired,
    groupLocked: decision.lease.groupLocked,
    ...(admission === undefined ? {} : { rollout: sourceOfExecution(data) }),
  };
}

/** The instance's zone, as the recheck saw it (the queue counts in-flight replacements per zone). */
function zoneOf(data: MachineData): { az?: string } {
  const az = data.recheck?.snapshot?.instance.availabilityZone;
  return az === undefined ? {} : { az };
}

/**
 * Healthy and desired capacity: the group's view for an ASG fleet (the recheck's, if it is
 * seconds old: the first attempt; a retry after a denial reads it again), running members
 * for a tag fleet.
 */
async function measureFleet(
  deps: StepDeps,
  fleet: CompiledFleet,
  currentPlan: Plan,
  data: MachineData,
): Promise<{ healthy: number; desired: number }> {
  if (currentPlan.asg !== undefined) {
    const seen = data.recheck?.snapshot?.group;
    const age = deps.clock().getTime() - Date.parse(data.recheck?.checkedAt ?? '');
    const group =
      seen?.name === currentPlan.asg.name && age >= 0 && age <= SNAPSHOT_FRESH_MS
        ? seen
        : groupView(await describeGroup(deps, currentPlan.asg.name));
    return { healthy: group.members.filter((m) => m.healthy).length, desired: group.desired };
  }
  const members = (await listFleetInstances(deps.ec2, fleet)).filter(
    (i) => findFleet(i, deps.desiredState.fleets).kind === 'member',
  );
  return { healthy: members.filter((i) => i.state === 'running').length, desired: members.length };
}

/**
 * Gives the lease (and a group lock still held) back; releasing twice, or a lease that
 * expired, is fine. Every path that ends a remediation passes here: a group lock still held
 * (a step that failed before its replacement was found, a rollback that could not finish)
 * goes too. A surge that handed its old instance to the group released both already. The
 * claim on the instance goes with the lease, except after a replacement: then it is kept as
 * the record that the instance was replaced (no one replaces it again while it leaves).
 */
export async function giveBackLease(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{ released: number; waiters: boolean }> {
  if (data.retired?.leaseReleased === true) return { released: data.retired.released, waiters: false };
  const group = data.plan?.asg?.name;
  const instance = { id: data.instanceId, ...replacedBy(data) };
  // Ending without the group's lock its retirement or rollback waited for: it no longer holds
  // the group's surges off (group-retirers.ts), one call on this rare path only.
  if (group !== undefined && [data.error, data.rollbackError].some((e) => e?.Error === 'GroupBusyError'))
    await deps.store.forgetRetirer(group, ctx.executionId);
  const items = data.lease?.holder === ctx.executionId ? data.lease.items : undefined;
  if (items === undefined) {
    // The lease step did not return (it failed midway): whatever it took is found by reading.
    if (group !== undefined) await deps.store.releaseGroupLock(group, ctx.executionId);
    await deps.store.settleInstanceClaim(instance.id, ctx.executionId, instance.replacedBy);
    // Whether anyone waits is not known here: the caller asks the queue.
    return { released: await deps.store.releaseLease(data.fleet, ctx.executionId), waiters: true };
  }
  const release: Parameters<StepDeps['store']['releaseAll']>[0] = {
    holder: ctx.executionId,
    fleet: data.fleet,
    items,
    instance,
  };
  if (group !== undefined) release.group = group;
  return deps.store.releaseAllSeeingQueue(release);
}

/** The replacement that took over, once the old instance is on its way out (a success). */
export function replacedBy(data: MachineData): { replacedBy?: string } {
  const replacement = data.health?.replacementId ?? data.replacement?.instanceId;
  const replaced =
    data.error === undefined &&
    data.rollback === undefined &&
    data.health?.healthy === true &&
    replacement !== undefined;
  return replaced ? { replacedBy: replacement } : {};
}
