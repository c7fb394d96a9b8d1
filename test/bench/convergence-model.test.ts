import { describe, expect, it } from 'vitest';
import {
  type AwsTimings,
  estimateFleet,
  instanceRefreshSeconds,
  ModelMismatchError,
  type PathStep,
  profileFromPath,
  type RemediationProfile,
  refreshBatchSize,
  retryDelay,
  seededRandom,
  simulateFleet,
} from '../../bench/lib/convergence-model';

/** Round numbers so expected times can be worked out by hand. */
const AWS: AwsTimings = {
  launchToRunning: 25,
  firstHealthCheck: 30,
  deregistrationDelay: 300,
  lambdaTask: 1,
  sdkTask: 1,
  transition: 0,
};
const TIMINGS = { healthCheckIntervalSeconds: 15, healthCheckMaxAttempts: 40, maxDrainSeconds: 300 };

const PATH: PathStep[] = [
  { state: 'Recheck', kind: 'lambda' },
  { state: 'Decide', kind: 'other' },
  { state: 'AcquireLease', kind: 'lambda', role: 'acquire-lease' },
  { state: 'Launch', kind: 'sdk', role: 'launch' },
  { state: 'CheckHealth', kind: 'lambda', role: 'health-check' },
  { state: 'Healthy', kind: 'other' },
  { state: 'Drain', kind: 'wait', role: 'drain' },
  { state: 'Terminate', kind: 'sdk' },
  { state: 'ReleaseLease', kind: 'lambda', role: 'release-lease' },
  { state: 'Report', kind: 'lambda' },
  { state: 'Done', kind: 'other' },
];

describe('profileFromPath', () => {
  it('times each state by its kind and polls the health check until the replacement is healthy', () => {
    // Lease attempt ends at 2 s. Launch ends at 3 s, healthy at 3 + 25 + 30 = 58 s.
    // Checks end at 4, 20, 36, 52, 68 s (1 s each, 15 s apart): the fifth sees it healthy.
    // Then drain 300 s (368), terminate (369), release (370); report (371).
    const profile = profileFromPath(PATH, AWS, TIMINGS);
    expect(profile).toEqual({
      beforeLease: 2,
      holdingLease: 368,
      afterLease: 1,
      healthChecks: 5,
      transitions: PATH.length + 4 * 3,
    });
  });

  it('bounds the drain by the execution’s maximum', () => {
    const short = profileFromPath(PATH, AWS, { ...TIMINGS, maxDrainSeconds: 60 });
    expect(short.holdingLease).toBe(368 - 240);
  });

  it("counts the group's own drain of a surge's old instance after the lease, and no drain inside it", () => {
    // A surge: the same up to the health check (68 s), the execution's drain wait is for
    // hand-made registrations only (none), the old instance goes back to the group with the
    // lease released in the same step (69 s), the report (70 s); the group drains 300 s meanwhile.
    const surge: PathStep[] = [
      ...PATH.slice(0, 7),
      { state: 'RetireOld', kind: 'lambda', role: 'group-drain' },
      ...PATH.slice(9),
    ];
    expect(profileFromPath(surge, AWS, TIMINGS)).toMatchObject({
      beforeLease: 2,
      holdingLease: 67,
      afterLease: 1 + 300,
    });
  });

  it('models the loop once even when the recording went round it', () => {
    const looped: PathStep[] = [
      ...PATH.slice(0, 6),
      { state: 'WaitBeforeNextHealthCheck', kind: 'wait', role: 'health-wait' },
      { state: 'CheckHealth', kind: 'lambda', role: 'health-check' },
      ...PATH.slice(5),
    ];
    expect(profileFromPath(looped, AWS, TIMINGS).holdingLease).toBe(368);
  });

  it('says so when the recorded path lacks a state the model needs', () => {
    const withoutLease = PATH.filter((s) => s.role !== 'acquire-lease');
    expect(() => profileFromPath(withoutLease, AWS, TIMINGS)).toThrow(ModelMismatchError);
  });

  it('refuses a replacement that would never pass its checks in time', () => {
    expect(() => profileFromPath(PATH, AWS, { ...TIMINGS, healthCheckMaxAttempts: 2 })).toThrow(/roll back/);
  });
});

describe('retryDelay', () => {
  it.each([
    { attempt: 1, delay: 30 },
    { attempt: 2, delay: 60 },
    { attempt: 5, delay: 480 },
    { attempt: 6, delay: 600 },
    { attempt: 7, delay: 600 },
  ])('is interval × rate^(attempt−1), capped: attempt $attempt waits $delay s', ({ attempt, delay }) => {
    expect(retryDelay({ IntervalSeconds: 30, BackoffRate: 2, MaxDelaySeconds: 600 }, attempt)).toBe(delay);
  });
});

const PROFILE: RemediationProfile = {
  beforeLease: 0,
  holdingLease: 100,
  afterLease: 0,
  healthChecks: 1,
  transitions: 20,
};
const NO_JITTER = {
  IntervalSeconds: 10,
  BackoffRate: 2,
  MaxAttempts: 10,
  MaxDelaySeconds: 1000,
  JitterStrategy: 'NONE' as const,
};
const never = () => {
  throw new Error('no randomness without jitter');
};

describe('simulateFleet', () => {
  it('replaces k at a time and lets a retry take a lease freed before it', () => {
    // k = 2, 3 instances: two leases at 0 s (free at 100 s). The third retries at
    // 10, 30, 70, 150 s (10, 20, 40, 80 apart): it gets a lease at 150 s and ends at 250 s.
    const run = simulateFleet({
      n: 3,
      k: 2,
      profile: PROFILE,
      leaseRetry: NO_JITTER,
      attemptSeconds: 0,
      random: never,
    });
    expect(run).toEqual({ converged: 3, blocked: 0, seconds: 250 });
  });

  it('blocks the executions whose back-off runs out before a lease frees', () => {
    const impatient = { ...NO_JITTER, MaxAttempts: 2 }; // gives up after 10 + 20 = 30 s
    const run = simulateFleet({
      n: 4,
      k: 1,
      profile: PROFILE,
      leaseRetry: impatient,
      attemptSeconds: 0,
      random: never,
    });
    expect(run).toEqual({ converged: 1, blocked: 3, seconds: 100 });
  });

  it('converges every instance when k covers the fleet', () => {
    const run = simulateFleet({
      n: 5,
      k: 5,
      profile: PROFILE,
      leaseRetry: NO_JITTER,
      attemptSeconds: 0,
      random: never,
    });
    expect(run).toEqual({ converged: 5, blocked: 0, seconds: 100 });
  });

  it('does nothing for an empty fleet and refuses k below 1', () => {
    expect(
      simulateFleet({
        n: 0,
        k: 1,
        profile: PROFILE,
        leaseRetry: NO_JITTER,
        attemptSeconds: 0,
        random: never,
      }),
    ).toEqual({
      converged: 0,
      blocked: 0,
      seconds: 0,
    });
    expect(() =>
      simulateFleet({
        n: 1,
        k: 0,
        profile: PROFILE,
        leaseRetry: NO_JITTER,
        attemptSeconds: 0,
        random: never,
      }),
    ).toThrow(RangeError);
  });
});

describe('estimateFleet', () => {
  const options = {
    n: 6,
    k: 1,
    profile: PROFILE,
    leaseRetry: { ...NO_JITTER, JitterStrategy: 'FULL' as const },
    attemptSeconds: 0,
    trials: 51,
    seed: 7,
  };

  it('gives the same figures for the same seed', () => {
    expect(estimateFleet(options)).toEqual(estimateFleet(options));
  });

  it('never beats the ideal of back-to-back replacements', () => {
    expect(estimateFleet(options).seconds).toBeGreaterThanOrEqual(6 * PROFILE.holdingLease);
  });

  it('runs a single trial when the back-off has no jitter', () => {
    expect(estimateFleet({ ...options, leaseRetry: NO_JITTER }).trials).toBe(1);
  });
});

describe('seededRandom', () => {
  it('repeats for a seed and stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const values = Array.from({ length: 1000 }, () => a());
    expect(values).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('instance refresh', () => {
  it.each([
    { n: 6, batch: 1 },
    { n: 20, batch: 2 },
    { n: 100, batch: 10 },
    { n: 1, batch: 1 },
  ])('replaces $batch of $n at a time at 90 % minimum healthy', ({ n, batch }) => {
    expect(refreshBatchSize(n, 90)).toBe(batch);
  });

  it('takes, per batch, the drain, the launch, the first health check and the warm-up', () => {
    // 20 instances, batches of 2: 10 batches of 300 + 25 + 30 + 60 s.
    expect(instanceRefreshSeconds({ n: 20, minHealthyPercent: 90, aws: AWS, warmupSeconds: 60 })).toBe(
      10 * 415,
    );
  });

  it('takes no time for no instances', () => {
    expect(instanceRefreshSeconds({ n: 0, minHealthyPercent: 90, aws: AWS, warmupSeconds: 0 })).toBe(0);
  });
});
