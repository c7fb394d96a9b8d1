import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RolloutPolicy } from '../../../functions/domain/model';
import {
  type AlarmReading,
  admits,
  admitsNow,
  advance,
  approve,
  canarySize,
  firstStage,
  haltByOperator,
  ROLLOUT_STAGES,
  type Rollout,
  type RolloutStage,
  recordedWait,
  resume,
} from '../../../functions/domain/rollout/stage';

const NOW = new Date('2026-12-05T10:00:00.000Z');
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

const POLICY: RolloutPolicy = {
  canary: { count: 1 },
  bakeMinutes: 30,
  alarms: ['web-5xx', 'web-p99'],
  maxFailures: 1,
  approval: 'automatic',
};

const OK: AlarmReading[] = [
  { name: 'web-5xx', state: 'OK' },
  { name: 'web-p99', state: 'OK' },
];
const FIRING: AlarmReading[] = [
  { name: 'web-5xx', state: 'ALARM' },
  { name: 'web-p99', state: 'OK' },
];

function rollout(overrides: Partial<Rollout> = {}): Rollout {
  return {
    fleet: 'web',
    source: { templateId: 'lt-0abc', version: 7, imageId: 'ami-0new' },
    stage: 'canary',
    startedAt: NOW.toISOString(),
    members: 10,
    admitted: 0,
    replaced: 0,
    rolledBack: 0,
    ended: 0,
    canary: 1,
    ...overrides,
  };
}

describe('firstStage and canarySize', () => {
  it.each([
    ['a canary', POLICY, undefined, 'canary'],
    ['no canary', { ...POLICY, canary: undefined }, undefined, 'rolling'],
    [
      'a promotion not ready',
      { ...POLICY, after: 'staging' },
      { ready: false, why: 'staging runs ami-0old' },
      'waiting',
    ],
    ['a promotion ready', { ...POLICY, after: 'staging' }, { ready: true }, 'canary'],
    ['a promotion not yet judged', { ...POLICY, after: 'staging' }, undefined, 'waiting'],
  ] as const)('begins with %s in %s', (_what, policy, promotion, stage) => {
    expect(firstStage(policy as RolloutPolicy, promotion)).toBe(stage);
  });

  it.each([
    [{ count: 1 }, 100, 40, 1],
    [{ count: 5 }, 100, 3, 3],
    [{ percent: 10 }, 100, 100, 10],
    [{ percent: 10 }, 5, 5, 1],
  ] as const)('a canary of %j in a fleet of %i with %i members is %i', (canary, size, members, expected) => {
    expect(canarySize({ ...POLICY, canary }, size, members)).toBe(expected);
  });
});

describe('advance', () => {
  interface Case {
    name: string;
    rollout: Partial<Rollout>;
    facts?: {
      now?: Date;
      alarms?: AlarmReading[];
      policy?: Partial<RolloutPolicy>;
      approved?: { by: string };
      promotion?: { ready: true } | { ready: false; why: string };
    };
    stage: RolloutStage;
    halted?: string;
    completed?: boolean;
    waitsFor?: RegExp;
  }
  const cases: Case[] = [
    { name: 'a canary in flight stays a canary', rollout: { admitted: 1 }, stage: 'canary' },
    {
      name: 'a replaced canary starts baking for bakeMinutes',
      rollout: { admitted: 1, replaced: 1 },
      stage: 'baking',
      waitsFor: /baking the canary until 2026-12-05T10:30:00.000Z/,
    },
    {
      name: 'a replaced canary with no bake and automatic approval rolls at once',
      rollout: { admitted: 1, replaced: 1 },
      facts: { policy: { bakeMinutes: 0 } },
      stage: 'rolling',
    },
    {
      name: 'a replaced canary with no bake and manual approval waits for it',
      rollout: { admitted: 1, replaced: 1 },
      facts: { policy: { bakeMinutes: 0, approval: 'manual' } },
      stage: 'awaiting-approval',
      waitsFor: /phoenix rollout approve/,
    },
    {
      name: 'a bake not over yet holds',
      rollout: { stage: 'baking', admitted: 1, replaced: 1, bakeUntil: minutes(30).toISOString() },
      facts: { now: minutes(29) },
      stage: 'baking',
    },
    {
      name: 'a bake over with every alarm OK rolls',
      rollout: { stage: 'baking', admitted: 1, replaced: 1, bakeUntil: minutes(30).toISOString() },
      facts: { now: minutes(30) },
      stage: 'rolling',
    },
    {
      name: 'an alarm firing during the bake halts it, naming the alarm',
      rollout: { stage: 'baking', admitted: 1, replaced: 1, bakeUntil: minutes(30).toISOString() },
      facts: { now: minutes(10), alarms: FIRING },
      stage: 'halted',
      halted: 'alarm',
      waitsFor: /alarm web-5xx in ALARM/,
    },
    {
      name: 'an alarm firing during the canary halts it',
      rollout: { admitted: 1 },
      facts: { alarms: FIRING },
      stage: 'halted',
      halted: 'alarm',
    },
    {
      name: 'an alarm firing while rolling halts it',
      rollout: { stage: 'rolling', admitted: 5, replaced: 3 },
      facts: { alarms: FIRING },
      stage: 'halted',
      halted: 'alarm',
    },
    {
      name: 'an alarm in ALARM before the rollout began holds it without halting',
      rollout: { stage: 'waiting' },
      facts: { alarms: FIRING },
      stage: 'waiting',
      waitsFor: /web-5xx in ALARM: the rollout has not begun/,
    },
    {
      name: 'INSUFFICIENT_DATA and a missing alarm do not halt',
      rollout: { stage: 'rolling', admitted: 2 },
      facts: {
        alarms: [
          { name: 'web-5xx', state: 'INSUFFICIENT_DATA' },
          { name: 'web-p99', state: 'MISSING' },
        ],
      },
      stage: 'rolling',
    },
    {
      name: 'rollbacks up to maxFailures are tolerated',
      rollout: { stage: 'rolling', admitted: 5, replaced: 3, rolledBack: 1 },
      stage: 'rolling',
    },
    {
      name: 'one rollback more than maxFailures halts it',
      rollout: { stage: 'rolling', admitted: 5, replaced: 2, rolledBack: 2 },
      stage: 'halted',
      halted: 'failures',
      waitsFor: /2 rollbacks, more than maxFailures 1/,
    },
    {
      name: 'a failed canary within the failure budget stays a canary (another member is tried)',
      rollout: { admitted: 1, rolledBack: 1 },
      stage: 'canary',
    },
    {
      name: 'waiting for promotion says why',
      rollout: { stage: 'waiting' },
      facts: {
        policy: { after: 'staging' },
        promotion: { ready: false, why: 'fleet staging runs ami-0old on 2 of 3 instances' },
      },
      stage: 'waiting',
      waitsFor: /fleet staging runs ami-0old/,
    },
    {
      name: 'a ready promotion begins the canary',
      rollout: { stage: 'waiting' },
      facts: { policy: { after: 'staging' }, promotion: { ready: true } },
      stage: 'canary',
    },
    {
      name: 'approval on record rolls',
      rollout: { stage: 'awaiting-approval', admitted: 1, replaced: 1 },
      facts: { policy: { approval: 'manual' }, approved: { by: 'alice' } },
      stage: 'rolling',
    },
    {
      name: 'every member settled completes it',
      rollout: { stage: 'rolling', members: 4, admitted: 4, replaced: 3, rolledBack: 1 },
      stage: 'completed',
      completed: true,
    },
    {
      name: 'members still waiting keep it rolling',
      rollout: { stage: 'rolling', members: 4, admitted: 3, replaced: 3 },
      stage: 'rolling',
    },
    {
      name: 'a canary whose only members ended without a replacement moves on and completes',
      rollout: { members: 1, admitted: 1, ended: 1 },
      stage: 'completed',
      completed: true,
    },
  ];

  it.each(cases)('$name', (c) => {
    const step = advance(rollout(c.rollout), {
      now: c.facts?.now ?? NOW,
      policy: { ...POLICY, ...c.facts?.policy },
      alarms: c.facts?.alarms ?? OK,
      ...(c.facts?.promotion === undefined ? {} : { promotion: c.facts.promotion }),
      ...(c.facts?.approved === undefined ? {} : { approved: c.facts.approved }),
    });
    expect(step.rollout.stage).toBe(c.stage);
    expect(step.halted?.kind).toBe(c.halted);
    expect(step.completed).toBe(c.completed);
    if (c.waitsFor !== undefined) expect(step.waitsFor).toMatch(c.waitsFor);
    expect(step.changed).toBe(step.rollout.stage !== (c.rollout.stage ?? 'canary'));
  });

  it('remembers the stage it halted in, and resume goes back there with the failure budget given back', () => {
    const halted = advance(rollout({ stage: 'rolling', admitted: 5, replaced: 2, rolledBack: 2 }), {
      now: NOW,
      policy: POLICY,
      alarms: OK,
    }).rollout;
    expect(halted.halt).toMatchObject({ from: 'rolling', cause: { kind: 'failures', failures: 2 } });

    const resumed = resume(halted, minutes(60), POLICY).rollout;

    expect(resumed).toMatchObject({ stage: 'rolling', rolledBackBeforeResume: 2 });
    expect(resumed.halt).toBeUndefined();
    expect(advance(resumed, { now: minutes(61), policy: POLICY, alarms: OK }).rollout.stage).toBe('rolling');
  });

  it('resuming a halted bake bakes again from now', () => {
    const halted = advance(
      rollout({ stage: 'baking', admitted: 1, replaced: 1, bakeUntil: minutes(30).toISOString() }),
      {
        now: minutes(5),
        policy: POLICY,
        alarms: FIRING,
      },
    ).rollout;

    const resumed = resume(halted, minutes(50), POLICY).rollout;

    expect(resumed).toMatchObject({ stage: 'baking', bakeUntil: minutes(80).toISOString() });
  });

  it('an operator halts any stage but completed, saying who and why', () => {
    const step = haltByOperator(rollout({ stage: 'rolling' }), 'bob', 'customer incident', NOW);
    expect(step).toMatchObject({
      changed: true,
      halted: { kind: 'operator', by: 'bob', reason: 'customer incident' },
    });
    expect(step.waitsFor).toBe('halted by bob: customer incident');
    expect(haltByOperator(rollout({ stage: 'completed' }), 'bob', undefined, NOW).changed).toBe(false);
  });
});

describe('admits', () => {
  it.each([
    ['canary, none admitted', { stage: 'canary', canary: 2 }, 2],
    ['canary, one in flight', { stage: 'canary', canary: 2, admitted: 1 }, 1],
    ['canary, one rolled back, one in flight', { stage: 'canary', canary: 2, admitted: 2, rolledBack: 1 }, 1],
    ['canary, replaced', { stage: 'canary', canary: 1, admitted: 1, replaced: 1 }, 0],
    ['baking', { stage: 'baking', admitted: 1, replaced: 1 }, 0],
    ['awaiting approval', { stage: 'awaiting-approval', admitted: 1, replaced: 1 }, 0],
    ['waiting', { stage: 'waiting' }, 0],
    ['halted', { stage: 'halted', admitted: 3 }, 0],
    ['rolling', { stage: 'rolling', members: 10, admitted: 4 }, 6],
    ['completed', { stage: 'completed', members: 10, admitted: 10 }, 0],
  ] as const)('%s: %i more', (_what, overrides, expected) => {
    expect(admits(rollout(overrides as Partial<Rollout>))).toBe(expected);
  });

  it('never admits a member twice nor more than the canary before the bake, whatever happens', () => {
    // Random sequences of admit / replace / roll back / end / alarm / time, the rollout moved
    // on after each as the admission would: the canary is never exceeded before the bake, and
    // nothing is admitted while waiting, baking, awaiting approval or halted.
    const op = fc.oneof(
      fc.constant('admit' as const),
      fc.constant('replace' as const),
      fc.constant('rollBack' as const),
      fc.constant('end' as const),
      fc.constant('alarm' as const),
      fc.constant('tick' as const),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(op, { maxLength: 60 }),
        (members, canary, ops) => {
          let r = rollout({ members, canary: Math.min(canary, members) });
          let now = NOW;
          let alarms = OK;
          for (const o of ops) {
            const inFlight = r.admitted - r.replaced - r.rolledBack - r.ended;
            if (o === 'admit') {
              const allowed = admits(r);
              if (allowed > 0 && r.admitted < r.members) {
                if (r.stage === 'canary') expect(r.replaced + inFlight + 1).toBeLessThanOrEqual(r.canary);
                expect(['canary', 'rolling']).toContain(r.stage);
                r = { ...r, admitted: r.admitted + 1 };
              }
            } else if (o === 'replace' && inFlight > 0) r = { ...r, replaced: r.replaced + 1 };
            else if (o === 'rollBack' && inFlight > 0) r = { ...r, rolledBack: r.rolledBack + 1 };
            else if (o === 'end' && inFlight > 0) r = { ...r, ended: r.ended + 1 };
            else if (o === 'alarm') alarms = alarms === OK ? FIRING : OK;
            else if (o === 'tick') now = new Date(now.getTime() + 20 * 60_000);
            r = advance(r, { now, policy: POLICY, alarms }).rollout;
            expect(ROLLOUT_STAGES).toContain(r.stage);
            expect(r.admitted).toBeLessThanOrEqual(r.members);
            if (r.stage === 'halted') expect(admits(r)).toBe(0);
          }
        },
      ),
    );
  });
});

describe('a declared alarm that does not exist', () => {
  const MISSING: AlarmReading[] = [
    { name: 'web-5xx', state: 'OK' },
    { name: 'web-p99', state: 'MISSING' },
  ];

  it.each([
    { stage: 'waiting', extra: {}, promotion: { ready: true } as const },
    { stage: 'canary', extra: {} },
    { stage: 'baking', extra: { admitted: 1, replaced: 1, bakeUntil: minutes(-5).toISOString() } },
    { stage: 'awaiting-approval', extra: { admitted: 1, replaced: 1 } },
    { stage: 'rolling', extra: { admitted: 2, replaced: 2 } },
  ] as const)('holds a rollout in $stage where it is, admitting nothing and halting nothing', (c) => {
    const before = rollout({ stage: c.stage, ...c.extra });
    const step = advance(before, {
      now: NOW,
      policy: { ...POLICY, after: 'promotion' in c ? 'staging' : undefined },
      alarms: MISSING,
      ...('promotion' in c ? { promotion: c.promotion } : {}),
      approved: { by: 'alice' },
    });
    expect(step.rollout.stage).toBe(c.stage);
    expect(step.changed).toBe(false);
    expect(step.halted).toBeUndefined();
    expect(step.holds).toBe(true);
    expect(admitsNow(step)).toBe(0);
    expect(step.waitsFor).toBe(
      'alarm web-p99 does not exist in this account and region: held until it exists or the desired state stops naming it',
    );
  });

  it('does not stop an alarm in ALARM from halting the rollout', () => {
    const step = advance(rollout({ stage: 'rolling' }), {
      now: NOW,
      policy: POLICY,
      alarms: [
        { name: 'web-5xx', state: 'ALARM' },
        { name: 'web-p99', state: 'MISSING' },
      ],
    });
    expect(step.rollout.stage).toBe('halted');
    expect(step.halted).toEqual({ kind: 'alarm', alarms: ['web-5xx'] });
  });

  it('lets the rollout go on once the alarm exists', () => {
    const step = advance(rollout({ stage: 'rolling', admitted: 2, replaced: 2 }), {
      now: NOW,
      policy: POLICY,
      alarms: OK,
    });
    expect(step.holds).toBeUndefined();
    expect(admitsNow(step)).toBe(8);
  });
});

describe('approve', () => {
  it('moves awaiting-approval to rolling, recording who approved', () => {
    const step = approve(rollout({ stage: 'awaiting-approval', admitted: 1, replaced: 1 }), 'alice');
    expect(step.changed).toBe(true);
    expect(step.rollout).toMatchObject({ stage: 'rolling', approvedBy: 'alice' });
  });

  it.each(ROLLOUT_STAGES.filter((s) => s !== 'awaiting-approval'))(
    'leaves a rollout in %s as it is (no approval in advance)',
    (stage) => {
      const before = rollout({ stage });
      expect(approve(before, 'alice')).toEqual({ rollout: before, changed: false });
    },
  );
});

describe('recordedWait', () => {
  it.each([
    [
      {
        stage: 'halted',
        halt: { cause: { kind: 'operator', by: 'carol', reason: 'p99' }, at: '', from: 'rolling' },
      },
      'halted by carol: p99',
    ],
    [{ stage: 'awaiting-approval' }, 'waiting for `phoenix rollout approve`'],
    [
      { stage: 'baking', bakeUntil: minutes(30).toISOString() },
      'baking the canary until 2026-12-05T10:30:00.000Z',
    ],
    [
      { stage: 'baking', bakeUntil: minutes(-1).toISOString() },
      'the bake has ended: the rollout moves on at its next admission',
    ],
    [{ stage: 'waiting' }, /^waiting for its promotion/],
    [
      { stage: 'canary', canary: 2, replaced: 1 },
      'the canary first: 1 of 2 replaced, nothing else starts until it has baked',
    ],
    [{ stage: 'rolling' }, undefined],
    [{ stage: 'completed' }, undefined],
  ] as const)('says why %o waits from its record alone', (overrides, expected) => {
    const said = recordedWait(rollout(overrides as Partial<Rollout>), NOW);
    if (expected instanceof RegExp) expect(said).toMatch(expected);
    else expect(said).toBe(expected);
  });
});
