import { describe, expect, it, vi } from 'vitest';
import type { PhoenixNotification } from '../../functions/domain/notification';
import {
  RemediationEnvironmentError,
  StepInputError,
  TransientAwsError,
} from '../../functions/remediation/errors';
import { makeHandler, metrics, parseEnvironment } from '../../functions/remediation/handler';
import type { RemediationInput } from '../../functions/remediation/input';
import { causeText, runStep, type StepDeps } from '../../functions/remediation/steps';
import { STEP_SPEC_INPUT, STEP_SPEC_STATE } from './harness';

const ENV = {
  PHOENIX_TABLE_NAME: 'phoenix-state',
  PHOENIX_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:phoenix',
};

const INPUT: RemediationInput = STEP_SPEC_INPUT;

const STATE = STEP_SPEC_STATE;

/** Deps whose every call fails with `error` unless a test replaces the part it needs. */
function deps(overrides: Partial<StepDeps> = {}, error: Error = new Error('unexpected call')): StepDeps {
  const fail = async () => {
    throw error;
  };
  return {
    ec2: { send: fail },
    autoScaling: { send: fail },
    elbv2: { send: fail },
    store: {
      remediationGate: fail,
      acquireLease: fail,
      releaseLease: fail,
      claimReplacement: fail,
    },
    notifier: { publish: fail },
    desiredState: STATE,
    clock: () => new Date('2025-06-15T12:05:00Z'),
    ...overrides,
  } as StepDeps;
}

const event = (step: string, data: unknown = INPUT, extra: Record<string, unknown> = {}) => ({
  step,
  executionId: 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:x',
  startedAt: '2025-06-15T12:01:00.000Z',
  data,
  ...extra,
});

describe('remediation steps handler', () => {
  it('parses the environment infra sets, and names every missing or malformed variable', () => {
    expect(parseEnvironment(ENV)).toEqual(ENV);
    expect(() => parseEnvironment({ PHOENIX_TOPIC_ARN: 'arn:aws:sqs:us-east-1:123456789012:q' })).toThrow(
      RemediationEnvironmentError,
    );
    expect(() => parseEnvironment({ PHOENIX_TOPIC_ARN: 'nope' })).toThrow(
      /PHOENIX_TABLE_NAME is not set; PHOENIX_TOPIC_ARN is not an SNS topic ARN/,
    );
  });

  it.each([
    { what: 'an unknown step', raw: event('reboot'), message: /not a step event: step/ },
    { what: 'no execution id', raw: { ...event('recheck'), executionId: '' }, message: /executionId/ },
    {
      what: 'a state without the pinned version',
      raw: event('recheck', { ...INPUT, launchTemplate: { id: 'lt-01', name: 'x', version: '$Latest' } }),
      message: /launchTemplate.version/,
    },
    { what: 'a notify without an event', raw: event('notify'), message: /needs an `event`/ },
    {
      what: 'a health check before any plan',
      raw: event('checkHealthy'),
      message: /checkHealthy needs a plan/,
    },
  ])('refuses $what with a StepInputError naming the problem', async ({ raw, message }) => {
    const promise = runStep(deps(), raw);
    await expect(promise).rejects.toBeInstanceOf(StepInputError);
    await expect(runStep(deps(), raw)).rejects.toThrow(message);
  });

  it('turns throttling inside a step into TransientAwsError, which the state machine retries', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    await expect(runStep(deps({}, throttled), event('recheck'))).rejects.toBeInstanceOf(TransientAwsError);
  });

  it('keeps the name of any other error, for the Catch to report', async () => {
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    await expect(runStep(deps({}, denied), event('recheck'))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('reports a notification that could not be sent instead of failing the remediation', async () => {
    const result = await runStep(deps(), event('notify', INPUT, { event: 'remediation.started' }));
    expect(result).toMatchObject({
      outcome: 'in-progress',
      notified: false,
      notifyError: 'Error: unexpected call',
    });
  });

  it('sends the fleet team a versioned notification with the execution link and timings', async () => {
    const sent: PhoenixNotification[] = [];
    const notifier = { publish: async (n: PhoenixNotification) => void sent.push(n) };
    const data = { ...INPUT, health: { attempt: 2, healthy: true, replacementId: 'i-0fedcba9876543210' } };

    const result = await runStep(
      deps({ notifier }),
      event('notify', data, { event: 'remediation.succeeded' }),
    );

    expect(result).toMatchObject({
      outcome: 'succeeded',
      reason: 'replaced',
      notified: true,
      replacementId: 'i-0fedcba9876543210',
    });
    expect(sent).toEqual([
      expect.objectContaining({
        schemaVersion: 1,
        event: 'remediation.succeeded',
        team: 'web',
        instanceId: INPUT.instanceId,
        replacementId: 'i-0fedcba9876543210',
        execution: expect.objectContaining({
          name: 'x',
          consoleUrl: expect.stringContaining('us-east-1.console.aws.amazon.com'),
        }),
        timings: {
          detectedAt: INPUT.detectedAt,
          startedAt: '2025-06-15T12:01:00.000Z',
          finishedAt: '2025-06-15T12:05:00.000Z',
          durationSeconds: 240,
        },
      }),
    ]);
  });

  it.each([
    { event: 'remediation.succeeded', data: {}, counted: 'RemediationSucceeded', timed: true },
    {
      event: 'remediation.rolled-back',
      data: { error: { Error: 'ReplacementUnhealthyError' } },
      counted: 'RemediationFailed',
      timed: true,
    },
    {
      event: 'remediation.blocked',
      data: { error: { Error: 'LeaseDeniedError' } },
      counted: 'RemediationBlocked',
      timed: false,
    },
    { event: 'remediation.started', data: {}, counted: 'RemediationStarted', timed: false },
  ])('counts $event as $counted, and times it: $timed', async ({ event: name, data, counted, timed }) => {
    const notifier = { publish: async () => {} };
    const store = { nextAttempt: async () => 1 };
    const added = vi.spyOn(metrics, 'addMetric').mockImplementation(() => metrics);
    try {
      const handler = makeHandler(deps({ notifier, store } as unknown as Partial<StepDeps>));
      await handler(event('notify', { ...INPUT, ...data }, { event: name }));
      expect(added).toHaveBeenCalledWith(counted, 'Count', 1);
      const durations = added.mock.calls.filter(([metric]) => metric === 'RemediationDurationSeconds');
      // Started 12:01, now 12:05: four minutes.
      expect(durations).toEqual(timed ? [['RemediationDurationSeconds', 'Seconds', 240]] : []);
    } finally {
      added.mockRestore();
    }
  });

  it.each([
    {
      cause: JSON.stringify({ errorType: 'X', errorMessage: 'the replacement died' }),
      text: 'the replacement died',
    },
    { cause: 'RequestLimitExceeded: slow down', text: 'RequestLimitExceeded: slow down' },
    { cause: undefined, text: 'Ec2.Ec2Exception' },
  ])('causeText($cause) = $text', ({ cause, text }) => {
    expect(
      causeText(cause === undefined ? { Error: 'Ec2.Ec2Exception' } : { Error: 'X', Cause: cause }),
    ).toBe(text);
  });
});
