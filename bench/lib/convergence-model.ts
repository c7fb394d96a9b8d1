/**
 * The convergence model: how long a fleet of N drifted instances takes to converge when
 * Phoenix replaces at most k at a time, with realistic AWS timings, computed (never slept)
 * from the step sequence a real remediation recorded; and, beside it, how long an Auto
 * Scaling instance refresh takes at the same minimum healthy percentage.
 *
 * Phoenix: every drifted instance's execution starts at once (one sweep or one template
 * change finds them all) and walks the recorded path. The budget lease admits k at a time;
 * a denied execution retries `AcquireLease` on the definition's own back-off (interval ×
 * rate^(attempt−1), capped, with full jitter when the definition says so) and, out of
 * attempts, ends "blocked". Jitter makes each run different, so the fleet is simulated
 * over many seeded trials and the median reported.
 *
 * Instance refresh (AWS's documented behaviour with default preferences: minimum healthy
 * percentage P, maximum healthy 100 %, so terminate-then-launch): it replaces
 * max(1, N − ⌈N·P/100⌉) instances per batch; each batch drains (deregistration delay),
 * launches, waits for the first health check and then for the instance warm-up before the
 * next batch starts.
 */

/** Realistic AWS timings, seconds. */
export interface AwsTimings {
  /** RunInstances (or a capacity raise) until the instance is running. */
  launchToRunning: number;
  /** From running to the first passing load balancer health check. */
  firstHealthCheck: number;
  /** The target group's deregistration delay (connection draining). */
  deregistrationDelay: number;
  /** One Lambda task of the state machine: invocation plus the AWS calls it makes. */
  lambdaTask: number;
  /** One direct SDK integration task. */
  sdkTask: number;
  /** Any other state (Choice, Pass, Map bookkeeping): the transition itself. */
  transition: number;
}

export const REALISTIC_AWS_TIMINGS: AwsTimings = {
  launchToRunning: 25,
  firstHealthCheck: 30,
  deregistrationDelay: 300,
  lambdaTask: 0.5,
  sdkTask: 0.3,
  transition: 0.05,
};

/** What a recorded state is for the model. */
export type StepRole =
  | 'acquire-lease'
  | 'launch'
  | 'health-check'
  | 'health-wait'
  | 'drain'
  /** The old instance handed back to its group with the lease released; the group drains and terminates it after. */
  | 'group-drain'
  | 'release-lease';

export interface PathStep {
  state: string;
  kind: 'lambda' | 'sdk' | 'wait' | 'other';
  role?: StepRole;
}

/** The execution's own waits, from its input (`timings`). */
export interface ExecutionTimings {
  healthCheckIntervalSeconds: number;
  healthCheckMaxAttempts: number;
  maxDrainSeconds: number;
}

/** One remediation on AWS, cut at the lease. */
export interface RemediationProfile {
  /** From the execution's start to the end of its first `AcquireLease` attempt. */
  beforeLease: number;
  /** From the lease being granted to the end of `ReleaseLease`. */
  holdingLease: number;
  /** From the release to the end of the execution. */
  afterLease: number;
  /** Health checks made before the replacement counted healthy. */
  healthChecks: number;
  /** States entered on AWS (the recorded path plus the extra health-check rounds). */
  transitions: number;
}

/** The recorded path does not have what the model needs: the model is out of step with the definition. */
export class ModelMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelMismatchError';
  }
}

function stepSeconds(step: PathStep, aws: AwsTimings): number {
  if (step.kind === 'lambda') return aws.lambdaTask;
  if (step.kind === 'sdk') return aws.sdkTask;
  return aws.transition;
}

/**
 * The time line of one remediation on AWS from its recorded path: each state takes its
 * kind's time; after the launch the health check is polled every interval until the
 * replacement is running and has passed its first check; the drain waits the
 * deregistration delay (bounded by the execution's maximum). A surge hands its old instance
 * back to the group instead: the group drains it (the full delay) and terminates it after
 * the lease is gone, so that wait counts towards convergence but holds no lease, and the
 * execution's own drain wait is then only for registrations made by hand (none here).
 */
export function profileFromPath(
  path: readonly PathStep[],
  aws: AwsTimings,
  timings: ExecutionTimings,
): RemediationProfile {
  for (const role of ['acquire-lease', 'launch', 'health-check', 'release-lease'] as const) {
    // Handing the old instance back to its group releases the lease in the same step.
    const found = (s: PathStep) => s.role === role || (role === 'release-lease' && s.role === 'group-drain');
    if (!path.some(found)) {
      throw new ModelMismatchError(
        `the recorded path has no ${role} state: ${path.map((s) => s.state).join(' > ')}`,
      );
    }
  }
  let t = 0;
  let leaseAttemptEnd: number | undefined;
  let releasedAt: number | undefined;
  let launchedAt: number | undefined;
  let healthChecks = 0;
  let extraTransitions = 0;
  let healthChecked = false;
  const groupDrains = path.some((s) => s.role === 'group-drain');
  let groupDrain = 0;
  for (const step of path) {
    switch (step.role) {
      case 'acquire-lease':
        t += stepSeconds(step, aws);
        leaseAttemptEnd ??= t;
        break;
      case 'launch':
        t += stepSeconds(step, aws);
        launchedAt = t;
        break;
      case 'health-check': {
        if (healthChecked) break; // a recorded repeat: the loop below already models every round
        healthChecked = true;
        if (launchedAt === undefined) throw new ModelMismatchError('a health check before any launch');
        const healthyAt = launchedAt + aws.launchToRunning + aws.firstHealthCheck;
        for (;;) {
          t += stepSeconds(step, aws);
          healthChecks += 1;
          if (t >= healthyAt) break;
          if (healthChecks >= timings.healthCheckMaxAttempts) {
            throw new ModelMismatchError(
              `the replacement is not healthy after ${healthChecks} checks: the execution would roll back`,
            );
          }
          // Another round: the Choice that said "not yet", the Wait, the check again.
          t += aws.transition + timings.healthCheckIntervalSeconds;
          extraTransitions += 3;
        }
        break;
      }
      case 'health-wait':
        break; // modelled with the health check
      case 'drain':
        if (!groupDrains) t += Math.min(aws.deregistrationDelay, timings.maxDrainSeconds);
        break;
      case 'group-drain':
        t += stepSeconds(step, aws);
        groupDrain = aws.deregistrationDelay;
        // The old instance goes back to its group with the lease released in the same step.
        releasedAt ??= t;
        break;
      case 'release-lease':
        t += stepSeconds(step, aws);
        releasedAt ??= t;
        break;
      default:
        t += stepSeconds(step, aws);
    }
  }
  if (leaseAttemptEnd === undefined || releasedAt === undefined) {
    throw new ModelMismatchError('the lease was never taken or never released');
  }
  return {
    beforeLease: leaseAttemptEnd,
    holdingLease: releasedAt - leaseAttemptEnd,
    afterLease: t - releasedAt + groupDrain,
    healthChecks,
    transitions: path.length + extraTransitions,
  };
}

/** A Step Functions `Retry` rule, as the definition states it. */
export interface RetryRule {
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}

/** The delay before retry `attempt` (1-based), before jitter, as Step Functions computes it. */
export function retryDelay(rule: RetryRule, attempt: number): number {
  const base = (rule.IntervalSeconds ?? 1) * (rule.BackoffRate ?? 2) ** (attempt - 1);
  return rule.MaxDelaySeconds === undefined ? base : Math.min(base, rule.MaxDelaySeconds);
}

/** A small seeded generator (mulberry32): the same seed, the same trials, the same figures. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FleetRun {
  converged: number;
  blocked: number;
  /** When the last replaced instance's execution ended (0 when none was replaced). */
  seconds: number;
}

/** One simulated fleet: N executions started at once, k leases, the lease back-off. */
export function simulateFleet(options: {
  n: number;
  k: number;
  profile: RemediationProfile;
  leaseRetry: RetryRule;
  /** Seconds one AcquireLease attempt takes (a denied attempt costs it too). */
  attemptSeconds: number;
  random: () => number;
}): FleetRun {
  const { n, k, profile, leaseRetry } = options;
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(k) && k >= 1)) {
    throw new RangeError(`a fleet needs n >= 0 and k >= 1 (integers), got n=${n} k=${k}`);
  }
  const maxRetries = leaseRetry.MaxAttempts ?? 3;
  const jitter = leaseRetry.JitterStrategy === 'FULL';
  // Pending attempts (time, execution, retries so far) and lease releases (time).
  const attempts = Array.from({ length: n }, (_, id) => ({ at: profile.beforeLease, id, retries: 0 }));
  const releases: number[] = [];
  let held = 0;
  let converged = 0;
  let blocked = 0;
  let seconds = 0;
  while (attempts.length > 0) {
    attempts.sort((a, b) => a.at - b.at || a.id - b.id);
    const next = attempts.shift();
    if (next === undefined) break;
    // Leases released by now are free for this attempt.
    releases.sort((a, b) => a - b);
    while (releases.length > 0 && (releases[0] as number) <= next.at) {
      releases.shift();
      held -= 1;
    }
    if (held < k) {
      held += 1;
      const releasedAt = next.at + profile.holdingLease;
      releases.push(releasedAt);
      converged += 1;
      seconds = Math.max(seconds, releasedAt + profile.afterLease);
    } else if (next.retries < maxRetries) {
      const retries = next.retries + 1;
      const delay = retryDelay(leaseRetry, retries) * (jitter ? options.random() : 1);
      attempts.push({ at: next.at + delay + options.attemptSeconds, id: next.id, retries });
    } else {
      blocked += 1;
    }
  }
  return { converged, blocked, seconds };
}

export interface FleetEstimate {
  n: number;
  k: number;
  /** Median over trials of the time until the last replaced instance is done. */
  seconds: number;
  /** Median over trials of the instances left blocked (lease back-off exhausted). */
  blocked: number;
  trials: number;
}

/** The median fleet over `trials` seeded runs (one run when the back-off has no jitter). */
export function estimateFleet(options: {
  n: number;
  k: number;
  profile: RemediationProfile;
  leaseRetry: RetryRule;
  attemptSeconds: number;
  trials: number;
  seed: number;
}): FleetEstimate {
  const trials = options.leaseRetry.JitterStrategy === 'FULL' ? options.trials : 1;
  const random = seededRandom(options.seed);
  const runs = Array.from({ length: trials }, () => simulateFleet({ ...options, random }));
  const middle = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)] as number;
  };
  return {
    n: options.n,
    k: options.k,
    seconds: middle(runs.map((r) => r.seconds)),
    blocked: middle(runs.map((r) => r.blocked)),
    trials,
  };
}

/** Instances an instance refresh replaces per batch at a minimum healthy percentage. */
export function refreshBatchSize(n: number, minHealthyPercent: number): number {
  return Math.max(1, n - Math.ceil((n * minHealthyPercent) / 100));
}

/** Seconds an instance refresh (terminate-then-launch batches) takes for N instances. */
export function instanceRefreshSeconds(options: {
  n: number;
  minHealthyPercent: number;
  aws: AwsTimings;
  warmupSeconds: number;
}): number {
  if (options.n === 0) return 0;
  const batches = Math.ceil(options.n / refreshBatchSize(options.n, options.minHealthyPercent));
  const perBatch =
    options.aws.deregistrationDelay +
    options.aws.launchToRunning +
    options.aws.firstHealthCheck +
    options.warmupSeconds;
  return batches * perBatch;
}
