/**
 * The notify step: the payload the team receives, the outcome the execution ends with, and
 * the drift's next attempt recorded before anything is published (a retried notify then
 * sends nothing twice, and a failed publish changes no outcome).
 */
import { describe, expect, it } from 'vitest';
import type { PhoenixNotification } from '../../../functions/domain/notification';
import type { MachineData } from '../../../functions/remediation/input';
import { MANUAL_ACTION_HOLD_SECONDS, notify } from '../../../functions/remediation/steps';
import { CTX, EXECUTION, FakeAccount, type FakeStore, fakeDeps, fakeStore, NOW } from './fakes';
import { asgPlan, caught, input, OLD, REPLACEMENT, SUCCESSOR, standalonePlan } from './state';

/** Step Functions refuses an ended execution's name for 90 days; the attempt outlives that. */
const ATTEMPT_TTL = 120 * 24 * 3600;

const account = new FakeAccount();

/** A store whose nextAttempt answers `next`, recording its arguments. */
function attempts(next = 1): FakeStore {
  return fakeStore({ nextAttempt: async () => next });
}

const healthy: MachineData = {
  ...input(),
  plan: asgPlan('surge'),
  health: { attempt: 2, healthy: true, replacementId: REPLACEMENT },
};

describe('notify', () => {
  it('tells the team of a success, with the execution link and its timings, and keeps the drift refused', async () => {
    const sent: PhoenixNotification[] = [];
    // No store method scripted: a success must not move the drift to a next attempt.
    const result = await notify(
      fakeDeps(account, fakeStore(), { sent }),
      healthy,
      CTX,
      'remediation.succeeded',
    );

    const detail = `Replaced ${OLD} with ${REPLACEMENT} from launch template lt-0aaaaaaaaaaaaaaa1 version 2; the old instance went back to Auto Scaling group web-asg, which drains and terminates it.`;
    expect(result).toEqual({
      outcome: 'succeeded',
      reason: 'replaced',
      detail,
      instanceId: OLD,
      fleet: 'web',
      replacementId: REPLACEMENT,
      notified: true,
      // Started 12:01, now 12:05.
      durationSeconds: 240,
    });
    expect(sent).toEqual([
      {
        schemaVersion: 1,
        event: 'remediation.succeeded',
        fleet: 'web',
        team: 'web',
        severity: 'info',
        instanceId: OLD,
        replacementId: REPLACEMENT,
        reasons: input().reasons,
        desiredState: { revision: 'aaaaaaaaaaaa', commit: 'abc1234' },
        execution: {
          name: 'run-1',
          arn: EXECUTION,
          consoleUrl: `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${encodeURIComponent(EXECUTION)}`,
        },
        timings: {
          detectedAt: '2025-06-15T12:00:00.000Z',
          startedAt: '2025-06-15T12:01:00.000Z',
          finishedAt: NOW.toISOString(),
          durationSeconds: 240,
        },
        message: detail,
      },
    ]);
  });

  it('tells a start without an end: no finish, no duration, the drift untouched', async () => {
    const sent: PhoenixNotification[] = [];
    const result = await notify(
      fakeDeps(account, fakeStore(), { sent }),
      { ...input(), plan: asgPlan('surge'), principal: 'arn:aws:iam::123456789012:user/alice' },
      CTX,
      'remediation.started',
    );

    expect(result.outcome).toBe('in-progress');
    expect(result.durationSeconds).toBeUndefined();
    expect(result.nextAttempt).toBeUndefined();
    expect(sent[0]?.timings).toEqual({
      detectedAt: '2025-06-15T12:00:00.000Z',
      startedAt: '2025-06-15T12:01:00.000Z',
    });
    expect(sent[0]?.principal).toBe('arn:aws:iam::123456789012:user/alice');
    expect(sent[0]?.replacementId).toBeUndefined();
  });

  it('moves a blocked drift to its next attempt, from the attempt this execution ran as, before publishing', async () => {
    const order: string[] = [];
    const store = fakeStore({
      nextAttempt: async () => {
        order.push('nextAttempt');
        return 4;
      },
    });
    const deps = fakeDeps(account, store);
    deps.notifier = { publish: async () => void order.push('publish') };

    const result = await notify(
      deps,
      { ...input(), attempt: 3, error: caught('LeaseDeniedError', 'fleet web has 2 of 2') },
      CTX,
      'remediation.blocked',
    );

    expect(result).toMatchObject({ outcome: 'blocked', reason: 'budget', nextAttempt: 4, notified: true });
    expect(store.calls).toEqual([
      {
        method: 'nextAttempt',
        args: [OLD, 'v1-aaaaaaaaaaaaaaaaaaaaaaaa', 3, ATTEMPT_TTL, undefined],
      },
    ]);
    expect(order).toEqual(['nextAttempt', 'publish']);
  });

  it('holds a drift that needs a human for a day, saying why', async () => {
    const store = attempts(1);
    const plan = {
      ...asgPlan('standby-first'),
      strategy: 'manual-action-required' as const,
      detail: 'raise MaxSize',
    };

    const result = await notify(
      fakeDeps(account, store),
      { ...input(), plan },
      CTX,
      'manual-action-required',
    );

    expect(MANUAL_ACTION_HOLD_SECONDS).toBe(86_400);
    expect(result.nextAttempt).toBe(1);
    expect(store.calls[0]?.args).toEqual([
      OLD,
      'v1-aaaaaaaaaaaaaaaaaaaaaaaa',
      0,
      ATTEMPT_TTL,
      {
        until: new Date('2025-06-16T12:05:00.000Z'),
        why: `${OLD} is drifted (image imageId) but Phoenix cannot replace it: raise MaxSize.`,
      },
    ]);
  });

  it('publishes nothing for a skip another execution reports, but still lets the drift come back', async () => {
    const sent: PhoenixNotification[] = [];
    const store = attempts(2);

    const result = await notify(
      fakeDeps(account, store, { sent }),
      { ...input(), plan: asgPlan('surge'), error: caught('ReplacingElsewhereError', 'run-2 replaces it') },
      CTX,
      'remediation.skipped',
    );

    expect(sent).toEqual([]);
    expect(result).toEqual({
      outcome: 'skipped',
      reason: 'in-flight-elsewhere',
      detail: `Not replacing ${OLD}: run-2 replaces it.`,
      instanceId: OLD,
      fleet: 'web',
      notified: false,
      durationSeconds: 240,
      nextAttempt: 2,
    });
  });

  it('reports a failed publish in the result and keeps the outcome', async () => {
    const publishFails = Object.assign(new Error('topic gone'), { name: 'NotFoundException' });

    const result = await notify(
      fakeDeps(account, fakeStore(), { publishFails }),
      healthy,
      CTX,
      'remediation.succeeded',
    );

    expect(result).toMatchObject({
      outcome: 'succeeded',
      notified: false,
      notifyError: 'NotFoundException: topic gone',
    });
  });

  it('publishes nothing when the next attempt cannot be recorded: the retried step sends it once', async () => {
    const sent: PhoenixNotification[] = [];
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    const store = fakeStore({
      nextAttempt: async () => {
        throw throttled;
      },
    });

    await expect(
      notify(
        fakeDeps(account, store, { sent }),
        { ...input(), error: caught('LeaseDeniedError') },
        CTX,
        'remediation.blocked',
      ),
    ).rejects.toBe(throttled);
    expect(sent).toEqual([]);
  });

  it('tells a failure as critical, with its error and cause, and keeps its drift refused', async () => {
    const sent: PhoenixNotification[] = [];
    const data: MachineData = {
      ...healthy,
      error: caught('ReplacementUnhealthyError', 'never healthy'),
      rollbackError: { Error: 'States.TaskFailed', Cause: 'AccessDenied' },
    };

    const result = await notify(fakeDeps(account, fakeStore(), { sent }), data, CTX, 'remediation.failed');

    expect(result).toMatchObject({
      outcome: 'failed',
      reason: 'rollback-failed',
      error: 'RollbackFailedError',
      replacementId: REPLACEMENT,
    });
    expect(result.nextAttempt).toBeUndefined();
    expect(sent[0]?.severity).toBe('critical');
  });

  it.each([
    {
      what: "the rollback's over the health check's",
      data: {
        health: { attempt: 5, healthy: false, replacementId: REPLACEMENT },
        rollback: {
          error: 'ReplacementFailedError',
          cause: 'died',
          quarantine: true,
          actions: [],
          replacementId: SUCCESSOR,
          at: NOW.toISOString(),
        },
      },
      replacementId: SUCCESSOR,
    },
    {
      what: "the health check's over the launch's",
      data: {
        replacement: { instanceId: SUCCESSOR },
        health: { attempt: 1, healthy: false, replacementId: REPLACEMENT },
      },
      replacementId: REPLACEMENT,
    },
    {
      what: "the launch's alone",
      data: { replacement: { instanceId: SUCCESSOR } },
      replacementId: SUCCESSOR,
    },
  ])('names the replacement: $what', async ({ data, replacementId }) => {
    const sent: PhoenixNotification[] = [];
    const result = await notify(
      fakeDeps(account, fakeStore(), { sent }),
      { ...input(), plan: standalonePlan(), error: caught('ReplacementFailedError'), ...data },
      CTX,
      'remediation.rolled-back',
    );
    expect(result.replacementId).toBe(replacementId);
    expect(sent[0]?.replacementId).toBe(replacementId);
  });

  it.each([
    {
      what: "the deployment's console region over the execution's",
      consoleRegion: 'eu-west-1',
      executionId: EXECUTION,
      name: 'run-1',
      region: 'eu-west-1',
    },
    {
      what: "the execution's region",
      consoleRegion: undefined,
      executionId: 'arn:aws:states:ap-south-1:123456789012:execution:m:run-9',
      name: 'run-9',
      region: 'ap-south-1',
    },
    {
      what: 'us-east-1 for a local run without an ARN',
      consoleRegion: undefined,
      executionId: 'local-run-7',
      name: 'local-run-7',
      region: 'us-east-1',
    },
  ])('links the execution in $what', async ({ consoleRegion, executionId, name, region }) => {
    const sent: PhoenixNotification[] = [];
    const deps = fakeDeps(account, fakeStore(), { sent });
    if (consoleRegion !== undefined) deps.consoleRegion = consoleRegion;

    await notify(deps, healthy, { executionId }, 'remediation.succeeded');

    expect(sent[0]?.execution).toEqual({
      name,
      arn: executionId,
      consoleUrl: `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionId)}`,
    });
    // No start known: an end without a duration.
    expect(sent[0]?.timings).toEqual({
      detectedAt: '2025-06-15T12:00:00.000Z',
      finishedAt: NOW.toISOString(),
    });
  });

  it.each([
    { startedAt: 'not a date', duration: undefined },
    // A start after now (clock skew between Step Functions and the Lambda): never negative.
    { startedAt: '2025-06-15T12:06:00.000Z', duration: 0 },
    { startedAt: '2025-06-15T12:04:59.400Z', duration: 1 },
  ])('times an end started at $startedAt as $duration s', async ({ startedAt, duration }) => {
    const result = await notify(
      fakeDeps(account, fakeStore()),
      healthy,
      { executionId: EXECUTION, startedAt },
      'remediation.succeeded',
    );
    expect(result.durationSeconds).toBe(duration);
  });

  it('sends to the default team a fleet the desired state no longer declares', async () => {
    const sent: PhoenixNotification[] = [];
    await notify(
      fakeDeps(account, fakeStore(), { sent }),
      { ...healthy, fleet: 'gone' },
      CTX,
      'remediation.succeeded',
    );
    expect(sent[0]).toMatchObject({ fleet: 'gone', team: 'default' });
  });
});
