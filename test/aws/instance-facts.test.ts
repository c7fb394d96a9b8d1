import { readFileSync } from 'node:fs';
import type { Instance, LaunchTemplateVersion } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import {
  factsFromConfigItem,
  factsFromEc2Instance,
  templateFactsFromVersion,
} from '../../functions/aws/instance-facts';
import { InvalidInputError } from '../../functions/domain/errors';
import type { InstanceFacts } from '../../functions/domain/model';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/config-items/${name}`, import.meta.url), 'utf8'),
  ) as Json;
}

/** A copy of `item` without the field at `path` (dot-separated; numbers index arrays). */
function without(item: Json, path: string): Json {
  const copy = structuredClone(item);
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let node: unknown = copy;
  for (const key of keys) node = (node as Record<string, unknown>)[key];
  delete (node as Record<string, unknown>)[last];
  return copy;
}

function withValue(item: Json, path: string, value: unknown): Json {
  const copy = structuredClone(item);
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let node: unknown = copy;
  for (const key of keys) node = (node as Record<string, unknown>)[key];
  (node as Record<string, unknown>)[last] = value;
  return copy;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, none was thrown');
}

const ASG_MEMBER: InstanceFacts = {
  instanceId: 'i-0a1b2c3d4e5f60001',
  state: 'running',
  tags: {
    Name: 'web-prod',
    Owner: 'team-web',
    Environment: 'prod',
    'aws:autoscaling:groupName': 'web-prod',
    'aws:ec2launchtemplate:id': 'lt-0abc1234def567890',
    'aws:ec2launchtemplate:version': '3',
  },
  imageId: 'ami-0c02fb55956c7d316',
  instanceType: 't3.small',
  securityGroupIds: ['sg-0123456789abcdef0'],
  subnetId: 'subnet-0a1a2a3a4a5a6a7a8',
  vpcId: 'vpc-0f3e2d1c0b9a87654',
  availabilityZone: 'us-east-1a',
  launchTime: '2024-05-02T08:14:37.000Z',
  launchTemplate: { id: 'lt-0abc1234def567890', version: '3' },
  autoScalingGroup: 'web-prod',
};

describe('factsFromConfigItem', () => {
  it.each([
    ['asg-member-running.json', ASG_MEMBER],
    // The Config API (GetResourceConfigHistory, used for oversized items) gives `configuration` as a JSON string.
    ['asg-member-from-config-api.json', ASG_MEMBER],
    [
      'standalone-from-template.json',
      {
        instanceId: 'i-0a1b2c3d4e5f60002',
        state: 'running',
        tags: {
          Name: 'batch-worker',
          App: 'batch',
          Owner: 'team-data',
          'aws:ec2launchtemplate:id': 'lt-0123abcd4567ef890',
          'aws:ec2launchtemplate:version': '2',
        },
        imageId: 'ami-0e731c8a588258d0d',
        instanceType: 'm6i.large',
        securityGroupIds: ['sg-0fedcba9876543210'],
        subnetId: 'subnet-0b1b2b3b4b5b6b7b8',
        vpcId: 'vpc-0f3e2d1c0b9a87654',
        availabilityZone: 'us-east-1b',
        launchTime: '2024-04-18T13:02:11.000Z',
        launchTemplate: { id: 'lt-0123abcd4567ef890', version: '2' },
      },
    ],
    [
      'hand-tagged-stopped.json',
      {
        instanceId: 'i-0a1b2c3d4e5f60003',
        state: 'stopped',
        tags: { Name: 'jump-host', Owner: 'alice', App: 'batch' },
        imageId: 'ami-0fc5d935ebf8bc3bc',
        instanceType: 't3.micro',
        securityGroupIds: ['sg-0123456789abcdef0', 'sg-0fedcba9876543210'],
        subnetId: 'subnet-0a1a2a3a4a5a6a7a8',
        vpcId: 'vpc-0f3e2d1c0b9a87654',
        availabilityZone: 'us-east-1a',
        launchTime: '2023-11-07T16:45:00.000Z',
      },
    ],
    [
      'deleted.json',
      { instanceId: 'i-0a1b2c3d4e5f60004', state: 'terminated', tags: {}, securityGroupIds: [] },
    ],
  ] satisfies [string, InstanceFacts][])('reads %s', (name, expected) => {
    expect(factsFromConfigItem(fixture(name))).toStrictEqual(expected);
  });

  it('takes tags from the configuration list when the item has no tag map (BatchGetResourceConfig)', () => {
    const item = without(fixture('asg-member-running.json'), 'tags');

    expect(factsFromConfigItem(item).tags).toStrictEqual(ASG_MEMBER.tags);
  });

  it('prefers the tag map where it and the configuration list disagree', () => {
    const item = withValue(fixture('asg-member-running.json'), 'tags', {
      ...ASG_MEMBER.tags,
      Owner: 'mallory',
    });

    expect(factsFromConfigItem(item).tags.Owner).toBe('mallory');
  });

  it('leaves absent network facts out rather than inventing them', () => {
    const item = withValue(
      withValue(fixture('standalone-from-template.json'), 'configuration.subnetId', null),
      'configuration.placement',
      null,
    );

    const facts = factsFromConfigItem(item);

    expect(facts).not.toHaveProperty('subnetId');
    expect(facts).not.toHaveProperty('availabilityZone');
  });

  it.each([
    ['resourceType', 'resourceType is missing'],
    ['resourceId', 'resourceId is missing'],
    ['configurationItemStatus', 'configurationItemStatus is missing'],
    ['configuration', 'configuration is missing'],
    ['configuration.instanceId', 'configuration.instanceId is missing'],
    ['configuration.imageId', 'configuration.imageId is missing'],
    ['configuration.instanceType', 'configuration.instanceType is missing'],
    ['configuration.state', 'configuration.state is missing'],
    ['configuration.state.name', 'configuration.state.name is missing'],
    ['configuration.launchTime', 'configuration.launchTime'],
    ['configuration.securityGroups', 'configuration.securityGroups is missing'],
    ['configuration.securityGroups.0.groupId', 'configuration.securityGroups[0].groupId is missing'],
    ['configuration.tags.0.key', 'configuration.tags[0].key is missing'],
  ])('rejects an item without %s, naming the field', (path, message) => {
    const error = thrown(() => factsFromConfigItem(without(fixture('asg-member-running.json'), path)));

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(message);
  });

  it.each([
    ['a null configuration on a live item', 'configuration', null, 'configuration is missing (status OK)'],
    [
      'another resource type',
      'resourceType',
      'AWS::EC2::Volume',
      'resourceType is "AWS::EC2::Volume", but only AWS::EC2::Instance items describe instances',
    ],
    [
      'a configuration string that is not JSON',
      'configuration',
      '{"instanceId": ',
      'configuration is a string but not JSON',
    ],
    [
      'a configuration for another instance',
      'configuration.instanceId',
      'i-0ffffffffffffffff',
      "configuration.instanceId is i-0ffffffffffffffff, not the item's resourceId",
    ],
    ['a tag map with a non-string value', 'tags', { Owner: 42 }, 'tags.Owner'],
    [
      'a launch time that is not a time',
      'configuration.launchTime',
      'yesterday',
      'configuration.launchTime is not a time',
    ],
  ])('rejects %s', (_case, path, value, message) => {
    const error = thrown(() =>
      factsFromConfigItem(withValue(fixture('asg-member-running.json'), path, value)),
    );

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(message);
  });

  it('names the instance in every error, so the log line is actionable', () => {
    const error = thrown(() =>
      factsFromConfigItem(without(fixture('asg-member-running.json'), 'configuration.imageId')),
    );

    expect(error.message).toContain('Config item for i-0a1b2c3d4e5f60001');
  });

  it('reports every problem at once', () => {
    const item = without(
      without(fixture('asg-member-running.json'), 'configuration.imageId'),
      'configuration.state',
    );

    const { message } = thrown(() => factsFromConfigItem(item));

    expect(message).toContain('configuration.imageId is missing');
    expect(message).toContain('configuration.state is missing');
  });

  it.each([
    ['null', null],
    ['a string', 'i-0a1b2c3d4e5f60001'],
    ['an array', []],
  ])('rejects %s instead of an item', (_case, item) => {
    expect(() => factsFromConfigItem(item)).toThrow(InvalidInputError);
  });
});

describe('factsFromEc2Instance', () => {
  const instance: Instance = {
    InstanceId: 'i-0123456789abcdef0',
    ImageId: 'ami-0aaaaaaaaaaaaaaaa',
    InstanceType: 't3.small',
    State: { Code: 16, Name: 'running' },
    LaunchTime: new Date('2024-05-02T08:14:37.000Z'),
    Placement: { AvailabilityZone: 'us-east-1b' },
    SubnetId: 'subnet-0b1b2b3b4b5b6b7b8',
    VpcId: 'vpc-0f3e2d1c0b9a87654',
    SecurityGroups: [
      { GroupId: 'sg-0123456789abcdef0', GroupName: 'web' },
      { GroupId: 'sg-0fedcba9876543210', GroupName: 'ssh' },
    ],
    Tags: [
      { Key: 'Owner', Value: 'team-web' },
      { Key: 'aws:autoscaling:groupName', Value: 'web-prod' },
      { Key: 'aws:ec2launchtemplate:id', Value: 'lt-0abc1234def567890' },
      { Key: 'aws:ec2launchtemplate:version', Value: '4' },
    ],
  };

  it('reads an instance as DescribeInstances returns it', () => {
    expect(factsFromEc2Instance(instance)).toStrictEqual({
      instanceId: 'i-0123456789abcdef0',
      state: 'running',
      tags: {
        Owner: 'team-web',
        'aws:autoscaling:groupName': 'web-prod',
        'aws:ec2launchtemplate:id': 'lt-0abc1234def567890',
        'aws:ec2launchtemplate:version': '4',
      },
      imageId: 'ami-0aaaaaaaaaaaaaaaa',
      instanceType: 't3.small',
      securityGroupIds: ['sg-0123456789abcdef0', 'sg-0fedcba9876543210'],
      subnetId: 'subnet-0b1b2b3b4b5b6b7b8',
      vpcId: 'vpc-0f3e2d1c0b9a87654',
      availabilityZone: 'us-east-1b',
      launchTime: '2024-05-02T08:14:37.000Z',
      launchTemplate: { id: 'lt-0abc1234def567890', version: '4' },
      autoScalingGroup: 'web-prod',
    } satisfies InstanceFacts);
  });

  it('reads a bare instance with no tags, groups or template lineage', () => {
    expect(factsFromEc2Instance({ InstanceId: 'i-0bare', State: { Name: 'pending' } })).toStrictEqual({
      instanceId: 'i-0bare',
      state: 'pending',
      tags: {},
      securityGroupIds: [],
    } satisfies InstanceFacts);
  });

  it('keeps a tag with an empty value (it is still a tag)', () => {
    const facts = factsFromEc2Instance({ ...instance, Tags: [{ Key: 'phoenix:skip', Value: '' }] });

    expect(facts.tags).toStrictEqual({ 'phoenix:skip': '' });
  });

  it('does not claim a template lineage from a half-present pair of tags', () => {
    const facts = factsFromEc2Instance({
      ...instance,
      Tags: [{ Key: 'aws:ec2launchtemplate:id', Value: 'lt-0abc1234def567890' }],
    });

    expect(facts).not.toHaveProperty('launchTemplate');
  });

  it.each([
    ['InstanceId', { ...instance, InstanceId: undefined }, 'InstanceId is missing'],
    [
      'State',
      { ...instance, State: undefined },
      'EC2 instance i-0123456789abcdef0 is not usable: State.Name is missing',
    ],
  ])('rejects an instance without %s', (_field, bad, message) => {
    const error = thrown(() => factsFromEc2Instance(bad));

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(message);
  });
});

describe('templateFactsFromVersion', () => {
  const version: LaunchTemplateVersion = {
    LaunchTemplateId: 'lt-0abc1234def567890',
    LaunchTemplateName: 'web-lt',
    VersionNumber: 4,
    DefaultVersion: true,
    LaunchTemplateData: {
      ImageId: 'ami-0aaaaaaaaaaaaaaaa',
      InstanceType: 't3.small',
      SecurityGroupIds: ['sg-0123456789abcdef0'],
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'App', Value: 'web' },
            { Key: 'Revision', Value: '3f2a1c9' },
          ],
        },
        { ResourceType: 'volume', Tags: [{ Key: 'Backup', Value: 'daily' }] },
      ],
    },
  };

  it('reads a version with security group ids and instance tags, ignoring tags for other resources', () => {
    expect(templateFactsFromVersion(version)).toStrictEqual({
      id: 'lt-0abc1234def567890',
      name: 'web-lt',
      version: 4,
      imageId: 'ami-0aaaaaaaaaaaaaaaa',
      instanceType: 't3.small',
      securityGroupIds: ['sg-0123456789abcdef0'],
      instanceTags: { App: 'web', Revision: '3f2a1c9' },
    });
  });

  it('takes security groups from the primary network interface when the version declares them there', () => {
    const facts = templateFactsFromVersion({
      ...version,
      LaunchTemplateData: {
        ImageId: 'ami-0aaaaaaaaaaaaaaaa',
        NetworkInterfaces: [
          { DeviceIndex: 1, Groups: ['sg-0secondary00000000'] },
          { DeviceIndex: 0, Groups: ['sg-0primary000000000', 'sg-0primary000000001'] },
        ],
      },
    });

    expect(facts.securityGroupIds).toStrictEqual(['sg-0primary000000000', 'sg-0primary000000001']);
  });

  it('reads a version that sets neither image nor type nor groups (they come from elsewhere at launch)', () => {
    expect(templateFactsFromVersion({ ...version, LaunchTemplateData: {} })).toStrictEqual({
      id: 'lt-0abc1234def567890',
      name: 'web-lt',
      version: 4,
      securityGroupIds: [],
      instanceTags: {},
    });
  });

  it('leaves out an image resolved from SSM at launch: no instance can carry that id', () => {
    const facts = templateFactsFromVersion({
      ...version,
      LaunchTemplateData: {
        ImageId: 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      },
    });

    expect(facts).not.toHaveProperty('imageId');
  });

  it.each([
    ['LaunchTemplateId', { ...version, LaunchTemplateId: undefined }],
    ['LaunchTemplateName', { ...version, LaunchTemplateName: undefined }],
    ['VersionNumber', { ...version, VersionNumber: undefined }],
  ])('rejects a version without %s', (field, bad) => {
    const error = thrown(() => templateFactsFromVersion(bad));

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(`${field} missing`);
  });
});
