/**
 * How to replace the instance: a surge of its Auto Scaling group, Standby first at MaxSize, a
 * standalone launch, or manual action when none of these can work.
 */
import { createHash } from 'node:crypto';
import { standaloneLaunchTags } from '../../domain/drift/source-check';
import { headroomOf } from '../../domain/headroom';
import type { Tags } from '../../domain/model';
import { InstanceGoneError } from '../errors';
import type { MachineData, Plan, Target } from '../input';
import { longestDeregistrationDelay, registrationsOf } from '../targets';
import {
  describeGroup,
  executionNameOf,
  GONE_STATES,
  groupView,
  instanceNow,
  placementOf,
  requireFleet,
  type StepContext,
  type StepDeps,
  timingsOf,
} from './deps';

/** Tag Phoenix puts on a standalone replacement: the instance it replaces. */
export const REPLACES_TAG = 'phoenix:replaces';
/** Tag Phoenix puts on a standalone replacement: the execution that launched it. */
export const EXECUTION_TAG = 'phoenix:execution';

/** How to replace the instance: strategy, disruption, targets to drain, the drain bound. */
export async function plan(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<Plan> {
  const timings = timingsOf(data);
  // The recheck read the instance (and its group) a moment ago; an older execution's state
  // has no snapshot, and then they are read now.
  const snapshot = data.recheck?.snapshot;
  let instance = snapshot?.instance;
  if (instance === undefined) {
    const facts = await instanceNow(deps, data.instanceId);
    if (facts === undefined || GONE_STATES.has(facts.state)) {
      throw new InstanceGoneError(`instance ${data.instanceId} is ${facts?.state ?? 'gone'}`);
    }
    instance = placementOf(facts);
  }
  const oldTargets = await registrationsOf(deps.elbv2, data.instanceId, instance.vpcId);
  const drainBound = async (targets: readonly Target[]) =>
    Math.min(
      await longestDeregistrationDelay(
        deps.elbv2,
        targets.map((t) => t.targetGroupArn),
      ),
      timings.maxDrainSeconds,
    );
  const manual = async (detail: string): Promise<Plan> => ({
    strategy: 'manual-action-required',
    detail,
    disruption: 0,
    oldTargets,
    drainTargets: oldTargets,
    replacementTargetGroups: [],
    drainSeconds: await drainBound(oldTargets),
  });

  const groupName = instance.autoScalingGroup;
  if (groupName !== undefined) {
    const group =
      snapshot?.group?.name === groupName ? snapshot.group : groupView(await describeGroup(deps, groupName));
    const member = group.members.find((m) => m.id === data.instanceId);
    if (member?.lifecycle !== 'InService') {
      return manual(
        `instance ${data.instanceId} is ${member?.lifecycle ?? 'not a member'} in Auto Scaling group ${groupName}, not InService: someone else is managing it`,
      );
    }
    const { desired, min, max } = group;
    const surge = desired < max;
    const headroom = headroomOf(
      { name: groupName, desired, min, max },
      requireFleet(deps, data.fleet).budget.minHealthyPercent,
    );
    if (
      headroom.kind === 'none' &&
      (headroom.code === 'pinned' || !(await othersInFlight(deps, data.fleet, groupName, ctx)))
    ) {
      // No budget will ever be granted while the group stays as it is: say what to change,
      // once, instead of backing off for hours and ending "blocked" to start over.
      return manual(headroom.why);
    }
    // A surge ends by handing the old instance back to its group, which drains it from the
    // group's own target groups (deregistration delay) before terminating it: Phoenix drains
    // only what someone registered it in by hand. An instance in Standby is out of the
    // group's target groups already on AWS; Phoenix drains every registration itself and
    // waits, as moto leaves a Standby instance registered.
    const groupTargets = new Set(group.targetGroupArns);
    const drainTargets = surge ? oldTargets.filter((t) => !groupTargets.has(t.targetGroupArn)) : oldTargets;
    return {
      strategy: 'asg',
      detail: surge
        ? `Auto Scaling group ${groupName}: desired capacity + 1 (now ${desired}, max ${max}), then the old instance leaves`
        : `Auto Scaling group ${groupName} is at MaxSize ${max}: the old instance goes to Standby first and the group replaces it (one instance of healthy capacity out meanwhile)`,
      disruption: surge ? 0 : 1,
      oldTargets,
      drainTargets,
      replacementTargetGroups: [...group.targetGroupArns],
      drainSeconds: await drainBound(drainTargets),
      asg: {
        name: groupName,
        mode: surge ? 'surge' : 'standby-first',
        desiredBefore: desired,
        minSize: min,
        maxSize: max,
        instancesBefore: group.members.map((m) => m.id),
      },
    };
  }

  const fleet = requireFleet(deps, data.fleet);
  if (instance.subnetId === undefined) {
    return manual(
      `instance ${data.instanceId} has no subnet: Phoenix cannot launch its replacement in the same place`,
    );
  }
  if (!instance.launchedFromTemplate) {
    return manual(
      `instance ${data.instanceId} was not launched from a launch template and is in no Auto Scaling group: a fresh instance may not replace it like for like (volumes, interfaces, addresses)`,
    );
  }
  const tags: Tags = {
    ...standaloneLaunchTags(fleet),
    [REPLACES_TAG]: data.instanceId,
    [EXECUTION_TAG]: executionNameOf(ctx.executionId),
  };
  const standalone: NonNullable<Plan['standalone']> = {
    subnetId: instance.subnetId,
    // Idempotent RunInstances: a retried launch returns the instance the first one created.
    clientToken: createHash('sha256').update(`${ctx.executionId}#launch`).digest('hex').slice(0, 64),
    tagSpecifications: [
      { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
    ],
  };
  if (snapshot?.template?.definesNetworkInterfaces === true) standalone.networkInterfaces = true;
  return {
    strategy: 'standalone',
    detail: `standalone instance: launch from ${data.launchTemplate.id} version ${data.launchTemplate.version} in ${instance.subnetId}, register in ${oldTargets.length} target group(s), then drain and terminate the old one`,
    disruption: 0,
    oldTargets,
    drainTargets: oldTargets,
    replacementTargetGroups: [...new Set(oldTargets.map((t) => t.targetGroupArn))],
    drainSeconds: await drainBound(oldTargets),
    standalone,
  };
}

/**
 * Whether another execution is replacing in the fleet or its group now: its surge may be
 * what holds the group at MaxSize, and its end gives the headroom back.
 */
async function othersInFlight(
  deps: StepDeps,
  fleet: string,
  group: string,
  ctx: StepContext,
): Promise<boolean> {
  const lock = await deps.store.getGroupLock(group);
  if (lock !== undefined && lock.holder !== ctx.executionId) return true;
  return (await deps.store.listLeases(fleet)).some((lease) => lease.holder !== ctx.executionId);
}
