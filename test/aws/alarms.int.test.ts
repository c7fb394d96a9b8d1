/**
 * Integration: the declared alarms' states read from the emulated account's CloudWatch.
 *
 * Where moto differs (see docs/emulator.md): a new alarm starts `OK` in moto ("Unchecked:
 * Initial alarm creation"), `INSUFFICIENT_DATA` on AWS, so each test sets the state it reads
 * with `SetAlarmState`; moto has no `PutCompositeAlarm` and ignores `MaxRecords`/`NextToken`,
 * so composite alarms and pagination are specified in alarms.test.ts against AWS's answers.
 */
import {
  CloudWatchClient,
  type DescribeAlarmsCommandInput,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAlarm } from '../../emulator/seed';
import {
  AlarmsUnavailableError,
  alarmReadings,
  DESCRIBE_ALARMS_MAX_NAMES,
  readAlarmStates,
} from '../../functions/aws/alarms';
import { advance, type Rollout } from '../../functions/domain/rollout/stage';
import { testClientConfig } from '../helpers/emulator';

const cloudwatch = new CloudWatchClient(testClientConfig());

/** The client, recording every DescribeAlarms request it sends. */
function recording(): { client: Pick<CloudWatchClient, 'send'>; requests: DescribeAlarmsCommandInput[] } {
  const requests: DescribeAlarmsCommandInput[] = [];
  const send = ((command: { input: DescribeAlarmsCommandInput }) => {
    requests.push(command.input);
    return cloudwatch.send(command as never);
  }) as CloudWatchClient['send'];
  return { client: { send }, requests };
}

async function putAlarm(name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA', reason: string) {
  await seedAlarm(cloudwatch, name, state, reason);
}

beforeAll(async () => {
  await putAlarm('web-5xx', 'ALARM', 'Threshold Crossed: 1 datapoint [12.0] was >= 1.0');
  await putAlarm('web-p99', 'OK', 'Threshold not crossed');
  await putAlarm('web-quiet', 'INSUFFICIENT_DATA', 'no datapoints');
});
afterAll(() => {
  cloudwatch.destroy();
});

describe('readAlarmStates against the emulated account', () => {
  it('reads each declared alarm with its state and reason, and names those that do not exist', async () => {
    const states = await readAlarmStates(cloudwatch, ['web-p99', 'web-typo', 'web-5xx', 'web-quiet', 'gone']);
    expect(states.alarms).toEqual([
      expect.objectContaining({
        name: 'web-p99',
        kind: 'metric',
        state: 'OK',
        reason: 'Threshold not crossed',
      }),
      expect.objectContaining({
        name: 'web-5xx',
        state: 'ALARM',
        reason: 'Threshold Crossed: 1 datapoint [12.0] was >= 1.0',
      }),
      expect.objectContaining({ name: 'web-quiet', state: 'INSUFFICIENT_DATA', reason: 'no datapoints' }),
    ]);
    expect(states.missing).toEqual(['web-typo', 'gone']);
    expect(states.alarms[0]?.since).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('follows an alarm set back to OK', async () => {
    await cloudwatch.send(
      new SetAlarmStateCommand({ AlarmName: 'web-p99', StateValue: 'ALARM', StateReason: 'p99 1.8 s' }),
    );
    expect((await readAlarmStates(cloudwatch, ['web-p99'])).alarms[0]).toMatchObject({
      state: 'ALARM',
      reason: 'p99 1.8 s',
    });
    await cloudwatch.send(
      new SetAlarmStateCommand({
        AlarmName: 'web-p99',
        StateValue: 'OK',
        StateReason: 'Threshold not crossed',
      }),
    );
    expect((await readAlarmStates(cloudwatch, ['web-p99'])).alarms[0]?.state).toBe('OK');
  });

  it('asks for at most 100 names per call, both alarm types, and finds every alarm across the batches', async () => {
    const names = Array.from({ length: 230 }, (_, i) => `absent-${i}`);
    names.splice(5, 0, 'web-5xx');
    names.splice(150, 0, 'web-p99');
    names.push('web-quiet', 'web-5xx');
    const { client, requests } = recording();
    const states = await readAlarmStates(client, names);
    expect(requests).toHaveLength(3);
    for (const request of requests) {
      expect(request.AlarmNames?.length).toBeLessThanOrEqual(DESCRIBE_ALARMS_MAX_NAMES);
      expect(request.AlarmTypes).toEqual(['MetricAlarm', 'CompositeAlarm']);
    }
    expect(states.alarms.map((a) => a.name)).toEqual(['web-5xx', 'web-p99', 'web-quiet']);
    expect(states.missing).toHaveLength(230);
  });

  it('makes no call for a fleet that declares no alarm', async () => {
    const { client, requests } = recording();
    expect(await readAlarmStates(client, [])).toEqual({ alarms: [], missing: [] });
    expect(requests).toHaveLength(0);
  });

  it('says the alarms are unavailable, typed, when CloudWatch cannot be reached', async () => {
    const nowhere = new CloudWatchClient({
      ...testClientConfig('http://127.0.0.1:9'),
      maxAttempts: 1,
    });
    try {
      const error = await readAlarmStates(nowhere, ['web-5xx']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AlarmsUnavailableError);
      expect((error as AlarmsUnavailableError).name).toBe('AlarmsUnavailableError');
      expect((error as AlarmsUnavailableError).message).toContain('web-5xx');
    } finally {
      nowhere.destroy();
    }
  });

  it('gives the rollout a declared alarm that does not exist as MISSING, which holds it', async () => {
    const states = await readAlarmStates(cloudwatch, ['web-p99', 'web-typo']);
    const readings = alarmReadings(states);
    expect(readings).toEqual([
      { name: 'web-p99', state: 'OK' },
      { name: 'web-typo', state: 'MISSING' },
    ]);
    const rollout: Rollout = {
      fleet: 'web',
      source: { templateId: 'lt-0abc', version: 2 },
      stage: 'rolling',
      startedAt: '2026-12-05T10:00:00.000Z',
      members: 4,
      admitted: 1,
      replaced: 1,
      rolledBack: 0,
      ended: 0,
      canary: 1,
    };
    const step = advance(rollout, {
      now: new Date('2026-12-05T11:00:00.000Z'),
      policy: { bakeMinutes: 0, alarms: ['web-p99', 'web-typo'], maxFailures: 0, approval: 'automatic' },
      alarms: readings,
    });
    expect(step.holds).toBe(true);
    expect(step.waitsFor).toContain('web-typo');
  });
});
