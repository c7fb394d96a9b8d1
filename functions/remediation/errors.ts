/**
 * The errors the remediation steps throw on purpose.
 *
 * Each `name` is matched by the state machine's `Retry` / `Catch` clauses
 * (`state-machines/remediate-instance.asl.json`); a test checks every `ErrorEquals` there
 * names one of these, a `States.*` error or a service error, so renaming one is a
 * deliberate change in both places.
 */
import { AlarmsUnavailableError, AlarmsUnreadableError } from '../aws/errors';
import type { TransientReason } from '../aws/transient';
import { PhoenixError } from '../domain/errors';

/**
 * The fleet's budget has no room now. `limit: 'concurrency'` (maxConcurrent reached, or the
 * headroom above the floor in use by others): other replacements' ends free it, so the lease
 * step waits in the fleet's queue. `limit: 'floor'`: this replacement alone would take the
 * fleet below its healthy floor; only the group itself changing frees it, so it is retried
 * with backoff, then "blocked" (the next detection plans again).
 */
export class LeaseDeniedError extends PhoenixError {
  readonly limit: 'concurrency' | 'floor';

  constructor(message: string, options?: ErrorOptions & { limit?: 'concurrency' | 'floor' }) {
    super(message, options);
    this.name = 'LeaseDeniedError';
    this.limit = options?.limit ?? 'concurrency';
  }
}

/** The replacement did not pass every health check before the deadline. Rolls back and quarantines the version. */
export class ReplacementUnhealthyError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReplacementUnhealthyError';
  }
}

/** The replacement stopped, terminated or failed to launch: no point waiting for it. Rolls back. */
export class ReplacementFailedError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReplacementFailedError';
  }
}

/**
 * EC2 refused to launch the replacement from the pinned launch template version for a reason
 * retrying cannot fix: the request's own parameters (an instance type, image, key pair or
 * network setting the account or the region does not accept), or a permission Phoenix does
 * not have. `code` is EC2's error code. Not retried: rolls back and quarantines the version,
 * so the next detection does not launch from it again.
 */
export class LaunchRejectedError extends PhoenixError {
  /** The EC2 error code, or `ScalingActivityFailed` for a launch an Auto Scaling group reported failed. */
  readonly code: string;
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    this.name = 'LaunchRejectedError';
    this.code = options?.code ?? 'unknown';
  }
}

/**
 * EC2 has no capacity for the replacement now (the instance type in that zone, or the
 * account's instance or vCPU limit). Retried with backoff; still short, the remediation rolls
 * back without quarantining the version (the template is not at fault) and the next detection
 * tries again.
 */
export class InsufficientCapacityError extends PhoenixError {
  /** The EC2 error code, or `ScalingActivityFailed` for a launch an Auto Scaling group reported failed. */
  readonly code: string;
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    this.name = 'InsufficientCapacityError';
    this.code = options?.code ?? 'unknown';
  }
}

/** The instance to replace vanished after the recheck (terminated by someone else). */
export class InstanceGoneError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InstanceGoneError';
  }
}

/**
 * Another execution is changing the same Auto Scaling group's capacity (it holds the group
 * lock), or the group has no MaxSize headroom left while others' surges are in flight.
 * Retried with backoff; when the group stays busy, the remediation ends "blocked" without
 * having changed anything.
 */
export class GroupBusyError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GroupBusyError';
  }
}

/**
 * At the moment of taking the lease, remediation is paused or the pinned launch template
 * version is quarantined (set after the recheck: an operator's pause, another execution's
 * rollback). Not retried: the remediation ends "blocked" having changed nothing, and the
 * next detection starts it again once the switch is back.
 */
export class GateClosedError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'GateClosedError';
  }
}

/**
 * At the moment of taking the lease, another execution holds the claim on the instance: it is
 * replacing it now (two executions of one drift: two local runs that named them alike, a
 * local run beside the deployed stack). Not retried: the remediation ends "skipped"
 * (`in-flight-elsewhere`) having changed nothing, and the drift's next attempt may start
 * once the other has ended.
 */
export class ReplacingElsewhereError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReplacingElsewhereError';
  }
}

/**
 * A waiter's turn came, and the recheck its granter made first says the replacement is no
 * longer wanted (the instance left, a human fixed it, the fleet's template moved on): the
 * task fails with this and the execution ends skipped with the recheck's reason. Carries the
 * reason and whether it is worth a notification, as the recheck would have said them.
 */
export class NoLongerWantedError extends PhoenixError {
  readonly reason: string;
  readonly notify: boolean;

  constructor(message: string, options?: ErrorOptions & { reason?: string; notify?: boolean }) {
    super(message, options);
    this.name = 'NoLongerWantedError';
    this.reason = options?.reason ?? 'drift-changed';
    this.notify = options?.notify ?? false;
  }
}

/**
 * At the moment of taking the lease, another execution has already replaced the instance
 * (it is leaving: its group drains and terminates it). Not retried: the remediation ends
 * "skipped" (`already-replaced`) having changed nothing.
 */
export class AlreadyReplacedError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AlreadyReplacedError';
  }
}

/**
 * The fleet's rollout admits no member now, for a while that ends by itself: the canary is in
 * flight, the bake runs, another execution took the last slot of the stage. Retried with
 * backoff like a denied lease; still waiting when the retries run out, the remediation ends
 * skipped (`held`), having changed nothing, and the next detection starts it again.
 */
export class RolloutWaitError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RolloutWaitError';
  }
}

/**
 * The fleet is held by something only a human or another fleet ends: a declared alarm in
 * ALARM (or missing), the rollout halted, awaiting `phoenix rollout approve`, or waiting for
 * its promotion (`after:`). Not retried: the remediation ends skipped (`held`), having
 * changed nothing, and the next detection starts it again once the hold is over.
 */
export class RolloutHeldError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RolloutHeldError';
  }
}

/** The state machine handed a step something it cannot use (a definition/code mismatch). Never retried. */
export class StepInputError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StepInputError';
  }
}

/**
 * An AWS call inside a step failed for a reason that passes (throttling, a 5xx, a network
 * failure: `functions/aws/transient.ts` decides). Retried with backoff. The AWS error is the
 * `cause`; `code` and `reason` say what it was without reading the message.
 */
export class TransientAwsError extends PhoenixError {
  /** The AWS error's code (its name), or the socket code of a network failure; `unknown` when not given. */
  readonly code: string;
  /** Why it passes; `undefined` when not given. */
  readonly reason: TransientReason | undefined;
  constructor(message: string, options?: ErrorOptions & { code?: string; reason?: TransientReason }) {
    super(message, options);
    this.name = 'TransientAwsError';
    this.code = options?.code ?? 'unknown';
    this.reason = options?.reason;
  }
}

/**
 * A granter's lease for a waiter, refused because another granter answered the waiter first (or
 * it is gone): it took nothing, and moves on. Never leaves the step (the queue's granter catches it).
 */
export class WaiterAnsweredError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WaiterAnsweredError';
  }
}

/** Every error class a step may throw on purpose, by name (the ASL's vocabulary). */
export const REMEDIATION_ERRORS = {
  LeaseDeniedError,
  GroupBusyError,
  GateClosedError,
  ReplacingElsewhereError,
  AlreadyReplacedError,
  NoLongerWantedError,
  RolloutWaitError,
  RolloutHeldError,
  AlarmsUnavailableError,
  AlarmsUnreadableError,
  ReplacementUnhealthyError,
  ReplacementFailedError,
  LaunchRejectedError,
  InsufficientCapacityError,
  InstanceGoneError,
  StepInputError,
  TransientAwsError,
} as const;

/** The function's configuration is missing or wrong: fails the cold start, loudly. */
export class RemediationEnvironmentError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RemediationEnvironmentError';
  }
}
