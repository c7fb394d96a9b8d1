/**
 * Seeding helpers for the emulated account: network, launch templates with versions, Auto
 * Scaling groups, standalone instances, target groups.
 *
 * No vitest import on purpose: the demo and the benchmarks seed the same estates. Every
 * helper takes the narrow client it needs and returns the ids a caller asserts on.
 * Emulator quirks these helpers respect are in docs/emulator.md.
 */

import {
  type AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  type CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  type EC2Client,
  ModifyLaunchTemplateCommand,
  type RequestLaunchTemplateData,
  RunInstancesCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  type ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { PhoenixError } from '../functions/domain/errors';

type Ec2 = Pick<EC2Client, 'send'>;
type AutoScaling = Pick<AutoScalingClient, 'send'>;
type Elbv2 = Pick<ElasticLoadBalancingV2Client, 'send'>;
type TagMap = Record<string, string>;

/** Thrown when the emulator answers without an id the caller needs: a seeding bug, not a test failure. */
export class SeedError extends PhoenixError {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new SeedError(`seed: the emulator returned no ${what}`);
  return value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tagList(tags: TagMap): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * `count` distinct AMI ids that exist in the account (moto ships a catalogue), in a stable
 * order so tests that need "the image of v1" and "the image of v2" always get the same ones.
 */
export async function defaultImageIds(ec2: Ec2, count = 3): Promise<string[]> {
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
  const ids = [...new Set((images.Images ?? []).flatMap((i) => (i.ImageId ? [i.ImageId] : [])))].sort();
  if (ids.length < count) {
    throw new SeedError(`seed: wanted ${count} images, the emulator has ${ids.length}`);
  }
  return ids.slice(0, count);
}

export interface SeededNetwork {
  vpcId: string;
  /** One subnet in each of two availability zones. */
  subnetIds: [string, string];
  /** Two security groups in the VPC, so a test can swap one for the other. */
  securityGroupIds: [string, string];
}

/** A VPC with two subnets in two AZs and two security groups. */
export async function seedNetwork(
  ec2: Ec2,
  options: { cidr?: string; region?: string; name?: string } = {},
): Promise<SeededNetwork> {
  const region = options.region ?? 'us-east-1';
  const name = options.name ?? 'phoenix-test';
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: options.cidr ?? '10.0.0.0/16' }));
  const vpcId = required(vpc.Vpc?.VpcId, 'VPC id');
  const [a, b] = (vpc.Vpc?.CidrBlock ?? options.cidr ?? '10.0.0.0/16').split('.');
  const subnet = async (third: number, az: string) => {
    const created = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpcId,
        CidrBlock: `${a}.${b}.${third}.0/24`,
        AvailabilityZone: `${region}${az}`,
      }),
    );
    return required(created.Subnet?.SubnetId, 'subnet id');
  };
  const group = async (suffix: string) => {
    const created = await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: `${name}-${suffix}`,
        Description: `${name} ${suffix}`,
      }),
    );
    return required(created.GroupId, 'security group id');
  };
  return {
    vpcId,
    subnetIds: [await subnet(1, 'a'), await subnet(2, 'b')],
    securityGroupIds: [await group('a'), await group('b')],
  };
}

/** What one launch template version launches. */
export interface TemplateVersionSpec {
  imageId: string;
  instanceType: string;
  securityGroupIds?: string[];
  /** Tags the version applies to the instances it launches (TagSpecifications, instance). */
  instanceTags?: TagMap;
}

// No UserData: moto does not base64 it and an ASG launching such a version fails.
function templateData(spec: TemplateVersionSpec): RequestLaunchTemplateData {
  const data: RequestLaunchTemplateData = {
    ImageId: spec.imageId,
    InstanceType: spec.instanceType as RequestLaunchTemplateData['InstanceType'],
  };
  if (spec.securityGroupIds !== undefined) data.SecurityGroupIds = spec.securityGroupIds;
  if (spec.instanceTags !== undefined && Object.keys(spec.instanceTags).length > 0) {
    data.TagSpecifications = [{ ResourceType: 'instance', Tags: tagList(spec.instanceTags) }];
  }
  return data;
}

export interface SeededLaunchTemplate {
  id: string;
  name: string;
  /** Version numbers in the order of the specs given: `[1, 2, …]`. */
  versions: number[];
}

/**
 * A launch template with one version per spec (the first creates the template). The default
 * version is 1 unless `defaultVersion` says otherwise.
 */
export async function seedLaunchTemplate(
  ec2: Ec2,
  options: { name: string; versions: TemplateVersionSpec[]; defaultVersion?: number },
): Promise<SeededLaunchTemplate> {
  const [first, ...rest] = options.versions;
  if (first === undefined) throw new SeedError('seed: a launch template needs at least one version');
  const created = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: options.name,
      LaunchTemplateData: templateData(first),
    }),
  );
  const id = required(created.LaunchTemplate?.LaunchTemplateId, 'launch template id');
  const versions = [required(created.LaunchTemplate?.LatestVersionNumber, 'version number')];
  for (const spec of rest) {
    versions.push(await addLaunchTemplateVersion(ec2, { id, version: spec }));
  }
  if (options.defaultVersion !== undefined && options.defaultVersion !== 1) {
    await setDefaultVersion(ec2, { id, version: options.defaultVersion });
  }
  return { id, name: options.name, versions };
}

/**
 * Adds a version and returns its number. The full data is sent every time: moto ignores
 * `SourceVersion`, and explicit data is clearer in a test anyway.
 */
export async function addLaunchTemplateVersion(
  ec2: Ec2,
  options: { id: string; version: TemplateVersionSpec; description?: string },
): Promise<number> {
  const created = await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: options.id,
      LaunchTemplateData: templateData(options.version),
      VersionDescription: options.description,
    }),
  );
  return required(created.LaunchTemplateVersion?.VersionNumber, 'version number');
}

/** Makes `version` (a number: moto rejects `$Latest` here) the template's default. */
export async function setDefaultVersion(ec2: Ec2, options: { id: string; version: number }): Promise<void> {
  await ec2.send(
    new ModifyLaunchTemplateCommand({
      LaunchTemplateId: options.id,
      DefaultVersion: String(options.version),
    }),
  );
}

/** Which template version an ASG or RunInstances uses: a number, `$Default` or `$Latest`. */
export interface TemplateRef {
  id: string;
  version: number | '$Default' | '$Latest';
}

export interface SeededAutoScalingGroup {
  name: string;
  /** The instances the group launched (moto launches them synchronously, InService). */
  instanceIds: string[];
}

/** An Auto Scaling group over a launch template; its instances exist when this returns. */
export async function seedAutoScalingGroup(
  autoScaling: AutoScaling,
  ec2: Ec2,
  options: {
    name: string;
    launchTemplate: TemplateRef;
    min: number;
    max: number;
    desired: number;
    subnetIds: string[];
    /** Propagated to the instances at launch. */
    tags?: TagMap;
    targetGroupArns?: string[];
  },
): Promise<SeededAutoScalingGroup> {
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: options.name,
      LaunchTemplate: {
        LaunchTemplateId: options.launchTemplate.id,
        Version: String(options.launchTemplate.version),
      },
      MinSize: options.min,
      MaxSize: options.max,
      DesiredCapacity: options.desired,
      VPCZoneIdentifier: options.subnetIds.join(','),
      TargetGroupARNs: options.targetGroupArns,
      Tags: Object.entries(options.tags ?? {}).map(([Key, Value]) => ({
        Key,
        Value,
        PropagateAtLaunch: true,
        ResourceId: options.name,
        ResourceType: 'auto-scaling-group',
      })),
    }),
  );
  const instanceIds = await groupInstanceIds(autoScaling, options.name);
  await waitUntilRunning(ec2, instanceIds);
  return { name: options.name, instanceIds };
}

/**
 * Waits (bounded) until every instance is `running`. moto launches synchronously, so this
 * returns at the first look; it keeps the helpers honest for anything slower.
 */
export async function waitUntilRunning(
  ec2: Ec2,
  instanceIds: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  if (instanceIds.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [...instanceIds] }] }),
    );
    const states = new Map(
      (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId, i.State?.Name]),
    );
    const pending = instanceIds.filter((id) => states.get(id) !== 'running');
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new SeedError(`seed: instances not running after ${timeoutMs / 1000}s: ${pending.join(', ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The ids of a group's instances, sorted. */
export async function groupInstanceIds(autoScaling: AutoScaling, name: string): Promise<string[]> {
  const described = await autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = required(described.AutoScalingGroups?.[0], `Auto Scaling group ${name}`);
  return (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])).sort();
}

/**
 * Standalone instances launched from a launch template, with extra tags set at launch
 * (on top of the template's own instance tags, as EC2 merges them).
 */
export async function seedStandaloneInstances(
  ec2: Ec2,
  options: { launchTemplate: TemplateRef; count: number; subnetId: string; tags?: TagMap },
): Promise<string[]> {
  const tags = tagList(options.tags ?? {});
  const launched = await ec2.send(
    new RunInstancesCommand({
      LaunchTemplate: {
        LaunchTemplateId: options.launchTemplate.id,
        Version: String(options.launchTemplate.version),
      },
      MinCount: options.count,
      MaxCount: options.count,
      SubnetId: options.subnetId,
      TagSpecifications: tags.length > 0 ? [{ ResourceType: 'instance', Tags: tags }] : undefined,
    }),
  );
  const ids = (launched.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
  if (ids.length !== options.count) {
    throw new SeedError(`seed: asked for ${options.count} instances, the emulator launched ${ids.length}`);
  }
  await waitUntilRunning(ec2, ids);
  return ids;
}

/** An instance target group (HTTP) in the VPC. */
export async function seedTargetGroup(
  elbv2: Elbv2,
  options: { name: string; vpcId: string; port?: number },
): Promise<string> {
  const created = await elbv2.send(
    new CreateTargetGroupCommand({
      Name: options.name,
      Protocol: 'HTTP',
      Port: options.port ?? 80,
      VpcId: options.vpcId,
      TargetType: 'instance',
    }),
  );
  return required(created.TargetGroups?.[0]?.TargetGroupArn, 'target group ARN');
}

/** Registers running instances with a target group (moto refuses non-running ones, as AWS does). */
export async function registerTargets(
  elbv2: Elbv2,
  targetGroupArn: string,
  instanceIds: readonly string[],
  port?: number,
): Promise<void> {
  await elbv2.send(
    new RegisterTargetsCommand({
      TargetGroupArn: targetGroupArn,
      Targets: instanceIds.map((Id) => (port === undefined ? { Id } : { Id, Port: port })),
    }),
  );
}

/** The clients seeding a whole fleet needs. */
export interface FleetClients {
  ec2: Ec2;
  autoScaling: AutoScaling;
  elbv2: Elbv2;
}

/**
 * EC2 reports launch times to the second: launches this far apart get different ones, so a
 * scenario that orders instances by age (oldest first) has ages to order.
 */
const LAUNCH_TIME_STEP_MS = 1_100;

/** `total` split into `parts` counts as even as can be, larger first (`7, 3` → `3, 2, 2`). */
export function evenSplit(total: number, parts: number): number[] {
  const n = Math.max(1, Math.floor(parts));
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

/**
 * An Auto Scaling fleet whose members were launched from version 1 before version 2 became the
 * default. Its group spans both subnets (two Availability Zones; the group balances its
 * members across them). `launchBatches` (default 1): the members join in that many batches a
 * second apart, so their launch times differ.
 */
export async function seedDriftedAsgFleet(
  clients: FleetClients,
  options: {
    name: string;
    desired: number;
    max: number;
    min?: number;
    cidr?: string;
    launchBatches?: number;
  },
) {
  const network = await seedNetwork(clients.ec2, { name: options.name, cidr: options.cidr ?? '10.0.0.0/16' });
  const [oldImage = '', newImage = ''] = await defaultImageIds(clients.ec2, 2);
  const template = await seedLaunchTemplate(clients.ec2, {
    name: `${options.name}-lt`,
    versions: [
      { imageId: oldImage, instanceType: 't3.micro', securityGroupIds: [network.securityGroupIds[0]] },
      { imageId: newImage, instanceType: 't3.micro', securityGroupIds: [network.securityGroupIds[0]] },
    ],
  });
  const targetGroupArn = await seedTargetGroup(clients.elbv2, {
    name: `${options.name}-tg`,
    vpcId: network.vpcId,
  });
  const [first = options.desired, ...later] = evenSplit(options.desired, options.launchBatches ?? 1);
  const seeded = await seedAutoScalingGroup(clients.autoScaling, clients.ec2, {
    name: `${options.name}-asg`,
    launchTemplate: { id: template.id, version: '$Default' },
    min: Math.min(options.min ?? 1, first),
    max: options.max,
    desired: first,
    subnetIds: [...network.subnetIds],
    tags: { Owner: `team-${options.name}` },
    targetGroupArns: [targetGroupArn],
  });
  let desired = first;
  for (const batch of later) {
    await sleep(LAUNCH_TIME_STEP_MS);
    desired += batch;
    await clients.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: seeded.name, DesiredCapacity: desired }),
    );
  }
  const group =
    later.length === 0
      ? seeded
      : { name: seeded.name, instanceIds: await groupInstanceIds(clients.autoScaling, seeded.name) };
  await waitUntilRunning(clients.ec2, group.instanceIds);
  // moto registers ASG members with the group's target groups only on later scaling.
  await registerTargets(clients.elbv2, targetGroupArn, group.instanceIds, 80);
  await setDefaultVersion(clients.ec2, { id: template.id, version: 2 });
  return { network, template, targetGroupArn, group, newImage, oldImage };
}

/**
 * Standalone instances tagged into a fleet, launched from version 1, registered in a target
 * group. By default all in the second subnet; `acrossZones`: alternately in both subnets (two
 * Availability Zones). `launchBatches` (default 1): launched in that many batches a second
 * apart, so their launch times differ.
 */
export async function seedDriftedStandaloneFleet(
  clients: FleetClients,
  options: { name: string; count: number; acrossZones?: boolean; launchBatches?: number },
) {
  const network = await seedNetwork(clients.ec2, { name: options.name });
  const [oldImage = '', newImage = ''] = await defaultImageIds(clients.ec2, 2);
  const template = await seedLaunchTemplate(clients.ec2, {
    name: `${options.name}-lt`,
    versions: [
      { imageId: oldImage, instanceType: 't3.micro', securityGroupIds: [network.securityGroupIds[0]] },
      { imageId: newImage, instanceType: 't3.micro', securityGroupIds: [network.securityGroupIds[0]] },
    ],
  });
  const subnets = options.acrossZones === true ? [...network.subnetIds] : [network.subnetIds[1]];
  const instanceIds: string[] = [];
  for (const [index, batch] of evenSplit(options.count, options.launchBatches ?? 1).entries()) {
    if (index > 0) await sleep(LAUNCH_TIME_STEP_MS);
    for (const [zone, count] of evenSplit(batch, subnets.length).entries()) {
      const subnetId = subnets[(zone + index) % subnets.length];
      if (count === 0 || subnetId === undefined) continue;
      instanceIds.push(
        ...(await seedStandaloneInstances(clients.ec2, {
          launchTemplate: { id: template.id, version: 1 },
          count,
          subnetId,
          tags: { App: options.name, Owner: `team-${options.name}` },
        })),
      );
    }
  }
  const targetGroupArn = await seedTargetGroup(clients.elbv2, {
    name: `${options.name}-tg`,
    vpcId: network.vpcId,
  });
  await registerTargets(clients.elbv2, targetGroupArn, instanceIds, 8080);
  await setDefaultVersion(clients.ec2, { id: template.id, version: 2 });
  return { network, template, targetGroupArn, instanceIds, newImage, oldImage };
}

/**
 * A metric alarm named `name` in `state` (a 5xx count, one period): what a test needs to gate a
 * fleet. moto starts a new alarm OK (AWS: INSUFFICIENT_DATA), so the state is always set.
 */
export async function seedAlarm(
  cloudwatch: Pick<CloudWatchClient, 'send'>,
  name: string,
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA',
  reason = 'test',
): Promise<void> {
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'Web',
      MetricName: '5xx',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),
  );
  await cloudwatch.send(
    new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: reason }),
  );
}
