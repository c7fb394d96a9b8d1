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
 * - the remediate-instance state machine (state-machine.ts) and its fleet queue sweep (queue-sweep.ts);
 * - alarms and a dashboard (monitoring.ts), the baseline sweep (baseline-sweep.ts), an
 *   optional Config recorder (config-recorder.ts);
 * - IAM scoped to the declared fleets (iam-scoping.ts).
 */
import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { InvalidInputError } from '../functions/domain/errors';
import type { CompiledDesiredState } from '../functions/domain/model';
import { loadDesiredStateFileSync } from '../functions/io/desired-state-file';
import { PhoenixService } from '../functions/runtime/metric-names';
import { BaselineSweep } from './parts/baseline-sweep';
import { type ChatChannel, ChatChannels } from './parts/chat';
import { ConfigRecorder } from './parts/config-recorder';
import { deadLetterQueue } from './parts/dead-letter-queue';
import { DetectionRules, type SweepFrequency } from './parts/detection-rules';
import { PhoenixFunction } from './parts/functions';
import { grantScoped } from './parts/iam-scoping';
import { type AlarmThresholds, Monitoring } from './parts/monitoring';
import { PlanRole, type PlanRoleOptions } from './parts/plan-role';
import { QueueSweep } from './parts/queue-sweep';
import { RemediationStateMachine, stateMachineNameFor } from './parts/state-machine';
import { checkStateTableLayout, stateTable } from './parts/state-table';
import { type NotificationSubscription, NotificationTopic } from './parts/topic';

export type { ChatChannel, SlackChatChannel, TeamsChatChannel } from './parts/chat';
export type { SweepFrequency } from './parts/detection-rules';
export type { AlarmThresholds } from './parts/monitoring';
export type { PlanRoleOptions } from './parts/plan-role';
export { PLAN_ACTIONS } from './parts/plan-role';
export { STATE_TABLE_LAYOUT } from './parts/state-table';
export type { NotificationFilter, NotificationSubscription } from './parts/topic';

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
  // A rollout's stage written with its quarantine (TransactWriteItems, authorized per item).
  'dynamodb:ConditionCheckItem',
  'dynamodb:Query',
  'sns:Publish',
  'states:StartExecution',
  // The fleets' rollout alarms, read lazily at detection (issue 15).
  'cloudwatch:DescribeAlarms',
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
  // The fleets' rollout alarms, read at the lease and at every member's end (issue 15).
  'cloudwatch:DescribeAlarms',
  // The fleet queue answers parked lease tasks (docs/adr/0032-a-queue-not-a-poll.md).
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
] as const;

/**
 * How a {@link DriftRemediator} is configured: the desired state (compiled, or the path of its
 * file) is required, every other prop is optional. `infra/app.ts` sets them from `phoenix:*`
 * context keys (docs/deploy.md).
 */
export interface DriftRemediatorProps {
  /**
   * The compiled desired state (`loadDesiredStateFile`); inlined into every function bundle.
   * Give this or {@link DriftRemediatorProps.desiredStatePath}, not both.
   * @default - compiled from `desiredStatePath`
   */
  readonly desiredState?: CompiledDesiredState;
  /**
   * Path of phoenix.yaml (relative to the working directory, or absolute), validated and
   * compiled when the construct is built: an invalid file throws `DesiredStateInvalidError`
   * with every `file:line:col message`. Give this or {@link DriftRemediatorProps.desiredState}.
   * @default - none: `desiredState` is given instead
   */
  readonly desiredStatePath?: string;
  /**
   * The commit to record as the provenance of the file read from `desiredStatePath` (CI knows
   * it).
   * @default - asked from Git
   */
  readonly commit?: string;
  /**
   * Who receives notifications (and alarms): e-mail, SQS or HTTPS, each filtered by team
   * and event.
   * @default - no subscriptions
   */
  readonly subscriptions?: readonly NotificationSubscription[];
  /**
   * Also create an AWS Config recorder (EC2 instances only) and delivery channel. Only for
   * accounts without one in this region: Config allows one recorder per region.
   * @default false
   */
  readonly createConfigRecorder?: boolean;
  /**
   * How often Config sweeps every instance besides change-triggered checks.
   * @default 'Twelve_Hours'
   */
  readonly sweepFrequency?: SweepFrequency;
  /**
   * When alarms fire.
   * @default - every threshold 1 in a period of 5 minutes
   */
  readonly alarmThresholds?: AlarmThresholds;
  /**
   * Retention of every log group.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to stateful resources (table, key, queues, log groups) when they leave the
   * stack. With RETAIN the table also has deletion protection. The Config recorder's bucket
   * is always retained; a table or topic brought with `table` / `topic` is not Phoenix's to
   * remove.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Roles the fleets' launch templates put on instances (iam:PassRole for standalone
   * replacements, only to EC2).
   * @default - none
   */
  readonly instanceRoleArns?: readonly string[];
  /**
   * Customer-managed KMS keys encrypting the fleets' EBS volumes (needed to launch replacements).
   * @default - none
   */
  readonly ebsKmsKeyArns?: readonly string[];
  /**
   * Powertools log level of every function.
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Bring your own state table instead of the one Phoenix creates (e.g. one table shared
   * with a backup plan). It must have partition key `pk` (string), sort key `sk` (string)
   * and TTL enabled on `expiresAt` (`STATE_TABLE_LAYOUT`); a table defined in the same
   * app is checked at synth, an imported one is taken on trust. A customer-managed key on it
   * is granted to every role that reads or writes it.
   * @default - an on-demand table with point-in-time recovery, created with the stack
   */
  readonly table?: ITable;
  /**
   * Bring your own notification topic instead of the one Phoenix creates. It must be
   * encrypted with a customer-managed key that `topic.masterKey` names (import one with
   * `Topic.fromTopicAttributes({ topicArn, keyArn })`); its policies must let this account's
   * CloudWatch alarms publish with that key (added here when the topic is in the same app).
   * @default - a KMS-encrypted topic, TLS enforced, created with the stack
   */
  readonly topic?: ITopic;
  /**
   * A read-only role for `phoenix plan` in pull requests, assumed by GitHub Actions of one
   * repository through OIDC (examples/ci/github-phoenix-plan.yml). Its ARN is the
   * `PlanRoleArn` output.
   * @default - no plan role
   */
  readonly planRole?: PlanRoleOptions;
  /**
   * Slack or Microsoft Teams channels, through AWS Chatbot, each receiving the notifications
   * its `teams` / `events` filter lets through (like `subscriptions`), rewritten for chat,
   * with a read-only role and guardrail. The workspace or team must first be authorised in
   * the AWS Chatbot console.
   * @default - no chat channels
   */
  readonly chatChannels?: readonly ChatChannel[];
}

export interface DriftRemediatorFromFileProps
  extends Omit<DriftRemediatorProps, 'desiredState' | 'desiredStatePath'> {
  /** Path of phoenix.yaml, relative to the working directory or absolute. */
  readonly desiredStatePath: string;
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
  /** The state table: the one created, or the one brought with `props.table`. */
  readonly table: ITable;
  /** The notification topic: the one created, or the one brought with `props.topic`. */
  readonly topic: ITopic;
  readonly stateMachine: StateMachine;
  readonly stateMachineName: string;
  readonly detection: DetectionRules;
  readonly monitoring: Monitoring;
  readonly baselineSweep: BaselineSweep;
  /** The fleet queue's sweep schedule (queue-sweep.ts). */
  readonly queueSweep: QueueSweep;
  readonly configRecorder?: ConfigRecorder;
  /** Events EventBridge could not deliver to the evaluator. */
  readonly eventDeliveryFailures: Queue;
  /** Asynchronous evaluator invocations (Config, EventBridge) that failed every retry. */
  readonly invocationFailures: Queue;
  /** The read-only role of `phoenix plan` in pull requests; only with `props.planRole`. */
  readonly planRole?: PlanRole;
  /** The chat channels and their relay; only with `props.chatChannels`. */
  readonly chat?: { readonly channels: ChatChannels; readonly relay: PhoenixFunction };

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

    if (props.table === undefined) {
      this.table = stateTable(this, 'StateTable', removalPolicy);
    } else {
      checkStateTableLayout(props.table);
      this.table = props.table;
    }
    const notifications = new NotificationTopic(this, 'Notifications', {
      subscriptions: props.subscriptions ?? [],
      removalPolicy,
      topic: props.topic,
      lambdaDelivers: (props.chatChannels ?? []).length > 0,
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
        'The state machine invokes this function synchronously (lambda:invoke); a failed step is ' +
        "retried and caught by the state machine's Retry/Catch and rolled back. The one asynchronous " +
        'invocation is the queue sweep schedule: stateless, repeated every few minutes, so a failed sweep ' +
        'is replaced by the next one and nothing is worth keeping.',
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
    // A table brought with its own customer-managed key: everything that reads or writes it needs the key.
    this.table.encryptionKey?.grantEncryptDecrypt(this.evaluator.role);
    this.table.encryptionKey?.grantEncryptDecrypt(this.remediationSteps.role);

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
    this.table.encryptionKey?.grantEncryptDecrypt(this.stateMachine);
    this.queueSweep = new QueueSweep(this, 'QueueSweep', {
      steps: this.remediationSteps.live,
      deliveryFailures: this.eventDeliveryFailures,
    });

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
    const chatChannels = props.chatChannels ?? [];
    if (chatChannels.length > 0 && notifications.deliveryFailures !== undefined) {
      const channels = new ChatChannels(this, 'Chat', {
        channels: chatChannels,
        source: this.topic,
        key: notifications.key,
        deliveryFailures: notifications.deliveryFailures,
        stateMachineName: this.stateMachineName,
        removalPolicy,
      });
      const relay = new PhoenixFunction(this, 'ChatRelay', {
        ...common,
        environment: { PHOENIX_CHAT_ROUTES: channels.routesJson() },
        entry: 'functions/chat-relay/handler.ts',
        serviceName: PhoenixService.chatRelay,
        purpose: "Phoenix chat relay: rewrites notifications for AWS Chatbot, to each channel's topic",
        memorySize: 256,
        timeout: Duration.seconds(30),
        asyncFailureQueue: notifications.deliveryFailures,
      });
      channels.connect(relay);
      this.chat = { channels, relay };
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      topic: this.topic,
      stateMachine: this.stateMachine,
      functions: [
        { name: 'Evaluator', function: this.evaluator.function },
        { name: 'RemediationSteps', function: this.remediationSteps.function },
        ...(this.chat === undefined ? [] : [{ name: 'ChatRelay', function: this.chat.relay.function }]),
      ],
      deadLetterQueues,
      desiredState,
      thresholds: props.alarmThresholds ?? {},
      rolloutLogGroups: [this.remediationSteps.logGroup, this.evaluator.logGroup],
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
    if (props.planRole !== undefined) {
      this.planRole = new PlanRole(this, 'PlanRole', {
        ...props.planRole,
        fleets,
        targets,
        tableKey: this.table.encryptionKey,
      });
      new CfnOutput(this, 'PlanRoleArn', {
        value: this.planRole.role.roleArn,
        description:
          'Read-only role for phoenix plan in pull requests (role-to-assume of the GitHub workflow)',
      });
    }
    new CfnOutput(this, 'DesiredStateRevision', {
      value: `${desiredState.revision} (${desiredState.provenance.path} @ ${desiredState.provenance.commit})`,
      description: 'The desired state compiled into this deployment',
    });
  }
}
