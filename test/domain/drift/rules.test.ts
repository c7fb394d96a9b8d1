import { describe, expect, it } from 'vitest';
import {
  checkImage,
  checkInstanceType,
  checkLaunchTemplateId,
  checkLaunchTemplateVersion,
  checkMaxAge,
  checkSecurityGroups,
  checkTagMissing,
  checkTagUndeclared,
  checkTagValue,
  type DriftRule,
} from '../../../functions/domain/drift/rules';
import type {
  CompiledFleet,
  DriftReason,
  InstanceFacts,
  LaunchTemplateFacts,
} from '../../../functions/domain/model';
import {
  DEFAULT_CHECKS,
  DEFAULT_INSTANCE_TAGS,
  fleet,
  IMAGE_ID,
  instanceFacts,
  NOW,
  OTHER_IMAGE_ID,
  SECURITY_GROUP_IDS,
  TEMPLATE_ID,
  templateFacts,
} from '../../helpers/builders';

const DAY_MS = 24 * 60 * 60 * 1000;

interface RuleCase {
  rule: DriftRule;
  story: string;
  instance?: InstanceFacts;
  fleet?: CompiledFleet;
  template?: LaunchTemplateFacts;
  now?: Date;
  /** Only read for drifted cases; in-sync cases expect no reason. */
  expected: DriftReason[];
}

function judge(c: RuleCase): DriftReason[] {
  return c.rule({
    instance: c.instance ?? instanceFacts(),
    fleet: c.fleet ?? fleet(),
    template: c.template ?? templateFacts(),
    now: c.now ?? NOW,
  });
}

function launchedDaysAgo(days: number, extraMs = 0): string {
  return new Date(NOW.getTime() - days * DAY_MS - extraMs).toISOString();
}

const withoutTag = (key: string) => {
  const { [key]: _removed, ...rest } = DEFAULT_INSTANCE_TAGS;
  return rest;
};

const compliant: RuleCase[] = [
  { rule: checkTagMissing, story: 'every declared tag is present', expected: [] },
  {
    rule: checkTagMissing,
    story: 'the ASG or the template add tags beyond the declared ones',
    instance: instanceFacts({
      tags: { ...DEFAULT_INSTANCE_TAGS, CostCenter: '42', 'aws:cloudformation:stack-name': 's' },
    }),
    expected: [],
  },
  { rule: checkTagValue, story: 'every declared tag has its declared value', expected: [] },
  {
    rule: checkTagUndeclared,
    story: 'strict mode: tags under the prefix are all declared in Git or by the template',
    fleet: fleet({
      tags: { 'team:owner': 'web' },
      checks: { ...DEFAULT_CHECKS, strictTags: { prefix: 'team:' } },
    }),
    template: templateFacts({ instanceTags: { 'team:service': 'frontend' } }),
    instance: instanceFacts({ tags: { 'team:owner': 'web', 'team:service': 'frontend', Other: 'free' } }),
    expected: [],
  },
  {
    rule: checkTagUndeclared,
    story: 'strict mode is off, whatever undeclared tags exist',
    instance: instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, 'team:anything': 'x' } }),
    expected: [],
  },
  { rule: checkLaunchTemplateId, story: 'it was launched from the fleet’s template', expected: [] },
  {
    rule: checkLaunchTemplateId,
    story: 'the template id is read from the aws:ec2launchtemplate:id tag when the facts lack it',
    instance: instanceFacts({ launchTemplate: undefined }),
    expected: [],
  },
  { rule: checkLaunchTemplateVersion, story: 'it was launched from the resolved version', expected: [] },
  {
    rule: checkLaunchTemplateVersion,
    story: 'its version reads "03" (versions compare as numbers)',
    instance: instanceFacts({ launchTemplate: { id: TEMPLATE_ID, version: '03' } }),
    expected: [],
  },
  {
    rule: checkLaunchTemplateVersion,
    story: 'it was launched from another template (the id reason says it all)',
    instance: instanceFacts({ launchTemplate: { id: 'lt-0ffffffffffffffff', version: '9' } }),
    expected: [],
  },
  { rule: checkImage, story: 'it runs the template’s image', expected: [] },
  {
    rule: checkImage,
    story: 'the image check is off and the image differs',
    fleet: fleet({ checks: { ...DEFAULT_CHECKS, image: false } }),
    instance: instanceFacts({ imageId: OTHER_IMAGE_ID }),
    expected: [],
  },
  {
    rule: checkImage,
    story: 'a template that sets no image has no image to compare',
    template: templateFacts({ imageId: undefined }),
    instance: instanceFacts({ imageId: OTHER_IMAGE_ID }),
    expected: [],
  },
  { rule: checkInstanceType, story: 'it has the template’s instance type', expected: [] },
  {
    rule: checkInstanceType,
    story: 'the instance type check is off and the type differs',
    fleet: fleet({ checks: { ...DEFAULT_CHECKS, instanceType: false } }),
    instance: instanceFacts({ instanceType: 'm5.large' }),
    expected: [],
  },
  {
    rule: checkInstanceType,
    story: 'a template that sets no instance type has none to compare',
    template: templateFacts({ instanceType: undefined }),
    instance: instanceFacts({ instanceType: 'm5.large' }),
    expected: [],
  },
  { rule: checkSecurityGroups, story: 'it has the template’s security groups', expected: [] },
  {
    rule: checkSecurityGroups,
    story: 'its groups are the same set in another order, with repeats',
    instance: instanceFacts({
      securityGroupIds: [...SECURITY_GROUP_IDS].reverse().concat(SECURITY_GROUP_IDS),
    }),
    expected: [],
  },
  {
    rule: checkSecurityGroups,
    story: 'the security group check is off and the groups differ',
    fleet: fleet({ checks: { ...DEFAULT_CHECKS, securityGroups: false } }),
    instance: instanceFacts({ securityGroupIds: ['sg-0ccccccccccccccc3'] }),
    expected: [],
  },
  {
    rule: checkSecurityGroups,
    story: 'a template that sets no security groups has none to compare',
    template: templateFacts({ securityGroupIds: [] }),
    instance: instanceFacts({ securityGroupIds: ['sg-0ccccccccccccccc3'] }),
    expected: [],
  },
  {
    rule: checkMaxAge,
    story: 'it is maxAgeDays old and 23 hours (whole days count)',
    fleet: fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 30 } }),
    instance: instanceFacts({ launchTime: launchedDaysAgo(30, 23 * 60 * 60 * 1000) }),
    expected: [],
  },
  {
    rule: checkMaxAge,
    story: 'no maxAgeDays is declared, however old it is',
    instance: instanceFacts({ launchTime: launchedDaysAgo(900) }),
    expected: [],
  },
];

const nonCompliant: RuleCase[] = [
  {
    rule: checkTagMissing,
    story: 'a declared tag was removed',
    instance: instanceFacts({ tags: withoutTag('Owner') }),
    expected: [
      {
        kind: 'tag-missing',
        field: 'tags.Owner',
        expected: 'team-web',
        actual: null,
        source: 'desired-state',
      },
    ],
  },
  {
    rule: checkTagMissing,
    story: 'only "owner" is there (tag keys are case-sensitive)',
    instance: instanceFacts({ tags: { ...withoutTag('Owner'), owner: 'team-web' } }),
    expected: [
      {
        kind: 'tag-missing',
        field: 'tags.Owner',
        expected: 'team-web',
        actual: null,
        source: 'desired-state',
      },
    ],
  },
  {
    rule: checkTagValue,
    story: 'a declared tag was changed by hand',
    instance: instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Environment: 'staging' } }),
    expected: [
      {
        kind: 'tag-value',
        field: 'tags.Environment',
        expected: 'prod',
        actual: 'staging',
        source: 'desired-state',
      },
    ],
  },
  {
    rule: checkTagValue,
    story: 'a declared tag was set to the empty string',
    instance: instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: '' } }),
    expected: [
      { kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: '', source: 'desired-state' },
    ],
  },
  {
    rule: checkTagUndeclared,
    story: 'strict mode: a tag under the prefix declared neither in Git nor by the template',
    fleet: fleet({
      tags: { 'team:owner': 'web' },
      checks: { ...DEFAULT_CHECKS, strictTags: { prefix: 'team:' } },
    }),
    instance: instanceFacts({ tags: { 'team:owner': 'web', 'team:hotfix': 'manual', 'aws:x': 'y' } }),
    expected: [
      {
        kind: 'tag-undeclared',
        field: 'tags.team:hotfix',
        expected: null,
        actual: 'manual',
        source: 'desired-state',
      },
    ],
  },
  {
    rule: checkLaunchTemplateId,
    story: 'it was launched from another template',
    instance: instanceFacts({ launchTemplate: { id: 'lt-0ffffffffffffffff', version: '3' } }),
    expected: [
      {
        kind: 'launch-template-id',
        field: 'launchTemplate.id',
        expected: TEMPLATE_ID,
        actual: 'lt-0ffffffffffffffff',
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkLaunchTemplateId,
    story: 'it was launched from no template at all',
    instance: instanceFacts({ launchTemplate: undefined, tags: { Owner: 'team-web', Environment: 'prod' } }),
    expected: [
      {
        kind: 'launch-template-id',
        field: 'launchTemplate.id',
        expected: TEMPLATE_ID,
        actual: null,
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkLaunchTemplateVersion,
    story: 'it was launched from an older version than the resolved one',
    instance: instanceFacts({ launchTemplate: { id: TEMPLATE_ID, version: '2' } }),
    expected: [
      {
        kind: 'launch-template-version',
        field: 'launchTemplate.version',
        expected: '3',
        actual: '2',
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkLaunchTemplateVersion,
    story: 'the version is read from the aws:ec2launchtemplate:version tag when the facts lack it',
    instance: instanceFacts({
      launchTemplate: undefined,
      tags: { ...DEFAULT_INSTANCE_TAGS, 'aws:ec2launchtemplate:version': '1' },
    }),
    expected: [
      {
        kind: 'launch-template-version',
        field: 'launchTemplate.version',
        expected: '3',
        actual: '1',
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkImage,
    story: 'it runs another image than the template’s',
    instance: instanceFacts({ imageId: OTHER_IMAGE_ID }),
    expected: [
      {
        kind: 'image',
        field: 'imageId',
        expected: IMAGE_ID,
        actual: OTHER_IMAGE_ID,
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkInstanceType,
    story: 'it was resized to another instance type',
    instance: instanceFacts({ instanceType: 'm5.large' }),
    expected: [
      {
        kind: 'instance-type',
        field: 'instanceType',
        expected: 't3.micro',
        actual: 'm5.large',
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkSecurityGroups,
    story: 'a security group was added by hand',
    instance: instanceFacts({ securityGroupIds: [...SECURITY_GROUP_IDS, 'sg-0ccccccccccccccc3'] }),
    expected: [
      {
        kind: 'security-groups',
        field: 'securityGroupIds',
        expected: 'sg-0aaaaaaaaaaaaaaa1,sg-0bbbbbbbbbbbbbbb2',
        actual: 'sg-0aaaaaaaaaaaaaaa1,sg-0bbbbbbbbbbbbbbb2,sg-0ccccccccccccccc3',
        source: 'launch-template',
      },
    ],
  },
  {
    rule: checkMaxAge,
    story: 'it is older than maxAgeDays',
    fleet: fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 30 } }),
    instance: instanceFacts({ launchTime: launchedDaysAgo(41, 60_000) }),
    expected: [
      {
        kind: 'max-age',
        field: 'launchTime',
        expected: '≤ 30 days',
        actual: '41 days',
        source: 'desired-state',
      },
    ],
  },
  {
    rule: checkMaxAge,
    story: 'it is a whole day over a one-day limit',
    fleet: fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 1 } }),
    instance: instanceFacts({ launchTime: launchedDaysAgo(2) }),
    expected: [
      {
        kind: 'max-age',
        field: 'launchTime',
        expected: '≤ 1 day',
        actual: '2 days',
        source: 'desired-state',
      },
    ],
  },
];

describe('drift rules', () => {
  describe('in sync', () => {
    for (const c of compliant) {
      it(`${c.rule.name}: no reason when ${c.story}`, () => {
        expect(judge(c)).toEqual([]);
      });
    }
  });

  describe('drifted', () => {
    for (const c of nonCompliant) {
      it(`${c.rule.name}: reports drift when ${c.story}`, () => {
        expect(judge(c)).toEqual(c.expected);
      });
    }
  });

  it('reports every missing declared tag, one reason each', () => {
    const instance = instanceFacts({ tags: { Name: 'web' } });

    const reasons = checkTagMissing({ instance, fleet: fleet(), template: templateFacts(), now: NOW });

    expect(reasons.map((r) => r.field).sort()).toEqual(['tags.Environment', 'tags.Owner']);
  });

  it('never judges aws: keys, even if a hand-built fleet declares one', () => {
    const declaresReserved = fleet({ tags: { 'aws:autoscaling:groupName': 'other', 'AWS:Thing': 'x' } });
    const strict = fleet({ tags: {}, checks: { ...DEFAULT_CHECKS, strictTags: { prefix: 'aws:' } } });
    const ctx = { instance: instanceFacts(), template: templateFacts(), now: NOW };

    expect(checkTagMissing({ ...ctx, fleet: declaresReserved })).toEqual([]);
    expect(checkTagValue({ ...ctx, fleet: declaresReserved })).toEqual([]);
    expect(checkTagUndeclared({ ...ctx, fleet: strict })).toEqual([]);
  });

  it.each([
    ['launch template id', checkLaunchTemplateId],
    ['launch template version', checkLaunchTemplateVersion],
    ['image', checkImage],
    ['instance type', checkInstanceType],
    ['security groups', checkSecurityGroups],
    ['undeclared tags', checkTagUndeclared],
  ])('the %s rule cannot judge without the template and says nothing', (_name, rule) => {
    const drifted = instanceFacts({
      imageId: OTHER_IMAGE_ID,
      instanceType: 'm5.large',
      securityGroupIds: ['sg-0ccccccccccccccc3'],
      launchTemplate: { id: 'lt-0ffffffffffffffff', version: '1' },
      tags: { ...DEFAULT_INSTANCE_TAGS, 'team:x': 'y' },
    });
    const strict = fleet({ checks: { ...DEFAULT_CHECKS, strictTags: { prefix: 'team:' } } });

    expect(rule({ instance: drifted, fleet: strict, template: undefined, now: NOW })).toEqual([]);
  });

  const unreported: [string, DriftRule, Partial<InstanceFacts>][] = [
    ['image', checkImage, { imageId: undefined }],
    ['instance type', checkInstanceType, { instanceType: undefined }],
    ['security groups', checkSecurityGroups, { securityGroupIds: [] }],
    ['max age', checkMaxAge, { launchTime: undefined }],
  ];

  it.each(unreported)('the %s rule does not call an unreported fact drift', (_name, rule, missing) => {
    const aged = fleet({ checks: { ...DEFAULT_CHECKS, maxAgeDays: 1 } });
    const template = templateFacts({
      imageId: OTHER_IMAGE_ID,
      instanceType: 'm5.large',
      securityGroupIds: ['sg-0ccccccccccccccc3'],
    });
    const instance = instanceFacts({ launchTime: launchedDaysAgo(5), ...missing });

    expect(rule({ instance, fleet: aged, template, now: NOW })).toEqual([]);
  });
});
