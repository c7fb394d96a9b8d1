/**
 * How an end is told and whether its drift may be remediated again: pure functions of the
 * state, so every branch is a row here. A wrong "retryable" either replaces in a loop (a
 * rollback retried) or never again (a skip kept), which no notification would show.
 */
import { describe, expect, it } from 'vitest';
import type { NotificationEvent } from '../../../functions/domain/notification';
import type { MachineData, SkipReason } from '../../../functions/remediation/input';
import { endsRetryably } from '../../../functions/remediation/steps';
import { describeOutcome } from '../../../functions/remediation/steps/outcome';
import { NOW } from './fakes';
import { asgPlan, caught, input, OLD, REPLACEMENT, standalonePlan, WEB_LT } from './state';

const rolledBack = (retryable?: boolean): NonNullable<MachineData['rollback']> => ({
  error: 'InsufficientCapacityError',
  cause: 'InsufficientCapacityError: no t3.micro — rolled back: nothing had changed',
  quarantine: false,
  actions: [],
  at: NOW.toISOString(),
  ...(retryable === undefined ? {} : { retryable }),
});

const skippedBy = (reason: string, notify = true): MachineData => ({
  ...input(),
  recheck: {
    decision: 'skip',
    reason,
    detail: `the recheck says ${reason}`,
    notify,
    timings: input().timings as NonNullable<MachineData['recheck']>['timings'],
    checkedAt: NOW.toISOString(),
  },
});

describe('endsRetryably', () => {
  const retried: SkipReason[] = [
    'paused',
    'not-enforcing',
    'excluded',
    'not-in-fleet',
    'in-sync',
    'drift-changed',
    'template-changed',
    'quarantined',
    'source-drift',
    'in-flight-elsewhere',
  ];
  const kept: SkipReason[] = ['instance-gone', 'already-replaced'];

  it.each(retried)(
    'moves the drift on after a skip for %s: it may come back and must then be remediated',
    (reason) => {
      expect(endsRetryably(skippedBy(reason), 'remediation.skipped')).toBe(true);
    },
  );

  it.each(kept)('keeps the name after a skip for %s: the instance will not come back drifted', (reason) => {
    expect(endsRetryably(skippedBy(reason), 'remediation.skipped')).toBe(false);
  });

  it('keeps the name after a skip with no recorded reason', () => {
    expect(endsRetryably(input(), 'remediation.skipped')).toBe(false);
  });

  it.each([
    { error: 'ReplacingElsewhereError', retryable: true },
    { error: 'AlreadyReplacedError', retryable: false },
  ])("reads a skip at the lease by its error ($error), over the recheck's reason", ({ error, retryable }) => {
    const data = { ...skippedBy('in-sync'), error: caught(error) };
    expect(endsRetryably(data, 'remediation.skipped')).toBe(retryable);
  });

  it.each([
    { event: 'remediation.blocked', data: input(), retryable: true },
    { event: 'manual-action-required', data: input(), retryable: true },
    { event: 'remediation.succeeded', data: input(), retryable: false },
    { event: 'remediation.started', data: input(), retryable: false },
    { event: 'drift.detected', data: input(), retryable: false },
    { event: 'remediation.rolled-back', data: { ...input(), rollback: rolledBack(true) }, retryable: true },
    { event: 'remediation.rolled-back', data: { ...input(), rollback: rolledBack(false) }, retryable: false },
    { event: 'remediation.rolled-back', data: { ...input(), rollback: rolledBack() }, retryable: false },
    { event: 'remediation.rolled-back', data: input(), retryable: false },
  ] as Array<{ event: NotificationEvent; data: MachineData; retryable: boolean }>)(
    '$event (rollback retryable: $data.rollback.retryable) → $retryable',
    ({ event, data, retryable }) => {
      expect(endsRetryably(data, event)).toBe(retryable);
    },
  );

  const failed: MachineData = { ...input(), plan: asgPlan('surge'), error: caught('States.Timeout') };
  it.each([
    { what: 'before anything changed', over: {}, retryable: true },
    {
      what: 'after the group was surged',
      over: { surge: { mode: 'surge' as const, desiredBefore: 3, raisedTo: 4, instancesBefore: [OLD] } },
      retryable: false,
    },
    { what: 'after a launch', over: { replacement: { instanceId: REPLACEMENT } }, retryable: false },
    { what: 'after a rollback', over: { rollback: rolledBack(true) }, retryable: false },
    {
      what: 'when the rollback failed',
      over: { rollbackError: caught('States.TaskFailed') },
      retryable: false,
    },
  ])('a failure $what → $retryable', ({ over, retryable }) => {
    expect(endsRetryably({ ...failed, ...over }, 'remediation.failed')).toBe(retryable);
  });
});

describe('describeOutcome', () => {
  it('starts with what is replaced, why, and how', () => {
    expect(describeOutcome({ ...input(), plan: asgPlan('surge') }, 'remediation.started')).toEqual({
      reason: 'started',
      detail: `Replacing ${OLD} of fleet web (image imageId): surge of web-asg`,
      publish: true,
    });
  });

  it('tells a drift once per kind and field, however many reasons repeat it', () => {
    const data = input();
    data.reasons = [
      ...data.reasons,
      { kind: 'image', field: 'imageId', expected: 'ami-b', actual: 'ami-c', source: 'launch-template' },
      { kind: 'tag', field: 'Owner', expected: 'web', actual: null, source: 'desired-state' },
    ];
    expect(describeOutcome(data, 'drift.detected')).toEqual({
      reason: 'drifted',
      detail: `${OLD} is drifted: image imageId, tag Owner.`,
      publish: true,
    });
    expect(describeOutcome({ ...data, reasons: [] }, 'drift.detected').detail).toBe(
      `${OLD} is drifted: no reasons recorded.`,
    );
  });

  describe('a success', () => {
    const from = `Replaced ${OLD} with ${REPLACEMENT} from launch template ${WEB_LT} version 2`;
    it.each([
      {
        what: "the health check's replacement, handed back to its group",
        data: { plan: asgPlan('surge'), health: { attempt: 2, healthy: true, replacementId: REPLACEMENT } },
        detail: `${from}; the old instance went back to Auto Scaling group web-asg, which drains and terminates it.`,
      },
      {
        what: 'the launched replacement, terminated by Phoenix',
        data: { plan: standalonePlan(), replacement: { instanceId: REPLACEMENT } },
        detail: `${from}; the old instance was drained and terminated.`,
      },
      {
        what: 'what retiring said of an old instance that was not its to terminate',
        data: {
          plan: asgPlan('surge'),
          health: { attempt: 2, healthy: true, replacementId: REPLACEMENT },
          retired: { terminating: false, released: 1, leaseReleased: true, detail: 'someone detached it.' },
        },
        detail: `${from}; someone detached it.`,
      },
      {
        what: 'no replacement known',
        data: { plan: standalonePlan() },
        detail: `Replaced ${OLD} with its replacement from launch template ${WEB_LT} version 2; the old instance was drained and terminated.`,
      },
    ])('names $what', ({ data, detail }) => {
      expect(describeOutcome({ ...input(), ...data }, 'remediation.succeeded')).toEqual({
        reason: 'replaced',
        detail,
        publish: true,
      });
    });
  });

  describe('a skip', () => {
    it("says the recheck's reason, and publishes only when the recheck says it is worth it", () => {
      expect(describeOutcome(skippedBy('paused'), 'remediation.skipped')).toEqual({
        reason: 'paused',
        detail: `Not replacing ${OLD}: the recheck says paused.`,
        publish: true,
      });
      expect(describeOutcome(skippedBy('instance-gone', false), 'remediation.skipped')).toEqual({
        reason: 'instance-gone',
        detail: `Not replacing ${OLD}: the recheck says instance-gone.`,
        publish: false,
      });
    });

    it.each([
      { error: 'ReplacingElsewhereError', reason: 'in-flight-elsewhere' },
      { error: 'AlreadyReplacedError', reason: 'already-replaced' },
    ])('at the lease ($error) is not published: the other execution reports it', ({ error, reason }) => {
      const data = { ...skippedBy('drifted'), error: caught(error, 'run-2 holds it') };
      expect(describeOutcome(data, 'remediation.skipped')).toEqual({
        reason,
        detail: `Not replacing ${OLD}: run-2 holds it.`,
        publish: false,
      });
    });

    it('with no reason recorded is still told', () => {
      expect(describeOutcome(input(), 'remediation.skipped')).toEqual({
        reason: 'unknown',
        detail: `Not replacing ${OLD}: no reason recorded.`,
        publish: true,
      });
    });
  });

  describe('a block', () => {
    const retryLater = (why: string) =>
      `Could not start replacing ${OLD} within the retry bound: ${why}. The next detection of this drift tries again.`;
    it.each([
      {
        error: caught('LeaseDeniedError', 'fleet web has 2 of 2'),
        reason: 'budget',
        detail: retryLater('fleet web has 2 of 2'),
      },
      {
        error: caught('GroupBusyError', 'run-2 has it'),
        reason: 'group-busy',
        detail: retryLater('run-2 has it'),
      },
      {
        error: caught('GateClosedError', 'fleet web is paused'),
        reason: 'paused-or-quarantined',
        detail: `Not replacing ${OLD} after all: fleet web is paused. Nothing was changed; the next detection of this drift tries again once that is lifted.`,
      },
      { error: undefined, reason: 'budget', detail: retryLater('unknown error') },
    ])('by $error.Error is $reason', ({ error, reason, detail }) => {
      const data = error === undefined ? input() : { ...input(), error };
      expect(describeOutcome(data, 'remediation.blocked')).toEqual({ reason, detail, publish: true });
    });
  });

  it('asks for manual action, saying why the plan cannot replace', () => {
    const plan = {
      ...asgPlan('standby-first'),
      strategy: 'manual-action-required' as const,
      detail: 'raise MaxSize',
    };
    expect(describeOutcome({ ...input(), plan }, 'manual-action-required')).toEqual({
      reason: 'manual-action-required',
      detail: `${OLD} is drifted (image imageId) but Phoenix cannot replace it: raise MaxSize.`,
      publish: true,
    });
    expect(describeOutcome(input(), 'manual-action-required').detail).toBe(
      `${OLD} is drifted (image imageId) but Phoenix cannot replace it: no plan.`,
    );
  });

  it("tells a rollback by the rollback's own error and cause", () => {
    const data = {
      ...input(),
      error: caught('InsufficientCapacityError', 'no t3.micro'),
      rollback: rolledBack(true),
    };
    expect(describeOutcome(data, 'remediation.rolled-back')).toEqual({
      reason: 'rolled-back',
      detail: `Replacing ${OLD} failed and was rolled back. InsufficientCapacityError: no t3.micro — rolled back: nothing had changed`,
      publish: true,
      error: 'InsufficientCapacityError',
      cause: 'InsufficientCapacityError: no t3.micro — rolled back: nothing had changed',
    });
  });

  it('tells a rollback without its result by the caught error', () => {
    const data = { ...input(), error: caught('ReplacementUnhealthyError', 'never healthy') };
    expect(describeOutcome(data, 'remediation.rolled-back')).toMatchObject({
      error: 'ReplacementUnhealthyError',
      cause: 'never healthy',
    });
  });

  it('tells a failure by its error and cause', () => {
    const data = { ...input(), error: caught('States.Timeout', 'the step timed out') };
    expect(describeOutcome(data, 'remediation.failed')).toEqual({
      reason: 'failed',
      detail: `Replacing ${OLD} failed. States.Timeout: the step timed out`,
      publish: true,
      error: 'States.Timeout',
      cause: 'States.Timeout: the step timed out',
    });
  });

  it('tells a failed rollback as RollbackFailedError, both errors named, the lease kept, a human asked', () => {
    const data = {
      ...input(),
      error: caught('ReplacementUnhealthyError', 'never healthy'),
      rollbackError: { Error: 'States.TaskFailed', Cause: 'AccessDenied on TerminateInstances' },
    };
    const cause =
      'ReplacementUnhealthyError: never healthy — and the rollback failed (States.TaskFailed: AccessDenied on TerminateInstances); the lease is kept until it expires: check the fleet by hand';
    expect(describeOutcome(data, 'remediation.failed')).toEqual({
      reason: 'rollback-failed',
      detail: `Replacing ${OLD} failed. ${cause}`,
      publish: true,
      error: 'RollbackFailedError',
      cause,
    });
  });
});
