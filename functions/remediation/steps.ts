/**
 * The logic steps of the remediation state machine, one function per step, over narrow
 * injected dependencies. The state machine (`state-machines/remediate-instance.asl.json`)
 * calls them through one Lambda (`handler.ts`), which dispatches on `step`; the local runner
 * calls {@link runStep} in-process. One-call steps (run instances, deregister, terminate,
 * quarantine) are direct SDK integrations in the definition, not here. Changes to an Auto
 * Scaling group's desired capacity are here, because each needs the group lock first
 * (docs/adr/0009-asg-surge-without-races.md).
 *
 * Every step is idempotent: Step Functions retries a step whose Lambda invocation failed,
 * and a retried step must find the world as it left it and do no harm twice.
 */
import { createHash } from 'node:crypto';
import {
  type AutoScalingClient,
  type AutoScalingGroup,
  DescribeScalingActivitiesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstanceStatusCommand,
  type EC2Client,
  type InstanceStatus,
  RunInstancesCommand,
  type RunInstancesCommandOutput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  type ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import * as z from 'zod/mini';
import {
  describeAutoScalingGroup,
  describeInstances,
  listFleetInstances,
  resolveLaunchTemplate,
  sourceOfGroup,
} from '../aws/inventory';
import type { NotificationPublisher } from '../aws/notifier';
import {
  groupBusyReason,
  instanceClaimReason,
  pausedReason,
  type RemediationStore,
} from '../aws/remediation-store';
import { ATTEMPT_TTL_SECONDS, type GroupChange, type GroupLock, type Quarantine } from '../aws/state-store';
import { concurrencyLimit } from '../domain/budget';
import { evaluateDrift } from '../domain/drift/engine';
import { autoScalingGroupOf, findFleet } from '../domain/drift/match';
import { checkSource, standaloneLaunchTags } from '../domain/drift/source-check';
import { PhoenixError } from '../domain/errors';
import { headroomOf } from '../domain/headroom';
import type { CompiledDesiredState, CompiledFleet, InstanceFacts, Tags } from '../domain/model';
import {
  buildNotification,
  executionConsoleUrl,
  NOTIFICATION_EVENTS,
  type NotificationEvent,
  type NotificationInput,
} from '../domain/notification';
import { isWindowOpen, nextWindowOpening } from '../domain/window';
import { validate } from '../runtime/validation';
import { isTransient, launchErrorOf, launchFailureOf } from './aws-errors';
import {
  AlreadyReplacedError,
  GateClosedError,
  GroupBusyError,
  InstanceGoneError,
  InsufficientCapacityError,
  LeaseDeniedError,
  ReplacementFailedError,
  ReplacementUnhealthyError,
  ReplacingElsewhereError,
  StepInputError,
  TransientAwsError,
} from './errors';
import {
  type CaughtError,
  type GroupChangeRecord,
  type Health,
  type MachineData,
  MachineDataSchema,
  type Outcome,
  type Plan,
  type RecheckResult,
  type Retired,
  type RollbackResult,
  type SkipReason,
  type Snapshot,
  type Target,
  type Timings,
  TimingsSchema,
} from './input';
import { runInstancesRequest } from './launch';
import { longestDeregistrationDelay, registrationsOf, targetState } from './targets';

/** What the steps need from the world; built once per Lambda container (or per local run). */
export interface StepDeps {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  elbv2: Pick<ElasticLoadBalancingV2Client, 'send'>;
  store: Pick<
    RemediationStore,
    | 'remediationGate'
    | 'acquireLease'
    | 'releaseLease'
    | 'releaseAll'
    | 'claimReplacement'
    | 'acquireGroupLock'
    | 'getGroupLock'
    | 'recordGroupChange'
    | 'releaseGroupLock'
    | 'settleInstanceClaim'
    | 'nextAttempt'
    | 'listLeases'
  >;
  notifier: NotificationPublisher;
  desiredState: CompiledDesiredState;
  clock: () => Date;
  /** Region of the Step Functions console links in notifications. */
  consoleRegion?: string;
}

/** The execution a step runs in (`$$.Execution`). */
export interface StepContext {
  /** The execution ARN: unique per remediation, the lease holder. */
  executionId: string;
  /** ISO-8601 start of the execution. */
  startedAt?: string;
}

/** Tag Phoenix puts on a standalone replacement: the instance it replaces. */
export const REPLACES_TAG = 'phoenix:replaces';
/** Tag Phoenix puts on a standalone replacement: the execution that launched it. */
export const EXECUTION_TAG = 'phoenix:execution';

const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);
const DEAD_REPLACEMENT_STATES: ReadonlySet<string> = new Set([
  'shutting-down',
  'terminated',
  'stopping',
  'stopped',
]);

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

// ---- shared helpers ---------------------------------------------------------------------

function fleetNamed(deps: StepDeps, name: string): CompiledFleet | undefined {
  return deps.desiredState.fleets.find((fleet) => fleet.name === name);
}

function requireFleet(deps: StepDeps, name: string): CompiledFleet {
  const fleet = fleetNamed(deps, name);
  if (fleet === undefined) {
    throw new StepInputError(
      `fleet ${name} is not declared in desired-state revision ${deps.desiredState.revision}`,
    );
  }
  return fleet;
}

function requirePart<T>(value: T | undefined, what: string, step: string): T {
  if (value === undefined)
    throw new StepInputError(`step ${step} needs ${what}, which earlier states did not provide`);
  return value;
}

function timingsOf(data: MachineData): Timings {
  return data.recheck?.timings ?? z.parse(TimingsSchema, data.timings ?? {});
}

async function instanceNow(deps: StepDeps, instanceId: string): Promise<InstanceFacts | undefined> {
  const [facts] = await describeInstances(deps.ec2, [instanceId]);
  return facts;
}

async function describeGroup(deps: StepDeps, name: string): Promise<AutoScalingGroup> {
  const group = await describeAutoScalingGroup(deps.autoScaling, name);
  if (group === undefined) throw new InstanceGoneError(`Auto Scaling group ${name} no longer exists`);
  return group;
}

function groupInstanceIds(group: AutoScalingGroup): string[] {
  return (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
}

/** The group as the plan and the lease need it (see {@link Snapshot}). */
function groupView(group: AutoScalingGroup): NonNullable<Snapshot['group']> {
  return {
    name: group.AutoScalingGroupName ?? '',
    desired: group.DesiredCapacity ?? 0,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    targetGroupArns: [...(group.TargetGroupARNs ?? [])],
    members: (group.Instances ?? []).flatMap((i) =>
      i.InstanceId === undefined
        ? []
        : [
            {
              id: i.InstanceId,
              lifecycle: i.LifecycleState ?? 'unknown',
              healthy: i.LifecycleState === 'InService' && i.HealthStatus?.toLowerCase() === 'healthy',
            },
          ],
    ),
  };
}

function placementOf(instance: InstanceFacts): Snapshot['instance'] {
  const placement: Snapshot['instance'] = { launchedFromTemplate: instance.launchTemplate !== undefined };
  if (instance.vpcId !== undefined) placement.vpcId = instance.vpcId;
  if (instance.subnetId !== undefined) placement.subnetId = instance.subnetId;
  const group = autoScalingGroupOf(instance);
  if (group !== undefined) placement.autoScalingGroup = group;
  return placement;
}

/** How long the recheck's reading of a group stands in for a new one (the lease's first attempt follows within seconds). */
const SNAPSHOT_FRESH_MS = 30_000;

/** A Step Functions `Cause` as text: a Lambda error's cause is JSON with an `errorMessage`. */
export function causeText(caught: CaughtError | undefined): string {
  const cause = caught?.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed) {
      const message = (parsed as { errorMessage: unknown }).errorMessage;
      if (typeof message === 'string') return message;
    }
  } catch {
    // Not JSON: an SDK integration's or the local runner's plain cause.
  }
  return cause === '' ? (caught?.Error ?? 'unknown error') : cause;
}

function reasonsSummary(data: MachineData): string {
  const kinds = [...new Set(data.reasons.map((r) => `${r.kind} ${r.field}`))];
  return kinds.length === 0 ? 'no reasons recorded' : kinds.join(', ');
}

// ---- recheck ----------------------------------------------------------------------------

/**
 * Is the remediation still wanted, and may it start now? Ends it (skip) when the instance is
 * gone, no longer in the fleet, excluded, no longer drifted the same way, the template moved
 * on, another execution is replacing it or has replaced it, the switch is paused, the version
 * is quarantined, or the source itself is drifted; asks to wait when the fleet's window is
 * closed.
 */
export async function recheck(deps: StepDeps, data: MachineData, ctx: StepContext): Promise<RecheckResult> {
  const now = deps.clock();
  const timings = z.parse(TimingsSchema, data.timings ?? {});
  const base = { timings, checkedAt: now.toISOString() };
  const skip = (reason: SkipReason, detail: string, notify: boolean): RecheckResult => ({
    decision: 'skip',
    reason,
    detail,
    notify,
    ...base,
  });

  const pinned = data.launchTemplate;
  const instance = await instanceNow(deps, data.instanceId);
  if (instance === undefined || GONE_STATES.has(instance.state)) {
    return skip(
      'instance-gone',
      `instance ${data.instanceId} is ${instance?.state ?? 'gone'}: nothing to replace`,
      false,
    );
  }

  const match = findFleet(instance, deps.desiredState.fleets);
  if (match.kind === 'outside') return skip('not-in-fleet', match.why, true);
  if (match.kind === 'excluded') return skip('excluded', match.why, true);
  const fleet = match.fleet;
  if (fleet.name !== data.fleet) {
    return skip(
      'not-in-fleet',
      `instance ${data.instanceId} now belongs to fleet ${fleet.name}, not ${data.fleet}`,
      true,
    );
  }
  if (fleet.mode !== 'enforce') {
    return skip(
      'not-enforcing',
      `fleet ${fleet.name} is in ${fleet.mode} mode: Phoenix does not replace its instances`,
      true,
    );
  }

  const current = await resolveLaunchTemplate(deps.ec2, fleet.launchTemplate);
  if (current.id !== pinned.id || current.version !== pinned.version) {
    return skip(
      'template-changed',
      `fleet ${fleet.name} now resolves to launch template ${current.id} version ${current.version}, not the pinned ${pinned.id} version ${pinned.version}; the remediation for the new version takes over`,
      false,
    );
  }

  const verdict = evaluateDrift({ instance, fleet, template: current, now });
  if (verdict.status === 'in-sync') {
    return skip('in-sync', `instance ${data.instanceId} is no longer drifted`, false);
  }
  if (verdict.status === 'not-applicable') return skip('drift-changed', verdict.why, true);
  if (verdict.fingerprint !== data.fingerprint) {
    return skip(
      'drift-changed',
      `instance ${data.instanceId} is drifted differently now (fingerprint ${data.fingerprint} → ${verdict.fingerprint}); the remediation for the new drift takes over`,
      false,
    );
  }

  let source: ReturnType<typeof checkSource>;
  let group: AutoScalingGroup | undefined;
  if (fleet.match.kind === 'autoScalingGroup') {
    group = await describeGroup(deps, fleet.match.autoScalingGroup);
    const groupSource = await sourceOfGroup(deps.ec2, group, { spec: fleet.launchTemplate, facts: current });
    if (groupSource.template === undefined) {
      return skip(
        'source-drift',
        `Auto Scaling group ${fleet.match.autoScalingGroup} launches from a launch configuration, not launch template ${pinned.id}: a replacement would not be built from what Git declares`,
        true,
      );
    }
    source = checkSource({
      fleet,
      template: current,
      propagatedTags: groupSource.propagatedTags,
      now,
      groupTemplate: groupSource.template,
    });
  } else {
    source = checkSource({ fleet, template: current, propagatedTags: {}, now });
  }

  // Both switches and the instance's claim in one read, after the instance and its group were
  // read: another execution that claimed the instance before this reading shows here, one that
  // claims it after is refused to this one at the lease, and what the plan reads in the
  // snapshot was seen before either touched the instance (docs/adr/0021-one-replacement-per-instance.md).
  const gate = await deps.store.remediationGate(
    { fleet: data.fleet, templateId: pinned.id, version: pinned.version },
    data.instanceId,
  );
  const claim = gate.instanceClaim;
  if (claim !== undefined && claim.holder !== ctx.executionId) {
    return claim.replacedBy === undefined
      ? skip('in-flight-elsewhere', instanceClaimReason(claim), false)
      : skip('already-replaced', instanceClaimReason(claim), false);
  }
  const pause = gate.pause;
  if (pause.paused) {
    return skip('paused', pausedReason(pause), true);
  }
  if (gate.quarantine !== undefined) return skip('quarantined', quarantineText(gate.quarantine), true);
  if (!source.ok) {
    const what = source.reasons.map(
      (r) => `${r.field}: expected ${r.expected ?? 'nothing'}, source gives ${r.actual ?? 'nothing'}`,
    );
    return skip(
      'source-drift',
      `a fresh instance from launch template ${pinned.id} version ${pinned.version} would itself be drifted (${what.join('; ')}); fix Git or the template — Phoenix does not replace in a loop`,
      true,
    );
  }

  if (fleet.window !== undefined && !isWindowOpen(fleet.window, now)) {
    const opensAt = nextWindowOpening(fleet.window, now).toISOString();
    return {
      decision: 'wait',
      reason: 'window-closed',
      detail: `outside the maintenance window of fleet ${fleet.name} (${fleet.window.timezone}); waiting until ${opensAt}`,
      notify: false,
      windowOpensAt: opensAt,
      ...base,
    };
  }

  const snapshot: Snapshot = { instance: placementOf(instance) };
  if (group !== undefined && group.AutoScalingGroupName === snapshot.instance.autoScalingGroup)
    snapshot.group = groupView(group);
  if (current.definesNetworkInterfaces === true) snapshot.template = { definesNetworkInterfaces: true };
  return {
    decision: 'proceed',
    reason: 'drifted',
    detail: `still drifted: ${reasonsSummary(data)}`,
    notify: false,
    ...base,
    snapshot,
  };
}

function quarantineText(q: Quarantine): string {
  return (
    `launch template ${q.templateId} version ${q.version} is quarantined for fleet ${q.fleet} since ${q.at} ` +
    `(execution ${q.execution}: ${q.cause}); publish a fixed template version (a new version is not quarantined), or lift this one by deleting the state table item pk=quarantine sk=${q.fleet}#${q.templateId}#${q.version}`
  );
}

// ---- plan -------------------------------------------------------------------------------

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

function executionNameOf(executionId: string): string {
  return executionId.split(':').at(-1) ?? executionId;
}

// ---- budget lease -----------------------------------------------------------------------

/**
 * Takes a slot of the fleet's budget, measured now; throws LeaseDeniedError when there is
 * none. A surge takes the group lock in the same transaction (it changes the group next),
 * and throws GroupBusyError, holding nothing, when another execution has it.
 */
export async function acquireLease(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{
  holder: string;
  items: string[];
  expiresAt: number;
  healthy: number;
  desired: number;
  groupLocked: boolean;
}> {
  const currentPlan = requirePart(data.plan, 'a plan', 'acquireLease');
  const fleet = requireFleet(deps, data.fleet);
  const timings = timingsOf(data);
  const { healthy, desired } = await measureFleet(deps, fleet, currentPlan, data);
  const surge = currentPlan.asg?.mode === 'surge' ? currentPlan.asg : undefined;
  const decision = await deps.store.acquireLease({
    fleet: fleet.name,
    holder: ctx.executionId,
    instanceId: data.instanceId,
    // A share of the fleet is of its size now (the group's desired capacity, or its members).
    maxConcurrent: concurrencyLimit(fleet.budget.maxConcurrent, desired),
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
  });
  if (!decision.granted) {
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
    );
  }
  return {
    holder: decision.lease.holder,
    items: decision.lease.items,
    expiresAt: decision.lease.expiresAt,
    healthy,
    desired,
    groupLocked: decision.lease.groupLocked,
  };
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
export async function releaseLease(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{ released: number }> {
  if (data.retired?.leaseReleased === true) return { released: data.retired.released };
  const group = data.plan?.asg?.name;
  const instance = { id: data.instanceId, ...replacedBy(data) };
  const items = data.lease?.holder === ctx.executionId ? data.lease.items : undefined;
  if (items === undefined) {
    // The lease step did not return (it failed midway): whatever it took is found by reading.
    if (group !== undefined) await deps.store.releaseGroupLock(group, ctx.executionId);
    await deps.store.settleInstanceClaim(instance.id, ctx.executionId, instance.replacedBy);
    return { released: await deps.store.releaseLease(data.fleet, ctx.executionId) };
  }
  const release: Parameters<StepDeps['store']['releaseAll']>[0] = {
    holder: ctx.executionId,
    fleet: data.fleet,
    items,
    instance,
  };
  if (group !== undefined) release.group = group;
  return { released: await deps.store.releaseAll(release) };
}

/** The replacement that took over, once the old instance is on its way out (a success). */
function replacedBy(data: MachineData): { replacedBy?: string } {
  const replacement = data.health?.replacementId ?? data.replacement?.instanceId;
  const replaced =
    data.error === undefined &&
    data.rollback === undefined &&
    data.health?.healthy === true &&
    replacement !== undefined;
  return replaced ? { replacedBy: replacement } : {};
}

// ---- the group's capacity, one execution at a time -------------------------------------

/**
 * How long a group lock may outlive its holder: the longest a holder keeps it (until the
 * health checks have found its replacement) plus a margin. Past it, the holder is dead.
 */
export function groupLockTtlSeconds(timings: Timings): number {
  return timings.healthCheckIntervalSeconds * timings.healthCheckMaxAttempts + 300;
}

function requireAsg(data: MachineData, step: string): NonNullable<Plan['asg']> {
  return requirePart(data.plan?.asg, 'an Auto Scaling plan', step);
}

/** This execution's lock on the group, or GroupBusyError naming who has it. */
async function lockGroup(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  group: string,
): Promise<GroupLock> {
  const decision = await deps.store.acquireGroupLock({
    group,
    holder: ctx.executionId,
    instanceId: data.instanceId,
    ttlSeconds: groupLockTtlSeconds(timingsOf(data)),
  });
  if (decision.acquired) return decision.lock;
  throw new GroupBusyError(groupBusyReason(decision.heldBy));
}

async function isMember(deps: StepDeps, group: string, instanceId: string): Promise<boolean> {
  const described = await describeGroup(deps, group);
  return (described.Instances ?? []).some((i) => i.InstanceId === instanceId);
}

function changeRecord(change: GroupChange): GroupChangeRecord {
  const record: GroupChangeRecord = {
    mode: change.mode,
    desiredBefore: change.desiredBefore,
    instancesBefore: [...change.instancesBefore],
  };
  if (change.raisedTo !== undefined) record.raisedTo = change.raisedTo;
  return record;
}

/**
 * Launch before terminate: the group grows by one. Under the group lock, so the desired
 * capacity raised is the group's CURRENT one (other replacements' surges included), and the
 * lock is kept until the health check has found and claimed the instance the group launched
 * for it: no other execution's raise can launch an instance this one would mistake for its own.
 * The lock normally comes with the lease; a retry after waiting for headroom takes it again.
 * A retry finds the change it recorded and raises only if the first attempt did not.
 */
export async function raiseDesiredCapacity(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<GroupChangeRecord> {
  const asg = requireAsg(data, 'raiseDesiredCapacity');
  let recorded: GroupChange | undefined;
  let lockedHere = false;
  if (data.lease?.groupLocked !== true) {
    recorded = (await lockGroup(deps, data, ctx, asg.name)).change;
    lockedHere = true;
  }
  for (;;) {
    const group = await describeGroup(deps, asg.name);
    const desired = group.DesiredCapacity ?? 0;
    let change = recorded?.mode === 'surge' ? recorded : undefined;
    if (change === undefined && desired >= (group.MaxSize ?? 0)) {
      // At MaxSize: others' surges use the headroom, or this execution's own raise, recorded
      // by an attempt that did not return.
      const lock = await deps.store.getGroupLock(asg.name);
      const mine = lock?.holder === ctx.executionId;
      if (mine && lock?.change?.mode === 'surge') {
        change = lock.change;
      } else {
        if (mine) await deps.store.releaseGroupLock(asg.name, ctx.executionId);
        throw new GroupBusyError(
          `Auto Scaling group ${asg.name} is at MaxSize ${group.MaxSize ?? 0} (desired ${desired}): waiting for replacements in flight to give their headroom back`,
        );
      }
    }
    if (change === undefined) {
      const candidate: GroupChange = {
        mode: 'surge',
        desiredBefore: desired,
        raisedTo: desired + 1,
        instancesBefore: groupInstanceIds(group),
      };
      // Recorded first: whatever happens next, a retry or the rollback knows what was intended.
      // The record is conditional on holding the lock, which proves the reading above was
      // made under it.
      const outcome = await deps.store.recordGroupChange(asg.name, ctx.executionId, candidate);
      if (outcome.outcome === 'not-held') {
        if (lockedHere)
          throw new GroupBusyError(`lost the lock on Auto Scaling group ${asg.name} before changing it`);
        recorded = (await lockGroup(deps, data, ctx, asg.name)).change;
        lockedHere = true;
        continue;
      }
      change = outcome.outcome === 'recorded' ? candidate : outcome.change;
    }
    const raisedTo = change.raisedTo ?? change.desiredBefore + 1;
    const at = deps.clock().toISOString();
    if (desired < raisedTo) {
      await groupLaunching(data, () =>
        deps.autoScaling.send(
          new SetDesiredCapacityCommand({
            AutoScalingGroupName: asg.name,
            DesiredCapacity: raisedTo,
            HonorCooldown: false,
          }),
        ),
      );
    }
    return { ...changeRecord(change), at };
  }
}

/**
 * A group call that makes the group launch. On AWS the launch is asynchronous: a launch EC2
 * refuses fails a scaling activity, which the health check reads. A group that launches
 * synchronously (moto) fails the call itself with EC2's code: told apart the same way, so the
 * version is quarantined there too instead of being retried on every detection.
 */
async function groupLaunching<T>(data: MachineData, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw launchErrorOf(error, sourceOf(data), { direct: false }) ?? error;
  }
}

/**
 * No MaxSize headroom and the budget allows the dip: the old instance goes to Standby without
 * lowering the group's desired capacity, so the group launches the replacement at once; the
 * old one keeps running (out of the group's target groups) until the replacement is healthy,
 * and stays a member of its group, with its `aws:autoscaling:groupName` tag, which is what
 * Phoenix's roles may terminate by (docs/adr/0013-standby-first-at-max-size.md). Under the
 * group lock for the same reason as a surge: the instance the group launches must be told
 * apart from others'.
 */
export async function standbyOldFirst(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<GroupChangeRecord> {
  const asg = requireAsg(data, 'standbyOldFirst');
  const lock = await lockGroup(deps, data, ctx, asg.name);
  let change = lock.change?.mode === 'standby-first' ? lock.change : undefined;
  const group = await describeGroup(deps, asg.name);
  if (change === undefined) {
    change = {
      mode: 'standby-first',
      desiredBefore: group.DesiredCapacity ?? 0,
      instancesBefore: groupInstanceIds(group),
    };
    const outcome = await deps.store.recordGroupChange(asg.name, ctx.executionId, change);
    if (outcome.outcome === 'not-held')
      throw new GroupBusyError(`lost the lock on Auto Scaling group ${asg.name} before changing it`);
    if (outcome.outcome === 'already-recorded') change = outcome.change;
  }
  const member = group.Instances?.find((i) => i.InstanceId === data.instanceId);
  if (member === undefined) {
    throw new InstanceGoneError(
      `instance ${data.instanceId} left Auto Scaling group ${asg.name} before Phoenix changed anything`,
    );
  }
  const at = deps.clock().toISOString();
  if (member.LifecycleState === 'InService') {
    await groupLaunching(data, () =>
      deps.autoScaling.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: asg.name,
          InstanceIds: [data.instanceId],
          ShouldDecrementDesiredCapacity: false,
        }),
      ),
    );
  }
  return { ...changeRecord(change), at };
}

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
    retired.released = await deps.store.releaseAll(release);
    retired.leaseReleased = data.lease !== undefined;
  } catch {
    // The lease step after this one releases it.
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
    group: asg.name,
    holder: ctx.executionId,
    instanceId: data.instanceId,
    ttlSeconds: groupLockTtlSeconds(timingsOf(data)),
  });
  if (!decision.acquired) throw new GroupBusyError(groupBusyReason(decision.heldBy));
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

// ---- standalone launch ------------------------------------------------------------------

function sourceOf(data: MachineData): string {
  return `launch template ${data.launchTemplate.id} version ${data.launchTemplate.version}`;
}

/**
 * Launches a standalone replacement from the pinned version, in the old instance's subnet,
 * with the declared tags. A retry returns the instance the first attempt created (ClientToken).
 * EC2's refusals are told apart by their code: LaunchRejectedError when retrying cannot fix
 * it (the version is then quarantined), InsufficientCapacityError when EC2 has no room now;
 * throttling is transient (docs/adr/0012-launch-errors-by-code.md).
 */
export async function launchReplacement(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<{ instanceId: string }> {
  const standalone = requirePart(data.plan?.standalone, 'a standalone plan', 'launchReplacement');
  const request = await runInstancesRequest(deps.ec2, {
    launchTemplate: { id: data.launchTemplate.id, version: data.launchTemplate.version },
    subnetId: standalone.subnetId,
    clientToken: standalone.clientToken,
    tagSpecifications: standalone.tagSpecifications,
    ...(standalone.networkInterfaces === true ? { networkInterfaces: true } : {}),
  });
  let launched: RunInstancesCommandOutput;
  try {
    launched = await deps.ec2.send(new RunInstancesCommand(request));
  } catch (error) {
    throw launchErrorOf(error, sourceOf(data), { direct: true }) ?? error;
  }
  const instanceId = launched.Instances?.[0]?.InstanceId;
  if (instanceId === undefined) {
    throw new ReplacementFailedError(
      `RunInstances from ${sourceOf(data)} returned no instance (execution ${executionNameOf(ctx.executionId)})`,
    );
  }
  return { instanceId };
}

// ---- health -----------------------------------------------------------------------------

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
  // Found and claimed is when the next execution may change the group: the lock goes with the claim.
  const replacementId =
    known ?? (group === undefined ? undefined : await identifyAsgReplacement(deps, data, ctx, group, true));

  // Not launched yet: on AWS a launch the group could not make shows as a failed activity.
  let shortage: InsufficientCapacityError | undefined;
  if (replacementId === undefined && group !== undefined) {
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
 * The instance the group launched for this execution: not a member when this execution
 * changed the group (under its lock), and claimed by us. With `releaseLock`, the claim also
 * gives the group lock back, in the same request.
 */
async function identifyAsgReplacement(
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
    const claimed = await deps.store.claimReplacement(
      candidate,
      ctx.executionId,
      timingsOf(data).leaseTtlSeconds,
      releaseLock ? { releaseGroupLock: asg.name } : {},
    );
    if (claimed) return candidate;
  }
  return undefined;
}

// ---- rollback ---------------------------------------------------------------------------

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
  const lock = await lockGroup(deps, data, ctx, asg.name);
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
    // The raise step returned (data.surge): it happened. Otherwise it happened if the
    // capacity reached the recorded target, which, under the lock, only this execution sets.
    if (data.surge !== undefined || (group.DesiredCapacity ?? 0) >= raisedTo) delta += 1;
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

// ---- notify -----------------------------------------------------------------------------

/** What every notify state returns; the terminal ones make it the execution's output. */
export interface NotifyResult {
  outcome: Outcome | 'in-progress';
  /** Short, stable: `replaced`, `paused`, `instance-gone`, `budget`, … */
  reason: string;
  /** A sentence for a human. */
  detail: string;
  instanceId: string;
  fleet: string;
  replacementId?: string;
  /** Whether the notification went out (publishing is best effort: it never changes the outcome). */
  notified: boolean;
  notifyError?: string;
  /** For failures: the Step Functions error and cause the execution fails with. */
  error?: string;
  cause?: string;
  /** For an end: seconds from the execution's start (the `RemediationDurationSeconds` metric). */
  durationSeconds?: number;
  /**
   * Set when this end may be retried ({@link endsRetryably}): the drift's attempt the next
   * detection starts, under a new execution name.
   */
  nextAttempt?: number;
}

/**
 * Skips after which the same drift may come back and must then be remediated: Phoenix's own
 * state at that moment (an operator paused it, switched the fleet out of enforce, excluded
 * the instance, moved it out of the fleet, quarantined the version), a source a human must
 * fix first (source drift), or a drift that ended on its own and can recur identically (a
 * tag fixed by hand and broken the same way again, a drift that changed and changed back, a
 * default template version rolled forward and back to the pinned one). Moving the attempt
 * never starts anything by itself: the evaluator checks the pause switch, the quarantine and
 * the source before it starts an execution. Only a vanished instance keeps its name: an
 * instance id never comes back (docs/adr/0010-execution-attempts.md).
 */
const RETRYABLE_SKIPS: ReadonlySet<string> = new Set<SkipReason>([
  'paused',
  'not-enforcing',
  'excluded',
  'not-in-fleet',
  'in-sync',
  'drift-changed',
  'template-changed',
  'quarantined',
  'source-drift',
  'in-flight-elsewhere',
]);

/**
 * Whether a remediation that ends with `event` lets the next detection of its drift start a
 * new execution. Step Functions refuses an ended execution's name for 90 days, so an end
 * that may be retried moves the drift to its next attempt (a new name); any other end keeps
 * refusing it. Retried: skips that say nothing about the drift, "blocked" (budget or a busy
 * group, nothing changed), failures before anything changed, and a rollback for a cause that
 * passes by itself (EC2 had no capacity). Never: a success, any other rollback (the version is
 * quarantined, or the cause must be understood first: Phoenix never replaces in a loop), a
 * failed rollback.
 */
export function endsRetryably(data: MachineData, event: NotificationEvent): boolean {
  switch (event) {
    case 'remediation.blocked':
    case 'manual-action-required':
      return true;
    case 'remediation.skipped':
      return RETRYABLE_SKIPS.has(skipOf(data).reason);
    case 'remediation.rolled-back':
      return data.rollback?.retryable === true;
    case 'remediation.failed':
      return (
        data.rollbackError === undefined &&
        data.rollback === undefined &&
        data.surge === undefined &&
        data.replacement === undefined
      );
    default:
      return false;
  }
}

/** A skip decided at the lease, by the error that ended it: another execution holds the instance's claim. */
const LEASE_SKIPS: Readonly<Record<string, SkipReason>> = {
  ReplacingElsewhereError: 'in-flight-elsewhere',
  AlreadyReplacedError: 'already-replaced',
};

/**
 * Why a remediation was skipped: the recheck's reason, or the lease's when another execution
 * turned out to hold the instance's claim. Neither of those is worth a notification: the
 * other execution reports the replacement.
 */
function skipOf(data: MachineData): { reason: string; detail: string; notify: boolean } {
  const atLease = LEASE_SKIPS[data.error?.Error ?? ''];
  if (atLease !== undefined) return { reason: atLease, detail: causeText(data.error), notify: false };
  return {
    reason: data.recheck?.reason ?? 'unknown',
    detail: data.recheck?.detail ?? 'no reason recorded',
    notify: data.recheck?.notify ?? true,
  };
}

/** How long a "manual action required" end holds its drift: detection starts nothing for it meanwhile. */
export const MANUAL_ACTION_HOLD_SECONDS = 24 * 3600;

/** The short reason of a "blocked" end, by the error that ended it (a denied lease otherwise). */
const BLOCKED_REASONS: Readonly<Record<string, string>> = {
  GroupBusyError: 'group-busy',
  GateClosedError: 'paused-or-quarantined',
};

const OUTCOME_OF: Readonly<Record<NotificationEvent, NotifyResult['outcome']>> = {
  'drift.detected': 'in-progress',
  'remediation.started': 'in-progress',
  'remediation.succeeded': 'succeeded',
  'remediation.failed': 'failed',
  'remediation.rolled-back': 'rolled-back',
  'remediation.blocked': 'blocked',
  'remediation.skipped': 'skipped',
  'manual-action-required': 'manual-action-required',
};

/**
 * Tells the fleet's team what happened and returns the outcome of the execution so far.
 * A failed publish is reported in the result, not thrown: a notification is never a reason
 * to stop (or to fail) a replacement that is otherwise right.
 */
export async function notify(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  event: NotificationEvent,
): Promise<NotifyResult> {
  const now = deps.clock();
  const { reason, detail, error, cause, publish } = describeOutcome(data, event);
  const replacementId =
    data.rollback?.replacementId ?? data.health?.replacementId ?? data.replacement?.instanceId;
  const result: NotifyResult = {
    outcome: OUTCOME_OF[event],
    reason,
    detail,
    instanceId: data.instanceId,
    fleet: data.fleet,
    notified: false,
  };
  if (replacementId !== undefined) result.replacementId = replacementId;
  if (error !== undefined) result.error = error;
  if (cause !== undefined) result.cause = cause;
  const timings = timingsFor(data, ctx, now, event);
  if (timings.durationSeconds !== undefined) result.durationSeconds = timings.durationSeconds;
  // Before publishing: if this throws, the step is retried and nothing was sent twice.
  if (endsRetryably(data, event)) {
    // A human must act first: the next detections start nothing for a day (and do not repeat
    // this notification); after that, or once fixed, the drift is remediated under a new name.
    const hold =
      event === 'manual-action-required'
        ? { until: new Date(now.getTime() + MANUAL_ACTION_HOLD_SECONDS * 1000), why: detail }
        : undefined;
    result.nextAttempt = await deps.store.nextAttempt(
      data.instanceId,
      data.fingerprint,
      data.attempt ?? 0,
      ATTEMPT_TTL_SECONDS,
      hold,
    );
  }
  if (!publish) return result;

  const fleet = fleetNamed(deps, data.fleet);
  const input: NotificationInput = {
    event,
    fleet: data.fleet,
    team: fleet?.team ?? 'default',
    instanceId: data.instanceId,
    reasons: data.reasons.map((r) => ({
      ...r,
      kind: r.kind as NotificationInput['reasons'][number]['kind'],
    })),
    desiredState: data.desiredState,
    execution: {
      name: executionNameOf(ctx.executionId),
      arn: ctx.executionId,
      consoleUrl: executionConsoleUrl(deps.consoleRegion ?? regionOf(ctx.executionId), ctx.executionId),
    },
    timings,
    message: detail,
  };
  if (replacementId !== undefined) input.replacementId = replacementId;
  if (data.principal !== undefined) input.principal = data.principal;
  try {
    await deps.notifier.publish(buildNotification(input));
    result.notified = true;
  } catch (publishError) {
    result.notifyError =
      publishError instanceof Error ? `${publishError.name}: ${publishError.message}` : String(publishError);
  }
  return result;
}

function regionOf(arn: string): string {
  return arn.split(':')[3] || 'us-east-1';
}

function timingsFor(data: MachineData, ctx: StepContext, now: Date, event: NotificationEvent) {
  const timings: { detectedAt?: string; startedAt?: string; finishedAt?: string; durationSeconds?: number } =
    {
      detectedAt: data.detectedAt,
    };
  if (ctx.startedAt !== undefined) timings.startedAt = ctx.startedAt;
  if (OUTCOME_OF[event] !== 'in-progress') {
    timings.finishedAt = now.toISOString();
    if (ctx.startedAt !== undefined) {
      const started = Date.parse(ctx.startedAt);
      if (Number.isFinite(started))
        timings.durationSeconds = Math.max(0, Math.round((now.getTime() - started) / 1000));
    }
  }
  return timings;
}

function describeOutcome(
  data: MachineData,
  event: NotificationEvent,
): { reason: string; detail: string; publish: boolean; error?: string; cause?: string } {
  switch (event) {
    case 'remediation.started':
      return {
        reason: 'started',
        detail:
          `Replacing ${data.instanceId} of fleet ${data.fleet} (${reasonsSummary(data)}): ${data.plan?.detail ?? ''}`.trim(),
        publish: true,
      };
    case 'remediation.succeeded': {
      const replacement = data.health?.replacementId ?? data.replacement?.instanceId ?? 'its replacement';
      const from = `Replaced ${data.instanceId} with ${replacement} from launch template ${data.launchTemplate.id} version ${data.launchTemplate.version}`;
      const old =
        data.retired?.detail ??
        (data.plan?.asg !== undefined
          ? `the old instance went back to Auto Scaling group ${data.plan.asg.name}, which drains and terminates it.`
          : 'the old instance was drained and terminated.');
      return { reason: 'replaced', detail: `${from}; ${old}`, publish: true };
    }
    case 'remediation.skipped': {
      const skip = skipOf(data);
      return {
        reason: skip.reason,
        detail: `Not replacing ${data.instanceId}: ${skip.detail}.`,
        publish: skip.notify,
      };
    }
    case 'remediation.blocked':
      return {
        reason: BLOCKED_REASONS[data.error?.Error ?? ''] ?? 'budget',
        detail:
          data.error?.Error === 'GateClosedError'
            ? `Not replacing ${data.instanceId} after all: ${causeText(data.error)}. Nothing was changed; the next detection of this drift tries again once that is lifted.`
            : `Could not start replacing ${data.instanceId} within the retry bound: ${causeText(data.error)}. The next detection of this drift tries again.`,
        publish: true,
      };
    case 'manual-action-required':
      return {
        reason: 'manual-action-required',
        detail: `${data.instanceId} is drifted (${reasonsSummary(data)}) but Phoenix cannot replace it: ${data.plan?.detail ?? 'no plan'}.`,
        publish: true,
      };
    case 'remediation.rolled-back': {
      const error = data.rollback?.error ?? data.error?.Error ?? 'Unknown';
      const cause = data.rollback?.cause ?? causeText(data.error);
      return {
        reason: 'rolled-back',
        detail: `Replacing ${data.instanceId} failed and was rolled back. ${cause}`,
        publish: true,
        error,
        cause,
      };
    }
    case 'remediation.failed': {
      const rollbackFailed = data.rollbackError !== undefined;
      const error = rollbackFailed ? 'RollbackFailedError' : (data.error?.Error ?? 'Unknown');
      const cause = rollbackFailed
        ? `${data.error?.Error ?? 'Unknown'}: ${causeText(data.error)} — and the rollback failed (${data.rollbackError?.Error}: ${causeText(data.rollbackError)}); the lease is kept until it expires: check the fleet by hand`
        : `${error}: ${causeText(data.error)}`;
      return {
        reason: rollbackFailed ? 'rollback-failed' : 'failed',
        detail: `Replacing ${data.instanceId} failed. ${cause}`,
        publish: true,
        error,
        cause,
      };
    }
    case 'drift.detected':
      return {
        reason: 'drifted',
        detail: `${data.instanceId} is drifted: ${reasonsSummary(data)}.`,
        publish: true,
      };
  }
}

// ---- dispatch ---------------------------------------------------------------------------

export const STEP_NAMES = [
  'recheck',
  'plan',
  'acquireLease',
  'raiseDesiredCapacity',
  'standbyOldFirst',
  'launchReplacement',
  'retireOld',
  'checkHealthy',
  'rollback',
  'releaseLease',
  'notify',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** What the state machine passes to the steps Lambda. */
export const StepEventSchema = z.object({
  step: z.enum(STEP_NAMES),
  executionId: z.string().check(z.minLength(1, 'is empty')),
  startedAt: z.optional(z.string()),
  event: z.optional(z.enum(NOTIFICATION_EVENTS)),
  data: z.unknown(),
});
export type StepEvent = z.infer<typeof StepEventSchema>;

/**
 * Runs one step for the state machine. Errors Phoenix throws keep their names (the ASL's
 * `Retry`/`Catch` match them); throttling and 5xx from AWS become {@link TransientAwsError}.
 */
export async function runStep(deps: StepDeps, rawEvent: unknown): Promise<unknown> {
  const parsedEvent = validate(StepEventSchema, rawEvent);
  if (!parsedEvent.ok) throw new StepInputError(`not a step event: ${parsedEvent.problem}`);
  const event = parsedEvent.value;
  const parsedData = validate(MachineDataSchema, event.data);
  if (!parsedData.ok) {
    throw new StepInputError(`step ${event.step}: the execution state is not usable: ${parsedData.problem}`);
  }
  const data = parsedData.value;
  const ctx: StepContext = { executionId: event.executionId };
  if (event.startedAt !== undefined) ctx.startedAt = event.startedAt;
  try {
    switch (event.step) {
      case 'recheck':
        return await recheck(deps, data, ctx);
      case 'plan':
        return await plan(deps, data, ctx);
      case 'acquireLease':
        return await acquireLease(deps, data, ctx);
      case 'raiseDesiredCapacity':
        return await raiseDesiredCapacity(deps, data, ctx);
      case 'standbyOldFirst':
        return await standbyOldFirst(deps, data, ctx);
      case 'launchReplacement':
        return await launchReplacement(deps, data, ctx);
      case 'retireOld':
        return await retireOld(deps, data, ctx);
      case 'checkHealthy':
        return await checkHealthy(deps, data, ctx);
      case 'rollback':
        return await rollback(deps, data, ctx);
      case 'releaseLease':
        return await releaseLease(deps, data, ctx);
      case 'notify':
        return await notify(deps, data, ctx, requirePart(event.event, 'an `event`', 'notify'));
    }
  } catch (error) {
    if (error instanceof PhoenixError || !(error instanceof Error)) throw error;
    if (isTransient(error)) {
      throw new TransientAwsError(`step ${event.step}: ${error.name}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
