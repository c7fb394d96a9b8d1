import { describe, expect, it } from 'vitest';
import {
  CHAT_DESCRIPTION_MAX_LENGTH,
  CHAT_MAX_REASONS,
  chatNotificationFor,
} from '../../functions/domain/chat-notification';
import type { DriftReason } from '../../functions/domain/model';
import {
  buildNotification,
  type NotificationInput,
  notificationBody,
} from '../../functions/domain/notification';

const reason = (field: string, expected: string | null, actual: string | null): DriftReason => ({
  kind: 'tag-value',
  field,
  expected,
  actual,
  source: 'desired-state',
});

const input: NotificationInput = {
  event: 'remediation.rolled-back',
  fleet: 'web',
  team: 'storefront',
  instanceId: 'i-0aaa',
  replacementId: 'i-0bbb',
  reasons: [reason('tags.Owner', 'team-web', 'alice')],
  desiredState: { revision: 'r7', commit: '3f2a1c9' },
  principal: 'arn:aws:iam::123456789012:user/alice',
  execution: {
    name: 'i-0aaa-abc',
    arn: 'arn:aws:states:eu-central-1:123456789012:execution:m:i-0aaa-abc',
    consoleUrl: 'https://eu-central-1.console.aws.amazon.com/states/x',
  },
  message: 'The replacement never became healthy; the old instance is back in service.',
};

describe('chatNotificationFor', () => {
  it("rewrites a Phoenix notification in Chatbot's custom schema, threaded per instance", () => {
    const n = buildNotification(input);
    const chat = chatNotificationFor(notificationBody(n), 'ignored subject');
    expect(chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: ':rotating_light: [Phoenix] web: replacement of i-0aaa rolled back (tag-value)',
        keywords: ['remediation.rolled-back', 'web', 'storefront', 'critical'],
      },
      metadata: {
        threadId: 'phoenix-web-i-0aaa',
        eventType: 'remediation.rolled-back',
        relatedResources: [
          'i-0aaa',
          'i-0bbb',
          'arn:aws:states:eu-central-1:123456789012:execution:m:i-0aaa-abc',
        ],
        additionalContext: {
          fleet: 'web',
          team: 'storefront',
          severity: 'critical',
          revision: 'r7',
          commit: '3f2a1c9',
        },
      },
    });
    const description = chat.content.description;
    expect(description).toContain(input.message);
    expect(description).toContain('• `tags.Owner`: expected `team-web`, found `alice` (from desired-state)');
    expect(description).toContain('Replacement: `i-0bbb`');
    expect(description).toContain('Changed by: `arn:aws:iam::123456789012:user/alice`');
    expect(description).toContain('Desired state `r7` at commit `3f2a1c9`');
    expect(chat.content.nextSteps).toEqual([
      'Execution i-0aaa-abc: https://eu-central-1.console.aws.amazon.com/states/x',
      expect.stringMatching(/phoenix quarantine list/),
    ]);
  });

  it.each([
    ['info', 'remediation.succeeded', ':information_source:'],
    ['warning', 'drift.detected', ':warning:'],
    ['critical', 'manual-action-required', ':rotating_light:'],
  ] as const)('marks %s notifications with %s', (_severity, event, emoji) => {
    const chat = chatNotificationFor(notificationBody(buildNotification({ ...input, event })));
    expect(chat.content.title.startsWith(`${emoji} [Phoenix] web:`)).toBe(true);
  });

  it('lists at most ten reasons and counts the rest; a backtick in a value cannot break the code span', () => {
    const reasons = Array.from({ length: CHAT_MAX_REASONS + 3 }, (_, i) => reason(`tags.T${i}`, 'a`b', null));
    const chat = chatNotificationFor(notificationBody(buildNotification({ ...input, reasons })));
    expect(chat.content.description.match(/^• `tags\./gm)).toHaveLength(CHAT_MAX_REASONS);
    expect(chat.content.description).toContain('• … 3 more');
    expect(chat.content.description).toContain("expected `a'b`, found (none)");
  });

  it('keeps the description within the chat limit, however long the message', () => {
    const chat = chatNotificationFor(
      notificationBody(buildNotification({ ...input, message: 'x'.repeat(10_000) })),
    );
    expect(chat.content.description.length).toBe(CHAT_DESCRIPTION_MAX_LENGTH);
    expect(chat.content.description.endsWith('...')).toBe(true);
  });

  it('rewrites a CloudWatch alarm the topic carries', () => {
    const alarm = {
      AlarmName: 'Phoenix-ExecutionsFailed',
      AlarmDescription: 'A remediation execution failed',
      AlarmArn: 'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:Phoenix-ExecutionsFailed',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: 1 datapoint [1.0] was >= 1.0',
      StateChangeTime: '2026-11-22T10:00:00.000+0000',
    };
    expect(chatNotificationFor(JSON.stringify(alarm), 'ALARM: "Phoenix-ExecutionsFailed"')).toEqual({
      version: '1.0',
      source: 'custom',
      content: {
        textType: 'client-markdown',
        title: ':rotating_light: ALARM: Phoenix-ExecutionsFailed',
        description:
          'A remediation execution failed\nThreshold Crossed: 1 datapoint [1.0] was >= 1.0\nSince 2026-11-22T10:00:00.000+0000',
        keywords: ['alarm', 'ALARM'],
      },
      metadata: {
        threadId: 'phoenix-alarm-Phoenix-ExecutionsFailed',
        summary: 'ALARM: Phoenix-ExecutionsFailed',
        eventType: 'alarm',
        relatedResources: [alarm.AlarmArn],
      },
    });
    const ok = chatNotificationFor(JSON.stringify({ ...alarm, NewStateValue: 'OK' }));
    expect(ok.content.title).toBe(':white_check_mark: OK: Phoenix-ExecutionsFailed');
  });

  it.each([
    ['plain text', 'hello', 'subject', { title: 'subject', description: 'hello' }],
    [
      'JSON of another shape',
      '{"schemaVersion":2,"event":"drift.detected"}',
      undefined,
      { title: 'Phoenix' },
    ],
    ['an empty subject', 'x', '  ', { title: 'Phoenix', description: 'x' }],
  ])('passes %s through as text', (_what, message, subject, content) => {
    const chat = chatNotificationFor(message, subject);
    expect(chat.version).toBe('1.0');
    expect(chat.source).toBe('custom');
    expect(chat.content).toMatchObject({ textType: 'client-markdown', ...content });
  });
});
