/**
 * The AWS SDK v3 clients Phoenix talks to, built one way for Lambdas, the CLI and tests.
 *
 * Region, endpoint and credentials come from the SDK's own configuration chain
 * (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`, the Lambda role…) unless given
 * explicitly; an explicit value always wins. Retries are left to the SDK's standard retry
 * strategy (exponential backoff with jitter, throttling-aware).
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';

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

/**
 * Builds the client set (the CLI and tests). Construction is deferred to first use; a
 * bundled Lambda should prefer {@link clientConfig} and the few clients it needs, since
 * this imports all eight.
 */
export function makeClients(options: ClientOptions = {}): PhoenixClients {
  const common = clientConfig(options);

  const cache = new Map<keyof PhoenixClients, PhoenixClients[keyof PhoenixClients]>();
  function lazy<K extends keyof PhoenixClients>(key: K, build: () => PhoenixClients[K]): PhoenixClients[K] {
    const existing = cache.get(key) as PhoenixClients[K] | undefined;
    if (existing !== undefined) return existing;
    const client = build();
    cache.set(key, client);
    return client;
  }

  return {
    get ec2() {
      return lazy('ec2', () => new EC2Client({ ...common }));
    },
    get autoScaling() {
      return lazy('autoScaling', () => new AutoScalingClient({ ...common }));
    },
    get elbv2() {
      return lazy('elbv2', () => new ElasticLoadBalancingV2Client({ ...common }));
    },
    get dynamodb() {
      return lazy('dynamodb', () => new DynamoDBClient({ ...common }));
    },
    get sns() {
      return lazy('sns', () => new SNSClient({ ...common }));
    },
    get sqs() {
      return lazy('sqs', () => new SQSClient({ ...common }));
    },
    get sfn() {
      return lazy('sfn', () => new SFNClient({ ...common }));
    },
    get config() {
      return lazy('config', () => new ConfigServiceClient({ ...common }));
    },
  };
}
