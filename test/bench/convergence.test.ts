import { describe, expect, it } from 'vitest';
import {
  convergenceBench,
  kindOf,
  pathOf,
  QUEUE_CALLS_PER_INSTANCE_BUDGET,
  ratioBudget,
  TRANSITIONS_PER_INSTANCE_BUDGET,
} from '../../bench/convergence';
import type { Progress } from '../../bench/lib/progress';
import { brokenBudgets, withinBudget } from '../../bench/lib/results';
import type { RecordedRemediation, StateInfo } from '../../bench/remediation';

const STEPS = 'arn:aws:lambda:us-east-1:123456789012:function:phoenix-steps';
const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/** The Auto Scaling member's path as the remediation benchmark records it, its lease step a callback. */
const PATH: Array<[string, StateInfo]> = [
  ['Recheck', { type: 'Task', resource: STEPS }],
  ['RecheckDecision', { type: 'Choice' }],
  ['PlanReplacement', { type: 'Task', resource: STEPS }],
  ['StrategyDecision', { type: 'Choice' }],
  ['AcquireLease', { type: 'Task', resource: CALLBACK }],
  ['ReplaceBy', { type: 'Choice' }],
  ['RaiseDesiredCapacity', { type: 'Task', resource: STEPS }],
  ['NotifyStarted', { type: 'Task', resource: STEPS }],
  ['StartHealthChecks', { type: 'Pass' }],
  ['CheckReplacementHealth', { type: 'Task', resource: STEPS }],
  ['ReplacementHealthy', { type: 'Choice' }],
  ['DrainOld', { type: 'Map' }],
  ['WaitForDeregistrationDelay', { type: 'Wait' }],
  ['RetireOld', { type: 'Task', resource: STEPS }],
  ['ReleaseLeaseUnlessRetired', { type: 'Choice' }],
  ['ReportSucceeded', { type: 'Task', resource: STEPS }],
  ['Done', { type: 'Succeed' }],
];

const RECORDED: RecordedRemediation = {
  events: PATH.map(([state], i) => ({
    type: 'StateEntered' as const,
    state,
    instanceId: 'i-0123',
    at: i,
    elapsedMs: i,
  })),
  timings: {
    healthCheckIntervalSeconds: 15,
    healthCheckMaxAttempts: 40,
    maxDrainSeconds: 300,
    leaseTtlSeconds: 7200,
  },
  states: new Map(PATH),
};

const quiet: Progress = { say: () => undefined, count: () => undefined };

describe('kindOf', () => {
  it.each([
    { resource: STEPS, kind: 'lambda' },
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the definition's placeholder, not a template
    { resource: '${StepsFunctionArn}', kind: 'lambda' },
    { resource: 'arn:aws:states:::lambda:invoke', kind: 'lambda' },
    { resource: CALLBACK, kind: 'lambda' },
    { resource: 'arn:aws:states:::aws-sdk:dynamodb:putItem', kind: 'sdk' },
    { resource: 'arn:aws:states:::dynamodb:putItem', kind: 'sdk' },
  ])('takes a Task on $resource for a $kind task', ({ resource, kind }) => {
    expect(kindOf({ type: 'Task', resource })).toBe(kind);
  });

  it('takes Wait states as waits and the rest as bookkeeping', () => {
    expect(kindOf({ type: 'Wait' })).toBe('wait');
    expect(kindOf({ type: 'Choice' })).toBe('other');
    expect(kindOf(undefined)).toBe('other');
  });
});

describe('pathOf', () => {
  it('gives the lease step its role whatever its resource', () => {
    const lease = pathOf(RECORDED).find((s) => s.state === 'AcquireLease');
    expect(lease).toEqual({ state: 'AcquireLease', kind: 'lambda', role: 'acquire-lease' });
  });
});

describe('ratioBudget', () => {
  it.each([
    { n: 100, budget: 0.5 },
    { n: 1_000, budget: 0.5 },
    { n: 10_000, budget: 1 },
  ])('holds $n instances to $budget of instance refresh', ({ n, budget }) => {
    expect(ratioBudget(n)).toBe(budget);
  });
});

describe('convergenceBench', () => {
  const outcome = convergenceBench({ recorded: RECORDED, progress: quiet, sizes: [100, 1_000], trials: 3 });
  const result = (name: string) => {
    const found = outcome.results.find((r) => r.name === name);
    if (found === undefined) throw new Error(`no result ${name}`);
    return found;
  };

  it('judges time to converge as a ratio to instance refresh at 90 % minimum healthy', () => {
    for (const n of [100, 1_000]) {
      const phoenix = result(`convergence.n${n}.phoenix`);
      expect(phoenix.baseline).toBe(result(`convergence.n${n}.instance-refresh-warmup-0s`).value);
      expect(phoenix.ratio).toBeCloseTo(phoenix.value / (phoenix.baseline ?? 0), 9);
      expect(phoenix.budget).toBe(0.5);
      // The budget machinery judges the ratio: the same figure against a tighter budget breaks.
      expect(withinBudget(phoenix)).toBe(true);
      expect(withinBudget({ ...phoenix, budget: (phoenix.ratio ?? 0) / 2 })).toBe(false);
    }
  });

  it('holds blocked executions to 0, transitions to 30 and queue calls to one constant per instance', () => {
    for (const n of [100, 1_000]) {
      expect(result(`convergence.n${n}.blocked`)).toMatchObject({ value: 0, budget: 0 });
      expect(result(`convergence.n${n}.transitions-per-instance`)).toMatchObject({
        value: 29,
        budget: TRANSITIONS_PER_INSTANCE_BUDGET,
      });
      expect(result(`convergence.n${n}.queue-calls-per-instance`)).toMatchObject({
        value: QUEUE_CALLS_PER_INSTANCE_BUDGET,
        budget: QUEUE_CALLS_PER_INSTANCE_BUDGET,
      });
    }
    expect(result('convergence.queue-calls-per-instance.change-from-n100')).toMatchObject({
      value: 0,
      budget: 0,
    });
    expect(brokenBudgets(outcome.results)).toEqual([]);
  });

  it('labels the polling lease as a before, with no budget', () => {
    const before = outcome.results.filter((r) => r.name.includes('.before-queue.'));
    expect(before.length).toBe(2 * 4);
    expect(before.every((r) => r.budget === null)).toBe(true);
  });

  it('gives the cost model each roll: hours, and per instance what waiting cost beyond a lease taken at once', () => {
    const roll = outcome.rolls[1_000];
    expect(roll?.hours).toBeCloseTo(result('convergence.n1000.phoenix').value / 3600, 3);
    // No launch waited for a token at 1,000: no health-check round beyond the replacement's own.
    expect(roll?.extraTransitions).toBe(0);
    // 900 of 1,000 parked, and every one of them granted from the queue.
    expect(roll?.extraQueueCalls['DynamoDB.PutItem']).toBeCloseTo(0.9, 9);
    expect(roll?.extraQueueCalls['DynamoDB.TransactWriteItems']).toBeCloseTo(0.9, 9);
    expect(roll?.extraQueueCalls['SFN.SendTaskSuccess']).toBeUndefined();
  });
});
