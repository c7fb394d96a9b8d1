import { DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand } from '@aws-sdk/client-ec2';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultImageIds,
  registerTargets,
  type SeededLaunchTemplate,
  type SeededNetwork,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
  seedTargetGroup,
} from '../../emulator/seed';
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
