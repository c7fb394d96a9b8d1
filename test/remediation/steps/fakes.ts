/**
 * Fake dependencies for the step specs: a small in-memory account (EC2 instances, Auto Scaling
 * groups, target groups) whose clients answer by command class, a scripted store, and the deps
 * a step is given. No emulator: these specs reach the branches the emulator cannot set up on
 * cue (a human's hand between two calls, a lock re-entered, a replacement that died and its
 * successor).
 *
 * Nothing answers by default. A command no answer is registered for, or a store method the
 * test did not script, throws {@link UnexpectedCallError} AND fails the test after it ends,
 * even when the step under test swallowed the error.
 */
import {
  type Activity,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type Filter,
  type Instance,
  type LaunchTemplateVersion,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { GetOutputType } from '@smithy/types';
import { afterEach } from 'vitest';
import type { RecordOutcome } from '../../../functions/aws/remediation-store';
import { type GroupChange, type GroupLock, lockMembers } from '../../../functions/aws/state-store';
import type { CompiledDesiredState, Tags } from '../../../functions/domain/model';
import type { PhoenixNotification } from '../../../functions/domain/notification';
import type { StepContext, StepDeps } from '../../../functions/remediation/steps';
import { compileYaml } from '../../helpers/account';

// ---- unexpected calls fail the test ------------------------------------------------------

/** A call no fake was told to answer. */
export class UnexpectedCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnexpectedCallError';
  }
}

const unexpected: string[] = [];

function refuse(what: string): never {
  unexpected.push(what);
  throw new UnexpectedCallError(`unexpected call: ${what}`);
}

/** The unexpected calls so far, forgotten (for the spec that proves the fakes refuse them). */
export function takeUnexpectedCalls(): string[] {
  return unexpected.splice(0);
}

afterEach(() => {
  const seen = takeUnexpectedCalls();
  if (seen.length > 0) throw new Error(`the step made calls no fake answers:\n  ${seen.join('\n  ')}`);
});

// ---- clients answering by command class -------------------------------------------------

/** What `send` reads of a command: its class and its input. */
type AnyCommand = { readonly input: object };
type CommandClass = abstract new (...args: never[]) => AnyCommand;
type InputOf<C extends CommandClass> = InstanceType<C>['input'];
type ReplyOf<C extends CommandClass> = Omit<GetOutputType<InstanceType<C>>, '$metadata'>;
type Answer<C extends CommandClass> = (input: InputOf<C>) => ReplyOf<C> | Promise<ReplyOf<C>>;

/** One client's `send`, answering only the command classes it was given. */
export class FakeClient {
  readonly calls: Array<{ command: string; input: object }> = [];
  readonly #answers = new Map<CommandClass, (input: object) => unknown>();

  /** `journal`: where every call is also written as `Service.Command`, in the order of all clients sharing it. */
  constructor(
    readonly service: string,
    private readonly journal: string[] = [],
  ) {}

  /** Answers `command` with `answer` from now on (replacing an earlier answer). */
  on<C extends CommandClass>(command: C, answer: Answer<C>): this {
    this.#answers.set(command, answer as (input: object) => unknown);
    return this;
  }

  /** No answer to `command` any more: a call fails the test. */
  off(command: CommandClass): this {
    this.#answers.delete(command);
    return this;
  }

  readonly send = async (command: AnyCommand): Promise<unknown> => {
    const name = command.constructor.name;
    const answer = this.#answers.get(command.constructor as CommandClass);
    if (answer === undefined) refuse(`${this.service}.${name} ${JSON.stringify(command.input)}`);
    this.calls.push({ command: name, input: command.input });
    this.journal.push(`${this.service}.${name.replace(/Command$/, '')}`);
    return { $metadata: {}, ...((await answer(command.input)) as object) };
  };

  /** The inputs of every call of `command`, in order. */
  inputsOf<C extends CommandClass>(command: C): Array<InputOf<C>> {
    return this.calls.filter((c) => c.command === command.name).map((c) => c.input as InputOf<C>);
  }

  /** Names of the commands called, in order. */
  commands(): string[] {
    return this.calls.map((c) => c.command.replace(/Command$/, ''));
  }
}

/** An AWS service error as the SDK throws it: named by its code. */
export function awsError(code: string, message = code, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(message), {
    name: code,
    $fault: fault,
    $metadata: { httpStatusCode: fault === 'server' ? 500 : 400 },
  });
}

// ---- a small account --------------------------------------------------------------------

export const VPC = 'vpc-0aaaaaaaaaaaaaaaa';
export const SUBNET = 'subnet-0aaaaaaaaaaaaaaaa';

export interface FakeInstance {
  id: string;
  state: string;
  tags: Tags;
  imageId?: string;
  instanceType?: string;
  subnetId?: string;
  vpcId?: string;
  availabilityZone?: string;
  /** ISO-8601. */
  launchTime?: string;
  /** Status checks (both): ok once the instance has booted. */
  checks?: 'ok' | 'initializing' | 'impaired';
}

export interface FakeGroup {
  name: string;
  desired: number;
  min: number;
  max: number;
  members: Array<{ id: string; lifecycle: string; health?: string }>;
  targetGroupArns: string[];
  /** The group's launch template; absent: a launch configuration. */
  launchTemplate?: { id: string; version: string };
  propagatedTags?: Tags;
}

export interface FakeTargetGroup {
  arn: string;
  vpcId: string;
  deregistrationDelay: number;
  targets: Array<{ id: string; port: number; state: string }>;
}

/**
 * EC2, Auto Scaling and ELBv2 as far as the steps use them, in memory. Changes behave as on
 * AWS where a step depends on it (a decrement below MinSize and a desired capacity outside
 * the group's bounds are refused, leaving Standby adds one), and never launch anything: a
 * test adds the instance a group launched when it wants one.
 */
export class FakeAccount {
  readonly instances = new Map<string, FakeInstance>();
  readonly groups = new Map<string, FakeGroup>();
  readonly targetGroups = new Map<string, FakeTargetGroup>();
  readonly templates: LaunchTemplateVersion[] = [];
  /** The groups' scaling activities, newest first. */
  activities: Activity[] = [];
  /** The state a target registered now starts in. */
  registeredState = 'initial';

  /** Every call of the three clients, as `Service.Command`, in order. */
  readonly journal: string[] = [];
  readonly ec2 = new FakeClient('EC2', this.journal);
  readonly autoScaling = new FakeClient('AutoScaling', this.journal);
  readonly elbv2 = new FakeClient('ELBv2', this.journal);

  constructor() {
    this.ec2
      .on(DescribeInstancesCommand, ({ Filters }) => ({
        Reservations: [
          { Instances: [...this.instances.values()].filter((i) => matches(i, Filters)).map(sdkInstance) },
        ],
      }))
      .on(DescribeInstanceStatusCommand, ({ InstanceIds }) => ({
        InstanceStatuses: (InstanceIds ?? []).map((id) => {
          const instance = this.instances.get(id);
          if (instance === undefined) throw awsError('InvalidInstanceID.NotFound', `no instance ${id}`);
          const checks = instance.checks ?? 'ok';
          return {
            InstanceId: id,
            InstanceState: { Name: instance.state as 'running' },
            InstanceStatus: { Status: checks },
            SystemStatus: { Status: checks },
          };
        }),
      }))
      .on(DescribeLaunchTemplateVersionsCommand, (input) => ({
        LaunchTemplateVersions: this.templates.filter((t) => templateMatches(t, input)).slice(0, 1),
      }))
      .on(TerminateInstancesCommand, ({ InstanceIds }) => {
        for (const id of InstanceIds ?? []) this.setState(id, 'shutting-down');
        return {};
      });

    this.autoScaling
      .on(DescribeAutoScalingGroupsCommand, ({ AutoScalingGroupNames }) => ({
        AutoScalingGroups: (AutoScalingGroupNames ?? []).flatMap((name) => {
          const group = this.groups.get(name);
          return group === undefined ? [] : [sdkGroup(group)];
        }),
      }))
      .on(SetDesiredCapacityCommand, ({ AutoScalingGroupName, DesiredCapacity }) => {
        const group = this.group(AutoScalingGroupName ?? '');
        const desired = DesiredCapacity ?? -1;
        if (desired > group.max || desired < group.min)
          throw awsError(
            'ValidationError',
            `New SetDesiredCapacity value ${desired} is outside ${group.min}..${group.max}`,
          );
        group.desired = desired;
        return {};
      })
      .on(TerminateInstanceInAutoScalingGroupCommand, ({ InstanceId, ShouldDecrementDesiredCapacity }) => {
        const [group, member] = this.membership(InstanceId ?? '');
        if (member.lifecycle.startsWith('Terminating'))
          throw awsError('ValidationError', `instance ${InstanceId} is already terminating`);
        if (ShouldDecrementDesiredCapacity === true && member.lifecycle !== 'Standby') {
          if (group.desired - 1 < group.min)
            throw awsError(
              'ValidationError',
              "terminating without replacement would violate the group's min size",
            );
          group.desired -= 1;
        }
        member.lifecycle = 'Terminating';
        this.setState(member.id, 'shutting-down');
        return {
          Activity: {
            ActivityId: 'a-1',
            AutoScalingGroupName: group.name,
            Cause: 'test',
            StartTime: new Date(),
            StatusCode: 'InProgress' as const,
          },
        };
      })
      .on(EnterStandbyCommand, ({ InstanceIds, ShouldDecrementDesiredCapacity }) => {
        for (const id of InstanceIds ?? []) {
          const [group, member] = this.membership(id);
          if (member.lifecycle !== 'InService') throw awsError('ValidationError', `${id} is not InService`);
          member.lifecycle = 'Standby';
          if (ShouldDecrementDesiredCapacity === true) group.desired -= 1;
        }
        return {};
      })
      .on(ExitStandbyCommand, ({ InstanceIds }) => {
        for (const id of InstanceIds ?? []) {
          const [group, member] = this.membership(id);
          if (member.lifecycle !== 'Standby') throw awsError('ValidationError', `${id} is not in Standby`);
          if (group.desired + 1 > group.max)
            throw awsError('ValidationError', `leaving Standby would exceed MaxSize ${group.max}`);
          member.lifecycle = 'InService';
          group.desired += 1;
        }
        return {};
      })
      .on(DescribeScalingActivitiesCommand, () => ({ Activities: this.activities }));

    this.elbv2
      .on(DescribeTargetGroupsCommand, () => ({
        TargetGroups: [...this.targetGroups.values()].map((tg) => ({
          TargetGroupArn: tg.arn,
          VpcId: tg.vpcId,
          TargetType: 'instance' as const,
        })),
      }))
      .on(DescribeTargetHealthCommand, ({ TargetGroupArn }) => ({
        TargetHealthDescriptions: this.targetGroup(TargetGroupArn ?? '').targets.map((t) => ({
          Target: { Id: t.id, Port: t.port },
          TargetHealth: { State: t.state as 'healthy' },
        })),
      }))
      .on(DescribeTargetGroupAttributesCommand, ({ TargetGroupArn }) => ({
        Attributes: [
          {
            Key: 'deregistration_delay.timeout_seconds',
            Value: String(this.targetGroup(TargetGroupArn ?? '').deregistrationDelay),
          },
        ],
      }))
      .on(RegisterTargetsCommand, ({ TargetGroupArn, Targets }) => {
        const tg = this.targetGroup(TargetGroupArn ?? '');
        for (const target of Targets ?? []) {
          tg.targets = tg.targets.filter((t) => !(t.id === target.Id && t.port === target.Port));
          tg.targets.push({ id: target.Id ?? '', port: target.Port ?? 80, state: this.registeredState });
        }
        return {};
      })
      .on(DeregisterTargetsCommand, ({ TargetGroupArn, Targets }) => {
        const tg = this.targetGroup(TargetGroupArn ?? '');
        const ids = new Set((Targets ?? []).map((t) => t.Id));
        tg.targets = tg.targets.filter((t) => !ids.has(t.id));
        return {};
      });
  }

  addInstance(instance: FakeInstance): FakeInstance {
    this.instances.set(instance.id, instance);
    return instance;
  }

  addGroup(group: FakeGroup): FakeGroup {
    this.groups.set(group.name, group);
    return group;
  }

  addTargetGroup(tg: FakeTargetGroup): FakeTargetGroup {
    this.targetGroups.set(tg.arn, tg);
    return tg;
  }

  addTemplate(template: { id: string; name: string; version: number; imageId: string; default?: boolean }) {
    this.templates.push({
      LaunchTemplateId: template.id,
      LaunchTemplateName: template.name,
      VersionNumber: template.version,
      DefaultVersion: template.default ?? true,
      LaunchTemplateData: { ImageId: template.imageId, InstanceType: 't3.micro' },
    });
  }

  group(name: string): FakeGroup {
    const group = this.groups.get(name);
    if (group === undefined) throw awsError('ValidationError', `no group ${name}`);
    return group;
  }

  member(group: string, id: string) {
    return this.group(group).members.find((m) => m.id === id);
  }

  state(id: string): string | undefined {
    return this.instances.get(id)?.state;
  }

  setState(id: string, state: string): void {
    const instance = this.instances.get(id);
    if (instance !== undefined) instance.state = state;
  }

  /** Every mutating call made, as `Service.Command`, in order. */
  changes(): string[] {
    const mutating = /\.(Set|Terminate|Enter|Exit|Register|Deregister|Run|Create|Delete|Detach|Attach)/;
    return this.journal.filter((call) => mutating.test(call));
  }

  private targetGroup(arn: string): FakeTargetGroup {
    const tg = this.targetGroups.get(arn);
    if (tg === undefined) throw awsError('TargetGroupNotFoundException', `no target group ${arn}`);
    return tg;
  }

  private membership(id: string): [FakeGroup, FakeGroup['members'][number]] {
    for (const group of this.groups.values()) {
      const member = group.members.find((m) => m.id === id);
      if (member !== undefined) return [group, member];
    }
    throw awsError(
      'ValidationError',
      `Instance Id not found - No managed instance found for instance ID ${id}`,
    );
  }
}

function matches(instance: FakeInstance, filters: Filter[] | undefined): boolean {
  return (filters ?? []).every(({ Name, Values }) => {
    const values = Values ?? [];
    if (Name === 'instance-id') return values.includes(instance.id);
    if (Name === 'instance-state-name') return values.includes(instance.state);
    if (Name?.startsWith('tag:') === true) {
      const value = instance.tags[Name.slice(4)];
      return value !== undefined && values.includes(value);
    }
    return refuse(`DescribeInstances filter ${Name}`);
  });
}

function sdkInstance(instance: FakeInstance): Instance {
  return {
    InstanceId: instance.id,
    State: { Name: instance.state as 'running' },
    Tags: Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
    ImageId: instance.imageId,
    InstanceType: instance.instanceType as 't3.micro',
    SubnetId: instance.subnetId,
    VpcId: instance.vpcId,
    SecurityGroups: [],
    ...(instance.availabilityZone === undefined
      ? {}
      : { Placement: { AvailabilityZone: instance.availabilityZone } }),
    ...(instance.launchTime === undefined ? {} : { LaunchTime: new Date(instance.launchTime) }),
  };
}

function templateMatches(
  template: LaunchTemplateVersion,
  input: { LaunchTemplateId?: string; LaunchTemplateName?: string; Versions?: string[] },
): boolean {
  const named =
    input.LaunchTemplateId !== undefined
      ? template.LaunchTemplateId === input.LaunchTemplateId
      : template.LaunchTemplateName === input.LaunchTemplateName;
  const version = input.Versions?.[0] ?? '$Default';
  const versioned =
    version === '$Default' ? template.DefaultVersion === true : String(template.VersionNumber) === version;
  return named && versioned;
}

function sdkGroup(group: FakeGroup): AutoScalingGroup {
  const sdk: AutoScalingGroup = {
    AutoScalingGroupName: group.name,
    DesiredCapacity: group.desired,
    MinSize: group.min,
    MaxSize: group.max,
    DefaultCooldown: 300,
    AvailabilityZones: ['us-east-1a'],
    HealthCheckType: 'EC2',
    CreatedTime: new Date('2025-01-01T00:00:00Z'),
    TargetGroupARNs: [...group.targetGroupArns],
    Instances: group.members.map((m) => ({
      InstanceId: m.id,
      LifecycleState: m.lifecycle as 'InService',
      HealthStatus: m.health ?? 'Healthy',
      AvailabilityZone: 'us-east-1a',
      ProtectedFromScaleIn: false,
    })),
    Tags: Object.entries(group.propagatedTags ?? {}).map(([Key, Value]) => ({
      Key,
      Value,
      PropagateAtLaunch: true,
      ResourceId: group.name,
      ResourceType: 'auto-scaling-group',
    })),
  };
  if (group.launchTemplate !== undefined)
    sdk.LaunchTemplate = { LaunchTemplateId: group.launchTemplate.id, Version: group.launchTemplate.version };
  else sdk.LaunchConfigurationName = 'web-lc';
  return sdk;
}

// ---- the store ------------------------------------------------------------------------

export type Store = StepDeps['store'];
type StoreMethod = keyof Store;

const STORE_METHODS: readonly StoreMethod[] = [
  'remediationGate',
  'acquireLease',
  'releaseLease',
  'releaseAll',
  'claimReplacement',
  'acquireGroupLock',
  'getGroupLock',
  'recordGroupChange',
  'markGroupRaised',
  'releaseGroupLock',
  'settleInstanceClaim',
  'nextAttempt',
  'listLeases',
];

/** A store answering the methods given, recording every call; any other method fails the test. */
export type FakeStore = Store & { readonly calls: Array<{ method: StoreMethod; args: unknown[] }> };

export function fakeStore(script: Partial<Store> = {}): FakeStore {
  const calls: FakeStore['calls'] = [];
  const store = { calls } as unknown as Record<string, unknown>;
  for (const method of STORE_METHODS) {
    const scripted = script[method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    store[method] = async (...args: unknown[]) => {
      if (scripted === undefined) refuse(`store.${method} ${JSON.stringify(args)}`);
      calls.push({ method, args });
      return scripted(...args);
    };
  }
  // The queue-seeing variants are the plain ones with nobody waiting (the queue is not faked here).
  store.releaseAllSeeingQueue = async (release: unknown) => ({
    released: await (store.releaseAll as (r: unknown) => Promise<number>)(release),
    waiters: false,
  });
  store.claimReplacementSeeingQueue = async (
    instanceId: string,
    holder: string,
    ttlSeconds: number,
    options: { releaseGroupLock?: string } = {},
  ) => ({
    claimed: await (store.claimReplacement as (...a: unknown[]) => Promise<boolean>)(
      instanceId,
      holder,
      ttlSeconds,
      options.releaseGroupLock === undefined ? {} : { releaseGroupLock: options.releaseGroupLock },
    ),
    waiters: false,
  });
  return store as unknown as FakeStore;
}

/**
 * One group's lock, in memory, as the state table keeps it: free, held by its members (who get
 * it back re-entered, with the change recorded), joined by a surge while it is a wave that has
 * not recorded its raise, or held by others.
 */
export function groupLockModel(initial?: GroupLock) {
  let lock: GroupLock | undefined = initial;
  const members = () => (lock === undefined ? [] : lockMembers(lock));
  const model: Pick<
    Store,
    'acquireGroupLock' | 'recordGroupChange' | 'getGroupLock' | 'releaseGroupLock' | 'markGroupRaised'
  > = {
    acquireGroupLock: async ({ group, holder, instanceId, purpose, wave }) => {
      if (lock === undefined) {
        lock = {
          group,
          holder,
          instanceId,
          acquiredAt: '2025-06-15T12:00:00.000Z',
          expiresAt: 1_750_000_000,
          members: [holder],
          ...(wave === true ? { wave: true } : {}),
          ...(purpose === 'retire' ? { retiring: [holder] } : {}),
        };
        return { acquired: true, lock, reentered: false };
      }
      if (members().includes(holder)) {
        const retried = purpose === 'surge' || lock.retiring?.includes(holder) === true;
        if (purpose === 'retire') lock = { ...lock, retiring: [...(lock.retiring ?? []), holder] };
        return { acquired: true, lock, reentered: retried };
      }
      if (wave === true && lock.wave === true && lock.change === undefined) {
        lock = { ...lock, members: [...members(), holder].sort() };
        return { acquired: true, lock, reentered: false };
      }
      return { acquired: false, heldBy: lock };
    },
    recordGroupChange: async (
      _group: string,
      holder: string,
      change: GroupChange,
    ): Promise<RecordOutcome> => {
      if (lock === undefined || !members().includes(holder)) return { outcome: 'not-held' };
      if (lock.change !== undefined) return { outcome: 'already-recorded', change: lock.change, lock };
      if (change.wave !== undefined && change.wave.members.join() !== [...members()].sort().join())
        return { outcome: 'members-changed', members: [...members()].sort() };
      lock = { ...lock, change };
      return { outcome: 'recorded' };
    },
    markGroupRaised: async () => {
      if (lock !== undefined) lock = { ...lock, raised: true };
    },
    getGroupLock: async () => lock,
    releaseGroupLock: async (_group: string, holder: string) => {
      if (lock === undefined || !members().includes(holder)) return false;
      const left = members().filter((m) => m !== holder);
      lock = left.length === 0 ? undefined : { ...lock, members: left };
      return true;
    },
  };
  return { ...model, held: () => lock };
}

// ---- deps and fixtures ------------------------------------------------------------------

/** The desired state of the step specs: an Auto Scaling fleet and a standalone one. */
export const STATE: CompiledDesiredState = compileYaml(
  `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    team: web
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt }
    team: api
    exclude: { tags: { "phoenix:skip": "true" } }
`,
  { commit: 'abc1234', sha256: 'a'.repeat(64) },
);

export const NOW = new Date('2025-06-15T12:05:00.000Z');
export const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:run-1';
export const OTHER_EXECUTION =
  'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:run-2';
export const CTX: StepContext = { executionId: EXECUTION, startedAt: '2025-06-15T12:01:00.000Z' };

/** The deps of one step run over the fake account and store. */
export function fakeDeps(
  account: FakeAccount,
  store: FakeStore,
  options: {
    state?: CompiledDesiredState;
    now?: Date;
    sent?: PhoenixNotification[];
    publishFails?: Error;
  } = {},
): StepDeps {
  const sent = options.sent ?? [];
  return {
    ec2: account.ec2 as unknown as StepDeps['ec2'],
    autoScaling: account.autoScaling as unknown as StepDeps['autoScaling'],
    elbv2: account.elbv2 as unknown as StepDeps['elbv2'],
    store,
    notifier: {
      publish: async (notification: PhoenixNotification) => {
        if (options.publishFails !== undefined) throw options.publishFails;
        sent.push(notification);
      },
    },
    desiredState: options.state ?? STATE,
    clock: () => options.now ?? NOW,
  };
}
