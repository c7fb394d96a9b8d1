/**
 * The gate's rollout fact at detection: read lazily, once per fleet and invocation, only for
 * fleets with rollout stages or alarms; the stage the view decided written once, logged.
 */
import { describe, expect, it } from 'vitest';
import type { RolloutRecord } from '../../functions/aws/rollout-store';
import type { CompiledFleet, InstanceFacts, LaunchTemplateFacts } from '../../functions/domain/model';
import type { DetectionDeps } from '../../functions/evaluate-drift/deps';
import { rolloutFactOf } from '../../functions/evaluate-drift/rollout-facts';
import { compileYaml } from '../helpers/account';

const STATE = compileYaml(
  `
version: 1
fleets:
  web:
    match: { tags: { App: web } }
    launchTemplate: { name: web-lt }
    rollout: { canary: 1, bakeMinutes: 30, alarms: [web-5xx], approval: manual }
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt }
`,
  { commit: 'abc1234', sha256: 'd'.repeat(64) },
);
const NOW = new Date('2026-12-06T10:00:00.000Z');
const TEMPLATE: LaunchTemplateFacts = {
  id: 'lt-0aaaaaaaaaaaaaaa1',
  name: 'web-lt',
  version: 7,
  imageId: 'ami-new',
  securityGroupIds: [],
  instanceTags: {},
};

function fleet(name: string): CompiledFleet {
  const found = STATE.fleets.find((f) => f.name === name);
  if (found === undefined) throw new Error(name);
  return found;
}

function instance(onSource: boolean): InstanceFacts {
  return {
    instanceId: onSource ? 'i-0000000000000000a' : 'i-0000000000000000b',
    state: 'running',
    imageId: onSource ? 'ami-new' : 'ami-old',
    launchTemplate: { id: TEMPLATE.id, version: onSource ? '7' : '6' },
  } as InstanceFacts;
}

function world(record: RolloutRecord | undefined, alarm: 'OK' | 'ALARM') {
  const seen = { alarmCalls: 0, writes: [] as string[], logs: [] as unknown[] };
  let current = record;
  const deps = {
    ec2: { send: async () => ({ Reservations: [] }) },
    desiredState: STATE,
    clock: () => NOW,
    logger: { info: (_m: string, extra: unknown) => seen.logs.push(extra), warn: () => {} },
    notifier: { publish: async () => {} },
    rolloutReaders: {
      cloudwatch: {
        send: async () => {
          seen.alarmCalls += 1;
          return { MetricAlarms: [{ AlarmName: 'web-5xx', StateValue: alarm, StateReason: 't' }] };
        },
      },
      rollouts: {
        get: async () => current,
        list: async () => (current === undefined ? [] : [current]),
        recordStep: async (_read: RolloutRecord, step: { rollout: RolloutRecord }) => {
          seen.writes.push(step.rollout.stage);
          current = { ...step.rollout, stageChangedAt: NOW.toISOString() };
          return { written: true, rollout: current };
        },
      },
    },
  } as unknown as DetectionDeps;
  return { deps, seen };
}

const BAKED: RolloutRecord = {
  fleet: 'web',
  source: { templateId: TEMPLATE.id, version: 7, imageId: 'ami-new' },
  stage: 'baking',
  startedAt: '2026-12-06T08:00:00.000Z',
  stageChangedAt: '2026-12-06T08:10:00.000Z',
  members: 3,
  admitted: 1,
  replaced: 1,
  rolledBack: 0,
  ended: 0,
  canary: 1,
  bakeMinutes: 30,
  maxFailures: 0,
  bakeUntil: '2026-12-06T08:40:00.000Z',
};

describe('the rollout fact at detection', () => {
  it('costs a fleet without a rollout block nothing', async () => {
    const { deps, seen } = world(undefined, 'ALARM');
    expect(await rolloutFactOf({}, deps, fleet('api'), TEMPLATE, instance(false))).toBeUndefined();
    expect(seen.alarmCalls).toBe(0);
  });

  it('reads a fleet once per invocation, and gives every instance the alarms in ALARM', async () => {
    const { deps, seen } = world(undefined, 'ALARM');
    const scope = {};
    const a = await rolloutFactOf(scope, deps, fleet('web'), TEMPLATE, instance(true));
    const b = await rolloutFactOf(scope, deps, fleet('web'), TEMPLATE, instance(false));
    expect(a).toEqual({ fleet: 'web', firing: ['web-5xx'] });
    expect(b?.firing).toEqual(['web-5xx']);
    expect(seen.alarmCalls).toBe(1);
  });

  it('writes the stage a bake that ended decided (once), logs it, and holds members for the approval, not single drifts', async () => {
    const { deps, seen } = world(BAKED, 'OK');
    const scope = {};
    const member = await rolloutFactOf(scope, deps, fleet('web'), TEMPLATE, instance(false));
    const single = await rolloutFactOf(scope, deps, fleet('web'), TEMPLATE, instance(true));
    expect(seen.writes).toEqual(['awaiting-approval']);
    expect(seen.logs).toEqual([
      { event: 'rollout.stage', fleet: 'web', stage: 'awaiting-approval', source: `${TEMPLATE.id}#7` },
    ]);
    expect(member?.waiting).toEqual({
      stage: 'awaiting-approval',
      why: 'waiting for `phoenix rollout approve`',
    });
    expect(single?.waiting).toBeUndefined();
  });

  it('lets a member start while the canary bakes (it waits at the lease, for free)', async () => {
    const { deps } = world({ ...BAKED, bakeUntil: '2026-12-06T10:20:00.000Z' }, 'OK');
    const fact = await rolloutFactOf({}, deps, fleet('web'), TEMPLATE, instance(false));
    expect(fact).toEqual({ fleet: 'web', firing: [] });
  });
});
