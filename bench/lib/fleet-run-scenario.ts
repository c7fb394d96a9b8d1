/**
 * Issue 14's real run: an Auto Scaling group and a tag fleet of standalone instances, every
 * member drifted by its launch template's new default version, reconciled on an emulated
 * account by `phoenix reconcile`'s engine (the {@link Reconciler}: the evaluator's sweeps, the
 * real state machine definition through the local runner) under a percentage budget, while a
 * sampler looks at the account every ~150 ms. What it saw is a {@link FleetRunObservation} for
 * `fleet-run-check.ts` to judge; `bench/fleet-run.ts` and `test/e2e/fleet-run.test.ts` run it.
 *
 * Plain Node (no vitest): seeded with emulator/seed.ts, on the endpoint the caller started.
 * Phoenix's own AWS calls go through counted clients; the sampler's and the seeding's do not.
 */
import { type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import { healthyServing } from '../../emulator/account';
import { emulatorClients } from '../../emulator/clients';
import { seedDriftedAsgFleet, seedDriftedStandaloneFleet } from '../../emulator/seed';
import { createStateTable } from '../../emulator/table';
import type { PhoenixClients } from '../../functions/aws/clients';
import { describeInstances, listFleetInstances, resolveLaunchTemplate } from '../../functions/aws/inventory';
import { RemediationStore } from '../../functions/aws/remediation-store';
import { concurrencyLimit } from '../../functions/domain/budget';
import { evaluateDrift } from '../../functions/domain/drift/engine';
import { findFleet } from '../../functions/domain/drift/match';
import type { CompiledDesiredState, CompiledFleet } from '../../functions/domain/model';
import type { LocalRunHooks } from '../../functions/local/hooks';
import { Reconciler } from '../../functions/local/reconciler';
import type { ReconcileReport } from '../../functions/local/report';
import type { AfterStateEvent } from '../../functions/local/step-functions/run-events';
import { type CallCounts, countCalls } from './counting';
import { benchDesiredState } from './desired-state';
import type {
  CapacitySample,
  FinalMember,
  FleetRunObservation,
  LeaseGrant,
  LeaseRelease,
  ObservedFleet,
  QueueData,
} from './fleet-run-check';
import { type Progress, silentProgress } from './progress';

export interface FleetRunOptions {
  /** The emulated account's endpoint (started by the caller). */
  endpoint: string;
  /** Every seeded name starts with it: unique within the account. */
  prefix: string;
  /** Members of the Auto Scaling group (MaxSize leaves room for every surge the budget allows). */
  groupSize: number;
  /** Standalone instances of the tag fleet. */
  standaloneSize: number;
  /** `budget.maxConcurrent` as written in YAML: `25%`, or a count. */
  maxConcurrent: string;
  minHealthyPercent: number;
  /**
   * Executions at once, all fleets together (`phoenix reconcile --concurrency`); default: every
   * drifted instance at once, as the deployed evaluator starts them (what the budget does not
   * admit yet waits in its fleet's queue).
   */
  concurrency?: number;
  /** Pause between two samples of the account. */
  sampleEveryMs?: number;
  /** Each fleet is launched in this many batches a second apart, so launch times differ. */
  launchBatches?: number;
  /**
   * Hooks for every execution beside the run's own recorder (the e2e spec's IAM gate and
   * bounded timings), given the compiled desired state and the state table and topic.
   */
  hooks?: (context: {
    desiredState: CompiledDesiredState;
    tableName: string;
    topicArn: string;
  }) => LocalRunHooks;
  progress?: Progress;
}

/** What the run did and what it measured. */
export interface FleetRunOutcome {
  observation: FleetRunObservation;
  desiredState: CompiledDesiredState;
  report: ReconcileReport;
  /** The reconcile alone, seeding and final checks apart. */
  wallMs: number;
  /** Phoenix's own AWS calls during the reconcile, by `Service.Operation` (the sampler's apart). */
  awsCalls: CallCounts;
  /** The grants as the order check would read them from today's polling (asked more than once). */
  waitedGrants: number;
}

/** The lease step, whose output is `$.lease`, and the steps that give a lease back. */
const LEASE_STATE = 'AcquireLease';
const RELEASE_STATES: ReadonlySet<string> = new Set([
  'ReleaseLease',
  'ReleaseLeaseAfterError',
  'ReleaseLeaseWhenGroupBusy',
  'ReleaseLeaseAfterRollback',
]);
/** The step that hands the old instance back to its group, releasing the lease with it when it says so. */
const RETIRE_STATE = 'RetireOld';

export function fleetRunYaml(
  options: Pick<FleetRunOptions, 'prefix' | 'maxConcurrent' | 'minHealthyPercent'>,
): string {
  const { prefix } = options;
  return `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: ${options.maxConcurrent}, minHealthyPercent: ${options.minHealthyPercent} }
fleets:
  web:
    match: { autoScalingGroup: ${prefix}-web-asg }
    launchTemplate: { name: ${prefix}-web-lt, version: $Default }
    tags: { Owner: team-${prefix}-web }
    team: web
  api:
    match: { tags: { App: ${prefix}-api } }
    launchTemplate: { name: ${prefix}-api-lt, version: $Default }
    tags: { Owner: team-${prefix}-api }
    team: api
`;
}

/** Epoch milliseconds from a number or an ISO-8601 text; undefined for anything else. */
function epochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** `$.lease.queue` of a grant, if the lease step wrote one of the stated shape. */
export function queueDataOf(leaseOutput: unknown): QueueData | undefined {
  if (typeof leaseOutput !== 'object' || leaseOutput === null) return undefined;
  const queue = (leaseOutput as { queue?: unknown }).queue;
  if (typeof queue !== 'object' || queue === null) return undefined;
  const q = queue as Record<string, unknown>;
  const launchTime = epochMs(q.launchTime);
  const parkedAt = epochMs(q.parkedAt);
  const grantedAt = epochMs(q.grantedAt);
  if (
    typeof q.az !== 'string' ||
    launchTime === undefined ||
    parkedAt === undefined ||
    grantedAt === undefined
  )
    return undefined;
  const readAt = epochMs(q.readAt);
  return { az: q.az, launchTime, parkedAt, grantedAt, ...(readAt === undefined ? {} : { readAt }) };
}

/**
 * Records every lease granted and given back, from the Task states' ends (`afterState`): the
 * lease step's output, the release steps' spans (from the end of the execution's previous
 * Task, a moment before the release step starts, to the end of the release step).
 */
export class LeaseRecorder {
  readonly grants: LeaseGrant[] = [];
  readonly releases: LeaseRelease[] = [];
  readonly #lastTaskEnd = new Map<string, number>();
  readonly #asking = new Map<string, { from: number; asks: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  readonly afterState = (event: AfterStateEvent): void => {
    const at = this.now();
    const key = `${event.fleet}/${event.instanceId}`;
    const before = this.#lastTaskEnd.get(key) ?? at;
    this.#lastTaskEnd.set(key, at);
    if (event.state === LEASE_STATE) {
      const asking = this.#asking.get(key) ?? { from: before, asks: 0 };
      asking.asks += 1;
      this.#asking.set(key, asking);
      if (event.error !== undefined) return;
      this.#asking.delete(key);
      const queue = queueDataOf(event.output);
      const written = (event.output as { queue?: unknown } | undefined)?.queue;
      this.grants.push({
        fleet: event.fleet,
        instanceId: event.instanceId,
        grantedAt: at,
        ...(asking.asks > 1 ? { waitedFrom: asking.from } : { askedAt: asking.from }),
        ...(queue === undefined ? {} : { queue }),
        ...(queue === undefined && written !== undefined
          ? { queueUnreadable: JSON.stringify(written).slice(0, 200) }
          : {}),
      });
      return;
    }
    // A lease step that ended refused for good (blocked, skipped) starts a new wait next time.
    this.#asking.delete(key);
    const released =
      RELEASE_STATES.has(event.state) ||
      (event.state === RETIRE_STATE &&
        (event.output as { leaseReleased?: unknown } | undefined)?.leaseReleased === true);
    if (released && event.error === undefined)
      this.releases.push({ fleet: event.fleet, instanceId: event.instanceId, from: before, to: at });
  };
}

/** What the sampler reads of one fleet. */
interface WatchedFleet {
  observed: ObservedFleet;
  compiled: CompiledFleet;
  targetGroupArn: string;
  groupName?: string;
}

/**
 * Serving capacity (two more calls per fleet) is read at one sample in this many, and at the
 * last: the sampler's own calls slow the emulator the run is measured on.
 */
const SERVING_EVERY = 4;

/** Looks at the account every `everyMs` until stopped: healthy, leases, surplus (and at times serving) per fleet. */
class CapacitySampler {
  readonly samples: CapacitySample[] = [];
  readonly errors: string[] = [];
  #stopped = false;
  #rounds = 0;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly clients: PhoenixClients,
    private readonly store: RemediationStore,
    private readonly fleets: readonly WatchedFleet[],
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const started = Date.now();
        await this.sampleAll();
        // From the start of one look to the start of the next, as far as the account answers.
        const left = this.everyMs - (Date.now() - started);
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.sampleAll();
  }

  async sampleAll(): Promise<void> {
    const serving = this.#stopped || this.#rounds % SERVING_EVERY === 0;
    this.#rounds += 1;
    await Promise.all(
      this.fleets.map(async (fleet) => {
        try {
          this.samples.push(await this.#sample(fleet, serving));
        } catch (error) {
          // A sample that could not be read is no sample; the check counts samples per fleet.
          this.errors.push(`sampling ${fleet.observed.name}: ${String(error)}`);
        }
      }),
    );
  }

  async #sample(fleet: WatchedFleet, readServing: boolean): Promise<CapacitySample> {
    const at = Date.now();
    const { size, name } = fleet.observed;
    const members = async (): Promise<{ healthy: number; members: number }> => {
      if (fleet.groupName !== undefined) {
        const instances = (await describeGroup(this.clients, fleet.groupName)).Instances ?? [];
        return {
          healthy: instances.filter((i) => i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy')
            .length,
          members: instances.length,
        };
      }
      const running = (await listFleetInstances(this.clients.ec2, fleet.compiled)).filter(
        (i) => i.state === 'running',
      ).length;
      return { healthy: running, members: running };
    };
    // Who waits in the queue, per zone of the fleet: when each waiter was certainly there to be
    // seen (its `parkedAt` is stamped before its park is written).
    const waiting = async (): Promise<{ waiting: string[]; waitingAt: number }> => {
      const zones = [...new Set(fleet.observed.originals.map((o) => o.az))];
      const parked = await Promise.all(zones.map((az) => this.store.listWaiters(name, az)));
      return {
        waiting: parked
          .flat()
          .filter((w) => w.granted === undefined && w.failed === undefined)
          .map((w) => w.instanceId),
        waitingAt: Date.now(),
      };
    };
    const [seen, serving, leases, queued] = await Promise.all([
      members(),
      readServing ? healthyServing(this.clients, fleet.targetGroupArn) : undefined,
      this.store.listLeases(name),
      waiting(),
    ]);
    return {
      at,
      fleet: name,
      healthy: seen.healthy,
      ...(serving === undefined ? {} : { serving }),
      leases: leases.filter((l) => l.sk.startsWith('slot#')).length,
      surplus: seen.members - size,
      ...queued,
    };
  }
}

async function describeGroup(clients: PhoenixClients, name: string): Promise<AutoScalingGroup> {
  const out = await clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = out.AutoScalingGroups?.[0];
  if (group === undefined) throw new Error(`fleet run: no group ${name}`);
  return group;
}

/** Every instance in the account, terminated ones included. */
async function everyInstanceId(clients: PhoenixClients): Promise<Set<string>> {
  const ids = new Set<string>();
  let NextToken: string | undefined;
  do {
    const page = await clients.ec2.send(new DescribeInstancesCommand({ MaxResults: 1000, NextToken }));
    for (const r of page.Reservations ?? [])
      for (const i of r.Instances ?? []) if (i.InstanceId !== undefined) ids.add(i.InstanceId);
    NextToken = page.NextToken === '' || page.NextToken === null ? undefined : page.NextToken;
  } while (NextToken !== undefined);
  return ids;
}

function fleetNamed(state: CompiledDesiredState, name: string): CompiledFleet {
  const fleet = state.fleets.find((f) => f.name === name);
  if (fleet === undefined) throw new Error(`fleet run: no fleet ${name}`);
  return fleet;
}

/** Phoenix's clients with every call counted in `counts` (one SDK client per service, as the CLI builds them). */
function countedClients(endpoint: string, counts: CallCounts): PhoenixClients {
  const clients = emulatorClients(endpoint);
  for (const client of [
    clients.ec2,
    clients.autoScaling,
    clients.elbv2,
    clients.dynamodb,
    clients.sns,
    clients.cloudwatch,
  ])
    countCalls(client, counts);
  return clients;
}

/** The members of each fleet after the run, judged by the drift engine against the fleet's template now. */
async function finalMembers(clients: PhoenixClients, state: CompiledDesiredState): Promise<FinalMember[]> {
  const members: FinalMember[] = [];
  const now = new Date();
  for (const fleet of state.fleets) {
    const template = await resolveLaunchTemplate(clients.ec2, fleet.launchTemplate);
    for (const instance of await listFleetInstances(clients.ec2, fleet)) {
      if (instance.state !== 'running') continue;
      const match = findFleet(instance, state.fleets);
      if (match.kind !== 'member' || match.fleet.name !== fleet.name) continue;
      const verdict = evaluateDrift({ instance, fleet, template, now });
      members.push({
        fleet: fleet.name,
        instanceId: instance.instanceId,
        inSync: verdict.status === 'in-sync',
        detail:
          verdict.status === 'drifted'
            ? verdict.reasons
                .map((r) => `${r.kind} ${r.field}: ${r.actual ?? '-'} ≠ ${r.expected ?? '-'}`)
                .join('; ')
            : verdict.status,
      });
    }
  }
  return members;
}

/** Seeds the estate, reconciles it with the sampler watching, and returns what was observed. */
export async function runFleetScenario(options: FleetRunOptions): Promise<FleetRunOutcome> {
  const progress = options.progress ?? silentProgress;
  const { prefix, groupSize, standaloneSize } = options;
  const clients = emulatorClients(options.endpoint);
  const desiredState = benchDesiredState(fleetRunYaml(options), `${prefix}.yaml`);
  const web = fleetNamed(desiredState, 'web');
  const api = fleetNamed(desiredState, 'api');
  const webBudget = concurrencyLimit(web.budget.maxConcurrent, groupSize);
  const apiBudget = concurrencyLimit(api.budget.maxConcurrent, standaloneSize);

  progress.say(
    `fleet run: seeding an Auto Scaling group of ${groupSize} and ${standaloneSize} standalone instances, both across two zones, drifted`,
  );
  const tableName = await createStateTable(clients.dynamodb, `${prefix}-state`);
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: `${prefix}-notifications` }));
  const topicArn = topic.TopicArn ?? '';
  const [group, standalone] = await Promise.all([
    seedDriftedAsgFleet(clients, {
      name: `${prefix}-web`,
      desired: groupSize,
      // Every surge the budget allows fits: no replacement has to go standby-first.
      max: groupSize + webBudget,
      launchBatches: options.launchBatches ?? 1,
    }),
    seedDriftedStandaloneFleet(clients, {
      name: `${prefix}-api`,
      count: standaloneSize,
      acrossZones: true,
      launchBatches: options.launchBatches ?? 1,
    }),
  ]);
  const observe = async (name: string, kind: ObservedFleet['kind'], ids: string[], budget: number) => {
    const facts = await describeInstances(clients.ec2, ids);
    return {
      name,
      kind,
      size: ids.length,
      budget,
      originals: facts.map((f) => ({
        instanceId: f.instanceId,
        az: f.availabilityZone ?? '?',
        launchTime: Date.parse(f.launchTime ?? '') || 0,
      })),
    } satisfies ObservedFleet;
  };
  const fleets: WatchedFleet[] = [
    {
      observed: await observe('web', 'asg', group.group.instanceIds, webBudget),
      compiled: web,
      targetGroupArn: group.targetGroupArn,
      groupName: group.group.name,
    },
    {
      observed: await observe('api', 'tags', standalone.instanceIds, apiBudget),
      compiled: api,
      targetGroupArn: standalone.targetGroupArn,
    },
  ];
  const zones = (f: WatchedFleet) => {
    const count = new Map<string, number>();
    for (const o of f.observed.originals) count.set(o.az, (count.get(o.az) ?? 0) + 1);
    return [...count].map(([az, n]) => `${n} in ${az}`).join(', ');
  };
  progress.say(`fleet run: web ${zones(fleets[0] as WatchedFleet)}; api ${zones(fleets[1] as WatchedFleet)}`);

  const before = await everyInstanceId(clients);
  const awsCalls: CallCounts = {};
  const phoenix = countedClients(options.endpoint, awsCalls);
  const recorder = new LeaseRecorder();
  const extra = options.hooks?.({ desiredState, tableName, topicArn }) ?? {};
  const total = groupSize + standaloneSize;
  let ended = 0;
  const reconciler = new Reconciler({
    desiredState,
    clients: phoenix,
    tableName,
    topicArn,
    waits: 'zero',
    concurrency: options.concurrency ?? options.groupSize + options.standaloneSize,
    onProgress: (event) => {
      if (event.type === 'execution-end') {
        ended += 1;
        // A drift whose execution ended blocked runs again in a later round: more executions than instances.
        progress.count('fleet run: executions ended', ended, Math.max(total, ended));
      } else if (event.type === 'sweep') {
        progress.say(
          `fleet run: round ${event.round}: ${event.record.drifted} drifted, ${event.record.started} started`,
        );
      }
    },
    hooks: {
      ...extra,
      afterState: async (event) => {
        recorder.afterState(event);
        await extra.afterState?.(event);
      },
    },
  });
  const sampler = new CapacitySampler(
    clients,
    new RemediationStore(clients.dynamodb, tableName, () => new Date()),
    fleets,
    options.sampleEveryMs ?? 150,
  );
  progress.say(
    `fleet run: reconciling with maxConcurrent ${options.maxConcurrent} (web ${webBudget}, api ${apiBudget}), minHealthyPercent ${options.minHealthyPercent}`,
  );
  sampler.start();
  const started = performance.now();
  let report: ReconcileReport;
  try {
    report = await reconciler.reconcile();
  } finally {
    await sampler.stop();
  }
  const wallMs = performance.now() - started;
  const calls = { ...awsCalls };
  phoenix.destroy();

  const launched = [...(await everyInstanceId(clients))].filter((id) => !before.has(id));
  const observation: FleetRunObservation = {
    fleets: fleets.map((f) => f.observed),
    executions: reconciler.remediations.map((r) => ({
      instanceId: r.instanceId,
      fleet: r.fleet,
      outcome: r.outcome,
      reason: r.reason,
      detail: r.detail,
      replacementId: r.replacementId,
    })),
    launched,
    samples: sampler.samples,
    grants: recorder.grants,
    releases: recorder.releases,
    finalMembers: await finalMembers(clients, desiredState),
    errors: [...report.errors, ...sampler.errors],
  };
  clients.destroy();
  return {
    observation,
    desiredState,
    report,
    wallMs,
    awsCalls: calls,
    waitedGrants: recorder.grants.filter((g) => g.waitedFrom !== undefined).length,
  };
}
