/**
 * `readAlarmStates` against CloudWatch's answers where moto cannot give them: pages
 * (`NextToken`), composite alarms, and the errors AWS answers with.
 */
import {
  CloudWatchClient,
  CloudWatchServiceException,
  DescribeAlarmsCommand,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AlarmsUnavailableError,
  AlarmsUnreadableError,
  alarmReadings,
  readAlarmStates,
} from '../../functions/aws/alarms';
import { InvalidInputError } from '../../functions/domain/errors';

const cloudwatch = mockClient(CloudWatchClient);
const client = () => new CloudWatchClient({ region: 'us-east-1' });

afterEach(() => {
  cloudwatch.reset();
});

function awsError(name: string, fault: 'client' | 'server', status: number): CloudWatchServiceException {
  return new CloudWatchServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: `${name} said no`,
  });
}

describe('readAlarmStates (CloudWatch answers)', () => {
  it('follows NextToken to the last page of a batch', async () => {
    cloudwatch
      .on(DescribeAlarmsCommand)
      .resolvesOnce({
        MetricAlarms: [{ AlarmName: 'a', StateValue: 'OK', StateReason: 'fine' }],
        NextToken: 'page-2',
      })
      .resolvesOnce({ MetricAlarms: [{ AlarmName: 'b', StateValue: 'ALARM', StateReason: 'burning' }] });
    const states = await readAlarmStates(client(), ['b', 'a', 'c']);
    const calls = cloudwatch.commandCalls(DescribeAlarmsCommand);
    expect(calls.map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'page-2']);
    expect(calls[1]?.args[0].input.AlarmNames).toEqual(['b', 'a', 'c']);
    expect(states.alarms.map((a) => [a.name, a.state])).toEqual([
      ['b', 'ALARM'],
      ['a', 'OK'],
    ]);
    expect(states.missing).toEqual(['c']);
  });

  it('reads a composite alarm as one (AWS answers it apart from metric alarms)', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      CompositeAlarms: [
        {
          AlarmName: 'web-health',
          StateValue: 'ALARM',
          StateReason: 'web-5xx in ALARM',
          StateUpdatedTimestamp: new Date('2026-12-05T10:00:00Z'),
        },
      ],
    });
    const states = await readAlarmStates(client(), ['web-health']);
    expect(states.alarms).toEqual([
      {
        name: 'web-health',
        kind: 'composite',
        state: 'ALARM',
        reason: 'web-5xx in ALARM',
        since: '2026-12-05T10:00:00.000Z',
      },
    ]);
    expect(alarmReadings(states)).toEqual([{ name: 'web-health', state: 'ALARM' }]);
  });

  it('takes nothing from an answer about an alarm it did not ask for', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: 'someone-else', StateValue: 'OK' }],
    });
    expect(await readAlarmStates(client(), ['web-5xx'])).toEqual({ alarms: [], missing: ['web-5xx'] });
  });

  it('reads a state it does not know as not OK', async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'a' }] });
    expect((await readAlarmStates(client(), ['a'])).alarms[0]?.state).toBe('INSUFFICIENT_DATA');
  });

  it.each([
    { error: awsError('Throttling', 'client', 400), type: AlarmsUnavailableError },
    { error: awsError('InternalFailure', 'server', 500), type: AlarmsUnavailableError },
    { error: awsError('ServiceUnavailable', 'server', 503), type: AlarmsUnavailableError },
    { error: awsError('AccessDenied', 'client', 403), type: AlarmsUnreadableError },
    { error: awsError('InvalidParameterValue', 'client', 400), type: AlarmsUnreadableError },
  ])('turns $error.name into $type.name, naming the code and the alarms', async ({ error, type }) => {
    cloudwatch.on(DescribeAlarmsCommand).rejects(error);
    const thrown = await readAlarmStates(client(), ['web-5xx', 'web-p99']).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as AlarmsUnavailableError).code).toBe(error.name);
    expect((thrown as Error).message).toContain('web-5xx, web-p99');
    expect((thrown as Error).message).not.toContain('\n');
  });

  it.each([[''], ['x'.repeat(256)]])('refuses the alarm name %j before any call', async (name) => {
    await expect(readAlarmStates(client(), ['ok', name])).rejects.toBeInstanceOf(InvalidInputError);
    expect(cloudwatch.commandCalls(DescribeAlarmsCommand)).toHaveLength(0);
  });
});
