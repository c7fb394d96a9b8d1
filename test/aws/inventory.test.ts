import { CreateOrUpdateTagsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultImageIds,
  type SeededLaunchTemplate,
  type SeededNetwork,
  seedAutoScalingGroup,
  seedLaunchTemplate,
  seedNetwork,
  seedStandaloneInstances,
} from '../../emulator/seed';
import { AutoScalingGroupNotFoundError, LaunchTemplateNotFoundError } from '../../functions/aws/errors';
import {
  describeInstances,
  fleetFilters,
  groupSourceOf,
  listFleetInstances,
  resolveLaunchTemplate,
} from '../../functions/aws/inventory';
import { InvalidInputError } from '../../functions/domain/errors';
import type { FleetSelector } from '../../functions/domain/model';
import { testClients } from '../helpers/emulator';

const ids = (facts: readonly { instanceId: string }[]) => facts.map((f) => f.instanceId).sort();
const fleetOf = (match: FleetSelector) => ({ name: 'test-fleet', match });

describe('inventory against the emulated account', () => {
  const { ec2, autoScaling } = testClients();
  let network: SeededNetwork;
  let template: SeededLaunchTemplate;
  let images: string[];
  let groupMembers: string[];
  let batch: string[];
  let halfTagged: string[];

  beforeAll(async () => {
    images = await defaultImageIds(ec2);
    network = await seedNetwork(ec2);
    const [sg] = network.securityGroupIds;
    template = await seedLaunchTemplate(ec2, {
      name: 'inventory-lt',
      versions: [
        {
          imageId: images[0] ?? '',
          instanceType: 't3.micro',
          securityGroupIds: [sg],
          instanceTags: { App: 'web' },
        },
        {
          imageId: images[1] ?? '',
          instanceType: 't3.small',
          securityGroupIds: [sg],
          instanceTags: { App: 'web' },
        },
        {
          imageId: images[2] ?? '',
          instanceType: 't3.medium',
          securityGroupIds: [sg],
          instanceTags: { App: 'web' },
        },
      ],
      defaultVersion: 2,
    });
    ({ instanceIds: groupMembers } = await seedAutoScalingGroup(autoScaling, ec2, {
      name: 'inventory-asg',
      launchTemplate: { id: template.id, version: 2 },
      min: 2,
      max: 4,
      desired: 2,
      subnetIds: network.subnetIds,
      tags: { Owner: 'team-web' },
    }));
    batch = await seedStandaloneInstances(ec2, {
      launchTemplate: { id: template.id, version: 1 },
      count: 3,
      subnetId: network.subnetIds[0],
      tags: { Fleet: 'batch', Tier: 'worker' },
    });
    halfTagged = await seedStandaloneInstances(ec2, {
      launchTemplate: { id: template.id, version: 1 },
      count: 1,
      subnetId: network.subnetIds[1],
      tags: { Fleet: 'batch' },
    });
  });

  describe('listFleetInstances', () => {
    it("lists an Auto Scaling fleet's members and nothing else", async () => {
      const listed = await listFleetInstances(
        ec2,
        fleetOf({ kind: 'autoScalingGroup', autoScalingGroup: 'inventory-asg' }),
      );

      expect(ids(listed)).toEqual(groupMembers);
      expect(listed.every((f) => f.autoScalingGroup === 'inventory-asg')).toBe(true);
    });

    it('lists a tag fleet as the instances carrying every selector tag, live ones only', async () => {
      const [terminated, ...live] = batch;
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [terminated ?? ''] }));

      const listed = await listFleetInstances(
        ec2,
        fleetOf({ kind: 'tags', tags: { Fleet: 'batch', Tier: 'worker' } }),
      );

      expect(ids(listed)).toEqual([...live].sort());
      expect(ids(listed)).not.toContain(halfTagged[0]);
    });

    it('finds nothing for a group that does not exist', async () => {
      const listed = await listFleetInstances(
        ec2,
        fleetOf({ kind: 'autoScalingGroup', autoScalingGroup: 'no-such-asg' }),
      );

      expect(listed).toEqual([]);
    });
  });

  describe('describeInstances', () => {
    it('describes known instances in any state and leaves unknown ids out', async () => {
      const [gone] = halfTagged;
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone ?? ''] }));
      const [member] = groupMembers;

      const described = await describeInstances(ec2, [
        member ?? '',
        gone ?? '',
        'i-0000000000000dead',
        member ?? '',
      ]);

      expect(ids(described)).toEqual([member, gone].sort());
      expect(described.find((f) => f.instanceId === gone)?.state).toBe('terminated');
    });

    it('describes nothing for no ids', async () => {
      expect(await describeInstances(ec2, [])).toEqual([]);
    });
  });

  describe('resolveLaunchTemplate', () => {
    it.each([
      ['$Default by name', { name: 'inventory-lt', version: '$Default' as const }, 2, 't3.small'],
      ['$Latest by name', { name: 'inventory-lt', version: '$Latest' as const }, 3, 't3.medium'],
      ['a number by name', { name: 'inventory-lt', version: 1 }, 1, 't3.micro'],
    ])('resolves %s to its version number', async (_case, spec, version, instanceType) => {
      const facts = await resolveLaunchTemplate(ec2, spec);

      expect(facts).toMatchObject({ id: template.id, name: 'inventory-lt', version, instanceType });
      expect(facts.instanceTags).toEqual({ App: 'web' });
      expect(facts.securityGroupIds).toEqual([network.securityGroupIds[0]]);
    });

    it('resolves by id, which wins over a name', async () => {
      const facts = await resolveLaunchTemplate(ec2, {
        id: template.id,
        name: 'ignored',
        version: '$Default',
      });

      expect(facts).toMatchObject({ id: template.id, version: 2, imageId: images[1] });
    });

    it.each([
      ['an unknown name', { name: 'no-such-lt', version: '$Default' as const }],
      ['an unknown id', { id: 'lt-0000000000000dead', version: '$Default' as const }],
      ['an unknown version', { name: 'inventory-lt', version: 9 }],
    ])('throws LaunchTemplateNotFoundError for %s', async (_case, spec) => {
      await expect(resolveLaunchTemplate(ec2, spec)).rejects.toThrow(LaunchTemplateNotFoundError);
    });

    it('refuses a spec with neither id nor name', async () => {
      await expect(resolveLaunchTemplate(ec2, { version: '$Default' })).rejects.toThrow(InvalidInputError);
    });
  });

  describe('groupSourceOf', () => {
    it('gives only the tags the group propagates to its instances', async () => {
      await autoScaling.send(
        new CreateOrUpdateTagsCommand({
          Tags: [
            {
              ResourceId: 'inventory-asg',
              ResourceType: 'auto-scaling-group',
              Key: 'CostCentre',
              Value: '42',
              PropagateAtLaunch: false,
            },
          ],
        }),
      );

      expect((await groupSourceOf(ec2, autoScaling, 'inventory-asg')).propagatedTags).toEqual({
        Owner: 'team-web',
      });
    });

    it('gives the tags the group propagates and the version it launches, resolved', async () => {
      const source = await groupSourceOf(ec2, autoScaling, 'inventory-asg');
      expect(source.propagatedTags).toMatchObject({ Owner: 'team-web' });
      expect(source.template).toMatchObject({ id: template.id, version: 2, instanceType: 't3.small' });
    });

    it('reuses a resolution of the same template and version instead of asking EC2 again', async () => {
      const facts = await resolveLaunchTemplate(ec2, { id: template.id, version: 2 });
      const same = await groupSourceOf(ec2, autoScaling, 'inventory-asg', {
        spec: { id: template.id, version: 2 },
        facts,
      });
      expect(same.template).toBe(facts);
      // Another version declared: the group's own is looked up.
      const other = await groupSourceOf(ec2, autoScaling, 'inventory-asg', {
        spec: { id: template.id, version: '$Latest' },
        facts,
      });
      expect(other.template).not.toBe(facts);
      expect(other.template).toMatchObject({ version: 2 });
    });

    it('throws AutoScalingGroupNotFoundError for a group that does not exist', async () => {
      await expect(groupSourceOf(ec2, autoScaling, 'no-such-asg')).rejects.toThrow(
        AutoScalingGroupNotFoundError,
      );
    });
  });
});

describe('inventory requests', () => {
  // Mock this one client, not the EC2Client class: the class mock would also capture the
  // emulator-backed clients of the other tests in this file.
  const ec2 = new EC2Client({ region: 'us-east-1' });
  const ec2Mock = mockClient(ec2);
  afterEach(() => ec2Mock.reset());

  const page = (instanceIds: string[], nextToken?: string) => ({
    Reservations: [
      { Instances: instanceIds.map((InstanceId) => ({ InstanceId, State: { Name: 'running' as const } })) },
    ],
    NextToken: nextToken,
  });

  it('asks for the largest pages and follows NextToken to the end', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(page(['i-1', 'i-2'], 'token-1'))
      .resolvesOnce(page(['i-3'], 'token-2'))
      .resolvesOnce(page([]));

    const listed = await listFleetInstances(
      ec2,
      fleetOf({ kind: 'autoScalingGroup', autoScalingGroup: 'web-prod' }),
    );

    expect(ids(listed)).toEqual(['i-1', 'i-2', 'i-3']);
    const inputs = ec2Mock.commandCalls(DescribeInstancesCommand).map((call) => call.args[0].input);
    expect(inputs.map((input) => input.NextToken)).toEqual([undefined, 'token-1', 'token-2']);
    expect(inputs.every((input) => input.MaxResults === 1000)).toBe(true);
  });

  it.each([
    [
      'an Auto Scaling group',
      { kind: 'autoScalingGroup', autoScalingGroup: 'web-prod' } as const,
      [{ Name: 'tag:aws:autoscaling:groupName', Values: ['web-prod'] }],
    ],
    [
      'tags',
      { kind: 'tags', tags: { App: 'batch', Tier: 'worker' } } as const,
      [
        { Name: 'tag:App', Values: ['batch'] },
        { Name: 'tag:Tier', Values: ['worker'] },
      ],
    ],
  ])('selects a fleet by %s on the server, live states only', (_case, match, selector) => {
    expect(fleetFilters(fleetOf(match))).toEqual([
      ...selector,
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
  });

  it('refuses a tag fleet with no selector tags rather than listing the whole account', async () => {
    await expect(listFleetInstances(ec2, fleetOf({ kind: 'tags', tags: {} }))).rejects.toThrow(
      InvalidInputError,
    );
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('describes many instances in filter-sized chunks', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves(page([]));
    const many = Array.from({ length: 450 }, (_, i) => `i-${String(i).padStart(17, '0')}`);

    await describeInstances(ec2, many);

    const chunks = ec2Mock
      .commandCalls(DescribeInstancesCommand)
      .map((call) => call.args[0].input.Filters?.[0]?.Values ?? []);
    expect(chunks.map((chunk) => chunk.length)).toEqual([200, 200, 50]);
    expect(chunks.flat()).toEqual(many);
  });
});
