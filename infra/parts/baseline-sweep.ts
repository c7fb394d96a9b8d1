/**
 * Judge every instance right after a deploy that changed the desired state.
 *
 * A custom resource calls Config's StartConfigRulesEvaluation for Phoenix's rule. Its
 * properties carry the compiled desired state's sha256, so CloudFormation updates it (and
 * the sweep runs again) exactly when phoenix.yaml changed, after the functions carrying the
 * new state are live. A rule Config is still evaluating (LimitExceededException: right
 * after the rule is created, or during a periodic sweep) is already being swept.
 */
import { CfnResource, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct, type IDependable } from 'constructs';
import { acknowledge } from './nag';

export interface BaselineSweepProps {
  configRuleName: string;
  configRuleArn: string;
  /** sha256 of the desired-state file: a new value triggers a sweep. */
  desiredStateSha256: string;
  /** What must be in place first (the rule, the evaluator's live alias). */
  after: readonly IDependable[];
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

export class BaselineSweep extends Construct {
  readonly resource: AwsCustomResource;

  constructor(scope: Construct, id: string, props: BaselineSweepProps) {
    super(scope, id);
    const call: AwsSdkCall = {
      service: 'ConfigService',
      action: 'StartConfigRulesEvaluation',
      parameters: { ConfigRuleNames: [props.configRuleName] },
      physicalResourceId: PhysicalResourceId.of(
        `phoenix-baseline-sweep-${props.desiredStateSha256.slice(0, 16)}`,
      ),
      ignoreErrorCodesMatching: 'LimitExceededException',
    };
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // An own role: only this call and its own log group (no AWSLambdaBasicExecutionRole).
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Phoenix baseline sweep: starts the Config rule evaluation after a deploy',
    });
    logGroup.grantWrite(role);

    this.resource = new AwsCustomResource(this, 'Sweep', {
      resourceType: 'Custom::PhoenixBaselineSweep',
      onCreate: call,
      onUpdate: call,
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          actions: ['config:StartConfigRulesEvaluation'],
          resources: [props.configRuleArn],
        }),
      ]),
      role,
      installLatestAwsSdk: false,
      logGroup,
      memorySize: 256,
      timeout: Duration.minutes(2),
    });
    const cfn = this.resource.node.findChild('Resource').node.defaultChild;
    if (!(cfn instanceof CfnResource)) throw new Error('AwsCustomResource has no CfnResource child');
    cfn.addPropertyOverride('DesiredStateSha256', props.desiredStateSha256);
    for (const dependency of props.after) this.resource.node.addDependency(dependency);

    // The provider function is a stack-wide singleton (one per stack, shared by every AwsCustomResource).
    const provider = Stack.of(this).node.tryFindChild(
      `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
    );
    if (provider === undefined) throw new Error('the AwsCustomResource provider function was not found');
    acknowledge(
      provider,
      'Serverless-LambdaDLQ',
      'The provider function is invoked by CloudFormation, which waits for its answer and fails the ' +
        'resource when none comes; a dead-letter queue would hold nothing anyone acts on.',
    );
    acknowledge(
      provider,
      'Serverless-LambdaTracing',
      'The provider makes one SDK call per deploy that changed the desired state; its log group records ' +
        'the call and its outcome, a trace would add nothing.',
    );
  }
}
