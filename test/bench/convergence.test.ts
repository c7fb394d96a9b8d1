import { describe, expect, it } from 'vitest';
import {
  convergenceBench,
  kindOf,
  lockRulesOf,
  pathOf,
  QUEUE_CALLS_PER_INSTANCE_BUDGET,
  ratioBudget,
  retryOf,
  TRANSITIONS_PER_INSTANCE_BUDGET,
  WHAT_IFS,
} from '../../bench/convergence';
import { ModelMismatchError } from '../../bench/lib/convergence-model';
import type { Progress } from '../../bench/lib/progress';
import { withinBudget } from '../../bench/lib/results';
import type { RecordedRemediation, StateInfo } from '../../bench/remediation';

const STEPS = 'arn:aws:lambda:us-east-1:123456789012:function:phoenix-steps';
const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/** RetireOld's and Rollback's Retry rule for a busy group lock, as the definition states it. */
const GROUP_BUSY = {
  ErrorEquals: ['GroupBusyError'],
  IntervalSeconds: 5,
  MaxAttempts: 40,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};

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
  ['RetireOld', { type: 'Task', resource: STEPS, retry: [GROUP_BUSY] }],
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
  states: new Map([...PATH, ['Rollback', { type: 'Task', resource: STEPS, retry: [GROUP_BUSY] }]]),
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

describe('retryOf and lockRulesOf', () => {
  it('read RetireOld’s and Rollback’s rule for a busy group lock from the definition', () => {
    const rules = lockRulesOf(RECORDED.states);
    expect(rules.retireRetry).toMatchObject({ IntervalSeconds: 5, MaxAttempts: 40, JitterStrategy: 'FULL' });
    expect(rules.rollbackRetry).toMatchObject({
      IntervalSeconds: 5,
      MaxAttempts: 40,
      JitterStrategy: 'FULL',
    });
  });

  it('say so when the definition does not retry the error', () => {
    expect(() => retryOf(RECORDED.states, 'RetireOld', 'LeaseDeniedError')).toThrow(ModelMismatchError);
    expect(() => lockRulesOf(new Map(PATH.filter(([name]) => name !== 'RetireOld')))).toThrow(
      /RetireOld does not retry GroupBusyError/,
    );
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
      expect(withinBudget(phoenix)).toBe((phoenix.ratio ?? 0) <= 0.5);
    }
  });

  it('replaces the group in ten waves of k, where the lock taken surge by surge held them back to back', () => {
    const lockHeld = 17; // before waves: from a surge's lease to the claim of its instance, at least
    for (const n of [100, 1_000]) {
      expect(result(`convergence.n${n}.waves`).value).toBe(10);
      expect(result(`convergence.n${n}.what-if-per-instance-lock.phoenix`).value).toBeGreaterThan(
        n * lockHeld,
      );
      expect(result(`convergence.n${n}.phoenix`).value).toBeLessThan(n * lockHeld);
    }
  });

  it('holds blocked and rolled-back executions to 0, transitions to 30 and queue calls to one constant per instance', () => {
    for (const n of [100, 1_000]) {
      expect(result(`convergence.n${n}.blocked`)).toMatchObject({ value: 0, budget: 0 });
      expect(result(`convergence.n${n}.rolled-back`)).toMatchObject({ budget: 0 });
      // RetireOld never retries the lock and no launch waits for a token: the path's 29.
      expect(result(`convergence.n${n}.transitions-per-instance`)).toMatchObject({
        value: 29,
        budget: TRANSITIONS_PER_INSTANCE_BUDGET,
      });
      expect(result(`convergence.n${n}.retire-lock-retries-per-instance`).value).toBe(0);
      expect(result(`convergence.n${n}.queue-calls-per-instance`)).toMatchObject({
        value: QUEUE_CALLS_PER_INSTANCE_BUDGET,
        budget: QUEUE_CALLS_PER_INSTANCE_BUDGET,
      });
      expect(result(`convergence.n${n}.granter-aws-reads-per-instance`)).toMatchObject({
        value: 9,
        budget: null,
      });
    }
    expect(result('convergence.queue-calls-per-instance.change-from-n100')).toMatchObject({
      value: 0,
      budget: 0,
    });
  });

  it('labels the polling lease, surges first and a RetireOld admitting nobody as befores, and the what-ifs, with no budget', () => {
    const before = outcome.results.filter((r) => r.name.includes('.before-queue.'));
    expect(before.length).toBe(2 * 4);
    const whatIf = outcome.results.filter((r) => r.name.includes('.what-if-'));
    expect(whatIf.length).toBe(2 * WHAT_IFS.length * 4);
    expect([...before, ...whatIf].every((r) => r.budget === null)).toBe(true);
    expect(
      outcome.notes.some((n) =>
        n.startsWith('what-ifs (no budget): before waves, before 07f9b81, before e8871a5, and not built'),
      ),
    ).toBe(true);
    // Only the "before" row lets RetireOld admit nobody; the main rows and the others admit.
    expect(WHAT_IFS.filter((w) => w.whatIf.retireAdmitsNobody === true).map((w) => w.name)).toEqual([
      'retire-admits-nobody',
    ]);
    expect(outcome.notes.some((n) => n.includes('RetireOld admitting nobody (before e8871a5)'))).toBe(true);
    // The befores take the lock surge by surge; of them only the two oldest put surges first
    // (before e8871a5 they did not go first either).
    expect(WHAT_IFS.filter((w) => w.whatIf.perInstanceLock === true).map((w) => w.name)).toEqual([
      'per-instance-lock',
      'retirements-not-first',
      'retire-admits-nobody',
    ]);
    expect(WHAT_IFS.filter((w) => w.whatIf.retirementsNotFirst === true).map((w) => w.name)).toEqual([
      'retirements-not-first',
      'retire-admits-nobody',
    ]);
    expect(outcome.notes.some((n) => n.includes('surges before waiting retirements (before 07f9b81)'))).toBe(
      true,
    );
  });

  it('rolls back no healthy replacement for want of the lock, where surges first did at 1,000', () => {
    for (const n of [100, 1_000]) {
      expect(result(`convergence.n${n}.rolled-back`).value).toBe(0);
      expect(result(`convergence.n${n}.retire-gave-up`).value).toBe(0);
    }
    expect(result('convergence.n1000.what-if-retirements-not-first.rolled-back').value).toBeGreaterThan(0);
    // A retirement makes no retries in a wave; surge by surge, some with retirements first,
    // far more with surges first.
    expect(result('convergence.n1000.transitions-per-instance').value).toBeLessThan(
      result('convergence.n1000.what-if-per-instance-lock.transitions-per-instance').value,
    );
    expect(result('convergence.n1000.what-if-per-instance-lock.transitions-per-instance').value).toBeLessThan(
      result('convergence.n1000.what-if-retirements-not-first.transitions-per-instance').value,
    );
  });

  it('makes the main rows admit on RetireOld’s release: they converge sooner than before e8871a5', () => {
    for (const n of [100, 1_000]) {
      expect(result(`convergence.n${n}.phoenix`).value).toBeLessThan(
        result(`convergence.n${n}.what-if-retire-admits-nobody.phoenix`).value,
      );
    }
  });

  it('gives the cost model each roll: hours, retries, and the queue calls beyond a lease taken at once', () => {
    const roll = outcome.rolls[1_000];
    // The roll's hours are Phoenix's whole run, its last drain included (what it pays for).
    expect(roll?.hours).toBeCloseTo(result('convergence.n1000.phoenix-old-drained').value / 3600, 3);
    // 900 of 1,000 parked (the first wave's 100 took their own leases), each granted from the
    // queue: its grant's answer; the park and the removal are transactions (with the queue's
    // waiter count). No RetireOld retries the lock: no refused try's UpdateItem, no PutItem.
    expect(roll?.extraQueueCalls['DynamoDB.UpdateItem']).toBeCloseTo(0.9, 9);
    expect(roll?.extraQueueCalls['DynamoDB.PutItem']).toBeUndefined();
    expect(roll?.extraQueueCalls['DynamoDB.DeleteItem']).toBeUndefined();
    expect(roll?.extraQueueCalls['SFN.SendTaskSuccess']).toBeUndefined();
    // No retry, and no launch waiting for a token at 1,000: no transition beyond a lease taken at once.
    expect(roll?.extraTransitions).toBe(0);
    expect(roll?.extraInvocations).toBe(0);
  });
});
