import { describe, expect, it } from 'vitest';
import { findFleet } from '../../../functions/domain/drift/match';
import {
  DEFAULT_INSTANCE_TAGS,
  fleet,
  instanceFacts,
  standaloneInstance,
  tagFleet,
} from '../../helpers/builders';

const web = fleet({ name: 'web' });
const api = fleet({ name: 'api', match: { kind: 'autoScalingGroup', autoScalingGroup: 'api-prod' } });
const batch = tagFleet({ name: 'batch', selector: { App: 'batch', Tier: 'worker' } });
const fleets = [web, api, batch];

describe('findFleet', () => {
  it('puts a member of a declared Auto Scaling group in that group’s fleet', () => {
    const match = findFleet(instanceFacts({ autoScalingGroup: 'api-prod' }), fleets);

    expect(match).toEqual({ kind: 'member', fleet: api });
  });

  it('reads the group from the aws:autoscaling:groupName tag when the facts lack it', () => {
    const instance = instanceFacts({ autoScalingGroup: undefined });

    expect(findFleet(instance, fleets)).toEqual({ kind: 'member', fleet: web });
  });

  it('puts a standalone instance carrying every selector tag in the tag fleet', () => {
    const instance = standaloneInstance({ App: 'batch', Tier: 'worker' });

    expect(findFleet(instance, fleets)).toEqual({ kind: 'member', fleet: batch });
  });

  it.each([
    ['one selector tag is missing', { App: 'batch' }],
    ['a selector tag has another value', { App: 'batch', Tier: 'web' }],
    ['a selector tag differs in case', { App: 'Batch', Tier: 'worker' }],
  ])('leaves a standalone instance outside when %s', (_story, tags) => {
    const match = findFleet(standaloneInstance(tags), fleets);

    expect(match).toEqual({ kind: 'outside', why: expect.stringContaining('no declared fleet selects') });
  });

  it('never puts an instance of an Auto Scaling group in a tag fleet, even with the selector tags', () => {
    const inUndeclaredGroup = instanceFacts({
      autoScalingGroup: 'batch-asg',
      tags: {
        ...DEFAULT_INSTANCE_TAGS,
        'aws:autoscaling:groupName': 'batch-asg',
        App: 'batch',
        Tier: 'worker',
      },
    });

    const match = findFleet(inUndeclaredGroup, fleets);

    expect(match).toEqual({ kind: 'outside', why: expect.stringContaining('Auto Scaling group batch-asg') });
  });

  it('leaves an instance of an undeclared group outside', () => {
    const match = findFleet(instanceFacts({ autoScalingGroup: 'legacy' }), fleets);

    expect(match).toEqual({ kind: 'outside', why: expect.stringContaining('legacy') });
  });

  it('leaves everything outside when no fleet is declared', () => {
    expect(findFleet(instanceFacts(), []).kind).toBe('outside');
  });

  it('selects nothing with an empty tag selector rather than every standalone instance', () => {
    const everything = tagFleet({ name: 'everything', selector: {} });

    expect(findFleet(standaloneInstance(), [everything]).kind).toBe('outside');
  });

  it('excludes a member carrying an exclusion tag, and says which', () => {
    const guarded = fleet({ exclude: { tags: { 'phoenix:skip': 'true', Frozen: 'yes' } } });
    const instance = instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Frozen: 'yes' } });

    const match = findFleet(instance, [guarded]);

    expect(match).toEqual({ kind: 'excluded', fleet: guarded, why: expect.stringContaining('Frozen=yes') });
  });

  it('does not exclude on the key alone: the value must match too', () => {
    const guarded = fleet({ exclude: { tags: { 'phoenix:skip': 'true' } } });
    const instance = instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, 'phoenix:skip': 'false' } });

    expect(findFleet(instance, [guarded])).toEqual({ kind: 'member', fleet: guarded });
  });

  it('acts on no fleet when several select the instance, and names them', () => {
    const alsoWeb = fleet({ name: 'web-copy' });

    const match = findFleet(instanceFacts(), [web, alsoWeb]);

    expect(match).toEqual({
      kind: 'outside',
      why: expect.stringMatching(/^ambiguous: fleets web, web-copy/),
    });
  });

  it('reports ambiguity between tag fleets with overlapping selectors', () => {
    const byApp = tagFleet({ name: 'by-app', selector: { App: 'batch' } });
    const instance = standaloneInstance({ App: 'batch', Tier: 'worker' });

    expect(findFleet(instance, [batch, byApp])).toEqual({
      kind: 'outside',
      why: expect.stringContaining('ambiguous'),
    });
  });
});
