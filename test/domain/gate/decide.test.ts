import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { InstanceClaim } from '../../../functions/aws/remediation-store';
import type { DriftAttempt, PauseState, Quarantine } from '../../../functions/aws/state-store';
import { decide, decideLazily, type FactReaders } from '../../../functions/domain/gate/decide';
import type {
  AttemptHoldFact,
  ClaimFact,
  GateFacts,
  GateMoment,
  LazyFactName,
  PauseFact,
  QuarantineFact,
} from '../../../functions/domain/gate/facts';
import { GATE_RULES, ruleOf } from '../../../functions/domain/gate/rules';
import { ASG_NAME, INSTANCE_ID } from '../../helpers/builders';
import { compatible, SELF, SWITCHES, type Switch, scenario } from './scenario';

/** The moments a rule applies at: two rules do not ask at every moment. */
function momentsOf(code: Switch): GateMoment[] {
  if (code === 'not-running') return ['detection', 'plan'];
  if (code === 'window-closed') return ['recheck', 'plan'];
  return ['detection', 'recheck', 'plan'];
}

describe('the gate', () => {
  it('replaces a drifted running member when nothing stops it, at every moment', () => {
    for (const moment of ['detection', 'recheck', 'plan'] as const) {
      expect(decide(scenario([], moment))).toEqual({
        verdict: 'replace',
        blockers: [],
        why: 'nothing stops a replacement now',
        retryable: true,
        notify: false,
      });
    }
  });

  it('holds one rule per blocker code, in the documented precedence', () => {
    // The precedence, first wins. Changing it changes what every caller reports: do it here
    // and in docs/adr/0027-one-gate-for-every-replacement.md together.
    expect(GATE_RULES.map((r) => r.code)).toEqual([...SWITCHES]);
  });

  // One row per rule: what it decides, whether the drift may be replaced later, whether the
  // refusal is told as such at detection and at the recheck, and where its cause lies.
  it.each([
    ['instance-gone', 'skip', false, [false, false], 'instance'],
    ['outside', 'skip', true, [false, true], 'instance'],
    ['excluded', 'skip', true, [false, true], 'instance'],
    ['moved-fleet', 'skip', true, [false, true], 'instance'],
    ['mode-observe', 'skip', true, [false, true], 'fleet'],
    ['not-running', 'skip', true, [false, false], 'instance'],
    ['mode-notify', 'skip', true, [false, true], 'fleet'],
    ['template-changed', 'skip', true, [false, false], 'fleet'],
    ['template-unresolved', 'hold', true, [true, true], 'fleet'],
    ['in-sync', 'skip', true, [false, false], 'instance'],
    ['not-applicable', 'skip', true, [true, true], 'instance'],
    ['drift-changed', 'skip', true, [false, false], 'instance'],
    ['already-replaced', 'skip', false, [false, false], 'instance'],
    ['in-flight-elsewhere', 'skip', true, [false, false], 'instance'],
    ['launch-configuration', 'hold', true, [true, true], 'fleet'],
    ['source-unchecked', 'hold', true, [true, true], 'fleet'],
    ['source-drift', 'hold', true, [true, true], 'fleet'],
    ['quarantined', 'hold', true, [true, true], 'fleet'],
    ['paused', 'hold', true, [false, true], 'fleet'],
    ['manual-hold', 'hold', true, [false, false], 'instance'],
    ['alarm-firing', 'hold', true, [false, false], 'fleet'],
    ['rollout-waiting', 'hold', true, [false, false], 'fleet'],
    ['not-in-service', 'hold', true, [true, true], 'instance'],
    ['no-subnet', 'hold', true, [true, true], 'instance'],
    ['no-launch-template', 'hold', true, [true, true], 'instance'],
    ['pinned', 'hold', true, [true, true], 'group'],
    ['no-headroom', 'hold', true, [true, true], 'group'],
    ['window-closed', 'wait', true, [false, false], 'fleet'],
  ] as const)(
    '%s: %s, retryable %s, notified at detection/recheck %j, scope %s',
    (code, verdict, retryable, [atDetection, atRecheck], scope) => {
      for (const moment of momentsOf(code)) {
        const decision = decide(scenario([code], moment));
        const notify = moment === 'detection' ? atDetection : moment === 'recheck' ? atRecheck : false;
        expect(decision).toMatchObject({ verdict, retryable, notify, scope, blocker: { code } });
        // Only this rule applies: the scenario's switch is a precise one.
        if (decision.verdict === 'replace') throw new Error('unreachable');
        expect(decision.blockers.map((b) => b.code)).toEqual([code]);
      }
    },
  );

  it('does not ask detection to wait for the window: the execution waits in the state machine, for free', () => {
    expect(decide(scenario(['window-closed'], 'detection')).verdict).toBe('replace');
    const waiting = decide(scenario(['window-closed'], 'recheck'));
    expect(waiting).toMatchObject({ verdict: 'wait', until: '2025-06-16T07:00:00.000Z' });
  });

  it('does not ask an execution already started whether its instance runs (it replaces what it was started for)', () => {
    expect(decide(scenario(['not-running'], 'recheck')).verdict).toBe('replace');
  });

  it('never notifies from phoenix plan, which acts on nothing', () => {
    for (const code of SWITCHES) expect(decide(scenario([code], 'plan')).notify).toBe(false);
  });

  it('a claim held by the execution asking is its own, not another execution’s', () => {
    const facts = scenario(['in-flight-elsewhere']);
    if (facts.claim !== undefined) facts.claim.holder = SELF;
    expect(decide(facts).verdict).toBe('replace');
    // Detection asks as nobody: any claim is another execution's.
    const { execution: _execution, ...asDetection } = scenario(['in-flight-elsewhere'], 'detection');
    expect(decide(asDetection)).toMatchObject({ blocker: { code: 'in-flight-elsewhere' } });
  });

  it('no headroom at MaxSize is not a refusal while another execution is in flight: its end gives the room back', () => {
    const facts = scenario(['no-headroom']);
    if (facts.group !== undefined) facts.group.othersInFlight = true;
    expect(decide(facts).verdict).toBe('replace');
    // A pinned group has no room whatever runs: nothing gives it back.
    const pinned = scenario(['pinned']);
    if (pinned.group !== undefined) pinned.group.othersInFlight = true;
    expect(decide(pinned)).toMatchObject({ verdict: 'hold', blocker: { code: 'pinned' } });
  });

  it('a member no longer in its group is not in service either', () => {
    const facts = scenario([]);
    if (facts.group !== undefined) facts.group.members = [];
    expect(decide(facts)).toMatchObject({
      blocker: { code: 'not-in-service', instanceId: INSTANCE_ID, group: ASG_NAME },
    });
    expect(decide(facts).blockers[0]).not.toHaveProperty('lifecycle');
  });

  it('an instance whose state is unknown (no longer described) is gone', () => {
    const facts = scenario([]);
    if (facts.instance !== undefined) delete facts.instance.state;
    expect(decide(facts)).toMatchObject({
      verdict: 'skip',
      retryable: false,
      blocker: { code: 'instance-gone' },
    });
  });

  it('asks nothing of facts it was not given: a fleet-only question (phoenix plan) meets the fleet rules only', () => {
    const {
      instance: _i,
      execution: _e,
      group: _g,
      ...fleetOnly
    } = scenario(['paused', 'source-drift'], 'plan');
    expect(decide(fleetOnly).blockers.map((b) => b.code)).toEqual(['source-drift', 'paused']);
    const { instance: _i2, execution: _e2, group: _g2, ...clean } = scenario([], 'plan');
    expect(decide(clean).verdict).toBe('replace');
  });
});

describe('precedence: which blocker wins when several apply', () => {
  // The choices worth stating one by one (the property below covers every pair).
  it.each([
    [
      ['source-drift', 'quarantined', 'paused'],
      'source-drift',
      'a broken source is what would still stand after a resume and a lift',
    ],
    [['quarantined', 'paused'], 'quarantined', 'a resume alone would not let the version replace'],
    [['paused', 'manual-hold'], 'paused', 'the operator’s switch is read before the drift’s attempt'],
    [
      ['in-flight-elsewhere', 'paused'],
      'in-flight-elsewhere',
      'another execution has it: this one has nothing to report',
    ],
    [['in-flight-elsewhere', 'launch-configuration'], 'in-flight-elsewhere', 'someone else’s instance first'],
    [['template-unresolved', 'source-unchecked'], 'template-unresolved', 'no template, no source to check'],
    [['mode-notify', 'paused'], 'mode-notify', 'a fleet that never replaces is not held by a pause'],
    [['excluded', 'mode-observe'], 'excluded', 'what the instance is before what its fleet does'],
    [
      ['no-headroom', 'window-closed'],
      'no-headroom',
      'a closed window passes by itself; a full group does not',
    ],
    [
      ['quarantined', 'not-in-service'],
      'quarantined',
      'the fleet’s blockers before the instance’s placement',
    ],
  ] as const)('%j → %s: %s', (on, winner, _why) => {
    const decision = decide(scenario(on, 'recheck'));
    expect(decision).toMatchObject({ blocker: { code: winner } });
  });

  it('detection: observe mode wins over a stopped instance, a stopped instance over notify mode', () => {
    expect(decide(scenario(['mode-observe', 'not-running'], 'detection'))).toMatchObject({
      blocker: { code: 'mode-observe' },
    });
    expect(decide(scenario(['mode-notify', 'not-running'], 'detection'))).toMatchObject({
      blocker: { code: 'not-running' },
    });
  });

  const switchSets = fc
    .uniqueArray(fc.constantFrom(...SWITCHES), { minLength: 1, maxLength: 6 })
    .filter((on) => compatible(new Set(on)));
  const moments = fc.constantFrom<GateMoment>('detection', 'recheck', 'plan');

  it('the deciding blocker is the first applicable rule, and every blocker is listed once, in rule order', () => {
    fc.assert(
      fc.property(switchSets, moments, (on, moment) => {
        const decision = decide(scenario(on, moment));
        const order = GATE_RULES.map((r) => r.code);
        const applies = on.filter((code) => momentsOf(code).includes(moment));
        const listed = decision.blockers.map((b) => b.code);
        // Each switch on makes its own rule apply (and the scenario makes no other apply).
        expect([...listed].sort()).toEqual([...applies].sort());
        expect(listed).toEqual([...listed].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
        if (decision.verdict === 'replace') expect(applies).toEqual([]);
        else {
          expect(decision.blocker).toEqual(decision.blockers[0]);
          expect(decision).toMatchObject({
            verdict: ruleOf(decision.blocker.code).verdict,
            retryable: ruleOf(decision.blocker.code).retryable,
          });
        }
      }),
    );
  });

  it('every compatible pair of blockers, at every moment: both listed, the earlier rule decides', () => {
    // Exhaustive where the property above samples: a rule that silently needs another
    // rule's fact (and so vanishes beside it) shows up here.
    const order = GATE_RULES.map((r) => r.code);
    for (const [i, first] of SWITCHES.entries()) {
      for (const second of SWITCHES.slice(i + 1)) {
        if (!compatible(new Set([first, second]))) continue;
        for (const moment of ['detection', 'recheck', 'plan'] as const) {
          const applies = [first, second].filter((code) => momentsOf(code).includes(moment));
          const listed = decide(scenario([first, second], moment)).blockers.map((b) => b.code);
          expect(listed, `${first} + ${second} at ${moment}`).toEqual(
            applies.sort((a, b) => order.indexOf(a) - order.indexOf(b)),
          );
        }
      }
    }
  });

  it('a replacement is allowed exactly when no rule applies, and only then', () => {
    fc.assert(
      fc.property(switchSets, moments, (on, moment) => {
        const replace = decide(scenario(on, moment)).verdict === 'replace';
        expect(replace).toBe(on.every((code) => !momentsOf(code).includes(moment)));
      }),
    );
  });
});

describe('deciding lazily', () => {
  const LAZY: readonly LazyFactName[] = ['source', 'claim', 'quarantine', 'pause', 'attemptHold', 'group'];

  /** The facts without their lazy ones, readers for those, and which readers were called. */
  function split(facts: GateFacts) {
    const eager: GateFacts = { ...facts };
    const readers: FactReaders = {};
    const called: LazyFactName[] = [];
    for (const name of LAZY) {
      const value = facts[name];
      delete eager[name];
      const reader = async () => {
        called.push(name);
        return value;
      };
      Object.assign(readers, { [name]: reader });
    }
    return { eager, readers, called };
  }

  it('decides what decide decides from all the facts, reading a fact only when a rule needs it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .uniqueArray(fc.constantFrom(...SWITCHES), { maxLength: 6 })
          .filter((on) => compatible(new Set(on))),
        fc.constantFrom<GateMoment>('detection', 'recheck', 'plan'),
        async (on, moment) => {
          const facts = scenario(on, moment);
          const eager = decide(facts);
          const { eager: without, readers, called } = split(facts);
          const lazy = await decideLazily(without, readers);
          expect(lazy.verdict).toBe(eager.verdict);
          if (eager.verdict !== 'replace' && lazy.verdict !== 'replace') {
            expect(lazy.blocker).toEqual(eager.blocker);
            expect(lazy.why).toBe(eager.why);
            // Nothing a later rule alone needs was read once the decision was made.
            const deciding = GATE_RULES.findIndex((r) => r.code === eager.blocker.code);
            const needed = new Set(GATE_RULES.slice(0, deciding + 1).flatMap((r) => r.reads));
            expect(called.filter((name) => !needed.has(name))).toEqual([]);
          }
          // Each fact is read at most once.
          expect(new Set(called).size).toBe(called.length);
        },
      ),
    );
  });

  it('reads the source before the quarantine before the pause before the drift’s attempt, and stops at the first blocker', async () => {
    const { eager, readers, called } = split(scenario(['quarantined', 'manual-hold'], 'detection'));
    const decision = await decideLazily(eager, readers);
    expect(decision).toMatchObject({ verdict: 'hold', blocker: { code: 'quarantined' } });
    expect(called).toEqual(['claim', 'source', 'quarantine']);
  });

  it('keeps a fact it was given instead of reading it', async () => {
    const facts = scenario(['paused'], 'detection');
    let read = 0;
    const decision = await decideLazily(facts, {
      pause: async () => {
        read += 1;
        return { paused: false };
      },
    });
    expect(read).toBe(0);
    expect(decision).toMatchObject({ blocker: { code: 'paused' } });
  });

  it('a fact whose reader says "none" is read once, however many rules need it', async () => {
    let reads = 0;
    const facts = scenario([], 'detection');
    delete facts.source;
    await decideLazily(facts, {
      source: async () => {
        reads += 1;
        return undefined;
      },
    });
    expect(reads).toBe(1);
  });
});

describe('the facts the state table records fit the gate as they are', () => {
  it('a claim, a quarantine, the pause switch and a drift’s hold, as the store returns them', () => {
    expectTypeOf<InstanceClaim>().toExtend<ClaimFact>();
    expectTypeOf<Quarantine>().toExtend<QuarantineFact>();
    expectTypeOf<PauseState>().toExtend<PauseFact>();
    expectTypeOf<NonNullable<DriftAttempt['held']>>().toExtend<AttemptHoldFact>();
  });
});
