/**
 * Least privilege, derived from the desired state.
 *
 * Every IAM action Phoenix's roles may perform is sorted into a scope, and each scope knows
 * the narrowest resources (and conditions) AWS allows for it:
 *
 * - instance actions (terminate, tag…) only on instances of a declared fleet: an
 *   `aws:ResourceTag/aws:autoscaling:groupName` condition for Auto Scaling fleets, the
 *   fleet's selector tags for standalone fleets, and an explicit Deny for excluded ones;
 * - Auto Scaling actions only on the declared groups' ARNs;
 * - RunInstances only from the declared launch templates (`ec2:LaunchTemplate`);
 * - the state table, the topic (and its key), the state machine, by ARN;
 * - Describe* and the Config evaluation calls on `*`, because AWS offers no resource-level
 *   permission for them (each such grant says so in its cdk-nag acknowledgement).
 *
 * An action with no known scope fails synth: a new SDK call in the code or a new Task in
 * the state machine must be placed here deliberately, never granted broadly by accident.
 */

import { Annotations, Aws } from 'aws-cdk-lib';
import { Effect, type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { CompiledFleet } from '../../functions/domain/model';
import { UnscopedActionError } from '../errors';
import { allow } from './nag';

export type ActionScope =
  | 'no-resource-level'
  | 'fleet-instance'
  | 'fleet-group'
  | 'fleet-launch'
  | 'target-group'
  | 'state-table'
  | 'topic'
  | 'state-machine'
  | 'execution'
  | 'config-rule'
  | 'alarm';

/** Actions AWS authorizes only on `*` (the Service Authorization Reference lists no resource type). */
const NO_RESOURCE_LEVEL = new Set([
  'config:PutEvaluations',
  'config:GetResourceConfigHistory',
  'config:GetComplianceDetailsByConfigRule',
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
]);
const DESCRIBE = /^(ec2|autoscaling|elasticloadbalancing):Describe[A-Za-z]+$/;

const FLEET_INSTANCE = new Set([
  'ec2:TerminateInstances',
  'ec2:StopInstances',
  'ec2:StartInstances',
  'ec2:RebootInstances',
  'ec2:CreateTags',
  'ec2:DeleteTags',
  'ec2:ModifyInstanceAttribute',
]);

const FLEET_GROUP = new Set([
  'autoscaling:SetDesiredCapacity',
  'autoscaling:UpdateAutoScalingGroup',
  'autoscaling:EnterStandby',
  'autoscaling:ExitStandby',
  'autoscaling:DetachInstances',
  'autoscaling:AttachInstances',
  'autoscaling:TerminateInstanceInAutoScalingGroup',
  'autoscaling:SetInstanceProtection',
  'autoscaling:SetInstanceHealth',
  'autoscaling:CompleteLifecycleAction',
  'autoscaling:RecordLifecycleActionHeartbeat',
  'autoscaling:CreateOrUpdateTags',
]);

const TARGET_GROUP = new Set([
  'elasticloadbalancing:RegisterTargets',
  'elasticloadbalancing:DeregisterTargets',
]);

const STATE_TABLE = new Set([
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:DescribeTable',
]);

/** The scope of an IAM action. @throws UnscopedActionError for an action Phoenix has no scope for. */
export function scopeOf(action: string): ActionScope {
  if (NO_RESOURCE_LEVEL.has(action) || DESCRIBE.test(action)) return 'no-resource-level';
  if (FLEET_INSTANCE.has(action)) return 'fleet-instance';
  if (FLEET_GROUP.has(action)) return 'fleet-group';
  if (action === 'ec2:RunInstances') return 'fleet-launch';
  if (TARGET_GROUP.has(action)) return 'target-group';
  if (STATE_TABLE.has(action)) return 'state-table';
  if (action === 'sns:Publish') return 'topic';
  if (action === 'states:StartExecution') return 'state-machine';
  if (action === 'states:DescribeExecution' || action === 'states:StopExecution') return 'execution';
  if (action === 'config:StartConfigRulesEvaluation') return 'config-rule';
  if (action === 'cloudwatch:DescribeAlarms') return 'alarm';
  throw new UnscopedActionError(
    `no least-privilege scope is defined for ${action}: add it to infra/parts/iam-scoping.ts with the narrowest resource AWS allows`,
  );
}

/** What the scoped statements point at. */
export interface ScopeTargets {
  tableArn: string;
  topicArn: string;
  /** The topic's KMS key: publishing to an encrypted topic needs GenerateDataKey and Decrypt on it. */
  topicKeyArn: string;
  stateMachineArn: string;
  stateMachineName: string;
  configRuleArn?: string;
  /** Roles a launch template's instance profile carries (iam:PassRole for RunInstances). */
  instanceRoleArns?: readonly string[];
  /** Customer-managed KMS keys that encrypt the fleets' EBS volumes. */
  ebsKmsKeyArns?: readonly string[];
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>` with pseudo parameters, so one template fits every account. */
export function regionalArn(service: string, resource: string): string {
  return `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
}

/** The ARN of a declared Auto Scaling group: the group's UUID is unknown, its name is not. */
export function autoScalingGroupArn(name: string): string {
  return regionalArn('autoscaling', `autoScalingGroup:*:autoScalingGroupName/${name}`);
}

const INSTANCE_ARN = regionalArn('ec2', 'instance/*');

/** The IAM condition blocks that select each declared fleet's instances (OR between blocks). */
export function fleetInstanceConditions(
  fleets: readonly CompiledFleet[],
): Array<{ why: string; condition: Record<string, Record<string, string | string[]>> }> {
  const groups = [
    ...new Set(
      fleets.flatMap((f) => (f.match.kind === 'autoScalingGroup' ? [f.match.autoScalingGroup] : [])),
    ),
  ].sort();
  const blocks: Array<{ why: string; condition: Record<string, Record<string, string | string[]>> }> = [];
  if (groups.length > 0) {
    blocks.push({
      why: `members of the declared Auto Scaling groups (${groups.join(', ')})`,
      condition: { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': groups } },
    });
  }
  const seen = new Set<string>();
  for (const fleet of fleets) {
    if (fleet.match.kind !== 'tags') continue;
    const entries = Object.entries(fleet.match.tags).sort(([a], [b]) => a.localeCompare(b));
    const key = JSON.stringify(entries);
    if (entries.length === 0 || seen.has(key)) continue;
    seen.add(key);
    blocks.push({
      why: `instances of fleet ${fleet.name} (tags ${entries.map(([k, v]) => `${k}=${v}`).join(', ')})`,
      condition: { StringEquals: Object.fromEntries(entries.map(([k, v]) => [`aws:ResourceTag/${k}`, v])) },
    });
  }
  return blocks;
}

/** Deny blocks: an excluded instance of a fleet is out of reach even if the code were wrong. */
export function exclusionConditions(
  fleets: readonly CompiledFleet[],
): Array<Record<string, Record<string, string | string[]>>> {
  const blocks: Array<Record<string, Record<string, string | string[]>>> = [];
  for (const fleet of fleets) {
    const selector: Record<string, string> =
      fleet.match.kind === 'autoScalingGroup'
        ? { 'aws:ResourceTag/aws:autoscaling:groupName': fleet.match.autoScalingGroup }
        : Object.fromEntries(Object.entries(fleet.match.tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
    for (const [key, value] of Object.entries(fleet.exclude.tags)) {
      const conditionKey = `aws:ResourceTag/${key}`;
      // A selector on the same key either equals the exclusion (the whole fleet excluded) or contradicts it.
      if (conditionKey in selector) continue;
      blocks.push({ StringEquals: { ...selector, [conditionKey]: value } });
    }
  }
  return blocks;
}

const REASONS = {
  noResourceLevel:
    'AWS has no resource-level permissions for these actions (EC2/Auto Scaling/ELBv2 Describe*, Config ' +
    'PutEvaluations and GetResourceConfigHistory, Step Functions task tokens): the Service Authorization ' +
    'Reference lists no resource type for them, so "*" is the only resource IAM accepts. All are read-only ' +
    'or write only compliance results.',
  fleetInstance:
    'Instance IDs are not known at deploy time. Every statement on instance/* carries an aws:ResourceTag ' +
    'condition naming a declared fleet (its Auto Scaling group or its selector tags), so only instances of ' +
    'the fleets declared in phoenix.yaml match; excluded instances are denied explicitly.',
  fleetGroup:
    'The middle segment of an Auto Scaling group ARN is a UUID assigned when the group is created; the ARN ' +
    'is pinned to each group name declared in phoenix.yaml.',
  fleetLaunch:
    'RunInstances authorizes every resource a launch touches (the new instance, its volumes and network ' +
    'interfaces, the subnet, security groups, key pair, image, snapshots, placement group and capacity ' +
    'reservation), whose IDs come from the launch template or are created by the launch itself; the statement ' +
    'is bound to the declared launch templates with the ec2:LaunchTemplate condition instead. Subnets, ' +
    'security groups, placement groups and capacity reservations may be shared from another account (AWS RAM), ' +
    'so their account is a wildcard too. Templates declared by name cannot be pinned by ARN (IAM knows ' +
    'launch templates by ID only): declare `id` to narrow it.',
  launchWithoutTemplateKey:
    'A Spot Instance request and a License Manager configuration are authorized by RunInstances too, but IAM ' +
    'gives them no ec2:LaunchTemplate key to bind them to the declared templates. Neither launches anything ' +
    'alone: every launch still needs the instance, image, subnet, security group, network interface and ' +
    'volume, which the statement bound to the declared templates grants.',
  imageParameters:
    'A launch template may name its image as resolve:ssm:PARAMETER; EC2 resolves it at launch with the ' +
    "caller's permissions (ssm:GetParameters). Templates are not read at synth, so the parameter names are " +
    "unknown: the grant covers this account's parameters and AWS's public /aws/service parameters, read-only, " +
    'without kms:Decrypt (so no SecureString value).',
  tagOnCreate:
    "Tags set at launch (TagSpecifications, the request's and the template's) are authorized as CreateTags on " +
    'resources that do not exist yet; the ec2:CreateAction=RunInstances condition limits this statement to ' +
    'tagging during a launch.',
  targetGroup:
    'A replacement is registered in the target groups its predecessor was found in, discovered at run time ' +
    '(phoenix.yaml does not name target groups); Phoenix registers only instances it launched and ' +
    'deregisters only instances it is replacing.',
  execution:
    'Execution ARNs end in the execution name, chosen per instance and drift fingerprint at run time; the ' +
    'prefix pins them to the remediate-instance state machine.',
  ebsKey:
    'kms:CreateGrant is restricted to grants for AWS resources (kms:GrantIsForAWSResource), as EC2 needs to ' +
    'attach encrypted volumes at launch.',
} as const;

/**
 * Grants `actions` to `role`, each on the narrowest resources its scope allows for the
 * declared fleets. Scopes with nothing to act on (Auto Scaling actions and no ASG fleet)
 * grant nothing.
 */
export function grantScoped(
  role: IRole,
  actions: readonly string[],
  fleets: readonly CompiledFleet[],
  targets: ScopeTargets,
): void {
  const byScope = new Map<ActionScope, string[]>();
  for (const action of [...new Set(actions)].sort()) {
    const scope = scopeOf(action);
    byScope.set(scope, [...(byScope.get(scope) ?? []), action]);
  }
  const take = (scope: ActionScope): string[] => byScope.get(scope) ?? [];

  const reads = take('no-resource-level');
  if (reads.length > 0) {
    allow(role, { actions: reads, resources: ['*'], wildcardReason: REASONS.noResourceLevel });
  }

  const instanceActions = take('fleet-instance');
  if (instanceActions.length > 0) {
    for (const block of fleetInstanceConditions(fleets)) {
      allow(role, {
        actions: instanceActions,
        resources: [INSTANCE_ARN],
        conditions: block.condition,
        wildcardReason: REASONS.fleetInstance,
      });
    }
    for (const condition of exclusionConditions(fleets)) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          actions: instanceActions,
          resources: [INSTANCE_ARN],
          conditions: condition,
        }),
      );
    }
  }

  const groupActions = take('fleet-group');
  const groupNames = [
    ...new Set(
      fleets.flatMap((f) => (f.match.kind === 'autoScalingGroup' ? [f.match.autoScalingGroup] : [])),
    ),
  ].sort();
  if (groupActions.length > 0 && groupNames.length > 0) {
    allow(role, {
      actions: groupActions,
      resources: groupNames.map(autoScalingGroupArn),
      wildcardReason: REASONS.fleetGroup,
    });
  }

  if (take('fleet-launch').length > 0) grantLaunch(role, fleets, targets);

  const targetGroupActions = take('target-group');
  if (targetGroupActions.length > 0) {
    allow(role, {
      actions: targetGroupActions,
      resources: [regionalArn('elasticloadbalancing', 'targetgroup/*/*')],
      wildcardReason: REASONS.targetGroup,
    });
  }

  const tableActions = take('state-table');
  if (tableActions.length > 0) allow(role, { actions: tableActions, resources: [targets.tableArn] });

  if (take('topic').length > 0) {
    allow(role, { actions: ['sns:Publish'], resources: [targets.topicArn] });
    allow(role, { actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [targets.topicKeyArn] });
  }

  const machineActions = take('state-machine');
  if (machineActions.length > 0)
    allow(role, { actions: machineActions, resources: [targets.stateMachineArn] });

  const executionActions = take('execution');
  if (executionActions.length > 0) {
    allow(role, {
      actions: executionActions,
      resources: [regionalArn('states', `execution:${targets.stateMachineName}:*`)],
      wildcardReason: REASONS.execution,
    });
  }

  // The alarms the fleets declare (a promotion reads the followed fleet's too): by name.
  const alarmActions = take('alarm');
  const alarms = [...new Set(fleets.flatMap((f) => f.rollout.alarms))].sort();
  if (alarmActions.length > 0 && alarms.length > 0) {
    allow(role, {
      actions: alarmActions,
      resources: alarms.map((name) => regionalArn('cloudwatch', `alarm:${name}`)),
    });
  }

  const ruleActions = take('config-rule');
  if (ruleActions.length > 0) {
    if (targets.configRuleArn === undefined) {
      throw new UnscopedActionError(`${ruleActions.join(', ')} requested but no Config rule is known`);
    }
    allow(role, { actions: ruleActions, resources: [targets.configRuleArn] });
  }
}

/** The id of the synth warning {@link warnWithoutInstanceRoles} adds (acknowledge it to silence it). */
export const INSTANCE_ROLES_WARNING = '@phoenix/instance-role-arns';

/**
 * Synth cannot read launch templates (it runs offline), so it cannot know whether they give
 * instances a profile. What it knows: which fleets the state machine replaces with
 * RunInstances (standalone fleets in enforce mode; Auto Scaling launches with its own role),
 * and whether any instance role may be passed. If a template of one of those fleets carries an
 * instance profile and no role is named, every replacement of that fleet is refused
 * (iam:PassRole) and rolled back: say so before deploying.
 */
function warnWithoutInstanceRoles(
  role: IRole,
  fleets: readonly CompiledFleet[],
  passRoles: readonly string[],
): void {
  if (passRoles.length > 0) return;
  const launched = fleets.filter((f) => f.match.kind === 'tags' && f.mode === 'enforce').map((f) => f.name);
  if (launched.length === 0) return;
  Annotations.of(role).addWarningV2(
    INSTANCE_ROLES_WARNING,
    `Standalone fleet${launched.length === 1 ? '' : 's'} ${launched.join(', ')} ${launched.length === 1 ? 'is' : 'are'} ` +
      "replaced by RunInstances from the remediation steps' role, which may pass no instance role (phoenix:instanceRoleArns " +
      'is empty). If a launch template of these fleets gives its instances an instance profile, EC2 asks for ' +
      "iam:PassRole on the profile's role and every replacement is refused and rolled back: set " +
      'phoenix:instanceRoleArns (or the instanceRoleArns prop) to those roles. Templates without an instance profile ' +
      `need nothing (acknowledge ${INSTANCE_ROLES_WARNING} to silence this).`,
  );
}

/** The launch template ARNs RunInstances is bound to: by ID where declared, else any (named templates). */
export function launchTemplateArns(fleets: readonly CompiledFleet[]): string[] {
  const ids = new Set<string>();
  let byName = false;
  for (const fleet of fleets) {
    if (fleet.launchTemplate.id !== undefined) ids.add(fleet.launchTemplate.id);
    else byName = true;
  }
  if (byName) return [regionalArn('ec2', 'launch-template/*')];
  return [...ids].sort().map((id) => regionalArn('ec2', `launch-template/${id}`));
}

/** An EC2 ARN in any account: for resources AWS RAM can share into this one. */
function sharedEc2Arn(resource: string): string {
  return `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:*:${resource}`;
}

function grantLaunch(role: IRole, fleets: readonly CompiledFleet[], targets: ScopeTargets): void {
  const templates = launchTemplateArns(fleets);
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html#amazonec2-RunInstances
  allow(role, {
    actions: ['ec2:RunInstances'],
    resources: [
      ...templates,
      INSTANCE_ARN,
      regionalArn('ec2', 'volume/*'),
      regionalArn('ec2', 'network-interface/*'),
      regionalArn('ec2', 'key-pair/*'),
      sharedEc2Arn('subnet/*'),
      sharedEc2Arn('security-group/*'),
      sharedEc2Arn('placement-group/*'),
      sharedEc2Arn('capacity-reservation/*'),
      `arn:${Aws.PARTITION}:ec2:${Aws.REGION}::image/*`,
      `arn:${Aws.PARTITION}:ec2:${Aws.REGION}::snapshot/*`,
    ],
    conditions: { ArnLike: { 'ec2:LaunchTemplate': templates } },
    wildcardReason: REASONS.fleetLaunch,
  });
  allow(role, {
    actions: ['ec2:RunInstances'],
    resources: [
      regionalArn('ec2', 'spot-instances-request/*'),
      `arn:${Aws.PARTITION}:license-manager:${Aws.REGION}:*:license-configuration:*`,
    ],
    wildcardReason: REASONS.launchWithoutTemplateKey,
  });
  allow(role, {
    actions: ['ec2:CreateTags'],
    resources: [
      INSTANCE_ARN,
      regionalArn('ec2', 'volume/*'),
      regionalArn('ec2', 'network-interface/*'),
      regionalArn('ec2', 'spot-instances-request/*'),
    ],
    conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
    wildcardReason: REASONS.tagOnCreate,
  });
  allow(role, {
    actions: ['ssm:GetParameters'],
    resources: [
      regionalArn('ssm', 'parameter/*'),
      `arn:${Aws.PARTITION}:ssm:${Aws.REGION}::parameter/aws/service/*`,
    ],
    wildcardReason: REASONS.imageParameters,
  });
  const passRoles = targets.instanceRoleArns ?? [];
  warnWithoutInstanceRoles(role, fleets, passRoles);
  if (passRoles.length > 0) {
    allow(role, {
      actions: ['iam:PassRole'],
      resources: [...passRoles],
      conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    });
  }
  const keys = targets.ebsKmsKeyArns ?? [];
  if (keys.length > 0) {
    allow(role, {
      actions: [
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
      ],
      resources: [...keys],
    });
    allow(role, {
      actions: ['kms:CreateGrant'],
      resources: [...keys],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      wildcardReason: REASONS.ebsKey,
    });
  }
}
