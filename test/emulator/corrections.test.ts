/**
 * The emulated account behaves as AWS does where Phoenix depends on it: each correction
 * moto-launcher.py makes to moto 5.2.1, proved against the running emulator (the launcher is
 * what the global setup starts). docs/emulator.md cites the AWS page each one follows.
 */
import {
  DetachInstancesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { targetsOf } from '../../emulator/account';
import {
  defaultImageIds,
  groupInstanceIds,
  type SeededNetwork,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedTargetGroup,
} from '../../emulator/seed';
import type { PhoenixClients } from '../../functions/aws/clients';
import { describeInstances } from '../../functions/aws/inventory';
import { testClientConfig, testClients } from '../helpers/emulator';

let clients: PhoenixClients;
let network: SeededNetwork;
let image = '';
let groups = 0;

beforeAll(async () => {
  clients = testClients();
  network = await seedNetwork(clients.ec2, { name: 'corrections' });
  [image = ''] = await defaultImageIds(clients.ec2, 1);
});

/** A group of `desired` members behind its own target group. */
async function groupBehindTargetGroup(desired: number) {
  groups += 1;
  const name = `corrections-${groups}`;
  const template = await seedLaunchTemplate(clients.ec2, {
    name: `${name}-lt`,
    versions: [{ imageId: image, instanceType: 't3.micro' }],
  });
  const targetGroupArn = await seedTargetGroup(clients.elbv2, { name: `${name}-tg`, vpcId: network.vpcId });
  const group = await seedAutoScalingGroup(clients.autoScaling, clients.ec2, {
    name,
    launchTemplate: { id: template.id, version: '$Default' },
    min: 0,
    max: desired + 2,
    desired,
    subnetIds: [...network.subnetIds],
    targetGroupArns: [targetGroupArn],
  });
  return { name, targetGroupArn, members: group.instanceIds };
}

const registered = async (targetGroupArn: string) =>
  Object.keys(await targetsOf(clients, targetGroupArn)).sort();

describe('a member leaving its Auto Scaling group', () => {
  it('is registered with the group target groups while it is a member', async () => {
    const group = await groupBehindTargetGroup(2);

    expect(await registered(group.targetGroupArn)).toEqual(group.members);
  });

  it('detached: loses aws:autoscaling:groupName and leaves the group target groups', async () => {
    const group = await groupBehindTargetGroup(2);
    const [leaving = ''] = group.members;

    await clients.autoScaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: group.name,
        InstanceIds: [leaving],
        ShouldDecrementDesiredCapacity: false,
      }),
    );

    const [detached] = await describeInstances(clients.ec2, [leaving]);
    expect(detached?.state).toBe('running');
    expect(detached?.tags).not.toHaveProperty('aws:autoscaling:groupName');
    const now = await registered(group.targetGroupArn);
    expect(now).not.toContain(leaving);
    // The group replaced it (desired capacity kept), and registered the newcomer.
    expect(now).toEqual(await groupInstanceIds(clients.autoScaling, group.name));
  });

  it('terminated by its group (TerminateInstanceInAutoScalingGroup): leaves the target groups', async () => {
    const group = await groupBehindTargetGroup(3);
    const [leaving = ''] = group.members;

    await clients.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: leaving,
        ShouldDecrementDesiredCapacity: true,
      }),
    );

    expect(await registered(group.targetGroupArn)).toEqual(group.members.filter((id) => id !== leaving));
  });

  it('terminated by a scale-in: leaves the target groups', async () => {
    const group = await groupBehindTargetGroup(3);

    await clients.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group.name, DesiredCapacity: 1 }),
    );

    const left = await groupInstanceIds(clients.autoScaling, group.name);
    expect(left).toHaveLength(1);
    expect(await registered(group.targetGroupArn)).toEqual(left);
  });
});

describe('Standby', () => {
  it('takes a member out of the target groups, and ExitStandby puts it back', async () => {
    const group = await groupBehindTargetGroup(2);
    const [resting = '', other = ''] = group.members;

    await clients.autoScaling.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: group.name,
        InstanceIds: [resting],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    expect(await registered(group.targetGroupArn)).toEqual([other]);

    await clients.autoScaling.send(
      new ExitStandbyCommand({ AutoScalingGroupName: group.name, InstanceIds: [resting] }),
    );
    expect(await registered(group.targetGroupArn)).toEqual(group.members);
  });
});

describe('a member deregistered by hand', () => {
  it('stays deregistered when the group scales: the group registers a member once, when it joins', async () => {
    const group = await groupBehindTargetGroup(2);
    const [drained = '', kept = ''] = group.members;
    await clients.elbv2.send(
      new DeregisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: drained }] }),
    );

    await clients.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group.name, DesiredCapacity: 3 }),
    );

    const members = await groupInstanceIds(clients.autoScaling, group.name);
    const newcomer = members.find((id) => !group.members.includes(id)) ?? '';
    expect(members).toHaveLength(3);
    expect(await registered(group.targetGroupArn)).toEqual([kept, newcomer].sort());
  });
});

describe('DeregisterTargets', () => {
  it('of an instance that is no longer registered succeeds and changes nothing', async () => {
    const group = await groupBehindTargetGroup(2);
    const [gone = '', kept = ''] = group.members;
    const deregister = () =>
      clients.elbv2.send(
        new DeregisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: gone }] }),
      );
    await deregister();

    await expect(deregister()).resolves.toBeDefined();
    expect(await registered(group.targetGroupArn)).toEqual([kept]);
  });

  it('of an instance that does not exist is refused (InvalidTarget)', async () => {
    const group = await groupBehindTargetGroup(1);

    await expect(
      clients.elbv2.send(
        new DeregisterTargetsCommand({
          TargetGroupArn: group.targetGroupArn,
          Targets: [{ Id: 'i-0000000000000dead' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidTargetException' });
  });
});

describe('an image id resolved from Systems Manager (resolve:ssm:)', () => {
  it('launches the AMI the parameter names, from a launch template or a RunInstances', async () => {
    const ssm = new SSMClient(testClientConfig());
    await ssm.send(
      new PutParameterCommand({
        Name: '/corrections/web/ami',
        Type: 'String',
        Value: image,
        DataType: 'aws:ec2:image',
      }),
    );
    const template = await seedLaunchTemplate(clients.ec2, {
      name: 'corrections-ssm-lt',
      versions: [{ imageId: 'resolve:ssm:/corrections/web/ami', instanceType: 't3.micro' }],
    });

    const fromTemplate = await clients.ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: template.id, Version: '1' },
        MinCount: 1,
        MaxCount: 1,
        SubnetId: network.subnetIds[0],
      }),
    );
    const direct = await clients.ec2.send(
      new RunInstancesCommand({
        ImageId: 'resolve:ssm:/corrections/web/ami',
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: network.subnetIds[0],
      }),
    );

    expect(fromTemplate.Instances?.[0]?.ImageId).toBe(image);
    expect(direct.Instances?.[0]?.ImageId).toBe(image);
  });

  it('refuses a launch whose parameter does not exist', async () => {
    await expect(
      clients.ec2.send(
        new RunInstancesCommand({
          ImageId: 'resolve:ssm:/corrections/missing',
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          SubnetId: network.subnetIds[0],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});

describe('DescribeInstances', () => {
  it('counts MaxResults in instances, splitting a reservation across pages', async () => {
    const launched = await clients.ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        InstanceType: 't3.nano',
        MinCount: 7,
        MaxCount: 7,
        SubnetId: network.subnetIds[1],
      }),
    );
    const ids = (launched.Instances ?? []).map((i) => i.InstanceId);
    const filters = [{ Name: 'instance-type', Values: ['t3.nano'] }];

    const first = await clients.ec2.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: 5 }));
    const second = await clients.ec2.send(
      new DescribeInstancesCommand({ Filters: filters, MaxResults: 5, NextToken: first.NextToken }),
    );

    const count = (page: typeof first) => (page.Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
    expect([count(first), count(second)]).toEqual([5, 2]);
    expect(second.NextToken).toBeUndefined();
    const seen = [first, second].flatMap((p) => (p.Reservations ?? []).flatMap((r) => r.Instances ?? []));
    expect(seen.map((i) => i.InstanceId).sort()).toEqual([...ids].sort());
  });
});

describe('an Auto Scaling group over subnets in two Availability Zones', () => {
  const zonesOf = async (ids: string[]) => {
    const counts: Record<string, number> = {};
    for (const instance of await describeInstances(clients.ec2, ids)) {
      const zone = instance.availabilityZone ?? '?';
      counts[zone] = (counts[zone] ?? 0) + 1;
    }
    return counts;
  };

  it('launches its members balanced across the zones, at creation and each time it scales out', async () => {
    const group = await groupBehindTargetGroup(5);
    expect(await zonesOf(group.members)).toEqual({ 'us-east-1a': 3, 'us-east-1b': 2 });

    await clients.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: group.name, DesiredCapacity: 6 }),
    );
    const six = await groupInstanceIds(clients.autoScaling, group.name);
    // The sixth goes to the zone with fewer members.
    expect(await zonesOf(six)).toEqual({ 'us-east-1a': 3, 'us-east-1b': 3 });
    expect(await registered(group.targetGroupArn)).toEqual(six);
  });

  it('launches a replacement for a member that left in the zone left short', async () => {
    const group = await groupBehindTargetGroup(4);
    const before = await describeInstances(clients.ec2, group.members);
    const leaving = before.find((i) => i.availabilityZone === 'us-east-1b')?.instanceId ?? '';

    await clients.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: leaving,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    const after = await groupInstanceIds(clients.autoScaling, group.name);
    expect(after).not.toContain(leaving);
    expect(await zonesOf(after)).toEqual({ 'us-east-1a': 2, 'us-east-1b': 2 });
  });
});
