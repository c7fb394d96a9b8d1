/**
 * What an AWS error means for a remediation, told apart by its code: worth retrying
 * (throttling, a service-side failure: `functions/aws/transient.ts` decides), a shortage EC2 may overcome later (capacity), or a
 * refusal that no retry changes (the launch's own parameters, a permission). The steps Lambda
 * sees the code of every error; a Step Functions SDK integration of EC2 does not (EC2 models
 * no errors, so every one of them is `Ec2.Ec2Exception`), which is why every EC2 call that can
 * fail for more than one reason is made here (docs/adr/0012-launch-errors-by-code.md).
 */
import type { Activity } from '@aws-sdk/client-auto-scaling';
import { isTransientAwsError } from '../aws/transient';
import { InsufficientCapacityError, LaunchRejectedError } from './errors';

/**
 * EC2 codes that say there is no room for the instance now: the instance type in that zone,
 * the account's instance or vCPU limit, the subnet's free addresses. Not the template's fault;
 * EC2 sends some of them as server errors (HTTP 5xx), others as client errors.
 */
const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientCapacityOnOutpost',
  'InsufficientAddressCapacity',
  'InsufficientFreeAddressesInSubnet',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
]);

/** Errors about the caller's credentials, not about the launch: nothing to learn about the template. */
const CREDENTIAL_CODES: ReadonlySet<string> = new Set([
  'AuthFailure',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'RequestExpired',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
]);

/** EC2 codes of a launch the request's parameters or permissions make impossible. */
const REJECTION_CODE =
  /^(Invalid|Unsupported|Unauthorized|MissingParameter|OptInRequired|Blocked|IdempotentParameterMismatch)/;

function isClientFault(error: Error): boolean {
  return (error as { $fault?: unknown }).$fault === 'client';
}

/** What a launch from `source` (e.g. `launch template lt-… version 3`) failing with `error` means, or undefined when it means neither. */
export function launchErrorOf(
  error: unknown,
  source: string,
  options: { direct: boolean },
): LaunchRejectedError | InsufficientCapacityError | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = error.name;
  // Before the transient check: EC2 answers a shortage with a server error (HTTP 5xx).
  if (CAPACITY_CODES.has(code)) {
    return new InsufficientCapacityError(
      `EC2 has no capacity to launch a replacement from ${source} now (${code}: ${error.message})`,
      { cause: error, code },
    );
  }
  if (isTransientAwsError(error) || CREDENTIAL_CODES.has(code)) return undefined;
  // A direct RunInstances fails only for the launch; a group's call fails for the launch only
  // when EC2 named the reason (its own errors, a ValidationError on MaxSize, are not about it).
  const aboutTheLaunch = options.direct ? isClientFault(error) : REJECTION_CODE.test(code);
  if (!aboutTheLaunch) return undefined;
  return new LaunchRejectedError(
    `EC2 refused to launch a replacement from ${source} (${code}: ${error.message}); retrying cannot fix this`,
    { cause: error, code },
  );
}

/** Words of a failed launch activity that mean the group's next attempt may well succeed. */
const PASSING_WORDS = /internal ?error|RequestLimitExceeded|throttl|try again/i;

/** Words of a failed launch activity that mean a shortage, not a fault of the template. */
const CAPACITY_WORDS =
  /insufficient.{0,60}capacity|not have sufficient.{0,60}capacity|no spot capacity|InsufficientInstanceCapacity|InstanceLimitExceeded|VcpuLimitExceeded|current instance limit|vCPU limit/i;

/**
 * What a group's failed launch activity means. On AWS a group launches asynchronously: a
 * launch EC2 refuses fails a scaling activity (its status message says why), not the call that
 * raised the capacity. Undefined for an activity that did not fail, or failed for a passing
 * reason (the group tries again by itself).
 */
export function launchFailureOf(
  activity: Activity,
  source: string,
): LaunchRejectedError | InsufficientCapacityError | undefined {
  if (activity.StatusCode !== 'Failed') return undefined;
  const why = activity.StatusMessage ?? activity.Description ?? 'no status message';
  if (PASSING_WORDS.test(why)) return undefined;
  if (CAPACITY_WORDS.test(why)) {
    return new InsufficientCapacityError(
      `the Auto Scaling group could not launch a replacement from ${source} for lack of capacity: ${why}`,
      { code: 'ScalingActivityFailed' },
    );
  }
  return new LaunchRejectedError(
    `the Auto Scaling group could not launch a replacement from ${source}: ${why}`,
    { code: 'ScalingActivityFailed' },
  );
}
