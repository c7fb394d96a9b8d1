import { describe, expect, it } from 'vitest';
import { evaluateDrift } from '../../../functions/domain/drift/engine';
import { findFleet } from '../../../functions/domain/drift/match';
import { checkSource, freshInstanceFrom } from '../../../functions/domain/drift/source-check';
import { InvalidInputError } from '../../../functions/domain/errors';
import {
  ASG_NAME,
  DEFAULT_CHECKS,
  DEFAULT_DECLARED_TAGS,
  fleet,
  IMAGE_ID,
  INSTANCE_TYPE,
  NOW,
  OTHER_IMAGE_ID,
  SECURITY_GROUP_IDS,
  TEMPLATE_ID,
  tagFleet,
  templateFacts,
} from '../../helpers/builders';

/** The group propagates the declared tags: the usual, consistent set-up. */
const PROPAGATED = { ...DEFAULT_DECLARED_TAGS };

describe('freshInstanceFrom', () => {
  it('builds what the template launches now: image, type, groups, template id and version', () => {
    const fresh = freshInstanceFrom(templateFacts(), fleet(), PROPAGATED, NOW);

    expect(fresh).toMatchObject({
      state: 'running',
      imageId: IMAGE_ID,
      instanceType: INSTANCE_TYPE,
      securityGroupIds: SECURITY_GROUP_IDS,
      launchTime: NOW.toISOString(),
      launchTemplate: { id: TEMPLATE_ID, version: '3' },
      autoScalingGroup: ASG_NAME,
    });
    expect(fresh.tags).toMatchObject({
      'aws:ec2launchtemplate:id': TEMPLATE_ID,
      'aws:ec2launchtemplate:version': '3',
      'aws:autoscaling:groupName': ASG_NAME,
    });
  });

  it('lets the group’s propagated tags win over the template’s, as Auto Scaling does', () => {
    const template = templateFacts({ instanceTags: { Name: 'web', Owner: 'team-old' } });

    const fresh = freshInstanceFrom(template, fleet(), { Owner: 'team-web' }, NOW);

    expect(fresh.tags).toMatchObject({ Name: 'web', Owner: 'team-web' });
  });

  it('gives a standalone replacement the declared and selector tags Phoenix sets at launch', () => {
    const standalone = tagFleet({ name: 'batch', tags: { Owner: 'team-batch' } });
    const template = templateFacts({ instanceTags: { Owner: 'team-old', Name: 'batch' } });

    const fresh = freshInstanceFrom(template, standalone, { Ignored: 'for standalone fleets' }, NOW);

    expect(fresh.tags).toMatchObject({ App: 'batch', Owner: 'team-batch', Name: 'batch' });
    expect(fresh.tags).not.toHaveProperty('Ignored');
    expect(fresh.autoScalingGroup).toBeUndefined();
    expect(findFleet(fresh, [standalone])).toEqual({ kind: 'member', fleet: standalone });
  });
});

describe('checkSource', () => {
  it('accepts a consistent source: a fresh instance would be in sync', () => {
    const result = checkSource({
      fleet: fleet(),
      template: templateFacts(),
      propagatedTags: PROPAGATED,
      now: NOW,
    });

    expect(result).toEqual({ ok: true });
  });

  it('reports source drift when the template’s instance tags contradict the declared tags', () => {
    const template = templateFacts({ instanceTags: { Name: 'web', Owner: 'team-old' } });

    const result = checkSource({
      fleet: fleet(),
      template,
      propagatedTags: { Environment: 'prod' },
      now: NOW,
    });

    expect(result).toEqual({
      ok: false,
      reasons: [
        {
          kind: 'tag-value',
          field: 'tags.Owner',
          expected: 'team-web',
          actual: 'team-old',
          source: 'desired-state',
        },
      ],
    });
  });

  it('reports source drift when nothing in the source sets a declared tag of a group fleet', () => {
    const result = checkSource({ fleet: fleet(), template: templateFacts(), propagatedTags: {}, now: NOW });

    expect(result).toMatchObject({
      ok: false,
      reasons: [
        { kind: 'tag-missing', field: 'tags.Environment' },
        { kind: 'tag-missing', field: 'tags.Owner' },
      ],
    });
  });

  it('accepts a standalone fleet whose template tags Phoenix overrides at launch', () => {
    const standalone = tagFleet({ name: 'batch', tags: { Owner: 'team-batch' } });
    const template = templateFacts({ instanceTags: { Owner: 'team-old' } });

    expect(checkSource({ fleet: standalone, template, propagatedTags: {}, now: NOW })).toEqual({ ok: true });
  });

  it('reports source drift when a declared tag contradicts the fleet’s own selector', () => {
    const contradictory = tagFleet({ name: 'batch', selector: { App: 'batch' }, tags: { App: 'api' } });

    const result = checkSource({
      fleet: contradictory,
      template: templateFacts(),
      propagatedTags: {},
      now: NOW,
    });

    expect(result).toMatchObject({
      ok: false,
      reasons: [{ kind: 'tag-value', field: 'tags.App', expected: 'api' }],
    });
  });

  it('reports source drift when the group propagates an undeclared tag under the strict prefix', () => {
    const strict = fleet({ checks: { ...DEFAULT_CHECKS, strictTags: { prefix: 'team:' } } });

    const result = checkSource({
      fleet: strict,
      template: templateFacts(),
      propagatedTags: { ...PROPAGATED, 'team:legacy': 'yes' },
      now: NOW,
    });

    expect(result).toMatchObject({
      ok: false,
      reasons: [{ kind: 'tag-undeclared', field: 'tags.team:legacy' }],
    });
  });

  it('reports source drift when the group launches from another version than the fleet resolves', () => {
    const groupTemplate = templateFacts({ version: 2, imageId: OTHER_IMAGE_ID });

    const result = checkSource({
      fleet: fleet(),
      template: templateFacts(),
      groupTemplate,
      propagatedTags: PROPAGATED,
      now: NOW,
    });

    expect(result).toMatchObject({
      ok: false,
      reasons: [
        { kind: 'image', expected: IMAGE_ID, actual: OTHER_IMAGE_ID },
        { kind: 'launch-template-version', expected: '3', actual: '2' },
      ],
    });
  });

  it('never finds a fresh instance too old', () => {
    const aged = fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 1 } });

    expect(
      checkSource({ fleet: aged, template: templateFacts(), propagatedTags: PROPAGATED, now: NOW }),
    ).toEqual({
      ok: true,
    });
  });

  it('agrees with the engine on the instance it builds', () => {
    const template = templateFacts({ instanceTags: { Owner: 'team-old' } });
    const fresh = freshInstanceFrom(template, fleet(), {}, NOW);

    const verdict = evaluateDrift({ instance: fresh, fleet: fleet(), template, now: NOW });
    const result = checkSource({ fleet: fleet(), template, propagatedTags: {}, now: NOW });

    expect(verdict).toMatchObject({ status: 'drifted', reasons: result.ok ? [] : result.reasons });
  });

  it('refuses to check a source that is not the fleet’s template', () => {
    const other = templateFacts({ name: 'api-lt' });

    expect(() =>
      checkSource({ fleet: fleet(), template: other, propagatedTags: PROPAGATED, now: NOW }),
    ).toThrow(InvalidInputError);
  });
});
