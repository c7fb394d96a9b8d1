/**
 * What Phoenix tells a team, as plain data: the versioned JSON body, the human subject and
 * the SNS message attributes teams filter on.
 *
 * Pure: no SDK, no clock. The publisher (`functions/aws/notifier.ts`) only moves the bytes
 * built here, so detection and remediation send messages of one shape.
 */
import type { DriftReason } from './model';

/** Bumped only on a breaking change of the body; consumers switch on it. */
export const NOTIFICATION_SCHEMA_VERSION = 1;

/** Every event Phoenix notifies about (the `event` message attribute). */
export const NOTIFICATION_EVENTS = [
  'drift.detected',
  'remediation.started',
  'remediation.succeeded',
  'remediation.failed',
  'remediation.rolled-back',
  'remediation.blocked',
  'remediation.skipped',
  'manual-action-required',
  'rollout.started',
  'rollout.halted',
  'rollout.completed',
] as const;

export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** The `severity` message attribute: how loudly a subscriber should react. */
export type Severity = 'info' | 'warning' | 'critical';

/**
 * The severity an event carries unless its sender says otherwise: failures and anything a
 * human must fix are critical, drift and blocked work are warnings, progress is info.
 */
export const DEFAULT_SEVERITY: Readonly<Record<NotificationEvent, Severity>> = {
  'drift.detected': 'warning',
  'remediation.started': 'info',
  'remediation.succeeded': 'info',
  'remediation.failed': 'critical',
  'remediation.rolled-back': 'critical',
  'remediation.blocked': 'warning',
  'remediation.skipped': 'info',
  'manual-action-required': 'critical',
  'rollout.started': 'info',
  'rollout.halted': 'critical',
  'rollout.completed': 'info',
};

/** The Step Functions execution a notification is about. */
export interface ExecutionLink {
  name: string;
  arn: string;
  /** A link an operator can click: the execution in the Step Functions console. */
  consoleUrl: string;
}

/** When things happened (ISO-8601); each is present only when known. */
export interface NotificationTimings {
  detectedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  durationSeconds?: number;
}

/** The JSON body of every Phoenix notification (schema version 1). */
export interface PhoenixNotification {
  schemaVersion: typeof NOTIFICATION_SCHEMA_VERSION;
  event: NotificationEvent;
  fleet: string;
  team: string;
  severity: Severity;
  instanceId: string;
  /** The instance that replaced (or was to replace) `instanceId`. */
  replacementId?: string;
  reasons: DriftReason[];
  /** The desired-state revision the verdict was reached against, and its Git commit. */
  desiredState: { revision: string; commit: string };
  /** Who made the change that caused the drift (CloudTrail `userIdentity.arn`), when known. */
  principal?: string;
  execution?: ExecutionLink;
  timings?: NotificationTimings;
  /** One or two sentences for a human: what happened and what, if anything, to do. */
  message: string;
  /**
   * `rollout.*` only: the rollout the message is about (one conversation per rollout:
   * `instanceId` is the member whose execution sent it).
   */
  rollout?: RolloutSummary;
}

/** What a `rollout.*` notification says of its rollout. */
export interface RolloutSummary {
  source: { templateId: string; version: number; imageId?: string };
  stage: string;
  /** Members: drifted instances of the fleet not on the source when it began. */
  members: number;
  /** `rollout.started`: waves under the budget, and the estimate for them (seconds). */
  waves?: number;
  estimateSeconds?: number;
  /** `rollout.halted` / `rollout.completed`. */
  replaced?: number;
  failed?: number;
  /** `rollout.completed`: seconds from its start. */
  tookSeconds?: number;
  /** `rollout.halted`: what halted it (the alarm, the failures, the operator). */
  halt?: string;
}

/** What a sender supplies; the schema version is fixed and severity defaults per event. */
export type NotificationInput = Omit<PhoenixNotification, 'schemaVersion' | 'severity'> & {
  severity?: Severity;
};

/** Builds a notification with the schema version and the event's default severity filled in. */
export function buildNotification(input: NotificationInput): PhoenixNotification {
  const { severity, ...rest } = input;
  return {
    schemaVersion: NOTIFICATION_SCHEMA_VERSION,
    ...rest,
    severity: severity ?? DEFAULT_SEVERITY[input.event],
  };
}

/**
 * SNS rejects a subject of 100 characters or more, or one with line breaks or control
 * characters; email endpoints mangle non-ASCII. The subject is therefore ASCII, one line,
 * at most 99 characters.
 */
export const SUBJECT_MAX_LENGTH = 99;

const ELLIPSIS = '...';

const SUBJECT_TITLE: Readonly<Record<NotificationEvent, (instanceId: string) => string>> = {
  'drift.detected': (id) => `drift detected on ${id}`,
  'remediation.started': (id) => `replacing ${id}`,
  'remediation.succeeded': (id) => `replaced ${id}`,
  'remediation.failed': (id) => `replacement of ${id} FAILED`,
  'remediation.rolled-back': (id) => `replacement of ${id} rolled back`,
  'remediation.blocked': (id) => `replacement of ${id} blocked`,
  'remediation.skipped': (id) => `replacement of ${id} skipped`,
  'manual-action-required': (id) => `MANUAL ACTION REQUIRED on ${id}`,
  'rollout.started': () => 'rollout started',
  'rollout.halted': () => 'rollout HALTED',
  'rollout.completed': () => 'rollout completed',
};

/** Makes any text safe for an SNS subject: printable ASCII on one line, no runs of spaces. */
export function sanitizeSubject(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents, once decomposed
    .replace(/[^\x20-\x7e]+/g, ' ') // control characters, line breaks, anything non-ASCII
    .replace(/ {2,}/g, ' ')
    .trim();
}

/** Cuts text to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= ELLIPSIS.length) return text.slice(0, max);
  return `${text.slice(0, max - ELLIPSIS.length)}${ELLIPSIS}`;
}

/**
 * The human subject, e.g. `[Phoenix] web: drift detected on i-0abc (tag-value, image)`.
 * Always valid for SNS, whatever the fleet name or reasons hold.
 */
export function notificationSubject(n: PhoenixNotification): string {
  const kinds = [...new Set(n.reasons.map((r) => r.kind))];
  const detail = kinds.length > 0 ? ` (${kinds.join(', ')})` : '';
  const text = `[Phoenix] ${n.fleet}: ${SUBJECT_TITLE[n.event](n.instanceId)}${detail}`;
  return truncate(sanitizeSubject(text), SUBJECT_MAX_LENGTH);
}

/** SNS message attributes: every value a non-empty string, as SNS requires. */
export interface NotificationAttributes {
  event: NotificationEvent;
  fleet: string;
  team: string;
  severity: Severity;
}

/** The attributes each team's subscription filter policy matches on. */
export function notificationAttributes(n: PhoenixNotification): NotificationAttributes {
  return {
    event: n.event,
    fleet: nonEmpty(n.fleet, 'unknown'),
    team: nonEmpty(n.team, 'default'),
    severity: n.severity,
  };
}

function nonEmpty(value: string, fallback: string): string {
  return value.trim() === '' ? fallback : value;
}

/** The message body: the notification as JSON (pretty-printed so email subscribers can read it). */
export function notificationBody(n: PhoenixNotification): string {
  return JSON.stringify(n, null, 2);
}

/** The Step Functions console page of an execution. */
export function executionConsoleUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}
