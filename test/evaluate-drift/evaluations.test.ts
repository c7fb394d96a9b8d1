import { ConfigServiceClient, type Evaluation, PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EvaluationsNotRecordedError } from '../../functions/evaluate-drift/errors';
import {
  ANNOTATION_MAX_LENGTH,
  type ComplianceRecord,
  cutAnnotation,
  describeReasons,
  recordCompliance,
} from '../../functions/evaluate-drift/evaluations';
import { reason } from '../helpers/builders';

const TOKEN = 'result-token';
const CAPTURED = new Date('2025-06-15T11:58:07.123Z');

function records(count: number): ComplianceRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    resourceId: `i-${i.toString(16).padStart(17, '0')}`,
    compliance: i % 2 === 0 ? 'COMPLIANT' : 'NON_COMPLIANT',
    annotation: i % 2 === 0 ? undefined : 'tags.Owner: expected team-web, found someone-else',
    orderingTimestamp: CAPTURED,
  }));
}

function throttled(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
}

describe('recordCompliance', () => {
  const client = new ConfigServiceClient({ region: 'us-east-1' });
  const config = mockClient(client);
  const sleeps: number[] = [];
  const options = {
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  };
  beforeEach(() => {
    config.reset();
    sleeps.length = 0;
    config.on(PutEvaluationsCommand).resolves({ FailedEvaluations: [] });
  });

  const batchSizes = () =>
    config.commandCalls(PutEvaluationsCommand).map((call) => call.args[0].input.Evaluations?.length);

  it.each([
    [0, []],
    [1, [1]],
    [100, [100]],
    [101, [100, 1]],
    [250, [100, 100, 50]],
  ])('writes %i evaluations in batches of at most 100: %j', async (count, expected) => {
    const result = await recordCompliance(client, TOKEN, records(count), options);

    expect(batchSizes()).toEqual(expected);
    expect(result).toEqual({ calls: expected.length, recorded: count });
  });

  it('sends every record once, in order, with the result token', async () => {
    const all = records(250);
    await recordCompliance(client, TOKEN, all, options);

    const calls = config.commandCalls(PutEvaluationsCommand);
    expect(calls.every((call) => call.args[0].input.ResultToken === TOKEN)).toBe(true);
    const sent = calls.flatMap((call) => call.args[0].input.Evaluations ?? []);
    expect(sent.map((e) => e.ComplianceResourceId)).toEqual(all.map((r) => r.resourceId));
  });

  it('writes an EC2 instance evaluation with its ordering timestamp and annotation', async () => {
    await recordCompliance(client, TOKEN, records(2), options);

    const sent = config.commandCalls(PutEvaluationsCommand)[0]?.args[0].input.Evaluations;
    expect(sent).toEqual([
      {
        ComplianceResourceType: 'AWS::EC2::Instance',
        ComplianceResourceId: 'i-00000000000000000',
        ComplianceType: 'COMPLIANT',
        OrderingTimestamp: CAPTURED,
      },
      {
        ComplianceResourceType: 'AWS::EC2::Instance',
        ComplianceResourceId: 'i-00000000000000001',
        ComplianceType: 'NON_COMPLIANT',
        Annotation: 'tags.Owner: expected team-web, found someone-else',
        OrderingTimestamp: CAPTURED,
      },
    ]);
  });

  it('retries a throttled call with growing backoff, then succeeds', async () => {
    config.on(PutEvaluationsCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({});

    const result = await recordCompliance(client, TOKEN, records(3), options);

    expect(result).toEqual({ calls: 3, recorded: 3 });
    expect(sleeps).toHaveLength(2);
    // Equal jitter: the second wait is at least the first step, the first at most it.
    expect(sleeps[1]).toBeGreaterThanOrEqual(sleeps[0] ?? Number.POSITIVE_INFINITY);
  });

  it('gives up after the last attempt and lets the throttling error through', async () => {
    config.on(PutEvaluationsCommand).rejects(throttled());

    await expect(
      recordCompliance(client, TOKEN, records(1), { ...options, maxAttempts: 3 }),
    ).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    expect(config.commandCalls(PutEvaluationsCommand)).toHaveLength(3);
  });

  it('retries a call AWS failed on its side (5xx), as it retries a throttle', async () => {
    const unavailable = Object.assign(new Error('Service Unavailable'), {
      name: 'ServiceUnavailable',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
    });
    config.on(PutEvaluationsCommand).rejectsOnce(unavailable).resolves({});

    const result = await recordCompliance(client, TOKEN, records(2), options);

    expect(result).toEqual({ calls: 2, recorded: 2 });
    expect(sleeps).toHaveLength(1);
  });

  it('does not retry an error that is not throttling', async () => {
    config
      .on(PutEvaluationsCommand)
      .rejects(Object.assign(new Error('bad token'), { name: 'InvalidResultTokenException' }));

    await expect(recordCompliance(client, TOKEN, records(1), options)).rejects.toMatchObject({
      name: 'InvalidResultTokenException',
    });
    expect(config.commandCalls(PutEvaluationsCommand)).toHaveLength(1);
  });

  it('re-sends only the evaluations Config listed as failed', async () => {
    const all = records(3);
    const failed: Evaluation = {
      ComplianceResourceType: 'AWS::EC2::Instance',
      ComplianceResourceId: all[1]?.resourceId,
      ComplianceType: 'NON_COMPLIANT',
      OrderingTimestamp: CAPTURED,
    };
    config
      .on(PutEvaluationsCommand)
      .resolvesOnce({ FailedEvaluations: [failed] })
      .resolves({ FailedEvaluations: [] });

    await recordCompliance(client, TOKEN, all, options);

    expect(batchSizes()).toEqual([3, 1]);
    const retried = config.commandCalls(PutEvaluationsCommand)[1]?.args[0].input.Evaluations;
    expect(retried?.map((e) => e.ComplianceResourceId)).toEqual([all[1]?.resourceId]);
  });

  it('fails with the refused instances when Config keeps refusing them', async () => {
    const all = records(2);
    config.on(PutEvaluationsCommand).callsFake((input: { Evaluations: Evaluation[] }) => ({
      FailedEvaluations: input.Evaluations.slice(0, 1),
    }));

    const attempt = recordCompliance(client, TOKEN, all, { ...options, maxAttempts: 2 });

    await expect(attempt).rejects.toBeInstanceOf(EvaluationsNotRecordedError);
    await expect(attempt).rejects.toThrow(all[0]?.resourceId ?? 'missing');
  });
});

describe('annotations', () => {
  it('describes each reason as field, expected and found', () => {
    expect(
      describeReasons([
        reason(),
        reason({ kind: 'tag-missing', field: 'tags.Environment', expected: 'prod', actual: null }),
      ]),
    ).toBe(
      'tags.Owner: expected team-web, found someone-else; tags.Environment: expected prod, found (none)',
    );
  });

  it.each([
    ['', undefined],
    ['   ', undefined],
    ['short', 'short'],
    ['x'.repeat(ANNOTATION_MAX_LENGTH), 'x'.repeat(ANNOTATION_MAX_LENGTH)],
  ])('keeps %j within Config limit as %j', (text, expected) => {
    expect(cutAnnotation(text)).toBe(expected);
  });

  it('cuts a long annotation to 256 characters and marks the cut', () => {
    const cut = cutAnnotation('y'.repeat(1000));
    expect(cut).toHaveLength(ANNOTATION_MAX_LENGTH);
    expect(cut?.endsWith('...')).toBe(true);
  });
});
