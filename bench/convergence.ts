/**
 * Benchmark 5, the convergence model: time for a fleet of N drifted instances (one Auto
 * Scaling group over three Availability Zones) to converge with `maxConcurrent: 10%` and
 * `minHealthyPercent: 100` (surge only), computed from the step sequence the remediation
 * benchmark recorded (see lib/convergence-model.ts for the model and its sources), beside an
 * Auto Scaling instance refresh at 90 % minimum healthy; both launch through EC2's
 * RunInstances token bucket. Phoenix waits for its lease in the fleet's queue (the lease
 * step of the fleet-scale issue); the lease back-off it had before is shown beside it, as a
 * "before" with no budget. Nothing is slept.
 */
import { concurrencyLimit } from '../functions/domain/budget';
import {
  type CallCounts,
  estimateFleet,
  type FleetEstimate,
  instanceRefreshSeconds,
  OP,
  type PathStep,
  QUEUE_ADMISSION,
  REALISTIC_AWS_TIMINGS,
  type RemediationProfile,
  type RetryRule,
  RUN_INSTANCES_RESOURCE_TOKENS,
  replacementAt,
  type StepRole,
  timelineFromPath,
} from './lib/convergence-model';
import type { RollUsage } from './lib/cost-model';
import type { Progress } from './lib/progress';
import { type BenchResult, compared } from './lib/results';
import type { RecordedRemediation, StateInfo } from './remediation';

export const FLEET_SIZES = [100, 1_000, 10_000] as const;
/** The budget modelled: 10 % of the fleet at once, never below full healthy capacity. */
export const MAX_CONCURRENT_PERCENT = 10;
export const MIN_HEALTHY_PERCENT = 100;
/** Instance refresh's default minimum healthy percentage: the baseline. */
export const REFRESH_MIN_HEALTHY_PERCENT = 90;
/** Instance warm-ups shown for instance refresh: none (the baseline judged), and the console's default grace period. */
export const REFRESH_WARMUPS = [0, 300] as const;
/** The fleet's group spans three Availability Zones, one instance in three in each. */
export const AVAILABILITY_ZONES = 3;
/** A replaced instance's state transitions, however long it waited. */
export const TRANSITIONS_PER_INSTANCE_BUDGET = 30;
/**
 * Lease and queue calls made for one instance, whatever the fleet's size: its lease attempt
 * (a transaction), its park (a PutItem), its grant (a transaction and `SendTaskSuccess`), its
 * release (a transaction), and the two `admit` passes it runs, after its park and after its
 * release, each reading the head of every AZ queue with waiters (at most one Query per AZ).
 * The N = 100 fleet reaches it exactly (a test holds it there); every N must equal it.
 */
export const QUEUE_CALLS_PER_INSTANCE_BUDGET = 5 + 2 * AVAILABILITY_ZONES;

/** Time to converge as a share of instance refresh's: half up to 1,000 instances, no worse at 10,000. */
export function ratioBudget(n: number): number {
  return n <= 1_000 ? 0.5 : 1.0;
}

/**
 * The lease step before the queue: `AcquireLease`'s Retry rule for `LeaseDeniedError` as the
 * definition stated it up to commit c614368 (state-machines/remediate-instance.asl.json): 60
 * retries from 30 s, doubling, capped at 300 s, full jitter. Stated here, not read from the
 * definition, which no longer has it once the lease step waits for its task token.
 */
export const BEFORE_QUEUE_LEASE_RETRY: RetryRule = {
  IntervalSeconds: 30,
  MaxAttempts: 60,
  BackoffRate: 2,
  MaxDelaySeconds: 300,
  JitterStrategy: 'FULL',
};
const TRIALS = 51;
const SEED = 20_250_615;

/** What each state of the definition does in the model, by name. */
export const ROLES: Readonly<Record<string, StepRole>> = {
  AcquireLease: 'acquire-lease',
  RaiseDesiredCapacity: 'launch',
  LaunchStandaloneReplacement: 'launch',
  CheckReplacementHealth: 'health-check',
  WaitBeforeNextHealthCheck: 'health-wait',
  WaitForDeregistrationDelay: 'drain',
  RetireOld: 'group-drain',
  ReleaseLease: 'release-lease',
};

/**
 * How long a state takes in the model, by what it runs: a Lambda function (the steps
 * function's ARN, `lambda:invoke`, and `lambda:invoke.waitForTaskToken`, whose wait for the
 * token is the fleet's, not the state's), a direct SDK or optimised integration, a Wait, or
 * a bookkeeping state.
 */
export function kindOf(state: StateInfo | undefined): PathStep['kind'] {
  if (state === undefined) return 'other';
  if (state.type === 'Wait') return 'wait';
  if (state.type !== 'Task') return 'other';
  const resource = state.resource ?? '';
  if (/^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/.test(resource)) return 'lambda';
  return resource.includes(':states:::') ? 'sdk' : 'lambda';
}

/** The recorded states entered, in order, as the model reads them. */
export function pathOf(recorded: Pick<RecordedRemediation, 'events' | 'states'>): PathStep[] {
  return recorded.events
    .filter((e) => e.type === 'StateEntered' && e.state !== undefined)
    .map((e) => {
      const state = e.state as string;
      const step: PathStep = { state, kind: kindOf(recorded.states.get(state)) };
      const role = ROLES[state];
      if (role !== undefined) step.role = role;
      return step;
    });
}

export interface ConvergenceOutcome {
  results: BenchResult[];
  notes: string[];
  /** One remediation on AWS whose launch did not wait (its transitions include the health-check rounds). */
  profile: RemediationProfile;
  /** Each fleet size's roll with the queue, per rolled instance, for the cost model. */
  rolls: Readonly<Record<number, RollUsage>>;
}

function duration(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(2)} h` : `${(seconds / 60).toFixed(1)} min`;
}

/** The calls a lease taken at once costs with the queue: its attempt, its task success, its release. */
const AT_ONCE: CallCounts = { [OP.transact]: 2, [OP.taskSuccess]: 1 };

function rollOf(run: FleetEstimate, atOnceTransitions: number): RollUsage {
  const extra: CallCounts = {};
  for (const [operation, count] of Object.entries(run.leaseCalls.byOperation)) {
    const more = (count - (AT_ONCE[operation] ?? 0) * run.n) / run.n;
    if (more > 0) extra[operation] = more;
  }
  return {
    hours: run.seconds / 3600,
    extraTransitions: Math.max(0, run.transitions.mean - atOnceTransitions),
    extraQueueCalls: extra,
    heartbeats: run.heartbeats.total / run.n,
    sweeperWaiterReads: run.sweeper.waiterItemsRead / run.n,
  };
}

export function convergenceBench(options: {
  recorded: RecordedRemediation;
  progress: Progress;
  /** Fleet sizes and seeded trials of the lease back-off; the benchmark's own by default. */
  sizes?: readonly number[];
  trials?: number;
}): ConvergenceOutcome {
  const sizes = options.sizes ?? FLEET_SIZES;
  const trials = options.trials ?? TRIALS;
  options.progress.say('convergence: modelling fleets of 100 to 10,000 from the recorded remediation');
  const aws = REALISTIC_AWS_TIMINGS;
  const path = pathOf(options.recorded);
  const timeline = timelineFromPath(path, aws, options.recorded.timings);
  const atOnce = replacementAt(timeline, 0);
  const profile: RemediationProfile = {
    beforeLease: timeline.beforeLease,
    holdingLease: atOnce.holdingLease,
    afterLease: timeline.afterRelease,
    healthChecks: atOnce.healthChecks,
    transitions: atOnce.transitions,
  };
  const groupDrains = path.some((step) => step.role === 'group-drain');
  const results: BenchResult[] = [];
  const rows: string[][] = [];
  const rolls: Record<number, RollUsage> = {};
  const queueCalls: number[] = [];
  const waveNotes: string[] = [];
  const whatIf: string[] = [];
  for (const n of sizes) {
    options.progress.say(`convergence: ${n.toLocaleString('en-US')} instances`);
    const k = concurrencyLimit({ percent: MAX_CONCURRENT_PERCENT }, n);
    const fleet = { n, k, azs: AVAILABILITY_ZONES, timeline, launchTokens: RUN_INSTANCES_RESOURCE_TOKENS };
    const queue = estimateFleet({ ...fleet, admission: QUEUE_ADMISSION, trials: 1, seed: SEED });
    const polling = estimateFleet({
      ...fleet,
      admission: { kind: 'polling', retry: BEFORE_QUEUE_LEASE_RETRY, attemptSeconds: aws.lambdaTask },
      trials,
      seed: SEED,
    });
    const refresh = REFRESH_WARMUPS.map((warmupSeconds) =>
      instanceRefreshSeconds({
        n,
        minHealthyPercent: REFRESH_MIN_HEALTHY_PERCENT,
        aws,
        warmupSeconds,
        launchTokens: RUN_INSTANCES_RESOURCE_TOKENS,
      }),
    );
    const baseline = refresh[0] ?? 0;
    rolls[n] = rollOf(queue, atOnce.transitions);
    queueCalls.push(queue.leaseCalls.max);
    const phoenix = compared({
      name: `convergence.n${n}.phoenix`,
      value: Math.round(queue.seconds),
      unit: 's',
      budget: ratioBudget(n),
      baseline: Math.round(baseline),
    });
    results.push(
      phoenix,
      ...REFRESH_WARMUPS.map((warmup, i) => ({
        name: `convergence.n${n}.instance-refresh-warmup-${warmup}s`,
        value: Math.round(refresh[i] ?? 0),
        unit: 's',
        budget: null,
      })),
      { name: `convergence.n${n}.blocked`, value: queue.blocked, unit: 'instances', budget: 0 },
      { name: `convergence.n${n}.rolled-back`, value: queue.rolledBack, unit: 'instances', budget: 0 },
      {
        name: `convergence.n${n}.transitions-per-instance`,
        value: queue.transitions.max,
        unit: 'transitions',
        budget: TRANSITIONS_PER_INSTANCE_BUDGET,
      },
      {
        name: `convergence.n${n}.queue-calls-per-instance`,
        value: queue.leaseCalls.max,
        unit: 'calls',
        budget: QUEUE_CALLS_PER_INSTANCE_BUDGET,
      },
      {
        name: `convergence.n${n}.heartbeats-per-instance`,
        value: round2(queue.heartbeats.total / n),
        unit: 'calls',
        budget: null,
      },
      {
        name: `convergence.n${n}.launch-token-wait`,
        value: Math.round(queue.launchWait.max),
        unit: 's',
        budget: null,
      },
      {
        name: `convergence.n${n}.before-queue.polling`,
        value: Math.round(polling.seconds),
        unit: 's',
        budget: null,
      },
      {
        name: `convergence.n${n}.before-queue.blocked`,
        value: polling.blocked,
        unit: 'instances',
        budget: null,
      },
      {
        name: `convergence.n${n}.before-queue.transitions-per-instance`,
        value: polling.transitions.max,
        unit: 'transitions',
        budget: null,
      },
      {
        name: `convergence.n${n}.before-queue.lease-calls-per-instance`,
        value: polling.leaseCalls.max,
        unit: 'calls',
        budget: null,
      },
    );
    rows.push([
      n.toLocaleString('en-US'),
      String(k),
      duration(queue.seconds),
      duration(baseline),
      `${(phoenix.ratio ?? 0).toFixed(3)}x`,
      String(queue.blocked + queue.rolledBack),
      `${queue.transitions.max} (${queue.transitions.mean.toFixed(1)})`,
      `${queue.leaseCalls.max} (${queue.leaseCalls.mean.toFixed(1)})`,
      `${Math.round(queue.launchWait.max)} s`,
      polling.blocked > 0
        ? `${duration(polling.seconds)}, ${polling.blocked} blocked`
        : `${duration(polling.seconds)}, ${polling.transitions.max} tr.`,
    ]);
    if (queue.launchWait.max > 0) {
      // What the fleet would do if admit held replacements in flight to what the RunInstances
      // refill launches while one holds its lease: no launch waits, no extra health rounds.
      const cap = Math.max(
        1,
        Math.floor(RUN_INSTANCES_RESOURCE_TOKENS.refillPerSecond * atOnce.holdingLease),
      );
      const capped = estimateFleet({
        ...fleet,
        k: Math.min(k, cap),
        admission: QUEUE_ADMISSION,
        trials: 1,
        seed: SEED,
      });
      whatIf.push(
        `${n.toLocaleString('en-US')}: the last replacement in service at ${duration(queue.inService)} ` +
          `(${(queue.inService / baseline).toFixed(2)}x), its old instance drained ${duration(queue.seconds - queue.inService)} later; ` +
          `launches waited up to ${Math.round(queue.launchWait.max)} s for a token, polled every ${options.recorded.timings.healthCheckIntervalSeconds} s ` +
          `(${queue.transitions.max} transitions). Were k held to ${cap} (refill x lease hold): ${duration(capped.seconds)} ` +
          `(${(capped.seconds / baseline).toFixed(2)}x), ${capped.transitions.max} transitions`,
      );
    }
    const later = queue.waves.slice(1);
    waveNotes.push(
      `${n.toLocaleString('en-US')}: ${queue.waves.length} waves (capacity raises), the first ${queue.waves[0] ?? 0}, ` +
        `then ${later.length === 0 ? 'none' : `at most ${Math.max(...later)}, mean ${(later.reduce((a, b) => a + b, 0) / later.length).toFixed(1)}`}; ` +
        `longest wait for a lease ${duration(queue.leaseWait.max)}, ${queue.heartbeats.total} heartbeats (at most ${queue.heartbeats.maxPerInstance} an instance), ` +
        `sweeper ${queue.sweeper.passes} passes`,
    );
  }
  const spread = Math.max(...queueCalls.map((c) => Math.abs(c - (queueCalls[0] ?? 0))));
  results.push({
    name: 'convergence.queue-calls-per-instance.change-from-n100',
    value: spread,
    unit: 'calls',
    budget: 0,
  });
  const header = [
    'N',
    'k',
    'Phoenix',
    'refresh',
    'ratio',
    'blocked',
    'transitions max (mean)',
    'queue calls max (mean)',
    'token wait',
    'before: polling',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return {
    results,
    profile,
    rolls,
    notes: [
      `one remediation on AWS: ${timeline.beforeLease.toFixed(1)} s to the lease, ${atOnce.holdingLease.toFixed(1)} s holding it ` +
        `(${atOnce.healthChecks} health checks every ${options.recorded.timings.healthCheckIntervalSeconds} s when its launch does not wait), ` +
        `${timeline.afterRelease.toFixed(1)} s after (${
          groupDrains
            ? `the group drains the old instance ${aws.deregistrationDelay} s`
            : `drain ${Math.min(aws.deregistrationDelay, options.recorded.timings.maxDrainSeconds)} s inside the lease`
        }); ${atOnce.transitions} state transitions with the health-check rounds`,
      `maxConcurrent ${MAX_CONCURRENT_PERCENT}%, minHealthyPercent ${MIN_HEALTHY_PERCENT}, ${AVAILABILITY_ZONES} AZs; ` +
        `RunInstances tokens ${RUN_INSTANCES_RESOURCE_TOKENS.size}, +${RUN_INSTANCES_RESOURCE_TOKENS.refillPerSecond}/s, for Phoenix and instance refresh; ` +
        `refresh at ${REFRESH_MIN_HEALTHY_PERCENT}% minimum healthy, warm-up 0 s (the ratio's baseline)`,
      `before (no budget): the lease back-off of the definition before the queue, median of ${trials} seeded trials`,
      line(header),
      ...rows.map(line),
      'waves and waiting:',
      ...waveNotes.map((w) => `  ${w}`),
      ...(whatIf.length === 0
        ? []
        : ['launches waiting for RunInstances tokens (no budget):', ...whatIf.map((w) => `  ${w}`)]),
    ],
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
