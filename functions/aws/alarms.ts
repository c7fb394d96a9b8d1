/**
 * The states of the CloudWatch alarms a fleet declares (`rollout.alarms`), read with
 * `DescribeAlarms` by name: what the alarm gate and the rollout's stages decide on (issue 15,
 * docs/adr/0028-rollouts-in-the-state-table.md).
 *
 * - At most 100 names per call (`AlarmNames` takes no more), each call paginated by
 *   `NextToken`: a fleet may declare any number of alarms.
 * - Metric and composite alarms alike (`AlarmTypes` both: without it AWS returns metric
 *   alarms only, and a declared composite alarm would read as missing).
 * - A declared name that CloudWatch does not know is reported in `missing`, never dropped:
 *   the gate treats it as not OK (it holds the fleet; see the ADR). A typo in the desired
 *   state must not turn the alarm gate off.
 * - Throttling, a service-side failure or an unreachable endpoint is an
 *   {@link AlarmsUnavailableError} (worth retrying); any other refusal (access denied, a
 *   request CloudWatch rejects) is an {@link AlarmsUnreadableError}. Either way the caller
 *   knows nothing about the alarms and must not treat the fleet as clear.
 *
 * Where moto differs: it ignores `AlarmTypes` (always answers both kinds), `MaxRecords` and
 * `NextToken` (one page), does not refuse more than 100 names, and has no
 * `PutCompositeAlarm`. The code is written for AWS; the tests say which part each one proves
 * against moto and which against a recorded AWS answer.
 */
import {
  type CloudWatchClient,
  type CompositeAlarm,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandOutput,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import { InvalidInputError, PhoenixError } from '../domain/errors';
import type { AlarmReading } from '../domain/rollout/stage';
import { AlarmsUnavailableError, AlarmsUnreadableError } from './errors';
import { isTransientAwsError, transientFailureOf } from './transient';

export { AlarmsUnavailableError, AlarmsUnreadableError } from './errors';

/** `DescribeAlarms` takes at most this many `AlarmNames` per call. */
export const DESCRIBE_ALARMS_MAX_NAMES = 100;

/** CloudWatch's alarm name limit. */
const MAX_ALARM_NAME_LENGTH = 255;

/** An alarm's state as CloudWatch reports it. */
export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** One declared alarm CloudWatch knows. */
export interface AlarmStatus {
  name: string;
  kind: 'metric' | 'composite';
  state: AlarmState;
  /** CloudWatch's `StateReason`: why it is in that state (what `rollout.halted` quotes). */
  reason: string;
  /** ISO-8601: when the state last changed, when CloudWatch says. */
  since?: string;
}

/** What {@link readAlarmStates} found: the declared alarms in the order declared, and those that do not exist. */
export interface AlarmStates {
  /** The declared alarms that exist, in the order they were declared (duplicates once). */
  alarms: AlarmStatus[];
  /** Declared names CloudWatch does not know (in this account and region), in declared order. */
  missing: string[];
}

/** The AWS error name, or the socket's code when nothing answered (`ECONNREFUSED`…). */
function errorCode(error: Error): string {
  return transientFailureOf(error)?.code ?? error.name;
}

/** The typed error for a failed `DescribeAlarms` of `names`. */
function alarmsError(error: unknown, names: readonly string[]): PhoenixError {
  if (error instanceof PhoenixError) return error;
  const cause = error instanceof Error ? error : new Error(String(error));
  const code = errorCode(cause);
  const which = `${names.length} alarm${names.length === 1 ? '' : 's'} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`;
  const said = `${code}: ${cause.message.replace(/\s+/g, ' ').trim()}`;
  return isTransientAwsError(cause)
    ? new AlarmsUnavailableError(`could not read the states of ${which} now (${said}); try again`, {
        cause,
        code,
      })
    : new AlarmsUnreadableError(`CloudWatch refused to describe ${which} (${said})`, { cause, code });
}

function stateOf(value: string | undefined): AlarmState {
  // CloudWatch has only these three; anything else (a state added later) is not OK.
  return value === 'OK' || value === 'ALARM' ? value : 'INSUFFICIENT_DATA';
}

function statusOf(alarm: MetricAlarm | CompositeAlarm, kind: AlarmStatus['kind']): AlarmStatus | undefined {
  if (alarm.AlarmName === undefined) return undefined;
  const status: AlarmStatus = {
    name: alarm.AlarmName,
    kind,
    state: stateOf(alarm.StateValue),
    reason: alarm.StateReason ?? '',
  };
  const since = alarm.StateUpdatedTimestamp;
  if (since instanceof Date && !Number.isNaN(since.getTime())) status.since = since.toISOString();
  return status;
}

function checkedNames(names: readonly string[]): string[] {
  const unique: string[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (name === '' || name.length > MAX_ALARM_NAME_LENGTH) {
      throw new InvalidInputError(
        `an alarm name must be 1 to ${MAX_ALARM_NAME_LENGTH} characters, not ${JSON.stringify(name.slice(0, 60))}`,
      );
    }
    if (!seen.has(name)) {
      seen.add(name);
      unique.push(name);
    }
  }
  return unique;
}

/**
 * The states of the alarms `names` (this account and region): every declared name is either
 * in `alarms` or in `missing`. No names, no call. One `DescribeAlarms` per 100 names (and
 * per page). Throws {@link AlarmsUnavailableError} or {@link AlarmsUnreadableError} when
 * CloudWatch does not answer, {@link InvalidInputError} for a name CloudWatch cannot hold.
 */
export async function readAlarmStates(
  cloudwatch: Pick<CloudWatchClient, 'send'>,
  names: readonly string[],
): Promise<AlarmStates> {
  const declared = checkedNames(names);
  const byName = new Map<string, AlarmStatus>();
  for (let start = 0; start < declared.length; start += DESCRIBE_ALARMS_MAX_NAMES) {
    const batch = declared.slice(start, start + DESCRIBE_ALARMS_MAX_NAMES);
    let nextToken: string | undefined;
    do {
      let page: DescribeAlarmsCommandOutput;
      try {
        page = await cloudwatch.send(
          new DescribeAlarmsCommand({
            AlarmNames: batch,
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            MaxRecords: DESCRIBE_ALARMS_MAX_NAMES,
            NextToken: nextToken,
          }),
        );
      } catch (error) {
        throw alarmsError(error, batch);
      }
      const batchNames = new Set(batch);
      const found = [
        ...(page.MetricAlarms ?? []).map((a) => statusOf(a, 'metric')),
        ...(page.CompositeAlarms ?? []).map((a) => statusOf(a, 'composite')),
      ];
      for (const status of found) {
        // Only what was asked: an answer naming another alarm is not evidence about ours.
        if (status !== undefined && batchNames.has(status.name)) byName.set(status.name, status);
      }
      nextToken = page.NextToken === '' ? undefined : page.NextToken;
    } while (nextToken !== undefined);
  }
  const alarms: AlarmStatus[] = [];
  const missing: string[] = [];
  for (const name of declared) {
    const status = byName.get(name);
    if (status === undefined) missing.push(name);
    else alarms.push(status);
  }
  return { alarms, missing };
}

/** The readings the rollout's stages decide on: every declared alarm, a missing one as `MISSING`. */
export function alarmReadings(states: AlarmStates): AlarmReading[] {
  return [
    ...states.alarms.map((a): AlarmReading => ({ name: a.name, state: a.state })),
    ...states.missing.map((name): AlarmReading => ({ name, state: 'MISSING' })),
  ];
}
