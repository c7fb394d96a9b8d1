/**
 * What every step shares: the dependencies it is given ({@link StepDeps}), the execution it
 * runs in ({@link StepContext}), and the readings and wording more than one step needs. No
 * step is imported here, so every step file may import this one without a cycle.
 */
import type { AutoScalingClient, AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import * as z from 'zod/mini';
import { describeAutoScalingGroup, describeInstances } from '../../aws/inventory';
import type { NotificationPublisher } from '../../aws/notifier';
import type { RemediationStore } from '../../aws/remediation-store';
import type { RolloutStore } from '../../aws/rollout-store';
import type { TaskCallbacks } from '../../aws/task-callbacks';
import { autoScalingGroupOf } from '../../domain/drift/match';
import type { CompiledDesiredState, CompiledFleet, InstanceFacts } from '../../domain/model';
import { InstanceGoneError, StepInputError } from '../errors';
import { type CaughtError, type MachineData, type Snapshot, type Timings, TimingsSchema } from '../input';

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
    | 'releaseAllSeeingQueue'
    | 'claimReplacement'
    | 'claimReplacementSeeingQueue'
    | 'acquireGroupLock'
    | 'forgetRetirer'
    | 'getGroupLock'
    | 'recordGroupChange'
    | 'markGroupRaised'
    | 'launchTokens'
    | 'spendLaunchTokens'
    | 'releaseGroupLock'
    | 'settleInstanceClaim'
    | 'nextAttempt'
    | 'listLeases'
    | 'parkWaiter'
    | 'queueZones'
    | 'queueState'
    | 'takeGranter'
    | 'askGranterAgain'
    | 'leaveGranter'
    | 'zoneHeads'
    | 'listWaiters'
    | 'answerWaiter'
    | 'markWaiterSent'
    | 'removeWaiter'
    | 'touchWaiter'
  >;
  /**
   * Answers the fleet queue's task tokens (Step Functions deployed, the local runner's own
   * locally). Absent where nothing waits on a token (then the lease step is one try).
   */
  callbacks?: TaskCallbacks;
  notifier: NotificationPublisher;
  /**
   * Fleets with rollout stages or alarms (issue 15) only: the alarms read, the rollout items
   * written. Absent where no fleet has any (a step that needs them then fails loudly).
   */
  cloudwatch?: Pick<CloudWatchClient, 'send'>;
  rollouts?: Pick<RolloutStore, 'get' | 'list' | 'create' | 'recordStep' | 'count' | 'settle'>;
  /** Structured log lines (`rollout.stage`): the Lambda's logger; tests record them. */
  logger?: { info(message: string, extra: Record<string, unknown>): void };
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
  /** The task token of a callback task (`$$.Task.Token`): the lease step's place in the queue. */
  taskToken?: string;
}

/** One step of the state machine: what it reads from the state, what it returns to it. */
export type Step<T> = (deps: StepDeps, data: MachineData, ctx: StepContext) => Promise<T>;

/** Instance states that say the instance is leaving or left. */
export const GONE_STATES: ReadonlySet<string> = new Set(['shutting-down', 'terminated']);

export function fleetNamed(deps: StepDeps, name: string): CompiledFleet | undefined {
  return deps.desiredState.fleets.find((fleet) => fleet.name === name);
}

/** The fleet the execution names, or StepInputError: the desired state it was pinned to has none. */
export function requireFleet(deps: StepDeps, name: string): CompiledFleet {
  const fleet = fleetNamed(deps, name);
  if (fleet === undefined) {
    throw new StepInputError(
      `fleet ${name} is not declared in desired-state revision ${deps.desiredState.revision}`,
    );
  }
  return fleet;
}

/** A part of the state an earlier step adds, or StepInputError naming the step that needs it. */
export function requirePart<T>(value: T | undefined, what: string, step: string): T {
  if (value === undefined)
    throw new StepInputError(`step ${step} needs ${what}, which earlier states did not provide`);
  return value;
}

/** The execution's timings: the recheck's, or the input's with defaults. */
export function timingsOf(data: MachineData): Timings {
  return data.recheck?.timings ?? z.parse(TimingsSchema, data.timings ?? {});
}

/** The instance as EC2 describes it now; undefined when EC2 knows no such instance. */
export async function instanceNow(deps: StepDeps, instanceId: string): Promise<InstanceFacts | undefined> {
  const [facts] = await describeInstances(deps.ec2, [instanceId]);
  return facts;
}

/** The group as it is now, or InstanceGoneError when it no longer exists. */
export async function describeGroup(deps: StepDeps, name: string): Promise<AutoScalingGroup> {
  const group = await describeAutoScalingGroup(deps.autoScaling, name);
  if (group === undefined) throw new InstanceGoneError(`Auto Scaling group ${name} no longer exists`);
  return group;
}

export function groupInstanceIds(group: AutoScalingGroup): string[] {
  return (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
}

/** The group as the plan and the lease need it (see {@link Snapshot}). */
export function groupView(group: AutoScalingGroup): NonNullable<Snapshot['group']> {
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

/** Where the instance is, as the plan needs it (see {@link Snapshot}). */
export function placementOf(instance: InstanceFacts): Snapshot['instance'] {
  const placement: Snapshot['instance'] = { launchedFromTemplate: instance.launchTemplate !== undefined };
  if (instance.vpcId !== undefined) placement.vpcId = instance.vpcId;
  if (instance.subnetId !== undefined) placement.subnetId = instance.subnetId;
  const group = autoScalingGroupOf(instance);
  if (group !== undefined) placement.autoScalingGroup = group;
  if (instance.availabilityZone !== undefined) placement.availabilityZone = instance.availabilityZone;
  if (instance.launchTime !== undefined) placement.launchTime = instance.launchTime;
  return placement;
}

/** The execution's name: the last part of its ARN. */
export function executionNameOf(executionId: string): string {
  return executionId.split(':').at(-1) ?? executionId;
}

/** The pinned version, as the launch errors name it. */
export function sourceOf(data: MachineData): string {
  return `launch template ${data.launchTemplate.id} version ${data.launchTemplate.version}`;
}

/** The drift's kinds and fields, once each. */
export function reasonsSummary(data: MachineData): string {
  const kinds = [...new Set(data.reasons.map((r) => `${r.kind} ${r.field}`))];
  return kinds.length === 0 ? 'no reasons recorded' : kinds.join(', ');
}

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
