import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import { StateStore } from '../../functions/aws/state-store';
import {
  describeGroup,
  desiredState,
  healthyFloor,
  healthyServing,
  seedDriftedAsgFleet,
  seedDriftedStandaloneFleet,
  type TestAccount,
  targetsOf,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
`);

describe('a replacement that never becomes healthy', () => {
  let account: TestAccount;
  let web: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
  let api: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    web = await seedDriftedAsgFleet(account.clients, {
      name: 'web',
      desired: 3,
      max: 4,
      cidr: '10.1.0.0/16',
    });
    api = await seedDriftedStandaloneFleet(account.clients, { name: 'api', count: 2 });
  });

  const cases = [
    {
      strategy: 'Auto Scaling group',
      fleet: 'web',
      ids: () => web.group.instanceIds,
      targetGroupArn: () => web.targetGroupArn,
      template: () => web.template.id,
      desired: 3,
    },
    {
      strategy: 'standalone',
      fleet: 'api',
      ids: () => api.instanceIds,
      targetGroupArn: () => api.targetGroupArn,
      template: () => api.template.id,
      desired: 2,
    },
  ];

  it.each(cases)(
    '$strategy: rolls back (old in service, replacement terminated, capacity restored), quarantines the version, tells the team',
    async ({ fleet, ids, targetGroupArn, template, desired }) => {
      const [old = '', other = ''] = ids();
      const floor = healthyFloor(desired, 50);
      const input = await account.inputFor(STATE, old);
      const healthyAfterEachState: number[] = [];

      const result = await account.remediate(input, STATE, {
        hooks: {
          faults: { impaired: 'replacement' },
          afterState: async () => {
            healthyAfterEachState.push(await healthyServing(account.clients, targetGroupArn()));
          },
        },
      });

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('ReplacementUnhealthyError');
      expect(result.cause).toMatch(/not healthy after 3 checks/);
      expect(result.cause).toMatch(/rolled back: .*terminated replacement/);
      expect(result.cause).toContain(`${template()} version 2 quarantined for fleet ${fleet}`);

      // The old instance serves again; the failed replacement is gone.
      const [oldNow] = await describeInstances(account.clients.ec2, [old]);
      expect(oldNow?.state).toBe('running');
      const targets = await targetsOf(account.clients, targetGroupArn());
      expect(targets[old]).toBe('healthy');
      const replacementId = result.cause?.match(/replacement (i-[0-9a-f]+)/)?.[1] ?? '';
      const [replacement] = await describeInstances(account.clients.ec2, [replacementId]);
      expect(replacement?.state).toMatch(/shutting-down|terminated/);
      expect(targets[replacementId]).toBeUndefined();
      if (fleet === 'web') {
        const group = await describeGroup(account.clients, 'web-asg');
        expect(group.DesiredCapacity).toBe(desired);
        expect((group.Instances ?? []).map((i) => i.InstanceId).sort()).toEqual([...ids()].sort());
      }
      for (const healthy of healthyAfterEachState) expect(healthy).toBeGreaterThanOrEqual(floor);

      // Quarantined, lease given back, team told.
      const store = new StateStore(account.clients.dynamodb, account.tableName);
      expect(await store.getQuarantine(fleet, template(), 2)).toMatchObject({
        cause: result.cause,
        execution: result.executionArn,
      });
      expect(await store.listLeases(fleet)).toEqual([]);
      const notes = await account.notifications();
      expect(notes.map((n) => n.event)).toEqual(['remediation.started', 'remediation.rolled-back']);
      expect(notes[1]).toMatchObject({ severity: 'critical', instanceId: old, replacementId });

      // The next drift of this fleet on the same template version is not retried.
      const next = await account.inputFor(STATE, other);
      const again = await account.remediate(next, STATE);
      expect(again.output).toMatchObject({ outcome: 'skipped', reason: 'quarantined' });
      expect((await describeInstances(account.clients.ec2, [other]))[0]?.state).toBe('running');
      const skipped = await account.notifications();
      expect(skipped).toEqual([expect.objectContaining({ event: 'remediation.skipped', instanceId: other })]);
      expect(skipped[0]?.message).toContain('quarantined');
    },
  );
});

const VANISHING = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  shop:
    match: { autoScalingGroup: shop-asg }
    launchTemplate: { name: shop-lt, version: $Default }
    tags: { Owner: team-shop }
  batch:
    match: { tags: { App: batch } }
    launchTemplate: { name: batch-lt, version: $Default }
    tags: { Owner: team-batch }
`);

describe('a failure after the old instance vanished and its replacement was found healthy', () => {
  let account: TestAccount;
  let shop: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
  let batch: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    shop = await seedDriftedAsgFleet(account.clients, {
      name: 'shop',
      desired: 3,
      max: 4,
      cidr: '10.3.0.0/16',
    });
    batch = await seedDriftedStandaloneFleet(account.clients, { name: 'batch', count: 2 });
  });

  it.each([
    { strategy: 'Auto Scaling group', ids: () => shop.group.instanceIds, failing: 'RetireOld' },
    { strategy: 'standalone', ids: () => batch.instanceIds, failing: 'RetireOld' },
  ])(
    '$strategy: the rollback keeps the healthy replacement instead of leaving the fleet one short',
    async ({ strategy, ids, failing }) => {
      const [old = ''] = ids();
      const input = await account.inputFor(VANISHING, old);
      const result = await account.remediate(input, VANISHING, {
        hooks: {
          // The last step keeps failing until the state machine gives up on it and rolls back.
          faults: { throttle: { [failing]: 50 } },
          afterState: async ({ state, output }) => {
            if (state === 'CheckReplacementHealth' && (output as { healthy?: boolean }).healthy === true)
              await account.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [old] }));
          },
        },
      });

      expect(result.status).toBe('FAILED');
      expect(result.cause).toMatch(/kept healthy replacement i-[0-9a-f]+/);
      const replacementId = result.cause?.match(/kept healthy replacement (i-[0-9a-f]+)/)?.[1] ?? '';
      expect((await describeInstances(account.clients.ec2, [replacementId]))[0]?.state).toBe('running');
      if (strategy === 'Auto Scaling group') {
        const group = await describeGroup(account.clients, 'shop-asg');
        // The surge's +1 is given back: the group replaces the vanished instance itself.
        expect(group.DesiredCapacity).toBe(3);
        expect((group.Instances ?? []).map((i) => i.InstanceId)).toContain(replacementId);
      }
      // A throttled step says nothing about the version: nothing is quarantined.
      const store = new StateStore(account.clients.dynamodb, account.tableName);
      expect(await store.listQuarantines()).toEqual([]);
      expect(await store.listLeases(strategy === 'standalone' ? 'batch' : 'shop')).toEqual([]);
    },
  );
});

const DYING = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  boot:
    match: { autoScalingGroup: boot-asg }
    launchTemplate: { name: boot-lt, version: $Default }
    tags: { Owner: team-boot }
`);

describe('a replacement whose image dies at boot, replaced by its group', () => {
  let account: TestAccount;
  let boot: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    boot = await seedDriftedAsgFleet(account.clients, {
      name: 'boot',
      desired: 3,
      max: 4,
      cidr: '10.6.0.0/16',
    });
  });

  it('rolls back the replacement and its successor, not an old member, and quarantines the version', async () => {
    const [old = ''] = boot.group.instanceIds;
    const input = await account.inputFor(DYING, old);
    let replacement = '';

    const result = await account.remediate(input, DYING, {
      hooks: {
        // The image never passes its status checks; after the first check the group's own health
        // check takes the replacement out and launches another from the same version (moto
        // replaces a terminated member at once).
        faults: { impaired: 'replacement' },
        afterState: async ({ state, output }) => {
          const found = (output as { replacementId?: string } | undefined)?.replacementId;
          if (state === 'CheckReplacementHealth' && found !== undefined && replacement === '') {
            replacement = found;
            await account.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [found] }));
          }
        },
      },
    });

    expect(result).toMatchObject({ status: 'FAILED', error: 'ReplacementFailedError' });
    expect(result.cause).toContain(`terminated ${replacement}'s successor`);
    const group = await describeGroup(account.clients, 'boot-asg');
    expect(group.DesiredCapacity).toBe(3);
    // Exactly the old members: the group's termination policy did not get to pick one of them.
    expect((group.Instances ?? []).map((i) => i.InstanceId).sort()).toEqual(
      [...boot.group.instanceIds].sort(),
    );
    const store = new StateStore(account.clients.dynamodb, account.tableName);
    expect(await store.getQuarantine('boot', boot.template.id, 2)).toMatchObject({
      cause: expect.stringContaining('ReplacementFailedError'),
    });
  });
});
