/**
 * What invokes the evaluator: the AWS Config custom rule (every change to an instance's
 * configuration item, and a periodic sweep) and EventBridge rules for the fast path
 * (CloudTrail API calls seconds after they happen, launch template changes, instances
 * entering `running`). Every EventBridge target retries and keeps what it cannot deliver.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import { CfnConfigRule } from 'aws-cdk-lib/aws-config';
import { type EventPattern, Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Alias } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct, type IDependable } from 'constructs';

/** CloudTrail management events on instances that can change what the engine compares. */
export const INSTANCE_API_CALLS = [
  'CreateTags',
  'DeleteTags',
  'ModifyInstanceAttribute',
  'RunInstances',
] as const;
/** CloudTrail management events that change which template version is current. */
export const LAUNCH_TEMPLATE_CALLS = ['CreateLaunchTemplateVersion', 'ModifyLaunchTemplate'] as const;

/** Config's periodic frequencies (the rule's MaximumExecutionFrequency). */
export type SweepFrequency = 'One_Hour' | 'Three_Hours' | 'Six_Hours' | 'Twelve_Hours' | 'TwentyFour_Hours';

export interface DetectionRulesProps {
  evaluator: Alias;
  /** Events EventBridge could not deliver to the evaluator after its retries. */
  deliveryFailures: IQueue;
  sweepFrequency: SweepFrequency;
  /** Resources the Config rule needs first (the recorder, when this stack creates one). */
  ruleDependsOn?: readonly IDependable[];
}

function cloudTrailCalls(eventNames: readonly string[]): EventPattern {
  return {
    source: ['aws.ec2'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['ec2.amazonaws.com'],
      eventName: [...eventNames],
      // A call that failed changed nothing.
      errorCode: Match.doesNotExist(),
    },
  };
}

export class DetectionRules extends Construct {
  readonly configRule: CfnConfigRule;
  readonly eventRules: Rule[];

  constructor(scope: Construct, id: string, props: DetectionRulesProps) {
    super(scope, id);

    // Config invokes the rule's function asynchronously, from this account only.
    props.evaluator.addPermission('ConfigRuleInvoke', {
      principal: new ServicePrincipal('config.amazonaws.com'),
      sourceAccount: Aws.ACCOUNT_ID,
    });
    const permission = props.evaluator.permissionsNode.findChild('ConfigRuleInvoke');

    this.configRule = new CfnConfigRule(this, 'ConfigRule', {
      description:
        'Phoenix: each EC2 instance matches the tags and launch template Git declares (phoenix.yaml)',
      scope: { complianceResourceTypes: ['AWS::EC2::Instance'] },
      maximumExecutionFrequency: props.sweepFrequency,
      source: {
        owner: 'CUSTOM_LAMBDA',
        sourceIdentifier: props.evaluator.functionArn,
        sourceDetails: [
          { eventSource: 'aws.config', messageType: 'ConfigurationItemChangeNotification' },
          { eventSource: 'aws.config', messageType: 'OversizedConfigurationItemChangeNotification' },
          {
            eventSource: 'aws.config',
            messageType: 'ScheduledNotification',
            maximumExecutionFrequency: props.sweepFrequency,
          },
        ],
      },
    });
    // Config checks at creation that it may invoke the function.
    this.configRule.node.addDependency(permission);
    for (const dependency of props.ruleDependsOn ?? []) this.configRule.node.addDependency(dependency);

    const target = new LambdaFunction(props.evaluator, {
      deadLetterQueue: props.deliveryFailures,
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
    });
    this.eventRules = [
      new Rule(this, 'InstanceApiCalls', {
        description: `Phoenix fast path: ${INSTANCE_API_CALLS.join(', ')} (CloudTrail)`,
        eventPattern: cloudTrailCalls(INSTANCE_API_CALLS),
        targets: [target],
      }),
      new Rule(this, 'LaunchTemplateChanges', {
        description: `Phoenix: a launch template changed (${LAUNCH_TEMPLATE_CALLS.join(', ')}): judge its fleets`,
        eventPattern: cloudTrailCalls(LAUNCH_TEMPLATE_CALLS),
        targets: [target],
      }),
      new Rule(this, 'InstanceRunning', {
        description: 'Phoenix: judge every instance as soon as it is running',
        eventPattern: {
          source: ['aws.ec2'],
          detailType: ['EC2 Instance State-change Notification'],
          detail: { state: ['running'] },
        },
        targets: [target],
      }),
    ];
  }
}
