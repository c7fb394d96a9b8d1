import { describe, expect, it } from 'vitest';
import {
  type AwsTimings,
  estimateFleet,
  type FleetOptions,
  type GroupLockRules,
  instanceRefreshSeconds,
  ModelMismatchError,
  nextAz,
  OP,
  type PathStep,
  profileFromPath,
  QUEUE_ADMISSION,
  type RemediationTimeline,
  type RetryRule,
  RUN_INSTANCES_RESOURCE_TOKENS,
  refreshBatchSize,
  replacementAt,
  retryDelay,
  seededRandom,
  simulateFleet,
  TokenBucket,
  timelineFromPath,
} from '../../bench/lib/convergence-model';

/** Round numbers so expected times can be worked out by hand. */
const AWS: AwsTimings = {
  launchToRunning: 25,
  firstHealthCheck: 30,
  deregistrationDelay: 300,
  lambdaTask: 1,
  sdkTask: 1,
  transition: 0,
  groupListsInstance: 5,
  granterReads: 1,
  retireLockHold: 1,
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

describe('timelineFromPath', () => {
  it('cuts the path at the lease, the launch, the first check and the release', () => {
    // Lease at 2 s, launch ends 3 s, first check ends 4 s, release at 370 s (68 + 302), end 371 s.
    expect(timelineFromPath(PATH, AWS, TIMINGS)).toEqual({
      beforeLease: 2,
      leaseToLaunch: 1,
      launchToFirstCheck: 1,
      healthRound: 16,
      boot: 55,
      healthCheckMaxAttempts: 40,
      healthyToRelease: 302,
      rollbackToRelease: 2,
      afterRelease: 1,
      pathTransitions: PATH.length,
      releaseStep: 1,
      groupLock: false,
      listedAfterLaunch: 0,
    });
  });

  it('marks a surge that hands its old instance back as holding its group lock, its instance listed after the launch', () => {
    const surge: PathStep[] = [
      ...PATH.slice(0, 7),
      { state: 'RetireOld', kind: 'lambda', role: 'group-drain' },
      ...PATH.slice(9),
    ];
    expect(timelineFromPath(surge, AWS, TIMINGS)).toMatchObject({
      releaseStep: 1,
      groupLock: true,
      listedAfterLaunch: 5,
    });
  });

  it('takes a lease step that waits for its task token as a Lambda task like any other', () => {
    const callback = PATH.map((s) => (s.role === 'acquire-lease' ? { ...s, kind: 'lambda' as const } : s));
    expect(timelineFromPath(callback, AWS, TIMINGS).beforeLease).toBe(2);
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

/**
 * A fleet's replacement in round numbers: the lease at 0 s, the launch asked for at once,
 * healthy 100 s after it launches, checked at 100 s and every 10 s after, released at the
 * passing check, 20 states on the path; no group lock.
 */
const TIMELINE: RemediationTimeline = {
  beforeLease: 0,
  leaseToLaunch: 0,
  launchToFirstCheck: 100,
  healthRound: 10,
  boot: 100,
  healthCheckMaxAttempts: 40,
  healthyToRelease: 0,
  rollbackToRelease: 0,
  afterRelease: 0,
  pathTransitions: 20,
  releaseStep: 0,
  groupLock: false,
  listedAfterLaunch: 0,
};

describe('replacementAt', () => {
  it('holds the lease from the grant to the passing check when the launch did not wait', () => {
    expect(replacementAt(TIMELINE, 0)).toEqual({
      holdingLease: 100,
      claimedAt: 100,
      healthChecks: 1,
      transitions: 20,
      rolledBack: false,
    });
  });

  it('goes round the health check while the instance waits for its launch, three transitions a round', () => {
    // Healthy at 25 + 100 s; checks at 100, 110, 120, 130 s.
    expect(replacementAt(TIMELINE, 25)).toEqual({
      holdingLease: 130,
      claimedAt: 100,
      healthChecks: 4,
      transitions: 29,
      rolledBack: false,
    });
  });

  it('claims a group’s instance at the first check after the group lists it', () => {
    // Checks at 10, 25, 40 s; listed 5 s after the launch: not at the check at 1 s... claimed at 16 s.
    const surge = { ...TIMELINE, launchToFirstCheck: 1, healthRound: 15, boot: 55, listedAfterLaunch: 5 };
    expect(replacementAt(surge, 0)).toMatchObject({ claimedAt: 16, healthChecks: 5, holdingLease: 61 });
    // Listed at once: the first check claims it.
    expect(replacementAt({ ...surge, listedAfterLaunch: 0 }, 0).claimedAt).toBe(1);
    // A launch that waited 20 s for its token is listed at 25 s: the check at 31 s claims it.
    expect(replacementAt(surge, 20).claimedAt).toBe(31);
  });

  it('refuses an instance listed after it is healthy', () => {
    expect(() => replacementAt({ ...TIMELINE, listedAfterLaunch: 101 }, 0)).toThrow(RangeError);
  });

  it('rolls back when the instance is not healthy within the attempts', () => {
    const short = { ...TIMELINE, healthCheckMaxAttempts: 5, rollbackToRelease: 3 };
    // Checks at 100..140 s, healthy only at 200 s: the fifth check fails, the rollback releases 3 s later.
    expect(replacementAt(short, 100)).toEqual({
      holdingLease: 143,
      // Listed when it launched, at 100 s: the first check claimed it.
      claimedAt: 100,
      healthChecks: 5,
      transitions: 32,
      rolledBack: true,
    });
  });
});

describe('TokenBucket (EC2 resource tokens)', () => {
  it('launches 1,000 at once and delays the 1,001st by the refill: half a second at 2 a second', () => {
    const bucket = new TokenBucket(RUN_INSTANCES_RESOURCE_TOKENS);
    const launched = Array.from({ length: 1002 }, () => bucket.take(0));
    expect(launched.slice(0, 1000).every((t) => t === 0)).toBe(true);
    expect(launched[1000]).toBeCloseTo(0.5, 9);
    expect(launched[1001]).toBeCloseTo(1, 9);
  });

  it('refills while nothing launches, never above its size', () => {
    const bucket = new TokenBucket({ size: 10, refillPerSecond: 1 });
    for (let i = 0; i < 10; i++) bucket.take(0);
    const after = Array.from({ length: 11 }, () => bucket.take(100));
    expect(after.slice(0, 10).every((t) => t === 100)).toBe(true);
    expect(after[10]).toBeCloseTo(101, 9);
  });

  it('serves launches in the order they were asked for', () => {
    const bucket = new TokenBucket({ size: 1, refillPerSecond: 1 });
    expect([bucket.take(0), bucket.take(0), bucket.take(0.5)]).toEqual([0, 1, 2]);
  });

  it('refuses a bucket that never refills', () => {
    expect(() => new TokenBucket({ size: 10, refillPerSecond: 0 })).toThrow(RangeError);
  });
});

describe('nextAz', () => {
  it.each([
    {
      heads: [5, 3, undefined],
      inFlight: [0, 1, 0],
      az: 0,
      why: 'the AZ with fewest in flight, though its head is younger',
    },
    { heads: [5, 3, 9], inFlight: [1, 1, 0], az: 2, why: 'the AZ with fewest in flight' },
    { heads: [5, 3, 9], inFlight: [1, 1, 1], az: 1, why: 'a tie goes to the older head' },
    { heads: [undefined, 7, undefined], inFlight: [0, 4, 0], az: 1, why: 'the only AZ with a waiter' },
    { heads: [undefined, undefined], inFlight: [0, 0], az: undefined, why: 'nobody waits' },
  ])('grants $az: $why', ({ heads, inFlight, az }) => {
    expect(nextAz(heads, inFlight)).toBe(az);
  });
});

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
/** No time for the granter or the lock: the queue alone. */
const INSTANT: GroupLockRules = {
  retireRetry: NO_JITTER,
  rollbackRetry: NO_JITTER,
  attemptSeconds: 0,
  holdSeconds: 0,
  granterSeconds: 0,
  retirerWaitSeconds: 300,
};

const queue = (n: number, k: number, more: Partial<FleetOptions> = {}) =>
  simulateFleet({
    n,
    k,
    azs: 3,
    timeline: TIMELINE,
    admission: QUEUE_ADMISSION,
    lock: INSTANT,
    random: never,
    ...more,
  });

describe('simulateFleet with the queue', () => {
  it('grants k at once, then one slot per release', () => {
    const run = queue(30, 10);
    expect(run).toMatchObject({ replaced: 30, blocked: 0, rolledBack: 0, seconds: 300 });
    expect(run.grants.map((g) => g.at)).toEqual([
      ...Array<number>(10).fill(0),
      ...Array<number>(10).fill(100),
      ...Array<number>(10).fill(200),
    ]);
  });

  it('never blocks a waiter because the fleet is busy, however long it waits: the sweep heartbeats it', () => {
    // One at a time, 100 s each: the last waits 19,900 s, heartbeaten at 1,800 s, 3,600 s ... 19,800 s.
    const run = queue(200, 1);
    expect(run).toMatchObject({ replaced: 200, blocked: 0 });
    expect(run.heartbeats.maxPerInstance).toBe(11);
    expect(run.leaseWait.max).toBe(19_900);
  });

  it('loses a waiter whose heartbeat comes later than the task allows', () => {
    // A sweep every 4,000 s cannot heartbeat within HeartbeatSeconds (3,600 s).
    const run = queue(200, 1, { admission: { ...QUEUE_ADMISSION, sweeperSeconds: 4000 } });
    expect(run.blocked).toBeGreaterThan(0);
  });

  it('spends no state transition on waiting: the last of 200 costs what the first does', () => {
    expect(queue(200, 1).transitions).toEqual({ max: 20, mean: 20 });
    expect(queue(1, 1).transitions.max).toBe(20);
  });

  it('serves each AZ oldest launch first', () => {
    // Launches that wait for tokens stagger the releases, so AZs drift apart.
    const run = queue(300, 30, { launchTokens: { size: 5, refillPerSecond: 1 } });
    for (let az = 0; az < 3; az++) {
      const ids = run.grants.filter((g) => g.az === az).map((g) => g.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    expect(run.replaced).toBe(300);
  });

  it('launches as many at once as the tokens allow, the rest at the refill, polled round the check meanwhile', () => {
    const run = queue(20, 20, { launchTokens: { size: 5, refillPerSecond: 1 } });
    // Five at once, then one a second: the 20th waits 15 s, polled round the check twice more.
    expect(run.launchWait.max).toBe(15);
    expect(run.transitions.max).toBe(20 + 3 * 2);
    expect(run.blocked + run.rolledBack).toBe(0);
  });

  it('rolls back a replacement whose launch waited past its health checks, and does not count it converged', () => {
    const run = queue(20, 20, {
      timeline: { ...TIMELINE, healthCheckMaxAttempts: 1 },
      launchTokens: { size: 5, refillPerSecond: 1 },
    });
    expect(run.rolledBack).toBe(15);
    expect(run.replaced).toBe(5);
  });
});

/**
 * A surge in round numbers: the lease at 0 s, the instance launched at once and listed by the
 * group 5 s later, the first check at 10 s claims it and sees it healthy, `RetireOld` (1 s)
 * starts `healthyToRelease` − 1 s after; no drain.
 */
const SURGE: RemediationTimeline = {
  ...TIMELINE,
  launchToFirstCheck: 10,
  boot: 10,
  healthyToRelease: 100,
  releaseStep: 1,
  groupLock: true,
  listedAfterLaunch: 5,
};
/** The granter takes 1 s to read and recheck, `RetireOld` holds the lock 0.5 s. */
const LOCKED: GroupLockRules = { ...INSTANT, granterSeconds: 1, holdSeconds: 0.5 };
/**
 * The lease and queue calls of an instance that parked and was granted by a pass it did not
 * run: its attempt and its park, the `admit` pass after its park (GetItem, one Query per
 * zone, the leases' Query, the try that ends it: a BatchGetItem and a transaction), its grant
 * (BatchGetItem, transaction, answer, task success, removal) and its release.
 */
const QUEUE_CALLS_OF_ONE_PARKED = 2 + (1 + 1 + 1 + 2) + 5 + 1;
/** Surges of one group with the lock taken surge by surge, as built before waves. */
const surges = (n: number, k: number, more: Partial<FleetOptions> = {}) =>
  queue(n, k, {
    azs: 1,
    timeline: SURGE,
    lock: LOCKED,
    ...more,
    whatIf: { perInstanceLock: true, ...more.whatIf },
  });

describe('simulateFleet with the group lock taken surge by surge (before waves)', () => {
  it('grants a group’s surges one at a time: each when the one before has claimed its instance, after the granter’s reads', () => {
    const run = surges(4, 4);
    // Claims at 10, 21, 32 s; the granter's recheck 1 s each.
    expect(run.grants.map((g) => g.at)).toEqual([0, 11, 22, 33]);
    expect(run).toMatchObject({ replaced: 4, blocked: 0, rolledBack: 0, stalls: 0 });
    // The last RetireOld starts at 33 + 110 − 1 s and takes 1 s.
    expect(run.seconds).toBe(143);
    expect(run.lockRetries.max).toBe(0);
  });

  it('counts a constant of lease and queue calls per instance, and three AWS reads per recheck', () => {
    const run = surges(4, 4);
    // #1: attempt 1, park 1, grant 5, release 1; two admit passes, after its park and after
    // its claim (its transaction sent again: someone waits), of GetItem, one Query per zone,
    // the leases' Query and the try that ends them (BatchGetItem, transaction): 8 + 1 + 2 × 5.
    // Its release (at 119 s, all granted by 33 s) sees nobody waiting and reads nothing.
    expect(run.leaseCalls.max).toBe(19);
    // Its own recheck when granted, and the failed tries of its two passes.
    expect(run.granterReads.max).toBe(9);
    // Each recheck: DescribeInstances, DescribeLaunchTemplateVersions, DescribeAutoScalingGroups, the gate's BatchGetItem.
    const rechecks = run.leaseCalls.byOperation[OP.batchGet];
    expect(run.granterReads.byOperation).toEqual({
      [OP.describeInstances]: rechecks,
      [OP.describeTemplate]: rechecks,
      [OP.describeGroup]: rechecks,
    });
  });

  it.each([100, 1_000])('makes at most the N = 100 count of queue calls for an instance at N = %i', (n) => {
    const run = queue(n, n / 10, { timeline: SURGE, lock: LOCKED, whatIf: { perInstanceLock: true } });
    expect(run.leaseCalls.max).toBe(1 + 1 + 5 + 1 + 2 + 3 * (1 + 3 + 1 + 2));
    expect(run.granterReads.max).toBe(12);
    // Every instance: one task success; every waiter: one answer (UpdateItem). The park and
    // the removal are transactions, with the queue's waiter count: no PutItem, no DeleteItem.
    expect(run.leaseCalls.byOperation[OP.taskSuccess]).toBe(n);
    expect(run.leaseCalls.byOperation[OP.update]).toBe(n - 1);
    expect(run.leaseCalls.byOperation[OP.put]).toBeUndefined();
    expect(run.leaseCalls.byOperation[OP.delete]).toBeUndefined();
  });

  it('reads nothing of the queue after a claim or a release when nobody waits', () => {
    // Its lease (a transaction and the answer) and its release: the claim's and the release's
    // own transactions said nobody waits.
    expect(surges(1, 1).leaseCalls.byOperation).toEqual({ [OP.transact]: 2, [OP.taskSuccess]: 1 });
    expect(queue(3, 3).leaseCalls.byOperation).toEqual({ [OP.transact]: 6, [OP.taskSuccess]: 3 });
  });

  it('admits on RetireOld’s release: the waiter goes at once, the queue never stands still', () => {
    // k = 1: the claim's admit at 10 s finds the budget used; RetireOld releases at 29.5 s,
    // sees the waiter in its transaction, sends it again and admits: granted after the reads.
    const run = surges(2, 1, { timeline: { ...SURGE, healthyToRelease: 20 } });
    expect(run.grants.map((g) => g.at)).toEqual([0, 30.5]);
    expect(run.idleSeconds).toBe(0);
    expect(run.seconds).toBe(30.5 + 10 + 20);
  });

  it('what-if RetireOld admitting nobody (before e8871a5): the queue stands still until the sweep', () => {
    const run = surges(2, 1, {
      timeline: { ...SURGE, healthyToRelease: 20 },
      whatIf: { retireAdmitsNobody: true },
    });
    expect(run.grants.map((g) => g.at)).toEqual([0, 301]);
    expect(run.idleSeconds).toBeCloseTo(300 - 29.5, 9);
  });

  it('stops a pass whose grant meets a RetireOld holding the lock, until that RetireOld’s release admits', () => {
    // #1 claims at 21 s; #0's RetireOld takes the lock at 21.5 s, inside the granter's second
    // (to 22.3 s with a 0.8 s hold): the grant of #2 at 22 s is refused and the pass stops.
    // The release at 22.3 s admits: #2 is granted after the reads, at 23.3 s.
    const options = { timeline: { ...SURGE, healthyToRelease: 12.5 }, lock: { ...LOCKED, holdSeconds: 0.8 } };
    const run = surges(3, 3, options);
    expect(run.stalls).toBe(1);
    expect(run.grants.map((g) => g.at)).toEqual([0, 11, expect.closeTo(23.3, 9)]);
    // Before e8871a5 the waiter waited for the sweep.
    const before = surges(3, 3, { ...options, whatIf: { retireAdmitsNobody: true } });
    expect(before.grants.map((g) => g.at)).toEqual([0, 11, 301]);
  });

  it('refuses a newcomer while others wait, even with a slot and the lock free', () => {
    // k = 1: #0 releases at 100 s and admits; its granter reads until 101 s. #2, arriving at
    // 100.5 s, finds the slot free but #1 waiting: it parks behind #1, who is granted at 101 s.
    const run = queue(3, 1, {
      azs: 1,
      lock: LOCKED,
      arriveAt: (id) => (id === 2 ? 100.5 : 0),
    });
    expect(run.grants.map((g) => [g.id, g.at])).toEqual([
      [0, 0],
      [1, 101],
      [2, 202],
    ]);
  });

  it('retries a RetireOld refused by a surge’s lock, each retry a transition, an invocation and the refused try’s calls', () => {
    // #0's RetireOld at 13 s meets #1's lock (11 to 21 s): retried at 23 s, 10 s later.
    const run = surges(2, 2, { timeline: { ...SURGE, healthyToRelease: 4 } });
    expect(run.lockRetries.max).toBe(1);
    expect(run.transitions.max).toBe(21);
    expect(run.extraInvocations.max).toBe(1);
    // The refused try: the lock's transaction and the registration among the waiting retirements.
    expect(run.lockRetries.byOperation).toEqual({ [OP.transact]: 1, [OP.update]: 1 });
    expect(run.replaced).toBe(2);
    // Before 07f9b81 the lock was a PutItem, and a refused retirement registered nowhere.
    const before = surges(2, 2, {
      timeline: { ...SURGE, healthyToRelease: 4 },
      whatIf: { retirementsNotFirst: true },
    });
    expect(before.lockRetries.byOperation).toEqual({ [OP.put]: 1 });
    expect(before.transitions.max).toBe(21);
  });

  it('retirements go first: no surge takes the lock a refused RetireOld waits for, though it is free', () => {
    // #0's RetireOld at 13 s meets #1's lock (11 to 21 s) and registers; #1's claim at 21 s
    // admits, but the try at 22 s is refused: a retirement waits. The lock stands free until
    // #0's retry at 23 s takes it (2 s); its release at 23.5 s admits, the try at 24.5 s
    // meets #1's RetireOld (from 24 s) holding it, whose release admits: #2 at 25.5 s.
    const options = { timeline: { ...SURGE, healthyToRelease: 4 } };
    const run = surges(3, 3, options);
    expect(run.grants.map((g) => g.at)).toEqual([0, 11, 25.5]);
    expect(run.retirersFirst).toEqual({ refusals: 1, lockFreeSeconds: 2, mostWaiting: 1 });
    expect(run.lockRetries.max).toBe(1);
    expect(run).toMatchObject({ replaced: 3, rolledBack: 0, idleSeconds: 0 });
    // Surges first (before 07f9b81): #2 takes the lock at 22 s, and #0's retry at 23 s meets
    // it again (to 32 s): retried once more, at 43 s.
    const before = surges(3, 3, { ...options, whatIf: { retirementsNotFirst: true } });
    expect(before.grants.map((g) => g.at)).toEqual([0, 11, 22]);
    expect(before.retirersFirst).toEqual({ refusals: 0, lockFreeSeconds: 0, mostWaiting: 0 });
    expect(before.lockRetries.max).toBe(2);
  });

  it('parks a newcomer whose lease a waiting retirement refuses, the lock free and nobody queued', () => {
    // #2 arrives at 22 s: nobody waits in the queue and the lock is free since #1's claim, but
    // #0's RetireOld (refused at 13 s) waits for it: #2 parks, and is granted after both
    // retirements, at 25.5 s. Surges first, it took the lock at once.
    const options = { timeline: { ...SURGE, healthyToRelease: 4 }, arriveAt: (id: number) => 11 * id };
    const run = surges(3, 3, options);
    expect(run.grants.map((g) => [g.id, g.at])).toEqual([
      [0, 0],
      [1, 11],
      [2, 25.5],
    ]);
    expect(run.retirersFirst.refusals).toBe(1);
    expect(run.leaseCalls.max).toBe(QUEUE_CALLS_OF_ONE_PARKED);
    const before = surges(3, 3, { ...options, whatIf: { retirementsNotFirst: true } });
    expect(before.grants.map((g) => [g.id, g.at])).toEqual([
      [0, 0],
      [1, 11],
      [2, 22],
    ]);
  });

  it('rolls back no healthy replacement for the lock where surges first roll back most of them', () => {
    // Ten leases, surges of 10 s, RetireOld 4 s after each claim with two retries (10 and 20 s
    // later): surges first, 27 of 30 run out of retries and roll back; retirements first, a
    // refused one gets the lock at its first retry, the surge holding it claimed by then.
    const options = {
      timeline: { ...SURGE, healthyToRelease: 4 },
      lock: { ...LOCKED, retireRetry: { ...NO_JITTER, MaxAttempts: 2 } },
    };
    const before = surges(30, 10, { ...options, whatIf: { retirementsNotFirst: true } });
    expect(before).toMatchObject({ replaced: 3, rolledBack: 27, retireGaveUp: 27 });
    const run = surges(30, 10, options);
    expect(run).toMatchObject({ replaced: 30, rolledBack: 0, retireGaveUp: 0, failed: 0 });
    expect(run.lockRetries.max).toBe(1);
    expect(run.transitions.max).toBe(21);
  });

  it('holds surges off for a retirement that died until the waiting retirements’ registration lapses', () => {
    // #0's RetireOld (13, 14 s) and its Rollback (14, 15 s) all meet #1's lock: the execution
    // fails and stays registered (a member leaves only by taking the lock). #1's RetireOld
    // takes the free lock at 24 s, but no surge may until the registration lapses, 300 s after
    // the last refusal (315 s); nobody admits before the sweep at 600 s.
    const once = { ...NO_JITTER, IntervalSeconds: 1, MaxAttempts: 1 };
    const options = {
      timeline: { ...SURGE, healthyToRelease: 4 },
      lock: { ...LOCKED, retireRetry: once, rollbackRetry: once },
    };
    const run = surges(3, 3, options);
    expect(run).toMatchObject({ replaced: 2, failed: 1 });
    expect(run.grants.map((g) => g.at)).toEqual([0, 11, 601]);
    // The queue stood still from the lapse to the sweep.
    expect(run.idleSeconds).toBe(600 - 315);
    // Surges first, #2 took the lock at 22 s.
    const before = surges(3, 3, { ...options, whatIf: { retirementsNotFirst: true } });
    expect(before.grants.map((g) => g.at)).toEqual([0, 11, 22]);
  });

  it('rolls back a healthy replacement whose RetireOld ran out of retries on the lock', () => {
    // #0's RetireOld at 13 s and its one retry at 14 s meet #1's lock (11 to 21 s): it gives up,
    // and the Rollback gets the lock on its first retry, at 24 s.
    const run = surges(2, 2, {
      timeline: { ...SURGE, healthyToRelease: 4 },
      lock: { ...LOCKED, retireRetry: { ...NO_JITTER, IntervalSeconds: 1, MaxAttempts: 1 } },
    });
    expect(run).toMatchObject({ replaced: 1, rolledBack: 1, retireGaveUp: 1, failed: 0 });
  });

  it('fails the execution whose Rollback runs out of retries too', () => {
    const once = { ...NO_JITTER, IntervalSeconds: 1, MaxAttempts: 1 };
    const run = surges(2, 2, {
      timeline: { ...SURGE, healthyToRelease: 4 },
      lock: { ...LOCKED, retireRetry: once, rollbackRetry: once },
    });
    expect(run).toMatchObject({ replaced: 1, rolledBack: 0, failed: 1 });
  });

  it('what-if RetireOld outside the lock: never refused by a surge', () => {
    const run = surges(2, 2, {
      timeline: { ...SURGE, healthyToRelease: 4 },
      whatIf: { retireWithoutLock: true },
    });
    expect(run.lockRetries.max).toBe(0);
    expect(run.transitions.max).toBe(20);
  });
});

/** Surges of one group in waves, as built. */
const waves = (n: number, k: number, more: Partial<FleetOptions> = {}) =>
  queue(n, k, { azs: 1, timeline: SURGE, lock: LOCKED, ...more });

describe('simulateFleet with waves (as built)', () => {
  it('holds the wave’s lock until its last member leaves, raises once per wave, answers a pass’s members at its end, and never makes RetireOld wait', () => {
    // #0 founds a wave at 0 s, #1 and #2 join it (the budget is 3); #3 to #5 park. #0's launch
    // raises by 3; one token every 10 s launches them at 0, 10 and 20 s: healthy at the
    // checks at 10, 20 and 30 s, retired (RetireOld 0.5 s) at 109.5, 119.5 and 129.5 s. The
    // first two releases free their slots and admit, but the wave still holds the lock: those
    // passes stop at once. The last frees it: its pass grants #3, #4 and #5 (1 s each) from
    // 130.5 s and answers all three when it ends, at 133.5 s: one raise of 3.
    // Token-blind (waves before the granter's estimate), so that launches wait inside a wave.
    const run = waves(6, 3, {
      launchTokens: { size: 1, refillPerSecond: 0.1 },
      whatIf: { tokenBlindWaves: true },
    });
    expect(run.grants.map((g) => [g.id, g.at])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 130.5],
      [4, 131.5],
      [5, 132.5],
    ]);
    expect(run.raises).toEqual([3, 3]);
    expect(run.leaseWait.max).toBe(133.5);
    // No retirement ever waited for the lock or registered; nothing rolled back.
    expect(run.lockRetries).toEqual({ max: 0, mean: 0, byOperation: {} });
    expect(run.retirersFirst).toEqual({ refusals: 0, lockFreeSeconds: 0, mostWaiting: 0 });
    expect(run).toMatchObject({ replaced: 6, rolledBack: 0, failed: 0, stalls: 0 });
    // The path's 20, and a round more for each 10 s its instance waited for its token.
    expect(run.transitions.max).toBe(26);
    expect(run.healthChecks).toEqual({ max: 3, mean: 2 });
    // #5 launched at 153.5 s, healthy at its third check (163.5 s): its RetireOld from 262.5 s.
    expect(run.seconds).toBe(263.5);
    // Free only from the last release at 129.5 s to the next grant at 130.5 s.
    expect(run.lockBusy).toBeCloseTo(262 / 263, 9);
  });

  it('takes a newcomer into the wave until it raises, and refuses one after as busy', () => {
    // The raise is 2 s after a lease: #1, arriving at 1 s, joins #0's wave; #2, at 3 s, finds
    // it raised and parks, to be granted after the last member's release (112.5 s).
    const run = waves(3, 5, {
      timeline: { ...SURGE, leaseToLaunch: 2 },
      arriveAt: (id) => [0, 1, 3][id] as number,
    });
    expect(run.grants.map((g) => [g.id, g.at])).toEqual([
      [0, 0],
      [1, 1],
      [2, 113.5],
    ]);
    // #1's instance was launched by #0's raise, before its own raise step: it is not raised again.
    expect(run.raises).toEqual([2, 1]);
    expect(run.transitions.max).toBe(20);
  });

  it('rolls a member back inside its wave: it leaves without waiting, and the lock stays the wave’s', () => {
    // Two health checks at most; one token every 20 s: #1's instance, launched at 20 s, is
    // not healthy at its second check (20 s) and rolls back; its release admits, but #0 still
    // holds the wave. #0's release at 109.5 s frees the lock: #2 at 110.5 s.
    const run = waves(3, 2, {
      timeline: { ...SURGE, healthCheckMaxAttempts: 2 },
      launchTokens: { size: 1, refillPerSecond: 0.05 },
      // Token-blind (waves before the granter's estimate), so that a launch waits inside a wave.
      whatIf: { tokenBlindWaves: true },
    });
    expect(run).toMatchObject({ replaced: 2, rolledBack: 1, retireGaveUp: 0, failed: 0 });
    expect(run.grants.map((g) => g.at)).toEqual([0, 0, 110.5]);
    expect(run.raises).toEqual([2, 1]);
    expect(run.lockRetries.max).toBe(0);
  });

  it("waves capped by the granter's token estimate: no launch waits, the wave beyond the estimate refused as busy", () => {
    // Three tokens, one back every 10 s. Before the estimate, six join the first wave and three
    // launches wait (10, 20, 30 s), polled round the check. As built, the first wave takes
    // three; the three release at 109.5 s, the last freeing the lock, and each admits: their
    // passes' tries at 110.5 s find the estimate at three again and grant the second wave of three.
    const tokens = { size: 3, refillPerSecond: 0.1 };
    const uncapped = waves(6, 6, { launchTokens: tokens, whatIf: { tokenBlindWaves: true } });
    expect(uncapped.raises).toEqual([6]);
    expect(uncapped.launchWait.max).toBe(30);
    const run = waves(6, 6, { launchTokens: tokens });
    expect(run.raises).toEqual([3, 3]);
    expect(run.grants.map((g) => g.at)).toEqual([0, 0, 0, 110.5, 110.5, 110.5]);
    expect(run.launchWait.max).toBe(0);
    expect(run.transitions.max).toBe(20);
  });

  it.each([100, 1_000])(
    'makes one constant of queue calls for an instance at N = %i: no admit after a claim',
    (n) => {
      const run = queue(n, n / 10, { timeline: SURGE, lock: LOCKED });
      // Attempt, park, grant (5), release, the release's resent transaction; the passes after
      // its park and after its release.
      expect(run.leaseCalls.max).toBe(1 + 1 + 5 + 1 + 1 + 2 * (1 + 3 + 1 + 2));
      expect(run.granterReads.max).toBe(9);
      // Ten waves of k; the first founded by the newcomers themselves, answered at once.
      expect(run.raises).toEqual(Array<number>(10).fill(n / 10));
      expect(run.leaseCalls.byOperation[OP.taskSuccess]).toBe(n);
      expect(run.leaseCalls.byOperation[OP.update]).toBe(n - n / 10);
      expect(run.transitions.max).toBe(20);
      // Before waves, the claim's pass and its resent transaction too.
      const before = queue(n, n / 10, { timeline: SURGE, lock: LOCKED, whatIf: { perInstanceLock: true } });
      expect(before.leaseCalls.max).toBe(run.leaseCalls.max + 1 + (1 + 3 + 1 + 2));
      expect(before.raises.length).toBe(n);
    },
  );
});

const BUSY_FIRST = { ...NO_JITTER, IntervalSeconds: 1000 };
const polling = (n: number, k: number, retry: RetryRule = NO_JITTER, more: Partial<FleetOptions> = {}) =>
  simulateFleet({
    n,
    k,
    azs: 1,
    timeline: TIMELINE,
    admission: { kind: 'polling', retry, busyRetry: NO_JITTER, attemptSeconds: 0 },
    lock: INSTANT,
    random: never,
    ...more,
  });

describe('simulateFleet with the lease back-off (before the queue)', () => {
  it('replaces k at a time and lets a retry take a lease freed before it, each retry a transition', () => {
    // k = 2, 3 instances: two leases at 0 s (free at 100 s). The third retries at
    // 10, 30, 70, 150 s (10, 20, 40, 80 apart): it gets a lease at 150 s and ends at 250 s.
    const run = polling(3, 2);
    expect(run).toMatchObject({ replaced: 3, blocked: 0, seconds: 250 });
    expect(run.transitions.max).toBe(20 + 4);
    expect(run.leaseCalls.max).toBe(1 + 4 + 1);
  });

  it('blocks the executions whose back-off runs out before a lease frees', () => {
    const run = polling(4, 1, { ...NO_JITTER, MaxAttempts: 2 }); // gives up after 10 + 20 = 30 s
    expect(run).toMatchObject({ replaced: 1, blocked: 3, seconds: 100 });
  });

  it('retries a busy group lock on its own rule', () => {
    // #0 holds the lock to its claim at 10 s: #1 retries at 10 s (still held) and 30 s.
    const run = polling(2, 2, BUSY_FIRST, {
      timeline: SURGE,
      lock: LOCKED,
      whatIf: { perInstanceLock: true },
    });
    expect(run.grants.map((g) => g.at)).toEqual([0, 30]);
    expect(run.transitions.max).toBe(20 + 2);
  });

  it('does nothing for an empty fleet and refuses k below 1', () => {
    expect(polling(0, 1)).toMatchObject({ replaced: 0, blocked: 0, seconds: 0 });
    expect(() => polling(1, 0)).toThrow(RangeError);
  });
});

describe('estimateFleet', () => {
  const options = {
    n: 6,
    k: 1,
    azs: 1,
    timeline: TIMELINE,
    lock: INSTANT,
    admission: {
      kind: 'polling' as const,
      retry: { ...NO_JITTER, JitterStrategy: 'FULL' as const },
      busyRetry: NO_JITTER,
      attemptSeconds: 0,
    },
    trials: 51,
    seed: 7,
  };

  it('gives the same figures for the same seed', () => {
    expect(estimateFleet(options)).toEqual(estimateFleet(options));
  });

  it('never beats the ideal of back-to-back replacements', () => {
    expect(estimateFleet(options).seconds).toBeGreaterThanOrEqual(6 * 100);
  });

  it('runs a single trial when no rule has jitter, and trials for a jittered RetireOld', () => {
    expect(estimateFleet({ ...options, admission: { ...options.admission, retry: NO_JITTER } }).trials).toBe(
      1,
    );
    expect(estimateFleet({ ...options, admission: QUEUE_ADMISSION })).toMatchObject({
      trials: 1,
      seconds: 600,
    });
    const jittered = { ...INSTANT, retireRetry: { ...NO_JITTER, JitterStrategy: 'FULL' as const } };
    expect(estimateFleet({ ...options, admission: QUEUE_ADMISSION, lock: jittered }).trials).toBe(51);
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

  it('waits for RunInstances tokens like any launch: 1,000 a batch from the second batch on take 500 s', () => {
    const tokens = RUN_INSTANCES_RESOURCE_TOKENS;
    // Batch 1 launches its 1,000 at 300 s from the full bucket, healthy at 355 s. Each later
    // batch drains 300 s (710 tokens back by then) and waits for the other 290: done 500 s after the last.
    expect(
      instanceRefreshSeconds({
        n: 10_000,
        minHealthyPercent: 90,
        aws: AWS,
        warmupSeconds: 0,
        launchTokens: tokens,
      }),
    ).toBeCloseTo(355 + 9 * 500, 6);
    // 100 a batch never empties the bucket.
    expect(
      instanceRefreshSeconds({
        n: 1_000,
        minHealthyPercent: 90,
        aws: AWS,
        warmupSeconds: 0,
        launchTokens: tokens,
      }),
    ).toBe(10 * 355);
  });

  it('takes no time for no instances', () => {
    expect(instanceRefreshSeconds({ n: 0, minHealthyPercent: 90, aws: AWS, warmupSeconds: 0 })).toBe(0);
  });
});
