/**
 * What a chat channel shows for a message on Phoenix's topic: the message rewritten as an
 * AWS Chatbot (Amazon Q Developer in chat applications) custom notification.
 *
 * Chatbot renders only the AWS service events it knows and messages in its documented
 * custom-notification schema (`version: "1.0"`, `source: "custom"`, `content`); Phoenix's
 * versioned JSON body is neither, so the chat relay rewrites each message with
 * {@link chatNotificationFor} before it reaches a channel's topic (docs/adr/0012).
 *
 * Pure: no SDK, no clock.
 */
import type { DriftReason } from './model';
import {
  NOTIFICATION_EVENTS,
  type NotificationEvent,
  notificationSubject,
  type PhoenixNotification,
  type Severity,
  truncate,
} from './notification';

/** The custom-notification schema Chatbot renders (only the fields Phoenix fills). */
export interface ChatbotNotification {
  version: '1.0';
  source: 'custom';
  id?: string;
  content: {
    /** Rendered in the chat platform's own markdown (Slack's, or Microsoft Teams'). */
    textType: 'client-markdown';
    title: string;
    description: string;
    nextSteps?: string[];
    keywords?: string[];
  };
  metadata?: {
    /** Messages with the same thread id are grouped in one thread (where the channel allows it). */
    threadId?: string;
    summary?: string;
    eventType?: string;
    relatedResources?: string[];
    additionalContext?: Record<string, string>;
  };
}

/** Phoenix keeps a description short enough for any chat platform's message limit. */
export const CHAT_DESCRIPTION_MAX_LENGTH = 3_000;
/** Reasons listed one per line; the rest are counted. */
export const CHAT_MAX_REASONS = 10;

const SEVERITY_EMOJI: Readonly<Record<Severity, string>> = {
  info: ':information_source:',
  warning: ':warning:',
  critical: ':rotating_light:',
};

const NEXT_STEP: Partial<Readonly<Record<NotificationEvent, string>>> = {
  'manual-action-required':
    'A person must act: `phoenix plan --desired-state phoenix.yaml` says why (source drift, no template to rebuild from, no headroom).',
  'remediation.rolled-back':
    'The launch template version is quarantined: `phoenix quarantine list`; publish a fixed version or `phoenix quarantine lift`.',
  'remediation.failed': 'Read the execution history; the instance was left in service.',
  'remediation.blocked':
    'The fleet budget or its Auto Scaling group was busy; the next detection tries again.',
};

/** The chat notification for one message of the topic, whatever it carries. */
export function chatNotificationFor(message: string, subject?: string): ChatbotNotification {
  const parsed = parseJson(message);
  if (isPhoenixNotification(parsed)) return fromPhoenix(parsed);
  if (isAlarm(parsed)) return fromAlarm(parsed);
  return {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: subject === undefined || subject.trim() === '' ? 'Phoenix' : subject,
      description: truncate(message, CHAT_DESCRIPTION_MAX_LENGTH),
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPhoenixNotification(value: unknown): value is PhoenixNotification {
  return (
    isRecord(value) &&
    value.schemaVersion === 1 &&
    typeof value.event === 'string' &&
    (NOTIFICATION_EVENTS as readonly string[]).includes(value.event) &&
    typeof value.fleet === 'string' &&
    typeof value.team === 'string' &&
    typeof value.instanceId === 'string' &&
    typeof value.message === 'string' &&
    Array.isArray(value.reasons) &&
    isRecord(value.desiredState)
  );
}

/** Inline code that a backtick in the value cannot break out of. */
function code(value: string | null): string {
  return value === null ? '(none)' : `\`${value.replace(/`/g, "'")}\``;
}

function reasonLine(reason: DriftReason): string {
  return `• ${code(reason.field)}: expected ${code(reason.expected)}, found ${code(reason.actual)} (from ${reason.source})`;
}

function fromPhoenix(n: PhoenixNotification): ChatbotNotification {
  const lines = [n.message];
  if (n.reasons.length > 0) {
    lines.push('', ...n.reasons.slice(0, CHAT_MAX_REASONS).map(reasonLine));
    if (n.reasons.length > CHAT_MAX_REASONS) lines.push(`• … ${n.reasons.length - CHAT_MAX_REASONS} more`);
  }
  lines.push('', `Fleet ${code(n.fleet)} (team ${code(n.team)}), instance ${code(n.instanceId)}`);
  if (n.replacementId !== undefined) lines.push(`Replacement: ${code(n.replacementId)}`);
  if (n.principal !== undefined) lines.push(`Changed by: ${code(n.principal)}`);
  lines.push(`Desired state ${code(n.desiredState.revision)} at commit ${code(n.desiredState.commit)}`);

  const nextSteps: string[] = [];
  if (n.execution !== undefined) nextSteps.push(`Execution ${n.execution.name}: ${n.execution.consoleUrl}`);
  const advice = NEXT_STEP[n.event];
  if (advice !== undefined) nextSteps.push(advice);

  const relatedResources = [n.instanceId, ...(n.replacementId === undefined ? [] : [n.replacementId])];
  if (n.execution !== undefined) relatedResources.push(n.execution.arn);
  const subject = notificationSubject(n);
  return {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: `${SEVERITY_EMOJI[n.severity]} ${subject}`,
      description: truncate(lines.join('\n'), CHAT_DESCRIPTION_MAX_LENGTH),
      ...(nextSteps.length > 0 ? { nextSteps } : {}),
      keywords: [n.event, n.fleet, n.team, n.severity],
    },
    metadata: {
      // One thread per instance: its drift, replacement and outcome read as one conversation.
      threadId: `phoenix-${n.fleet}-${n.instanceId}`,
      summary: subject,
      eventType: n.event,
      relatedResources,
      additionalContext: {
        fleet: n.fleet,
        team: n.team,
        severity: n.severity,
        revision: n.desiredState.revision,
        commit: n.desiredState.commit,
      },
    },
  };
}

/** The JSON a CloudWatch alarm publishes to SNS when its state changes. */
interface AlarmMessage {
  AlarmName: string;
  NewStateValue: string;
  NewStateReason?: string;
  AlarmDescription?: string | null;
  AlarmArn?: string;
  StateChangeTime?: string;
}

function isAlarm(value: unknown): value is AlarmMessage {
  return isRecord(value) && typeof value.AlarmName === 'string' && typeof value.NewStateValue === 'string';
}

function fromAlarm(alarm: AlarmMessage): ChatbotNotification {
  const lines: string[] = [];
  if (typeof alarm.AlarmDescription === 'string' && alarm.AlarmDescription !== '')
    lines.push(alarm.AlarmDescription);
  if (alarm.NewStateReason !== undefined) lines.push(alarm.NewStateReason);
  if (alarm.StateChangeTime !== undefined) lines.push(`Since ${alarm.StateChangeTime}`);
  const emoji =
    alarm.NewStateValue === 'ALARM'
      ? ':rotating_light:'
      : alarm.NewStateValue === 'OK'
        ? ':white_check_mark:'
        : ':grey_question:';
  return {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: `${emoji} ${alarm.NewStateValue}: ${alarm.AlarmName}`,
      description: truncate(lines.join('\n') || alarm.AlarmName, CHAT_DESCRIPTION_MAX_LENGTH),
      keywords: ['alarm', alarm.NewStateValue],
    },
    metadata: {
      threadId: `phoenix-alarm-${alarm.AlarmName}`,
      summary: `${alarm.NewStateValue}: ${alarm.AlarmName}`,
      eventType: 'alarm',
      ...(alarm.AlarmArn === undefined ? {} : { relatedResources: [alarm.AlarmArn] }),
    },
  };
}
