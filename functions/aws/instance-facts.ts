/**
 * Adapters from what AWS says about an instance to the engine's {@link InstanceFacts}, and
 * from a launch template version to {@link LaunchTemplateFacts}.
 *
 * Three sources describe the same instance differently: an AWS Config configuration item
 * (camelCase, tags both as a map and as a `{key,value}` list, `configuration` sometimes a
 * JSON string), the EC2 API (`Instance`, PascalCase), and launch template versions. Each
 * adapter validates what it needs and says exactly which field is missing, so a malformed
 * event fails loudly instead of turning into a wrong verdict.
 */
import type { Instance, LaunchTemplateVersion } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { InvalidInputError } from '../domain/errors';
import type { InstanceFacts, LaunchTemplateFacts, Tags } from '../domain/model';
import { StringMap, validate } from '../runtime/validation';

/** Tags EC2 and Auto Scaling set on the instances they launch. */
export const LAUNCH_TEMPLATE_ID_TAG = 'aws:ec2launchtemplate:id';
export const LAUNCH_TEMPLATE_VERSION_TAG = 'aws:ec2launchtemplate:version';
export const AUTO_SCALING_GROUP_TAG = 'aws:autoscaling:groupName';

/** Config statuses for a resource that no longer exists; such items carry no configuration. */
const DELETED_STATUSES: ReadonlySet<string> = new Set(['ResourceDeleted', 'ResourceDeletedNotRecorded']);

const nonEmptyString = z.string().check(z.minLength(1));

const configTagList = z.array(z.object({ key: nonEmptyString, value: z.string() }));

/**
 * The envelope of a configuration item. Config delivers `configuration` as an object in rule
 * invocations, and as a JSON string through the API (GetResourceConfigHistory,
 * BatchGetResourceConfig: the path for oversized items).
 */
const configItemSchema = z.object({
  resourceType: z.literal('AWS::EC2::Instance', {
    // Returning nothing for an absent field leaves it to the shared "is missing".
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : `is ${JSON.stringify(issue.input)}, but only AWS::EC2::Instance items describe instances`,
  }),
  resourceId: nonEmptyString,
  configurationItemStatus: nonEmptyString,
  tags: z.nullish(StringMap),
  configuration: z.nullish(z.union([z.string(), z.record(z.string(), z.unknown())])),
});

/** The part of the EC2 instance description (as Config records it) the engine needs. */
const instanceConfigurationSchema = z.object({
  instanceId: nonEmptyString,
  imageId: nonEmptyString,
  instanceType: nonEmptyString,
  state: z.object({ name: nonEmptyString }),
  launchTime: z.union([nonEmptyString, z.number()]),
  securityGroups: z.array(z.object({ groupId: nonEmptyString })),
  subnetId: z.nullish(z.string()),
  vpcId: z.nullish(z.string()),
  placement: z.nullish(z.object({ availabilityZone: z.nullish(z.string()) })),
  tags: z.nullish(configTagList),
});

function itemLabel(item: unknown): string {
  if (typeof item === 'object' && item !== null && 'resourceId' in item) {
    const id = (item as { resourceId: unknown }).resourceId;
    if (typeof id === 'string' && id !== '') return `Config item for ${id}`;
  }
  return 'Config item';
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

/** Lineage facts every source derives the same way: from the tags AWS sets at launch. */
function lineageFromTags(tags: Tags): Pick<InstanceFacts, 'launchTemplate' | 'autoScalingGroup'> {
  const lineage: Pick<InstanceFacts, 'launchTemplate' | 'autoScalingGroup'> = {};
  const templateId = nonEmpty(tags[LAUNCH_TEMPLATE_ID_TAG]);
  const templateVersion = nonEmpty(tags[LAUNCH_TEMPLATE_VERSION_TAG]);
  if (templateId !== undefined && templateVersion !== undefined) {
    lineage.launchTemplate = { id: templateId, version: templateVersion };
  }
  const group = nonEmpty(tags[AUTO_SCALING_GROUP_TAG]);
  if (group !== undefined) lineage.autoScalingGroup = group;
  return lineage;
}

/** Adds the optional facts that have a value, leaving the others absent rather than `undefined`. */
function withOptional(facts: InstanceFacts, optional: Partial<InstanceFacts>): InstanceFacts {
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(facts, { [key]: value });
  }
  return facts;
}

function isoTime(value: string | number | Date, label: string, field: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidInputError(`${label}: ${field} is not a time: ${JSON.stringify(value)}`);
  }
  return date.toISOString();
}

/**
 * Instance facts from an AWS Config configuration item for `AWS::EC2::Instance`, as a
 * custom rule receives it (`invokingEvent.configurationItem`) or as the Config API returns
 * it (`configuration` as a JSON string).
 *
 * Tags are the union of the item's `tags` map and `configuration.tags` list; the map wins
 * where both name a key (both come from the same capture, so they agree in practice).
 * A deleted resource (`ResourceDeleted`) has no configuration: its facts say `terminated`.
 *
 * @throws InvalidInputError naming every missing or malformed field.
 */
export function factsFromConfigItem(item: unknown): InstanceFacts {
  const label = itemLabel(item);
  const envelope = validate(configItemSchema, item);
  if (!envelope.ok) throw new InvalidInputError(`${label} is not usable: ${envelope.problem}`);
  const { resourceId, configurationItemStatus, tags: tagMap } = envelope.value;

  if (DELETED_STATUSES.has(configurationItemStatus)) {
    const tags: Tags = { ...(tagMap ?? {}) };
    return {
      instanceId: resourceId,
      state: 'terminated',
      tags,
      securityGroupIds: [],
      ...lineageFromTags(tags),
    };
  }

  let configuration: unknown = envelope.value.configuration;
  if (configuration === null || configuration === undefined) {
    throw new InvalidInputError(
      `${label} is not usable: configuration is missing (status ${configurationItemStatus})`,
    );
  }
  if (typeof configuration === 'string') {
    try {
      configuration = JSON.parse(configuration);
    } catch (cause) {
      throw new InvalidInputError(`${label} is not usable: configuration is a string but not JSON`, {
        cause,
      });
    }
  }
  const parsed = validate(instanceConfigurationSchema, configuration, 'configuration');
  if (!parsed.ok) throw new InvalidInputError(`${label} is not usable: ${parsed.problem}`);
  const c = parsed.value;
  if (c.instanceId !== resourceId) {
    throw new InvalidInputError(
      `${label} is not usable: configuration.instanceId is ${c.instanceId}, not the item's resourceId`,
    );
  }

  const tags: Tags = {
    ...Object.fromEntries((c.tags ?? []).map((t) => [t.key, t.value])),
    ...(tagMap ?? {}),
  };
  return withOptional(
    {
      instanceId: resourceId,
      state: c.state.name,
      tags,
      securityGroupIds: c.securityGroups.map((g) => g.groupId),
    },
    {
      imageId: c.imageId,
      instanceType: c.instanceType,
      subnetId: nonEmpty(c.subnetId),
      vpcId: nonEmpty(c.vpcId),
      availabilityZone: nonEmpty(c.placement?.availabilityZone),
      launchTime: isoTime(c.launchTime, label, 'configuration.launchTime'),
      ...lineageFromTags(tags),
    },
  );
}

/**
 * Tags from the SDK's `{ Key, Value }` list. Built with `Object.fromEntries`, which defines
 * each key as an own property: assigning `tags['__proto__'] = …` would set the prototype
 * instead (and drop a tag EC2 allows), so a declared `__proto__` tag would look missing.
 */
export function tagsFromSdk(list: readonly { Key?: string; Value?: string }[] | undefined): Tags {
  return Object.fromEntries(
    (list ?? []).flatMap(({ Key, Value }) => (Key !== undefined && Key !== '' ? [[Key, Value ?? '']] : [])),
  );
}

/**
 * Instance facts from an EC2 API `Instance` (DescribeInstances, RunInstances).
 *
 * @throws InvalidInputError when the instance has no id or no state.
 */
export function factsFromEc2Instance(instance: Instance): InstanceFacts {
  const instanceId = nonEmpty(instance.InstanceId);
  if (instanceId === undefined)
    throw new InvalidInputError('EC2 instance is not usable: InstanceId is missing');
  const state = nonEmpty(instance.State?.Name);
  if (state === undefined) {
    throw new InvalidInputError(`EC2 instance ${instanceId} is not usable: State.Name is missing`);
  }
  const tags = tagsFromSdk(instance.Tags);
  return withOptional(
    {
      instanceId,
      state,
      tags,
      securityGroupIds: (instance.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
    },
    {
      imageId: nonEmpty(instance.ImageId),
      instanceType: nonEmpty(instance.InstanceType),
      subnetId: nonEmpty(instance.SubnetId),
      vpcId: nonEmpty(instance.VpcId),
      availabilityZone: nonEmpty(instance.Placement?.AvailabilityZone),
      launchTime:
        instance.LaunchTime === undefined
          ? undefined
          : isoTime(instance.LaunchTime, `EC2 instance ${instanceId}`, 'LaunchTime'),
      ...lineageFromTags(tags),
    },
  );
}

/**
 * An image id the template resolves at launch (`resolve:ssm:/aws/service/…`) names no AMI
 * an instance could carry; comparing it would call every instance drifted, forever.
 */
function concreteImageId(imageId: string | undefined): string | undefined {
  const id = nonEmpty(imageId);
  return id?.startsWith('resolve:ssm:') ? undefined : id;
}

/**
 * Launch template facts from one `LaunchTemplateVersion` (DescribeLaunchTemplateVersions).
 * Security groups come from `SecurityGroupIds`, else from the primary network interface.
 *
 * @throws InvalidInputError when the id, name or version number is missing.
 */
export function templateFactsFromVersion(version: LaunchTemplateVersion): LaunchTemplateFacts {
  const id = nonEmpty(version.LaunchTemplateId);
  const name = nonEmpty(version.LaunchTemplateName);
  const number = version.VersionNumber;
  const missing = [
    id === undefined ? 'LaunchTemplateId' : undefined,
    name === undefined ? 'LaunchTemplateName' : undefined,
    number === undefined ? 'VersionNumber' : undefined,
  ].filter((field) => field !== undefined);
  if (id === undefined || name === undefined || number === undefined) {
    const which = id ?? name;
    const label = which === undefined ? 'Launch template version' : `Launch template version of ${which}`;
    throw new InvalidInputError(`${label} is not usable: ${missing.join(', ')} missing`);
  }
  const data = version.LaunchTemplateData ?? {};
  const primaryInterface =
    data.NetworkInterfaces?.find((ni) => (ni.DeviceIndex ?? 0) === 0) ?? data.NetworkInterfaces?.[0];
  const securityGroupIds =
    data.SecurityGroupIds && data.SecurityGroupIds.length > 0
      ? [...data.SecurityGroupIds]
      : [...(primaryInterface?.Groups ?? [])];
  const instanceTags = tagsFromSdk(
    (data.TagSpecifications ?? [])
      .filter((spec) => spec.ResourceType === 'instance')
      .flatMap((spec) => spec.Tags ?? []),
  );
  const facts: LaunchTemplateFacts = { id, name, version: number, securityGroupIds, instanceTags };
  const imageId = concreteImageId(data.ImageId);
  if (imageId !== undefined) facts.imageId = imageId;
  const instanceType = nonEmpty(data.InstanceType);
  if (instanceType !== undefined) facts.instanceType = instanceType;
  if ((data.NetworkInterfaces ?? []).length > 0) facts.definesNetworkInterfaces = true;
  return facts;
}
