import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseEnvironment } from '../../functions/evaluate-drift/environment';
import { EnvironmentError } from '../../functions/evaluate-drift/errors';
import { desiredState } from '../helpers/builders';
import { fixture } from './harness';

const ENV = {
  PHOENIX_TABLE_NAME: 'phoenix-state',
  PHOENIX_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:phoenix',
  PHOENIX_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'CRITICAL',
};

const context: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'phoenix-evaluate-drift',
  functionVersion: '7',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:phoenix-evaluate-drift:7',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/phoenix-evaluate-drift',
  logStreamName: '2025/06/15/[7]abcdef',
  getRemainingTimeInMillis: () => 30_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

const globals = globalThis as { __PHOENIX_DESIRED_STATE__?: unknown };

describe('parseEnvironment', () => {
  it('accepts the variables infra sets', () => {
    expect(parseEnvironment({ ...ENV, PHOENIX_CONSOLE_REGION: 'eu-central-1' })).toEqual({
      PHOENIX_TABLE_NAME: ENV.PHOENIX_TABLE_NAME,
      PHOENIX_TOPIC_ARN: ENV.PHOENIX_TOPIC_ARN,
      PHOENIX_STATE_MACHINE_ARN: ENV.PHOENIX_STATE_MACHINE_ARN,
      PHOENIX_CONSOLE_REGION: 'eu-central-1',
    });
  });

  it.each([
    [{ PHOENIX_TABLE_NAME: undefined }, /PHOENIX_TABLE_NAME is not set/],
    [{ PHOENIX_TABLE_NAME: '' }, /PHOENIX_TABLE_NAME is empty/],
    [
      { PHOENIX_STATE_MACHINE_ARN: 'phoenix' },
      /PHOENIX_STATE_MACHINE_ARN is not a Step Functions state machine ARN/,
    ],
    [{ PHOENIX_CONSOLE_REGION: 'Frankfurt' }, /PHOENIX_CONSOLE_REGION is not an AWS region/],
    [
      { PHOENIX_TABLE_NAME: undefined, PHOENIX_TOPIC_ARN: 'arn:aws:sqs:us-east-1:123456789012:q' },
      /PHOENIX_TABLE_NAME is not set; PHOENIX_TOPIC_ARN is not an SNS topic ARN/,
    ],
  ])('refuses %j, naming the variable', (overrides, message) => {
    const env: Record<string, string | undefined> = { ...ENV, ...overrides };
    expect(() => parseEnvironment(env)).toThrow(EnvironmentError);
    expect(() => parseEnvironment(env)).toThrow(message);
  });
});

describe('the Lambda handler', () => {
  beforeEach(() => {
    vi.resetModules();
    for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
    globals.__PHOENIX_DESIRED_STATE__ = desiredState();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    delete globals.__PHOENIX_DESIRED_STATE__;
  });

  it('builds its dependencies once from the environment and handles an event through middy', async () => {
    const { handler } = await import('../../functions/evaluate-drift/handler');

    const summary = await handler(fixture('cloudtrail-create-tags-denied'), context);

    expect(summary).toMatchObject({ event: 'ignored', judged: 0 });
    // The counts only: a sweep's per-instance decisions would outgrow Lambda's response.
    expect(summary).not.toHaveProperty('decisions');
  });

  it('returns normally for a malformed Config invocation (nothing to retry)', async () => {
    const { handler } = await import('../../functions/evaluate-drift/handler');

    const summary = await handler({ ...fixture('config-scheduled'), invokingEvent: '{' }, context);

    expect(summary.event).toBe('malformed');
  });

  it('throws for a malformed EventBridge event, so Lambda sends it to the failure destination', async () => {
    const { handler } = await import('../../functions/evaluate-drift/handler');

    await expect(
      handler({ ...fixture('ec2-state-change-running'), detail: {} }, context),
    ).rejects.toMatchObject({
      name: 'MalformedEventError',
    });
  });

  it('refuses to start without its configuration, naming what is missing', async () => {
    vi.stubEnv('PHOENIX_TABLE_NAME', undefined);
    vi.stubEnv('PHOENIX_TOPIC_ARN', 'phoenix');

    await expect(import('../../functions/evaluate-drift/handler')).rejects.toThrow(
      /PHOENIX_TABLE_NAME is not set; PHOENIX_TOPIC_ARN is not an SNS topic ARN/,
    );
  });

  it('refuses to start outside a bundle that carries the desired state', async () => {
    delete globals.__PHOENIX_DESIRED_STATE__;

    await expect(import('../../functions/evaluate-drift/handler')).rejects.toMatchObject({
      name: 'DesiredStateNotBundledError',
    });
  });
});
