import { CreateTagsCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedStandaloneInstances } from '../../emulator/seed';
import { StateStore } from '../../functions/aws/state-store';
import type { CompiledDesiredState } from '../../functions/domain/model';
import type { RemediationInput } from '../../functions/remediation/input';
import {
  desiredState,
  mutatingCalls,
  seedDriftedAsgFleet,
  seedDriftedStandaloneFleet,
  type TestAccount,
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

/** The same fleets, but Git also declares a tag the Auto Scaling group does not propagate. */
const STATE_WITH_SOURCE_DRIFT = desiredState(`
version: 1
defaults:
  mode: enforce
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web, Environment: prod }
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
`);

const OBSERVE_ONLY = desiredState(`
version: 1
defaults:
  mode: observe
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

describe('the recheck ends a remediation that is no longer wanted, and touches nothing', () => {
  let account: TestAccount;
  let web: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
  let api: Awaited<ReturnType<typeof seedDriftedStandaloneFleet>>;
  let store: StateStore;

  beforeAll(async () => {
    account = await testAccount();
    web = await seedDriftedAsgFleet(account.clients, {
      name: 'web',
      desired: 2,
      max: 3,
      cidr: '10.1.0.0/16',
    });
    api = await seedDriftedStandaloneFleet(account.clients, { name: 'api', count: 3 });
    store = new StateStore(account.clients.dynamodb, account.tableName);
  });
  beforeEach(async () => {
    await account.notifications();
  });

  async function run(input: RemediationInput, state: CompiledDesiredState = STATE) {
    const result = await account.remediate(input, state);
    expect(mutatingCalls(result.apiCalls)).toEqual({});
    return result;
  }

  it('paused: skipped with reason "paused", and the team is told who paused it', async () => {
    const [instanceId = ''] = api.instanceIds;
    const input = await account.inputFor(STATE, instanceId);
    await store.setPaused(true, 'alice');
    try {
      const result = await run(input);
      expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'paused' });
      const [note] = await account.notifications();
      expect(note).toMatchObject({ event: 'remediation.skipped', instanceId });
      expect(note?.message).toContain('paused (by alice');
    } finally {
      await store.setPaused(false, 'alice');
    }
  });

  it('instance gone: skipped quietly', async () => {
    const [, , instanceId = ''] = api.instanceIds;
    const input = await account.inputFor(STATE, instanceId);
    await account.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));

    const result = await run(input);

    expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'instance-gone', notified: false });
    expect(await account.notifications()).toEqual([]);
  });

  it('already compliant again (a tag fixed by hand): skipped quietly', async () => {
    const [instanceId = ''] = await seedStandaloneInstances(account.clients.ec2, {
      launchTemplate: { id: api.template.id, version: 2 },
      count: 1,
      subnetId: api.network.subnetIds[0],
      tags: { App: 'api', Owner: 'someone-else' },
    });
    const input = await account.inputFor(STATE, instanceId);
    expect(input.reasons.map((r) => r.kind)).toEqual(['tag-value']);
    await account.clients.ec2.send(
      new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: 'Owner', Value: 'team-api' }] }),
    );

    const result = await run(input);

    expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'in-sync', notified: false });
  });

  it('the drift changed since detection: skipped, the newer remediation takes over', async () => {
    const [instanceId = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, instanceId);
    const result = await run({ ...input, fingerprint: 'v1-000000000000000000000000' });
    expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'drift-changed' });
  });

  it('the fleet is no longer enforced: skipped', async () => {
    const [instanceId = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE, instanceId);
    const result = await run(input, OBSERVE_ONLY);
    expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'not-enforcing' });
  });

  it('source drift (the group would launch a drifted instance): skipped, and the team is told what to fix', async () => {
    const [instanceId = ''] = web.group.instanceIds;
    const input = await account.inputFor(STATE_WITH_SOURCE_DRIFT, instanceId);

    const result = await run(input, STATE_WITH_SOURCE_DRIFT);

    expect(result.output).toMatchObject({ outcome: 'skipped', reason: 'source-drift' });
    const [note] = await account.notifications();
    expect(note?.message).toContain('tags.Environment: expected prod');
    expect(note?.message).toContain('does not replace in a loop');
  });

  // The recheck read the switches; the lease reads them again in its own transaction, so a
  // pause or a quarantine that lands in between still stops the remediation before it changes anything.
  it.each([
    {
      what: 'paused after the recheck (Auto Scaling member)',
      ids: () => web.group.instanceIds,
      fleet: 'web',
      close: () => store.setPaused(true, 'bob'),
      open: () => store.setPaused(false, 'bob'),
      says: (): string => 'paused (by bob',
    },
    {
      what: 'quarantined by another execution after the recheck (standalone)',
      ids: () => api.instanceIds,
      fleet: 'api',
      close: () =>
        store.quarantine({
          fleet: 'api',
          templateId: api.template.id,
          version: 2,
          cause: 'unhealthy',
          execution: 'exec-x',
        }),
      open: () => store.liftQuarantine('api', api.template.id, 2),
      says: (): string => `${api.template.id} version 2 is quarantined for fleet api`,
    },
  ])(
    '$what: the lease refuses, blocked, nothing held or changed',
    async ({ ids, fleet, close, open, says }) => {
      const [instanceId = ''] = ids();
      const input = await account.inputFor(STATE, instanceId);
      try {
        const result = await account.remediate(input, STATE, {
          hooks: {
            afterState: async ({ state }) => {
              if (state === 'PlanReplacement') await close();
            },
          },
        });
        expect(result.output).toMatchObject({ outcome: 'blocked', reason: 'paused-or-quarantined' });
        expect(mutatingCalls(result.apiCalls)).toEqual({});
        // Refused at once, not retried like a busy budget.
        expect(result.events.filter((e) => e.type === 'StateRetried')).toEqual([]);
        expect(await store.listLeases(fleet)).toEqual([]);
        expect(await store.getGroupLock('web-asg')).toBeUndefined();
        const [note] = await account.notifications();
        expect(note).toMatchObject({ event: 'remediation.blocked', instanceId });
        expect(note?.message).toContain(says());
      } finally {
        await open();
      }
    },
  );
});
