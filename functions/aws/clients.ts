/**
 * The AWS SDK v3 clients Phoenix talks to, built one way for Lambdas, the CLI and tests.
 *
 * Region, endpoint and credentials come from the SDK's own configuration chain
 * (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`, the Lambda role…) unless given
 * explicitly; an explicit value always wins. Retries are left to the SDK's standard retry
 * strategy (exponential backoff with jitter, throttling-aware).
 */

import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type {
  AbsoluteLocation,
  DeserializeHandlerOptions,
  DeserializeMiddleware,
  MiddlewareStack,
} from '@smithy/types';
import { NonAwsResponseError } from './errors';

/** Static credentials, as the SDK accepts them (tests pass dummy ones for the emulator). */
export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ClientOptions {
  /** Overrides `AWS_REGION` / the profile's region. */
  region?: string;
  /** Overrides `AWS_ENDPOINT_URL` for every service (the emulator, a VPC endpoint…). */
  endpoint?: string;
  /** Overrides the default credential provider chain. */
  credentials?: StaticCredentials;
  /**
   * Total attempts per call, first one included. Five rides out a short throttling burst
   * (DescribeInstances sweeps, ASG calls during a rollout) without stalling a step for long.
   */
  maxAttempts?: number;
}

type ClientName = Exclude<keyof PhoenixClients, 'destroy'>;

/** Every client Phoenix uses. Each is constructed on first access, then reused. */
export interface PhoenixClients {
  readonly ec2: EC2Client;
  readonly autoScaling: AutoScalingClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  readonly config: ConfigServiceClient;
  /** The fleets' rollout alarms (issue 15). */
  readonly cloudwatch: CloudWatchClient;
  /** Destroys the clients built so far (their sockets); one never used is not built to be destroyed. */
  destroy(): void;
}

const DEFAULT_MAX_ATTEMPTS = 5;

/** The configuration every Phoenix client is built with. */
export interface CommonClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: StaticCredentials;
  maxAttempts: number;
  retryMode: 'standard';
}

/**
 * The configuration for any SDK client: Phoenix's retry policy, and region, endpoint and
 * credentials only where given. A Lambda handler builds just the clients it uses from it
 * (`new EC2Client(clientConfig())`): every client class it imports is bundled and parsed at
 * cold start, used or not.
 */
export function clientConfig(options: ClientOptions = {}): CommonClientConfig {
  const common: CommonClientConfig = {
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'standard',
  };
  // Only set what was given: an explicit `undefined` would hide the SDK's own resolution.
  if (options.region !== undefined) common.region = options.region;
  if (options.endpoint !== undefined) common.endpoint = options.endpoint;
  if (options.credentials !== undefined) common.credentials = options.credentials;
  return common;
}

interface RawHttpResponse {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body?: unknown;
}

function isRawHttpResponse(value: unknown): value is RawHttpResponse {
  return typeof value === 'object' && value !== null && 'statusCode' in value && 'headers' in value;
}

async function bytesOf(body: unknown): Promise<Uint8Array | undefined> {
  if (body instanceof Uint8Array) return body;
  if (typeof body !== 'object' || body === null || !(Symbol.asyncIterator in body)) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks);
}

/** Whether a successful answer's body reads like AWS: empty, XML (not an HTML page) or JSON. */
function looksLikeAws(body: Uint8Array): boolean {
  const start = Buffer.from(body.subarray(0, 512)).toString('utf8').trimStart().toLowerCase();
  if (start === '') return true;
  if (start.startsWith('<!doctype html') || start.startsWith('<html')) return false;
  return start.startsWith('<') || start.startsWith('{') || start.startsWith('[');
}

/**
 * Sits between the HTTP answer and the SDK's deserializer: a 2xx answer that is not AWS's
 * becomes a {@link NonAwsResponseError} naming the host, status and content type. Errors
 * (non-2xx) are left to the SDK, whose own error carries the raw answer.
 */
function rejectNonAwsResponses<I extends object, O extends object>(): DeserializeMiddleware<I, O> {
  return (next) => async (args) => {
    const result = await next(args);
    const response = result.response;
    if (!isRawHttpResponse(response) || response.statusCode < 200 || response.statusCode > 299) return result;
    const body = await bytesOf(response.body);
    if (body === undefined) return result;
    // The deserializer reads a byte array as readily as a stream.
    response.body = body;
    if (looksLikeAws(body)) return result;
    const request = args.request as { hostname?: string; port?: number } | undefined;
    const host = `${request?.hostname ?? 'the endpoint'}${request?.port === undefined ? '' : `:${request.port}`}`;
    const type = response.headers['content-type'] ?? 'no content type';
    const excerpt = Buffer.from(body.subarray(0, 40)).toString('utf8').replace(/\s+/g, ' ').trim();
    throw new NonAwsResponseError(
      `${host} answered HTTP ${response.statusCode} (${type}) with ${JSON.stringify(excerpt)}…, not as AWS answers: is the endpoint right?`,
    );
  };
}

/** Innermost in its step: it sees the raw answer before the deserializer does. */
const RESPONSE_CHECK: DeserializeHandlerOptions & AbsoluteLocation = {
  step: 'deserialize',
  priority: 'low',
  name: 'phoenixRejectNonAwsResponses',
};

/** The client, refusing answers that are not AWS's (see {@link NonAwsResponseError}). */
function withResponseCheck<C extends { middlewareStack: object }>(client: C): C {
  // The check reads only the raw HTTP answer, whatever the client's input and output types.
  const stack = client.middlewareStack as MiddlewareStack<object, object>;
  stack.add(rejectNonAwsResponses<object, object>(), RESPONSE_CHECK);
  return client;
}

/**
 * Builds the client set (the CLI and tests). Construction is deferred to first use; a
 * bundled Lambda should prefer {@link clientConfig} and the few clients it needs, since
 * this imports all eight. Each client refuses a successful answer that is not AWS's
 * ({@link NonAwsResponseError}): the endpoint a person gives may be anything.
 */
export function makeClients(options: ClientOptions = {}): PhoenixClients {
  const common = clientConfig(options);

  const cache = new Map<ClientName, PhoenixClients[ClientName]>();
  function lazy<K extends ClientName>(key: K, build: () => PhoenixClients[K]): PhoenixClients[K] {
    const existing = cache.get(key) as PhoenixClients[K] | undefined;
    if (existing !== undefined) return existing;
    const client = build();
    cache.set(key, client);
    return client;
  }

  return {
    get ec2() {
      return lazy('ec2', () => withResponseCheck(new EC2Client({ ...common })));
    },
    get autoScaling() {
      return lazy('autoScaling', () => withResponseCheck(new AutoScalingClient({ ...common })));
    },
    get elbv2() {
      return lazy('elbv2', () => withResponseCheck(new ElasticLoadBalancingV2Client({ ...common })));
    },
    get dynamodb() {
      return lazy('dynamodb', () => withResponseCheck(new DynamoDBClient({ ...common })));
    },
    get sns() {
      return lazy('sns', () => withResponseCheck(new SNSClient({ ...common })));
    },
    get sqs() {
      return lazy('sqs', () => withResponseCheck(new SQSClient({ ...common })));
    },
    get sfn() {
      return lazy('sfn', () => withResponseCheck(new SFNClient({ ...common })));
    },
    get cloudwatch() {
      return lazy('cloudwatch', () => withResponseCheck(new CloudWatchClient({ ...common })));
    },
    get config() {
      return lazy('config', () => withResponseCheck(new ConfigServiceClient({ ...common })));
    },
    destroy() {
      for (const client of cache.values()) client.destroy();
    },
  };
}
