/**
 * Benchmark 5, the convergence model: time for N drifted instances to converge with
 * `maxConcurrent` k, computed from the step sequence the remediation benchmark recorded
 * (see lib/convergence-model.ts for the model and its sources), beside an Auto Scaling
 * instance refresh at the same minimum healthy percentage. Nothing is slept.
 */
import {
  estimateFleet,
  type FleetEstimate,
  instanceRefreshSeconds,
  type PathStep,
  profileFromPath,
  REALISTIC_AWS_TIMINGS,
  type RemediationProfile,
  type RetryRule,
  refreshBatchSize,
  type StepRole,
} from './lib/convergence-model';
import type { Progress } from './lib/progress';
import type { BenchResult } from './lib/results';
import type { RecordedRemediation, StateInfo } from './remediation';

export const FLEET_SIZES = [6, 20, 100] as const;
export const CONCURRENCY = [1, 2, 5] as const;
/** Phoenix's default and instance refresh's default minimum healthy percentage. */
export const MIN_HEALTHY_PERCENT = 90;
/** Instance warm-ups shown for instance refresh: none, and the console's default grace period. */
export const REFRESH_WARMUPS = [0, 300] as const;
const TRIALS = 201;
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

function kindOf(state: StateInfo | undefined): PathStep['kind'] {
  if (state === undefined) return 'other';
  if (state.type === 'Wait') return 'wait';
  if (state.type !== 'Task') return 'other';
  return state.resource?.includes(':states:::aws-sdk:') === true ? 'sdk' : 'lambda';
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

/** The back-off a denied lease follows: AcquireLease's Retry rule for LeaseDeniedError. */
export function leaseRetryOf(states: ReadonlyMap<string, StateInfo>): RetryRule {
  const rule = states.get('AcquireLease')?.retry?.find((r) => r.ErrorEquals?.includes('LeaseDeniedError'));
  if (rule === undefined) throw new Error('the definition has no LeaseDeniedError retry on AcquireLease');
  return rule as RetryRule;
}

export interface ConvergenceOutcome {
  results: BenchResult[];
  notes: string[];
  /** One remediation on AWS as the model timed it (its transitions include the health-check rounds). */
  profile: RemediationProfile;
}

function minutes(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 60).toFixed(1)} min`;
}

export function convergenceBench(options: {
  recorded: RecordedRemediation;
  progress: Progress;
}): ConvergenceOutcome {
  options.progress.say('convergence: modelling fleets from the recorded remediation');
  const aws = REALISTIC_AWS_TIMINGS;
  const path = pathOf(options.recorded);
  const profile = profileFromPath(path, aws, options.recorded.timings);
  const groupDrains = path.some((step) => step.role === 'group-drain');
  const leaseRetry = leaseRetryOf(options.recorded.states);
  const results: BenchResult[] = [];
  const rows: string[][] = [];
  const estimates: FleetEstimate[] = [];
  for (const n of FLEET_SIZES) {
    const refresh = REFRESH_WARMUPS.map((warmupSeconds) =>
      instanceRefreshSeconds({ n, minHealthyPercent: MIN_HEALTHY_PERCENT, aws, warmupSeconds }),
    );
    for (const k of CONCURRENCY) {
      const estimate = estimateFleet({
        n,
        k,
        profile,
        leaseRetry,
        attemptSeconds: aws.lambdaTask,
        trials: TRIALS,
        seed: SEED,
      });
      estimates.push(estimate);
      results.push({
        name: `convergence.n${n}.k${k}.phoenix`,
        value: Math.round(estimate.seconds),
        unit: 's',
        budget: null,
      });
      if (estimate.blocked > 0) {
        results.push({
          name: `convergence.n${n}.k${k}.blocked`,
          value: estimate.blocked,
          unit: 'instances',
          budget: null,
        });
      }
      rows.push([
        String(n),
        String(k),
        estimate.blocked > 0
          ? `${n - estimate.blocked} in ${minutes(estimate.seconds)}, ${estimate.blocked} blocked`
          : minutes(estimate.seconds),
        `${refreshBatchSize(n, MIN_HEALTHY_PERCENT)}`,
        ...refresh.map(minutes),
      ]);
    }
    REFRESH_WARMUPS.forEach((warmup, i) => {
      results.push({
        name: `convergence.n${n}.instance-refresh-warmup-${warmup}s`,
        value: Math.round(refresh[i] ?? 0),
        unit: 's',
        budget: null,
      });
    });
  }
  const header = [
    'N',
    'k',
    'Phoenix',
    'refresh batch',
    ...REFRESH_WARMUPS.map((w) => `refresh, warm-up ${w} s`),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return {
    results,
    profile,
    notes: [
      `one remediation on AWS: ${profile.beforeLease.toFixed(1)} s to the lease, ${profile.holdingLease.toFixed(1)} s holding it ` +
        `(${profile.healthChecks} health checks every ${options.recorded.timings.healthCheckIntervalSeconds} s), ` +
        `${profile.afterLease.toFixed(1)} s after (${
          groupDrains
            ? `the group drains the old instance ${aws.deregistrationDelay} s`
            : `drain ${Math.min(aws.deregistrationDelay, options.recorded.timings.maxDrainSeconds)} s inside the lease`
        }); ${profile.transitions} state transitions with the health-check rounds`,
      `lease back-off: ${leaseRetry.MaxAttempts ?? 3} retries from ${leaseRetry.IntervalSeconds ?? 1} s, x${leaseRetry.BackoffRate ?? 2}, ` +
        `capped at ${leaseRetry.MaxDelaySeconds ?? '-'} s, jitter ${leaseRetry.JitterStrategy ?? 'NONE'}; median of ${
          estimates[0]?.trials ?? 1
        } seeded trials`,
      line(header),
      ...rows.map(line),
    ],
  };
}
