/**
 * Benchmark 5, the convergence model: time for a fleet of N drifted instances (one Auto
 * Scaling group over three Availability Zones) to converge with `maxConcurrent: 10%` and
 * `minHealthyPercent: 100` (surge only), computed from the step sequence the remediation
 * benchmark recorded (see lib/convergence-model.ts for the model and its sources), beside an
 * Auto Scaling instance refresh at 90 % minimum healthy; both launch through EC2's
 * RunInstances token bucket. Converged: every instance in service runs the new template, at
 * full capacity ({@link ratioBudget}; Phoenix's last drain is reported beside it). Phoenix waits for its lease in the fleet's queue as built
 * (ADR 32) and surges in waves (issue 14.2): the leases granted while the group's lock is free
 * or its wave has not raised are one wave, which raises the desired capacity once and holds the
 * lock until its last member's `RetireOld` (which never waits for the lock) has released its
 * lease; that release admits when anyone waits. Beside it, without budgets, the "befores": the
 * lease back-off, the lock taken surge by surge (each surge from its lease to its claim,
 * `RetireOld` taking it again, retirements first since 07f9b81), and with it surges taking the
 * lock ahead of waiting retirements and a `RetireOld` admitting nobody; and the what-ifs that
 * would meet the budgets waves miss. Nothing is slept.
 */
import { RETIRER_WAIT_SECONDS } from '../functions/aws/state-table/remediation/group-retirers';
import { concurrencyLimit } from '../functions/domain/budget';
import {
  type CallCounts,
  estimateFleet,
  type FleetEstimate,
  type GroupLockRules,
  instanceRefreshSeconds,
  ModelMismatchError,
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
  type WhatIf,
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
 * Lease and queue calls (DynamoDB, Step Functions) made for one instance, whatever the
 * fleet's size, with waves: its lease attempt (a transaction), its park (a transaction: the
 * waiter and the queue's zones and count), its grant (the recheck's BatchGetItem, the
 * transaction, the answer's UpdateItem, `SendTaskSuccess`, the waiter's removal with its
 * count: a transaction), its release (a transaction: lease, and leaving the wave), and the two
 * `admit` passes it runs, after its park and after its release (the second only when someone
 * waits, learnt in the release's own transaction, then sent again without the check: one
 * transaction): each reads the zones (GetItem), every zone's head (a Query each) and the
 * leases (a Query), and ends on a try the wave's lock or the budget refuses (the recheck's
 * BatchGetItem and a transaction). The claim no longer admits (before waves: 31, with the
 * claim's pass and its resent transaction). The group lock's own calls (the raise's record or
 * read, the claim, `RetireOld`'s mark) are not queue calls. Every N must reach exactly this.
 */
export const QUEUE_CALLS_PER_INSTANCE_BUDGET = 1 + 1 + 5 + 1 + 1 + 2 * (1 + AVAILABILITY_ZONES + 1 + 2);

/**
 * Time to converge as a share of instance refresh's: half up to 1,000 instances, no worse at
 * 10,000. Converged, for both, is the moment every instance in service runs the declared
 * template at full capacity: for instance refresh its end (its drains come before its
 * launches), for Phoenix the hand-back of the last old instance (its drain after it is no
 * instance in service). Phoenix's end with that drain is reported beside it, unbudgeted: under
 * the same RunInstances bucket no surge-first remediator can end it sooner than the refresh
 * (docs/adr/0035-converged-means-in-service.md).
 */
export function ratioBudget(n: number): number {
  return n <= 1_000 ? 0.5 : 1.0;
}

/**
 * The lease step before the queue: `AcquireLease`'s Retry rules as the definition stated them
 * up to commit c614368 (state-machines/remediate-instance.asl.json): for `LeaseDeniedError` 60
 * retries from 30 s, doubling, capped at 300 s; for `GroupBusyError` 40 from 5 s, doubling,
 * capped at 60 s; both with full jitter. Stated here, not read from the definition, which no
 * longer has them once the lease step waits for its task token.
 */
export const BEFORE_QUEUE_LEASE_RETRY: RetryRule = {
  IntervalSeconds: 30,
  MaxAttempts: 60,
  BackoffRate: 2,
  MaxDelaySeconds: 300,
  JitterStrategy: 'FULL',
};
export const BEFORE_QUEUE_GROUP_BUSY_RETRY: RetryRule = {
  IntervalSeconds: 5,
  MaxAttempts: 40,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};
/** Seeded trials: the queue's only draws are `RetireOld`'s jitter; the back-off draws at every retry. */
const QUEUE_TRIALS = 11;
const TRIALS = 51;
const SEED = 20_250_615;

/**
 * What-ifs shown beside the queue as built (no budget): how it was before 07f9b81 and before
 * e8871a5 (each "before" as it was built then: before e8871a5, retirements did not go first
 * either), and what is not built, with retirements first and `RetireOld` admitting, as built.
 */
export const WHAT_IFS: ReadonlyArray<{ name: string; label: string; whatIf: WhatIf }> = [
  {
    name: 'per-instance-lock',
    label: 'one surge at a time on the group lock (before waves)',
    whatIf: { perInstanceLock: true },
  },
  {
    name: 'retirements-not-first',
    label: 'surges before waiting retirements (before 07f9b81)',
    whatIf: { perInstanceLock: true, retirementsNotFirst: true },
  },
  {
    name: 'retire-admits-nobody',
    label: 'RetireOld admitting nobody (before e8871a5)',
    whatIf: { perInstanceLock: true, retireAdmitsNobody: true, retirementsNotFirst: true },
  },
  {
    // Waves as first built: at 10,000 a wave's launches wait for EC2's tokens while its health
    // checks poll round (the transitions budget broken); the granter's estimate stops that.
    name: 'token-blind-waves',
    label: "waves whatever EC2's RunInstances tokens (before the granter's estimate)",
    whatIf: { tokenBlindWaves: true },
  },
];

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

/** A state's Retry rule for `error`, as the recorded definition states it. */
export function retryOf(states: ReadonlyMap<string, StateInfo>, state: string, error: string): RetryRule {
  const rule = states.get(state)?.retry?.find((r) => r.ErrorEquals?.includes(error));
  if (rule === undefined) throw new ModelMismatchError(`the definition's ${state} does not retry ${error}`);
  return rule as RetryRule;
}

/** The group lock's rules as the definition and the timings have them. */
export function lockRulesOf(states: ReadonlyMap<string, StateInfo>): GroupLockRules {
  const aws = REALISTIC_AWS_TIMINGS;
  return {
    retireRetry: retryOf(states, 'RetireOld', 'GroupBusyError'),
    rollbackRetry: retryOf(states, 'Rollback', 'GroupBusyError'),
    attemptSeconds: aws.lambdaTask,
    holdSeconds: aws.retireLockHold,
    granterSeconds: aws.granterReads,
    // The product's own: how long waiting retirements hold surges off without a refusal renewing it.
    retirerWaitSeconds: RETIRER_WAIT_SECONDS,
  };
}

export interface ConvergenceOutcome {
  results: BenchResult[];
  notes: string[];
  /** One remediation on AWS whose launch did not wait (its transitions include the health-check rounds). */
  profile: RemediationProfile;
  /** Each fleet size's roll with the queue as built, per rolled instance, for the cost model. */
  rolls: Readonly<Record<number, RollUsage>>;
}

function duration(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(2)} h` : `${(seconds / 60).toFixed(1)} min`;
}

/** The calls a lease taken at once costs with the queue: its attempt, its task success, its release. */
const AT_ONCE: CallCounts = { [OP.transact]: 2, [OP.taskSuccess]: 1 };

function rollOf(run: FleetEstimate, atOnceTransitions: number): RollUsage {
  const extra: CallCounts = {};
  const counted = [run.leaseCalls.byOperation, run.granterReads.byOperation, run.lockRetries.byOperation];
  const all: CallCounts = {};
  for (const counts of counted) {
    for (const [operation, count] of Object.entries(counts)) all[operation] = (all[operation] ?? 0) + count;
  }
  for (const [operation, count] of Object.entries(all)) {
    const more = (count - (AT_ONCE[operation] ?? 0) * run.n) / run.n;
    if (more > 0) extra[operation] = more;
  }
  return {
    hours: run.seconds / 3600,
    extraTransitions: Math.max(0, run.transitions.mean - atOnceTransitions),
    extraInvocations: run.extraInvocations.mean,
    extraQueueCalls: extra,
    heartbeats: run.heartbeats.total / run.n,
    sweeperWaiterReads: run.sweeper.waiterItemsRead / run.n,
  };
}

export function convergenceBench(options: {
  recorded: RecordedRemediation;
  progress: Progress;
  /** Fleet sizes and seeded trials; the benchmark's own by default. */
  sizes?: readonly number[];
  trials?: number;
}): ConvergenceOutcome {
  const sizes = options.sizes ?? FLEET_SIZES;
  const trials = options.trials ?? TRIALS;
  const queueTrials = Math.min(trials, QUEUE_TRIALS);
  options.progress.say('convergence: modelling fleets of 100 to 10,000 from the recorded remediation');
  const aws = REALISTIC_AWS_TIMINGS;
  const path = pathOf(options.recorded);
  const timeline = timelineFromPath(path, aws, options.recorded.timings);
  const lock = lockRulesOf(options.recorded.states);
  const atOnce = replacementAt(timeline, 0);
  const profile: RemediationProfile = {
    beforeLease: timeline.beforeLease,
    holdingLease: atOnce.holdingLease,
    afterLease: timeline.afterRelease,
    healthChecks: atOnce.healthChecks,
    transitions: atOnce.transitions,
  };
  const results: BenchResult[] = [];
  const rows: string[][] = [];
  const whatIfRows: string[] = [];
  const rolls: Record<number, RollUsage> = {};
  const queueCalls: number[] = [];
  const lockNotes: string[] = [];
  for (const n of sizes) {
    options.progress.say(`convergence: ${n.toLocaleString('en-US')} instances`);
    const k = concurrencyLimit({ percent: MAX_CONCURRENT_PERCENT }, n);
    const fleet = {
      n,
      k,
      azs: AVAILABILITY_ZONES,
      timeline,
      lock,
      launchTokens: RUN_INSTANCES_RESOURCE_TOKENS,
    };
    const queue = estimateFleet({ ...fleet, admission: QUEUE_ADMISSION, trials: queueTrials, seed: SEED });
    // As it was before the queue, and so before retirements went first.
    const polling = estimateFleet({
      ...fleet,
      whatIf: { perInstanceLock: true, retirementsNotFirst: true },
      admission: {
        kind: 'polling',
        retry: BEFORE_QUEUE_LEASE_RETRY,
        busyRetry: BEFORE_QUEUE_GROUP_BUSY_RETRY,
        attemptSeconds: aws.lambdaTask,
      },
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
      value: Math.round(queue.inService),
      unit: 's',
      budget: ratioBudget(n),
      baseline: Math.round(baseline),
    });
    const unbudgeted = (name: string, value: number, unit: string): BenchResult => ({
      name: `convergence.n${n}.${name}`,
      value,
      unit,
      budget: null,
    });
    results.push(
      phoenix,
      unbudgeted('phoenix-old-drained', Math.round(queue.seconds), 's'),
      unbudgeted('phoenix-old-drained.ratio', round3(queue.seconds / baseline), 'x'),
      ...REFRESH_WARMUPS.map((warmup, i) =>
        unbudgeted(`instance-refresh-warmup-${warmup}s`, Math.round(refresh[i] ?? 0), 's'),
      ),
      { name: `convergence.n${n}.blocked`, value: queue.blocked, unit: 'instances', budget: 0 },
      {
        name: `convergence.n${n}.rolled-back`,
        value: queue.rolledBack + queue.failed,
        unit: 'instances',
        budget: 0,
      },
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
      unbudgeted('granter-aws-reads-per-instance', queue.granterReads.max, 'calls'),
      unbudgeted('retire-lock-retries-per-instance', queue.lockRetries.max, 'retries'),
      unbudgeted('group-lock-busy', round2(queue.lockBusy), 'share'),
      unbudgeted('admit-stalls', queue.stalls, 'passes'),
      unbudgeted('retire-gave-up', queue.retireGaveUp, 'instances'),
      unbudgeted('surges-held-for-retirements', queue.retirersFirst.refusals, 'refusals'),
      unbudgeted('heartbeats-per-instance', round2(queue.heartbeats.total / n), 'calls'),
      unbudgeted('launch-token-wait', Math.round(queue.launchWait.max), 's'),
      unbudgeted('health-checks-per-instance', queue.healthChecks.max, 'checks'),
      unbudgeted('waves', queue.raises.length, 'raises'),
      unbudgeted('before-queue.polling', Math.round(polling.inService), 's'),
      unbudgeted('before-queue.blocked', polling.blocked, 'instances'),
      unbudgeted('before-queue.transitions-per-instance', polling.transitions.max, 'transitions'),
      unbudgeted('before-queue.lease-calls-per-instance', polling.leaseCalls.max, 'calls'),
    );
    rows.push([
      n.toLocaleString('en-US'),
      String(k),
      duration(queue.inService),
      duration(queue.seconds),
      duration(baseline),
      `${(phoenix.ratio ?? 0).toFixed(3)}x`,
      String(queue.blocked),
      String(queue.rolledBack + queue.failed),
      `${queue.transitions.max} (${queue.transitions.mean.toFixed(1)})`,
      `${queue.leaseCalls.max} (${queue.leaseCalls.mean.toFixed(1)})`,
      `${queue.granterReads.max} (${queue.granterReads.mean.toFixed(1)})`,
      polling.blocked > 0
        ? `${duration(polling.inService)}, ${polling.blocked} blocked`
        : `${duration(polling.inService)}, ${polling.transitions.max} tr.`,
    ]);
    lockNotes.push(
      `${n.toLocaleString('en-US')}: ${queue.raises.length} waves (largest ${Math.max(0, ...queue.raises)}), ` +
        `health checks up to ${queue.healthChecks.max} (mean ${queue.healthChecks.mean.toFixed(1)}); ` +
        `group lock held ${(queue.lockBusy * 100).toFixed(0)}% of the roll; ` +
        `RetireOld retried the lock up to ${queue.lockRetries.max} times (mean ${queue.lockRetries.mean.toFixed(1)}), ` +
        `${queue.retireGaveUp} gave up (rolled back); ${queue.stalls} admit passes stopped by a retirement holding the lock; ` +
        `retirements first: ${queue.retirersFirst.refusals} surges held off (parked or a pass stopped) while retirements waited, ` +
        `at most ${queue.retirersFirst.mostWaiting} waiting at once, the lock free ${duration(queue.retirersFirst.lockFreeSeconds)} ` +
        `waiting for their next try; ` +
        `the queue stood still ${duration(queue.idleSeconds)} (a lease and the lock free, nobody admitting); ` +
        `longest wait for a lease ${duration(queue.leaseWait.max)}, ${queue.heartbeats.total} heartbeats ` +
        `(at most ${queue.heartbeats.maxPerInstance} an instance), sweep ${queue.sweeper.passes} passes; ` +
        `launches waited up to ${Math.round(queue.launchWait.max)} s for a token`,
    );
    for (const { name, label, whatIf } of WHAT_IFS) {
      const run = estimateFleet({
        ...fleet,
        admission: QUEUE_ADMISSION,
        whatIf,
        trials: queueTrials,
        seed: SEED,
      });
      results.push(
        unbudgeted(`what-if-${name}.phoenix`, Math.round(run.inService), 's'),
        unbudgeted(`what-if-${name}.ratio`, round3(run.inService / baseline), 'x'),
        unbudgeted(`what-if-${name}.transitions-per-instance`, run.transitions.max, 'transitions'),
        unbudgeted(`what-if-${name}.rolled-back`, run.rolledBack + run.failed, 'instances'),
      );
      whatIfRows.push(
        `${n.toLocaleString('en-US')} ${label}: ${duration(run.inService)} (${(run.inService / baseline).toFixed(3)}x), ` +
          `${run.blocked} blocked, ${run.rolledBack + run.failed} rolled back (${run.retireGaveUp} RetireOld gave up), ` +
          `${run.transitions.max} transitions at most (mean ${run.transitions.mean.toFixed(1)}), ` +
          `${run.leaseCalls.max} queue calls at most (mean ${run.leaseCalls.mean.toFixed(1)}), ` +
          `lock retries at most ${run.lockRetries.max} (mean ${run.lockRetries.mean.toFixed(1)}), ` +
          `lock held ${(run.lockBusy * 100).toFixed(0)}%, stood still ${duration(run.idleSeconds)}, ` +
          `launches waited up to ${Math.round(run.launchWait.max)} s for a token, ` +
          `health checks up to ${run.healthChecks.max} (mean ${run.healthChecks.mean.toFixed(1)}), ${run.raises.length} raises`,
      );
    }
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
    'old drained',
    'refresh',
    'ratio',
    'blocked',
    'rolled back',
    'transitions max (mean)',
    'queue calls max (mean)',
    'granter reads max (mean)',
    'before: polling',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  const claimAfter = atOnce.claimedAt;
  return {
    results,
    profile,
    rolls,
    notes: [
      `one remediation on AWS: ${timeline.beforeLease.toFixed(1)} s to the lease, ${atOnce.holdingLease.toFixed(1)} s holding it ` +
        `(${atOnce.healthChecks} health checks every ${options.recorded.timings.healthCheckIntervalSeconds} s when its launch does not wait), ` +
        `${timeline.afterRelease.toFixed(1)} s after (the group drains the old instance ${aws.deregistrationDelay} s); ` +
        `${atOnce.transitions} state transitions with the health-check rounds`,
      `the group's lock: a wave holds it from its founding grant to its last member's release, RetireOld never waiting for it ` +
        `(it marks itself retiring, ${lock.holdSeconds} s with the hand-back and the release); ` +
        `before waves, held ${claimAfter.toFixed(1)} s from a surge's lease to its claim (the group lists the instance ${aws.groupListsInstance} s ` +
        `after the raise, found by the health check after it), RetireOld holding it ${lock.holdSeconds} s, retrying a busy lock ` +
        `${lock.retireRetry.MaxAttempts ?? 3} times from ${lock.retireRetry.IntervalSeconds ?? 1} s, x${lock.retireRetry.BackoffRate ?? 2}, ` +
        `capped at ${lock.retireRetry.MaxDelaySeconds ?? '-'} s, jitter ${lock.retireRetry.JitterStrategy ?? 'NONE'}; ` +
        `retirements first (07f9b81): a refused one registers, and no surge takes the lock while any is registered ` +
        `(the set lapses ${lock.retirerWaitSeconds} s after the last refusal); ` +
        `a granter's reads and recheck ${lock.granterSeconds} s`,
      `maxConcurrent ${MAX_CONCURRENT_PERCENT}%, minHealthyPercent ${MIN_HEALTHY_PERCENT}, ${AVAILABILITY_ZONES} AZs; ` +
        `RunInstances tokens ${RUN_INSTANCES_RESOURCE_TOKENS.size}, +${RUN_INSTANCES_RESOURCE_TOKENS.refillPerSecond}/s, for Phoenix and instance refresh; ` +
        `refresh at ${REFRESH_MIN_HEALTHY_PERCENT}% minimum healthy, warm-up 0 s (the ratio's baseline); ` +
        `converged: every instance in service new at full capacity (Phoenix: the last old instance handed back; ` +
        `"old drained" adds its ${aws.deregistrationDelay} s drain and termination, unbudgeted); ` +
        `the queue the median of ${queueTrials} seeded trials, the before of ${trials}`,
      line(header),
      ...rows.map(line),
      'the group lock:',
      ...lockNotes.map((w) => `  ${w}`),
      'what-ifs (no budget): before waves, before 07f9b81, before e8871a5, and not built:',
      ...whatIfRows.map((w) => `  ${w}`),
    ],
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
