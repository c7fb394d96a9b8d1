import { describe, expect, it } from 'vitest';
import { evaluateDrift } from '../../../functions/domain/drift/engine';
import { fingerprintOf } from '../../../functions/domain/drift/fingerprint';
import {
  DEFAULT_CHECKS,
  DEFAULT_INSTANCE_TAGS,
  fleet,
  instanceFacts,
  NOW,
  OTHER_IMAGE_ID,
  TEMPLATE_ID,
  templateFacts,
} from '../../helpers/builders';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('evaluateDrift', () => {
  it('finds an instance launched from the current template with the declared tags in sync', () => {
    const verdict = evaluateDrift({
      instance: instanceFacts(),
      fleet: fleet(),
      template: templateFacts(),
      now: NOW,
    });

    expect(verdict).toEqual({ status: 'in-sync', fleet: 'web' });
  });

  it('ignores tags the group, the template and AWS add, and the values of aws: keys', () => {
    const instance = instanceFacts({
      tags: {
        ...DEFAULT_INSTANCE_TAGS,
        CostCenter: '42',
        'aws:cloudformation:stack-name': 'anything',
        'aws:autoscaling:groupName': 'web-prod',
      },
    });

    const verdict = evaluateDrift({ instance, fleet: fleet(), template: templateFacts(), now: NOW });

    expect(verdict.status).toBe('in-sync');
  });

  it.each(['terminated', 'shutting-down'])('does not judge an instance that is %s, and says why', (state) => {
    const drifted = instanceFacts({ state, imageId: OTHER_IMAGE_ID });

    const verdict = evaluateDrift({ instance: drifted, fleet: fleet(), template: templateFacts(), now: NOW });

    expect(verdict).toEqual({ status: 'not-applicable', fleet: 'web', why: expect.stringContaining(state) });
  });

  it.each(['pending', 'stopping', 'stopped'])('still judges an instance that is %s', (state) => {
    const drifted = instanceFacts({ state, imageId: OTHER_IMAGE_ID });

    const verdict = evaluateDrift({ instance: drifted, fleet: fleet(), template: templateFacts(), now: NOW });

    expect(verdict.status).toBe('drifted');
  });

  it('reports every reason, in canonical order, with the fingerprint of those reasons', () => {
    const instance = instanceFacts({
      imageId: OTHER_IMAGE_ID,
      instanceType: 'm5.large',
      tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'intruder', Environment: 'staging' },
      launchTemplate: { id: TEMPLATE_ID, version: '1' },
      launchTime: new Date(NOW.getTime() - 40 * DAY_MS).toISOString(),
    });
    const aged = fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 30 } });

    const verdict = evaluateDrift({ instance, fleet: aged, template: templateFacts(), now: NOW });

    if (verdict.status !== 'drifted') throw new Error(`expected drifted, got ${verdict.status}`);
    expect(verdict.reasons.map((r) => `${r.kind} ${r.field}`)).toEqual([
      'image imageId',
      'instance-type instanceType',
      'launch-template-version launchTemplate.version',
      'max-age launchTime',
      'tag-value tags.Environment',
      'tag-value tags.Owner',
    ]);
    expect(verdict.fingerprint).toBe(fingerprintOf(verdict.reasons));
  });

  it('gives the same verdict whatever order the instance’s tags and groups were listed in', () => {
    const tags = { ...DEFAULT_INSTANCE_TAGS, Owner: 'intruder', Extra: 'x' };
    const reversedTags = Object.fromEntries(Object.entries(tags).reverse());
    const first = instanceFacts({ tags, securityGroupIds: ['sg-1', 'sg-2', 'sg-3'] });
    const second = instanceFacts({ tags: reversedTags, securityGroupIds: ['sg-3', 'sg-1', 'sg-2'] });
    const declared = fleet({ tags: { Environment: 'prod', Owner: 'team-web' } });

    const a = evaluateDrift({ instance: first, fleet: fleet(), template: templateFacts(), now: NOW });
    const b = evaluateDrift({ instance: second, fleet: declared, template: templateFacts(), now: NOW });

    expect(a.status).toBe('drifted');
    expect(b).toEqual(a);
  });

  describe('without the launch template', () => {
    it('still reports drift from what Git alone declares', () => {
      const instance = instanceFacts({
        tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'intruder' },
        imageId: OTHER_IMAGE_ID,
      });

      const verdict = evaluateDrift({ instance, fleet: fleet(), template: undefined, now: NOW });

      expect(verdict).toMatchObject({
        status: 'drifted',
        reasons: [{ kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: 'intruder' }],
      });
    });

    it('does not call an instance in sync it cannot fully judge', () => {
      const verdict = evaluateDrift({
        instance: instanceFacts(),
        fleet: fleet(),
        template: undefined,
        now: NOW,
      });

      expect(verdict).toEqual({
        status: 'not-applicable',
        fleet: 'web',
        why: expect.stringContaining('web-lt version $Default could not be resolved'),
      });
    });
  });

  it.each([
    ['another template name', fleet({ launchTemplate: { name: 'api-lt', version: '$Default' } }), 'api-lt'],
    [
      'another template id',
      fleet({ launchTemplate: { id: 'lt-0ffffffffffffffff', version: '$Latest' } }),
      'lt-0ffffffffffffffff',
    ],
    ['another pinned version', fleet({ launchTemplate: { name: 'web-lt', version: 2 } }), 'pins version 2'],
  ])('refuses to judge against template facts for %s', (_story, declaring, mentioned) => {
    const verdict = evaluateDrift({
      instance: instanceFacts(),
      fleet: declaring,
      template: templateFacts(),
      now: NOW,
    });

    expect(verdict).toEqual({
      status: 'not-applicable',
      fleet: 'web',
      why: expect.stringContaining(mentioned),
    });
  });

  it('keeps the fingerprint of an ageing instance while its reported age grows', () => {
    const aged = fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 5 } });
    const instance = instanceFacts({ launchTime: new Date(NOW.getTime() - 10 * DAY_MS).toISOString() });
    const later = new Date(NOW.getTime() + 3 * DAY_MS);

    const today = evaluateDrift({ instance, fleet: aged, template: templateFacts(), now: NOW });
    const inThreeDays = evaluateDrift({ instance, fleet: aged, template: templateFacts(), now: later });

    expect(today).toMatchObject({ status: 'drifted', reasons: [{ actual: '10 days' }] });
    expect(inThreeDays).toMatchObject({ status: 'drifted', reasons: [{ actual: '13 days' }] });
    if (today.status !== 'drifted' || inThreeDays.status !== 'drifted') throw new Error('expected drift');
    expect(inThreeDays.fingerprint).toBe(today.fingerprint);
  });
});
