import { beforeAll, describe, expect, it } from 'vitest';
import { describeInstances } from '../../functions/aws/inventory';
import { RemediationStore } from '../../functions/aws/remediation-store';
import type { Faults } from '../../functions/local/hooks';
import type { RunResult } from '../../functions/local/step-functions/runner';
import {
  describeGroup,
  desiredState,
  healthyFloor,
  healthyServing,
  printFigures,
  seedDriftedAsgFleet,
  type TestAccount,
  targetsOf,
  testAccount,
} from './harness';

const STATE = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 75 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: web
`);

describe('remediating a drifted Auto Scaling group member', () => {
  let account: TestAccount;
  let fleet: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;

  beforeAll(async () => {
    account = await testAccount();
    fleet = await seedDriftedAsgFleet(account.clients, { name: 'web', desired: 4, max: 5 });
  });

  it('replaces it from the pinned version, launch before terminate, never below the healthy floor', async () => {
    const [old = ''] = fleet.group.instanceIds;
    const input = await account.inputFor(STATE, old);
    const floor = healthyFloor(4, 75);
    const observed: Array<{ state: string; healthy: number }> = [];

    const result = await account.remediate(input, STATE, {
      hooks: {
        afterState: async ({ state }) => {
          observed.push({ state, healthy: await healthyServing(account.clients, fleet.targetGroupArn) });
        },
      },
    });

    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      output: { outcome: 'succeeded', reason: 'replaced' },
    });
    const replacementId = (result.output as { replacementId: string }).replacementId;

    // The replacement is from the pinned version; the old one is gone; the group is as it was.
    const [replacement] = await describeInstances(account.clients.ec2, [replacementId]);
    expect(replacement).toMatchObject({
      state: 'running',
      imageId: fleet.newImage,
      launchTemplate: { id: fleet.template.id, version: '2' },
    });
    const [oldNow] = await describeInstances(account.clients.ec2, [old]);
    expect(oldNow?.state).toBe('terminated');
    const group = await describeGroup(account.clients, 'web-asg');
    expect(group.DesiredCapacity).toBe(4);
    const members = (group.Instances ?? []).map((i) => i.InstanceId);
    expect(members).toHaveLength(4);
    expect(members).toContain(replacementId);
    expect(members).not.toContain(old);
    const targets = await targetsOf(account.clients, fleet.targetGroupArn);
    expect(targets[replacementId]).toBe('healthy');
    // The old instance went back to its group to be terminated: on AWS the group deregisters
    // it from its own target groups and waits out their delay first. moto terminates it at
    // once and leaves the target listed, so that part is not asserted here.

    // Healthy capacity never dipped below the floor, whatever state the execution was in.
    expect(observed.length).toBeGreaterThan(5);
    for (const { state, healthy } of observed)
      expect({ state, healthy: healthy >= floor }).toEqual({ state, healthy: true });

    // The team heard about it: started, then succeeded, with the replacement named.
    const notes = await account.notifications();
    expect(notes.map((n) => n.event)).toEqual(['remediation.started', 'remediation.succeeded']);
    expect(notes[1]).toMatchObject({ fleet: 'web', team: 'web', instanceId: old, replacementId });

    printFigures('ASG member, happy path', result);
  });
});

const TWO_AT_A_TIME = desiredState(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 75 }
fleets:
  shop:
    match: { autoScalingGroup: shop-asg }
    launchTemplate: { name: shop-lt, version: $Default }
    tags: { Owner: team-shop }
  cart:
    match: { autoScalingGroup: cart-asg }
    launchTemplate: { name: cart-lt, version: $Default }
    tags: { Owner: team-cart }
`);

describe('two replacements in flight in one Auto Scaling group (maxConcurrent 2)', () => {
  let account: TestAccount;
  let store: RemediationStore;

  beforeAll(async () => {
    account = await testAccount();
    store = new RemediationStore(account.clients.dynamodb, account.tableName);
  });

  /**
   * Runs two remediations of one group at once, recording the group's desired capacity after
   * every state. Whichever raises the group's capacity first holds back (after its raise)
   * until the other has tried to raise too, so the two always meet there, whatever the
   * scheduling; without the group lock the second would raise from the same reading.
   */
  async function runBoth(
    group: string,
    targetGroupArn: string,
    instances: [string, string],
    faults: [Faults | undefined, Faults | undefined],
  ) {
    const inputs = await Promise.all(instances.map((id) => account.inputFor(TWO_AT_A_TIME, id)));
    const desired: number[] = [];
    const healthy: number[] = [];
    let someoneRaised = false;
    const waited: string[] = [];
    const results = await Promise.all(
      inputs.map((input, i) =>
        account.remediate(input, TWO_AT_A_TIME, {
          hooks: {
            ...(faults[i] === undefined ? {} : { faults: faults[i] }),
            afterState: async ({ state, error, output, instanceId }) => {
              if (state === 'RaiseDesiredCapacity' && error === undefined && !someoneRaised) {
                someoneRaised = true;
                // Holding the group's lock until the other one has asked for its lease and the
                // lock and parked in the fleet's queue. Bounded, so a missing lock fails the
                // assertions below instead of hanging the test.
                await parkedIn(fleetOf(group), 15_000);
              } else if (state === 'AcquireLease' && (output as { queue?: unknown })?.queue !== undefined) {
                waited.push(instanceId);
              }
              desired.push((await describeGroup(account.clients, group)).DesiredCapacity ?? 0);
              healthy.push(await healthyServing(account.clients, targetGroupArn));
            },
          },
        }),
      ),
    );
    waits.push(...waited);
    return { results, desired, healthy };
  }

  /** Executions granted their lease after a wait in the fleet's queue (the group's lock was taken). */
  const waits: string[] = [];
  const waitedForTheGroup = (_results: RunResult[]) => waits.splice(0).length;
  const fleetOf = (group: string) => group.replace(/-asg$/, '');

  /** Resolves once someone waits in `fleet`'s queue, or after `ms`. */
  async function parkedIn(fleet: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      for (const zone of await store.queueZones(fleet)) {
        if ((await store.zoneHeads(fleet, zone, 1)).length > 0) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('both succeed, each with its own replacement, and the group ends at its original desired capacity', async () => {
    const shop = await seedDriftedAsgFleet(account.clients, {
      name: 'shop',
      desired: 4,
      max: 6,
      cidr: '10.2.0.0/16',
    });
    const [first = '', second = ''] = shop.group.instanceIds;

    const { results, desired, healthy } = await runBoth(
      'shop-asg',
      shop.targetGroupArn,
      [first, second],
      [undefined, undefined],
    );

    expect(results.map((r) => (r.output as { outcome?: string } | undefined)?.outcome)).toEqual([
      'succeeded',
      'succeeded',
    ]);
    // They did meet: one waited for the other's wave instead of reading the same capacity, or
    // both were one wave, raised once by two (docs/adr/0034-waves.md).
    expect(waitedForTheGroup(results) > 0 || desired.includes(6)).toBe(true);
    const replacements = results.map((r) => (r.output as { replacementId: string }).replacementId);
    expect(new Set(replacements).size).toBe(2);
    for (const id of replacements) {
      expect((await describeInstances(account.clients.ec2, [id]))[0]).toMatchObject({
        state: 'running',
        imageId: shop.newImage,
        launchTemplate: { id: shop.template.id, version: '2' },
      });
    }
    const olds = await describeInstances(account.clients.ec2, [first, second]);
    expect(olds.map((f) => f.state)).toEqual(['terminated', 'terminated']);

    const group = await describeGroup(account.clients, 'shop-asg');
    expect(group.DesiredCapacity).toBe(4);
    const members = (group.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
    expect(members).toEqual([...shop.group.instanceIds.slice(2), ...replacements].sort());
    // One surge per execution: never more than two above the original capacity, never below it.
    expect(Math.max(...desired)).toBeLessThanOrEqual(6);
    expect(Math.min(...desired)).toBeGreaterThanOrEqual(4);
    for (const h of healthy) expect(h).toBeGreaterThanOrEqual(healthyFloor(4, 75));
    expect(await store.getGroupLock('shop-asg')).toBeUndefined();
    expect(await store.listLeases('shop')).toEqual([]);
  });

  it('one rolls back while the other succeeds: the rollback takes back only its own surge', async () => {
    const cart = await seedDriftedAsgFleet(account.clients, {
      name: 'cart',
      desired: 4,
      max: 6,
      cidr: '10.3.0.0/16',
    });
    const [failing = '', succeeding = ''] = cart.group.instanceIds;

    const { results, healthy } = await runBoth(
      'cart-asg',
      cart.targetGroupArn,
      [failing, succeeding],
      [{ impaired: 'replacement' }, undefined],
    );
    const [rolledBack, replaced] = results;

    expect(rolledBack).toMatchObject({ status: 'FAILED', error: 'ReplacementUnhealthyError' });
    expect(rolledBack?.cause).toMatch(
      /rolled back: .*terminated replacement .* lowered the group's desired capacity/,
    );
    expect(replaced?.output).toMatchObject({ outcome: 'succeeded' });
    const replacementId = (replaced?.output as { replacementId?: string } | undefined)?.replacementId ?? '';

    const group = await describeGroup(account.clients, 'cart-asg');
    expect(group.DesiredCapacity).toBe(4);
    const members = (group.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
    expect(members).toEqual(
      [...cart.group.instanceIds.filter((id) => id !== succeeding), replacementId].sort(),
    );
    const stateOf = async (id: string) => (await describeInstances(account.clients.ec2, [id]))[0]?.state;
    expect([await stateOf(failing), await stateOf(succeeding)]).toEqual(['running', 'terminated']);
    expect((await targetsOf(account.clients, cart.targetGroupArn))[failing]).toBe('healthy');
    for (const h of healthy) expect(h).toBeGreaterThanOrEqual(healthyFloor(4, 75));
    expect(await store.getGroupLock('cart-asg')).toBeUndefined();
    expect(await store.listLeases('cart')).toEqual([]);
  });
});
