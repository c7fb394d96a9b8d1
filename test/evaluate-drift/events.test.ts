import { describe, expect, it } from 'vitest';
import { classifyEvent, type DetectionEvent } from '../../functions/evaluate-drift/events';
import { configFixture, fixture } from './harness';

const INSTANCE = 'i-0123456789abcdef0';
const ALICE =
  'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com';

function classified(raw: unknown): DetectionEvent {
  const result = classifyEvent(raw);
  if (!result.ok) throw new Error(`expected a valid event, got: ${result.problem}`);
  return result.event;
}

describe('classifyEvent: AWS Config rule invocations', () => {
  it('reads the configuration item out of the JSON string invokingEvent, with the rule and its result token', () => {
    const event = classified(fixture('config-item-change'));

    expect(event.kind).toBe('config-item-change');
    if (event.kind !== 'config-item-change') return;
    expect(event.rule).toMatchObject({
      ruleName: 'phoenix-drift',
      resultToken: expect.stringMatching(/^eyJ/),
      eventLeftScope: false,
    });
    expect(event.item).toMatchObject({
      resourceType: 'AWS::EC2::Instance',
      resourceId: INSTANCE,
      configurationItemStatus: 'OK',
      configurationItemCaptureTime: '2025-06-15T11:58:07.123Z',
    });
  });

  it('keeps eventLeftScope so an instance that left the scope is recorded NOT_APPLICABLE', () => {
    const event = classified({ ...fixture('config-item-change'), eventLeftScope: true });
    expect(event.kind === 'config-item-change' && event.rule.eventLeftScope).toBe(true);
  });

  it('classifies a deleted resource with its status (it has no configuration)', () => {
    const event = classified(fixture('config-item-deleted'));
    expect(event.kind === 'config-item-change' && event.item.configurationItemStatus).toBe('ResourceDeleted');
  });

  it('takes the summary of an oversized item: the item itself must be fetched', () => {
    expect(classified(fixture('config-oversized-item-change'))).toMatchObject({
      kind: 'config-oversized-item-change',
      resourceType: 'AWS::EC2::Instance',
      resourceId: INSTANCE,
      captureTime: '2025-06-15T11:58:07.123Z',
      status: 'OK',
    });
  });

  it('classifies the periodic trigger as a sweep with its notification time', () => {
    expect(classified(fixture('config-scheduled'))).toMatchObject({
      kind: 'config-scheduled',
      notificationTime: '2025-06-15T12:00:00.000Z',
      rule: { ruleName: 'phoenix-drift' },
    });
  });
});

describe('classifyEvent: EventBridge', () => {
  it.each([
    ['cloudtrail-create-tags', 'CreateTags', [INSTANCE]],
    ['cloudtrail-delete-tags', 'DeleteTags', [INSTANCE]],
    ['cloudtrail-modify-instance-attribute', 'ModifyInstanceAttribute', [INSTANCE]],
    ['cloudtrail-run-instances', 'RunInstances', ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2']],
  ])('%s names the instances to judge and who made the call', (name, trigger, ids) => {
    expect(classified(fixture(name))).toEqual({
      kind: 'instance-activity',
      trigger,
      instanceIds: ids,
      principal: ALICE,
      eventTime: '2025-06-15T11:57:59Z',
    });
  });

  it('keeps only instance ids from CreateTags (the same call tags volumes, AMIs…)', () => {
    const event = classified(fixture('cloudtrail-create-tags'));
    expect(event.kind === 'instance-activity' && event.instanceIds).toEqual([INSTANCE]);
  });

  it('judges an instance that starts running, with no principal', () => {
    expect(classified(fixture('ec2-state-change-running'))).toEqual({
      kind: 'instance-activity',
      trigger: 'StateChange',
      instanceIds: [INSTANCE],
      eventTime: '2025-06-15T11:58:30Z',
    });
  });

  it.each([
    ['cloudtrail-create-launch-template-version', 'CreateLaunchTemplateVersion', 4],
    ['cloudtrail-modify-launch-template', 'ModifyLaunchTemplate', 4],
  ])('%s names the template to fan out over', (name, trigger, version) => {
    expect(classified(fixture(name))).toEqual({
      kind: 'launch-template-change',
      trigger,
      template: { id: 'lt-0a1b2c3d4e5f60718', name: 'web-lt' },
      version,
      principal: ALICE,
      eventTime: '2025-06-15T11:57:59Z',
    });
  });

  it.each([
    ['cloudtrail-create-launch-template-version', 'CreateLaunchTemplateVersion', { name: 'web-lt' }],
    ['cloudtrail-modify-launch-template', 'ModifyLaunchTemplate', { id: 'lt-0a1b2c3d4e5f60718' }],
  ])(
    '%s falls back to the request when the response is missing, with no version',
    (name, trigger, template) => {
      const event = fixture(name);
      const detail = event.detail as Record<string, unknown>;
      detail.responseElements = null;

      const classifiedEvent = classified(event);

      expect(classifiedEvent).toMatchObject({
        kind: 'launch-template-change',
        trigger,
        template,
      });
      expect(classifiedEvent).not.toHaveProperty('version');
    },
  );
});

describe('classifyEvent: well-formed events with nothing to judge', () => {
  function withDetail(
    name: string,
    edit: (detail: Record<string, unknown>) => void,
  ): Record<string, unknown> {
    const event = fixture(name);
    edit(event.detail as Record<string, unknown>);
    return event;
  }

  it.each([
    [
      'a denied API call (nothing changed)',
      fixture('cloudtrail-create-tags-denied'),
      /failed \(Client\.UnauthorizedOperation\)/,
    ],
    [
      'tags on a volume only',
      withDetail('cloudtrail-create-tags', (d) => {
        d.requestParameters = { resourcesSet: { items: [{ resourceId: 'vol-0123456789abcdef0' }] } };
      }),
      /names no EC2 instance/,
    ],
    [
      'an instance that is stopping',
      withDetail('ec2-state-change-running', (d) => {
        d.state = 'stopping';
      }),
      /is stopping/,
    ],
    [
      'another EC2 API call',
      withDetail('cloudtrail-create-tags', (d) => {
        d.eventName = 'StopInstances';
      }),
      /not a call Phoenix handles/,
    ],
    [
      'another service',
      withDetail('cloudtrail-create-tags', (d) => {
        d.eventSource = 's3.amazonaws.com';
      }),
      /not an EC2 call/,
    ],
    [
      'another detail type',
      { ...fixture('ec2-state-change-running'), 'detail-type': 'EBS Volume Notification' },
      /not one Phoenix handles/,
    ],
  ])('ignores %s, saying why', (_case, event, why) => {
    const result = classified(event);
    expect(result.kind).toBe('ignored');
    expect(result.kind === 'ignored' && result.why).toMatch(why);
  });
});

describe('classifyEvent: malformed events', () => {
  it.each([
    ['null', null, 'unknown', /expected an event object, got null/],
    ['an array', [1, 2], 'unknown', /got an array/],
    [
      'an object of no known shape',
      { hello: 'world' },
      'unknown',
      /neither an AWS Config rule invocation nor an EventBridge event/,
    ],
    [
      'a Config invocation without a result token',
      { ...fixture('config-item-change'), resultToken: undefined },
      'config-rule',
      /resultToken/,
    ],
    [
      'a Config invocation whose invokingEvent is not JSON',
      { ...fixture('config-item-change'), invokingEvent: '{"configurationItem": ' },
      'config-rule',
      /invokingEvent is not JSON/,
    ],
    [
      'a Config invocation of an unknown message type',
      configFixture('config-scheduled', (i) => {
        i.messageType = 'ConfigurationSnapshotDeliveryCompleted';
      }),
      'config-rule',
      /messageType/,
    ],
    [
      'a configuration item without a resource id',
      configFixture('config-item-change', (i) => {
        delete (i.configurationItem as Record<string, unknown>).resourceId;
      }),
      'config-rule',
      /resourceId/,
    ],
    [
      'an EventBridge event without a time',
      { ...fixture('cloudtrail-create-tags'), time: undefined },
      'eventbridge',
      /time/,
    ],
    [
      'CreateTags without resourcesSet',
      {
        ...fixture('cloudtrail-create-tags'),
        detail: { ...(fixture('cloudtrail-create-tags').detail as object), requestParameters: {} },
      },
      'eventbridge',
      /resourcesSet/,
    ],
    [
      'ModifyInstanceAttribute on something that is not an instance id',
      {
        ...fixture('cloudtrail-modify-instance-attribute'),
        detail: {
          ...(fixture('cloudtrail-modify-instance-attribute').detail as object),
          requestParameters: { instanceId: 'web-1' },
        },
      },
      'eventbridge',
      /instance id/,
    ],
    [
      'RunInstances without the instances it launched',
      {
        ...fixture('cloudtrail-run-instances'),
        detail: { ...(fixture('cloudtrail-run-instances').detail as object), responseElements: null },
      },
      'eventbridge',
      /responseElements/,
    ],
    [
      'a state change without an instance id',
      { ...fixture('ec2-state-change-running'), detail: { state: 'running' } },
      'eventbridge',
      /instance-id/,
    ],
    [
      'a launch template change naming no template',
      {
        ...fixture('cloudtrail-modify-launch-template'),
        detail: {
          ...(fixture('cloudtrail-modify-launch-template').detail as object),
          requestParameters: {},
          responseElements: null,
        },
      },
      'eventbridge',
      /names no launch template/,
    ],
  ])('rejects %s with a message naming the problem', (_case, event, origin, problem) => {
    const result = classifyEvent(event);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.origin).toBe(origin);
    expect(result.problem).toMatch(problem);
  });
});
