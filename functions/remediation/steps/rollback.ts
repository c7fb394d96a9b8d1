/**
 * Putting things back after a failure, from what the world is now rather than from where the
 * failure happened: safe at any point, and on retry.
 */
import {
  ExitStandbyCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { GroupChangeRecord, MachineData, Plan, RollbackResult } from '../input';
import { targetState } from '../targets';
import { causeText, describeGroup, GONE_STATES, instanceNow, type StepContext, type StepDeps } from './deps';
import { changeRecord, lockGroup } from './group-lock';
import { identifyAsgReplacement } from './health';

/**
 * Errors that say a replacement from the pinned version cannot work: it never became healthy,
 * it died, or EC2 refused to launch it for a reason retrying cannot fix. Only these quarantine
 * the template version.
 */
const REPLACEMENT_FAULTS: ReadonlySet<string> = new Set([
  'ReplacementUnhealthyError',
  'ReplacementFailedError',
  'LaunchRejectedError',
]);

/** Errors whose cause may pass by itself: the rollback lets the next detection try again. */
const PASSING_FAULTS: ReadonlySet<string> = new Set(['InsufficientCapacityError']);

/**
 * Puts things back after a failure: the replacement removed, the old instance back in the
 * group and its target groups, the group's desired capacity as it was. Reads the world
 * rather than trusting where the failure happened, so it is safe at any point and on retry.
 * The template version is quarantined (by the next state) only when the replacement itself
 * was the problem.
 */
export async function rollback(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<RollbackResult> {
  const error = data.error ?? { Error: 'Unknown', Cause: 'the state machine did not record the error' };
  const currentPlan = data.plan;
  const actions: string[] = [];
  let replacementId = data.health?.replacementId ?? data.replacement?.instanceId;

  if (currentPlan?.asg !== undefined) {
    replacementId = await rollbackAsg(deps, data, ctx, currentPlan, currentPlan.asg, replacementId, actions);
  } else if (currentPlan !== undefined) {
    const old = await instanceNow(deps, data.instanceId);
    const oldAlive = old !== undefined && !GONE_STATES.has(old.state);
    if (replacementId !== undefined) {
      if (!oldAlive && data.health?.healthy === true) {
        // The replacement has taken over: removing it now would only take capacity away.
        actions.push(`kept healthy replacement ${replacementId}: ${data.instanceId} is already gone`);
      } else {
        await removeStandaloneReplacement(deps, currentPlan, replacementId, actions);
      }
    }
    if (oldAlive) await reregisterOld(deps, data.instanceId, currentPlan, actions);
  }

  const quarantine = REPLACEMENT_FAULTS.has(error.Error);
  const retryable = PASSING_FAULTS.has(error.Error);
  const cleanCause = causeText(error);
  const parts = [`${error.Error}: ${cleanCause}`];
  parts.push(actions.length > 0 ? `rolled back: ${actions.join('; ')}` : 'rolled back: nothing had changed');
  if (quarantine) {
    parts.push(
      `launch template ${data.launchTemplate.id} version ${data.launchTemplate.version} quarantined for fleet ${data.fleet}`,
    );
  }
  if (retryable) parts.push('not the template: the next detection of this drift tries again');
  const result: RollbackResult = {
    error: error.Error,
    cause: parts.join(' — '),
    quarantine,
    actions,
    at: deps.clock().toISOString(),
  };
  if (replacementId !== undefined) result.replacementId = replacementId;
  if (retryable) result.retryable = true;
  return result;
}

/**
 * Puts the group back, changing its desired capacity only relatively (a termination with
 * decrement, leaving Standby, one step down), never to a number read earlier: other executions
 * may have surged the same group meanwhile, and their +1 must survive this rollback. Under the
 * group lock, like every change Phoenix makes to a group's capacity. An old instance that left
 * the group meanwhile (someone detached it) is outside the fleet now: left alone.
 */
async function rollbackAsg(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  currentPlan: Plan,
  asg: NonNullable<Plan['asg']>,
  knownReplacementId: string | undefined,
  actions: string[],
): Promise<string | undefined> {
  const lock = await lockGroup(deps, data, ctx, asg.name, 'retire');
  // What this execution did to the group: its step's output, or what it recorded under the
  // lock before a step that failed midway.
  const change: GroupChangeRecord | undefined =
    data.surge ?? (lock.change === undefined ? undefined : changeRecord(lock.change));
  const group = await describeGroup(deps, asg.name);
  const replacementId =
    knownReplacementId ?? (await identifyAsgReplacement(deps, data, ctx, group, false, change));
  const members = new Map((group.Instances ?? []).map((i) => [i.InstanceId ?? '', i.LifecycleState ?? '']));
  const old = await instanceNow(deps, data.instanceId);
  const oldAlive = old !== undefined && !GONE_STATES.has(old.state);
  const oldState = members.get(data.instanceId);
  const replacementInGroup = replacementId !== undefined && members.has(replacementId);

  // This execution's net change to the group's desired capacity; the rollback brings it
  // back to zero, relatively, so the changes of other executions in flight stay untouched.
  // Putting the old instance in Standby without decrement changed nothing; taking it out adds one.
  let delta = 0;
  if (change?.mode === 'surge') {
    const raisedTo = change.raisedTo ?? change.desiredBefore + 1;
    // The raise step returned (data.surge): it happened. Otherwise it happened if it was
    // marked made, or if the capacity reached the recorded target, which, under the lock, only
    // the wave's closer sets (its members' decrements come only after it).
    // A wave whose closer's raise EC2 refused (recorded on the lock): the closer gives back
    // what the group kept of it (an emulated group keeps the capacity set; on AWS nothing
    // fails synchronously), and a member nothing: its seat was never there.
    const desired = group.DesiredCapacity ?? 0;
    const wave = lock.change?.wave;
    if (lock.raiseFailed !== undefined && wave !== undefined) {
      if (wave.closedBy === ctx.executionId)
        delta += Math.max(0, Math.min(raisedTo - change.desiredBefore, desired - change.desiredBefore));
    } else if (data.surge !== undefined || lock.raised === true || desired >= raisedTo) {
      delta += 1;
    }
    // The old instance leaves with the capacity lowered by one only in the last step (RetireOld),
    // after which nothing rolls back. An old instance missing from the group now vanished on
    // its own (terminated by someone, replaced by the group, detached): that took nothing off
    // this surge's +1, which is still there to give back.
  }

  // The old instance is gone and its replacement was found healthy: the replacement has
  // taken over, and removing it now would only take capacity away.
  const keepReplacement = !oldAlive && data.health?.healthy === true;
  if (keepReplacement && replacementId !== undefined)
    actions.push(`kept healthy replacement ${replacementId}: ${data.instanceId} is already gone`);
  const removeFromGroup = async (id: string, what: string) => {
    // Out of the load balancers first, so no request reaches an instance being terminated.
    await deregisterEverywhere(deps, currentPlan.replacementTargetGroups, id);
    await deps.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: id,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    delta -= 1;
    actions.push(`terminated ${what} ${id} and lowered the group's desired capacity`);
  };
  if (replacementId !== undefined && !keepReplacement) {
    if (replacementInGroup) {
      await removeFromGroup(replacementId, 'replacement');
    } else {
      await deregisterEverywhere(deps, currentPlan.replacementTargetGroups, replacementId);
      const facts = await instanceNow(deps, replacementId);
      if (facts !== undefined && !GONE_STATES.has(facts.state)) {
        await deps.ec2.send(new TerminateInstancesCommand({ InstanceIds: [replacementId] }));
        actions.push(`terminated replacement ${replacementId}`);
      }
      // The group replaced a replacement that died (its health check): the successor comes from
      // the same version. Removed as the replacement, or the lowered capacity would let the
      // group's termination policy pick an old, healthy member instead.
      const successor = await identifyAsgReplacement(deps, data, ctx, group, false, change);
      if (successor !== undefined) await removeFromGroup(successor, `${replacementId}'s successor`);
    }
  }
  if (oldAlive && oldState === undefined) {
    actions.push(
      `left ${data.instanceId} alone: it left ${asg.name} during the replacement (someone detached it) and is not Phoenix's to put back`,
    );
  }
  if (oldState === 'Standby') {
    // Leaving Standby adds one to the desired capacity, which MaxSize may not allow while the
    // group is still trying to launch a replacement that never came: one down first.
    const now = await describeGroup(deps, asg.name);
    const desired = now.DesiredCapacity ?? 0;
    if (desired + 1 > (now.MaxSize ?? desired)) {
      await deps.autoScaling.send(
        new SetDesiredCapacityCommand({
          AutoScalingGroupName: asg.name,
          DesiredCapacity: desired - 1,
          HonorCooldown: false,
        }),
      );
      delta -= 1;
    }
    await deps.autoScaling.send(
      new ExitStandbyCommand({ AutoScalingGroupName: asg.name, InstanceIds: [data.instanceId] }),
    );
    delta += 1;
    actions.push(`moved ${data.instanceId} out of Standby`);
  }
  if (oldAlive && oldState !== undefined) await reregisterOld(deps, data.instanceId, currentPlan, actions);

  // What is left: a surge whose replacement never showed up, or a Standby exit that needed
  // room. Taken back now, or the group launches that instance late. Relative to the capacity
  // read under the lock, which no other execution changes meanwhile.
  if (delta !== 0) {
    const after = await describeGroup(deps, asg.name);
    const desired = after.DesiredCapacity ?? 0;
    const target = Math.min(after.MaxSize ?? desired, Math.max(after.MinSize ?? 0, desired - delta));
    if (target !== desired) {
      await deps.autoScaling.send(
        new SetDesiredCapacityCommand({
          AutoScalingGroupName: asg.name,
          DesiredCapacity: target,
          HonorCooldown: false,
        }),
      );
      actions.push(`gave back this replacement's capacity change: desired capacity ${desired} → ${target}`);
    }
  }
  await deps.store.releaseGroupLock(asg.name, ctx.executionId);
  return replacementId;
}

async function removeStandaloneReplacement(
  deps: StepDeps,
  currentPlan: Plan,
  replacementId: string,
  actions: string[],
): Promise<void> {
  await deregisterEverywhere(deps, currentPlan.replacementTargetGroups, replacementId);
  const facts = await instanceNow(deps, replacementId);
  if (facts !== undefined && !GONE_STATES.has(facts.state)) {
    await deps.ec2.send(new TerminateInstancesCommand({ InstanceIds: [replacementId] }));
    actions.push(`deregistered and terminated replacement ${replacementId}`);
  }
}

async function deregisterEverywhere(
  deps: StepDeps,
  targetGroupArns: readonly string[],
  instanceId: string,
): Promise<void> {
  for (const targetGroupArn of targetGroupArns) {
    if ((await targetState(deps.elbv2, targetGroupArn, instanceId)) === 'unregistered') continue;
    await deps.elbv2.send(
      new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: instanceId }] }),
    );
  }
}

async function reregisterOld(
  deps: StepDeps,
  instanceId: string,
  currentPlan: Plan,
  actions: string[],
): Promise<void> {
  for (const target of currentPlan.oldTargets) {
    if ((await targetState(deps.elbv2, target.targetGroupArn, instanceId)) === 'healthy') continue;
    await deps.elbv2.send(
      new RegisterTargetsCommand({
        TargetGroupArn: target.targetGroupArn,
        Targets: [{ Id: instanceId, Port: target.port }],
      }),
    );
    actions.push(
      `re-registered ${instanceId} in ${target.targetGroupArn.split('/').at(-2) ?? target.targetGroupArn}`,
    );
  }
}
