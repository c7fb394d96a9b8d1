/**
 * The drift rules: one pure function per kind of drift.
 *
 * A rule reads the facts of one instance, the fleet Git declares and the launch template
 * version the fleet resolves to, and returns the reasons the instance differs (none when it
 * complies). Outcomes are values, never exceptions. A rule only judges what it can know:
 * a fact the source did not report (no image id in a partial event, say) is not drift.
 */
import type { CompiledFleet, DriftReason, InstanceFacts, LaunchTemplateFacts, Tags } from '../model';

/** Everything a rule may read. `template` is undefined when the launch template could not be resolved. */
export interface RuleContext {
  instance: InstanceFacts;
  fleet: CompiledFleet;
  template: LaunchTemplateFacts | undefined;
  now: Date;
}

export type DriftRule = (ctx: RuleContext) => DriftReason[];

const LAUNCH_TEMPLATE_ID_TAG = 'aws:ec2launchtemplate:id';
const LAUNCH_TEMPLATE_VERSION_TAG = 'aws:ec2launchtemplate:version';
const DAY_MS = 24 * 60 * 60 * 1000;

/** AWS owns `aws:` keys (case-insensitively): nobody can set or remove them, so they are never drift. */
export function isAwsReservedKey(key: string): boolean {
  return key.toLowerCase().startsWith('aws:');
}

/** The field name reasons about a tag use: `tags.Owner`. */
export function tagField(key: string): string {
  return `tags.${key}`;
}

function hasOwn(tags: Tags, key: string): boolean {
  return Object.hasOwn(tags, key);
}

/** Declared tags, less any reserved key (validation rejects them; a hand-built fleet might not). */
function declaredTags(fleet: CompiledFleet): [string, string][] {
  return Object.entries(fleet.tags).filter(([key]) => !isAwsReservedKey(key));
}

/** A tag Git declares is absent. Tags the instance has but Git does not declare are fine here. */
export const checkTagMissing: DriftRule = ({ instance, fleet }) =>
  declaredTags(fleet)
    .filter(([key]) => !hasOwn(instance.tags, key))
    .map(([key, value]) => ({
      kind: 'tag-missing',
      field: tagField(key),
      expected: value,
      actual: null,
      source: 'desired-state',
    }));

/** A tag Git declares is present with another value (tag values are case-sensitive in AWS). */
export const checkTagValue: DriftRule = ({ instance, fleet }) =>
  declaredTags(fleet).flatMap(([key, value]): DriftReason[] => {
    if (!hasOwn(instance.tags, key)) return [];
    const actual = instance.tags[key] ?? null;
    return actual === value
      ? []
      : [{ kind: 'tag-value', field: tagField(key), expected: value, actual, source: 'desired-state' }];
  });

/**
 * Strict mode: a tag under the fleet's managed prefix that neither Git nor the launch
 * template declares. Auto Scaling propagated tags get no exemption: under a managed prefix
 * they must be declared in Git too (the source check reports such a group as source drift).
 * Without the template, its instance tags are unknown, so nothing is reported.
 */
export const checkTagUndeclared: DriftRule = ({ instance, fleet, template }) => {
  const prefix = fleet.checks.strictTags?.prefix;
  if (prefix === undefined || prefix === '' || template === undefined) return [];
  return Object.entries(instance.tags)
    .filter(
      ([key]) =>
        key.startsWith(prefix) &&
        !isAwsReservedKey(key) &&
        !hasOwn(fleet.tags, key) &&
        !hasOwn(template.instanceTags, key),
    )
    .map(([key, value]) => ({
      kind: 'tag-undeclared',
      field: tagField(key),
      expected: null,
      actual: value,
      source: 'desired-state',
    }));
};

/** The template an instance was launched from: its launch template data, else the tags EC2 sets. */
export function launchTemplateOf(instance: InstanceFacts): { id: string; version: string } | undefined {
  if (instance.launchTemplate !== undefined) return instance.launchTemplate;
  const id = instance.tags[LAUNCH_TEMPLATE_ID_TAG];
  if (id === undefined) return undefined;
  return { id, version: instance.tags[LAUNCH_TEMPLATE_VERSION_TAG] ?? '' };
}

/** Launched from another launch template, or from none. */
export const checkLaunchTemplateId: DriftRule = ({ instance, template }) => {
  if (template === undefined) return [];
  const actual = launchTemplateOf(instance)?.id ?? null;
  return actual === template.id
    ? []
    : [
        {
          kind: 'launch-template-id',
          field: 'launchTemplate.id',
          expected: template.id,
          actual,
          source: 'launch-template',
        },
      ];
};

/** `"007"` and `"7"` are the same version; anything else is compared as written. */
function normaliseVersion(version: string): string {
  const trimmed = version.trim();
  return /^\d+$/.test(trimmed) ? String(Number(trimmed)) : trimmed;
}

/**
 * Launched from another version of the fleet's template than the one `$Default`/`$Latest`/N
 * resolves to now. Only judged when the template is the right one: launched from another
 * template, the `launch-template-id` reason already says everything.
 */
export const checkLaunchTemplateVersion: DriftRule = ({ instance, template }) => {
  if (template === undefined) return [];
  const launchedFrom = launchTemplateOf(instance);
  if (launchedFrom === undefined || launchedFrom.id !== template.id) return [];
  const expected = String(template.version);
  const actual = launchedFrom.version === '' ? null : normaliseVersion(launchedFrom.version);
  return actual === expected
    ? []
    : [
        {
          kind: 'launch-template-version',
          field: 'launchTemplate.version',
          expected,
          actual,
          source: 'launch-template',
        },
      ];
};

/** The instance's image is not the one the template launches. */
export const checkImage: DriftRule = ({ instance, fleet, template }) => {
  const expected = template?.imageId;
  if (!fleet.checks.image || expected === undefined || instance.imageId === undefined) return [];
  return instance.imageId === expected
    ? []
    : [{ kind: 'image', field: 'imageId', expected, actual: instance.imageId, source: 'launch-template' }];
};

/** The instance type is not the one the template launches. */
export const checkInstanceType: DriftRule = ({ instance, fleet, template }) => {
  const expected = template?.instanceType;
  if (!fleet.checks.instanceType || expected === undefined || instance.instanceType === undefined) return [];
  return instance.instanceType === expected
    ? []
    : [
        {
          kind: 'instance-type',
          field: 'instanceType',
          expected,
          actual: instance.instanceType,
          source: 'launch-template',
        },
      ];
};

/** A set, written in one order, so that the same groups always read (and hash) the same. */
function canonicalSet(values: readonly string[]): string {
  return [...new Set(values)].sort().join(',');
}

/**
 * The security groups are not the template's, compared as sets (order and duplicates do not
 * matter). An instance in a VPC always has at least one group, so an empty list means the
 * source did not report them.
 */
export const checkSecurityGroups: DriftRule = ({ instance, fleet, template }) => {
  if (!fleet.checks.securityGroups || template === undefined) return [];
  if (template.securityGroupIds.length === 0 || instance.securityGroupIds.length === 0) return [];
  const expected = canonicalSet(template.securityGroupIds);
  const actual = canonicalSet(instance.securityGroupIds);
  return actual === expected
    ? []
    : [{ kind: 'security-groups', field: 'securityGroupIds', expected, actual, source: 'launch-template' }];
};

function days(n: number): string {
  return `${n} ${n === 1 ? 'day' : 'days'}`;
}

/**
 * Older than `checks.maxAgeDays` at `now`. The age counts whole days, as people do: an
 * instance launched 30 days and 23 hours ago is 30 days old and within a 30-day limit.
 */
export const checkMaxAge: DriftRule = ({ instance, fleet, now }) => {
  const maxAgeDays = fleet.checks.maxAgeDays;
  if (maxAgeDays === undefined || instance.launchTime === undefined) return [];
  const launched = Date.parse(instance.launchTime);
  if (Number.isNaN(launched)) return [];
  const ageDays = Math.floor((now.getTime() - launched) / DAY_MS);
  return ageDays <= maxAgeDays
    ? []
    : [
        {
          kind: 'max-age',
          field: 'launchTime',
          expected: `≤ ${days(maxAgeDays)}`,
          actual: days(ageDays),
          source: 'desired-state',
        },
      ];
};

/** Rules whose expectations come from Git alone: they can judge an instance without its template. */
export const DESIRED_STATE_RULES: readonly DriftRule[] = [checkTagMissing, checkTagValue, checkMaxAge];

/** Rules that need the resolved launch template version. */
export const TEMPLATE_RULES: readonly DriftRule[] = [
  checkLaunchTemplateId,
  checkLaunchTemplateVersion,
  checkImage,
  checkInstanceType,
  checkSecurityGroups,
  checkTagUndeclared,
];

/** Every rule, one per {@link DriftKind} (tag-missing and tag-value share the declared tags). */
export const ALL_RULES: readonly DriftRule[] = [...DESIRED_STATE_RULES, ...TEMPLATE_RULES];
