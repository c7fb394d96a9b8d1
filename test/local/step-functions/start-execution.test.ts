import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../functions/domain/errors';
import { LocalStepFunctions } from '../../../functions/local/step-functions/start-execution';

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance';

const REQUEST = {
  requestVersion: 1,
  instanceId: 'i-0123456789abcdef0',
  fleet: 'web',
  fingerprint: 'v1-abc',
  reasons: [
    { kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: 'eve', source: 'desired-state' },
  ],
  desiredState: { revision: 'r1', commit: 'c1' },
  launchTemplate: { id: 'lt-0123456789abcdef0', name: 'web-lt', version: 2 },
  detectedAt: '2025-06-16T10:00:00.000Z',
  trigger: 'CreateTags',
};

describe('LocalStepFunctions (StartExecution, locally)', () => {
  it('keeps the pinned input and refuses a name twice, as Step Functions does', async () => {
    const sfn = new LocalStepFunctions(STATE_MACHINE);
    const start = () =>
      sfn.client.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE,
          name: 'i-0123-v1-abc',
          input: JSON.stringify(REQUEST),
        }),
      );

    await expect(start()).resolves.toMatchObject({
      executionArn: expect.stringMatching(
        /^arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance\/local-[0-9a-f-]{36}:i-0123-v1-abc$/,
      ),
    });
    await expect(start()).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    expect(sfn.takePending()).toEqual([expect.objectContaining({ name: 'i-0123-v1-abc', input: REQUEST })]);
    expect(sfn.takePending()).toEqual([]);
    expect(sfn.started).toHaveLength(1);
  });

  it('gives each execution an ARN of its own: another process starting the same name is another holder', async () => {
    const start = (sfn: LocalStepFunctions) =>
      sfn.client.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE,
          name: 'i-0123-v1-abc',
          input: JSON.stringify(REQUEST),
        }),
      );
    const mine = await start(new LocalStepFunctions(STATE_MACHINE));
    const theirs = await start(new LocalStepFunctions(STATE_MACHINE));

    expect(mine.executionArn).not.toBe(theirs.executionArn);
    // The name stays the last part, as in Step Functions.
    expect([mine.executionArn?.split(':').at(-1), theirs.executionArn?.split(':').at(-1)]).toEqual([
      'i-0123-v1-abc',
      'i-0123-v1-abc',
    ]);
  });

  it.each([
    {
      what: 'an input the state machine would refuse',
      input: JSON.stringify({ ...REQUEST, launchTemplate: { id: 'lt-1', name: 'x', version: '$Latest' } }),
    },
    { what: 'no name', input: JSON.stringify(REQUEST), name: '' },
  ])('refuses $what, starting nothing', async ({ input, name }) => {
    const sfn = new LocalStepFunctions(STATE_MACHINE);
    await expect(
      sfn.client.send(
        new StartExecutionCommand({ stateMachineArn: STATE_MACHINE, name: name ?? 'n', input }),
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(sfn.started).toEqual([]);
  });

  it('does nothing but start executions', async () => {
    const sfn = new LocalStepFunctions(STATE_MACHINE);
    await expect(
      sfn.client.send(new DescribeExecutionCommand({ executionArn: 'x' }) as never),
    ).rejects.toThrow(/only starts executions/);
  });
});
