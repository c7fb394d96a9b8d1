/**
 * A small, fake AWS world for the evaluator's unit tests: EC2 answers DescribeInstances
 * from a list of instances (with the filters Phoenix uses), launch templates resolve from a
 * table, Config and Step Functions record what they are sent, the state store and the
 * notifier are in-memory fakes. Every SDK client is an `aws-sdk-client-mock` over one
 * client instance, so nothing leaks into tests that use real clients.
 */
import { readFileSync } from 'node:fs';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { ConfigServiceClient, PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  DescribeLaunchTemplateVersionsCommand,
  type DescribeLaunchTemplateVersionsCommandInput,
  EC2Client,
  type Instance,
  type LaunchTemplateVersion,
} from '@aws-sdk/client-ec2';
import { SFNClient, StartExecutionCommand, type StartExecutionCommandInput } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { DriftAttempt, Quarantine } from '../../functions/aws/state-store';
import type { CompiledDesiredState, InstanceFacts, LaunchTemplateFacts } from '../../functions/domain/model';
import type { PhoenixNotification } from '../../functions/domain/notification';
import type {
  DetectionDeps,
  DetectionLogger,
  DetectionMetrics,
  DetectionStore,
} from '../../functions/evaluate-drift/core';
import { desiredState as buildDesiredState, NOW, templateFacts } from '../helpers/builders';

export const STATE_MACHINE_ARN =
  'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance';

/** A fixture from test/fixtures/events, parsed fresh each time (tests may change it). */
export function fixture(name: string): Record<string, unknown> {
  const url = new URL(`../fixtures/events/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

/** A Config fixture with its invokingEvent (a JSON string) changed by `edit`. */
export function configFixture(
  name: string,
  edit: (invoking: Record<string, unknown>) => void = () => {},
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  const event = fixture(name);
  const invoking = JSON.parse(String(event.invokingEvent)) as Record<string, unknown>;
  edit(invoking);
  return { ...event, invokingEvent: JSON.stringify(invoking), ...top };
}

/** The EC2 API's view of instance facts. */
export function ec2Instance(facts: InstanceFacts): Instance {
  const instance: Instance = {
    InstanceId: facts.instanceId,
    State: { Name: facts.state as NonNullable<Instance['State']>['Name'] },
    SecurityGroups: facts.securityGroupIds.map((GroupId) => ({ GroupId, GroupName: GroupId })),
    Tags: Object.entries(facts.tags).map(([Key, Value]) => ({ Key, Value })),
  };
  if (facts.imageId !== undefined) instance.ImageId = facts.imageId;
  if (facts.instanceType !== undefined)
    instance.InstanceType = facts.instanceType as Instance['InstanceType'];
  if (facts.subnetId !== undefined) instance.SubnetId = facts.subnetId;
  if (facts.vpcId !== undefined) instance.VpcId = facts.vpcId;
  if (facts.availabilityZone !== undefined) instance.Placement = { AvailabilityZone: facts.availabilityZone };
  if (facts.launchTime !== undefined) instance.LaunchTime = new Date(facts.launchTime);
  return instance;
}

function matches(facts: InstanceFacts, input: DescribeInstancesCommandInput): boolean {
  if (input.InstanceIds !== undefined && !input.InstanceIds.includes(facts.instanceId)) return false;
  return (input.Filters ?? []).every(({ Name, Values = [] }) => {
    if (Name === 'instance-id') return Values.includes(facts.instanceId);
    if (Name === 'instance-state-name') return Values.includes(facts.state);
    if (Name?.startsWith('tag:')) {
      const value = facts.tags[Name.slice(4)];
      return value !== undefined && Values.includes(value);
    }
    throw new Error(`fake EC2: filter ${Name} is not supported`);
  });
}

function templateVersion(t: LaunchTemplateFacts, isDefault: boolean): LaunchTemplateVersion {
  return {
    LaunchTemplateId: t.id,
    LaunchTemplateName: t.name,
    VersionNumber: t.version,
    DefaultVersion: isDefault,
    LaunchTemplateData: {
      ImageId: t.imageId,
      InstanceType: t.instanceType as NonNullable<
        LaunchTemplateVersion['LaunchTemplateData']
      >['InstanceType'],
      SecurityGroupIds: [...t.securityGroupIds],
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: Object.entries(t.instanceTags).map(([Key, Value]) => ({ Key, Value })),
        },
      ],
    },
  };
}

/** An in-memory state store: claims, pause switch, quarantines. */
export class FakeStore implements DetectionStore {
  readonly claims = new Set<string>();
  readonly released: string[] = [];
  paused = false;
  /** Who paused, and when, as the switch records it. */
  pausedBy: { by: string; at: string } = { by: 'oncall-alice', at: '2025-06-15T11:00:00.000Z' };
  readonly quarantines: Quarantine[] = [];
  /** Attempt generations by `<instance>#<fingerprint>` (absent: 0). */
  readonly attempts = new Map<string, number>();
  /** Holds a last execution put on a drift ("manual action required"), by `instance#fingerprint`. */
  readonly holds = new Map<string, { until: string; why: string }>();

  async pauseState(): Promise<{ paused: boolean; by?: string; at?: string }> {
    return this.paused ? { paused: true, ...this.pausedBy } : { paused: false };
  }

  async claimNotification(key: string, _ttlSeconds: number): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  async releaseNotification(key: string): Promise<void> {
    this.claims.delete(key);
    this.released.push(key);
  }

  async driftAttempt(instanceId: string, fingerprint: string): Promise<DriftAttempt> {
    const drift: DriftAttempt = { attempt: this.attempts.get(`${instanceId}#${fingerprint}`) ?? 0 };
    const held = this.holds.get(`${instanceId}#${fingerprint}`);
    if (held !== undefined) drift.held = held;
    return drift;
  }

  async getQuarantine(fleet: string, templateId: string, version: number): Promise<Quarantine | undefined> {
    return this.quarantines.find(
      (q) => q.fleet === fleet && q.templateId === templateId && q.version === version,
    );
  }
}

export class RecordingNotifier {
  readonly sent: PhoenixNotification[] = [];
  failNext: Error | undefined;

  async publish(n: PhoenixNotification): Promise<void> {
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.sent.push(n);
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra: Record<string, unknown>[];
}

export class RecordingLogger implements DetectionLogger {
  readonly lines: LogLine[] = [];
  debug(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'error', message, extra });
  }
}

export class RecordingMetrics implements DetectionMetrics {
  readonly counts = new Map<string, number>();
  /** Every data point, as emitted. */
  readonly points: [string, number][] = [];
  addMetric(name: string, _unit: 'Count', value: number) {
    this.points.push([name, value]);
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  count(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}

export interface World {
  instances: InstanceFacts[];
  /** Templates by name; `$Default` and `$Latest` both resolve to the one given. */
  templates: LaunchTemplateFacts[];
  /** Propagated tags per Auto Scaling group. */
  groups: Record<string, Record<string, string>>;
  /**
   * What each group launches from; a group not listed launches the first template's
   * `$Default` (the fleets' own), `null` is a launch configuration.
   */
  groupLaunchTemplates?: Record<string, { id: string; version: string } | null>;
  /**
   * Each group's sizes; a group not listed has its members' count as desired capacity, min 0
   * and room for ten more. Its members are the instances tagged with its name.
   */
  groupSizes?: Record<string, { min: number; max: number; desired: number }>;
  /** Lifecycle states of group members by instance id; unlisted members are InService. */
  lifecycles?: Record<string, string>;
}

function groupMembers(world: World, name: string) {
  const members = world.instances.filter(
    (i) => (i.autoScalingGroup ?? i.tags['aws:autoscaling:groupName']) === name,
  );
  const sizes = world.groupSizes?.[name] ?? { min: 0, max: members.length + 10, desired: members.length };
  return {
    MinSize: sizes.min,
    MaxSize: sizes.max,
    DesiredCapacity: sizes.desired,
    Instances: members.map((i) => ({
      InstanceId: i.instanceId,
      LifecycleState: world.lifecycles?.[i.instanceId] ?? 'InService',
      HealthStatus: 'Healthy',
    })),
  };
}

function launchTemplateOfGroup(world: World, name: string) {
  const declared = world.groupLaunchTemplates?.[name];
  if (declared === null) return { LaunchConfigurationName: `${name}-lc` };
  const spec = declared ?? { id: world.templates[0]?.id ?? 'lt-missing', version: '$Default' };
  return { LaunchTemplate: { LaunchTemplateId: spec.id, Version: spec.version } };
}

/** Builds deps over a fake world; tests change `world`, `store`, … and call the core. */
export function harness(options: { desiredState?: CompiledDesiredState; world?: Partial<World> } = {}) {
  const world: World = {
    instances: [],
    templates: [templateFacts()],
    groups: { 'web-prod': { Owner: 'team-web', Environment: 'prod' } },
    ...options.world,
  };
  const ec2Client = new EC2Client({ region: 'us-east-1' });
  const autoScalingClient = new AutoScalingClient({ region: 'us-east-1' });
  const configClient = new ConfigServiceClient({ region: 'us-east-1' });
  const sfnClient = new SFNClient({ region: 'us-east-1' });
  const ec2 = mockClient(ec2Client);
  const autoScaling = mockClient(autoScalingClient);
  const config = mockClient(configClient);
  const sfn = mockClient(sfnClient);

  ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => {
    const found = world.instances.filter((i) => matches(i, input)).map(ec2Instance);
    return { Reservations: found.length > 0 ? [{ Instances: found }] : [] };
  });
  ec2
    .on(DescribeLaunchTemplateVersionsCommand)
    .callsFake((input: DescribeLaunchTemplateVersionsCommandInput) => {
      const named = world.templates.filter(
        (t) => t.id === input.LaunchTemplateId || t.name === input.LaunchTemplateName,
      );
      // A numbered version asks for that one; $Default and $Latest get the first listed.
      const asked = Number(input.Versions?.[0]);
      const template =
        (Number.isInteger(asked) ? named.find((t) => t.version === asked) : undefined) ?? named[0];
      if (template === undefined) {
        throw Object.assign(new Error('The specified launch template does not exist.'), {
          name: 'InvalidLaunchTemplateName.NotFoundException',
        });
      }
      return { LaunchTemplateVersions: [templateVersion(template, true)] };
    });
  autoScaling
    .on(DescribeAutoScalingGroupsCommand)
    .callsFake((input: { AutoScalingGroupNames?: string[] }) => ({
      AutoScalingGroups: (input.AutoScalingGroupNames ?? [])
        .filter((name) => world.groups[name] !== undefined)
        .map((name) => ({
          AutoScalingGroupName: name,
          ...launchTemplateOfGroup(world, name),
          ...groupMembers(world, name),
          Tags: Object.entries(world.groups[name] ?? {}).map(([Key, Value]) => ({
            Key,
            Value,
            PropagateAtLaunch: true,
            ResourceId: name,
            ResourceType: 'auto-scaling-group',
          })),
        })),
    }));
  config.on(PutEvaluationsCommand).resolves({ FailedEvaluations: [] });
  const startedNames = new Set<string>();
  sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
    const name = input.name ?? '';
    if (startedNames.has(name)) {
      throw Object.assign(new Error(`Execution Already Exists: '${name}'`), {
        name: 'ExecutionAlreadyExists',
      });
    }
    startedNames.add(name);
    return {
      executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
      startDate: NOW,
    };
  });

  const store = new FakeStore();
  const notifier = new RecordingNotifier();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const sleeps: number[] = [];
  const deps: DetectionDeps = {
    ec2: ec2Client,
    autoScaling: autoScalingClient,
    config: configClient,
    sfn: sfnClient,
    store,
    notifier,
    desiredState: options.desiredState ?? buildDesiredState(),
    stateMachineArn: STATE_MACHINE_ARN,
    clock: () => NOW,
    logger,
    metrics,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  };

  return {
    world,
    deps,
    mocks: { ec2, autoScaling, config, sfn },
    store,
    notifier,
    logger,
    metrics,
    sleeps,
    /** Every evaluation sent, in order. */
    evaluations: () =>
      config.commandCalls(PutEvaluationsCommand).flatMap((c) => c.args[0].input.Evaluations ?? []),
    /** Every StartExecution input, parsed. */
    starts: () =>
      sfn.commandCalls(StartExecutionCommand).map((c) => ({
        name: c.args[0].input.name,
        input: JSON.parse(c.args[0].input.input ?? '{}') as Record<string, unknown>,
      })),
  };
}
