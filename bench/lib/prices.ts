/**
 * The AWS list prices the cost model uses: US East (N. Virginia), public pricing pages, on
 * the date below. Free tiers are left out on purpose (they are shared with everything else
 * in the account). Each price names the page it was read from; re-read them when the model
 * is used to decide anything that matters, as AWS changes prices.
 */

export interface Price {
  /** US dollars per `per`. */
  usd: number;
  per: string;
  source: string;
}

/** A price that falls with volume: each tier applies up to `upTo` units a month. */
export interface TieredPrice {
  tiers: ReadonlyArray<{ upTo: number; usd: number }>;
  per: string;
  source: string;
}

export const PRICES_RETRIEVED = '2026-12-05';
export const PRICES_REGION = 'us-east-1';

export const PRICES = {
  /** AWS Config rule evaluations, per region; tiers are summed across the organization's accounts. */
  configRuleEvaluation: {
    tiers: [
      { upTo: 100_000, usd: 0.001 },
      { upTo: 500_000, usd: 0.0008 },
      { upTo: Number.POSITIVE_INFINITY, usd: 0.0005 },
    ],
    per: 'rule evaluation',
    source: 'https://aws.amazon.com/config/pricing/',
  } satisfies TieredPrice,
  /** Step Functions Standard workflows: $0.025 per 1,000 state transitions. */
  stateTransition: {
    usd: 0.000025,
    per: 'state transition (Standard)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  } satisfies Price,
  /**
   * Step Functions API calls such as `SendTaskSuccess` and `SendTaskHeartbeat`: Standard
   * workflows are billed per state transition only ("You are charged based on the number of
   * state transitions"); an API call is not a transition, and a heartbeat does not even write
   * a history event (SendTaskHeartbeat, Step Functions API Reference:
   * https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskHeartbeat.html).
   * Counted, billed at nothing (read 2026-12-06).
   */
  stepFunctionsApiCall: {
    usd: 0,
    per: 'API call (not a state transition)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  } satisfies Price,
  /**
   * EventBridge Scheduler: $1.00 per million invocations (the sweeper's five-minute schedule;
   * a scheduled EventBridge rule would cost nothing, so this is the dearer of the two; read
   * 2026-12-06).
   */
  schedulerInvocation: {
    usd: 0.000001,
    per: 'scheduled invocation',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  } satisfies Price,
  /** Lambda requests: $0.20 per million. */
  lambdaRequest: {
    usd: 0.0000002,
    per: 'request',
    source: 'https://aws.amazon.com/lambda/pricing/',
  } satisfies Price,
  /** Lambda duration on arm64 (Graviton), first tier. */
  lambdaGbSecondArm: {
    usd: 0.0000133334,
    per: 'GB-second (arm64)',
    source: 'https://aws.amazon.com/lambda/pricing/',
  } satisfies Price,
  /** DynamoDB on-demand writes: $0.625 per million write request units. */
  dynamodbWriteUnit: {
    usd: 0.000000625,
    per: 'write request unit (on-demand)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  } satisfies Price,
  /** DynamoDB on-demand reads: $0.125 per million read request units. */
  dynamodbReadUnit: {
    usd: 0.000000125,
    per: 'read request unit (on-demand)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  } satisfies Price,
  /** SNS standard topic publishes: $0.50 per million (each 64 KB chunk a request). */
  snsPublish: {
    usd: 0.0000005,
    per: 'publish',
    source: 'https://aws.amazon.com/sns/pricing/',
  } satisfies Price,
  /** KMS requests (the topic's key, as SNS encrypts each message): $0.03 per 10,000. */
  kmsRequest: {
    usd: 0.000003,
    per: 'request',
    source: 'https://aws.amazon.com/kms/pricing/',
  } satisfies Price,
  /** CloudWatch Logs ingestion (standard class): $0.50 per GB. */
  logsIngestedGb: {
    usd: 0.5,
    per: 'GB ingested',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  } satisfies Price,
  /** X-Ray traces recorded: $5.00 per million. */
  xrayTrace: {
    usd: 0.000005,
    per: 'trace recorded',
    source: 'https://aws.amazon.com/xray/pricing/',
  } satisfies Price,
  /** Fixed: a customer-managed KMS key, $1 a month. */
  kmsKeyMonth: { usd: 1, per: 'key-month', source: 'https://aws.amazon.com/kms/pricing/' } satisfies Price,
  /** Fixed: a standard-resolution CloudWatch alarm, $0.10 a month. */
  alarmMonth: {
    usd: 0.1,
    per: 'alarm-month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  } satisfies Price,
  /** Fixed: a custom metric (each name and dimension set), $0.30 a month. */
  customMetricMonth: {
    usd: 0.3,
    per: 'metric-month',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  } satisfies Price,
} as const;

/** The cost of `units` at a tiered price, the tiers filled in order. */
export function tieredCost(price: TieredPrice, units: number): number {
  let left = Math.max(0, units);
  let below = 0;
  let usd = 0;
  for (const tier of price.tiers) {
    const inTier = Math.min(left, tier.upTo - below);
    usd += inTier * tier.usd;
    left -= inTier;
    below = tier.upTo;
    if (left <= 0) break;
  }
  return usd;
}
