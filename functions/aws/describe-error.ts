/**
 * What went wrong talking to AWS, in one line a person can act on.
 *
 * The SDK's own errors say it in its own words: `Error: connect ECONNREFUSED …`, `SyntaxError:
 * Unexpected token '<' … Deserialization error: to see the raw response, inspect the hidden
 * field {error}.$response`, `CredentialsProviderError: Could not load credentials from any
 * providers`, messages spread over several lines. Here each cause the command line can meet
 * gets its own sentence: no credentials, no region, credentials refused, access denied,
 * throttled, endpoint unreachable, an endpoint that is not AWS. Anything else is
 * `Name: message` on one line. Throttled and unreachable are the transient classifier's
 * reasons (`transient.ts`). Here rather than under `cli/` because the local account's
 * reconciler words its failures the same way.
 */

import { PhoenixError } from '../domain/errors';
import { transientFailureOf } from './transient';

const MAX_LENGTH = 400;

/** Whitespace (line breaks included) folded to single spaces, cut when very long. */
export function oneLine(text: string): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length > MAX_LENGTH ? `${folded.slice(0, MAX_LENGTH)}…` : folded;
}

/** Errors AWS answers when the credentials themselves are refused. */
const CREDENTIALS_REFUSED: ReadonlySet<string> = new Set([
  'AuthFailure',
  'ExpiredToken',
  'ExpiredTokenException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'MissingAuthenticationToken',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
]);

/** Errors AWS answers when the credentials are fine but not allowed to do this. */
const ACCESS_DENIED: ReadonlySet<string> = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AuthorizationError',
  'OptInRequired',
  'UnauthorizedAccess',
  'UnauthorizedOperation',
]);

interface AwsMetadata {
  httpStatusCode?: number;
  attempts?: number;
}

function field(error: object, name: string): unknown {
  return (error as Record<string, unknown>)[name];
}

function metadataOf(error: object): AwsMetadata | undefined {
  const metadata = field(error, '$metadata');
  return typeof metadata === 'object' && metadata !== null ? (metadata as AwsMetadata) : undefined;
}

/** The raw answer the SDK keeps on an error it could not read (status and content type). */
function rawAnswerOf(error: object): string | undefined {
  const response = field(error, '$response');
  if (typeof response !== 'object' || response === null) return undefined;
  const status = field(response, 'statusCode');
  const headers = field(response, 'headers');
  const type = typeof headers === 'object' && headers !== null ? field(headers, 'content-type') : undefined;
  return `HTTP ${typeof status === 'number' ? status : '?'}${typeof type === 'string' ? ` (${type})` : ''}`;
}

function times(n: number | undefined): string {
  return n === undefined ? '' : ` (${n} attempt${n === 1 ? '' : 's'})`;
}

/** One line saying what went wrong, by cause; see the module notes. */
export function describeAwsError(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error));
  // Phoenix's own errors are worded for a person already.
  if (error instanceof PhoenixError) return oneLine(error.message);
  const name = error.name;
  const message = oneLine(error.message);
  const metadata = metadataOf(error);

  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    // The SDK's chain read the process environment, so that is where the profile came from.
    const profile = process.env.AWS_PROFILE;
    return profile === undefined || profile === ''
      ? 'no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or run where a role provides them)'
      : `no AWS credentials found for AWS_PROFILE ${JSON.stringify(profile)}: check that the profile exists and has credentials (aws configure list --profile ${profile})`;
  }
  if (/^Region is missing$/i.test(message)) {
    return 'no AWS region: pass --region REGION or set AWS_REGION (or a region in your AWS profile)';
  }
  if (CREDENTIALS_REFUSED.has(name)) {
    return `AWS refused the credentials (${name}: ${message}): check AWS_PROFILE or the access keys, and that they have not expired`;
  }
  if (ACCESS_DENIED.has(name)) {
    return `access denied (${name}: ${message}): the credentials in use are not allowed to do this`;
  }
  // Before the transient reasons: a page that is not AWS's answer says nothing about AWS,
  // whatever its status (a proxy's 429 or 503).
  const raw = rawAnswerOf(error);
  // The SDK could not read the answer (JSON or XML it expected): the endpoint is not AWS.
  if (raw !== undefined && (name === 'SyntaxError' || /Deserialization error/i.test(message))) {
    return `the endpoint answered ${raw}, not as AWS answers: is the endpoint right?`;
  }
  if (raw !== undefined && name === 'Unknown') {
    return `the endpoint answered ${raw} with an error AWS would have named: is the endpoint right?`;
  }
  const transient = transientFailureOf(error);
  if (transient?.reason === 'throttling') {
    return `AWS throttled the requests (${name}${times(metadata?.attempts)}): try again in a minute, or with less --concurrency`;
  }
  if (transient?.reason === 'network') {
    return `cannot reach AWS (${oneLine(transient.message)}): check --endpoint (or AWS_ENDPOINT_URL), --region and the network`;
  }
  const status = metadata?.httpStatusCode;
  const reading = message.replace(/ Deserialization error: .*$/, '');
  return `${name}: ${reading}${status !== undefined && status >= 500 ? ` (HTTP ${status})` : ''}`;
}
