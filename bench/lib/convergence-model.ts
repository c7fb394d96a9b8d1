/**
 * The convergence model: how long a fleet of N drifted instances takes to converge when
 * Phoenix replaces at most k at a time, with realistic AWS timings, computed (never slept)
 * from the step sequence a real remediation recorded; and, beside it, how long an Auto
 * Scaling instance refresh takes at its minimum healthy percentage. Both launch instances,
 * so both draw on EC2's RunInstances resource token bucket (see
 * {@link RUN_INSTANCES_RESOURCE_TOKENS}).
 *
 * Phoenix: every drifted instance's execution starts at once (one sweep or one template
 * change finds them all) and walks the recorded path. Two ways of waiting for the lease are
 * modelled:
 * - the queue, as built (docs/adr/0032-a-queue-not-a-poll.md): `AcquireLease` is a callback
 *   task. Its Lambda tries the lease once (one transaction); granted, it sends the task
 *   success itself; refused because the fleet is busy (its budget, or its group's lock) or
 *   because others wait in its queue (a newcomer never takes a slot ahead of them: its lease
 *   transaction checks the queue's waiter count), it parks a waiter (one transaction: the
 *   waiter's item and the queue's zones and count) and runs `admit`. `admit` runs after every
 *   park and, when someone waits, after every release of a lease (`RetireOld`'s and
 *   `ReleaseLease`'s; before waves, after every group lock handed back with a claimed
 *   replacement too), and from the sweep every five minutes. A release (or claim) learns
 *   whether anyone waits in its own transaction (a condition on the waiter count): nobody, and
 *   nothing more is read; someone, and the transaction goes again without the condition, then
 *   `admit`. `admit` reads the
 *   fleet's zones (GetItem), the head of
 *   each zone's queue (one Query each) and the fleet's leases (a Query), then for the next
 *   head (the zone with fewest replacements in flight, ties to the older head) runs the
 *   waiter's recheck (DescribeInstances, DescribeLaunchTemplateVersions,
 *   DescribeAutoScalingGroups, the gate's BatchGetItem) and its lease transaction; granted,
 *   it writes the grant on the waiter (UpdateItem), sends it (`SendTaskSuccess`: a wave
 *   member's at the pass's end, below), removes the waiter and its count (one transaction) and
 *   tries the next head; refused, the pass stops. A waiter spends no state transition while it
 *   waits; the sweep heartbeats waiters silent for 30 minutes.
 *   Concurrent `admit` calls run their passes side by side (the product's one admission at a
 *   time per fleet, ADR 33's granter item, is not modelled).
 * - polling (before the queue): a refused execution retries `AcquireLease` on the back-off the
 *   definition had (one rule for a busy budget, one for a busy group lock) and, out of
 *   attempts, ends "blocked"; each retry is a state transition, a Lambda invocation and a
 *   lease attempt.
 *
 * Waves, as built (issue 14.2; docs/adr/0009-asg-surge-without-races.md): a surge's lease
 * granted while its group's lock is free (and no retirement registered) founds a wave, the
 * lock taken by the wave in the lease's transaction. Further leases in the group join the
 * wave while it has not raised, whether granted by the same `admit` pass, another pass or a
 * newcomer's own first attempt; a lease after the raise is refused as busy (the lock), a grant
 * so refused stopping its pass. A granter writes each grant on its waiter at once but sends
 * its wave members' `SendTaskSuccess` after the pass's last try, so a wave is normally a
 * whole pass's grants (a newcomer's own lease answers itself at once). The first member to
 * reach `RaiseDesiredCapacity` closes the wave and raises the desired capacity once, by its
 * number of members (the model: at the end of that member's launch step, as for any launch;
 * the group launches all the wave's instances then, each as EC2 gives it a token); the other
 * members' raise step finds it raised (a Lambda task, a read of the lock, no write) and their
 * instances launched already. Each member's health check finds and claims one of the wave's
 * new instances; the claim frees nothing and runs no `admit`. `RetireOld` never waits: a
 * member marks itself retiring on its wave's lock, hands its old instance back and releases
 * its lease and leaves the wave in one transaction, then `admit` when someone waits; a member
 * out of health checks rolls back the same way. The last member to leave frees the lock: the
 * lock is held from the founding grant to the last member's release, and while it is held the
 * group's other leases wait (the wave is one batch). No retirement is ever refused, so none
 * registers in `retirers`.
 *
 * Before waves (the what-if `perInstanceLock`), the group lock went surge by surge: a surge took
 * its group's lock with its lease,
 * raised the desired capacity by one under it and kept it until a health check found the
 * instance the group launched (listed by the group, not among the members it saw before) and
 * claimed it, which handed the lock back and ran `admit`. `RetireOld` took the same lock for
 * the moment it handed the old instance back to the group (with the lease released in the same
 * request, then `admit` when someone waits, as built since e8871a5); busy, it retried on its
 * own back-off (full jitter) and, out of attempts, the execution rolled back (`Rollback` takes
 * the lock too, on the same rule). Retirements went first (07f9b81, group-locks.ts): a
 * retirement (`RetireOld`, `Rollback`) refused the lock registers in the group's `retirers`
 * set, whose one expiry is set to {@link GroupLockRules.retirerWaitSeconds} after each refusal
 * of any of them (a member leaves only by taking the lock, in the take's own transaction: a
 * retirement that died stays until the set lapses). While the set lives no surge takes the
 * lock, free or not: a lease attempt it refuses parks like any busy refusal, a grant it refuses
 * stops its pass, and the lock waits for a registered retirement's next try (retirements
 * compete among themselves: the first to try after the lock is free gets it). A refused
 * retirement's try is the lock's transaction and the registration's UpdateItem (before
 * 07f9b81, a PutItem). A grant that meets a retirement holding the lock, or waiting for it,
 * stops its pass: the waiters wait for the next claim, release or sweep. Jitter makes each run
 * different: fleets are simulated over seeded trials.
 *
 * "Befores", shown as what-ifs without budgets: the lock per surge (above), and with it surges
 * taking the lock whoever waits for it (before 07f9b81) and `RetireOld`'s release admitting
 * nobody (before e8871a5), the queue standing still until the sweep; a `RetireOld` outside the
 * per-surge lock. The group lock's own calls (the raise's record or read, the claim,
 * `RetireOld`'s mark or take) are not counted as queue calls, as they never were.
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

import { RUN_INSTANCES_BURST, RUN_INSTANCES_REFILL_PER_SECOND } from '../../functions/domain/estimate';

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
  /**
   * From an Auto Scaling group's launch of an instance to the group listing it (`Pending`) in
   * DescribeAutoScalingGroups. Stated: AWS documents the launch as asynchronous, made in the
   * background after the desired capacity changes, and gives no figure; a few seconds. Any
   * value from about 1 s to about 16 s gives the same claim, at the second health check.
   */
  groupListsInstance: number;
  /** `admit`'s reads (the zones, each zone's head, the leases) and a waiter's recheck, before its lease transaction. */
  granterReads: number;
  /** How long `RetireOld` holds its group's lock: from taking it to the release of lease and lock. */
  retireLockHold: number;
}

export const REALISTIC_AWS_TIMINGS: AwsTimings = {
  launchToRunning: 25,
  firstHealthCheck: 30,
  deregistrationDelay: 300,
  lambdaTask: 0.5,
  sdkTask: 0.3,
  transition: 0.05,
  groupListsInstance: 5,
  // GetItem, three Queries in parallel and a Query (tens of ms), then DescribeInstances,
  // DescribeLaunchTemplateVersions, DescribeAutoScalingGroups and a BatchGetItem in turn.
  granterReads: 0.3,
  // The lock's take (a transaction since 07f9b81), DescribeAutoScalingGroups,
  // TerminateInstanceInAutoScalingGroup, the release.
  retireLockHold: 0.3,
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
export const RUN_INSTANCES_RESOURCE_TOKENS: TokenBucketSpec = {
  size: RUN_INSTANCES_BURST,
  refillPerSecond: RUN_INSTANCES_REFILL_PER_SECOND,
};

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

  /** The tokens there at `t` (below zero while launches asked for before `t` still wait for theirs). */
  tokensAt(t: number): number {
    if (t >= this.at) return Math.min(this.spec.size, this.level + (t - this.at) * this.spec.refillPerSecond);
    return this.level - (this.at - t) * this.spec.refillPerSecond;
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
  /** The step that releases the lease (`RetireOld` for a surge): its own time, within `healthyToRelease`. */
  releaseStep: number;
  /**
   * A surge in an Auto Scaling group: it holds the group's lock from its lease to the claim of
   * its instance, and its `RetireOld` takes the lock again to hand the old instance back.
   */
  groupLock: boolean;
  /** From the group's launch of the instance to the group listing it (the claim needs it). */
  listedAfterLaunch: number;
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
  let releaseStep = 0;
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
        if (releasedAt === undefined) {
          releasedAt = t;
          releaseStep = stepSeconds(step, aws);
        }
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
    releaseStep,
    groupLock: groupDrains,
    // A standalone launch's RunInstances answers with the instance: nothing to find.
    listedAfterLaunch: groupDrains ? aws.groupListsInstance : 0,
  };
}

/** One replacement whose instance was launched `launchDelay` seconds after the launch step asked for it. */
export interface Replacement {
  /** From the lease granted to the lease released (its `RetireOld` taking the lock at once). */
  holdingLease: number;
  /**
   * From the lease granted to the health check that found the group's new instance and
   * claimed it (handing the group's lock back); the lease released, for a launch never seen.
   */
  claimedAt: number;
  healthChecks: number;
  transitions: number;
  /** Not healthy within the execution's attempts: rolled back, the lease released by the rollback. */
  rolledBack: boolean;
}

/** A replacement on the time line, its instance launched `launchDelay` s after it was asked for. */
export function replacementAt(timeline: RemediationTimeline, launchDelay: number): Replacement {
  if (timeline.listedAfterLaunch > timeline.boot) {
    throw new RangeError(
      `an instance is listed by its group (${timeline.listedAfterLaunch} s) before it is healthy (${timeline.boot} s)`,
    );
  }
  const healthyAt = launchDelay + timeline.boot; // from the end of the launch step
  const listedAt = launchDelay + timeline.listedAfterLaunch;
  let checks = 1;
  let checkedAt = timeline.launchToFirstCheck;
  let claimedAt: number | undefined = checkedAt >= listedAt ? checkedAt : undefined;
  while (checkedAt < healthyAt) {
    if (checks >= timeline.healthCheckMaxAttempts) {
      const holdingLease = timeline.leaseToLaunch + checkedAt + timeline.rollbackToRelease;
      return {
        holdingLease,
        claimedAt: claimedAt === undefined ? holdingLease : timeline.leaseToLaunch + claimedAt,
        healthChecks: checks,
        transitions: timeline.pathTransitions + 3 * (checks - 1),
        rolledBack: true,
      };
    }
    checks += 1;
    checkedAt += timeline.healthRound;
    if (claimedAt === undefined && checkedAt >= listedAt) claimedAt = checkedAt;
  }
  return {
    holdingLease: timeline.leaseToLaunch + checkedAt + timeline.healthyToRelease,
    claimedAt: timeline.leaseToLaunch + (claimedAt ?? checkedAt),
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

/** The queue as built: `AcquireLease` waits for its task token; `admit` grants in the stated order. */
export interface QueueAdmission {
  kind: 'queue';
  /** The sweep's period: it heartbeats old waiters and runs `admit`. */
  sweeperSeconds: number;
  /** The sweep heartbeats a waiter whose last heartbeat is at least this old. */
  heartbeatAfterSeconds: number;
  /** The callback task's `HeartbeatSeconds`: a waiter not heartbeaten for longer times out. */
  heartbeatTimeoutSeconds: number;
}

/** The lease step as it was before the queue: retried on its back-off, blocked when out of attempts. */
export interface PollingAdmission {
  kind: 'polling';
  /** `AcquireLease`'s Retry rule for a busy budget (`LeaseDeniedError`). */
  retry: RetryRule;
  /** Its Retry rule for a busy group lock (`GroupBusyError`), which the lease reports first. */
  busyRetry: RetryRule;
  /** Seconds one `AcquireLease` attempt takes (a refused attempt costs it too). */
  attemptSeconds: number;
}

/** The queue as built, with the timings of ADR 32 (sweep-queues.ts: HEARTBEAT_EVERY_MS; the sweep's schedule). */
export const QUEUE_ADMISSION: QueueAdmission = {
  kind: 'queue',
  sweeperSeconds: 300,
  heartbeatAfterSeconds: 1800,
  heartbeatTimeoutSeconds: 3600,
};

/** How the group's lock is taken after a surge's claim, and how long the granter takes. */
export interface GroupLockRules {
  /** `RetireOld`'s Retry rule for `GroupBusyError`, then `Rollback`'s (after RetireOld gave up), as the definition states them. */
  retireRetry: RetryRule;
  rollbackRetry: RetryRule;
  /** One attempt of either (a Lambda task; a refused one fails at its end). */
  attemptSeconds: number;
  /** How long a `RetireOld` (or `Rollback`) that got the lock keeps it. */
  holdSeconds: number;
  /**
   * How long the group's waiting retirements hold surges off after the last refusal of any of
   * them (the product's `RETIRER_WAIT_SECONDS`: each refused try renews the set's one expiry).
   */
  retirerWaitSeconds: number;
  /** From a call to `admit` to its first lease transaction, and between two of one pass: the reads and the waiter's recheck. */
  granterSeconds: number;
}

/** Not built, or no longer built ("befores"): what-ifs, reported without budgets. */
export interface WhatIf {
  /**
   * Before waves (issue 14.2): each surge takes the group's lock with its lease, raises the
   * desired capacity by one, and hands the lock back at the claim of its instance (then
   * `admit`); `RetireOld` takes the lock again (retirements first, unless
   * `retirementsNotFirst`). The other befores and `retireWithoutLock` are of this lock.
   */
  perInstanceLock?: boolean;
  /**
   * Before e8871a5: `RetireOld`'s release runs no `admit` (the waiters wait for the next claim
   * or the sweep). As built, it admits when someone waits, as `ReleaseLease` does.
   */
  retireAdmitsNobody?: boolean;
  /** With `perInstanceLock`: `RetireOld` hands the old instance back without waiting for the surges' lock. */
  retireWithoutLock?: boolean;
  /**
   * Before the estimate (commit "Waves are sized by Phoenix's estimate of EC2's RunInstances
   * tokens"): waves take any number of members, whatever EC2's tokens. As built (with
   * `launchTokens` modelled), a wave takes no more members than the granter's estimate of the
   * account's RunInstances tokens at the grant (a bucket of the same spec fed only by Phoenix's
   * own grants; never below one member), and a lease beyond it is refused as busy, like a
   * raised wave's. The estimate's own calls (a GetItem and a conditional PutItem per `admit`
   * pass, an UpdateItem per pass that grants and per newcomer's grant) are not counted.
   */
  tokenBlindWaves?: boolean;
  /**
   * Before 07f9b81: a refused retirement registers nowhere and a surge takes the free lock
   * whoever waits for it (each refused try of a retirement a PutItem). As built, retirements
   * go first.
   */
  retirementsNotFirst?: boolean;
}

export interface FleetOptions {
  /** Drifted instances, all of one Auto Scaling group; instance i is in AZ i mod `azs` and launched before i + 1. */
  n: number;
  /** Leases at once (`maxConcurrent` resolved for the fleet). */
  k: number;
  azs: number;
  timeline: RemediationTimeline;
  admission: QueueAdmission | PollingAdmission;
  lock: GroupLockRules;
  /** EC2's RunInstances resource tokens; without it, launches never wait. */
  launchTokens?: TokenBucketSpec;
  whatIf?: WhatIf;
  /**
   * When execution `id` reaches its lease step; all at `timeline.beforeLease` by default (one
   * sweep or one template change finds them all).
   */
  arriveAt?: (id: number) => number;
  /** Full jitter's draws (the retries of `RetireOld`, `Rollback` and, polling, `AcquireLease`). */
  random: () => number;
}

/** The calls of one fleet, by `Service.Operation`. */
export type CallCounts = Record<string, number>;

/** One lease grant, in the order they were made. */
export interface Grant {
  id: number;
  az: number;
  at: number;
}

/** The most, the mean per instance, and the total by operation. */
export interface PerInstance {
  max: number;
  mean: number;
  byOperation: CallCounts;
}

export interface FleetRun {
  replaced: number;
  /** Ended without a replacement because the fleet was busy (lease back-off out, or a waiter timed out). */
  blocked: number;
  /**
   * Rolled back: not healthy within the execution's attempts (a launch that waited too long
   * for its token), or healthy but `RetireOld` never got the group's lock within its retries.
   */
  rolledBack: number;
  /** Of those rolled back, the healthy replacements whose `RetireOld` gave up on the lock. */
  retireGaveUp: number;
  /** `Rollback` gave up on the lock too: the execution failed, its lease left to its TTL. */
  failed: number;
  /** When the last replaced instance's execution ended, its old instance drained (0 when none was replaced). */
  seconds: number;
  /** When the last replacement was healthy and its lease released (its old instance still draining). */
  inService: number;
  /** State transitions per replaced instance (a retry is one). */
  transitions: { max: number; mean: number };
  /** Steps-Lambda invocations per instance beyond the recorded path's: retries. */
  extraInvocations: { max: number; mean: number };
  /** Lease and queue calls (DynamoDB, Step Functions) made for each instance, the sweep's apart. */
  leaseCalls: PerInstance;
  /** The granter's AWS reads (the waiter's recheck: EC2, Auto Scaling) made for each instance, the sweep's apart. */
  granterReads: PerInstance;
  /**
   * `RetireOld`'s (and `Rollback`'s) retries on a busy group lock; the refused try before each
   * is the lock's TransactWriteItems and the registration's UpdateItem (a PutItem before 07f9b81).
   */
  lockRetries: PerInstance;
  /** The sweep's calls over the roll, by operation; its passes; the waiter items it read. */
  sweeper: { passes: number; calls: CallCounts; waiterItemsRead: number };
  heartbeats: { total: number; maxPerInstance: number };
  /** `admit` passes stopped because a `RetireOld` (or `Rollback`) held the group's lock. */
  stalls: number;
  /**
   * Retirements first: surge lease attempts parked and `admit` passes stopped because
   * retirements waited for the group's lock (which no surge held), and the seconds the lock
   * stood free while they waited (for a registered retirement's next try, or the set to lapse).
   */
  retirersFirst: { refusals: number; lockFreeSeconds: number; mostWaiting: number };
  /**
   * Seconds the queue stood still: waiters parked, the group's lock free with no retirement
   * waiting for it, a lease free, and nobody running `admit` (what-if: a `RetireOld` released
   * its lease without one; or the waiting retirements' set lapsed) until the next claim,
   * release or sweep.
   */
  idleSeconds: number;
  /** Share of the roll, from the first lease to the last release, the group's lock was held. */
  lockBusy: number;
  /** Seconds a launch waited for its RunInstances token. */
  launchWait: { max: number; mean: number };
  /** Seconds from the first lease attempt to the lease's answer (a wave member's, at its granter's pass's end). */
  leaseWait: { max: number; mean: number };
  /** Health checks per execution that launched (its rounds round the check, the first included). */
  healthChecks: { max: number; mean: number };
  /**
   * Each raise of the group's desired capacity, in order, by how many: one per wave, by its
   * members (before waves, one per surge, by one). Empty without a group.
   */
  raises: number[];
  /** Lease grants (the lease written), in the order they were made. */
  grants: Grant[];
}

interface SimEvent {
  at: number;
  seq: number;
  kind:
    | 'arrive'
    | 'retry'
    | 'admit-try'
    | 'launch'
    | 'claim'
    | 'retire'
    | 'retired'
    | 'rollback'
    | 'rolled-back'
    | 'release'
    | 'sweep';
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

/** Operations of the lease, the queue and the granter, as the benchmarks name AWS calls. */
export const OP = {
  transact: 'DynamoDB.TransactWriteItems',
  put: 'DynamoDB.PutItem',
  get: 'DynamoDB.GetItem',
  query: 'DynamoDB.Query',
  update: 'DynamoDB.UpdateItem',
  delete: 'DynamoDB.DeleteItem',
  batchGet: 'DynamoDB.BatchGetItem',
  taskSuccess: 'SFN.SendTaskSuccess',
  heartbeat: 'SFN.SendTaskHeartbeat',
  describeInstances: 'EC2.DescribeInstances',
  describeTemplate: 'EC2.DescribeLaunchTemplateVersions',
  describeGroup: 'AutoScaling.DescribeAutoScalingGroups',
} as const;

/** The recheck a granter runs for a waiter before its lease: three AWS reads and the gate's state-table read. */
const RECHECK_AWS_READS = [OP.describeInstances, OP.describeTemplate, OP.describeGroup] as const;

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

/** A fleet still open after a year of simulated time never converges: its rules deadlock. */
const NEVER_CONVERGED_SECONDS = 365 * 86_400;

/**
 * Who holds the group's lock: a wave (as built: its members not yet gone, whether it has
 * raised the desired capacity), or before waves one surge until its claim, or a retirement or
 * rollback.
 */
interface Wave {
  kind: 'wave';
  members: Set<number>;
  raised: boolean;
}
type Lock = Wave | { kind: 'surge'; id: number } | { kind: 'retire' | 'rollback'; id: number };

type Outcome = 'waiting' | 'held' | 'replaced' | 'blocked' | 'rolled-back' | 'failed';

/**
 * One simulated fleet: N executions started at once, k leases, the group's lock, the queue or
 * the lease back-off, launches through the token bucket. Calls are counted for the instance
 * they were made for: its lease attempts, its park and the `admit` pass that follows, its
 * grant (the granter's recheck, transaction, answer, task success and removal), its release
 * and the `admit` pass after it (before waves, the pass after its claim too; the failed try
 * that ends a pass is counted for the one who runs it). The sweep's calls are counted apart.
 */
export function simulateFleet(options: FleetOptions): FleetRun {
  const { n, k, azs, timeline, admission, lock: rules, random } = options;
  if (
    !(Number.isInteger(n) && n >= 0 && Number.isInteger(k) && k >= 1 && Number.isInteger(azs) && azs >= 1)
  ) {
    throw new RangeError(
      `a fleet needs n >= 0, k >= 1 and azs >= 1 (integers), got n=${n} k=${k} azs=${azs}`,
    );
  }
  const perInstanceLock = options.whatIf?.perInstanceLock === true;
  // As built: a surge's lease founds or joins its group's wave.
  const waves = timeline.groupLock && !perInstanceLock;
  const retireAdmits = options.whatIf?.retireAdmitsNobody !== true;
  const retireWithoutLock = options.whatIf?.retireWithoutLock === true;
  const retirementsFirst = options.whatIf?.retirementsNotFirst !== true;
  const tokens = options.launchTokens === undefined ? undefined : new TokenBucket(options.launchTokens);
  const estimate =
    options.launchTokens === undefined || options.whatIf?.tokenBlindWaves === true
      ? undefined
      : new TokenBucket(options.launchTokens);
  const events = new EventQueue();
  const perInstance = () => Array.from({ length: n }, (): CallCounts => ({}));
  const calls = perInstance();
  const reads = perInstance();
  const byOperation: CallCounts = {};
  const readsByOperation: CallCounts = {};
  const lockByOperation: CallCounts = {};
  const sweeper = { passes: 0, calls: {} as CallCounts, waiterItemsRead: 0 };
  /** `payer`: the instance a call is made for, or the sweep. */
  const call = (payer: number | 'sweeper', operation: string, count = 1) => {
    if (payer === 'sweeper') {
      add(sweeper.calls, operation, count);
      return;
    }
    const aws = !operation.startsWith('DynamoDB.') && !operation.startsWith('SFN.');
    add((aws ? reads : calls)[payer] as CallCounts, operation, count);
    add(aws ? readsByOperation : byOperation, operation, count);
  };
  const azOf = (id: number) => id % azs;
  const leaseRetries = new Array<number>(n).fill(0);
  const busyRetries = new Array<number>(n).fill(0);
  const lockRetries = new Array<number>(n).fill(0);
  // When the execution had its lease (the task success): a wave member granted by a pass, at the pass's end.
  const answeredAt = new Array<number>(n).fill(Number.NaN);
  // Waves: each member's wave, and when the group launched the instance its raise asked for.
  const waveOf = new Array<Wave | undefined>(n).fill(undefined);
  const launchedAt = new Array<number>(n).fill(Number.NaN);
  const raises: number[] = [];
  const lastBeat = new Array<number>(n).fill(0);
  const beats = new Array<number>(n).fill(0);
  const transitions = new Array<number>(n).fill(0);
  const invocations = new Array<number>(n).fill(0);
  const outcome = new Array<Outcome>(n).fill('waiting');
  const gaveUp = new Array<boolean>(n).fill(false);
  const launchWaits: number[] = [];
  const checks: number[] = [];
  // Per AZ: waiting instance ids, oldest launch first (ids are in launch order), from `head` on.
  const queues = Array.from({ length: azs }, () => ({ ids: [] as number[], head: 0 }));
  const zonesSeen = new Set<number>();
  const inFlight = new Array<number>(azs).fill(0);
  const grants: Grant[] = [];
  // An `admit` pass in progress: who runs it (its reads and the try that ends it are theirs),
  // and the wave members it granted, answered when it ends.
  const passes: Array<number | 'sweeper'> = [];
  const deferred: number[][] = [];
  let lock: Lock | undefined;
  let lockSince = 0;
  // Retirements first: the group's `retirers` set, and the one expiry every refusal renews.
  const retirers = new Set<number>();
  let retirersUntil = Number.NEGATIVE_INFINITY;
  const retirersFirst = { refusals: 0, lockFreeSeconds: 0, mostWaiting: 0 };
  let lockBusySeconds = 0;
  let firstLease: number | undefined;
  let lastRelease = 0;
  let stalls = 0;
  let parked = 0;
  let tries = 0; // admit tries scheduled, not yet made
  let idleSeconds = 0;
  let clock = 0;
  let held = 0;
  let open = n; // executions not yet ended
  let seconds = 0;
  let inService = 0;

  const setLock = (next: Lock | undefined, at: number) => {
    if (lock === undefined && next !== undefined) lockSince = at;
    if (lock !== undefined && next === undefined) lockBusySeconds += at - lockSince;
    lock = next;
  };
  const waiting = (q: { ids: number[]; head: number }) => q.ids.length - q.head;
  /** A waiter nobody heartbeat within `HeartbeatSeconds`: its task timed out, its execution failed. */
  const timedOut = (id: number, at: number): boolean => {
    if (admission.kind !== 'queue' || at - (lastBeat[id] ?? 0) <= admission.heartbeatTimeoutSeconds) {
      return false;
    }
    outcome[id] = 'blocked';
    open -= 1;
    parked -= 1;
    return true;
  };
  /** Until when the registered retirements hold surges off (the set's expiry; none registered, never). */
  const heldOffUntil = () => (retirers.size > 0 ? retirersUntil : Number.NEGATIVE_INFINITY);
  /**
   * Why a lease cannot be had at `at`: the group's lock held, or retirements waiting for it
   * (both reported before the budget), the budget, or nothing.
   */
  const refusal = (at: number): 'lock' | 'retirers' | 'budget' | undefined => {
    if (timeline.groupLock) {
      // A wave that has not raised yet takes more members; one that has is the busy lock.
      const joins = lock?.kind === 'wave' && !lock.raised;
      if (lock !== undefined && !joins) return 'lock';
      // What-if: the wave already has as many members as the estimate has tokens.
      const members = lock?.kind === 'wave' ? lock.members.size : 0;
      if (estimate !== undefined && members + 1 > Math.max(1, Math.floor(estimate.tokensAt(at) + 1e-9)))
        return 'lock';
      if (at <= heldOffUntil()) return 'retirers';
    }
    return held < k ? undefined : 'budget';
  };

  /**
   * The lease (and, for a surge, the group's lock: it founds a wave or joins the one not yet
   * raised; before waves, its own) written at `at`; the execution goes on when it is answered.
   */
  const grant = (id: number, at: number) => {
    held += 1;
    firstLease ??= at;
    inFlight[azOf(id)] = (inFlight[azOf(id)] ?? 0) + 1;
    outcome[id] = 'held';
    grants.push({ id, az: azOf(id), at });
    if (!timeline.groupLock) return;
    if (!waves) {
      setLock({ kind: 'surge', id }, at);
      return;
    }
    if (lock?.kind === 'wave' && !lock.raised) lock.members.add(id);
    else setLock({ kind: 'wave', members: new Set([id]), raised: false }, at);
    waveOf[id] = lock as Wave;
  };

  /** The task success reaches the execution at `at`: it goes on to its launch step. */
  const answer = (id: number, at: number) => {
    answeredAt[id] = at;
    events.push(at + timeline.leaseToLaunch, 'launch', id);
  };

  /**
   * A member gone from its wave (its lease released by `RetireOld` or the rollback, in the
   * same transaction): the last to go frees the group's lock.
   */
  const leaveWave = (id: number, at: number) => {
    const wave = waveOf[id];
    if (wave === undefined || !wave.members.delete(id)) return;
    if (wave.members.size === 0 && lock === wave) setLock(undefined, at);
  };

  /** The lease given back (and the count of leases in flight): the execution's part of the fleet is done. */
  const releaseLease = (id: number, at: number) => {
    held -= 1;
    inFlight[azOf(id)] = (inFlight[azOf(id)] ?? 0) - 1;
    lastRelease = Math.max(lastRelease, at);
    call(id, OP.transact);
  };

  const nextWaiter = (): number | undefined => {
    for (;;) {
      const az = nextAz(
        queues.map((q) => q.ids[q.head]),
        inFlight,
      );
      if (az === undefined) return undefined;
      const q = queues[az] as { ids: number[]; head: number };
      const id = q.ids[q.head] as number;
      if (outcome[id] === 'waiting') return id;
      q.head += 1; // gone (its task timed out): the granter drops it
    }
  };
  const popWaiter = (id: number) => {
    const q = queues[azOf(id)] as { ids: number[]; head: number };
    if (q.ids[q.head] === id) q.head += 1;
  };
  /** Whether a grant could be made now (to a waiter, were anyone to run `admit`), retirements waiting aside. */
  const grantable = () =>
    tries === 0 &&
    parked > 0 &&
    held < k &&
    (!timeline.groupLock || lock === undefined || (lock.kind === 'wave' && !lock.raised)) &&
    admission.kind === 'queue';

  /** `admit`: read the zones, the heads and the leases; try the next head after the granter's recheck. */
  const admit = (at: number, payer: number | 'sweeper') => {
    if (admission.kind !== 'queue') return;
    call(payer, OP.get);
    if (zonesSeen.size === 0) return;
    call(payer, OP.query, zonesSeen.size);
    if (!queues.some((q) => waiting(q) > 0)) return;
    call(payer, OP.query); // the fleet's leases, for each zone's replacements in flight
    passes.push(payer);
    deferred.push([]);
    tries += 1;
    events.push(at + rules.granterSeconds, 'admit-try', passes.length - 1);
  };

  /**
   * A claim or a release that saw the queue in its own transaction (its waiter count): nobody
   * waits, nothing more; someone does, the transaction again without the check, then `admit`.
   */
  const handOn = (at: number, id: number) => {
    if (admission.kind !== 'queue' || parked === 0) return;
    call(id, OP.transact);
    admit(at, id);
  };

  /** The pass ends: its wave members' answers, deferred to now, go out. */
  const endPass = (pass: number, at: number) => {
    for (const id of deferred[pass] ?? []) answer(id, at);
    deferred[pass] = [];
  };

  const admitTry = (pass: number, at: number) => {
    const payer = passes[pass] as number | 'sweeper';
    let id = nextWaiter();
    while (id !== undefined && timedOut(id, at)) {
      popWaiter(id);
      id = nextWaiter();
    }
    if (id === undefined) {
      endPass(pass, at);
      return;
    }
    const refused = refusal(at);
    // The waiter's recheck and its lease transaction: for the waiter when granted, else the pass's.
    const by = refused === undefined ? id : payer;
    for (const read of RECHECK_AWS_READS) call(by, read);
    call(by, OP.batchGet);
    call(by, OP.transact);
    if (refused !== undefined) {
      if (refused === 'lock' && (lock?.kind === 'retire' || lock?.kind === 'rollback')) stalls += 1;
      if (refused === 'retirers') retirersFirst.refusals += 1;
      endPass(pass, at);
      return;
    }
    popWaiter(id);
    parked -= 1;
    grant(id, at);
    call(id, OP.update);
    // A wave member's answer waits for the pass's end; before waves (or no group), at once.
    if (waves) deferred[pass]?.push(id);
    else answer(id, at);
    call(id, OP.taskSuccess);
    call(id, OP.transact); // the waiter's removal, with its count
    tries += 1;
    events.push(at + rules.granterSeconds, 'admit-try', pass);
  };

  const retryLater = (id: number, at: number, rule: RetryRule, attempt: number, kind: SimEvent['kind']) => {
    const jitter = rule.JitterStrategy === 'FULL' ? random() : 1;
    events.push(at + retryDelay(rule, attempt) * jitter, kind, id);
  };

  const attempt = (id: number, at: number) => {
    call(id, OP.transact);
    // A newcomer waits behind the queue's waiters (a condition on their count, in its lease
    // transaction), even with a slot and the lock free. The benchmark's fleets all arrive at
    // once, before anyone parks: there it changes no figure.
    const refused = admission.kind === 'queue' && parked > 0 ? 'queue' : refusal(at);
    if (refused === 'retirers') retirersFirst.refusals += 1;
    if (refused === undefined) {
      // Its own grant, answered at once: it founds its group's wave or joins it.
      if (admission.kind === 'queue') call(id, OP.taskSuccess);
      grant(id, at);
      answer(id, at);
      return;
    }
    if (admission.kind === 'queue') {
      call(id, OP.transact); // the waiter's item, and the fleet's zones and waiter count
      zonesSeen.add(azOf(id));
      lastBeat[id] = at;
      const q = queues[azOf(id)] as { ids: number[]; head: number };
      // Parks come in launch order here; a late one would be inserted in its place.
      let i = q.ids.length;
      while (i > q.head && (q.ids[i - 1] as number) > id) i -= 1;
      q.ids.splice(i, 0, id);
      parked += 1;
      admit(at, id);
      return;
    }
    // Retirements waiting refuse the lock as a holder does: the same GroupBusyError.
    const busy = refused === 'lock' || refused === 'retirers';
    const counter = busy ? busyRetries : leaseRetries;
    const rule = busy ? admission.busyRetry : admission.retry;
    const done = counter[id] ?? 0;
    if (done < (rule.MaxAttempts ?? 3)) {
      counter[id] = done + 1;
      transitions[id] = (transitions[id] ?? 0) + 1;
      invocations[id] = (invocations[id] ?? 0) + 1;
      retryLater(id, at + admission.attemptSeconds, rule, done + 1, 'retry');
    } else {
      outcome[id] = 'blocked';
      open -= 1;
    }
  };

  /** `RetireOld` (or, after it gave up, `Rollback`) asks for the group's lock. */
  const takeLockFor = (id: number, at: number, step: 'retire' | 'rollback') => {
    // As built, a member marks itself retiring on its own wave's lock: it never waits.
    if (step === 'retire' && (waves || retireWithoutLock)) {
      events.push(at + rules.holdSeconds, 'retired', id);
      return;
    }
    if (lock === undefined) {
      // Registered or not, a retirement takes the free lock (surges never do while one
      // waits); its take leaves the set in the same transaction.
      retirers.delete(id);
      setLock({ kind: step, id }, at);
      events.push(at + rules.holdSeconds, step === 'retire' ? 'retired' : 'rolled-back', id);
      return;
    }
    if (retirementsFirst) {
      // Refused: it registers, and its refusal renews the set's one expiry (every member's).
      retirers.add(id);
      retirersUntil = at + rules.retirerWaitSeconds;
      retirersFirst.mostWaiting = Math.max(retirersFirst.mostWaiting, retirers.size);
    }
    const rule = step === 'retire' ? rules.retireRetry : rules.rollbackRetry;
    const done = lockRetries[id] ?? 0;
    const offset = step === 'retire' ? 0 : (rules.retireRetry.MaxAttempts ?? 3);
    if (done - offset < (rule.MaxAttempts ?? 3)) {
      lockRetries[id] = done + 1;
      transitions[id] = (transitions[id] ?? 0) + 1;
      invocations[id] = (invocations[id] ?? 0) + 1;
      if (retirementsFirst) {
        add(lockByOperation, OP.transact);
        add(lockByOperation, OP.update);
      } else {
        add(lockByOperation, OP.put);
      }
      retryLater(id, at + rules.attemptSeconds, rule, done - offset + 1, step);
      return;
    }
    if (step === 'retire') {
      // Out of retries: caught, the execution rolls back (its healthy replacement with it).
      gaveUp[id] = true;
      events.push(at + rules.attemptSeconds, 'rollback', id);
      return;
    }
    // Rollback out of retries too: the execution fails; its lease is left to its TTL, and its
    // registration to the set's expiry (renewed by any other retirement refused meanwhile).
    outcome[id] = 'failed';
    open -= 1;
  };

  for (let id = 0; id < n; id++) events.push(options.arriveAt?.(id) ?? timeline.beforeLease, 'arrive', id);
  if (admission.kind === 'queue' && n > 0) events.push(admission.sweeperSeconds, 'sweep', -1);

  for (let event = events.pop(); event !== undefined; event = events.pop()) {
    const { at, id } = event;
    if (at > NEVER_CONVERGED_SECONDS) {
      // A lock nobody frees (a deadlock in the rules modelled): the sweep would go on forever.
      throw new ModelMismatchError(
        `the fleet has not converged after ${NEVER_CONVERGED_SECONDS} s: ${open} executions still open`,
      );
    }
    // Standing still from when no retirement waits any more (at once when none does).
    if (grantable()) idleSeconds += Math.max(0, at - Math.max(clock, heldOffUntil()));
    if (timeline.groupLock && lock === undefined)
      retirersFirst.lockFreeSeconds += Math.max(0, Math.min(at, heldOffUntil()) - clock);
    clock = at;
    switch (event.kind) {
      case 'arrive':
      case 'retry':
        attempt(id, at);
        break;
      case 'admit-try':
        tries -= 1;
        admitTry(id, at);
        break;
      case 'launch': {
        const wave = waveOf[id];
        if (wave !== undefined && !wave.raised) {
          // The first member to raise closes the wave and raises the desired capacity once, by
          // its number of members: the group launches them all now, each as its token comes.
          // (The model launches at the end of the launch step, as for any launch.)
          wave.raised = true;
          raises.push(wave.members.size);
          for (const member of wave.members) {
            estimate?.take(at);
            launchedAt[member] = tokens === undefined ? at : tokens.take(at);
            launchWaits.push((launchedAt[member] as number) - at);
          }
        } else if (wave === undefined) {
          launchedAt[id] = tokens === undefined ? at : tokens.take(at);
          launchWaits.push((launchedAt[id] as number) - at);
          if (timeline.groupLock) raises.push(1);
        }
        // A member answered after its wave raised finds its instance launched before its own step.
        const r = replacementAt(timeline, (launchedAt[id] as number) - at);
        transitions[id] = (transitions[id] ?? 0) + r.transitions;
        checks.push(r.healthChecks);
        const granted = answeredAt[id] as number;
        // Before waves the claim hands the lock back; as built it claims the instance and holds on.
        if (timeline.groupLock && !waves) events.push(granted + r.claimedAt, 'claim', id);
        if (r.rolledBack) {
          outcome[id] = 'rolled-back';
          events.push(granted + r.holdingLease, 'release', id);
        } else if (timeline.groupLock) {
          events.push(granted + r.holdingLease - timeline.releaseStep, 'retire', id);
        } else {
          events.push(granted + r.holdingLease, 'release', id);
        }
        break;
      }
      case 'claim': {
        // Before waves: the health check found the group's new instance, the claim hands the lock back.
        if (lock?.kind !== 'surge' || lock.id !== id) break;
        setLock(undefined, at);
        handOn(at, id);
        break;
      }
      case 'retire':
        takeLockFor(id, at, 'retire');
        break;
      case 'rollback':
        takeLockFor(id, at, 'rollback');
        break;
      case 'retired': {
        // RetireOld handed the old instance back and released lease and lock in one request,
        // then admits if anyone waits (before e8871a5, a what-if now: nobody).
        // As built, the member leaves its wave in that request (the last frees the lock).
        if (lock?.kind === 'retire' && lock.id === id) setLock(undefined, at);
        leaveWave(id, at);
        releaseLease(id, at);
        outcome[id] = 'replaced';
        open -= 1;
        const started = at - rules.holdSeconds;
        seconds = Math.max(seconds, started + timeline.releaseStep + timeline.afterRelease);
        inService = Math.max(inService, at);
        if (retireAdmits) handOn(at, id);
        break;
      }
      case 'rolled-back': {
        // Rollback put the group back under the lock; the release after it runs admit.
        if (lock?.kind === 'rollback' && lock.id === id) setLock(undefined, at);
        outcome[id] = 'rolled-back';
        events.push(at + timeline.rollbackToRelease, 'release', id);
        break;
      }
      case 'release': {
        // ReleaseLease (or ReleaseLeaseAfterRollback): the lease, and a lock still held, then admit if anyone waits.
        // As built, a member rolled back inside its wave leaves it with its lease.
        if (lock?.kind === 'surge' && lock.id === id) setLock(undefined, at);
        leaveWave(id, at);
        releaseLease(id, at);
        open -= 1;
        if (outcome[id] === 'held') {
          outcome[id] = 'replaced';
          seconds = Math.max(seconds, at + timeline.afterRelease);
          inService = Math.max(inService, at);
        }
        handOn(at, id);
        break;
      }
      case 'sweep': {
        if (admission.kind !== 'queue') break;
        sweeper.passes += 1;
        add(sweeper.calls, OP.get); // the fleet's zones
        // To heartbeat, the sweep reads every parked waiter (their last heartbeats).
        for (const az of zonesSeen) {
          const q = queues[az] as { ids: number[]; head: number };
          add(sweeper.calls, OP.query);
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

  for (let id = 0; id < n; id++) {
    if (gaveUp[id] === true && outcome[id] === 'rolled-back') continue;
    gaveUp[id] = false;
  }
  const replacedIds = outcome.flatMap((o, id) => (o === 'replaced' ? [id] : []));
  const waits = answeredAt.filter((g) => Number.isFinite(g)).map((g) => g - timeline.beforeLease);
  const replacedTransitions = replacedIds.map((id) => transitions[id] as number);
  const busySpan = lastRelease - (firstLease ?? 0);
  return {
    replaced: replacedIds.length,
    blocked: outcome.filter((o) => o === 'blocked').length,
    rolledBack: outcome.filter((o) => o === 'rolled-back').length,
    retireGaveUp: gaveUp.filter(Boolean).length,
    failed: outcome.filter((o) => o === 'failed').length,
    seconds,
    inService,
    transitions: { max: maxOf(replacedTransitions), mean: meanOf(replacedTransitions) },
    extraInvocations: { max: maxOf(invocations), mean: meanOf(invocations) },
    leaseCalls: summary(calls, byOperation),
    granterReads: summary(reads, readsByOperation),
    lockRetries: { max: maxOf(lockRetries), mean: meanOf(lockRetries), byOperation: lockByOperation },
    sweeper,
    heartbeats: { total: beats.reduce((a, b) => a + b, 0), maxPerInstance: maxOf(beats) },
    stalls,
    retirersFirst,
    idleSeconds,
    lockBusy: busySpan > 0 ? lockBusySeconds / busySpan : 0,
    launchWait: { max: maxOf(launchWaits), mean: meanOf(launchWaits) },
    leaseWait: { max: maxOf(waits), mean: meanOf(waits) },
    healthChecks: { max: maxOf(checks), mean: meanOf(checks) },
    raises,
    grants,
  };
}

function summary(perInstance: readonly CallCounts[], byOperation: CallCounts): PerInstance {
  const totals = perInstance.map((c) => Object.values(c).reduce((a, b) => a + b, 0));
  return { max: maxOf(totals), mean: meanOf(totals), byOperation };
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
 * The median fleet over `trials` seeded runs (one run when nothing draws at random: no rule
 * with full jitter): the run in the middle when ordered by instances blocked, then rolled
 * back, then by time to converge.
 */
export function estimateFleet(
  options: Omit<FleetOptions, 'random'> & { trials: number; seed: number },
): FleetEstimate {
  const { admission, lock } = options;
  const rules = [lock.retireRetry, lock.rollbackRetry];
  if (admission.kind === 'polling') rules.push(admission.retry, admission.busyRetry);
  const jittered = rules.some((r) => r.JitterStrategy === 'FULL');
  const trials = jittered ? options.trials : 1;
  const random = seededRandom(options.seed);
  const runs = Array.from({ length: trials }, () => simulateFleet({ ...options, random }));
  runs.sort((a, b) => a.blocked - b.blocked || a.rolledBack - b.rolledBack || a.seconds - b.seconds);
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
