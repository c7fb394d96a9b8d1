import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DriftReason } from '../../functions/domain/model';
import {
  buildNotification,
  DEFAULT_SEVERITY,
  executionConsoleUrl,
  NOTIFICATION_EVENTS,
  type NotificationInput,
  notificationAttributes,
  notificationBody,
  notificationSubject,
  SUBJECT_MAX_LENGTH,
  sanitizeSubject,
  truncate,
} from '../../functions/domain/notification';

const tagReason: DriftReason = {
  kind: 'tag-value',
  field: 'tags.Owner',
  expected: 'team-web',
  actual: 'someone',
  source: 'desired-state',
};

function input(overrides: Partial<NotificationInput> = {}): NotificationInput {
  return {
    event: 'drift.detected',
    fleet: 'web',
    team: 'web',
    instanceId: 'i-0123456789abcdef0',
    reasons: [tagReason],
    desiredState: { revision: 'abcdef012345', commit: '3f2a1c9' },
    message: 'Tag Owner was changed by hand.',
    ...overrides,
  };
}

describe('buildNotification', () => {
  it('stamps schema version 1 and keeps every field the sender gave', () => {
    const n = buildNotification(
      input({
        principal: 'arn:aws:iam::123456789012:user/alice',
        replacementId: 'i-0fedcba9876543210',
        timings: { detectedAt: '2024-05-01T10:00:00.000Z' },
      }),
    );

    expect(n).toMatchObject({
      schemaVersion: 1,
      event: 'drift.detected',
      fleet: 'web',
      team: 'web',
      instanceId: 'i-0123456789abcdef0',
      replacementId: 'i-0fedcba9876543210',
      reasons: [tagReason],
      desiredState: { revision: 'abcdef012345', commit: '3f2a1c9' },
      principal: 'arn:aws:iam::123456789012:user/alice',
      timings: { detectedAt: '2024-05-01T10:00:00.000Z' },
    });
  });

  it.each(NOTIFICATION_EVENTS)('gives %s its default severity unless told otherwise', (event) => {
    expect(buildNotification(input({ event })).severity).toBe(DEFAULT_SEVERITY[event]);
    expect(buildNotification(input({ event, severity: 'critical' })).severity).toBe('critical');
  });

  it('rates failures and manual work critical, progress info', () => {
    expect(DEFAULT_SEVERITY['remediation.failed']).toBe('critical');
    expect(DEFAULT_SEVERITY['manual-action-required']).toBe('critical');
    expect(DEFAULT_SEVERITY['remediation.succeeded']).toBe('info');
  });
});

describe('notificationSubject', () => {
  it('names the fleet, the event, the instance and the kinds of drift', () => {
    const subject = notificationSubject(buildNotification(input()));
    expect(subject).toBe('[Phoenix] web: drift detected on i-0123456789abcdef0 (tag-value)');
  });

  it('lists each kind of drift once', () => {
    const reasons: DriftReason[] = [
      tagReason,
      { ...tagReason, field: 'tags.Team' },
      { kind: 'image', field: 'imageId', expected: 'ami-1', actual: 'ami-2', source: 'launch-template' },
    ];
    expect(notificationSubject(buildNotification(input({ reasons })))).toContain('(tag-value, image)');
  });

  it('stays under SNS limit, on one ASCII line, whatever it is given', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), (fleet, field) => {
        const reasons: DriftReason[] = [{ ...tagReason, field }];
        const subject = notificationSubject(buildNotification(input({ fleet, reasons })));
        expect(subject.length).toBeLessThan(100);
        expect(subject).toMatch(/^[\x20-\x7e]*$/);
      }),
    );
  });

  it('marks a cut subject with an ellipsis', () => {
    const reasons: DriftReason[] = (
      [
        'tag-missing',
        'tag-value',
        'launch-template-version',
        'image',
        'instance-type',
        'security-groups',
      ] as const
    ).map((kind) => ({ ...tagReason, kind }));
    const subject = notificationSubject(
      buildNotification(input({ event: 'manual-action-required', reasons })),
    );
    expect(subject).toHaveLength(SUBJECT_MAX_LENGTH);
    expect(subject.endsWith('...')).toBe(true);
  });
});

describe('sanitizeSubject and truncate', () => {
  it.each([
    ['line\nbreaks\r\nand\ttabs', 'line breaks and tabs'],
    ['Überprüfung café', 'Uberprufung cafe'],
    ['emoji 🔥 gone', 'emoji gone'],
    ['  padded  ', 'padded'],
  ])('makes %j safe as %j', (raw, safe) => {
    expect(sanitizeSubject(raw)).toBe(safe);
  });

  it.each([
    ['short', 10, 'short'],
    ['exactly-10', 10, 'exactly-10'],
    ['longer than ten', 10, 'longer ...'],
    ['abcdef', 2, 'ab'],
  ])('cuts %j to %i characters as %j', (text, max, expected) => {
    expect(truncate(text, max)).toBe(expected);
  });
});

describe('notificationAttributes', () => {
  it('carries event, fleet, team and severity for filter policies', () => {
    const n = buildNotification(input({ event: 'remediation.failed', team: 'payments' }));
    expect(notificationAttributes(n)).toEqual({
      event: 'remediation.failed',
      fleet: 'web',
      team: 'payments',
      severity: 'critical',
    });
  });

  it('never sends an empty attribute value (SNS rejects them)', () => {
    const n = buildNotification(input({ fleet: '', team: ' ' }));
    const attributes = notificationAttributes(n);
    for (const value of Object.values(attributes)) expect(value.trim()).not.toBe('');
  });
});

describe('notificationBody', () => {
  it('is the notification as JSON, readable back unchanged', () => {
    const n = buildNotification(
      input({
        execution: {
          name: 'i-0123-abc',
          arn: 'arn:aws:states:us-east-1:123456789012:execution:remediate:i-0123-abc',
          consoleUrl: 'https://example.invalid',
        },
      }),
    );
    expect(JSON.parse(notificationBody(n))).toEqual(n);
  });
});

describe('executionConsoleUrl', () => {
  it('links to the execution in the region the operator works in', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:execution:remediate:i-1-abc';
    const url = executionConsoleUrl('eu-west-1', arn);
    expect(url.startsWith('https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1')).toBe(
      true,
    );
    expect(url).toContain(encodeURIComponent(arn));
  });
});
