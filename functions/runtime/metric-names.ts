/**
 * The CloudWatch metrics Phoenix emits, named once so the code that emits them (Powertools
 * Metrics in the evaluator and the remediation steps) and the dashboard that graphs them
 * (infra) cannot disagree.
 *
 * Emit each with Powertools' default `service` dimension. Extra dimensions (a fleet, a
 * team) are welcome: the dashboard sums every dimension combination of a metric name with
 * a CloudWatch SEARCH expression, so adding one never hides a graph.
 */

/** CloudWatch namespace of every Phoenix metric (`POWERTOOLS_METRICS_NAMESPACE`). */
export const METRIC_NAMESPACE = 'Phoenix';

/** Metric names. Counts unless stated otherwise. */
export const PhoenixMetric = {
  /** An instance was judged drifted (once per evaluation that found drift). */
  DriftDetected: 'DriftDetected',
  /** A remediation execution started replacing an instance. */
  RemediationStarted: 'RemediationStarted',
  /** A drifted instance was replaced and terminated. */
  RemediationSucceeded: 'RemediationSucceeded',
  /** A remediation failed (and was rolled back). */
  RemediationFailed: 'RemediationFailed',
  /** A remediation could not start: paused or quarantined (a busy fleet queues, it never blocks). */
  RemediationBlocked: 'RemediationBlocked',
  /** Waiters granted a lease by the scheduled queue sweep (a granter that died, a bake that ended). */
  QueueGranted: 'QueueGranted',
  /** Seconds from the start of a remediation to its end (unit: Seconds). */
  RemediationDurationSeconds: 'RemediationDurationSeconds',
  /** The evaluator received an event it cannot understand (logged whole, not processed). */
  MalformedEvents: 'MalformedEvents',
  /** The evaluator could not judge or act on part of an event (the rest was done; Lambda retries it). */
  DetectionFailures: 'DetectionFailures',
} as const;

export type PhoenixMetricName = (typeof PhoenixMetric)[keyof typeof PhoenixMetric];

/** `POWERTOOLS_SERVICE_NAME` of each function, also the `service` metric dimension. */
export const PhoenixService = {
  evaluator: 'phoenix-evaluate-drift',
  remediation: 'phoenix-remediation',
  chatRelay: 'phoenix-chat-relay',
} as const;
