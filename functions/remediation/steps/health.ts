/**
 * Is the replacement healthy yet? And, for a group, which instance is it: the group launches
 * it asynchronously, and this execution finds and claims it.
 */
import { type AutoScalingGroup, DescribeScalingActivitiesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstanceStatusCommand, type InstanceStatus } from '@aws-sdk/client-ec2';
import { RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { launchFailureOf } from '../aws-errors';
import { InsufficientCapacityError, ReplacementFailedError, ReplacementUnhealthyError } from '../errors';
import type { GroupChangeRecord, Health, MachineData, Plan } from '../input';
import { targetState } from '../targets';
import { describeGroup, requirePart, type StepContext, type StepDeps, sourceOf, timingsOf } from './deps';
import { admitAfterRelease } from './granter';
import { waveRaiseRefusal } from './group-capacity';

/** States of a replacement that will never become healthy: no point waiting for it. */
const DEAD_REPLACEMENT_STATES: ReadonlySet<string> = new Set([
  'shutting-down',
  'terminated',
  'stopping',
  'stopped',
]);

/**
 * One health check of the replacement: running, both status checks ok, InService (ASG),
 * healthy in every target group. Identifies an ASG replacement first (the group launches it
 * asynchronously); registers a standalone replacement in the old instance's target groups
 * once it runs. Throws ReplacementUnhealthyError on the last allowed attempt, and
 * ReplacementFailedError at once when the replacement died.
 */
export async function checkHealthy(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<Health> {
  const currentPlan = requirePart(data.plan, 'a plan', 'checkHealthy');
  const timings = timingsOf(data);
  const attempt = (data.health?.attempt ?? 0) + 1;
  // One reading of the group serves both finding the replacement and its lifecycle state.
  const group = currentPlan.asg === undefined ? undefined : await describeGroup(deps, currentPlan.asg.name);
  const known = data.replacement?.instanceId ?? data.health?.replacementId;
  // Standby first: found and claimed is when the next execution may change the group, so the
  // lock goes with the claim. A wave's surge keeps it until its old instance is handed back.
  const releaseLock = data.surge?.mode === 'standby-first';
  const replacementId =
    known ??
    (group === undefined ? undefined : await identifyAsgReplacement(deps, data, ctx, group, releaseLock));

  // Not launched yet: on AWS a launch the group could not make shows as a failed activity.
  let shortage: InsufficientCapacityError | undefined;
  if (replacementId === undefined && group !== undefined) {
    // A wave whose closer's raise EC2 refused for the launch (recorded on the lock): nothing
    // will come for this member either. Read only while nothing was found.
    if (data.surge?.mode === 'surge' && currentPlan.asg !== undefined) {
      const refused = waveRaiseRefusal(data, await deps.store.getGroupLock(currentPlan.asg.name));
      if (refused !== undefined) throw refused;
    }
    const failure = await failedGroupLaunch(deps, data, currentPlan);
    if (failure instanceof InsufficientCapacityError) shortage = failure;
    else if (failure !== undefined) throw failure;
  }

  const notYet = (detail: string): Health => {
    if (attempt >= timings.healthCheckMaxAttempts) {
      // Never launched for want of capacity: the template is not at fault, nothing to quarantine.
      if (shortage !== undefined) throw shortage;
      const waited = timings.healthCheckIntervalSeconds * (attempt - 1);
      throw new ReplacementUnhealthyError(
        `replacement ${replacementId ?? '(never launched)'} of ${data.instanceId} was not healthy after ${attempt} checks over ${waited}s: ${detail}`,
      );
    }
    const health: Health = { attempt, healthy: false, detail };
    if (replacementId !== undefined) health.replacementId = replacementId;
    return health;
  };

  if (replacementId === undefined)
    return notYet(`Auto Scaling group ${currentPlan.asg?.name} has not launched the replacement yet`);
  // The instance's state and its status checks in one call.
  const status = await instanceStatus(deps, replacementId);
  if (status === undefined) return notYet(`replacement ${replacementId} is not visible yet`);
  const state = status.InstanceState?.Name ?? 'unknown';
  if (DEAD_REPLACEMENT_STATES.has(state)) {
    throw new ReplacementFailedError(`replacement ${replacementId} of ${data.instanceId} is ${state}`);
  }
  if (state !== 'running') return notYet(`replacement ${replacementId} is ${state}`);

  const failing: string[] = [];
  const instanceStatusName = status.InstanceStatus?.Status ?? 'unknown';
  const systemStatus = status.SystemStatus?.Status ?? 'unknown';
  if (instanceStatusName !== 'ok' || systemStatus !== 'ok') {
    failing.push(`status checks instance=${instanceStatusName} system=${systemStatus}`);
  }

  if (group !== undefined) {
    const member = group.Instances?.find((i) => i.InstanceId === replacementId);
    if (member?.LifecycleState !== 'InService')
      failing.push(`lifecycle ${member?.LifecycleState ?? 'unknown'}`);
    else if (member.HealthStatus?.toUpperCase() !== 'HEALTHY')
      failing.push(`group health ${member.HealthStatus}`);
  }

  for (const targetGroupArn of currentPlan.replacementTargetGroups) {
    let targetHealth = await targetState(deps.elbv2, targetGroupArn, replacementId);
    if (targetHealth === 'unregistered' && currentPlan.standalone !== undefined) {
      const ports = currentPlan.oldTargets
        .filter((t) => t.targetGroupArn === targetGroupArn)
        .map((t) => t.port);
      await deps.elbv2.send(
        new RegisterTargetsCommand({
          TargetGroupArn: targetGroupArn,
          Targets: ports.map((Port) => ({ Id: replacementId, Port })),
        }),
      );
      targetHealth = await targetState(deps.elbv2, targetGroupArn, replacementId);
    }
    if (targetHealth !== 'healthy')
      failing.push(`target group ${targetGroupArn.split('/').at(-2) ?? targetGroupArn}: ${targetHealth}`);
  }

  if (failing.length > 0) return notYet(failing.join('; '));
  return {
    attempt,
    healthy: true,
    replacementId,
    detail: 'running, status checks ok, in service, healthy in every target group',
  };
}

/**
 * The group's latest launch that failed since this execution changed it, if any, as the
 * error it means (the group keeps trying by itself after a passing failure).
 */
async function failedGroupLaunch(
  deps: StepDeps,
  data: MachineData,
  currentPlan: Plan,
): Promise<ReturnType<typeof launchFailureOf>> {
  const groupName = currentPlan.asg?.name;
  // A minute's margin for the clocks of the Lambda and of Auto Scaling.
  const since = Date.parse(data.surge?.at ?? data.recheck?.checkedAt ?? '') - 60_000;
  if (groupName === undefined || !Number.isFinite(since)) return undefined;
  const described = await deps.autoScaling.send(
    new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 10 }),
  );
  // Newest first; the group's next attempt is a newer activity, so the first failure decides.
  for (const activity of described.Activities ?? []) {
    if ((activity.StartTime?.getTime() ?? 0) < since) break;
    if (!/^Launching/i.test(activity.Description ?? '')) continue;
    const failure = launchFailureOf(activity, sourceOf(data));
    if (failure !== undefined) return failure;
    if (activity.StatusCode === 'Successful' || activity.StatusCode === 'InProgress') return undefined;
  }
  return undefined;
}

/** State and status checks of one instance; undefined while EC2 does not know it yet. */
async function instanceStatus(deps: StepDeps, instanceId: string): Promise<InstanceStatus | undefined> {
  try {
    const described = await deps.ec2.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: true }),
    );
    return described.InstanceStatuses?.find((s) => s.InstanceId === instanceId);
  } catch (error) {
    // Right after launch EC2 may not know the id yet (eventual consistency).
    if (error instanceof Error && error.name === 'InvalidInstanceID.NotFound') return undefined;
    throw error;
  }
}

/**
 * The instance the group launched for this execution: not a member when this execution (or
 * its wave) changed the group, under its lock, and claimed by us (each member of a wave claims
 * a different one). With `releaseLock`, the claim also gives the group lock back, in the same
 * request. The rollback asks too, without releasing.
 */
export async function identifyAsgReplacement(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  group: AutoScalingGroup,
  releaseLock: boolean,
  change: GroupChangeRecord | undefined = data.surge,
): Promise<string | undefined> {
  const asg = data.plan?.asg;
  if (asg === undefined) return undefined;
  // Without a change, this execution never changed the group: nothing was launched for it.
  if (change === undefined) return undefined;
  const before = new Set([...change.instancesBefore, data.instanceId]);
  const candidates = (group.Instances ?? [])
    .filter((i) => i.InstanceId !== undefined && !before.has(i.InstanceId))
    .filter((i) => i.LifecycleState !== 'Terminating' && i.LifecycleState !== 'Terminated')
    .flatMap((i) => (i.InstanceId ? [i.InstanceId] : []))
    .sort();
  for (const candidate of candidates) {
    const claim = await deps.store.claimReplacementSeeingQueue(
      candidate,
      ctx.executionId,
      timingsOf(data).leaseTtlSeconds,
      releaseLock ? { releaseGroupLock: asg.name, seeQueueOf: data.fleet } : {},
    );
    if (claim.claimed) {
      // The group's lock went with the claim: a waiter parked behind it may go now (whether
      // anyone waits was learnt in the claim's own transaction).
      if (claim.waiters) await admitAfterRelease(deps, data.fleet);
      return candidate;
    }
  }
  return undefined;
}
