/**
 * The table from step name to step, against the definition that names the steps, and what
 * runStep hands a step and makes of its errors.
 */
import { readFileSync } from 'node:fs';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { NOTIFICATION_EVENTS } from '../../../functions/domain/notification';
import { InstanceGoneError, TransientAwsError } from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { runStep, STEP_NAMES } from '../../../functions/remediation/steps';
import { awsError, CTX, EXECUTION, FakeAccount, fakeDeps, fakeStore } from './fakes';
import { asgPlan, input, lease, REPLACEMENT } from './state';

/** The placeholder the definition's Lambda tasks name the steps Lambda by (substituted at deploy). */
const STEPS_LAMBDA = ['$', '{StepsFunctionArn}'].join('');

/** Every `Parameters` (a callback task's `Payload`) of the definition's Lambda tasks, found wherever they are nested. */
function lambdaTasks(node: unknown, found: Array<Record<string, unknown>> = []) {
  if (typeof node !== 'object' || node === null) return found;
  const state = node as Record<string, unknown>;
  if (state.Resource === STEPS_LAMBDA && typeof state.Parameters === 'object')
    found.push(state.Parameters as Record<string, unknown>);
  const parameters = state.Parameters as { FunctionName?: unknown; Payload?: unknown } | undefined;
  if (
    state.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken' &&
    parameters?.FunctionName === STEPS_LAMBDA &&
    typeof parameters.Payload === 'object'
  )
    found.push(parameters.Payload as Record<string, unknown>);
  for (const value of Object.values(state)) lambdaTasks(value, found);
  return found;
}

const definition: unknown = JSON.parse(
  readFileSync(new URL('../../../state-machines/remediate-instance.asl.json', import.meta.url), 'utf8'),
);
const tasks = lambdaTasks(definition);

const event = (step: string, data: MachineData, extra: Record<string, unknown> = {}) => ({
  step,
  executionId: EXECUTION,
  startedAt: CTX.startedAt,
  data,
  ...extra,
});

describe('the dispatch table', () => {
  it('has exactly the steps the definition asks for: none missing, none dead', () => {
    expect(tasks.length).toBeGreaterThan(10);
    expect([...new Set(tasks.map((p) => p.step))].sort()).toEqual([...STEP_NAMES].sort());
  });

  it('is asked for notify with an event it knows, and for other steps with none', () => {
    for (const parameters of tasks) {
      if (parameters.step === 'notify') expect(NOTIFICATION_EVENTS).toContain(parameters.event);
      else expect(parameters.event).toBeUndefined();
    }
  });
});

describe('runStep', () => {
  it('runs the step named, with the state it was given', async () => {
    // Nothing scripted: releaseLease after RetireOld released everything asks nothing.
    const result = await runStep(
      fakeDeps(new FakeAccount(), fakeStore()),
      event('releaseLease', {
        ...input(),
        lease: lease(),
        retired: { terminating: true, released: 3, leaseReleased: true },
      }),
    );
    expect(result).toEqual({ released: 3 });
  });

  it("hands notify its event and the execution's start", async () => {
    const result = await runStep(
      fakeDeps(new FakeAccount(), fakeStore()),
      event(
        'notify',
        {
          ...input(),
          plan: asgPlan('surge'),
          health: { attempt: 1, healthy: true, replacementId: REPLACEMENT },
        },
        { event: 'remediation.succeeded' },
      ),
    );
    expect(result).toMatchObject({ outcome: 'succeeded', reason: 'replaced', durationSeconds: 240 });
  });

  it("names a 5xx from AWS inside a step TransientAwsError, for the definition's Retry, keeping the cause", async () => {
    const account = new FakeAccount();
    const failure = awsError('InternalError', 'EC2 had a moment', 'server');
    account.ec2.on(DescribeInstancesCommand, () => {
      throw failure;
    });

    const promise = runStep(fakeDeps(account, fakeStore()), event('plan', input()));

    await expect(promise).rejects.toThrow(
      new TransientAwsError('step plan: InternalError: EC2 had a moment', {
        code: 'InternalError',
        reason: 'server',
      }),
    );
    await expect(promise).rejects.toMatchObject({ name: 'TransientAwsError', cause: failure });
  });

  it('names a dropped connection inside a step TransientAwsError too, with the socket code', async () => {
    // The classifier the evaluator and the command line share: a reset socket passes.
    const account = new FakeAccount();
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    account.ec2.on(DescribeInstancesCommand, () => {
      throw reset;
    });

    await expect(runStep(fakeDeps(account, fakeStore()), event('plan', input()))).rejects.toMatchObject({
      name: 'TransientAwsError',
      code: 'ECONNRESET',
      reason: 'network',
      cause: reset,
    });
  });

  it('keeps the name of a client error from AWS, and of an error Phoenix threw', async () => {
    const account = new FakeAccount();
    account.ec2.on(DescribeInstancesCommand, () => {
      throw awsError('UnauthorizedOperation', 'not allowed');
    });
    await expect(runStep(fakeDeps(account, fakeStore()), event('plan', input()))).rejects.toMatchObject({
      name: 'UnauthorizedOperation',
      message: 'not allowed',
    });

    // No such instance: the plan's own InstanceGoneError, not a transient one.
    await expect(
      runStep(fakeDeps(new FakeAccount(), fakeStore()), event('plan', input())),
    ).rejects.toBeInstanceOf(InstanceGoneError);
  });
});
