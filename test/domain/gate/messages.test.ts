import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decide } from '../../../functions/domain/gate/decide';
import {
  heldMessage,
  notReplacedSentence,
  PLAN_BLOCKER_LABELS,
  whyOf,
} from '../../../functions/domain/gate/messages';
import { headroomOf } from '../../../functions/domain/headroom';
import { ASG_NAME, INSTANCE_ID } from '../../helpers/builders';
import { SWITCHES, scenario } from './scenario';

/** Every blocker the gate can give, one per rule, as the scenario builds it. */
function everyBlocker() {
  return SWITCHES.map((code) => {
    const moment = code === 'not-running' ? 'detection' : 'recheck';
    const decision = decide(scenario([code], moment));
    if (decision.verdict === 'replace') throw new Error(`${code} did not refuse`);
    return decision.blocker;
  });
}

describe('the refusal sentences', () => {
  it.each(everyBlocker().map((b) => [b.code, b] as const))(
    '%s has a sentence of its own: a clause without a final stop, framed once for the team',
    (_code, blocker) => {
      const why = whyOf(blocker);
      expect(why.length).toBeGreaterThan(10);
      expect(why).not.toMatch(/\.$/);
      if (blocker.code !== 'manual-hold') expect(notReplacedSentence(blocker)).toBe(`Not replaced: ${why}.`);
      expect(heldMessage('Instance i-1 drifted.', blocker)).toBe(
        `Instance i-1 drifted. ${notReplacedSentence(blocker)}`,
      );
    },
  );

  it('no two blockers read alike (but those that pass on a sentence their fact carries)', () => {
    const passOn = new Set([
      'outside',
      'excluded',
      'not-applicable',
      'template-unresolved',
      'source-unchecked',
    ]);
    const sentences = everyBlocker()
      .filter((b) => !passOn.has(b.code))
      .map(whyOf);
    expect(new Set(sentences).size).toBe(sentences.length);
  });

  it('names what it is about: the instance, the group, the fleet', () => {
    const byCode = new Map(everyBlocker().map((b) => [b.code, whyOf(b)]));
    expect(byCode.get('not-in-service')).toContain(INSTANCE_ID);
    expect(byCode.get('launch-configuration')).toBe(
      `Auto Scaling group ${ASG_NAME} launches from a launch configuration, not a launch template: a replacement would not be built from what Git declares`,
    );
    expect(byCode.get('paused')).toBe(
      'remediation is paused (by oncall-bob at 2025-06-15T11:00:00.000Z); run `phoenix resume` to allow it again',
    );
    expect(byCode.get('source-drift')).toMatch(
      /source drift: tags\.Owner: expected team-web, source gives platform/,
    );
  });

  it('a group with no room reads the same from the gate and from the headroom the remediation’s plan reads', () => {
    const pinned = headroomOf({ name: ASG_NAME, desired: 3, min: 3, max: 3 }, 90);
    const full = headroomOf({ name: ASG_NAME, desired: 3, min: 1, max: 3 }, 100);
    const byCode = new Map(everyBlocker().map((b) => [b.code, whyOf(b)]));
    expect(pinned).toMatchObject({ kind: 'none', why: byCode.get('pinned') });
    expect(full).toMatchObject({ kind: 'none', why: byCode.get('no-headroom') });
  });

  it('phoenix plan labels every fleet blocker it reports', () => {
    expect(Object.keys(PLAN_BLOCKER_LABELS).sort()).toEqual(
      [
        'mode-notify',
        'mode-observe',
        'paused',
        'quarantined',
        'source-drift',
        'source-unchecked',
        'template-unresolved',
      ].sort(),
    );
  });
});

describe('refusal wording lives in one module', () => {
  /** Every .ts file under a folder. */
  function sources(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
    });
  }

  // The whole of functions/: the evaluator, the remediation's recheck and phoenix plan all
  // render the gate's decision, so none of them writes a refusal of its own.
  const FUNCTIONS = sources('functions');

  it.each([
    ['the launch configuration refusal', 'launches from a launch configuration, not a launch template'],
    ['the quarantine refusal', 'is quarantined for fleet'],
    ['the source drift refusal', 'would itself be drifted (source drift'],
    ['the pause refusal', 'remediation is paused (by'],
    ['the group with no room', 'no room to launch first and no safe way back'],
    ['the claimed instance', 'at the latest): one replacement per instance'],
  ])('%s is written once, in domain/gate/messages.ts', (_what, sentence) => {
    const writers = FUNCTIONS.filter((p) => readFileSync(p, 'utf8').includes(sentence));
    expect(writers.map((p) => relative('.', p))).toEqual([
      join('functions', 'domain', 'gate', 'messages.ts'),
    ]);
  });
});
