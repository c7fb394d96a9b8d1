/**
 * The convergence model: how long a fleet of N drifted instances takes to converge when
 * Phoenix replaces at most k at a time, with realistic AWS timings, computed (never slept)
 * from the step sequence a real remediation recorded; and, beside it, how long an Auto
 * Scaling instance refresh takes at its minimum healthy percentage. Both launch instances,
 * so both draw on EC2's RunInstances resource token bucket (see
 * {@link RUN_INSTANCES_RESOURCE_TOKENS}).
 *
 * Phoenix: every drifted instance's execution starts at once (one sweep or one template
 * change finds them all) and walks the recorded path. Two ways of waiting for the budget are
 * modelled:
 * - the queue (fleet-scale issue): `AcquireLease` is a callback task. Its Lambda tries the
 *   lease once (one transaction); granted, it sends the task success itself; denied, it
 *   parks a waiter (one PutItem) and runs `admit`. `admit` runs after every park and every
 *   release and from a scheduled sweeper: it reads the head of each Availability Zone's
 *   queue (one Query per AZ queue with waiters) and grants the free slots oldest launch
 *   time first, spread across AZs (the AZ with fewest replacements in flight next; ties: the
 *   older head), each grant one transaction and one `SendTaskSuccess`. A waiter spends no
 *   state transition while it waits and never gives up because the fleet is busy; the
 *   sweeper heartbeats waiters whose last heartbeat is older than a set age, so the task's
 *   `HeartbeatSeconds` never runs out. Grants made at one moment for one group form a wave:
 *   one capacity raise, the w instances launched together.
 * - polling (before the queue): a denied execution retries `AcquireLease` on the definition's
 *   back-off (interval × rate^(attempt−1), capped, with full jitter when the rule says so)
 *   and, out of attempts, ends "blocked"; each retry is a state transition and a lease
 *   attempt. Jitter makes each run different, so it is simulated over seeded trials.
 *
 * Launches: a replacement's instance is launched when the launch step asks for it and EC2
 * has a RunInstances resource token for it; without one the launch waits for the refill
 * (Auto Scaling retries a throttled launch itself; the model lets it through the moment its
 * token is there, first asked first served). Meanwhile the execution polls the replacement's
 * health at its interval, each round three more transitions, and rolls back when it is not
 * healthy within its attempts.
 *
 * Instance refresh (AWS's documented behaviour with default preferences: minimum healthy
 * percentage P, maximum healthy 100 %, so terminate-then-launch): it replaces
 * max(1, N − ⌈N·P/100⌉) instances per batch; each batch drains (deregistration delay),
 * launches (token bucket alike), waits for the first health check and then for the instance
 * warm-up before the next batch starts.
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

/** A token bucket as EC2 documents its throttling: `size` tokens at most, `refillPerSecond` added each second. */
export interface TokenBucketSpec {
  size: number;
  refillPerSecond: number;
}

/**
 * EC2's resource token bucket for RunInstances: 1,000 tokens, refilled at 2 a second, one
 * token per instance launched (whatever the number of requests), per account and Region.
 * "Request throttling for the Amazon EC2 API", section "Resource token bucket sizes and
 * refill rates": https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html#throttling-limits-cost-based
 * The model starts with a full bucket and nothing else in the account launching.
 */
export const RUN_INSTANCES_RESOURCE_TOKENS: TokenBucketSpec = { size: 1000, refillPerSecond: 2 };

/**
 * A token bucket that serves launches in the order they are asked for: a launch asked for
 * at `t` happens at `t` when a token is there, else when the refill has brought one (and
 * never before a launch asked for earlier). The refill is continuous (2 a second is one
 * every half second).
 */
export class TokenBucket {
  private level: number;
  private at = 0;

  constructor(private readonly spec: TokenBucketSpec) {
    if (!(spec.size >= 1 && spec.refillPerSecond > 0)) {
      throw new RangeError(
        `a token bucket needs size >= 1 and a positive refill, got ${spec.size} and ${spec.refillPerSecond}`,
      );
    }
    this.level = spec.size;
  }

  /** The moment one instance asked for at `t` is launched (its token taken). */
  take(t: number): number {
    const from = Math.max(t, this.at);
    this.level = Math.min(this.spec.size, this.level + (from - this.at) * this.spec.refillPerSecond);
    this.at = from;
    // A hair below one token counts as one: the refill is computed in floating point.
    if (this.level >= 1 - 1e-9) {
      this.level = Math.max(0, this.level - 1);
      return from;
    }
    this.at = from + (1 - this.level) / this.spec.refillPerSecond;
    this.level = 0;
    return this.at;
  }
}

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

/**
 * One remediation on AWS cut into the pieces the fleet needs: where the lease is taken, where
 * the instance is launched, how the health check goes round, where the lease is released.
 * All in seconds.
 */
export interface RemediationTimeline {
  /** From the execution's start to the end of its first `AcquireLease` attempt. */
  beforeLease: number;
  /** From the lease granted to the end of the launch step (capacity raised or RunInstances asked). */
  leaseToLaunch: number;
  /** From the end of the launch step to the end of the first health check. */
  launchToFirstCheck: number;
  /** One more round of the health check: the Choice that said "not yet", the Wait, the check. */
  healthRound: number;
  /** From the instance's actual launch to its first passing health check. */
  boot: number;
  healthCheckMaxAttempts: number;
  /** From the end of the passing check to the lease released. */
  healthyToRelease: number;
  /** From the last failing check to the lease released by the rollback. */
  rollbackToRelease: number;
  /** From the release to the end of the execution, plus the group's own drain of the old instance. */
  afterRelease: number;
  /** States entered on the recorded path with the health check passing at its first attempt. */
  pathTransitions: number;
}

/** One remediation on AWS, cut at the lease (a launch that did not wait for a token). */
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
 * A recorded trip round the health-check loop is modelled once: the loop is the model's.
 */
export function timelineFromPath(
  path: readonly PathStep[],
  aws: AwsTimings,
  timings: ExecutionTimings,
): RemediationTimeline {
  for (const role of ['acquire-lease', 'launch', 'health-check', 'release-lease'] as const) {
    // Handing the old instance back to its group releases the lease in the same step.
    const found = (s: PathStep) => s.role === role || (role === 'release-lease' && s.role === 'group-drain');
    if (!path.some(found)) {
      throw new ModelMismatchError(
        `the recorded path has no ${role} state: ${path.map((s) => s.state).join(' > ')}`,
      );
    }
  }
  const groupDrains = path.some((s) => s.role === 'group-drain');
  let t = 0;
  let leaseAt: number | undefined;
  let launchedAt: number | undefined;
  let firstCheckAt: number | undefined;
  let checkSeconds = 0;
  let releasedAt: number | undefined;
  let recordedRounds = 0;
  for (const step of path) {
    switch (step.role) {
      case 'acquire-lease':
        t += stepSeconds(step, aws);
        leaseAt ??= t;
        break;
      case 'launch':
        t += stepSeconds(step, aws);
        launchedAt ??= t;
        break;
      case 'health-check':
        if (firstCheckAt !== undefined) break; // a recorded repeat: the fleet models every round
        if (launchedAt === undefined) throw new ModelMismatchError('a health check before any launch');
        checkSeconds = stepSeconds(step, aws);
        t += checkSeconds;
        firstCheckAt = t;
        break;
      case 'health-wait':
        recordedRounds += 1;
        break;
      case 'drain':
        if (!groupDrains) t += Math.min(aws.deregistrationDelay, timings.maxDrainSeconds);
        break;
      case 'group-drain':
      case 'release-lease':
        t += stepSeconds(step, aws);
        releasedAt ??= t;
        break;
      default:
        t += stepSeconds(step, aws);
    }
  }
  if (leaseAt === undefined || launchedAt === undefined || firstCheckAt === undefined) {
    throw new ModelMismatchError('the lease, the launch or the health check is missing from the path');
  }
  if (releasedAt === undefined || releasedAt < firstCheckAt || launchedAt < leaseAt) {
    throw new ModelMismatchError('the path does not take the lease, launch, check and release in that order');
  }
  return {
    beforeLease: leaseAt,
    leaseToLaunch: launchedAt - leaseAt,
    launchToFirstCheck: firstCheckAt - launchedAt,
    healthRound: aws.transition + timings.healthCheckIntervalSeconds + checkSeconds,
    boot: aws.launchToRunning + aws.firstHealthCheck,
    healthCheckMaxAttempts: timings.healthCheckMaxAttempts,
    healthyToRelease: releasedAt - firstCheckAt,
    // The Rollback task and the release after it.
    rollbackToRelease: 2 * aws.lambdaTask,
    afterRelease: t - releasedAt + (groupDrains ? aws.deregistrationDelay : 0),
    // Each recorded round entered the Choice, the Wait and the check once more.
    pathTransitions: path.length - 3 * recordedRounds,
  };
}

/** One replacement whose instance was launched `launchDelay` seconds after the launch step asked for it. */
export interface Replacement {
  /** From the lease granted to the lease released. */
  holdingLease: number;
  healthChecks: number;
  transitions: number;
  /** Not healthy within the execution's attempts: rolled back, the lease released by the rollback. */
  rolledBack: boolean;
}

/** A replacement on the time line, its instance launched `launchDelay` s after it was asked for. */
export function replacementAt(timeline: RemediationTimeline, launchDelay: number): Replacement {
  const healthyAt = launchDelay + timeline.boot; // from the end of the launch step
  let checks = 1;
  let checkedAt = timeline.launchToFirstCheck;
  while (checkedAt < healthyAt) {
    if (checks >= timeline.healthCheckMaxAttempts) {
      return {
        holdingLease: timeline.leaseToLaunch + checkedAt + timeline.rollbackToRelease,
        healthChecks: checks,
        transitions: timeline.pathTransitions + 3 * (checks - 1),
        rolledBack: true,
      };
    }
    checks += 1;
    checkedAt += timeline.healthRound;
  }
  return {
    holdingLease: timeline.leaseToLaunch + checkedAt + timeline.healthyToRelease,
    healthChecks: checks,
    transitions: timeline.pathTransitions + 3 * (checks - 1),
    rolledBack: false,
  };
}

/** One remediation whose launch did not wait, cut at the lease. */
export function profileFromPath(
  path: readonly PathStep[],
  aws: AwsTimings,
  timings: ExecutionTimings,
): RemediationProfile {
  const timeline = timelineFromPath(path, aws, timings);
  const replacement = replacementAt(timeline, 0);
  if (replacement.rolledBack) {
    throw new ModelMismatchError(
      `the replacement is not healthy after ${replacement.healthChecks} checks: the execution would roll back`,
    );
  }
  return {
    beforeLease: timeline.beforeLease,
    holdingLease: replacement.holdingLease,
    afterLease: timeline.afterRelease,
    healthChecks: replacement.healthChecks,
    transitions: replacement.transitions,
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

/** The queue's contract: `AcquireLease` waits for its task token; `admit` grants in the stated order. */
export interface QueueAdmission {
  kind: 'queue';
  /** The sweeper's period: it runs `admit` and heartbeats old waiters. */
  sweeperSeconds: number;
  /** The sweeper heartbeats a waiter whose last heartbeat is at least this old. */
  heartbeatAfterSeconds: number;
  /** The callback task's `HeartbeatSeconds`: a waiter not heartbeaten for longer times out. */
  heartbeatTimeoutSeconds: number;
}

/** The lease step as it was before the queue: retried on its back-off, blocked when out of attempts. */
export interface PollingAdmission {
  kind: 'polling';
  retry: RetryRule;
  /** Seconds one `AcquireLease` attempt takes (a denied attempt costs it too). */
  attemptSeconds: number;
  random: () => number;
}

/** The contract of the queue as the fleet-scale issue's lease step states it. */
export const QUEUE_ADMISSION: QueueAdmission = {
  kind: 'queue',
  sweeperSeconds: 300,
  heartbeatAfterSeconds: 1800,
  heartbeatTimeoutSeconds: 3600,
};

export interface FleetOptions {
  /** Drifted instances, all of one Auto Scaling group; instance i is in AZ i mod `azs` and launched before i + 1. */
  n: number;
  /** Leases at once (`maxConcurrent` resolved for the fleet). */
  k: number;
  azs: number;
  timeline: RemediationTimeline;
  admission: QueueAdmission | PollingAdmission;
  /** EC2's RunInstances resource tokens; without it, launches never wait. */
  launchTokens?: TokenBucketSpec;
}

/** The lease and queue calls of one fleet, by operation. */
export type CallCounts = Record<string, number>;

/** One lease grant, in the order they were made. */
export interface Grant {
  id: number;
  az: number;
  at: number;
}

export interface FleetRun {
  replaced: number;
  /** Ended without a replacement because the fleet was busy (lease back-off out, or a waiter timed out). */
  blocked: number;
  /** Not healthy within the execution's attempts (a launch that waited too long for its token). */
  rolledBack: number;
  /** When the last replaced instance's execution ended, its old instance drained (0 when none was replaced). */
  seconds: number;
  /** When the last replacement was healthy and its lease released (its old instance still draining). */
  inService: number;
  /** State transitions per replaced instance. */
  transitions: { max: number; mean: number };
  /** Lease and queue calls made on each instance's behalf (the sweeper's apart). */
  leaseCalls: { max: number; mean: number; byOperation: CallCounts };
  /** The sweeper's calls over the roll, by operation; its passes; the waiter items it read. */
  sweeper: { passes: number; calls: CallCounts; waiterItemsRead: number };
  heartbeats: { total: number; maxPerInstance: number };
  /** Wave sizes in order (grants at one moment for the group: one capacity raise). */
  waves: number[];
  /** Seconds a launch waited for its RunInstances token. */
  launchWait: { max: number; mean: number };
  /** Seconds from the first lease attempt to the grant. */
  leaseWait: { max: number; mean: number };
  grants: Grant[];
}

interface SimEvent {
  at: number;
  seq: number;
  kind: 'arrive' | 'retry' | 'launch' | 'release' | 'sweep';
  id: number;
}

/** A binary min-heap of events by time, then by the order they were scheduled. */
class EventQueue {
  private readonly heap: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, kind: SimEvent['kind'], id: number): void {
    const heap = this.heap;
    heap.push({ at, seq: this.seq++, kind, id });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as SimEvent, heap[parent] as SimEvent)) break;
      [heap[i], heap[parent]] = [heap[parent] as SimEvent, heap[i] as SimEvent];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as SimEvent, heap[m] as SimEvent)) m = l;
      if (r < heap.length && before(heap[r] as SimEvent, heap[m] as SimEvent)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as SimEvent, heap[i] as SimEvent];
      i = m;
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function add(counts: CallCounts, operation: string, n = 1): void {
  if (n !== 0) counts[operation] = (counts[operation] ?? 0) + n;
}

/** Operations of the lease and the queue, as the benchmarks name AWS calls. */
export const OP = {
  transact: 'DynamoDB.TransactWriteItems',
  put: 'DynamoDB.PutItem',
  query: 'DynamoDB.Query',
  update: 'DynamoDB.UpdateItem',
  taskSuccess: 'SFN.SendTaskSuccess',
  heartbeat: 'SFN.SendTaskHeartbeat',
} as const;

/**
 * The AZ whose head waiter `admit` grants next: among the AZs with a waiter, the one with
 * fewest replacements in flight; ties go to the older head (a smaller launch order).
 * `heads`: each AZ's oldest waiter's launch order, or undefined for an empty queue.
 */
export function nextAz(
  heads: ReadonlyArray<number | undefined>,
  inFlight: readonly number[],
): number | undefined {
  let best: number | undefined;
  for (let az = 0; az < heads.length; az++) {
    const head = heads[az];
    if (head === undefined) continue;
    if (best === undefined) {
      best = az;
      continue;
    }
    const mine = inFlight[az] ?? 0;
    const theirs = inFlight[best] ?? 0;
    if (mine < theirs || (mine === theirs && head < (heads[best] as number))) best = az;
  }
  return best;
}

/**
 * One simulated fleet: N executions started at once, k leases, the queue or the lease
 * back-off, launches through the token bucket. Every lease and queue call is counted on the
 * behalf of the instance it was made for: its attempts, its park and the `admit` that
 * follows, its grant (transaction and task success), its release and the `admit` after it.
 * The sweeper's calls are counted apart (they are per waiting hour, not per instance).
 */
export function simulateFleet(options: FleetOptions): FleetRun {
  const { n, k, azs, timeline, admission } = options;
  if (
    !(Number.isInteger(n) && n >= 0 && Number.isInteger(k) && k >= 1 && Number.isInteger(azs) && azs >= 1)
  ) {
    throw new RangeError(
      `a fleet needs n >= 0, k >= 1 and azs >= 1 (integers), got n=${n} k=${k} azs=${azs}`,
    );
  }
  const tokens = options.launchTokens === undefined ? undefined : new TokenBucket(options.launchTokens);
  const events = new EventQueue();
  const calls = Array.from({ length: n }, (): CallCounts => ({}));
  const byOperation: CallCounts = {};
  const call = (id: number, operation: string, count = 1) => {
    add(calls[id] as CallCounts, operation, count);
    add(byOperation, operation, count);
  };
  const azOf = (id: number) => id % azs;
  const retries = new Array<number>(n).fill(0);
  const grantedAt = new Array<number>(n).fill(Number.NaN);
  const lastBeat = new Array<number>(n).fill(0);
  const beats = new Array<number>(n).fill(0);
  const transitions = new Array<number>(n).fill(0);
  const outcome = new Array<'waiting' | 'held' | 'replaced' | 'blocked' | 'rolled-back'>(n).fill('waiting');
  const launchWaits: number[] = [];
  // Per AZ: waiting instance ids, oldest launch first (ids are in launch order), from `head` on.
  const queues = Array.from({ length: azs }, () => ({ ids: [] as number[], head: 0 }));
  const inFlight = new Array<number>(azs).fill(0);
  const grants: Grant[] = [];
  const waves: number[] = [];
  let currentWave = '';
  let admitPasses = 0;
  let held = 0;
  let open = n; // executions not yet ended
  let seconds = 0;
  let inService = 0;
  const sweeper = { passes: 0, calls: {} as CallCounts, waiterItemsRead: 0 };

  const waiting = (q: { ids: number[]; head: number }) => q.ids.length - q.head;
  /** A waiter nobody heartbeat within `HeartbeatSeconds`: its task timed out, its execution failed. */
  const timedOut = (id: number, at: number): boolean => {
    if (admission.kind !== 'queue' || at - (lastBeat[id] ?? 0) <= admission.heartbeatTimeoutSeconds) {
      return false;
    }
    outcome[id] = 'blocked';
    open -= 1;
    return true;
  };
  const queuesWithWaiters = () => queues.filter((q) => waiting(q) > 0).length;

  /** `wave`: the admit pass that granted it, or the moment of a lease taken at once. */
  const grant = (id: number, at: number, wave: string) => {
    held += 1;
    inFlight[azOf(id)] = (inFlight[azOf(id)] ?? 0) + 1;
    outcome[id] = 'held';
    grantedAt[id] = at;
    grants.push({ id, az: azOf(id), at });
    if (wave === currentWave) waves[waves.length - 1] = (waves[waves.length - 1] ?? 0) + 1;
    else {
      waves.push(1);
      currentWave = wave;
    }
    events.push(at + timeline.leaseToLaunch, 'launch', id);
  };

  const nextWaiter = (): number | undefined => {
    const az = nextAz(
      queues.map((q) => q.ids[q.head]),
      inFlight,
    );
    if (az === undefined) return undefined;
    const q = queues[az] as { ids: number[]; head: number };
    q.head += 1;
    return q.ids[q.head - 1];
  };

  /** `admit`: read the heads, grant the free slots. `payer`: the instance it ran for, or the sweeper. */
  const admit = (at: number, payer: number | 'sweeper') => {
    const reads = queuesWithWaiters();
    if (payer === 'sweeper') add(sweeper.calls, OP.query, reads);
    else call(payer, OP.query, reads);
    admitPasses += 1;
    while (held < k) {
      const id = nextWaiter();
      if (id === undefined) break;
      if (outcome[id] !== 'waiting' || timedOut(id, at)) continue;
      call(id, OP.transact);
      call(id, OP.taskSuccess);
      grant(id, at, `admit ${admitPasses}`);
    }
  };

  const attempt = (id: number, at: number) => {
    call(id, OP.transact);
    if (held < k) {
      if (admission.kind === 'queue') call(id, OP.taskSuccess);
      grant(id, at, `at once ${at}`);
      return;
    }
    if (admission.kind === 'queue') {
      call(id, OP.put);
      lastBeat[id] = at;
      const q = queues[azOf(id)] as { ids: number[]; head: number };
      // Parks come in launch order here; a late one would be inserted in its place.
      let i = q.ids.length;
      while (i > q.head && (q.ids[i - 1] as number) > id) i -= 1;
      q.ids.splice(i, 0, id);
      admit(at, id);
      return;
    }
    const done = retries[id] ?? 0;
    if (done < (admission.retry.MaxAttempts ?? 3)) {
      retries[id] = done + 1;
      const jitter = admission.retry.JitterStrategy === 'FULL' ? admission.random() : 1;
      events.push(
        at + retryDelay(admission.retry, done + 1) * jitter + admission.attemptSeconds,
        'retry',
        id,
      );
    } else {
      outcome[id] = 'blocked';
      open -= 1;
    }
  };

  for (let id = 0; id < n; id++) events.push(timeline.beforeLease, 'arrive', id);
  if (admission.kind === 'queue' && n > 0) events.push(admission.sweeperSeconds, 'sweep', -1);

  for (let event = events.pop(); event !== undefined; event = events.pop()) {
    const { at, id } = event;
    switch (event.kind) {
      case 'arrive':
      case 'retry':
        attempt(id, at);
        break;
      case 'launch': {
        const launchedAt = tokens === undefined ? at : tokens.take(at);
        launchWaits.push(launchedAt - at);
        const r = replacementAt(timeline, launchedAt - at);
        // A retry of the lease step is a state transition too.
        transitions[id] = r.transitions + (retries[id] ?? 0);
        outcome[id] = r.rolledBack ? 'rolled-back' : 'replaced';
        events.push((grantedAt[id] as number) + r.holdingLease, 'release', id);
        break;
      }
      case 'release': {
        held -= 1;
        inFlight[azOf(id)] = (inFlight[azOf(id)] ?? 0) - 1;
        open -= 1;
        if (outcome[id] === 'replaced') {
          seconds = Math.max(seconds, at + timeline.afterRelease);
          inService = Math.max(inService, at);
        }
        call(id, OP.transact);
        if (admission.kind === 'queue') admit(at, id);
        break;
      }
      case 'sweep': {
        if (admission.kind !== 'queue') break;
        sweeper.passes += 1;
        // To heartbeat, the sweeper reads every parked waiter (their last heartbeats).
        for (const q of queues) {
          sweeper.waiterItemsRead += waiting(q);
          for (let i = q.head; i < q.ids.length; i++) {
            const waiter = q.ids[i] as number;
            if (outcome[waiter] !== 'waiting' || timedOut(waiter, at)) continue;
            if (at - (lastBeat[waiter] ?? 0) >= admission.heartbeatAfterSeconds) {
              lastBeat[waiter] = at;
              beats[waiter] = (beats[waiter] ?? 0) + 1;
              add(sweeper.calls, OP.heartbeat);
              add(sweeper.calls, OP.update);
            }
          }
        }
        admit(at, 'sweeper');
        if (open > 0) events.push(at + admission.sweeperSeconds, 'sweep', -1);
        break;
      }
    }
  }

  const replacedIds = outcome.flatMap((o, id) => (o === 'replaced' ? [id] : []));
  const waits = grantedAt.filter((g) => Number.isFinite(g)).map((g) => g - timeline.beforeLease);
  const perInstance = calls.map((c) => Object.values(c).reduce((a, b) => a + b, 0));
  const replacedTransitions = replacedIds.map((id) => transitions[id] as number);
  return {
    replaced: replacedIds.length,
    blocked: outcome.filter((o) => o === 'blocked').length,
    rolledBack: outcome.filter((o) => o === 'rolled-back').length,
    seconds,
    inService,
    transitions: { max: maxOf(replacedTransitions), mean: meanOf(replacedTransitions) },
    leaseCalls: { max: maxOf(perInstance), mean: meanOf(perInstance), byOperation },
    sweeper,
    heartbeats: { total: beats.reduce((a, b) => a + b, 0), maxPerInstance: maxOf(beats) },
    waves,
    launchWait: { max: maxOf(launchWaits), mean: meanOf(launchWaits) },
    leaseWait: { max: maxOf(waits), mean: meanOf(waits) },
    grants,
  };
}

function maxOf(values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0);
}

function meanOf(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

export interface FleetEstimate extends FleetRun {
  n: number;
  k: number;
  trials: number;
}

/**
 * The median fleet over `trials` seeded runs of the lease back-off (one run when it has no
 * jitter, and for the queue, which draws nothing at random): the run in the middle when
 * ordered by instances blocked, then by time to converge.
 */
export function estimateFleet(
  options: Omit<FleetOptions, 'admission'> & {
    admission: QueueAdmission | Omit<PollingAdmission, 'random'>;
    trials: number;
    seed: number;
  },
): FleetEstimate {
  const { admission } = options;
  if (admission.kind === 'queue') {
    return { ...simulateFleet({ ...options, admission }), n: options.n, k: options.k, trials: 1 };
  }
  const trials = admission.retry.JitterStrategy === 'FULL' ? options.trials : 1;
  const random = seededRandom(options.seed);
  const runs = Array.from({ length: trials }, () =>
    simulateFleet({ ...options, admission: { ...admission, random } }),
  );
  runs.sort((a, b) => a.blocked - b.blocked || a.seconds - b.seconds);
  const middle = runs[Math.floor((runs.length - 1) / 2)] as FleetRun;
  return { ...middle, n: options.n, k: options.k, trials };
}

/** Instances an instance refresh replaces per batch at a minimum healthy percentage. */
export function refreshBatchSize(n: number, minHealthyPercent: number): number {
  return Math.max(1, n - Math.ceil((n * minHealthyPercent) / 100));
}

/**
 * Seconds an instance refresh (terminate-then-launch batches) takes for N instances: each
 * batch drains, then launches its instances (each waiting for its RunInstances token when a
 * bucket is given), then waits for the last of them to pass its first health check and for
 * the warm-up.
 */
export function instanceRefreshSeconds(options: {
  n: number;
  minHealthyPercent: number;
  aws: AwsTimings;
  warmupSeconds: number;
  launchTokens?: TokenBucketSpec;
}): number {
  const { aws } = options;
  const batch = refreshBatchSize(options.n, options.minHealthyPercent);
  const tokens = options.launchTokens === undefined ? undefined : new TokenBucket(options.launchTokens);
  let t = 0;
  for (let left = options.n; left > 0; left -= batch) {
    const launchAt = t + aws.deregistrationDelay;
    let lastLaunch = launchAt;
    if (tokens !== undefined) {
      for (let i = 0; i < Math.min(batch, left); i++) lastLaunch = tokens.take(launchAt);
    }
    t = lastLaunch + aws.launchToRunning + aws.firstHealthCheck + options.warmupSeconds;
  }
  return t;
}
