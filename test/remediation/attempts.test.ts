import { describe, expect, it } from 'vitest';
import type { NotificationEvent, PhoenixNotification } from '../../functions/domain/notification';
import { type MachineData, type SkipReason, TimingsSchema } from '../../functions/remediation/input';
import { runStep, type StepDeps } from '../../functions/remediation/steps';
import { STEP_SPEC_INPUT, STEP_SPEC_STATE } from './harness';

const STATE = STEP_SPEC_STATE;

const INPUT: MachineData = { ...STEP_SPEC_INPUT, attempt: 3 };

function skippedBecause(reason: SkipReason): Partial<MachineData> {
  return {
    recheck: {
      decision: 'skip',
      reason,
      detail: `skipped: ${reason}`,
      notify: true,
      timings: TimingsSchema.parse({}),
      checkedAt: '2025-06-15T12:01:00.000Z',
    },
  };
}

const PLAN: MachineData['plan'] = {
  strategy: 'asg',
  detail: 'surge',
  disruption: 0,
  oldTargets: [],
  replacementTargetGroups: [],
  drainSeconds: 0,
  asg: { name: 'web-asg', mode: 'surge', desiredBefore: 4, minSize: 1, maxSize: 6, instancesBefore: [] },
};
const caught = (name: string) => ({
  Error: name,
  Cause: JSON.stringify({ errorType: name, errorMessage: 'why' }),
});

/** The final report step of an execution that ended with `event` in state `data`, with the store recorded. */
async function report(
  event: NotificationEvent,
  data: Partial<MachineData>,
  base: Partial<MachineData> = INPUT,
) {
  const moved: Array<{ instanceId: string; fingerprint: string; attempt: number }> = [];
  const holds: Array<{ until: Date; why: string } | undefined> = [];
  const sent: PhoenixNotification[] = [];
  const deps = {
    ec2: { send: async () => ({}) },
    autoScaling: { send: async () => ({}) },
    elbv2: { send: async () => ({}) },
    store: {
      nextAttempt: async (
        instanceId: string,
        fingerprint: string,
        attempt: number,
        _ttl: number,
        hold?: { until: Date; why: string },
      ) => {
        moved.push({ instanceId, fingerprint, attempt });
        holds.push(hold);
        return attempt + 1;
      },
    },
    notifier: { publish: async (n: PhoenixNotification) => void sent.push(n) },
    desiredState: STATE,
    clock: () => new Date('2025-06-15T12:05:00Z'),
  } as unknown as StepDeps;
  const result = await runStep(deps, {
    step: 'notify',
    executionId: 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:x',
    event,
    data: { ...base, ...data },
  });
  return { result: result as { nextAttempt?: number; outcome: string }, moved, holds, sent };
}

interface End {
  end: string;
  event: NotificationEvent;
  data: Partial<MachineData>;
}

describe('the end of a remediation and the next detection of its drift', () => {
  it.each<End>([
    { end: 'skipped: paused', event: 'remediation.skipped', data: skippedBecause('paused') },
    {
      end: 'skipped: fleet not enforced',
      event: 'remediation.skipped',
      data: skippedBecause('not-enforcing'),
    },
    { end: 'skipped: instance excluded', event: 'remediation.skipped', data: skippedBecause('excluded') },
    { end: 'skipped: not in the fleet', event: 'remediation.skipped', data: skippedBecause('not-in-fleet') },
    // The same drift can come back: fixed by hand and broken the same way again, changed and
    // changed back, the default version rolled forward and back to the pinned one.
    { end: 'skipped: compliant again', event: 'remediation.skipped', data: skippedBecause('in-sync') },
    { end: 'skipped: drift changed', event: 'remediation.skipped', data: skippedBecause('drift-changed') },
    {
      end: 'skipped: template changed',
      event: 'remediation.skipped',
      data: skippedBecause('template-changed'),
    },
    // Held until a human acts (lifts the quarantine, fixes the template or Git); the
    // evaluator starts nothing meanwhile, and afterwards the drift must not be refused.
    { end: 'skipped: quarantined', event: 'remediation.skipped', data: skippedBecause('quarantined') },
    { end: 'skipped: source drift', event: 'remediation.skipped', data: skippedBecause('source-drift') },
    {
      end: 'blocked: paused or quarantined at the lease',
      event: 'remediation.blocked',
      data: { error: caught('GateClosedError') },
    },
    {
      end: 'blocked by the budget',
      event: 'remediation.blocked',
      data: { error: caught('LeaseDeniedError') },
    },
    {
      end: 'blocked by a busy group',
      event: 'remediation.blocked',
      data: { error: caught('GroupBusyError') },
    },
    { end: 'failed at recheck', event: 'remediation.failed', data: { error: caught('TransientAwsError') } },
    {
      end: 'failed before launching anything',
      event: 'remediation.failed',
      data: { plan: PLAN, error: caught('States.Timeout') },
    },
  ] as const)(
    '$end: moves the drift to its next attempt, so the next detection starts a new execution',
    async ({ event, data }) => {
      const { result, moved, sent } = await report(event, data);

      expect(moved).toEqual([{ instanceId: INPUT.instanceId, fingerprint: INPUT.fingerprint, attempt: 3 }]);
      expect(result.nextAttempt).toBe(4);
      expect(sent.map((n) => n.event)).toEqual([event]);
    },
  );

  it.each<End>([
    { end: 'replaced', event: 'remediation.succeeded', data: {} },
    { end: 'still in progress', event: 'remediation.started', data: {} },
    { end: 'skipped: instance gone', event: 'remediation.skipped', data: skippedBecause('instance-gone') },
    {
      end: 'rolled back',
      event: 'remediation.rolled-back',
      data: {
        plan: PLAN,
        error: caught('ReplacementUnhealthyError'),
        rollback: {
          error: 'ReplacementUnhealthyError',
          cause: 'c',
          quarantine: true,
          actions: [],
          at: 'now',
        },
      },
    },
    {
      end: 'failed after a change, rollback failed too',
      event: 'remediation.failed',
      data: {
        plan: PLAN,
        surge: { mode: 'surge', desiredBefore: 4, raisedTo: 5, instancesBefore: [] },
        error: caught('ReplacementUnhealthyError'),
        rollbackError: caught('TransientAwsError'),
      },
    },
  ] as const)(
    '$end: the drift keeps its attempt, and its execution name keeps refusing it',
    async ({ event, data }) => {
      const { result, moved } = await report(event, data);

      expect(moved).toEqual([]);
      expect(result.nextAttempt).toBeUndefined();
    },
  );

  it('manual action required: moves the attempt but holds the drift for a day, so detection neither repeats it nor refuses it once fixed', async () => {
    const { result, moved, holds, sent } = await report('manual-action-required', { plan: PLAN });

    expect(moved).toEqual([{ instanceId: INPUT.instanceId, fingerprint: INPUT.fingerprint, attempt: 3 }]);
    expect(result.nextAttempt).toBe(4);
    expect(holds).toEqual([
      { until: new Date('2025-06-16T12:05:00Z'), why: expect.stringContaining('Phoenix cannot replace it') },
    ]);
    expect(sent.map((n) => n.event)).toEqual(['manual-action-required']);
  });

  it('counts from 0 for an execution input without an attempt (started before attempts existed)', async () => {
    const { attempt: _attempt, ...withoutAttempt } = INPUT;
    const { moved } = await report('remediation.skipped', skippedBecause('paused'), withoutAttempt);

    expect(moved.map((m) => m.attempt)).toEqual([0]);
  });
});
