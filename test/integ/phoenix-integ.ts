/**
 * The real-account test (`npm run test:aws`, docs/aws-truth.md): what only AWS can prove.
 *
 * Two stacks and their assertions, run by `@aws-cdk/integ-runner`:
 *
 * - the estate: a VPC with public subnets only (no NAT), one launch template whose image is
 *   resolved from Systems Manager at launch (`resolve:ssm:`), an Auto Scaling group of two
 *   built from it (`web`), and one standalone instance launched from it (`reports`);
 * - Phoenix, deployed by the same DriftRemediator construct users deploy, in enforce mode for
 *   both fleets, with a queue subscribed to its topic for `remediation.succeeded`;
 * - the assertions (integ-tests-alpha): someone edits a tag by hand on one member of the group
 *   and on the standalone instance; Config is asked to evaluate (the fast path needs a
 *   CloudTrail trail, which a sandbox may not have); then, waiting as long as AWS takes:
 *   both are NON_COMPLIANT in Config (detection and the compliance record), both are
 *   terminated (replacement), the group is back at two, and the team's queue received
 *   `remediation.succeeded` for each. Last, the standalone replacement (which CloudFormation
 *   does not own) is terminated, so destroying the estate leaves nothing behind.
 *
 * `npm test` synthesizes all of it (test/integ/phoenix-integ.test.ts) so it cannot rot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { type App, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import {
  CfnInstance,
  InstanceClass,
  InstanceSize,
  InstanceType,
  LaunchTemplate,
  MachineImage,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { SubscriptionFilter } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { compileDesiredState } from '../../functions/domain/desired-state/compile';
import { parseDesiredState } from '../../functions/domain/desired-state/validate';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { DriftRemediator } from '../../infra/drift-remediator';

/** Names the desired state declares, so they are fixed in the estate too. */
export const INTEG_NAMES = {
  group: 'phoenix-integ-web',
  template: 'phoenix-integ',
  reportsApp: 'phoenix-integ-reports',
  owner: 'team-integ',
} as const;

/** The desired state the test deploys: both fleets enforced, the group may dip to one. */
export const INTEG_DESIRED_STATE = `version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: ${INTEG_NAMES.group} }
    launchTemplate: { name: ${INTEG_NAMES.template} }
    tags: { Owner: ${INTEG_NAMES.owner} }
    team: integ
  reports:
    match: { tags: { App: ${INTEG_NAMES.reportsApp} } }
    launchTemplate: { name: ${INTEG_NAMES.template} }
    tags: { Owner: ${INTEG_NAMES.owner} }
    team: integ
`;

/** Compiles the integ desired state as synth compiles phoenix.yaml. */
export function integDesiredState(): CompiledDesiredState {
  const parsed = parseDesiredState(INTEG_DESIRED_STATE, 'integ.yaml');
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.line}:${i.column} ${i.message}`).join('\n'));
  return compileDesiredState(parsed.value, { commit: 'integ', path: 'integ.yaml', sha256: '0'.repeat(64) });
}

export interface PhoenixIntegOptions {
  /**
   * Let the stack create a Config recorder (the account must not have one in the region).
   * Default true; `PHOENIX_INTEG_CONFIG_RECORDER=false` for an account that records EC2 instances already.
   */
  createConfigRecorder?: boolean;
  /** How long to wait for detection and replacement (AWS Config takes minutes). Default 45 minutes. */
  patience?: Duration;
}

export interface PhoenixInteg {
  estate: Stack;
  phoenix: Stack;
  remediator: DriftRemediator;
  integ: IntegTest;
}

/** Builds the real-account test in `app`. */
export function phoenixInteg(app: App, options: PhoenixIntegOptions = {}): PhoenixInteg {
  const patience = options.patience ?? Duration.minutes(45);
  const wait = { totalTimeout: patience, interval: Duration.seconds(30), backoffRate: 1 };

  // ---- the estate a team runs --------------------------------------------------------------
  const estate = new Stack(app, 'PhoenixIntegEstate', {
    description: 'Phoenix real-account test: the estate',
  });
  const vpc = new Vpc(estate, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC }],
  });
  const securityGroup = new SecurityGroup(estate, 'Instances', { vpc, allowAllOutbound: true });
  const template = new LaunchTemplate(estate, 'Template', {
    launchTemplateName: INTEG_NAMES.template,
    // resolve:ssm: at launch: the state machine's RunInstances must be allowed ssm:GetParameters.
    machineImage: MachineImage.resolveSsmParameterAtLaunch(
      '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
    ),
    instanceType: InstanceType.of(InstanceClass.T3, InstanceSize.MICRO),
    securityGroup,
    requireImdsv2: true,
  });
  const group = new AutoScalingGroup(estate, 'Web', {
    autoScalingGroupName: INTEG_NAMES.group,
    vpc,
    vpcSubnets: { subnetType: SubnetType.PUBLIC },
    launchTemplate: template,
    minCapacity: 1,
    maxCapacity: 3,
    desiredCapacity: 2,
  });
  Tags.of(group).add('Owner', INTEG_NAMES.owner, { applyToLaunchedInstances: true });
  const reports = new CfnInstance(estate, 'Reports', {
    launchTemplate: { launchTemplateId: template.launchTemplateId, version: template.latestVersionNumber },
    subnetId: vpc.publicSubnets[0]?.subnetId,
    tags: [
      { key: 'App', value: INTEG_NAMES.reportsApp },
      { key: 'Owner', value: INTEG_NAMES.owner },
    ],
  });

  // ---- Phoenix, as users deploy it -----------------------------------------------------------
  const phoenix = new Stack(app, 'PhoenixIntegUnderTest', {
    description: 'Phoenix real-account test: Phoenix',
  });
  phoenix.addDependency(estate, 'the fleets Phoenix declares must exist before its baseline sweep');
  const remediator = new DriftRemediator(phoenix, 'Phoenix', {
    desiredState: integDesiredState(),
    createConfigRecorder: options.createConfigRecorder ?? true,
    removalPolicy: RemovalPolicy.DESTROY,
    sweepFrequency: 'One_Hour',
  });
  const inbox = new Queue(phoenix, 'TeamInbox', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(5),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  remediator.topic.addSubscription(
    new SqsSubscription(inbox, {
      rawMessageDelivery: true,
      filterPolicy: { event: SubscriptionFilter.stringFilter({ allowlist: ['remediation.succeeded'] }) },
    }),
  );

  // ---- what only AWS can prove ---------------------------------------------------------------
  const integ = new IntegTest(app, 'PhoenixInteg', {
    testCases: [estate, phoenix],
    diffAssets: false,
    stackUpdateWorkflow: false,
    cdkCommandOptions: { destroy: { args: { force: true } } },
  });
  const a = integ.assertions;
  const member = a
    .awsApiCall('AutoScaling', 'describeAutoScalingGroups', { AutoScalingGroupNames: [INTEG_NAMES.group] })
    .getAttString('AutoScalingGroups.0.Instances.0.InstanceId');
  const standalone = reports.ref;

  const drift = a.awsApiCall('EC2', 'createTags', {
    Resources: [member, standalone],
    Tags: [{ Key: 'Owner', Value: 'edited-by-hand' }],
  });
  const evaluate = a.awsApiCall('ConfigService', 'startConfigRulesEvaluation', {
    ConfigRuleNames: [remediator.detection.configRule.ref],
  });
  const nonCompliant = (instanceId: string) =>
    a
      .awsApiCall('ConfigService', 'getComplianceDetailsByResource', {
        ResourceType: 'AWS::EC2::Instance',
        ResourceId: instanceId,
      })
      .expect(
        ExpectedResult.objectLike({
          EvaluationResults: [ExpectedResult.objectLike({ ComplianceType: 'NON_COMPLIANT' })],
        }),
      )
      .waitForAssertions(wait);
  const terminated = (instanceId: string) =>
    a
      .awsApiCall('EC2', 'describeInstances', { InstanceIds: [instanceId] })
      .assertAtPath('Reservations.0.Instances.0.State.Name', ExpectedResult.stringLikeRegexp('^terminated$'))
      .waitForAssertions(wait);
  const told = (instanceId: string) =>
    a
      .awsApiCall('SQS', 'receiveMessage', {
        QueueUrl: inbox.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 20,
      })
      .expect(
        ExpectedResult.objectLike({
          Messages: ExpectedResult.arrayWith([
            ExpectedResult.objectLike({
              Body: ExpectedResult.stringLikeRegexp(`"instanceId":"${instanceId}"`),
            }),
          ]),
        }),
      )
      .waitForAssertions(wait);
  const groupBack = a
    .awsApiCall('AutoScaling', 'describeAutoScalingGroups', { AutoScalingGroupNames: [INTEG_NAMES.group] })
    .expect(
      ExpectedResult.objectLike({ AutoScalingGroups: [ExpectedResult.objectLike({ DesiredCapacity: 2 })] }),
    )
    .waitForAssertions(wait);
  // The standalone replacement is Phoenix's, not CloudFormation's: terminate it before the
  // estate is destroyed, or its network interface keeps the VPC alive.
  const replacement = a.awsApiCall('EC2', 'describeInstances', {
    Filters: [
      { Name: 'tag:App', Values: [INTEG_NAMES.reportsApp] },
      { Name: 'instance-state-name', Values: ['pending', 'running'] },
    ],
  });
  const cleanUp = a.awsApiCall('EC2', 'terminateInstances', {
    InstanceIds: [replacement.getAttString('Reservations.0.Instances.0.InstanceId')],
  });

  drift
    .next(evaluate)
    .next(nonCompliant(member))
    .next(nonCompliant(standalone))
    .next(terminated(member))
    .next(terminated(standalone))
    .next(groupBack)
    .next(told(member))
    .next(told(standalone))
    .next(replacement)
    .next(cleanUp);
  return { estate, phoenix, remediator, integ };
}
