import { readFileSync } from 'node:fs';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultImageIds } from '../../emulator/seed';
import { describeInstances } from '../../functions/aws/inventory';
import { RemediationStore } from '../../functions/aws/remediation-store';
import { StateStore } from '../../functions/aws/state-store';
import type { RunResult } from '../../functions/local/step-functions/runner';
import { takeDenials } from '../helpers/iam/gate';
import {
  describeGroup,
  desiredState,
  healthyFloor,
  healthyServing,
  mutatingCalls,
  printFigures,
  seedDriftedAsgFleet,
  type TestAccount,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 60 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
  api:
    match: { autoScalingGroup: api-asg }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
  db:
    match: { autoScalingGroup: db-asg }
    launchTemplate: { name: db-lt, version: $Default }
    tags: { Owner: team-db }
    budget: { minHealthyPercent: 100 }
  cache:
    match: { autoScalingGroup: cache-asg }
    launchTemplate: { name: cache-lt, version: $Default }
    tags: { Owner: team-cache }
    budget: { minHealthyPercent: 75 }
  legacy:
    match: { tags: { App: legacy } }
    launchTemplate: { name: web-lt, version: $Default }
`);

describe('disruption budgets', () => {
  let account: TestAccount;
  let store: StateStore;
  const fleets: Record<string, Awaited<ReturnType<typeof seedDriftedAsgFleet>>> = {};

  beforeAll(async () => {
    account = await testAccount();
    store = new StateStore(account.clients.dynamodb, account.tableName);
    let cidr = 1;
    for (const [name, desired, max] of [
      ['web', 3, 4],
      ['api', 3, 4],
      ['db', 2, 2],
      ['cache', 4, 4],
    ] as const) {
      fleets[name] = await seedDriftedAsgFleet(account.clients, {
        name,
        desired,
        max,
        cidr: `10.${cidr}.0.0/16`,
      });
      cidr += 1;
    }
  });
  beforeEach(async () => {
    await account.notifications();
  });

  it('two fleets × three drifted instances, maxConcurrent 1, all at once: never two leases in a fleet, and all converge', async () => {
    const drifted = ['web', 'api'].flatMap((fleet) =>
      (fleets[fleet]?.group.instanceIds ?? []).map((id) => ({ fleet, id })),
    );
    expect(drifted).toHaveLength(6);
    const inputs = await Promise.all(drifted.map(({ id }) => account.inputFor(STATE, id)));
    const leaseViolations: string[] = [];
    const waited: string[] = [];
    const checkLeases = async () => {
      for (const fleet of ['web', 'api']) {
        const slots = (await store.listLeases(fleet)).filter((l) => l.sk.startsWith('slot#'));
        if (slots.length > 1) leaseViolations.push(`${fleet}: ${slots.map((s) => s.holder).join(', ')}`);
      }
    };

    // Blocked executions end "blocked"; the next detection would start them again: so does this loop.
    let pending = inputs;
    const finished: RunResult[] = [];
    for (let round = 1; pending.length > 0 && round <= drifted.length; round += 1) {
      const results = await Promise.all(
        pending.map((input) =>
          account.remediate(input, STATE, {
            executionName: `${input.instanceId}-round-${round}`,
            hooks: {
              afterState: async (after) => {
                if (
                  after.state === 'AcquireLease' &&
                  (after.output as { queue?: unknown })?.queue !== undefined
                )
                  waited.push(after.instanceId);
                await checkLeases();
              },
            },
          }),
        ),
      );
      finished.push(...results);
      pending = pending.filter(
        (_, i) => (results[i]?.output as { outcome?: string } | undefined)?.outcome === 'blocked',
      );
    }

    // They did contend: executions found their fleet busy and waited in its queue (a grant
    // after a wait says where it waited), never polling the lease nor ending blocked.
    expect(waited.length).toBeGreaterThan(0);
    expect(
      finished
        .flatMap((r) => r.events)
        .filter((e) => e.type === 'StateRetried' && e.state === 'AcquireLease'),
    ).toEqual([]);
    expect(finished).toHaveLength(6);
    expect(leaseViolations).toEqual([]);
    expect(overlappingLeases(finished, inputs)).toEqual([]);
    const outcomes = finished.map((r) => (r.output as { outcome?: string } | undefined)?.outcome);
    expect(outcomes.filter((o) => o === 'succeeded')).toHaveLength(6);
    expect(outcomes.filter((o) => o !== 'succeeded' && o !== 'blocked')).toEqual([]);

    for (const fleet of ['web', 'api']) {
      const group = await describeGroup(account.clients, `${fleet}-asg`);
      expect(group.DesiredCapacity).toBe(3);
      const members = (group.Instances ?? []).map((i) => i.InstanceId ?? '');
      const facts = await describeInstances(account.clients.ec2, members);
      expect(facts.map((f) => f.launchTemplate?.version)).toEqual(['2', '2', '2']);
    }
    const olds = await describeInstances(
      account.clients.ec2,
      drifted.map((d) => d.id),
    );
    expect(olds.map((f) => f.state)).toEqual(drifted.map(() => 'terminated'));
  });

  // Issue 13.1: detaching took the old member's aws:autoscaling:groupName tag away, so the
  // role (which may terminate only members of the declared groups, by that tag) was denied
  // terminating it. Standby keeps it a member: every call is decided by IAM here, none denied.
  it('a group at MaxSize whose budget allows the dip: old one to Standby first, replaced by the group, floor kept, every call allowed by IAM', async () => {
    const cache = fleets.cache;
    const [old = ''] = cache?.group.instanceIds ?? [];
    const input = await account.inputFor(STATE, old);
    const floor = healthyFloor(4, 75);
    const healthy: number[] = [];

    const result = await account.remediate(input, STATE, {
      hooks: {
        afterState: async () => {
          healthy.push(await healthyServing(account.clients, cache?.targetGroupArn ?? ''));
        },
      },
    });

    expect(takeDenials()).toEqual([]);
    expect(result.output).toMatchObject({ outcome: 'succeeded' });
    expect(result.apiCalls['AutoScaling.SetDesiredCapacity']).toBeUndefined();
    expect(result.apiCalls['AutoScaling.DetachInstances']).toBeUndefined();
    expect((await describeGroup(account.clients, 'cache-asg')).DesiredCapacity).toBe(4);
    expect((await describeInstances(account.clients.ec2, [old]))[0]?.state).toBe('terminated');
    for (const h of healthy) expect(h).toBeGreaterThanOrEqual(floor);
  });

  it('a group at MaxSize whose budget forbids any dip: manual action required at once, naming the missing headroom, nothing touched', async () => {
    const [old = ''] = fleets.db?.group.instanceIds ?? [];
    const input = await account.inputFor(STATE, old);

    const result = await account.remediate(input, STATE);

    // No budget is ever granted while the group stays at MaxSize 2 with minHealthyPercent 100:
    // backing off for hours and ending "blocked", to start over at the next detection, only
    // repeats the refusal.
    expect(result.output).toMatchObject({ outcome: 'manual-action-required' });
    expect((result.output as { detail: string }).detail).toContain(
      'cannot replace it: no headroom: Auto Scaling group db-asg is at MaxSize 2 and minHealthyPercent 100 forbids taking one out first (2 of 2 must stay healthy); raise MaxSize by 1',
    );
    expect(result.events.filter((e) => e.type === 'StateRetried' && e.state === 'AcquireLease')).toEqual([]);
    expect(result.events.some((e) => e.type === 'StateEntered' && e.state === 'AcquireLease')).toBe(false);
    expect(mutatingCalls(result.apiCalls)).toEqual({});
    expect(await account.notifications()).toEqual([
      expect.objectContaining({ event: 'manual-action-required', instanceId: old }),
    ]);
  });

  it('a group at MaxSize only because another replacement is in flight: waits in the queue, not for a human, then backs off on the floor', async () => {
    const [old = '', other = ''] = fleets.db?.group.instanceIds ?? [];
    const input = await account.inputFor(STATE, old);
    // Another execution of the fleet holds its lease (its surge may be what fills the group).
    const leases = new RemediationStore(account.clients.dynamodb, account.tableName);
    const otherHolder = 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:other';
    const lease = await leases.acquireLease({
      fleet: 'db',
      holder: otherHolder,
      instanceId: other,
      maxConcurrent: 1,
      minHealthyPercent: 100,
      healthy: 2,
      desired: 2,
      disruption: 0,
      ttlSeconds: 600,
    });
    expect(lease.granted).toBe(true);

    const running = account.remediate(input, STATE);
    // The fleet is busy: the execution parks in its queue and waits, spending nothing.
    const parked = await eventually(async () => {
      const zones = await leases.queueZones('db');
      const heads = (await Promise.all(zones.map((zone) => leases.zoneHeads('db', zone, 5)))).flat();
      return heads.find((w) => w.instanceId === old);
    });
    expect(parked?.granted).toBeUndefined();
    // The other replacement ends: its slot goes to the waiter, whose own plan (Standby first at
    // MaxSize, minHealthyPercent 100) the floor forbids: that only the group changing lifts, so
    // it backs off and ends blocked, and the next detection plans again.
    await leases.releaseLease('db', otherHolder);
    const result = await running;

    expect(result.output).toMatchObject({ outcome: 'blocked', reason: 'budget' });
    expect((result.output as { detail: string }).detail).toContain(
      'no headroom to launch first: Auto Scaling group db-asg is at MaxSize 2, so the old instance must go out first',
    );
    expect(result.events.filter((e) => e.type === 'StateRetried' && e.state === 'AcquireLease')).toHaveLength(
      leaseRetryAttempts(),
    );
    expect(mutatingCalls(result.apiCalls)).toEqual({});
    expect((await account.notifications()).map((n) => n.event)).toEqual(['remediation.blocked']);
    printFigures(`blocked by the floor after a wait (${leaseRetryAttempts()} backed-off retries)`, result);
    expect(await leases.zoneHeads('db', parked?.az ?? '', 5)).toEqual([]);
  });

  it('an instance that is neither in a group nor from a launch template: manual action required', async () => {
    const [image = ''] = await defaultImageIds(account.clients.ec2, 1);
    const launched = await account.clients.ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: fleets.web?.network.subnetIds[0],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'App', Value: 'legacy' }] }],
      }),
    );
    const instanceId = launched.Instances?.[0]?.InstanceId ?? '';
    const input = await account.inputFor(STATE, instanceId);

    const result = await account.remediate(input, STATE);

    expect(result.output).toMatchObject({ outcome: 'manual-action-required' });
    expect((result.output as { detail: string }).detail).toContain('not launched from a launch template');
    expect(mutatingCalls(result.apiCalls)).toEqual({});
    expect((await account.notifications()).map((n) => n.event)).toEqual(['manual-action-required']);
  });
});

/**
 * Leases held at the same time in one fleet, from the event log: an execution holds its
 * lease from leaving AcquireLease to entering RetireOld (which releases it) or a ReleaseLease state.
 */
function overlappingLeases(
  results: RunResult[],
  inputs: Array<{ instanceId: string; fleet: string }>,
): string[] {
  const fleetOf = new Map(inputs.map((i) => [i.instanceId, i.fleet]));
  const held = results.flatMap((r) => {
    const acquired = r.events.find((e) => e.type === 'StateExited' && e.state === 'AcquireLease');
    // RetireOld gives the lease back (and hands the slot to the next waiter) as it retires
    // the old instance: held until then at most, or until a ReleaseLease state otherwise.
    const released = r.events.find(
      (e) => e.type === 'StateEntered' && (e.state === 'RetireOld' || e.state?.startsWith('ReleaseLease')),
    );
    if (acquired === undefined || released === undefined) return [];
    return [
      {
        fleet: fleetOf.get(acquired.instanceId) ?? '',
        from: acquired.at,
        to: released.at,
        id: r.executionArn,
      },
    ];
  });
  const overlaps: string[] = [];
  for (const a of held) {
    for (const b of held) {
      if (a.id < b.id && a.fleet === b.fleet && a.from < b.to && b.from < a.to)
        overlaps.push(`${a.id} & ${b.id}`);
    }
  }
  return overlaps;
}

/** `probe`'s first defined answer, asked every 20 ms (up to 10 s). */
async function eventually<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let i = 0; i < 500; i += 1) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

/** How often the definition retries a denied lease (the healthy floor) before reporting blocked. */
function leaseRetryAttempts(): number {
  const definition = JSON.parse(
    readFileSync(new URL('../../state-machines/remediate-instance.asl.json', import.meta.url), 'utf8'),
  ) as { States: Record<string, { Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[] }> };
  const rule = definition.States.AcquireLease?.Retry?.find((r) => r.ErrorEquals.includes('LeaseDeniedError'));
  if (rule?.MaxAttempts === undefined) throw new Error('AcquireLease has no LeaseDeniedError retry');
  return rule.MaxAttempts;
}
