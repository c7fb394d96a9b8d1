/**
 * Whether an AWS call failed for a reason that passes: the one place Phoenix decides it.
 *
 * The steps Lambda names such a failure `TransientAwsError` for the state machine's `Retry`,
 * the evaluator retries `PutEvaluations` on it, a launch's classification leaves it to the
 * retry, and the command line says "throttled" or "cannot reach AWS" by its reason. Each of
 * them once kept its own list; they disagreed at the edges (a 429, a `LimitExceededException`,
 * a reset socket).
 *
 * The lists follow the SDK's own retry classification (`@smithy/service-error-classification`:
 * its throttling codes, 5xx, its socket codes, `$retryable`), plus what Phoenix meets beyond
 * them: EC2's and Auto Scaling's own words for a service-side failure, Auto Scaling's "another
 * change of this group is under way", and socket codes of a name lookup or a route that failed.
 * Pure: imports nothing, so every Lambda may bundle it.
 */

/** Why a failure passes, for a caller that words it (the command line) or counts it. */
export type TransientReason =
  /** AWS refused the rate of calls (by code, HTTP 429, or as the SDK marks a throttle). */
  | 'throttling'
  /** Nothing answered: a socket error, or the SDK's own timeout. */
  | 'network'
  /** AWS failed on its side (HTTP 5xx, a service-side code, or the model's `$fault: 'server'`). */
  | 'server'
  /** Another change of the same resource is under way; it ends within seconds. */
  | 'contention'
  /** The service's model marks the error retryable (`$retryable`). */
  | 'retryable';

/** A transient failure, with what the caller needs to word it. */
export interface TransientFailure {
  readonly reason: TransientReason;
  /** The AWS error code (the SDK error's name), or the socket code for `network`. */
  readonly code: string;
  /** The most telling message: the socket error's own for `network`, else the error's. */
  readonly message: string;
}

/** Codes of a throttled call: the SDK's list, and the names AWS services use beside it. */
export const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** Codes of a failure on AWS's side, whatever the HTTP status the SDK saw (a proxy may hide it). */
export const SERVER_CODES: ReadonlySet<string> = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Auto Scaling's "another change of this group is under way": passes within seconds. */
export const CONTENTION_CODES: ReadonlySet<string> = new Set([
  'ScalingActivityInProgressFault',
  'ResourceContentionFault',
]);

/** Socket error codes: nothing answered at all. */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'EAI_AGAIN',
  'ECONNABORTED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'ETIMEDOUT',
]);

/** The SDK's name for a request its own timeout abandoned (connection or socket). */
const SDK_TIMEOUT = 'TimeoutError';

function field(value: object, name: string): unknown {
  return (value as Record<string, unknown>)[name];
}

function statusOf(error: Error): number | undefined {
  const metadata = field(error, '$metadata');
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const status = field(metadata, 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/**
 * The socket error of a network failure, looking through an `AggregateError` (Node tries
 * every address of a name) and the `cause` chain (the SDK wraps the socket's error).
 */
function socketFailureOf(
  error: Error,
  seen = new Set<Error>(),
): { code: string; message: string } | undefined {
  if (seen.has(error)) return undefined;
  seen.add(error);
  const code = field(error, 'code');
  if (typeof code === 'string' && NETWORK_CODES.has(code)) {
    const inner = error instanceof AggregateError ? error.errors.find((e) => e instanceof Error) : undefined;
    const message = error.message !== '' ? error.message : inner instanceof Error ? inner.message : code;
    return { code, message };
  }
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      if (inner instanceof Error) {
        const found = socketFailureOf(inner, seen);
        if (found !== undefined) return found;
      }
    }
  }
  const cause = field(error, 'cause');
  return cause instanceof Error ? socketFailureOf(cause, seen) : undefined;
}

/**
 * Why `error` passes, or undefined when it does not (a client error, a refusal, anything that
 * is not an `Error`). The most telling reason wins: a throttle answered as a 5xx is throttling,
 * a socket error the SDK marks retryable is a network failure, a group's contention answered as
 * a server fault is contention.
 */
export function transientFailureOf(error: unknown): TransientFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = error.name;
  const message = error.message;
  const status = statusOf(error);
  const retryable = field(error, '$retryable');
  const throttlingTrait =
    typeof retryable === 'object' && retryable !== null && field(retryable, 'throttling') === true;
  if (THROTTLING_CODES.has(code) || status === 429 || throttlingTrait)
    return { reason: 'throttling', code, message };
  const socket = socketFailureOf(error);
  if (socket !== undefined) return { reason: 'network', ...socket };
  if (code === SDK_TIMEOUT) return { reason: 'network', code, message };
  // Before the server reasons: Auto Scaling models ResourceContentionFault as a server fault.
  if (CONTENTION_CODES.has(code)) return { reason: 'contention', code, message };
  const serverFault = field(error, '$fault') === 'server';
  if (SERVER_CODES.has(code) || serverFault || (status !== undefined && status >= 500 && status <= 599)) {
    return { reason: 'server', code, message };
  }
  if (retryable !== undefined && retryable !== null) return { reason: 'retryable', code, message };
  return undefined;
}

/** Whether the same AWS call may well succeed in a moment (see {@link transientFailureOf}). */
export function isTransientAwsError(error: unknown): boolean {
  return transientFailureOf(error) !== undefined;
}
