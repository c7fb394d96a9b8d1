/** The errors of the AWS adapters, in Phoenix's one hierarchy (`functions/domain/errors.ts`). */
import { PhoenixError } from '../domain/errors';

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
