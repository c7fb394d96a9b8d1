/**
 * What the evaluator is given (its dependencies, built once per container by the handler or
 * by a local run) and what one invocation returns (its summary). `core.ts` re-exports them.
 */

import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { ComplianceLedger } from '../aws/compliance-ledger';
import type { NotificationPublisher } from '../aws/notifier';
import type { RolloutStore } from '../aws/rollout-store';
import type { StateStore } from '../aws/state-store';
import type { CompiledDesiredState } from '../domain/model';
import { PhoenixMetric } from '../runtime/metric-names';
import type { InstanceDecision } from './decisions';
import type { DetectionEvent } from './events';

/** Structured logging, as Powertools' Logger offers it. */
export interface DetectionLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Metrics, as Powertools' Metrics offers them. */
export interface DetectionMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
}

/** The metrics the evaluator emits (namespace set by the handler). */
export const METRIC = {
  malformedEvents: 'MalformedEvents',
  ignoredEvents: 'IgnoredEvents',
  instancesJudged: 'InstancesJudged',
  instancesDrifted: PhoenixMetric.DriftDetected,
  evaluationsRecorded: 'EvaluationsRecorded',
  evaluationsUnchanged: 'EvaluationsUnchanged',
  notificationsPublished: 'NotificationsPublished',
  remediationsStarted: 'RemediationsStarted',
  remediationsAlreadyStarted: 'RemediationsAlreadyStarted',
  remediationsPaused: 'RemediationsPaused',
  remediationsBlocked: 'RemediationsBlocked',
  sourceDrift: 'SourceDrift',
  failures: 'DetectionFailures',
} as const;

/** What the evaluator needs from the state table. */
export type DetectionStore = Pick<
  StateStore,
  'pauseState' | 'claimNotification' | 'releaseNotification' | 'getQuarantine' | 'driftAttempt'
>;

/** What detection reads rollouts with (absent: no fleet has rollout stages or alarms). */
export interface RolloutReaders {
  cloudwatch: Pick<CloudWatchClient, 'send'>;
  rollouts: Pick<RolloutStore, 'get' | 'list' | 'recordStep'>;
}

export interface DetectionDeps {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  config: Pick<ConfigServiceClient, 'send'>;
  sfn: Pick<SFNClient, 'send'>;
  store: DetectionStore;
  notifier: NotificationPublisher;
  desiredState: CompiledDesiredState;
  stateMachineArn: string;
  /** Region of console links; defaults to the state machine's region. */
  consoleRegion?: string;
  clock: () => Date;
  logger: DetectionLogger;
  metrics: DetectionMetrics;
  /** Backoff waits (PutEvaluations retries); injected so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
  /** How long a sent notification stays de-duplicated. Default 7 days: an unfixed drift reminds weekly. */
  notificationTtlSeconds?: number;
  /** Instances acted on in parallel. */
  concurrency?: number;
  /**
   * What was last reported to Config: with it, a sweep reports only evaluations that changed
   * (and change notifications keep it in step). Without it, every sweep reports everything.
   */
  ledger?: Pick<ComplianceLedger, 'read' | 'replace' | 'note'>;
  /** Changes with every deploy of the evaluator: the first sweep after a deploy reports everything. */
  deploymentId?: string;
  /** Fleets with rollout stages or alarms: the alarms and rollouts the gate reads (issue 15). */
  rolloutReaders?: RolloutReaders;
}

/** The counts of a {@link DetectionSummary}: what the evaluator logs for every event. */
export interface DetectionCounts {
  event: DetectionEvent['kind'] | 'malformed';
  judged: number;
  compliant: number;
  nonCompliant: number;
  notApplicable: number;
  evaluationsRecorded: number;
  notificationsPublished: number;
  remediationsStarted: number;
  remediationsAlreadyStarted: number;
  /** Drifted instances not started: paused, quarantined, source drift, template unknown. */
  remediationsHeld: number;
  /** Sweep evaluations not sent because Config already holds them unchanged. */
  evaluationsUnchanged: number;
}

/** What one invocation did; returned by `handleEvent` for operators, tests and local runs. */
export interface DetectionSummary extends DetectionCounts {
  /**
   * One record per instance the event concerned: what the evaluator judged it and what it
   * did about it ({@link InstanceDecision}), in the order it judged them.
   */
  decisions: InstanceDecision[];
}

export const DEFAULT_NOTIFICATION_TTL_SECONDS = 7 * 24 * 3600;

export function emptySummary(event: DetectionSummary['event']): DetectionSummary {
  return {
    event,
    judged: 0,
    compliant: 0,
    nonCompliant: 0,
    notApplicable: 0,
    evaluationsRecorded: 0,
    notificationsPublished: 0,
    remediationsStarted: 0,
    remediationsAlreadyStarted: 0,
    remediationsHeld: 0,
    evaluationsUnchanged: 0,
    decisions: [],
  };
}

/** The summary without its decisions: what is logged for every event (a sweep's records are many). */
export function countsOf(summary: DetectionSummary): DetectionCounts {
  const { decisions: _decisions, ...counts } = summary;
  return counts;
}
