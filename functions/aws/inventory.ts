/**
 * Fleet lookups against EC2 and Auto Scaling: which instances a fleet has, what a set of
 * instances looks like now, which launch template version a fleet's spec means today, and
 * which tags a group propagates.
 *
 * Selection is done server-side with filters (never a full account scan filtered in memory),
 * pages are as large as EC2 allows, and every answer is converted to the engine's facts.
 */

import {
  type AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type DescribeLaunchTemplateVersionsCommandInput,
  type DescribeLaunchTemplateVersionsCommandOutput,
  type EC2Client,
  type Filter,
} from '@aws-sdk/client-ec2';
import { InvalidInputError } from '../domain/errors';
import type {
  CompiledFleet,
  InstanceFacts,
  LaunchTemplateFacts,
  LaunchTemplateSpec,
  Tags,
} from '../domain/model';
import { AutoScalingGroupNotFoundError, LaunchTemplateNotFoundError } from './errors';
import {
  AUTO_SCALING_GROUP_TAG,
  factsFromEc2Instance,
  tagsFromSdk,
  templateFactsFromVersion,
} from './instance-facts';

export type Ec2 = Pick<EC2Client, 'send'>;
type AutoScaling = Pick<AutoScalingClient, 'send'>;

/** States an instance can be replaced from; shutting-down and terminated ones are already leaving. */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;

/** DescribeInstances' largest page. */
const PAGE_SIZE = 1000;
/** EC2 accepts at most 200 values in one filter. */
const MAX_FILTER_VALUES = 200;

/** The server-side filters that select a fleet's live instances. */
export function fleetFilters(fleet: Pick<CompiledFleet, 'name' | 'match'>): Filter[] {
  const selector: Filter[] =
    fleet.match.kind === 'autoScalingGroup'
      ? [{ Name: `tag:${AUTO_SCALING_GROUP_TAG}`, Values: [fleet.match.autoScalingGroup] }]
      : Object.entries(fleet.match.tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));
  if (selector.length === 0) {
    // No filter would mean every instance in the account: a fleet that selects nothing, selects nothing.
    throw new InvalidInputError(`fleet ${fleet.name} selects by tags but declares none`);
  }
  return [...selector, { Name: 'instance-state-name', Values: [...LIVE_STATES] }];
}

async function describeWithFilters(ec2: Ec2, filters: Filter[]): Promise<InstanceFacts[]> {
  const facts: InstanceFacts[] = [];
  // A NextToken loop rather than the SDK paginator: the paginator wants a whole EC2Client,
  // and callers inject only `send` (a fake, a mock, a client with middleware).
  let nextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({ Filters: filters, MaxResults: PAGE_SIZE, NextToken: nextToken }),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) facts.push(factsFromEc2Instance(instance));
    }
    nextToken = page.NextToken === '' ? undefined : page.NextToken;
  } while (nextToken !== undefined);
  return facts;
}

/**
 * Every live (pending, running, stopping, stopped) instance the fleet's selector picks: its
 * Auto Scaling group's members, or the instances carrying all its selector tags. Exclusions
 * and the "tag fleets hold standalone instances only" rule are `findFleet`'s to apply.
 */
export async function listFleetInstances(
  ec2: Ec2,
  fleet: Pick<CompiledFleet, 'name' | 'match'>,
): Promise<InstanceFacts[]> {
  return describeWithFilters(ec2, fleetFilters(fleet));
}

/**
 * The current facts of the given instances, in any state (terminated ones included, so a
 * caller can tell "gone" from "changed"). Ids that do not exist are left out, not an error:
 * an instance terminated between an event and its handling is normal.
 */
export async function describeInstances(ec2: Ec2, ids: readonly string[]): Promise<InstanceFacts[]> {
  const unique = [...new Set(ids)];
  const facts: InstanceFacts[] = [];
  // An `instance-id` filter rather than `InstanceIds`: with InstanceIds, one unknown id fails
  // the whole call (InvalidInstanceID.NotFound), with the filter it just matches nothing.
  for (let start = 0; start < unique.length; start += MAX_FILTER_VALUES) {
    const chunk = unique.slice(start, start + MAX_FILTER_VALUES);
    facts.push(...(await describeWithFilters(ec2, [{ Name: 'instance-id', Values: chunk }])));
  }
  return facts;
}

function describeSpec(spec: LaunchTemplateSpec): string {
  return `launch template ${spec.id ?? spec.name ?? '(unnamed)'} version ${spec.version}`;
}

const NOT_FOUND_ERRORS: ReadonlySet<string> = new Set([
  'InvalidLaunchTemplateId.NotFound',
  'InvalidLaunchTemplateName.NotFoundException',
  'InvalidLaunchTemplateId.VersionNotFound',
  'InvalidLaunchTemplateName.MalformedException',
  'InvalidLaunchTemplateId.Malformed',
]);

/**
 * The launch template version a spec means now, with `$Default` / `$Latest` resolved to the
 * version number (executions pin that number, never the alias).
 *
 * @throws LaunchTemplateNotFoundError when the template or the version does not exist.
 * @throws InvalidInputError when the spec names neither an id nor a name.
 */
export async function resolveLaunchTemplate(
  ec2: Ec2,
  spec: LaunchTemplateSpec,
): Promise<LaunchTemplateFacts> {
  const input: DescribeLaunchTemplateVersionsCommandInput = { Versions: [String(spec.version)] };
  // The id is immutable and unambiguous; the name is used only when no id is given.
  if (spec.id !== undefined) input.LaunchTemplateId = spec.id;
  else if (spec.name !== undefined) input.LaunchTemplateName = spec.name;
  else throw new InvalidInputError(`${describeSpec(spec)}: a launch template needs an id or a name`);

  let output: DescribeLaunchTemplateVersionsCommandOutput;
  try {
    output = await ec2.send(new DescribeLaunchTemplateVersionsCommand(input));
  } catch (error) {
    if (error instanceof Error && NOT_FOUND_ERRORS.has(error.name)) {
      throw new LaunchTemplateNotFoundError(`${describeSpec(spec)} does not exist: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  const [version] = output.LaunchTemplateVersions ?? [];
  if (version === undefined) throw new LaunchTemplateNotFoundError(`${describeSpec(spec)} does not exist`);
  return templateFactsFromVersion(version);
}

/** What an Auto Scaling group builds a fresh member from: its launch template and the tags it propagates. */
export interface GroupSource {
  propagatedTags: Tags;
  /** The version the group launches, resolved; undefined for a group on a launch configuration. */
  template?: LaunchTemplateFacts;
}

/**
 * A group's source in one `DescribeAutoScalingGroups` (and a template lookup only when the
 * group names another template or version than `known`, the fleet's own).
 *
 * @throws AutoScalingGroupNotFoundError when the group does not exist.
 */
export async function groupSourceOf(
  ec2: Ec2,
  autoScaling: AutoScaling,
  groupName: string,
  known?: { spec: LaunchTemplateSpec; facts: LaunchTemplateFacts },
): Promise<GroupSource> {
  const group = await describeAutoScalingGroup(autoScaling, groupName);
  if (group === undefined) {
    throw new AutoScalingGroupNotFoundError(`Auto Scaling group ${groupName} does not exist`);
  }
  return sourceOfGroup(ec2, group, known);
}

/** One Auto Scaling group as it is now, or undefined when there is no group of that name. */
export async function describeAutoScalingGroup(
  autoScaling: AutoScaling,
  groupName: string,
): Promise<AutoScalingGroup | undefined> {
  const described = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  return described.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
}

/**
 * The source of a group already described: the tags it propagates (`PropagateAtLaunch`) and
 * its own launch template version, resolved (see {@link groupSourceOf}).
 */
export async function sourceOfGroup(
  ec2: Ec2,
  group: AutoScalingGroup,
  known?: { spec: LaunchTemplateSpec; facts: LaunchTemplateFacts },
): Promise<GroupSource> {
  const source: GroupSource = { propagatedTags: propagatedTagsFrom(group) };
  const template = await groupLaunchTemplate(ec2, group, known);
  if (template !== undefined) source.template = template;
  return source;
}

function propagatedTagsFrom(group: AutoScalingGroup): Tags {
  return tagsFromSdk((group.Tags ?? []).filter((tag) => tag.PropagateAtLaunch === true));
}

/**
 * The launch template version an Auto Scaling group launches from, resolved; undefined for a
 * group on a launch configuration. When the group names the same template and version as an
 * already resolved spec (`known`: the fleet's declared template, the common case), that
 * resolution is reused instead of asking EC2 again.
 */
async function groupLaunchTemplate(
  ec2: Ec2,
  group: AutoScalingGroup,
  known?: { spec: LaunchTemplateSpec; facts: LaunchTemplateFacts },
): Promise<LaunchTemplateFacts | undefined> {
  const spec =
    group.LaunchTemplate ??
    group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification ??
    undefined;
  if (spec === undefined) return undefined;
  const raw = spec.Version ?? '$Default';
  const parsed = raw === '$Latest' || raw === '$Default' ? raw : Number(raw);
  const version: LaunchTemplateSpec['version'] =
    typeof parsed === 'number' && !Number.isInteger(parsed) ? '$Default' : parsed;
  if (known !== undefined && String(known.spec.version) === String(version)) {
    const sameTemplate =
      spec.LaunchTemplateId !== undefined
        ? spec.LaunchTemplateId === known.facts.id
        : spec.LaunchTemplateName === known.facts.name;
    if (sameTemplate) return known.facts;
  }
  const ref: LaunchTemplateSpec = { version };
  if (spec.LaunchTemplateId) ref.id = spec.LaunchTemplateId;
  else if (spec.LaunchTemplateName) ref.name = spec.LaunchTemplateName;
  return resolveLaunchTemplate(ec2, ref);
}
