import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateDrift } from '../../../functions/domain/drift/engine';
import {
  FINGERPRINT_HASH_VERSION,
  FINGERPRINT_LENGTH,
  fingerprintOf,
} from '../../../functions/domain/drift/fingerprint';
import type { DriftKind, DriftReason, Tags } from '../../../functions/domain/model';
import { fleet, INSTANCE_ID, instanceFacts, NOW, reason, templateFacts } from '../../helpers/builders';

const KINDS: DriftKind[] = [
  'tag-missing',
  'tag-value',
  'tag-undeclared',
  'launch-template-id',
  'launch-template-version',
  'image',
  'instance-type',
  'security-groups',
  'max-age',
];

const value = fc.option(fc.string({ maxLength: 12 }), { nil: null });

const anyReason: fc.Arbitrary<DriftReason> = fc.record({
  kind: fc.constantFrom(...KINDS),
  field: fc.string({ minLength: 1, maxLength: 12 }),
  expected: value,
  actual: value,
  source: fc.constantFrom('desired-state' as const, 'launch-template' as const),
});

/** Reasons as the engine produces them: at most one per kind and field. */
const reasonSet = fc.uniqueArray(anyReason, {
  minLength: 1,
  maxLength: 8,
  selector: (r) => `${r.kind}\u0000${r.field}`,
});

describe('fingerprintOf', () => {
  it('is the hash version, a dash and 24 hex digits', () => {
    const fingerprint = fingerprintOf([reason()]);

    expect(fingerprint).toMatch(new RegExp(`^v${FINGERPRINT_HASH_VERSION}-[0-9a-f]{24}$`));
    expect(fingerprint).toHaveLength(FINGERPRINT_LENGTH);
  });

  it('fits a Step Functions execution name together with an instance id', () => {
    const executionName = `${INSTANCE_ID}-${fingerprintOf([reason()])}`;

    expect(executionName.length).toBeLessThanOrEqual(80);
    expect(executionName).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('is sha256 of the documented canonical form, so the v1 hash never changes unnoticed', () => {
    const reasons: DriftReason[] = [
      reason({ kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: 'x' }),
      reason({
        kind: 'image',
        field: 'imageId',
        expected: 'ami-1',
        actual: 'ami-2',
        source: 'launch-template',
      }),
    ];
    const canonical =
      '[["image","imageId","ami-1","ami-2","launch-template"],["tag-value","tags.Owner","team-web","x","desired-state"]]';
    const digest = createHash('sha256').update(canonical).digest('hex').slice(0, 24);

    expect(fingerprintOf(reasons)).toBe(`v1-${digest}`);
  });

  it('is the same whatever the order of the reasons', () => {
    fc.assert(
      fc.property(
        reasonSet.chain((reasons) =>
          fc.tuple(
            fc.constant(reasons),
            fc.shuffledSubarray(reasons, { minLength: reasons.length, maxLength: reasons.length }),
          ),
        ),
        ([reasons, shuffled]) => {
          expect(fingerprintOf(shuffled)).toBe(fingerprintOf(reasons));
        },
      ),
    );
  });

  it('changes when any expected or actual value changes', () => {
    const nonAgeReasons = reasonSet.map((reasons) => reasons.filter((r) => r.kind !== 'max-age'));
    fc.assert(
      fc.property(
        nonAgeReasons.filter((reasons) => reasons.length > 0),
        fc.nat(),
        fc.constantFrom('expected' as const, 'actual' as const),
        value,
        (reasons, pick, property, replacement) => {
          const index = pick % reasons.length;
          const original = reasons[index];
          fc.pre(original !== undefined && original[property] !== replacement);
          if (original === undefined) return;
          const changed = reasons.map((r, i) => (i === index ? { ...r, [property]: replacement } : r));

          expect(fingerprintOf(changed)).not.toBe(fingerprintOf(reasons));
        },
      ),
    );
  });

  it('changes when a reason is added or removed', () => {
    fc.assert(
      fc.property(reasonSet, (reasons) => {
        expect(fingerprintOf(reasons.slice(1))).not.toBe(fingerprintOf(reasons));
      }),
    );
  });

  it('tells a missing value (null) from an empty one', () => {
    const missing = fingerprintOf([reason({ kind: 'tag-missing', actual: null })]);
    const empty = fingerprintOf([reason({ kind: 'tag-missing', actual: '' })]);

    expect(empty).not.toBe(missing);
  });

  it('identifies a max-age reason by its limit, not by the growing age', () => {
    const at = (expected: string, actual: string) =>
      fingerprintOf([reason({ kind: 'max-age', field: 'launchTime', expected, actual })]);

    expect(at('≤ 30 days', '41 days')).toBe(at('≤ 30 days', '42 days'));
    expect(at('≤ 30 days', '41 days')).not.toBe(at('≤ 40 days', '41 days'));
  });

  it('is the same for an instance whatever the order of its tags (through the engine)', () => {
    const tagMap = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !k.toLowerCase().startsWith('aws:')),
      fc.string({ maxLength: 8 }),
      { maxKeys: 8 },
    );
    fc.assert(
      fc.property(tagMap, tagMap, (declared, present) => {
        const reversed: Tags = Object.fromEntries(Object.entries(present).reverse());
        const declaredReversed: Tags = Object.fromEntries(Object.entries(declared).reverse());
        const judge = (tags: Tags, declaredTags: Tags) =>
          evaluateDrift({
            instance: instanceFacts({ tags: { ...tags, 'aws:ec2launchtemplate:id': 'ignored' } }),
            fleet: fleet({ tags: declaredTags }),
            template: templateFacts(),
            now: NOW,
          });

        expect(judge(reversed, declaredReversed)).toEqual(judge(present, declared));
      }),
    );
  });
});
