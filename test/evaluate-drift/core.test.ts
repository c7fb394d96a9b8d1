import { GetResourceConfigHistoryCommand, PutEvaluationsCommand } from '@aws-sdk/client-config-service';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../functions/domain/drift/fingerprint';
import type { CompiledFleet } from '../../functions/domain/model';
import { handleEvent, MalformedEventError, METRIC } from '../../functions/evaluate-drift/core';
import { executionName } from '../../functions/evaluate-drift/execution';
import {
  ASG_NAME,
  DEFAULT_INSTANCE_TAGS,
  desiredState,
  fleet,
  INSTANCE_ID,
  instanceFacts,
  NOW,
  OTHER_IMAGE_ID,
  reason,
  standaloneInstance,
  TEMPLATE_ID,
  TEMPLATE_VERSION,
  tagFleet,
  templateFacts,
} from '../helpers/builders';
import { configFixture, fixture, harness } from './harness';

const ALICE =
  'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com';
const CAPTURED = new Date('2025-06-15T11:58:07.123Z');

/** The instance of the Config fixtures as it is now: Owner changed by hand. */
const handChanged = () => instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'someone-else' } });
const ownerReason = reason({
  kind: 'tag-value',
  field: 'tags.Owner',
  expected: 'team-web',
  actual: 'someone-else',
});
const ownerFingerprint = fingerprintOf([ownerReason]);

function setup(fleets: CompiledFleet[] = [fleet()]) {
  return harness({ desiredState: desiredState(fleets) });
}

describe('Config change notifications', () => {
  it('records a hand-changed tag NON_COMPLIANT at the capture time, then acts on current facts', async () => {
    const h = setup();
    h.world.instances = [handChanged()];

    const summary = await handleEvent(h.deps, fixture('config-item-change'));

    expect(h.evaluations()).toEqual([
      {
        ComplianceResourceType: 'AWS::EC2::Instance',
        ComplianceResourceId: INSTANCE_ID,
        ComplianceType: 'NON_COMPLIANT',
        Annotation: 'tags.Owner: expected team-web, found someone-else',
        OrderingTimestamp: CAPTURED,
      },
    ]);
    expect(h.mocks.config.commandCalls(PutEvaluationsCommand)[0]?.args[0].input.ResultToken).toMatch(/^eyJ/);
    expect(h.mocks.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(h.starts().map((s) => s.name)).toEqual([executionName(INSTANCE_ID, ownerFingerprint, 0)]);
    expect(summary).toMatchObject({
      judged: 1,
      nonCompliant: 1,
      evaluationsRecorded: 1,
      remediationsStarted: 1,
    });
  });

  it('records an in-sync instance COMPLIANT and does nothing else', async () => {
    const h = setup();
    const event = configFixture('config-item-change', (invoking) => {
      const item = invoking.configurationItem as {
        tags: Record<string, string>;
        configuration: { tags: unknown[] };
      };
      item.tags.Owner = 'team-web';
      item.configuration.tags = [];
    });

    await handleEvent(h.deps, event);

    expect(h.evaluations().map((e) => e.ComplianceType)).toEqual(['COMPLIANT']);
    expect(h.mocks.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent).toHaveLength(0);
  });

  it('records but does not act when the instance was fixed since the item was captured (stale item)', async () => {
    const h = setup();
    h.world.instances = [instanceFacts()];

    await handleEvent(h.deps, fixture('config-item-change'));

    expect(h.evaluations().map((e) => e.ComplianceType)).toEqual(['NON_COMPLIANT']);
    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent).toHaveLength(0);
  });

  it.each([
    ['a deleted instance', fixture('config-item-deleted'), /was deleted \(ResourceDeleted\)/],
    [
      'an instance that left the rule scope',
      { ...fixture('config-item-change'), eventLeftScope: true },
      /left the scope/,
    ],
    [
      'a resource that is not an instance',
      configFixture('config-item-change', (invoking) => {
        const item = invoking.configurationItem as Record<string, unknown>;
        item.resourceType = 'AWS::EC2::Volume';
        item.resourceId = 'vol-0123456789abcdef0';
      }),
      /AWS::EC2::Volume is not an EC2 instance/,
    ],
  ])('records %s NOT_APPLICABLE and acts on nothing', async (_case, event, annotation) => {
    const h = setup();
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, event);

    const [evaluation, ...others] = h.evaluations();
    expect(others).toEqual([]);
    expect(evaluation?.ComplianceType).toBe('NOT_APPLICABLE');
    expect(evaluation?.Annotation).toMatch(annotation);
    expect(h.starts()).toHaveLength(0);
  });

  it.each([
    ['outside every fleet', () => standaloneInstance({ App: 'unknown' }), /no declared fleet selects/],
    [
      'excluded by its fleet',
      () => instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'x', 'phoenix:skip': 'true' } }),
      /exclusion tag phoenix:skip=true/,
    ],
  ])('records an instance %s NOT_APPLICABLE and never acts on it', async (_case, instance, annotation) => {
    const h = setup([fleet({ exclude: { tags: { 'phoenix:skip': 'true' } } })]);
    const facts = instance();
    h.world.instances = [facts];
    const event = configFixture('config-item-change', (invoking) => {
      const item = invoking.configurationItem as {
        tags: Record<string, string>;
        configuration: { tags: unknown[] };
      };
      item.tags = facts.tags;
      item.configuration.tags = [];
    });

    await handleEvent(h.deps, event);

    expect(h.evaluations()).toMatchObject([
      { ComplianceType: 'NOT_APPLICABLE', Annotation: expect.stringMatching(annotation) },
    ]);
    expect(h.mocks.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent).toHaveLength(0);
  });

  it('fetches an oversized item from the configuration history (latest only) and judges it', async () => {
    const h = setup([fleet({ mode: 'observe' })]);
    const item = (
      JSON.parse(String(fixture('config-item-change').invokingEvent)) as {
        configurationItem: Record<string, unknown>;
      }
    ).configurationItem;
    // The API returns `configuration` as a JSON string and times as Dates.
    h.mocks.config.on(GetResourceConfigHistoryCommand).resolves({
      configurationItems: [
        {
          ...item,
          configuration: JSON.stringify(item.configuration),
          configurationItemCaptureTime: CAPTURED,
        } as never,
      ],
    });

    await handleEvent(h.deps, fixture('config-oversized-item-change'));

    expect(h.mocks.config.commandCalls(GetResourceConfigHistoryCommand)[0]?.args[0].input).toEqual({
      resourceType: 'AWS::EC2::Instance',
      resourceId: INSTANCE_ID,
      limit: 1,
    });
    expect(h.evaluations()).toMatchObject([{ ComplianceType: 'NON_COMPLIANT', OrderingTimestamp: CAPTURED }]);
  });

  it('judges an oversized item missing from the history from DescribeInstances instead', async () => {
    const h = setup([fleet({ mode: 'observe' })]);
    h.world.instances = [handChanged()];
    h.mocks.config.on(GetResourceConfigHistoryCommand).resolves({ configurationItems: [] });

    await handleEvent(h.deps, fixture('config-oversized-item-change'));

    expect(h.evaluations()).toMatchObject([
      { ComplianceResourceId: INSTANCE_ID, ComplianceType: 'NON_COMPLIANT' },
    ]);
  });

  it('drops an item it cannot read loudly: logged, counted, no evaluation, no throw', async () => {
    const h = setup();
    const event = configFixture('config-item-change', (invoking) => {
      delete (invoking.configurationItem as { configuration: Record<string, unknown> }).configuration.imageId;
    });

    await handleEvent(h.deps, event);

    expect(h.evaluations()).toEqual([]);
    expect(h.metrics.count(METRIC.malformedEvents)).toBe(1);
    expect(h.logger.lines.find((l) => l.level === 'error')?.extra[0]).toMatchObject({
      problem: expect.stringContaining('imageId'),
    });
  });
});

describe('the periodic sweep', () => {
  it('judges every instance of every fleet and records one evaluation each', async () => {
    const web = fleet({ mode: 'observe', exclude: { tags: { 'phoenix:skip': 'true' } } });
    const batch = tagFleet({ mode: 'observe' });
    const h = setup([web, batch]);
    const inSync = instanceFacts({ instanceId: 'i-00000000000000001' });
    const drifted = instanceFacts({ instanceId: 'i-00000000000000002', imageId: OTHER_IMAGE_ID });
    const excluded = instanceFacts({
      instanceId: 'i-00000000000000003',
      tags: { ...DEFAULT_INSTANCE_TAGS, 'phoenix:skip': 'true' },
    });
    const standalone = standaloneInstance({ App: 'batch' }, { instanceId: 'i-00000000000000004' });
    const stranger = standaloneInstance({ App: 'other' }, { instanceId: 'i-00000000000000005' });
    h.world.instances = [inSync, drifted, excluded, standalone, stranger];

    const summary = await handleEvent(h.deps, fixture('config-scheduled'));

    const byId = Object.fromEntries(h.evaluations().map((e) => [e.ComplianceResourceId, e.ComplianceType]));
    expect(byId).toEqual({
      'i-00000000000000001': 'COMPLIANT',
      'i-00000000000000002': 'NON_COMPLIANT',
      'i-00000000000000003': 'NOT_APPLICABLE',
      'i-00000000000000004': 'COMPLIANT',
    });
    expect(
      h.evaluations().every((e) => e.OrderingTimestamp?.toISOString() === '2025-06-15T12:00:00.000Z'),
    ).toBe(true);
    expect(summary).toMatchObject({ judged: 4, compliant: 2, nonCompliant: 1, notApplicable: 1 });
  });

  it('emits each metric once per invocation, summed, however many instances it judged', async () => {
    const h = setup([fleet({ mode: 'observe' })]);
    h.world.instances = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'].map(
      (instanceId) => instanceFacts({ instanceId, imageId: OTHER_IMAGE_ID }),
    );

    await handleEvent(h.deps, fixture('config-scheduled'));

    expect(h.metrics.points.filter(([name]) => name === METRIC.instancesJudged)).toEqual([
      [METRIC.instancesJudged, 3],
    ]);
    expect(h.metrics.points.filter(([name]) => name === METRIC.instancesDrifted)).toEqual([
      [METRIC.instancesDrifted, 3],
    ]);
  });

  it('starts one remediation per drifted instance in enforce mode', async () => {
    const h = setup();
    h.world.instances = [
      instanceFacts({ instanceId: 'i-00000000000000001', imageId: OTHER_IMAGE_ID }),
      instanceFacts({ instanceId: 'i-00000000000000002', instanceType: 't3.large' }),
      instanceFacts({ instanceId: 'i-00000000000000003' }),
    ];

    await handleEvent(h.deps, fixture('config-scheduled'));

    expect(
      h
        .starts()
        .map((s) => s.input.instanceId)
        .sort(),
    ).toEqual(['i-00000000000000001', 'i-00000000000000002']);
  });

  it('still records the other fleets when one fleet cannot be listed, then fails so it is retried', async () => {
    const broken = tagFleet({ name: 'broken', selector: {}, mode: 'observe' });
    const h = setup([fleet({ mode: 'observe' }), broken]);
    h.world.instances = [instanceFacts()];

    await expect(handleEvent(h.deps, fixture('config-scheduled'))).rejects.toMatchObject({
      name: 'DetectionIncompleteError',
      message: expect.stringContaining('listing fleet broken'),
    });
    expect(h.evaluations().map((e) => e.ComplianceResourceId)).toEqual([INSTANCE_ID]);
  });
});

describe('the CloudTrail fast path', () => {
  it('re-judges a tagged instance from current facts and carries the principal into notification and execution', async () => {
    const h = setup();
    h.world.instances = [handChanged()];

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.mocks.config.commandCalls(PutEvaluationsCommand)).toHaveLength(0);
    const [start] = h.starts();
    expect(start?.input).toEqual({
      requestVersion: 1,
      instanceId: INSTANCE_ID,
      fleet: 'web',
      fingerprint: ownerFingerprint,
      reasons: [ownerReason],
      desiredState: { revision: '0123456789ab', commit: '0123456789abcdef0123456789abcdef01234567' },
      launchTemplate: { id: TEMPLATE_ID, name: 'web-lt', version: TEMPLATE_VERSION },
      detectedAt: NOW.toISOString(),
      trigger: 'CreateTags',
      principal: ALICE,
      attempt: 0,
    });
    expect(h.notifier.sent).toHaveLength(1);
    expect(h.notifier.sent[0]).toMatchObject({
      event: 'drift.detected',
      principal: ALICE,
      instanceId: INSTANCE_ID,
      execution: {
        name: start?.name,
        consoleUrl: expect.stringContaining('us-east-1.console.aws.amazon.com'),
      },
    });
    expect(summary).toMatchObject({
      evaluationsRecorded: 0,
      remediationsStarted: 1,
      notificationsPublished: 1,
    });
  });

  it('does nothing for a stale event: the instance was put back before the event arrived', async () => {
    const h = setup();
    h.world.instances = [instanceFacts()];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent).toHaveLength(0);
  });

  it('starts nothing new when the same event arrives again, or events arrive out of order', async () => {
    const h = setup();
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    await handleEvent(h.deps, fixture('ec2-state-change-running'));
    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    const summary = await handleEvent(h.deps, fixture('config-item-change'));

    const names = h.starts().map((s) => s.name);
    expect(new Set(names).size).toBe(1);
    expect(h.notifier.sent).toHaveLength(1);
    expect(summary.remediationsAlreadyStarted).toBe(1);
  });

  it('treats ExecutionAlreadyExists as success', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.mocks.sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(summary.remediationsAlreadyStarted).toBe(1);
    expect(h.notifier.sent).toHaveLength(1);
  });

  it("names the execution after the drift's current attempt: a new name once an execution ended in a way that may be retried", async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    // The first execution ended retryably (paused, blocked…): it moved the drift to attempt 1.
    h.store.attempts.set(`${INSTANCE_ID}#${ownerFingerprint}`, 1);

    const again = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    const duplicate = await handleEvent(h.deps, fixture('config-item-change'));

    expect(h.starts().map((s) => [s.name, s.input.attempt])).toEqual([
      [executionName(INSTANCE_ID, ownerFingerprint, 0), 0],
      [executionName(INSTANCE_ID, ownerFingerprint, 1), 1],
      [executionName(INSTANCE_ID, ownerFingerprint, 1), 1],
    ]);
    expect(again.remediationsStarted).toBe(1);
    expect(duplicate).toMatchObject({ remediationsStarted: 0, remediationsAlreadyStarted: 1 });
  });

  it('starts nothing for a drift its last execution held for a human ("manual action required"), until the hold ends', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.store.attempts.set(`${INSTANCE_ID}#${ownerFingerprint}`, 1);
    h.store.holds.set(`${INSTANCE_ID}#${ownerFingerprint}`, {
      until: '2025-06-16T12:00:00.000Z',
      why: 'Auto Scaling group web-prod is pinned at min 3 = max 3 = desired 3',
    });

    const held = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    expect(held).toMatchObject({ remediationsStarted: 0, remediationsHeld: 1 });
    expect(h.starts()).toHaveLength(0);

    h.store.holds.clear();
    const later = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    expect(later.remediationsStarted).toBe(1);
    expect(h.starts().map((s) => s.name)).toEqual([executionName(INSTANCE_ID, ownerFingerprint, 1)]);
  });

  it('judges every instance RunInstances launched, but acts only on running ones', async () => {
    const batch = tagFleet({ selector: { App: 'batch' } });
    const h = setup([batch]);
    h.world.instances = [
      standaloneInstance({ App: 'batch' }, { instanceId: 'i-0aaaaaaaaaaaaaaa1', instanceType: 't3.large' }),
      standaloneInstance(
        { App: 'batch' },
        { instanceId: 'i-0bbbbbbbbbbbbbbb2', instanceType: 't3.large', state: 'pending' },
      ),
    ];

    const summary = await handleEvent(h.deps, fixture('cloudtrail-run-instances'));

    expect(summary).toMatchObject({ judged: 2, nonCompliant: 2 });
    expect(h.starts().map((s) => s.input.instanceId)).toEqual(['i-0aaaaaaaaaaaaaaa1']);
  });

  it.each(['cloudtrail-delete-tags', 'cloudtrail-modify-instance-attribute', 'ec2-state-change-running'])(
    '%s judges the instance it names',
    async (name) => {
      const h = setup([fleet({ mode: 'notify' })]);
      h.world.instances = [instanceFacts({ instanceType: 't3.large' })];

      await handleEvent(h.deps, fixture(name));

      expect(h.notifier.sent.map((n) => [n.event, n.instanceId])).toEqual([['drift.detected', INSTANCE_ID]]);
    },
  );

  it('ignores an instance that no longer exists', async () => {
    const h = setup();

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(summary.judged).toBe(0);
    expect(h.logger.lines.some((l) => l.message.includes('no longer exist'))).toBe(true);
  });

  it('never acts on an instance outside the declared fleets, whatever the event says', async () => {
    const h = setup();
    h.world.instances = [standaloneInstance({ Owner: 'someone-else' })];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent).toHaveLength(0);
  });
});

describe('launch template changes', () => {
  it('fans out to every instance of the fleets using the template, and only those', async () => {
    const web = fleet();
    const batch = tagFleet({ launchTemplate: { name: 'batch-lt', version: '$Default' } });
    const h = setup([web, batch]);
    h.world.templates = [
      templateFacts({ version: 4, imageId: OTHER_IMAGE_ID }),
      templateFacts({ id: 'lt-0ffffffffffffffff', name: 'batch-lt', version: 1 }),
    ];
    h.world.instances = [
      instanceFacts({ instanceId: 'i-00000000000000001' }),
      instanceFacts({ instanceId: 'i-00000000000000002' }),
      standaloneInstance(
        {
          App: 'batch',
          'aws:ec2launchtemplate:id': 'lt-0ffffffffffffffff',
          'aws:ec2launchtemplate:version': '1',
        },
        { instanceId: 'i-00000000000000003', launchTemplate: { id: 'lt-0ffffffffffffffff', version: '1' } },
      ),
    ];

    await handleEvent(h.deps, fixture('cloudtrail-modify-launch-template'));

    const starts = h.starts();
    expect(starts.map((s) => s.input.instanceId).sort()).toEqual([
      'i-00000000000000001',
      'i-00000000000000002',
    ]);
    expect(starts.every((s) => (s.input.launchTemplate as { version: number }).version === 4)).toBe(true);
    expect(starts.every((s) => s.input.principal === ALICE)).toBe(true);
  });

  it('matches a fleet declared by name to an event naming only the id', async () => {
    const h = setup([fleet({ mode: 'notify' })]);
    h.world.templates = [templateFacts({ version: 4, imageId: OTHER_IMAGE_ID })];
    h.world.instances = [instanceFacts()];
    const event = fixture('cloudtrail-create-launch-template-version');
    const detail = event.detail as Record<string, unknown>;
    detail.requestParameters = { CreateLaunchTemplateVersionRequest: { LaunchTemplateId: TEMPLATE_ID } };
    detail.responseElements = null;

    await handleEvent(h.deps, event);

    expect(h.notifier.sent).toHaveLength(1);
  });

  it('ignores a template no fleet uses', async () => {
    const h = setup();
    const event = fixture('cloudtrail-modify-launch-template');
    const detail = event.detail as {
      responseElements: { ModifyLaunchTemplateResponse: { launchTemplate: Record<string, unknown> } };
      requestParameters: Record<string, unknown>;
    };
    detail.responseElements.ModifyLaunchTemplateResponse.launchTemplate.launchTemplateId =
      'lt-0eeeeeeeeeeeeeeee';
    detail.responseElements.ModifyLaunchTemplateResponse.launchTemplate.launchTemplateName = 'other';

    await handleEvent(h.deps, event);

    expect(h.mocks.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
    expect(h.metrics.count(METRIC.ignoredEvents)).toBe(1);
  });
});

describe('acting by mode', () => {
  it('observe: records, never notifies, never starts', async () => {
    const h = setup([fleet({ mode: 'observe' })]);
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('config-item-change'));

    expect(h.evaluations()).toHaveLength(1);
    expect(h.notifier.sent).toHaveLength(0);
    expect(h.starts()).toHaveLength(0);
  });

  it('notify: one notification per instance and fingerprint, no execution', async () => {
    const h = setup([fleet({ mode: 'notify' })]);
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.notifier.sent).toHaveLength(1);
    expect(h.notifier.sent[0]).toMatchObject({
      schemaVersion: 1,
      event: 'drift.detected',
      fleet: 'web',
      team: 'web',
      severity: 'warning',
      reasons: [ownerReason],
      desiredState: { revision: '0123456789ab' },
    });
    expect(h.starts()).toHaveLength(0);

    // A new drift of the same instance is news.
    h.world.instances = [instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'yet-another' } })];
    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));
    expect(h.notifier.sent).toHaveLength(2);
  });

  it('gives the claim back when publishing fails, so the retry notifies', async () => {
    const h = setup([fleet({ mode: 'notify' })]);
    h.world.instances = [handChanged()];
    h.notifier.failNext = Object.assign(new Error('SNS down'), { name: 'InternalErrorException' });

    await expect(handleEvent(h.deps, fixture('cloudtrail-create-tags'))).rejects.toMatchObject({
      name: 'DetectionIncompleteError',
    });
    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.store.released).toHaveLength(1);
    expect(h.notifier.sent).toHaveLength(1);
  });
});

describe('guards in enforce mode', () => {
  it('pause: still records and notifies, starts nothing', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.store.paused = true;

    await handleEvent(h.deps, fixture('config-item-change'));

    expect(h.evaluations()).toHaveLength(1);
    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent.map((n) => n.event)).toEqual(['drift.detected']);
    expect(h.notifier.sent[0]?.message).toMatch(/paused/);
    expect(h.metrics.count(METRIC.remediationsPaused)).toBe(1);
  });

  it('quarantine of the template version: blocked notification, nothing started', async () => {
    const h = setup();
    h.world.instances = [handChanged()];
    h.store.quarantines.push({
      fleet: 'web',
      templateId: TEMPLATE_ID,
      version: TEMPLATE_VERSION,
      cause: 'replacement never became healthy',
      execution: 'arn:aws:states:us-east-1:123456789012:execution:x:y',
      at: '2025-06-14T10:00:00.000Z',
    });

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent.map((n) => n.event).sort()).toEqual(['drift.detected', 'remediation.blocked']);
    expect(h.notifier.sent.find((n) => n.event === 'remediation.blocked')?.message).toMatch(/quarantined/);
  });

  it('source drift: manual-action-required with the source reasons, never a remediation', async () => {
    const h = setup();
    // The template stamps Owner=platform on every instance it launches: a fresh one would drift too.
    h.world.templates = [templateFacts({ instanceTags: { Name: 'web', Owner: 'platform' } })];
    h.world.groups = { [ASG_NAME]: {} };
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.starts()).toHaveLength(0);
    const manual = h.notifier.sent.find((n) => n.event === 'manual-action-required');
    expect(manual).toMatchObject({ severity: 'critical', fleet: 'web' });
    expect(manual?.reasons.map((r) => r.field)).toContain('tags.Owner');
    expect(manual?.message).toMatch(/source drift/);
    expect(h.metrics.count(METRIC.sourceDrift)).toBe(1);
  });

  it('source drift from the group itself: it launches an older version than Git declares', async () => {
    const h = setup();
    // The fleet follows $Default (version TEMPLATE_VERSION); the group is pinned to an older
    // version with another image: what it launches would be drifted again.
    h.world.templates = [
      templateFacts(),
      templateFacts({ version: TEMPLATE_VERSION - 1, imageId: OTHER_IMAGE_ID }),
    ];
    h.world.groupLaunchTemplates = { [ASG_NAME]: { id: TEMPLATE_ID, version: String(TEMPLATE_VERSION - 1) } };
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.starts()).toHaveLength(0);
    const manual = h.notifier.sent.find((n) => n.event === 'manual-action-required');
    expect(manual?.reasons.map((r) => r.field)).toContain('imageId');
    expect(h.metrics.count(METRIC.sourceDrift)).toBe(1);
  });

  it('a group on a launch configuration: blocked, says why, nothing started', async () => {
    const h = setup();
    h.world.groupLaunchTemplates = { [ASG_NAME]: null };
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('cloudtrail-create-tags'));

    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent.find((n) => n.event === 'remediation.blocked')?.message).toMatch(
      /launches from a launch configuration/,
    );
  });

  it('source drift is reported once per fleet, not once per instance', async () => {
    const h = setup();
    h.world.templates = [templateFacts({ instanceTags: { Name: 'web', Owner: 'platform' } })];
    h.world.groups = { [ASG_NAME]: {} };
    h.world.instances = [
      instanceFacts({ instanceId: 'i-00000000000000001', imageId: OTHER_IMAGE_ID }),
      instanceFacts({ instanceId: 'i-00000000000000002', imageId: OTHER_IMAGE_ID }),
    ];

    await handleEvent(h.deps, fixture('config-scheduled'));

    expect(h.notifier.sent.filter((n) => n.event === 'manual-action-required')).toHaveLength(1);
    expect(h.notifier.sent.filter((n) => n.event === 'drift.detected')).toHaveLength(2);
  });

  it('an unresolvable template: recorded, blocked notification, nothing started', async () => {
    const h = setup();
    h.world.templates = [];
    h.world.instances = [handChanged()];

    await handleEvent(h.deps, fixture('config-item-change'));

    expect(h.evaluations()).toMatchObject([{ ComplianceType: 'NON_COMPLIANT' }]);
    expect(h.starts()).toHaveLength(0);
    expect(h.notifier.sent.find((n) => n.event === 'remediation.blocked')?.message).toMatch(
      /cannot be resolved/,
    );
  });
});

describe('malformed events', () => {
  it('a malformed Config invocation is logged whole, counted, and returns normally', async () => {
    const h = setup();
    const event = { ...fixture('config-item-change'), invokingEvent: 'not json' };

    const summary = await handleEvent(h.deps, event);

    expect(summary.event).toBe('malformed');
    expect(h.metrics.count(METRIC.malformedEvents)).toBe(1);
    const line = h.logger.lines.find((l) => l.level === 'error');
    expect(line?.extra[0]).toMatchObject({ origin: 'config-rule', event });
    expect(h.mocks.config.commandCalls(PutEvaluationsCommand)).toHaveLength(0);
  });

  it.each([
    [
      'a malformed EventBridge event',
      { ...fixture('ec2-state-change-running'), detail: { state: 'running' } },
    ],
    ['an event of no known shape', { foo: 'bar' }],
  ])('%s is logged, counted and thrown, so it reaches the failure destination', async (_case, event) => {
    const h = setup();

    await expect(handleEvent(h.deps, event)).rejects.toBeInstanceOf(MalformedEventError);
    expect(h.metrics.count(METRIC.malformedEvents)).toBe(1);
    expect(h.logger.lines.find((l) => l.level === 'error')?.extra[0]).toMatchObject({ event });
  });

  it('an ignored event is logged and counted, not thrown', async () => {
    const h = setup();

    const summary = await handleEvent(h.deps, fixture('cloudtrail-create-tags-denied'));

    expect(summary.event).toBe('ignored');
    expect(h.metrics.count(METRIC.ignoredEvents)).toBe(1);
    expect(h.logger.lines.some((l) => l.message === 'Event ignored')).toBe(true);
  });
});
