import { DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultImageIds,
  evenSplit,
  registerTargets,
  type SeededLaunchTemplate,
  type SeededNetwork,
  seedAutoScalingGroup,
  seedDriftedAsgFleet,
  seedDriftedStandaloneFleet,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
  seedTargetGroup,
} from '../../emulator/seed';
import { describeInstances } from '../../functions/aws/inventory';
import { testClients } from '../helpers/emulator';

const { ec2, autoScaling, elbv2 } = testClients();

async function tagsOf(instanceId: string): Promise<Record<string, string>> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.Reservations?.[0]?.Instances?.[0];
  return Object.fromEntries((instance?.Tags ?? []).map((t) => [t.Key, t.Value]));
}

describe('seeding helpers', () => {
  let images: string[];
  let network: SeededNetwork;
  let template: SeededLaunchTemplate;

  beforeAll(async () => {
    images = await defaultImageIds(ec2);
    network = await seedNetwork(ec2);
    template = await seedLaunchTemplate(ec2, {
      name: 'seed-lt',
      versions: [
        { imageId: images[0] ?? '', instanceType: 't3.micro', instanceTags: { App: 'seed' } },
        { imageId: images[1] ?? '', instanceType: 't3.small', instanceTags: { App: 'seed' } },
      ],
      defaultVersion: 2,
    });
  });

  it('finds three distinct images that exist', () => {
    expect(new Set(images).size).toBe(3);
  });

  it('builds a VPC with subnets and security groups in two zones', () => {
    expect(network.vpcId).toMatch(/^vpc-/);
    expect(network.subnetIds).toHaveLength(2);
    expect(new Set(network.securityGroupIds).size).toBe(2);
  });

  it('creates one numbered version per spec and honours the default version', async () => {
    expect(template.versions).toEqual([1, 2]);
    const out = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: template.id, Versions: ['$Default'] }),
    );
    expect(out.LaunchTemplateVersions?.[0]?.VersionNumber).toBe(2);
    expect(out.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.InstanceType).toBe('t3.small');
  });

  it('launches an Auto Scaling group whose members carry the group, template and propagated tags', async () => {
    const group = await seedAutoScalingGroup(autoScaling, ec2, {
      name: 'seed-asg',
      launchTemplate: { id: template.id, version: 2 },
      min: 1,
      max: 3,
      desired: 2,
      subnetIds: network.subnetIds,
      tags: { Owner: 'team-seed' },
    });

    expect(group.instanceIds).toHaveLength(2);
    const tags = await tagsOf(group.instanceIds[0] ?? '');
    expect(tags).toMatchObject({
      App: 'seed',
      Owner: 'team-seed',
      'aws:autoscaling:groupName': 'seed-asg',
      'aws:ec2launchtemplate:id': template.id,
      'aws:ec2launchtemplate:version': '2',
    });
  });

  it('launches standalone instances from a given version with extra tags, registrable in a target group', async () => {
    const ids = await seedStandaloneInstances(ec2, {
      launchTemplate: { id: template.id, version: 1 },
      count: 2,
      subnetId: network.subnetIds[1],
      tags: { Fleet: 'batch' },
    });
    const targetGroupArn = await seedTargetGroup(elbv2, { name: 'seed-tg', vpcId: network.vpcId });
    await registerTargets(elbv2, targetGroupArn, ids);

    expect(await tagsOf(ids[0] ?? '')).toMatchObject({
      App: 'seed',
      Fleet: 'batch',
      'aws:ec2launchtemplate:version': '1',
    });
    const health = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
    expect(health.TargetHealthDescriptions?.map((d) => d.Target?.Id).sort()).toEqual([...ids].sort());
  });
});

describe('drifted fleets for a rollout across zones and ages', () => {
  /** Instances per zone. */
  async function zones(ids: string[]): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const i of await describeInstances(ec2, ids)) {
      const zone = i.availabilityZone ?? '?';
      counts[zone] = (counts[zone] ?? 0) + 1;
    }
    return counts;
  }
  /** Launch times (epoch ms) in the order of `ids`. */
  async function launchTimes(ids: string[]): Promise<number[]> {
    const facts = new Map((await describeInstances(ec2, ids)).map((i) => [i.instanceId, i.launchTime ?? '']));
    return ids.map((id) => Date.parse(facts.get(id) ?? ''));
  }

  it('splits a count as evenly as it can, larger parts first', () => {
    expect(evenSplit(7, 3)).toEqual([3, 2, 2]);
    expect(evenSplit(4, 2)).toEqual([2, 2]);
    expect(evenSplit(1, 2)).toEqual([1, 0]);
    expect(evenSplit(5, 0)).toEqual([5]);
  });

  it('launches a group in batches a second apart, balanced across both zones, all drifted from version 1', async () => {
    const fleet = await seedDriftedAsgFleet(
      { ec2, autoScaling, elbv2 },
      { name: 'seed-aged', desired: 4, max: 6, launchBatches: 2, cidr: '10.1.0.0/16' },
    );
    expect(fleet.group.instanceIds).toHaveLength(4);
    expect(await zones(fleet.group.instanceIds)).toEqual({ 'us-east-1a': 2, 'us-east-1b': 2 });
    const times = await launchTimes(fleet.group.instanceIds);
    // EC2 reports launch times to the second: the second batch is at least a second younger.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(1000);
    expect(await tagsOf(fleet.group.instanceIds[0] ?? '')).toMatchObject({
      'aws:ec2launchtemplate:version': '1',
    });
    const health = await elbv2.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: fleet.targetGroupArn }),
    );
    expect(health.TargetHealthDescriptions?.map((d) => d.Target?.Id).sort()).toEqual(fleet.group.instanceIds);
  });

  it('launches standalone instances across both zones in batches a second apart when asked', async () => {
    const fleet = await seedDriftedStandaloneFleet(
      { ec2, autoScaling, elbv2 },
      { name: 'seed-spread', count: 5, acrossZones: true, launchBatches: 2 },
    );
    // Batches of 3 and 2, each split across the zones.
    expect(await zones(fleet.instanceIds)).toEqual({ 'us-east-1a': 3, 'us-east-1b': 2 });
    const times = await launchTimes(fleet.instanceIds);
    expect(Math.max(...times.slice(0, 3))).toBeLessThan(Math.min(...times.slice(3)));

    const one = await seedDriftedStandaloneFleet({ ec2, autoScaling, elbv2 }, { name: 'seed-one', count: 2 });
    expect(await zones(one.instanceIds)).toEqual({ 'us-east-1b': 2 });
  });
});
