/**
 * Alarms that page (through the notification topic) when Phoenix itself is in trouble, and
 * a dashboard of what it does: detections, remediations by outcome, time to remediate,
 * budget blocks, the health of its functions and queues, and each fleet's rollout stage.
 *
 * Phoenix's own metrics are read with CloudWatch SEARCH expressions summed over every
 * dimension combination, so a dimension added by the code (a fleet, a team) never empties
 * a graph. Alarms cannot use SEARCH; those on Phoenix's metrics use a Metrics Insights query
 * instead, which likewise matches the metric whatever its dimensions. Their names come from
 * functions/runtime/metric-names.ts, shared with the code.
 */
import { Aws, Duration, Names } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  LogQueryVisualizationType,
  LogQueryWidget,
  MathExpression,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CompiledDesiredState } from '../../functions/domain/model';
import {
  METRIC_NAMESPACE,
  PhoenixMetric,
  type PhoenixMetricName,
} from '../../functions/runtime/metric-names';

/** When an alarm fires. Every threshold is "at least this many in one period". */
export interface AlarmThresholds {
  /** Failed remediation executions per period (default 1). */
  executionsFailed?: number;
  /** Timed-out remediation executions per period (default 1). */
  executionsTimedOut?: number;
  /** Errors of one function per period (default 1). */
  functionErrors?: number;
  /** Messages waiting in a dead-letter queue (default 1). */
  deadLetterMessages?: number;
  /** Events the evaluator could not understand, per period (default 1). */
  malformedEvents?: number;
  /** Instances the evaluator could not judge or act on, per period (default 1). */
  detectionFailures?: number;
  /** The period (default 5 minutes). */
  period?: Duration;
}

export interface MonitoringProps {
  topic: ITopic;
  stateMachine: StateMachine;
  functions: ReadonlyArray<{ name: string; function: IFunction }>;
  deadLetterQueues: ReadonlyArray<{ name: string; queue: IQueue }>;
  desiredState: CompiledDesiredState;
  thresholds: AlarmThresholds;
  /**
   * The log groups the rollout's stage changes are logged to (the remediation steps' and the
   * evaluator's): the dashboard's rollout widget queries them.
   */
  rolloutLogGroups: readonly ILogGroup[];
}

/**
 * The log line of a rollout's stage change, as the runtime writes it (`stageLogFields` in
 * functions/domain/rollout/messages.ts: Powertools' JSON logger, so each is a field Logs
 * Insights discovers): one constant for the writer and this widget.
 */
export { ROLLOUT_STAGE_EVENT } from '../../functions/domain/rollout/messages';

import { ROLLOUT_STAGE_EVENT } from '../../functions/domain/rollout/messages';

/**
 * The dashboard's rollout widget: each fleet's latest stage, with its source and when it
 * changed, one row per fleet (Logs Insights' `latest(field)`: the field's value in the event
 * with the latest timestamp, in the dashboard's time range).
 */
export const ROLLOUT_STAGE_QUERY: readonly string[] = [
  'fields @timestamp, fleet, stage, source',
  `filter event = "${ROLLOUT_STAGE_EVENT}"`,
  'stats latest(stage) as stage, latest(source) as source, max(@timestamp) as since by fleet',
  'sort fleet asc',
];

const FIVE_MINUTES = Duration.minutes(5);

/** The sum of a Phoenix metric over all its dimension combinations. */
export function phoenixTotal(name: PhoenixMetricName, label: string, statistic = 'Sum'): MathExpression {
  return new MathExpression({
    expression: `SUM(SEARCH('Namespace="${METRIC_NAMESPACE}" MetricName="${name}"', '${statistic}', 300))`,
    usingMetrics: {},
    label,
    period: FIVE_MINUTES,
  });
}

/**
 * The sum of a Phoenix metric over all its dimension combinations, in a form an alarm can
 * watch: a Metrics Insights query FROM the namespace (not a SCHEMA) matches every dimension
 * set, and without GROUP BY it returns the one time series an alarm needs.
 */
export function phoenixAlarmTotal(name: PhoenixMetricName, label: string, period: Duration): MathExpression {
  return new MathExpression({
    expression: `SELECT SUM(${name}) FROM "${METRIC_NAMESPACE}"`,
    usingMetrics: {},
    label,
    period,
  });
}

function phoenixWorst(name: PhoenixMetricName, statistic: string, label: string): MathExpression {
  return new MathExpression({
    expression: `MAX(SEARCH('Namespace="${METRIC_NAMESPACE}" MetricName="${name}"', '${statistic}', 300))`,
    usingMetrics: {},
    label,
    period: FIVE_MINUTES,
  });
}

export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const period = props.thresholds.period ?? FIVE_MINUTES;
    const action = new SnsAction(props.topic);
    const alarm = (alarmId: string, metric: IMetric, threshold: number, description: string): Alarm => {
      const created = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    const machine = props.stateMachine;
    alarm(
      'ExecutionsFailed',
      machine.metricFailed({ period, statistic: 'Sum' }),
      props.thresholds.executionsFailed ?? 1,
      'Phoenix: a remediation execution failed: it was rolled back (the old instance is back in service and the ' +
        'launch template version quarantined) or could not finish its rollback. Open the execution in Step ' +
        'Functions for the cause; an unfinished rollback needs a look at the instance by hand.',
    );
    alarm(
      'ExecutionsTimedOut',
      machine.metricTimedOut({ period, statistic: 'Sum' }),
      props.thresholds.executionsTimedOut ?? 1,
      'Phoenix: a remediation execution timed out. Its budget lease expires by TTL; check the fleet for a ' +
        'half-finished replacement.',
    );
    for (const fn of props.functions) {
      alarm(
        `${fn.name}Errors`,
        fn.function.metricErrors({ period, statistic: 'Sum' }),
        props.thresholds.functionErrors ?? 1,
        `Phoenix: the ${fn.name} function reported errors. Its log group has the cause.`,
      );
    }
    for (const dlq of props.deadLetterQueues) {
      alarm(
        `${dlq.name}Depth`,
        dlq.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        props.thresholds.deadLetterMessages ?? 1,
        `Phoenix: messages are waiting in the ${dlq.name} dead-letter queue: deliveries that failed every retry. ` +
          'Read them, fix the cause, then redrive or delete them.',
      );
    }

    alarm(
      'MalformedEvents',
      phoenixAlarmTotal(PhoenixMetric.MalformedEvents, 'malformed events', period),
      props.thresholds.malformedEvents ?? 1,
      'Phoenix: the evaluator received events it cannot understand and did not process them. Each is logged ' +
        'whole ("Malformed event: not processed" in the evaluator\'s log group); a malformed EventBridge event ' +
        'also ends in the invocation dead-letter queue, a Config one is judged again by the periodic sweep. ' +
        'Many at once usually mean an event format changed.',
    );
    alarm(
      'DetectionFailures',
      phoenixAlarmTotal(PhoenixMetric.DetectionFailures, 'detection failures', period),
      props.thresholds.detectionFailures ?? 1,
      'Phoenix: the evaluator could not judge or act on some instances (an AWS call failed, Config refused ' +
        "evaluations); the rest of each event was handled and Lambda retries the invocation. The evaluator's " +
        'log group has each failure ("Failed ..."); drift on those instances may go unremediated until it passes.',
    );

    this.dashboardName = Names.uniqueResourceName(this, { maxLength: 255, separator: '-' });
    const { provenance, revision } = props.desiredState;
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.days(1),
    });
    const executionStats = (stat: string, label: string): IMetric =>
      machine.metricTime({ statistic: stat, label, period: FIVE_MINUTES });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `# Phoenix\nDesired state **${revision}**: \`${provenance.path}\` at commit \`${provenance.commit}\` ` +
          `(sha256 \`${provenance.sha256.slice(0, 16)}…\`), ${props.desiredState.fleets.length} fleet(s): ` +
          props.desiredState.fleets.map((f) => `${f.name} (${f.mode})`).join(', '),
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Detections',
        left: [phoenixTotal(PhoenixMetric.DriftDetected, 'drift detected')],
        right: [
          phoenixTotal(PhoenixMetric.MalformedEvents, 'malformed events'),
          phoenixTotal(PhoenixMetric.DetectionFailures, 'detection failures'),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Remediations by outcome',
        left: [
          phoenixTotal(PhoenixMetric.RemediationStarted, 'started'),
          phoenixTotal(PhoenixMetric.RemediationSucceeded, 'succeeded'),
          phoenixTotal(PhoenixMetric.RemediationFailed, 'failed (rolled back)'),
          phoenixTotal(PhoenixMetric.RemediationBlocked, 'blocked (paused, quarantined)'),
        ],
        right: [
          phoenixTotal(PhoenixMetric.QueueGranted, 'granted by the queue sweep'),
          machine.metricFailed({ label: 'executions failed', period: FIVE_MINUTES }),
          machine.metricTimedOut({ label: 'executions timed out', period: FIVE_MINUTES }),
        ],
        stacked: false,
        width: 8,
      }),
      new GraphWidget({
        title: 'Time to remediate (seconds)',
        left: [
          phoenixWorst(PhoenixMetric.RemediationDurationSeconds, 'p50', 'p50'),
          phoenixWorst(PhoenixMetric.RemediationDurationSeconds, 'p90', 'p90'),
          phoenixWorst(PhoenixMetric.RemediationDurationSeconds, 'Maximum', 'max'),
        ],
        right: [executionStats('p90', 'execution time p90 (ms)')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Budget blocks (period)',
        metrics: [phoenixTotal(PhoenixMetric.RemediationBlocked, 'blocked (paused, quarantined)')],
        width: 6,
      }),
      new GraphWidget({
        title: 'Function errors',
        left: props.functions.map((fn) =>
          fn.function.metricErrors({ label: `${fn.name} errors`, period: FIVE_MINUTES }),
        ),
        width: 6,
      }),
      new GraphWidget({
        title: 'Function duration p90 (ms)',
        left: props.functions.map((fn) =>
          fn.function.metricDuration({ label: fn.name, statistic: 'p90', period: FIVE_MINUTES }),
        ),
        width: 6,
      }),
      new GraphWidget({
        title: 'Dead-letter queues',
        left: props.deadLetterQueues.map((dlq) =>
          dlq.queue.metricApproximateNumberOfMessagesVisible({ label: dlq.name, period: FIVE_MINUTES }),
        ),
        width: 6,
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Rollouts: each fleet’s stage (latest change in the time range)',
        logGroupNames: props.rolloutLogGroups.map((group) => group.logGroupName),
        queryLines: [...ROLLOUT_STAGE_QUERY],
        view: LogQueryVisualizationType.TABLE,
        width: 24,
        height: 6,
      }),
    );
  }

  /** The console URL of the dashboard. */
  get dashboardUrl(): string {
    return `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.dashboardName}`;
  }
}
