import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PhoenixClients } from '../../functions/aws/clients';
import { handleEvent } from '../../functions/evaluate-drift/core';
import { executionName } from '../../functions/evaluate-drift/execution';
import { resetEmulator, testClients } from '../helpers/emulator';
import { emulatedDetection } from './account';
import { configFixture, fixture } from './harness';
import { desiredStateYaml, type Mode, type SeededEstate, seedEstate, writeDesiredState } from './world';

const ALICE =
  'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com';

/** The CreateTags fixture, naming `instanceIds` instead of its own. */
function createTagsEvent(instanceIds: string[]): Record<string, unknown> {
  const event = fixture('cloudtrail-create-tags');
  const detail = event.detail as { requestParameters: { resourcesSet: { items: { resourceId: string }[] } } };
  detail.requestParameters.resourcesSet.items = instanceIds.map((resourceId) => ({ resourceId }));
  return event;
}

async function setUp(mode: Mode = 'enforce') {
  await resetEmulator();
  const clients: PhoenixClients = testClients();
  const estate: SeededEstate = await seedEstate(clients);
  const { compiled } = await writeDesiredState(desiredStateYaml(mode));
  return { clients, estate, compiled, ...(await emulatedDetection(clients, compiled)) };
}

describe('detection against the emulated account', () => {
  let world: Awaited<ReturnType<typeof setUp>>;

  describe('in enforce mode', () => {
    beforeEach(async () => {
      world = await setUp('enforce');
    });

    it('a sweep records exactly the expected evaluations, notifies each team and starts one remediation per drift', async () => {
      const { estate } = world;

      const summary = await handleEvent(world.deps, fixture('config-scheduled'));

      expect(world.evaluations()).toEqual({
        [estate.web.handChanged]: 'NON_COMPLIANT',
        [estate.web.inSync[0] ?? '']: 'COMPLIANT',
        [estate.web.inSync[1] ?? '']: 'COMPLIANT',
        [estate.batch.inSync]: 'COMPLIANT',
        [estate.batch.oldVersion]: 'NON_COMPLIANT',
        [estate.batch.wrongType]: 'NON_COMPLIANT',
        [estate.batch.excluded]: 'NOT_APPLICABLE',
        // The instance outside every fleet is never listed by a fleet's selector: no evaluation.
      });
      expect(summary).toMatchObject({ judged: 7, nonCompliant: 3, remediationsStarted: 3 });

      const byInstance = Object.fromEntries(world.started.map((s) => [s.input.instanceId, s]));
      expect(Object.keys(byInstance).sort()).toEqual(
        [estate.web.handChanged, estate.batch.oldVersion, estate.batch.wrongType].sort(),
      );
      expect(byInstance[estate.web.handChanged]?.input).toMatchObject({
        fleet: 'web',
        launchTemplate: { id: estate.templates.web.id, name: 'web-lt', version: 1 },
        desiredState: { revision: world.compiled.revision, commit: 'test0commit' },
        reasons: [{ kind: 'tag-value', field: 'tags.Owner', expected: 'team-web', actual: 'someone-else' }],
        trigger: 'ScheduledNotification',
      });
      expect(byInstance[estate.batch.oldVersion]?.input).toMatchObject({
        fleet: 'batch',
        launchTemplate: { id: estate.templates.batch.id, version: 2 },
      });
      for (const start of world.started) {
        expect(start.name).toBe(
          executionName(String(start.input.instanceId), String(start.input.fingerprint), 0),
        );
      }

      const notifications = await world.drainNotifications();
      expect(
        notifications.map((n) => [n.attributes.team, n.attributes.event, n.body.instanceId]).sort(),
      ).toEqual(
        [
          ['team-batch', 'drift.detected', estate.batch.oldVersion],
          ['team-batch', 'drift.detected', estate.batch.wrongType],
          ['team-web', 'drift.detected', estate.web.handChanged],
        ].sort(),
      );
      const web = notifications.find((n) => n.body.instanceId === estate.web.handChanged);
      expect(web?.subject).toBe(`[Phoenix] web: drift detected on ${estate.web.handChanged} (tag-value)`);
      expect(web?.attributes).toEqual({
        event: 'drift.detected',
        fleet: 'web',
        team: 'team-web',
        severity: 'warning',
      });
      expect(web?.body.execution?.name).toBe(byInstance[estate.web.handChanged]?.name);
    });

    it('a Config change for the instance outside every fleet is NOT_APPLICABLE, and nothing else happens', async () => {
      const { estate } = world;
      const event = configFixture('config-item-change', (invoking) => {
        const item = invoking.configurationItem as Record<string, unknown> & {
          configuration: Record<string, unknown>;
        };
        item.resourceId = estate.outside;
        item.configuration.instanceId = estate.outside;
        item.configuration.tags = [];
        item.tags = { App: 'other', Owner: 'nobody' };
      });

      await handleEvent(world.deps, event);

      expect(world.evaluations()).toEqual({ [estate.outside]: 'NOT_APPLICABLE' });
      expect(world.started).toEqual([]);
      expect(await world.drainNotifications()).toEqual([]);
    });

    it('the CloudTrail fast path judges a tag changed a moment ago and names who changed it', async () => {
      const target = world.estate.web.inSync[0] ?? '';
      await world.clients.ec2.send(
        new CreateTagsCommand({ Resources: [target], Tags: [{ Key: 'Environment', Value: 'dev' }] }),
      );

      const summary = await handleEvent(world.deps, createTagsEvent([target]));

      expect(summary).toMatchObject({ evaluationsRecorded: 0, remediationsStarted: 1 });
      expect(world.started[0]?.input).toMatchObject({
        instanceId: target,
        principal: ALICE,
        trigger: 'CreateTags',
      });
      const [notification, ...others] = await world.drainNotifications();
      expect(others).toEqual([]);
      expect(notification?.body).toMatchObject({
        event: 'drift.detected',
        instanceId: target,
        principal: ALICE,
        reasons: [{ field: 'tags.Environment', expected: 'prod', actual: 'dev' }],
      });
    });

    it('replaying the same events starts nothing new and notifies nobody again', async () => {
      const { estate } = world;
      await handleEvent(world.deps, fixture('config-scheduled'));
      await handleEvent(world.deps, createTagsEvent([estate.web.handChanged]));
      const first = await world.drainNotifications();
      const startedFirst = world.started.length;

      const replays = [
        await handleEvent(world.deps, fixture('config-scheduled')),
        await handleEvent(world.deps, createTagsEvent([estate.web.handChanged])),
        await handleEvent(world.deps, createTagsEvent([estate.web.handChanged, estate.batch.wrongType])),
      ];

      expect(startedFirst).toBe(3);
      expect(first).toHaveLength(3);
      expect(world.started).toHaveLength(startedFirst);
      expect(replays.map((r) => r.remediationsStarted)).toEqual([0, 0, 0]);
      expect(replays.map((r) => r.remediationsAlreadyStarted)).toEqual([3, 1, 2]);
      expect(await world.drainNotifications()).toEqual([]);
    });

    it('a paused account records and notifies, but starts nothing', async () => {
      await world.store.setPaused(true, 'integration-test');

      await handleEvent(world.deps, fixture('config-scheduled'));

      expect(Object.values(world.evaluations()).filter((c) => c === 'NON_COMPLIANT')).toHaveLength(3);
      expect(world.started).toEqual([]);
      const notifications = await world.drainNotifications();
      expect(notifications).toHaveLength(3);
      expect(notifications.every((n) => /paused/.test(n.body.message))).toBe(true);
    });

    it('a quarantined template version blocks its fleet only', async () => {
      await world.store.quarantine({
        fleet: 'batch',
        templateId: world.estate.templates.batch.id,
        version: 2,
        cause: 'replacement never became healthy',
        execution: 'arn:aws:states:us-east-1:123456789012:execution:phoenix:earlier',
      });

      await handleEvent(world.deps, fixture('config-scheduled'));

      expect(world.started.map((s) => s.input.fleet)).toEqual(['web']);
      const blocked = (await world.drainNotifications()).filter(
        (n) => n.attributes.event === 'remediation.blocked',
      );
      expect(blocked.map((n) => n.body.instanceId).sort()).toEqual(
        [world.estate.batch.oldVersion, world.estate.batch.wrongType].sort(),
      );
    });
  });

  describe.each([
    ['observe', 0, 0],
    ['notify', 3, 0],
  ] as const)('in %s mode', (mode, notifications, starts) => {
    beforeEach(async () => {
      world = await setUp(mode);
    });

    it(`records the same evaluations, sends ${notifications} notifications and starts ${starts} remediations`, async () => {
      await handleEvent(world.deps, fixture('config-scheduled'));
      await handleEvent(world.deps, fixture('config-scheduled'));

      expect(Object.values(world.evaluations()).sort()).toEqual(
        [
          'COMPLIANT',
          'COMPLIANT',
          'COMPLIANT',
          'NON_COMPLIANT',
          'NON_COMPLIANT',
          'NON_COMPLIANT',
          'NOT_APPLICABLE',
        ].sort(),
      );
      expect(await world.drainNotifications()).toHaveLength(notifications);
      expect(world.started).toHaveLength(starts);
    });
  });
});
