/**
 * The end-to-end world: an emulated account with Phoenix's state table, its notification
 * topic with one SQS inbox per team (filter policy on `team`), fleets seeded the way teams
 * run them, and a {@link Reconciler} wired to it — events go through the evaluator core, the
 * executions it starts through the real state machine (local runner), Config evaluations
 * into a recorder. Every wait is instant; the clock is the test's.
 *
 * The safety invariants are checked by {@link Invariants} after every state of every
 * execution: healthy capacity never below the fleet's floor, never more budget leases than
 * `maxConcurrent`, never more executions in flight per fleet than that.
 */
import { createHash } from 'node:crypto';
import { CreateTagsCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { describeGroup, healthyServing } from '../../emulator/account';
import { createTagsEvent, type EventBridgeEvent, userArn } from '../../emulator/cloudtrail';
import {
  defaultImageIds,
  registerTargets,
  type SeededLaunchTemplate,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
  seedTargetGroup,
  type TemplateVersionSpec,
} from '../../emulator/seed';
import { createTeamInboxes, drainInbox, type ReceivedNotification } from '../../emulator/team-inboxes';
import type { CallGate } from '../../functions/aws/call-gate';
import type { PhoenixClients } from '../../functions/aws/clients';
import { describeInstances } from '../../functions/aws/inventory';
import { RemediationStore } from '../../functions/aws/remediation-store';
import { healthyFloor } from '../../functions/aws/state-store';
import type { CompiledDesiredState, InstanceFacts } from '../../functions/domain/model';
import type { LocalRunHooks } from '../../functions/local/hooks';
import { Reconciler, type ReconcilerOptions } from '../../functions/local/reconciler';
import type { Timings } from '../../functions/remediation/input';
import { compileYaml, emulatedAccount } from '../helpers/account';
import { TEST_REGION } from '../helpers/emulator';
import { type IamGateOptions, iamGate } from '../helpers/iam/gate';

export { describeGroup, healthyServing, targetsOf } from '../../emulator/account';

/** Bounds for instant waits: a replacement that is not healthy after 3 checks is rolled back. */
export const E2E_TIMINGS: Partial<Timings> = {
  healthCheckIntervalSeconds: 0,
  healthCheckMaxAttempts: 3,
  maxDrainSeconds: 0,
};

let accounts = 0;

/**
 * One scenario's account. Files reset the emulator before they start; names stay unique within
 * a file. `endpoint`: an emulator the test started itself instead of the run's.
 */
export async function e2eAccount(options: { teams: readonly string[]; start?: Date; endpoint?: string }) {
  accounts += 1;
  const n = accounts;
  const account = await emulatedAccount({
    tableName: `phoenix-e2e-${n}`,
    start: options.start,
    endpoint: options.endpoint,
  });
  const { clients, clock } = account;
  const inboxes = await createTeamInboxes(clients, {
    topicName: `phoenix-e2e-${n}`,
    teams: options.teams,
    queuePrefix: `e2e-${n}`,
  });
  const [imageA = '', imageB = '', imageC = ''] = await defaultImageIds(clients.ec2, 3);
  const network = await seedNetwork(clients.ec2, { name: `e2e-${n}` });
  return {
    ...account,
    n,
    topicArn: inboxes.topicArn,
    inboxes,
    images: { a: imageA, b: imageB, c: imageC },
    network,
    store: new RemediationStore(clients.dynamodb, account.tableName, () => clock.now),
    /** Every notification the team's queue received since the last call. */
    inbox: async (team: string): Promise<ReceivedNotification[]> => {
      const url = inboxes.queues[team];
      if (url === undefined) throw new Error(`no inbox for team ${team}`);
      return drainInbox(clients.sqs, url);
    },
  };
}

export type E2eAccount = Awaited<ReturnType<typeof e2eAccount>>;

/** Compiles a desired-state YAML text as synth would; the revision follows the text. */
export function compile(yaml: string, commit = 'e2e0001'): CompiledDesiredState {
  return compileYaml(yaml, { commit, sha256: createHash('sha256').update(yaml).digest('hex') });
}

export interface SeededAsgFleet {
  name: string;
  groupName: string;
  template: SeededLaunchTemplate;
  targetGroupArn: string;
  instanceIds: string[];
  size: number;
}

/** An Auto Scaling group from a launch template, behind a target group, its members registered. */
export async function seedAsgFleet(
  account: E2eAccount,
  options: {
    name: string;
    desired: number;
    max: number;
    min?: number;
    tags: Record<string, string>;
    versions?: TemplateVersionSpec[];
  },
): Promise<SeededAsgFleet> {
  const { clients, network } = account;
  const template = await seedLaunchTemplate(clients.ec2, {
    name: `${options.name}-lt`,
    versions: options.versions ?? [
      {
        imageId: account.images.a,
        instanceType: 't3.micro',
        securityGroupIds: [network.securityGroupIds[0]],
      },
    ],
  });
  const targetGroupArn = await seedTargetGroup(clients.elbv2, {
    name: `${options.name}-tg`,
    vpcId: network.vpcId,
  });
  const group = await seedAutoScalingGroup(clients.autoScaling, clients.ec2, {
    name: `${options.name}-asg`,
    launchTemplate: { id: template.id, version: '$Default' },
    min: options.min ?? 1,
    max: options.max,
    desired: options.desired,
    subnetIds: [...network.subnetIds],
    tags: options.tags,
    targetGroupArns: [targetGroupArn],
  });
  // moto registers members with the group's target groups only on later scaling.
  await registerTargets(clients.elbv2, targetGroupArn, group.instanceIds, 80);
  return {
    name: options.name,
    groupName: group.name,
    template,
    targetGroupArn,
    instanceIds: group.instanceIds,
    size: options.desired,
  };
}

export interface SeededStandaloneFleet {
  name: string;
  template: SeededLaunchTemplate;
  targetGroupArn: string;
  instanceIds: string[];
  size: number;
}

/** Standalone instances from a launch template, selected by tags, registered in a target group. */
export async function seedStandaloneFleet(
  account: E2eAccount,
  options: { name: string; count: number; tags: Record<string, string> },
): Promise<SeededStandaloneFleet> {
  const { clients, network } = account;
  const template = await seedLaunchTemplate(clients.ec2, {
    name: `${options.name}-lt`,
    versions: [
      {
        imageId: account.images.a,
        instanceType: 't3.micro',
        securityGroupIds: [network.securityGroupIds[0]],
      },
    ],
  });
  const instanceIds = await seedStandaloneInstances(clients.ec2, {
    launchTemplate: { id: template.id, version: 1 },
    count: options.count,
    subnetId: network.subnetIds[1],
    tags: options.tags,
  });
  const targetGroupArn = await seedTargetGroup(clients.elbv2, {
    name: `${options.name}-tg`,
    vpcId: network.vpcId,
  });
  await registerTargets(clients.elbv2, targetGroupArn, instanceIds, 8080);
  return { name: options.name, template, targetGroupArn, instanceIds, size: options.count };
}

/** An instance no fleet declares (launched by hand, no template). */
export async function seedUnmanagedInstance(
  account: E2eAccount,
  tags: Record<string, string>,
): Promise<string> {
  const launched = await account.clients.ec2.send(
    new RunInstancesCommand({
      ImageId: account.images.c,
      InstanceType: 't3.small',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: account.network.subnetIds[0],
      TagSpecifications: [
        { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  const id = launched.Instances?.[0]?.InstanceId;
  if (id === undefined) throw new Error('no unmanaged instance launched');
  return id;
}

/**
 * Someone edits tags by hand: the instances get `tags`, and the CloudTrail event that tells
 * Phoenix about it is returned (made by `by`, at `at` or now) for the test to deliver.
 */
export async function tagByHand(
  account: E2eAccount,
  instanceIds: string[],
  tags: Record<string, string>,
  context: { by: string; at?: Date },
): Promise<EventBridgeEvent> {
  await account.clients.ec2.send(
    new CreateTagsCommand({
      Resources: instanceIds,
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  const at = context.at === undefined ? {} : { at: context.at };
  return createTagsEvent(instanceIds, tags, { principal: userArn(context.by), ...at });
}

/**
 * Decides every call Phoenix makes on the account against the policies synthesized for
 * `desiredState`, each as the role that would make it (test/helpers/iam). `props` changes
 * the DriftRemediator's props; `withoutGrant` takes one action out of one role's policy.
 */
export function iamGateFor(
  account: E2eAccount,
  desiredState: CompiledDesiredState,
  options: Pick<IamGateOptions, 'props' | 'withoutGrant'> = {},
): CallGate {
  const ready = iamGate({
    desiredState,
    names: { region: TEST_REGION, tableName: account.tableName, topicArn: account.topicArn },
    clients: account.clients,
    ...options,
  });
  return async (call) => (await ready)(call);
}

/**
 * A reconciler on the account: instant waits, and the test hooks every scenario shares — the
 * account's clock, bounded timings, invariants checked after every state, every AWS call
 * decided by IAM ({@link iamGateFor}). `extra.hooks` adds to them (or replaces the gate).
 */
export function reconcilerFor(
  account: E2eAccount,
  desiredState: CompiledDesiredState,
  invariants: Invariants | undefined,
  extra: Partial<Omit<ReconcilerOptions, 'hooks'>> & { hooks?: LocalRunHooks } = {},
): Reconciler {
  const { onProgress, hooks = {}, ...options } = extra;
  return new Reconciler({
    desiredState,
    clients: account.local,
    tableName: account.tableName,
    topicArn: account.topicArn,
    waits: 'zero',
    concurrency: 4,
    ...options,
    ...(onProgress === undefined ? {} : { onProgress }),
    hooks: {
      clock: () => account.clock.now,
      // A rollout's bake passes on the test's clock.
      waitForBake: async (until) => {
        if (until > account.clock.now) account.clock.now = until;
      },
      timings: E2E_TIMINGS,
      gate: iamGateFor(account, desiredState),
      ...hooks,
      afterState: async (event) => {
        await invariants?.check(`${event.instanceId} after ${event.state}`);
        await hooks.afterState?.(event);
      },
    },
  });
}

/** A fleet whose capacity and budget are watched. */
export interface WatchedFleet {
  fleet: string;
  targetGroupArn: string;
  /** The capacity the fleet is meant to have (ASG desired capacity, or the fleet size). */
  size: number;
  minHealthyPercent: number;
  maxConcurrent: number;
}

/** A seeded fleet watched at its seeded size, under the budget the test declares for it. */
export function watch(
  fleet: { name: string; targetGroupArn: string; size: number },
  budget: { minHealthyPercent: number; maxConcurrent: number },
): WatchedFleet {
  return { fleet: fleet.name, targetGroupArn: fleet.targetGroupArn, size: fleet.size, ...budget };
}

/**
 * The safety invariants, checked after every Task state: healthy serving capacity at or
 * above the floor, and at most `maxConcurrent` budget slots held: the replacements in flight
 * (an execution waiting in its fleet's queue replaces nothing yet). Violations are collected
 * (a test asserts there are none) so one bad state does not hide the next.
 */
export class Invariants {
  readonly violations: string[] = [];
  readonly checks: number[] = [];
  readonly #account: E2eAccount;
  readonly #fleets: WatchedFleet[];
  /**
   * The most budget slots each fleet held at once: its replacements in flight (from a lease to
   * its release; an execution waiting in the fleet's queue replaces nothing yet).
   */
  readonly maxLeases = new Map<string, number>();

  constructor(account: E2eAccount, fleets: WatchedFleet[]) {
    this.#account = account;
    this.#fleets = fleets;
  }

  async check(where: string): Promise<void> {
    for (const fleet of this.#fleets) {
      const floor = healthyFloor(fleet.size, fleet.minHealthyPercent);
      const healthy = await healthyServing(this.#account.clients, fleet.targetGroupArn);
      this.checks.push(healthy);
      if (healthy < floor)
        this.violations.push(`${where}: fleet ${fleet.fleet} has ${healthy} healthy < floor ${floor}`);
      const slots = (await this.#account.store.listLeases(fleet.fleet)).filter((l) =>
        l.sk.startsWith('slot#'),
      );
      this.maxLeases.set(fleet.fleet, Math.max(this.maxLeases.get(fleet.fleet) ?? 0, slots.length));
      if (slots.length > fleet.maxConcurrent) {
        this.violations.push(
          `${where}: fleet ${fleet.fleet} holds ${slots.length} leases > ${fleet.maxConcurrent}`,
        );
      }
    }
  }
}

/** The group's live members, sorted. */
export async function members(clients: PhoenixClients, groupName: string): Promise<string[]> {
  const group = await describeGroup(clients, groupName);
  return (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])).sort();
}

export async function facts(clients: PhoenixClients, instanceId: string): Promise<InstanceFacts> {
  const [found] = await describeInstances(clients.ec2, [instanceId]);
  if (found === undefined) throw new Error(`no instance ${instanceId}`);
  return found;
}

/** The compliance the evaluator recorded per instance, from the last evaluation of each. */
export function complianceById(
  evaluations: readonly { resourceId: string; compliance: string; annotation: string | null }[],
): Record<string, { compliance: string; annotation: string | null }> {
  const latest: Record<string, { compliance: string; annotation: string | null }> = {};
  for (const e of evaluations) latest[e.resourceId] = { compliance: e.compliance, annotation: e.annotation };
  return latest;
}
