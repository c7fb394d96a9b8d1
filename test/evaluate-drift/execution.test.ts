import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../functions/domain/drift/fingerprint';
import {
  EXECUTION_NAME_MAX_LENGTH,
  executionArnOf,
  executionName,
  type RemediationRequest,
  startRemediation,
} from '../../functions/evaluate-drift/execution';
import { reason } from '../helpers/builders';

const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:phoenix-remediate-instance';

describe('executionName', () => {
  it("is the instance id, the fingerprint and the drift's attempt", () => {
    const fingerprint = fingerprintOf([reason()]);
    expect(executionName('i-0123456789abcdef0', fingerprint, 0)).toBe(`i-0123456789abcdef0-${fingerprint}-0`);
    expect(executionName('i-0123456789abcdef0', fingerprint, 12)).toBe(
      `i-0123456789abcdef0-${fingerprint}-12`,
    );
  });

  it('is another name for every attempt of the same drift, and the same name within one attempt', () => {
    const fingerprint = fingerprintOf([reason()]);
    const names = [0, 1, 2, 1].map((attempt) => executionName('i-0123456789abcdef0', fingerprint, attempt));
    expect(new Set(names).size).toBe(3);
    expect(names[1]).toBe(names[3]);
  });

  it('fits Step Functions with room to spare for a real instance id, fingerprint and attempt', () => {
    const name = executionName('i-0123456789abcdef0', fingerprintOf([reason()]), Number.MAX_SAFE_INTEGER);
    expect(name).toBe(`i-0123456789abcdef0-${fingerprintOf([reason()])}-${Number.MAX_SAFE_INTEGER}`);
    expect(name.length).toBeLessThanOrEqual(EXECUTION_NAME_MAX_LENGTH);
  });

  it('is the same for the same drift whatever the order of its reasons', () => {
    const a = reason();
    const b = reason({
      kind: 'image',
      field: 'imageId',
      expected: 'ami-1',
      actual: 'ami-2',
      source: 'launch-template',
    });
    expect(executionName('i-0123456789abcdef0', fingerprintOf([a, b]), 0)).toBe(
      executionName('i-0123456789abcdef0', fingerprintOf([b, a]), 0),
    );
  });

  it('is always a valid Step Functions name: 1..80 of [A-Za-z0-9-_]', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 120 }),
        fc.string({ minLength: 1, maxLength: 120 }),
        fc.nat(),
        (id, fp, attempt) => {
          const name = executionName(id, fp, attempt);
          expect(name.length).toBeGreaterThan(0);
          expect(name.length).toBeLessThanOrEqual(EXECUTION_NAME_MAX_LENGTH);
          expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
        },
      ),
    );
  });

  it('keeps the fingerprint and the attempt when a name must be shortened', () => {
    const name = executionName(`i-${'a'.repeat(90)}`, 'v1-0123456789abcdef01234567', 3);
    expect(name.endsWith('v1-0123456789abcdef01234567-3')).toBe(true);
  });

  it('refuses an empty instance id or fingerprint, and an attempt that is not a whole number ≥ 0', () => {
    expect(() => executionName('', 'v1-x', 0)).toThrow(/needs an instance id and a fingerprint/);
    expect(() => executionName('i-1', '', 0)).toThrow(/needs an instance id and a fingerprint/);
    for (const attempt of [-1, 1.5, Number.NaN])
      expect(() => executionName('i-1', 'v1-x', attempt)).toThrow(/whole number ≥ 0/);
  });
});

describe('startRemediation', () => {
  const client = new SFNClient({ region: 'us-east-1' });
  const sfn = mockClient(client);
  const request: RemediationRequest = {
    requestVersion: 1,
    instanceId: 'i-0123456789abcdef0',
    fleet: 'web',
    fingerprint: fingerprintOf([reason()]),
    reasons: [reason()],
    desiredState: { revision: '0123456789ab', commit: 'abc' },
    launchTemplate: { id: 'lt-0a1b2c3d4e5f60718', name: 'web-lt', version: 3 },
    detectedAt: '2025-06-15T12:00:00.000Z',
    trigger: 'CreateTags',
    attempt: 2,
  };
  beforeEach(() => sfn.reset());

  it('starts the execution under its deterministic name (attempt included) with the request as input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });

    const outcome = await startRemediation(client, STATE_MACHINE, request);

    expect(outcome).toEqual({
      started: true,
      executionArn: 'arn:x',
      name: `${request.instanceId}-${request.fingerprint}-2`,
    });
    const input = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(input?.stateMachineArn).toBe(STATE_MACHINE);
    expect(JSON.parse(input?.input ?? '')).toEqual(request);
  });

  it('takes ExecutionAlreadyExists as "already started", not as a failure', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));

    await expect(startRemediation(client, STATE_MACHINE, request)).resolves.toMatchObject({
      started: false,
      reason: 'already-exists',
    });
  });

  it('lets any other error through', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('no'), { name: 'StateMachineDoesNotExist' }));

    await expect(startRemediation(client, STATE_MACHINE, request)).rejects.toMatchObject({
      name: 'StateMachineDoesNotExist',
    });
  });
});

describe('executionArnOf', () => {
  it('derives the execution ARN from the state machine ARN and the name', () => {
    expect(executionArnOf(STATE_MACHINE, 'i-1-v1-abc')).toBe(
      'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:i-1-v1-abc',
    );
  });
});
