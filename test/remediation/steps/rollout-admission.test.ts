/**
 * The rollout's admission at the lease step and the accounting at an end, over the steps'
 * fakes: a fake rollout store in memory and a fake CloudWatch answering DescribeAlarms.
 * The store's own conditions are proven against the emulator (test/aws/rollout-admission.int.test.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { LeaseDecision, LeaseRequest } from '../../../functions/aws/remediation-store';
import type { RolloutRecord } from '../../../functions/aws/rollout-store';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import type { PhoenixNotification } from '../../../functions/domain/notification';
import type { RolloutStep } from '../../../functions/domain/rollout/stage';
import { RolloutHeldError, RolloutWaitError } from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { takeLease as acquireLease, notify, type StepDeps } from '../../../functions/remediation/steps';
import { compileYaml } from '../../helpers/account';
import { awsError, CTX, EXECUTION, FakeAccount, fakeDeps, fakeStore, NOW } from './fakes';
import { asgPlan, input, OLD, seedWebGroup, WEB_LT } from './state';

const ROLLOUT_STATE: CompiledDesiredState = compileYaml(
  `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    team: web
    rollout: { canary: 1, bakeMinutes: 30, alarms: [web-5xx], maxFailures: 0 }
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt }
    team: api
`,
  { commit: 'abc1234', sha256: 'b'.repeat(64) },
);

const SOURCE = { templateId: WEB_LT, version: 2, imageId: 'ami-new' };

function rollout(over: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    fleet: 'web',
    source: SOURCE,
    stage: 'canary',
    startedAt: '2025-06-15T12:00:00.000Z',
    stageChangedAt: '2025-06-15T12:00:00.000Z',
    members: 3,
    admitted: 0,
    replaced: 0,
    rolledBack: 0,
    ended: 0,
    canary: 1,
    bakeMinutes: 30,
    maxFailures: 0,
    ...over,
  };
}

/** A member's state: proceeding, its drift including the source. */
function member(): MachineData {
  return {
    ...input(),
    plan: asgPlan('surge'),
    recheck: {
      decision: 'proceed',
      reason: 'drifted',
      detail: '',
      notify: false,
      timings: {
        healthCheckIntervalSeconds: 15,
        healthCheckMaxAttempts: 5,
        maxDrainSeconds: 300,
        leaseTtlSeconds: 3600,
      },
      checkedAt: NOW.toISOString(),
      snapshot: {
        instance: { launchedFromTemplate: true, autoScalingGroup: 'web-asg' },
        source: { member: true, imageId: 'ami-new' },
      },
    },
  };
}

interface World {
  deps: StepDeps;
  requests: LeaseRequest[];
  sent: PhoenixNotification[];
  steps: RolloutStep[];
  logs: Record<string, unknown>[];
  settled: string[];
  alarmCalls: number;
}

function world(record: RolloutRecord | undefined, alarm: 'OK' | 'ALARM', state = ROLLOUT_STATE): World {
  const account = new FakeAccount();
  seedWebGroup(account);
  const requests: LeaseRequest[] = [];
  const granted: LeaseDecision = {
    granted: true,
    lease: {
      fleet: 'web',
      holder: EXECUTION,
      instanceId: OLD,
      items: ['slot#0'],
      expiresAt: 1,
      groupLocked: true,
    },
  };
  const store = fakeStore({
    acquireLease: async (request) => {
      requests.push(request);
      return granted;
    },
  });
  const sent: PhoenixNotification[] = [];
  const w: World = {
    deps: fakeDeps(account, store, { state, sent }),
    requests,
    sent,
    steps: [],
    logs: [],
    settled: [],
    alarmCalls: 0,
  };
  let current = record;
  w.deps.cloudwatch = {
    send: (async () => {
      w.alarmCalls += 1;
      return { MetricAlarms: [{ AlarmName: 'web-5xx', StateValue: alarm, StateReason: 'test' }] };
    }) as never,
  };
  w.deps.rollouts = {
    get: async () => current,
    list: async () => (current === undefined ? [] : [current]),
    create: async () => {
      throw new Error('not in these specs');
    },
    count: async () => {
      throw new Error('not in these specs');
    },
    recordStep: async (_read, step) => {
      w.steps.push(step);
      current = { ...(current ?? rollout()), ...step.rollout };
      return { written: true, rollout: current };
    },
    settle: async (_fleet, _source, holder, end) => {
      w.settled.push(`${holder}:${end}`);
      if (current !== undefined) current = { ...current, [end]: current[end] + 1 };
      return { settled: true, rollout: current };
    },
  };
  w.deps.logger = { info: (_message, extra) => w.logs.push(extra) };
  return w;
}

describe('the rollout admission at the lease', () => {
  let w: World;
  beforeEach(() => {
    w = world(rollout(), 'OK');
  });

  it('admits a canary member with its lease: the admission read goes with the lease request', async () => {
    const result = await acquireLease(w.deps, member(), CTX);
    expect(w.requests[0]?.rollout).toEqual({
      fleet: 'web',
      source: { templateId: WEB_LT, version: 2 },
      stage: 'canary',
      admitted: 0,
      rolledBack: 0,
      ended: 0,
    });
    expect(result.rollout).toEqual(SOURCE);
  });

  it('makes a member wait (retried) while the canary is in flight, asking no lease', async () => {
    w = world(rollout({ admitted: 1 }), 'OK');
    await expect(acquireLease(w.deps, member(), CTX)).rejects.toBeInstanceOf(RolloutWaitError);
    expect(w.requests).toEqual([]);
  });

  it('makes a member wait (retried) while the canary bakes', async () => {
    w = world(
      rollout({ stage: 'baking', admitted: 1, replaced: 1, bakeUntil: '2025-06-15T12:30:00.000Z' }),
      'OK',
    );
    await expect(acquireLease(w.deps, member(), CTX)).rejects.toBeInstanceOf(RolloutWaitError);
  });

  it('holds a member (not retried) while the rollout awaits approval', async () => {
    w = world(rollout({ stage: 'awaiting-approval', admitted: 1, replaced: 1 }), 'OK');
    await expect(acquireLease(w.deps, member(), CTX)).rejects.toThrow(RolloutHeldError);
    await expect(acquireLease(w.deps, member(), CTX)).rejects.toThrow(/phoenix rollout approve/);
    expect(w.requests).toEqual([]);
  });

  it('halts a live rollout when an alarm fires: the stage written, rollout.halted sent to the team, the stage logged, the member held', async () => {
    w = world(
      rollout({ stage: 'baking', admitted: 1, replaced: 1, bakeUntil: '2025-06-15T12:30:00.000Z' }),
      'ALARM',
    );
    await expect(acquireLease(w.deps, member(), CTX)).rejects.toThrow(RolloutHeldError);
    expect(w.steps.map((s) => s.rollout.stage)).toEqual(['halted']);
    expect(w.sent.map((n) => [n.event, n.team, n.severity])).toEqual([['rollout.halted', 'web', 'critical']]);
    expect(w.sent[0]?.message).toMatch(/web-5xx/);
    expect(w.logs).toEqual([
      { event: 'rollout.stage', fleet: 'web', stage: 'halted', source: `${WEB_LT}#2` },
    ]);
    expect(w.requests).toEqual([]);
  });

  it('holds a single drift of the fleet while an alarm fires (alarms gate everything in the fleet)', async () => {
    const single = member();
    if (single.recheck?.snapshot !== undefined) single.recheck.snapshot.source = { member: false };
    w = world(undefined, 'ALARM');
    await expect(acquireLease(w.deps, single, CTX)).rejects.toThrow(/web-5xx .*in ALARM/);
    expect(w.requests).toEqual([]);
  });

  it('admits a single drift without counting it on any rollout when the alarms are OK', async () => {
    const single = member();
    if (single.recheck?.snapshot !== undefined) single.recheck.snapshot.source = { member: false };
    w = world(rollout({ stage: 'baking', admitted: 1, replaced: 1 }), 'OK');
    const result = await acquireLease(w.deps, single, CTX);
    expect(w.requests[0]?.rollout).toBeUndefined();
    expect(result.rollout).toBeUndefined();
  });

  it.each([
    ['throttled', 'ThrottlingException', 'server', 'AlarmsUnavailableError'],
    ['denied', 'AccessDenied', 'client', 'AlarmsUnreadableError'],
  ] as const)(
    'never proceeds without the alarms: CloudWatch %s is a typed error, no lease asked',
    async (_what, code, fault, name) => {
      w.deps.cloudwatch = {
        send: (async () => {
          throw awsError(code, code, fault);
        }) as never,
      };
      await expect(acquireLease(w.deps, member(), CTX)).rejects.toMatchObject({ name });
      expect(w.requests).toEqual([]);
    },
  );

  it('costs a fleet without a rollout block no CloudWatch call', async () => {
    const plain = compileYaml(
      `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    team: web
`,
      { commit: 'abc1234', sha256: 'c'.repeat(64) },
    );
    w = world(undefined, 'ALARM', plain);
    await acquireLease(w.deps, member(), CTX);
    expect(w.alarmCalls).toBe(0);
    expect(w.requests[0]?.rollout).toBeUndefined();
  });
});

describe('a member end', () => {
  it('is counted on its rollout and tells no per-instance success (one conversation per rollout)', async () => {
    const w = world(rollout({ admitted: 1 }), 'OK');
    const data: MachineData = {
      ...member(),
      lease: { holder: EXECUTION, items: ['slot#0'], expiresAt: 1, rollout: SOURCE },
      health: { healthy: true, replacementId: 'i-0000000000000009', checks: 1 } as never,
      replacement: { instanceId: 'i-0000000000000009' },
    };
    const result = await notify(w.deps, data, CTX, 'remediation.succeeded');
    expect(result.outcome).toBe('succeeded');
    expect(w.settled).toEqual([`${EXECUTION}:replaced`]);
    expect(w.sent.filter((n) => n.event === 'remediation.succeeded')).toEqual([]);
    // The canary replaced: the rollout moved on to its bake, logged.
    expect(w.steps.map((s) => s.rollout.stage)).toEqual(['baking']);
    expect(w.logs).toEqual([
      { event: 'rollout.stage', fleet: 'web', stage: 'baking', source: `${WEB_LT}#2` },
    ]);
  });

  it('halts the rollout on a rollback over maxFailures and still tells the rollback', async () => {
    const w = world(rollout({ admitted: 1 }), 'OK');
    const data: MachineData = {
      ...member(),
      lease: { holder: EXECUTION, items: ['slot#0'], expiresAt: 1, rollout: SOURCE },
      rollback: { error: 'ReplacementUnhealthyError', cause: 'never healthy' } as never,
    };
    await notify(w.deps, data, CTX, 'remediation.rolled-back');
    expect(w.settled).toEqual([`${EXECUTION}:rolledBack`]);
    expect(w.steps.map((s) => s.rollout.stage)).toEqual(['halted']);
    expect(w.sent.map((n) => n.event).sort()).toEqual(['remediation.rolled-back', 'rollout.halted']);
  });
});
