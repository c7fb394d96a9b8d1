/**
 * The replacement is healthy: the old instance goes, and the lease with it. A group member is
 * handed back to its group; one someone took out of the group meanwhile is left alone, and
 * the capacity this replacement added given back
 * (docs/adr/0014-old-instance-leaving-mid-replacement.md).
 */
import {
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { groupRefusalReason } from '../../aws/remediation-store';
import { findFleet } from '../../domain/drift/match';
import { GroupBusyError } from '../errors';
import type { MachineData, Plan, Retired } from '../input';
import {
  describeGroup,
  GONE_STATES,
  instanceNow,
  requirePart,
  type StepContext,
  type StepDeps,
  timingsOf,
} from './deps';
import { admitAfterRelease } from './granter';
import { groupLockTtlSeconds } from './group-lock';
import { replacedBy } from './lease';

/**
 * The replacement is healthy: the old instance goes. A standalone one is terminated. A group
 * member goes back to its group to be terminated, with the group's desired capacity lowered
 * by one when this execution raised it (a surge) — the group drains it from its target groups
 * (their deregistration delay) and runs its termination lifecycle hooks first, as for any
 * instance it terminates. Under the group lock, taken just for this, so the change cannot fall
 * between another execution's reading of the desired capacity and its raise. The lease (and
 * the lock) are released with one request afterwards.
 *
 * An old member someone took out of the group meanwhile (detached, terminated) is not
 * Phoenix's to terminate any more: Phoenix leaves it alone, gives back the capacity it added
 * (relatively: one down from the group's current desired capacity), and says so
 * (docs/adr/0014-old-instance-leaving-mid-replacement.md).
 */
export async function retireOld(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<Retired> {
  const currentPlan = requirePart(data.plan, 'a plan', 'retireOld');
  const asg = currentPlan.asg;
  let retired: Retired = { terminating: true, released: 0, leaseReleased: false };
  if (asg === undefined) {
    await deps.ec2.send(new TerminateInstancesCommand({ InstanceIds: [data.instanceId] }));
  } else {
    retired = { ...(await retireFromGroup(deps, data, ctx, asg)), released: 0, leaseReleased: false };
  }
  // From here on the old instance is gone or the group's: nothing may fail this step into a
  // rollback. A release that does not go through is left to the lease step that follows.
  try {
    const release: {
      holder: string;
      fleet: string;
      items: string[];
      group?: string;
      instance: { id: string; replacedBy?: string };
    } = {
      holder: ctx.executionId,
      fleet: data.fleet,
      items: data.lease?.items ?? [],
      // Kept, naming its replacement, while the old instance drains: no second replacement.
      instance: { id: data.instanceId, ...replacedBy(data) },
    };
    if (asg !== undefined) release.group = asg.name;
    const { released, waiters } = await deps.store.releaseAllSeeingQueue(release);
    retired.released = released;
    retired.leaseReleased = data.lease !== undefined;
    // The slot is free: the fleet's next waiter may go (learnt in the release's transaction).
    if (waiters) await admitAfterRelease(deps, data.fleet);
  } catch {
    // The lease step after this one releases it (and admits).
  }
  return retired;
}

/**
 * Hands the old member back to its group, under the group lock. `detail` says what happened
 * instead when it was no longer the group's to terminate as planned.
 */
async function retireFromGroup(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  asg: NonNullable<Plan['asg']>,
): Promise<{ terminating: boolean; detail?: string }> {
  const decision = await deps.store.acquireGroupLock({
    purpose: 'retire',
    // A wave's surge holds the lock since its lease: it retires as a member, in one request.
    ...(asg.mode === 'surge' && data.lease?.groupLocked === true ? { member: true } : {}),
    group: asg.name,
    holder: ctx.executionId,
    instanceId: data.instanceId,
    ttlSeconds: groupLockTtlSeconds(timingsOf(data)),
  });
  if (!decision.acquired) throw new GroupBusyError(groupRefusalReason(decision));
  const group = await describeGroup(deps, asg.name);
  const member = group.Instances?.find((i) => i.InstanceId === data.instanceId);
  const leaving = member === undefined || member.LifecycleState?.startsWith('Terminating') === true;
  // This execution's lock is released when its replacement is claimed: holding it already
  // means an earlier attempt of this step took it, and may have handed the old instance over
  // before failing. Its leaving is then this execution's doing, not someone else's hand.
  if (leaving && decision.reentered) return { terminating: true };
  // A surge owes the group the +1 it added; Standby took nothing off the desired capacity.
  const owed = asg.mode === 'surge';
  let gone = leaving;
  if (member !== undefined && !leaving) {
    // A member in Standby does not count in the desired capacity: terminating it changes none.
    const inService = member.LifecycleState !== 'Standby';
    try {
      await deps.autoScaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: data.instanceId,
          ShouldDecrementDesiredCapacity: inService && owed,
        }),
      );
    } catch (error) {
      // Taken out of the group between the reading and the call: the group tells.
      if (await isMember(deps, asg.name, data.instanceId)) throw error;
      gone = true;
    }
    if (!gone) {
      if (inService || !owed) return { terminating: true };
      // Someone put the old member in Standby during a surge: the +1 is still there to give back.
      const detail = await giveBack(deps, asg.name, `${data.instanceId} was put in Standby by someone else`);
      return { terminating: true, detail };
    }
  }
  const old = await instanceNow(deps, data.instanceId);
  const alive = old !== undefined && !GONE_STATES.has(old.state);
  let why: string;
  if (member !== undefined && leaving) {
    why = `${data.instanceId} was being terminated by its group during the replacement (${member.LifecycleState})`;
  } else if (alive) {
    const where =
      findFleet(old, deps.desiredState.fleets).kind === 'member'
        ? 'it is no longer a member of that group'
        : 'it belongs to no declared fleet now';
    why = `${data.instanceId} left Auto Scaling group ${asg.name} during the replacement (detached by someone else); Phoenix did not terminate it: ${where}`;
  } else {
    why = `${data.instanceId} was ${old?.state ?? 'terminated'} by someone else during the replacement`;
  }
  return { terminating: false, detail: owed ? await giveBack(deps, asg.name, why) : `${why}.` };
}

async function isMember(deps: StepDeps, group: string, instanceId: string): Promise<boolean> {
  const described = await describeGroup(deps, group);
  return (described.Instances ?? []).some((i) => i.InstanceId === instanceId);
}

/**
 * Gives back a surge's +1, relatively: one down from the group's desired capacity now, read
 * under the lock (never a number read earlier: other surges in flight keep theirs).
 */
async function giveBack(deps: StepDeps, groupName: string, why: string): Promise<string> {
  const group = await describeGroup(deps, groupName);
  const desired = group.DesiredCapacity ?? 0;
  const target = Math.max(group.MinSize ?? 0, desired - 1);
  if (target === desired) {
    return `${why}; the group is at its MinSize ${desired}, so the capacity this replacement added stays.`;
  }
  await deps.autoScaling.send(
    new SetDesiredCapacityCommand({
      AutoScalingGroupName: groupName,
      DesiredCapacity: target,
      HonorCooldown: false,
    }),
  );
  return `${why}; Phoenix gave back the capacity this replacement added: desired capacity ${desired} → ${target}.`;
}
