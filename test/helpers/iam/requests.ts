/**
 * What IAM authorizes for one AWS call: each action, on each resource, with the request
 * context AWS would build at that moment — the resource's CURRENT tags read from the emulated
 * account, the tags a request sets, and the service's own condition keys.
 *
 * Most calls are one authorization. RunInstances is many: AWS authorizes it on every resource
 * the launch touches (the instance, image, subnet, security groups, network interface, volume,
 * key pair, launch template, placement group, capacity reservation, Spot request, licence
 * configuration, snapshot), each with its own ARN and keys, and also asks `ssm:GetParameters`
 * for an image resolved from Systems Manager, `iam:PassRole` for an instance profile,
 * `ec2:CreateTags` for the tags set at launch and KMS for encrypted volumes
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html#iam-example-runinstances).
 *
 * A call with no model here fails the test: a new call must be modelled deliberately.
 */
import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  type LaunchTemplateTagSpecificationRequest,
  type ResponseLaunchTemplateData,
  type RunInstancesCommandInput,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import {
  DescribeTagsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetInstanceProfileCommand, type IAMClient } from '@aws-sdk/client-iam';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { AwsCall } from '../../../functions/aws/call-gate';
import { ACCOUNT, PARTITION } from './policies';

/** One decision IAM makes for a call. */
export interface Authorization {
  action: string;
  /** The ARN authorized, or `*` for actions without resource-level permissions. */
  resource: string;
  context: Record<string, string | string[]>;
  /** Why this authorization is part of the call (RunInstances: which resource it is). */
  why?: string;
}

/** Where the current state of the account is read from (raw clients: never gated). */
export interface World {
  region: string;
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  elbv2: Pick<ElasticLoadBalancingV2Client, 'send'>;
  ssm: Pick<SSMClient, 'send'>;
  iam: Pick<IAMClient, 'send'>;
  /** The KMS key that encrypts each known topic (SNS asks it on Publish). */
  topicKeys: ReadonlyMap<string, string>;
}

/** Thrown for a call the IAM model does not know: it must be added to requests.ts. */
export class UnmodelledCallError extends Error {
  constructor(call: AwsCall) {
    super(
      `no IAM model for ${call.client}:${call.operation} (made by ${call.principal}): add it to test/helpers/iam/requests.ts`,
    );
    this.name = 'UnmodelledCallError';
  }
}

type Tags = Record<string, string>;

const SERVICE: Record<string, string> = {
  ec2: 'ec2',
  autoScaling: 'autoscaling',
  elbv2: 'elasticloadbalancing',
  dynamodb: 'dynamodb',
  sns: 'sns',
  config: 'config',
  sfn: 'states',
  lambda: 'lambda',
  cloudwatch: 'cloudwatch',
};

/** `aws:ResourceTag/K` and the service's own `<service>:ResourceTag/K` for each tag. */
function resourceTags(service: string, tags: Tags): Record<string, string> {
  return Object.fromEntries(
    Object.entries(tags).flatMap(([k, v]) => [
      [`aws:ResourceTag/${k}`, v],
      [`${service}:ResourceTag/${k}`, v],
    ]),
  );
}

/** `aws:RequestTag/K` for each tag set by the request, and `aws:TagKeys`. */
function requestTags(tags: Tags): Record<string, string | string[]> {
  const keys = Object.keys(tags);
  if (keys.length === 0) return {};
  return {
    ...Object.fromEntries(keys.map((k) => [`aws:RequestTag/${k}`, tags[k] ?? ''])),
    'aws:TagKeys': keys,
  };
}

const tagMap = (tags: ReadonlyArray<{ Key?: string; Value?: string }> | undefined): Tags =>
  Object.fromEntries((tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])));

const arn = (world: World, service: string, resource: string, account: string = ACCOUNT) =>
  `arn:${PARTITION}:${service}:${world.region}:${account}:${resource}`;

const input = (call: AwsCall) => (call.input ?? {}) as Record<string, unknown>;

async function instanceTags(world: World, ids: string[]): Promise<Map<string, Tags>> {
  const out = await world.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  const tags = new Map<string, Tags>();
  for (const instance of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
    if (instance.InstanceId !== undefined) tags.set(instance.InstanceId, tagMap(instance.Tags));
  }
  return tags;
}

async function ec2(call: AwsCall, world: World): Promise<Authorization[]> {
  const op = call.operation;
  const params = input(call);
  if (op.startsWith('Describe')) return [{ action: `ec2:${op}`, resource: '*', context: {} }];
  if (op === 'RunInstances') return runInstances(call.input as RunInstancesCommandInput, world);
  const instanceIds =
    op === 'CreateTags' || op === 'DeleteTags'
      ? (params.Resources as string[] | undefined)
      : op === 'ModifyInstanceAttribute'
        ? [String(params.InstanceId)]
        : (params.InstanceIds as string[] | undefined);
  if (
    ![
      'TerminateInstances',
      'StopInstances',
      'StartInstances',
      'RebootInstances',
      'ModifyInstanceAttribute',
      'CreateTags',
      'DeleteTags',
    ].includes(op) ||
    instanceIds === undefined ||
    instanceIds.some((id) => !id.startsWith('i-'))
  ) {
    throw new UnmodelledCallError(call);
  }
  const tags = await instanceTags(world, instanceIds);
  const set =
    op === 'CreateTags' ? requestTags(tagMap(params.Tags as Array<{ Key?: string; Value?: string }>)) : {};
  return instanceIds.map((id) => ({
    action: `ec2:${op}`,
    resource: arn(world, 'ec2', `instance/${id}`),
    context: { ...resourceTags('ec2', tags.get(id) ?? {}), ...set },
  }));
}

/** Tags per resource type, request and template specifications merged (the request wins). */
function tagsByType(
  request: readonly TagSpecification[] | undefined,
  template: readonly LaunchTemplateTagSpecificationRequest[] | undefined,
): Map<string, Tags> {
  const byType = new Map<string, Tags>();
  for (const spec of [...(template ?? []), ...(request ?? [])]) {
    if (spec.ResourceType === undefined) continue;
    byType.set(spec.ResourceType, { ...(byType.get(spec.ResourceType) ?? {}), ...tagMap(spec.Tags) });
  }
  return byType;
}

/** The parameter ARN of `resolve:ssm:NAME[:version|label]`. */
function parameterArn(world: World, reference: string): { arn: string; name: string } {
  const name = reference.replace(/^resolve:ssm:/, '');
  if (name.startsWith('arn:')) {
    const bare = name.replace(/(:parameter\/[^:]+)(:[^:/]+)?$/, '$1');
    return { arn: bare, name };
  }
  const bare = name.replace(/:[^:/]+$/, '');
  return { arn: arn(world, 'ssm', `parameter/${bare.replace(/^\//, '')}`), name };
}

async function runInstances(params: RunInstancesCommandInput, world: World): Promise<Authorization[]> {
  let template: ResponseLaunchTemplateData = {};
  let templateArn: string | undefined;
  const requested = params.LaunchTemplate;
  if (requested !== undefined) {
    const out = await world.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        ...(requested.LaunchTemplateId === undefined
          ? { LaunchTemplateName: requested.LaunchTemplateName }
          : { LaunchTemplateId: requested.LaunchTemplateId }),
        Versions: [requested.Version ?? '$Default'],
      }),
    );
    const version = out.LaunchTemplateVersions?.[0];
    template = version?.LaunchTemplateData ?? {};
    templateArn = arn(world, 'ec2', `launch-template/${version?.LaunchTemplateId ?? '*'}`);
  }
  const common: Record<string, string> = { 'ec2:Region': world.region };
  if (templateArn !== undefined) common['ec2:LaunchTemplate'] = templateArn;
  const launch = (why: string, resource: string, fromTemplate: boolean | undefined, extra = {}) => ({
    action: 'ec2:RunInstances',
    resource,
    why,
    context: {
      ...common,
      ...(fromTemplate === undefined || templateArn === undefined
        ? {}
        : { 'ec2:IsLaunchTemplateResource': String(fromTemplate) }),
      ...extra,
    },
  });
  const out: Authorization[] = [];
  const tags = tagsByType(params.TagSpecifications, template.TagSpecifications);
  const instanceProfile = params.IamInstanceProfile ?? template.IamInstanceProfile;

  out.push(
    launch('the instance it creates', arn(world, 'ec2', 'instance/*'), undefined, {
      ...requestTags(tags.get('instance') ?? {}),
      ...((params.InstanceType ?? template.InstanceType)
        ? { 'ec2:InstanceType': String(params.InstanceType ?? template.InstanceType) }
        : {}),
      ...(instanceProfile?.Arn === undefined ? {} : { 'ec2:InstanceProfile': instanceProfile.Arn }),
    }),
  );

  // The image, resolved from Systems Manager when the id says so (which IAM authorizes too).
  const imageRef = params.ImageId ?? template.ImageId ?? '';
  let imageId = imageRef;
  if (imageRef.startsWith('resolve:ssm:')) {
    const parameter = parameterArn(world, imageRef);
    out.push({
      action: 'ssm:GetParameters',
      resource: parameter.arn,
      context: {},
      why: `EC2 resolves the image id ${imageRef} with the caller's permissions`,
    });
    const value = await world.ssm
      .send(new GetParameterCommand({ Name: parameter.name.replace(/^resolve:ssm:/, '') }))
      .catch(() => undefined);
    imageId = value?.Parameter?.Value ?? '*';
  }
  out.push(
    launch(
      `the image ${imageRef}`,
      `arn:${PARTITION}:ec2:${world.region}::image/${imageId}`,
      params.ImageId === undefined,
    ),
  );

  // The subnet and security groups, from the request or the template, as EC2 picks them.
  const requestNic = params.NetworkInterfaces?.[0];
  const templateNic = template.NetworkInterfaces?.[0];
  const subnetId = params.SubnetId ?? requestNic?.SubnetId ?? templateNic?.SubnetId;
  const subnetFromTemplate = params.SubnetId === undefined && requestNic?.SubnetId === undefined;
  let vpcId: string | undefined;
  if (subnetId !== undefined) {
    const subnets = await world.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
    const subnet = subnets.Subnets?.[0];
    vpcId = subnet?.VpcId;
    out.push(
      launch(
        `the subnet ${subnetId}`,
        arn(world, 'ec2', `subnet/${subnetId}`, subnet?.OwnerId ?? ACCOUNT),
        subnetFromTemplate,
      ),
    );
  } else {
    out.push(launch('the default subnet', arn(world, 'ec2', 'subnet/*'), undefined));
  }
  const requestGroups = params.SecurityGroupIds ?? requestNic?.Groups;
  const groupIds = requestGroups ?? template.SecurityGroupIds ?? templateNic?.Groups ?? [];
  const groups = await world.ec2.send(
    new DescribeSecurityGroupsCommand(
      groupIds.length > 0
        ? { GroupIds: groupIds }
        : {
            Filters: [
              { Name: 'group-name', Values: ['default'] },
              ...(vpcId === undefined ? [] : [{ Name: 'vpc-id', Values: [vpcId] }]),
            ],
          },
    ),
  );
  for (const group of (groups.SecurityGroups ?? []).slice(0, groupIds.length > 0 ? undefined : 1)) {
    out.push(
      launch(
        `the security group ${group.GroupId}`,
        arn(world, 'ec2', `security-group/${group.GroupId}`, group.OwnerId ?? ACCOUNT),
        requestGroups === undefined,
      ),
    );
  }
  out.push(
    launch('the network interface it creates', arn(world, 'ec2', 'network-interface/*'), undefined, {
      ...requestTags(tags.get('network-interface') ?? {}),
      ...(subnetId === undefined ? {} : { 'ec2:Subnet': arn(world, 'ec2', `subnet/${subnetId}`) }),
    }),
  );
  out.push(
    launch(
      'the volume it creates',
      arn(world, 'ec2', 'volume/*'),
      undefined,
      requestTags(tags.get('volume') ?? {}),
    ),
  );
  if (templateArn !== undefined) out.push(launch('the launch template', templateArn, undefined));

  const keyName = params.KeyName ?? template.KeyName;
  if (keyName !== undefined) {
    out.push(
      launch(
        `the key pair ${keyName}`,
        arn(world, 'ec2', `key-pair/${keyName}`),
        params.KeyName === undefined,
      ),
    );
  }
  const placementGroup = params.Placement?.GroupName ?? template.Placement?.GroupName;
  if (placementGroup !== undefined) {
    out.push(
      launch(
        `the placement group ${placementGroup}`,
        arn(world, 'ec2', `placement-group/${placementGroup}`),
        params.Placement?.GroupName === undefined,
      ),
    );
  }
  const reservation =
    params.CapacityReservationSpecification?.CapacityReservationTarget?.CapacityReservationId ??
    template.CapacityReservationSpecification?.CapacityReservationTarget?.CapacityReservationId;
  if (reservation !== undefined) {
    out.push(
      launch(
        `the capacity reservation ${reservation}`,
        arn(world, 'ec2', `capacity-reservation/${reservation}`),
        params.CapacityReservationSpecification === undefined,
      ),
    );
  }
  if ((params.InstanceMarketOptions?.MarketType ?? template.InstanceMarketOptions?.MarketType) === 'spot') {
    out.push(
      launch(
        'the Spot Instance request it creates',
        arn(world, 'ec2', 'spot-instances-request/*'),
        undefined,
        requestTags(tags.get('spot-instances-request') ?? {}),
      ),
    );
  }
  for (const licence of params.LicenseSpecifications ?? template.LicenseSpecifications ?? []) {
    if (licence.LicenseConfigurationArn !== undefined) {
      out.push(launch('the licence configuration', licence.LicenseConfigurationArn, undefined));
    }
  }
  const devices = params.BlockDeviceMappings ?? template.BlockDeviceMappings ?? [];
  for (const device of devices) {
    const snapshot = device.Ebs?.SnapshotId;
    if (snapshot !== undefined) {
      out.push(
        launch(
          `the snapshot ${snapshot}`,
          `arn:${PARTITION}:ec2:${world.region}::snapshot/${snapshot}`,
          undefined,
        ),
      );
    }
    const key = device.Ebs?.KmsKeyId;
    if (key !== undefined) {
      const keyArn = key.startsWith('arn:') ? key : arn(world, 'kms', `key/${key}`);
      const why = `EC2 encrypts the volume ${device.DeviceName ?? ''} with ${key} for the caller`;
      out.push(
        {
          action: 'kms:CreateGrant',
          resource: keyArn,
          context: { 'kms:GrantIsForAWSResource': 'true' },
          why,
        },
        { action: 'kms:GenerateDataKeyWithoutPlaintext', resource: keyArn, context: {}, why },
        { action: 'kms:Decrypt', resource: keyArn, context: {}, why },
      );
    }
  }

  // Tags set at launch are authorized as CreateTags on what is created, during the launch.
  for (const [type, typeTags] of tags) {
    if (Object.keys(typeTags).length === 0) continue;
    out.push({
      action: 'ec2:CreateTags',
      resource: arn(world, 'ec2', `${type}/*`),
      context: { 'ec2:CreateAction': 'RunInstances', ...requestTags(typeTags) },
      why: `the ${type} tags set at launch`,
    });
  }

  // An instance profile: EC2 takes its role, which the caller must be allowed to pass.
  if (instanceProfile !== undefined) {
    const name = instanceProfile.Name ?? instanceProfile.Arn?.split('/').pop() ?? '';
    const profile = await world.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
    for (const role of profile.InstanceProfile?.Roles ?? []) {
      out.push({
        action: 'iam:PassRole',
        resource: role.Arn ?? '',
        context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
        why: `the instance profile ${name} carries the role ${role.RoleName ?? ''}`,
      });
    }
  }
  return out;
}

async function groupOf(world: World, name: string): Promise<{ arn: string; tags: Tags }> {
  const out = await world.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = out.AutoScalingGroups?.[0];
  return {
    arn:
      group?.AutoScalingGroupARN ??
      arn(
        world,
        'autoscaling',
        `autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${name}`,
      ),
    tags: tagMap(group?.Tags),
  };
}

const GROUP_ACTIONS = new Set([
  'SetDesiredCapacity',
  'UpdateAutoScalingGroup',
  'DetachInstances',
  'AttachInstances',
  'EnterStandby',
  'ExitStandby',
  'SetInstanceProtection',
  'CompleteLifecycleAction',
  'RecordLifecycleActionHeartbeat',
]);

async function autoScaling(call: AwsCall, world: World): Promise<Authorization[]> {
  const op = call.operation;
  const params = input(call);
  if (op.startsWith('Describe')) return [{ action: `autoscaling:${op}`, resource: '*', context: {} }];
  let groupName: string | undefined;
  if (GROUP_ACTIONS.has(op)) groupName = String(params.AutoScalingGroupName);
  else if (op === 'TerminateInstanceInAutoScalingGroup' || op === 'SetInstanceHealth') {
    const out = await world.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [String(params.InstanceId)] }),
    );
    groupName = out.AutoScalingInstances?.[0]?.AutoScalingGroupName ?? '*';
  } else throw new UnmodelledCallError(call);
  const group = await groupOf(world, groupName);
  return [
    { action: `autoscaling:${op}`, resource: group.arn, context: resourceTags('autoscaling', group.tags) },
  ];
}

async function elbv2(call: AwsCall, world: World): Promise<Authorization[]> {
  const op = call.operation;
  const params = input(call);
  if (op.startsWith('Describe'))
    return [{ action: `elasticloadbalancing:${op}`, resource: '*', context: {} }];
  if (op !== 'RegisterTargets' && op !== 'DeregisterTargets') throw new UnmodelledCallError(call);
  const targetGroupArn = String(params.TargetGroupArn);
  const described = await world.elbv2.send(new DescribeTagsCommand({ ResourceArns: [targetGroupArn] }));
  const tags = tagMap(described.TagDescriptions?.[0]?.Tags);
  return [
    {
      action: `elasticloadbalancing:${op}`,
      resource: targetGroupArn,
      context: resourceTags('elasticloadbalancing', tags),
    },
  ];
}

function dynamodb(call: AwsCall, world: World): Authorization[] {
  const op = call.operation;
  const params = input(call);
  const table = (name: unknown) => arn(world, 'dynamodb', `table/${String(name)}`);
  const single = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Scan', 'DescribeTable'];
  if (single.includes(op))
    return [{ action: `dynamodb:${op}`, resource: table(params.TableName), context: {} }];
  if (op === 'Query') {
    const index = params.IndexName === undefined ? '' : `/index/${String(params.IndexName)}`;
    return [{ action: 'dynamodb:Query', resource: `${table(params.TableName)}${index}`, context: {} }];
  }
  if (op === 'BatchGetItem' || op === 'BatchWriteItem') {
    return Object.keys((params.RequestItems ?? {}) as object).map((name) => ({
      action: `dynamodb:${op}`,
      resource: table(name),
      context: {},
    }));
  }
  if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
    // Authorized per item, as the item's own action (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
    const kinds: Record<string, string> = {
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      ConditionCheck: 'ConditionCheckItem',
      Get: 'GetItem',
    };
    return ((params.TransactItems ?? []) as Array<Record<string, { TableName?: string }>>).flatMap((item) =>
      Object.entries(item).map(([kind, detail]) => ({
        action: `dynamodb:${kinds[kind] ?? kind}`,
        resource: table(detail.TableName),
        context: {},
        why: `${op} item (${kind})`,
      })),
    );
  }
  throw new UnmodelledCallError(call);
}

function sns(call: AwsCall, world: World): Authorization[] {
  if (call.operation !== 'Publish') throw new UnmodelledCallError(call);
  const topicArn = String(input(call).TopicArn);
  const out: Authorization[] = [{ action: 'sns:Publish', resource: topicArn, context: {} }];
  const key = world.topicKeys.get(topicArn);
  if (key !== undefined) {
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html: a publisher to an
    // encrypted topic needs these on its key.
    const why = 'SNS encrypts the message with the topic key for the publisher';
    out.push(
      { action: 'kms:GenerateDataKey', resource: key, context: {}, why },
      { action: 'kms:Decrypt', resource: key, context: {}, why },
    );
  }
  return out;
}

/** Every authorization `call` needs, read against the account as it is now. */
export async function authorizationsFor(call: AwsCall, world: World): Promise<Authorization[]> {
  const service = SERVICE[call.client];
  if (service === undefined) throw new UnmodelledCallError(call);
  const params = input(call);
  switch (call.client) {
    case 'ec2':
      return ec2(call, world);
    case 'autoScaling':
      return autoScaling(call, world);
    case 'elbv2':
      return elbv2(call, world);
    case 'dynamodb':
      return dynamodb(call, world);
    case 'sns':
      return sns(call, world);
    case 'cloudwatch':
      if (call.operation === 'DescribeAlarms') {
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html:
        // DescribeAlarms is authorized on each alarm named (resource type alarm).
        const names = (params.AlarmNames ?? []) as string[];
        return names.map((name) => ({
          action: 'cloudwatch:DescribeAlarms',
          resource: arn(world, 'cloudwatch', `alarm:${name}`),
          context: {},
        }));
      }
      throw new UnmodelledCallError(call);
    case 'config':
      if (['PutEvaluations', 'GetResourceConfigHistory'].includes(call.operation)) {
        return [{ action: `config:${call.operation}`, resource: '*', context: {} }];
      }
      throw new UnmodelledCallError(call);
    case 'sfn':
      if (call.operation === 'StartExecution') {
        return [{ action: 'states:StartExecution', resource: String(params.stateMachineArn), context: {} }];
      }
      if (call.operation === 'DescribeExecution' || call.operation === 'StopExecution') {
        return [{ action: `states:${call.operation}`, resource: String(params.executionArn), context: {} }];
      }
      throw new UnmodelledCallError(call);
    case 'lambda':
      if (call.operation === 'Invoke') {
        return [{ action: 'lambda:InvokeFunction', resource: String(params.FunctionName), context: {} }];
      }
      throw new UnmodelledCallError(call);
    default:
      throw new UnmodelledCallError(call);
  }
}
