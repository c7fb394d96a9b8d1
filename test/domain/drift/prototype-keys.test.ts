import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { factsFromConfigItem, factsFromEc2Instance } from '../../../functions/aws/instance-facts';
import { compileDesiredState } from '../../../functions/domain/desired-state/compile';
import { parseDesiredState } from '../../../functions/domain/desired-state/validate';
import { evaluateDrift } from '../../../functions/domain/drift/engine';
import { findFleet } from '../../../functions/domain/drift/match';
import type { CompiledFleet, LaunchTemplateFacts } from '../../../functions/domain/model';

/**
 * Keys written in YAML or JSON are data: a tag key `__proto__` (EC2 allows it), `constructor`
 * or `hasOwnProperty` must travel from the desired state and from AWS's answers into the
 * drift engine as the tags they are, never reach an object's prototype, never be dropped.
 */

const SPECIAL_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

const tagKey = fc.oneof(
  fc.constantFrom(...SPECIAL_KEYS),
  fc.string({ minLength: 1, maxLength: 20 }).filter((key) => !key.toLowerCase().startsWith('aws:')),
);
const tags = fc.uniqueArray(fc.tuple(tagKey, fc.string({ maxLength: 12 })), {
  minLength: 1,
  maxLength: 6,
  selector: ([key]) => key,
});

const NOW = new Date('2025-03-01T12:00:00Z');

/** The template the fleet declares, as instances were launched from it. */
const TEMPLATE: LaunchTemplateFacts = {
  id: 'lt-0123456789abcdef0',
  name: 'web-lt',
  version: 1,
  imageId: 'ami-0123',
  instanceType: 't3.micro',
  securityGroupIds: [],
  instanceTags: {},
};

/** The fleet a file declaring these tags compiles to (JSON is YAML's flow style). */
function fleetDeclaring(
  entries: readonly (readonly [string, string])[],
  selector = '{ autoScalingGroup: web-prod }',
) {
  const map = `{ ${entries.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(', ')} }`;
  const text = `version: 1\nfleets:\n  web:\n    match: ${selector}\n    launchTemplate: { name: web-lt }\n    tags: ${map}\n`;
  const parsed = parseDesiredState(text, 'phoenix.yaml');
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join('; '));
  const [fleet] = compileDesiredState(parsed.value, {
    commit: 'c',
    path: 'p',
    sha256: 'a'.repeat(64),
  }).fleets;
  if (fleet === undefined) throw new Error('no fleet compiled');
  return fleet;
}

function instanceTagged(entries: readonly (readonly [string, string])[]) {
  return factsFromEc2Instance({
    InstanceId: 'i-0123456789abcdef0',
    State: { Name: 'running' },
    ImageId: 'ami-0123',
    InstanceType: 't3.micro',
    Tags: [
      { Key: 'aws:autoscaling:groupName', Value: 'web-prod' },
      { Key: 'aws:ec2launchtemplate:id', Value: TEMPLATE.id },
      { Key: 'aws:ec2launchtemplate:version', Value: '1' },
      ...entries.map(([Key, Value]) => ({ Key, Value })),
    ],
  });
}

function own(record: object): [string, unknown][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1));
}

describe('keys are data, whatever they are called', () => {
  it('a declared tag keeps every key, as an own property of a plain object', () => {
    fc.assert(
      fc.property(tags, (entries) => {
        const fleet = fleetDeclaring(entries);

        expect(own(fleet.tags)).toEqual(own(Object.fromEntries(entries)));
        expect(Object.getPrototypeOf(fleet.tags)).toBe(Object.prototype);
        // And it survives the trip into a bundle (JSON) unchanged.
        expect(own((JSON.parse(JSON.stringify(fleet)) as CompiledFleet).tags)).toEqual(own(fleet.tags));
      }),
    );
  });

  it('an instance carrying exactly the declared tags is in sync; one missing is drift on that key', () => {
    fc.assert(
      fc.property(tags, fc.nat(), (entries, pick) => {
        const fleet = fleetDeclaring(entries);
        const [missingKey] = entries[pick % entries.length] ?? [''];

        const complete = evaluateDrift({
          instance: instanceTagged(entries),
          fleet,
          template: TEMPLATE,
          now: NOW,
        });
        const lacking = evaluateDrift({
          instance: instanceTagged(entries.filter(([key]) => key !== missingKey)),
          fleet,
          template: TEMPLATE,
          now: NOW,
        });

        expect(complete.status).toBe('in-sync');
        expect(lacking).toMatchObject({
          status: 'drifted',
          reasons: [{ kind: 'tag-missing', field: `tags.${missingKey}` }],
        });
      }),
    );
  });

  it('a declared __proto__ tag with the wrong value is drift (issue 11, item 5)', () => {
    const fleet = fleetDeclaring([['__proto__', 'x']]);

    const verdict = evaluateDrift({
      instance: instanceTagged([['__proto__', 'y']]),
      fleet,
      template: TEMPLATE,
      now: NOW,
    });

    expect(verdict).toMatchObject({
      status: 'drifted',
      reasons: [{ kind: 'tag-value', field: 'tags.__proto__', expected: 'x', actual: 'y' }],
    });
  });

  it('an AWS Config item keeps a __proto__ tag from its tags map', () => {
    // Config delivers the item as JSON: JSON.parse makes `__proto__` an own key.
    const item = JSON.parse(
      JSON.stringify({
        resourceType: 'AWS::EC2::Instance',
        resourceId: 'i-0123456789abcdef0',
        configurationItemStatus: 'ResourceDeleted',
      }).replace('}', ',"tags":{"__proto__":"x","constructor":"y"}}'),
    ) as unknown;

    expect(own(factsFromConfigItem(item).tags)).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });

  it('a tag selector on __proto__ selects the instances that carry it, and only those', () => {
    const fleet = fleetDeclaring([['Owner', 'team']], '{ tags: { "__proto__": "web" } }');
    const standalone = (entries: [string, string][]) =>
      factsFromEc2Instance({
        InstanceId: 'i-0123456789abcdef0',
        State: { Name: 'running' },
        Tags: entries.map(([Key, Value]) => ({ Key, Value })),
      });

    expect(fleet.match).toEqual({ kind: 'tags', tags: { ['__proto__']: 'web' } });
    expect(findFleet(standalone([['__proto__', 'web']]), [fleet]).kind).toBe('member');
    expect(findFleet(standalone([['__proto__', 'api']]), [fleet]).kind).toBe('outside');
    expect(findFleet(standalone([]), [fleet]).kind).toBe('outside');
  });
});
