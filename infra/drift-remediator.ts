/**
 * `DriftRemediator`: everything Phoenix needs in one account and region, as one construct.
 *
 * `infra/app.ts` deploys it on its own; a platform team can also embed it in its own CDK
 * app (`npm install` the package, then `new DriftRemediator(this, 'Phoenix', {
 * desiredStatePath: 'phoenix.yaml' })`). It takes the desired state as a file, validated and
 * compiled at synth, or already compiled, and wires, from the parts in `infra/parts/`:
 *
 * - the evaluator and remediation-steps functions (functions.ts), the state table,
 *   the notification topic and its subscriptions, dead-letter queues;
 * - the AWS Config rule and EventBridge rules that invoke the evaluator (detection-rules.ts);
 * - the remediate-instance state machine (state-machine.ts);
 * - alarms and a dashboard (monitoring.ts), the baseline sweep (baseline-sweep.ts), an
 *   optional Config recorder (config-recorder.ts);
 * - IAM scoped to the declared fleets (iam-scoping.ts).
 */
import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { InvalidInputError } from '../functions/domain/errors';
import type { CompiledDesiredState } from '../functions/domain/model';
import { loadDesiredStateFileSync } from '../functions/io/desired-state-file';
import { PhoenixService } from '../functions/runtime/metric-names';
import { BaselineSweep } from './parts/baseline-sweep';
import { ConfigRecorder } from './parts/config-recorder';
import { deadLetterQueue } from './parts/dead-letter-queue';
import { DetectionRules, type SweepFrequency } from './parts/detection-rules';
import { PhoenixFunction } from './parts/functions';
import { grantScoped } from './parts/iam-scoping';
import { type AlarmThresholds, Monitoring } from './parts/monitoring';
import { RemediationStateMachine, stateMachineNameFor } from './parts/state-machine';
import { stateTable } from './parts/state-table';
import { type NotificationSubscription, NotificationTopic } from './parts/topic';

export type { SweepFrequency } from './parts/detection-rules';
export type { AlarmThresholds } from './parts/monitoring';
export type { NotificationSubscription } from './parts/topic';

/**
 * What the evaluator's code calls (functions/evaluate-drift and the modules it bundles),
 * each scoped in iam-scoping.ts. A test compares this list with the SDK commands the bundle
 * imports, so a new call cannot ship without its permission, nor a permission outlive its call.
 */
export const EVALUATOR_ACTIONS = [
  'ec2:DescribeInstances',
  'ec2:DescribeLaunchTemplateVersions',
  'autoscaling:DescribeAutoScalingGroups',
  'config:PutEvaluations',
  'config:GetResourceConfigHistory',
  'dynamodb:GetItem',
  // The compliance ledger: every shard in one read, one note per change notification.
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'sns:Publish',
  'states:StartExecution',
] as const;

/**
 * What the remediation steps' code calls (functions/remediation). The state machine's own
 * SDK tasks (deregistering targets, the quarantine item) are granted to the state machine's
 * role, from the definition, not here. RunInstances is here: its errors are told apart by code
 * (docs/adr/0012-launch-errors-by-code.md).
 */
export const REMEDIATION_ACTIONS = [
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeLaunchTemplateVersions',
  'ec2:RunInstances',
  'ec2:TerminateInstances',
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeScalingActivities',
  'autoscaling:EnterStandby',
  'autoscaling:ExitStandby',
  'autoscaling:SetDesiredCapacity',
  'autoscaling:TerminateInstanceInAutoScalingGroup',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeTargetGroupAttributes',
  'elasticloadbalancing:DescribeTargetHealth',
  'elasticloadbalancing:RegisterTargets',
  'elasticloadbalancing:DeregisterTargets',
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  // TransactWriteItems is authorized per item: the condition checks of a lease transaction.
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
  'sns:Publish',
] as const;

export interface DriftRemediatorProps {
  /**
   * The compiled desired state (`loadDesiredStateFile`); inlined into both function bundles.
   * Give this or {@link DriftRemediatorProps.desiredStatePath}, not both.
   */
  desiredState?: CompiledDesiredState;
  /**
   * Path of phoenix.yaml (relative to the working directory, or absolute), validated and
   * compiled when the construct is built: an invalid file throws `DesiredStateInvalidError`
   * with every `file:line:col message`. Give this or {@link DriftRemediatorProps.desiredState}.
   */
  desiredStatePath?: string;
  /**
   * The commit to record as the provenance of the file read from `desiredStatePath` (CI knows
   * it). Default: asked from Git.
   */
  commit?: string;
  /** Who receives notifications (and alarms): e-mail, SQS or HTTPS, filtered by team. */
  subscriptions?: readonly NotificationSubscription[];
  /**
   * Also create an AWS Config recorder (EC2 instances only) and delivery channel. Only for
   * accounts without one in this region: Config allows one recorder per region. Default false.
   */
  createConfigRecorder?: boolean;
  /** How often Config sweeps every instance besides change-triggered checks. Default twelve hours. */
  sweepFrequency?: SweepFrequency;
  /** When alarms fire. */
  alarmThresholds?: AlarmThresholds;
  /** Retention of every log group. Default three months. */
  logRetention?: RetentionDays;
  /**
   * What happens to stateful resources (table, key, queues, log groups) when they leave the
   * stack. Default RETAIN (the table then has deletion protection). The Config recorder's
   * bucket is always retained.
   */
  removalPolicy?: RemovalPolicy;
  /** Roles the fleets' launch templates put on instances (iam:PassRole for standalone replacements). */
  instanceRoleArns?: readonly string[];
  /** Customer-managed KMS keys encrypting the fleets' EBS volumes (needed to launch replacements). */
  ebsKmsKeyArns?: readonly string[];
  /** Powertools log level of both functions. Default INFO. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export interface DriftRemediatorFromFileProps
  extends Omit<DriftRemediatorProps, 'desiredState' | 'desiredStatePath'> {
  /** Path of phoenix.yaml, relative to the working directory or absolute. */
  desiredStatePath: string;
}

/** The desired state the props give: compiled, or read from its file now. */
function desiredStateOf(props: DriftRemediatorProps): CompiledDesiredState {
  const { desiredState, desiredStatePath, commit } = props;
  if (desiredState !== undefined && desiredStatePath !== undefined) {
    throw new InvalidInputError('DriftRemediator: give either desiredState or desiredStatePath, not both');
  }
  if (desiredState !== undefined) return desiredState;
  if (desiredStatePath === undefined) {
    throw new InvalidInputError(
      'DriftRemediator: give desiredStatePath (the phoenix.yaml to compile) or a compiled desiredState',
    );
  }
  return loadDesiredStateFileSync(desiredStatePath, commit === undefined ? {} : { commit });
}

export class DriftRemediator extends Construct {
  readonly desiredState: CompiledDesiredState;
  readonly evaluator: PhoenixFunction;
  readonly remediationSteps: PhoenixFunction;
  readonly table: Table;
  readonly topic: Topic;
  readonly stateMachine: StateMachine;
  readonly stateMachineName: string;
  readonly detection: DetectionRules;
  readonly monitoring: Monitoring;
  readonly baselineSweep: BaselineSweep;
  readonly configRecorder?: ConfigRecorder;
  /** Events EventBridge could not deliver to the evaluator. */
  readonly eventDeliveryFailures: Queue;
  /** Asynchronous evaluator invocations (Config, EventBridge) that failed every retry. */
  readonly invocationFailures: Queue;

  /**
   * Validates and compiles a desired-state file, then builds the construct. Synth fails
   * with every `file:line:col message` when the file is invalid. The same as the
   * constructor with `desiredStatePath`, kept for callers that await it.
   */
  static async fromFile(
    scope: Construct,
    id: string,
    props: DriftRemediatorFromFileProps,
  ): Promise<DriftRemediator> {
    return new DriftRemediator(scope, id, props);
  }

  constructor(scope: Construct, id: string, props: DriftRemediatorProps) {
    // Before joining the tree: a file that does not load leaves nothing behind in `scope`.
    const desiredState = desiredStateOf(props);
    super(scope, id);
    this.desiredState = desiredState;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;
    const logLevel = props.logLevel ?? 'INFO';
    const fleets = desiredState.fleets;

    this.table = stateTable(this, 'StateTable', removalPolicy);
    const notifications = new NotificationTopic(this, 'Notifications', {
      subscriptions: props.subscriptions ?? [],
      removalPolicy,
    });
    this.topic = notifications.topic;
    this.eventDeliveryFailures = deadLetterQueue(this, 'EventDeliveryFailures', {
      holds: 'EventBridge events that could not be delivered to the evaluator',
      removalPolicy,
    });
    this.invocationFailures = deadLetterQueue(this, 'InvocationFailures', {
      holds: 'asynchronous evaluator invocations that failed every retry',
      removalPolicy,
      lambdaDeadLetterTarget: true,
    });

    this.stateMachineName = stateMachineNameFor(this);
    const stateMachineArn = RemediationStateMachine.arnFor(this.stateMachineName);
    const environment = {
      PHOENIX_TABLE_NAME: this.table.tableName,
      PHOENIX_TOPIC_ARN: this.topic.topicArn,
      PHOENIX_STATE_MACHINE_ARN: stateMachineArn,
    };
    const common = { desiredState, environment, logRetention, removalPolicy, logLevel };
    this.evaluator = new PhoenixFunction(this, 'Evaluator', {
      ...common,
      entry: 'functions/evaluate-drift/handler.ts',
      serviceName: PhoenixService.evaluator,
      purpose: 'Phoenix evaluator: judges EC2 instances against the desired state',
      // A scheduled sweep pages through every fleet and writes evaluations in batches of 100.
      memorySize: 512,
      timeout: Duration.minutes(5),
      asyncFailureQueue: this.invocationFailures,
    });
    this.remediationSteps = new PhoenixFunction(this, 'RemediationSteps', {
      ...common,
      entry: 'functions/remediation/handler.ts',
      serviceName: PhoenixService.remediation,
      purpose: 'Phoenix remediation steps: the logic steps of the remediate-instance state machine',
      memorySize: 256,
      timeout: Duration.minutes(1),
      synchronousOnlyReason:
        'Only the state machine invokes this function, synchronously (lambda:invoke); a failed step is ' +
        "retried and caught by the state machine's Retry/Catch and rolled back, so nothing is ever queued.",
    });

    const targets = {
      tableArn: this.table.tableArn,
      topicArn: this.topic.topicArn,
      topicKeyArn: notifications.key.keyArn,
      stateMachineArn,
      stateMachineName: this.stateMachineName,
      instanceRoleArns: props.instanceRoleArns ?? [],
      ebsKmsKeyArns: props.ebsKmsKeyArns ?? [],
    };
    grantScoped(this.evaluator.role, EVALUATOR_ACTIONS, fleets, targets);
    grantScoped(this.remediationSteps.role, REMEDIATION_ACTIONS, fleets, targets);

    const machine = new RemediationStateMachine(this, 'Remediation', {
      stateMachineName: this.stateMachineName,
      steps: this.remediationSteps.live,
      tableName: this.table.tableName,
      fleets,
      targets,
      logRetention,
      removalPolicy,
    });
    this.stateMachine = machine.stateMachine;

    if (props.createConfigRecorder === true) {
      this.configRecorder = new ConfigRecorder(this, 'ConfigRecorder');
    }
    this.detection = new DetectionRules(this, 'Detection', {
      evaluator: this.evaluator.live,
      deliveryFailures: this.eventDeliveryFailures,
      sweepFrequency: props.sweepFrequency ?? 'Twelve_Hours',
      ruleDependsOn: this.configRecorder?.ready ?? [],
    });

    this.baselineSweep = new BaselineSweep(this, 'BaselineSweep', {
      configRuleName: this.detection.configRule.ref,
      configRuleArn: this.detection.configRule.attrArn,
      desiredStateSha256: desiredState.provenance.sha256,
      after: [this.evaluator.live],
      logRetention,
      removalPolicy,
    });

    const deadLetterQueues = [
      { name: 'EventDelivery', queue: this.eventDeliveryFailures },
      { name: 'Invocation', queue: this.invocationFailures },
      ...(notifications.deliveryFailures === undefined
        ? []
        : [{ name: 'NotificationDelivery', queue: notifications.deliveryFailures }]),
    ];
    this.monitoring = new Monitoring(this, 'Monitoring', {
      topic: this.topic,
      stateMachine: this.stateMachine,
      functions: [
        { name: 'Evaluator', function: this.evaluator.function },
        { name: 'RemediationSteps', function: this.remediationSteps.function },
      ],
      deadLetterQueues,
      desiredState,
      thresholds: props.alarmThresholds ?? {},
    });

    new CfnOutput(this, 'TopicArn', {
      value: this.topic.topicArn,
      description: 'Notifications topic: subscribe with a filter policy on the team attribute',
    });
    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Phoenix state table' });
    new CfnOutput(this, 'StateMachineArn', {
      value: this.stateMachine.stateMachineArn,
      description: 'remediate-instance state machine',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: this.monitoring.dashboardUrl,
      description: 'CloudWatch dashboard',
    });
    new CfnOutput(this, 'PauseCommand', {
      value: `npx phoenix pause --table ${this.table.tableName} --region ${this.table.env.region}`,
      description: 'Stops new remediations without a deploy (npx phoenix resume undoes it)',
    });
    new CfnOutput(this, 'DesiredStateRevision', {
      value: `${desiredState.revision} (${desiredState.provenance.path} @ ${desiredState.provenance.commit})`,
      description: 'The desired state compiled into this deployment',
    });
  }
}
