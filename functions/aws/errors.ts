/** The errors of the AWS adapters, in Phoenix's one hierarchy (`functions/domain/errors.ts`). */
import { PhoenixError } from '../domain/errors';
import type { RolloutStage } from '../domain/rollout/stage';

/**
 * The endpoint answered a call successfully, but not as AWS answers: an HTML page, or text
 * that is neither XML nor JSON (a proxy, a captive portal, a web server on the wrong port).
 * Without this check EC2's XML reader turns such a page into an empty answer ("no
 * instances"), which is worse than any error.
 */
export class NonAwsResponseError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NonAwsResponseError';
  }
}

/** The fleet's launch template, or the version it names, does not exist. Not retried. */
export class LaunchTemplateNotFoundError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LaunchTemplateNotFoundError';
  }
}

/** The Auto Scaling group does not exist (deleted, or a typo in the desired state). Not retried. */
export class AutoScalingGroupNotFoundError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AutoScalingGroupNotFoundError';
  }
}

/**
 * Throttling, a service-side failure (HTTP 5xx) or no answer at all while reading alarms,
 * after the SDK's own retries: the same call may succeed in a moment. The alarms' states are
 * unknown; the gate stays closed until they are read.
 */
export class AlarmsUnavailableError extends PhoenixError {
  /** The AWS error name (`Throttling`, `InternalFailure`, `ECONNREFUSED`…). */
  readonly code: string;
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    this.name = 'AlarmsUnavailableError';
    this.code = options?.code ?? 'unknown';
  }
}

/**
 * CloudWatch refused to describe the alarms for a reason retrying does not change (access
 * denied: the role lacks `cloudwatch:DescribeAlarms` on these names; a request it rejects).
 * The alarms' states are unknown; a person must fix the role or the names.
 */
export class AlarmsUnreadableError extends PhoenixError {
  /** The AWS error name (`AccessDenied`, `InvalidParameterValue`…). */
  readonly code: string;
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    this.name = 'AlarmsUnreadableError';
    this.code = options?.code ?? 'unknown';
  }
}

/** No rollout where one was asked for: the fleet has none (or not of that source). */
export class RolloutNotFoundError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RolloutNotFoundError';
  }
}

/** The operator's action does not apply to the rollout's stage (approve a rollout not awaiting approval…). */
export class RolloutStageError extends PhoenixError {
  readonly stage: RolloutStage;
  constructor(message: string, stage: RolloutStage, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RolloutStageError';
    this.stage = stage;
  }
}
