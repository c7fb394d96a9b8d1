import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { executionName } from '../../functions/evaluate-drift/execution';
import {
  compile,
  type E2eAccount,
  e2eAccount,
  facts,
  Invariants,
  reconcilerFor,
  seedAsgFleet,
  seedStandaloneFleet,
  tagByHand,
  watch,
} from './harness';

const STATE = compile(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    tags: { Owner: team-web }
    team: storefront
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt }
    tags: { Owner: team-api }
    team: payments
`);

/**
 * Step Functions refuses the name of an ended Standard execution for 90 days. Each scenario
 * keeps ONE reconciler, whose StartExecution stand-in refuses every name it has seen, for
 * the whole story: the evaluator core handles the events, the local runner runs the real
 * state machine against the emulated account, and the state table carries the attempts.
 */
describe('end to end: what an ended execution leaves for the next detection of its drift', () => {
  let account: E2eAccount;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['storefront', 'payments'] });
  });

  async function driftByHand(instanceId: string, owner: string) {
    return tagByHand(account, [instanceId], { Owner: owner }, { by: owner });
  }

  it('paused → skipped → resumed: the next detection starts a NEW execution, which replaces the instance', async () => {
    const web = await seedAsgFleet(account, { name: 'web', desired: 2, max: 3, tags: { Owner: 'team-web' } });
    const [drifted = ''] = web.instanceIds;
    const invariants = new Invariants(account, [watch(web, { minHealthyPercent: 50, maxConcurrent: 1 })]);
    const phoenix = reconcilerFor(account, STATE, invariants);
    const event = await driftByHand(drifted, 'mallory');

    // Detected and started; the operator pauses before it runs: it stops at its recheck.
    expect(await phoenix.handle(event)).toMatchObject({ remediationsStarted: 1 });
    const fingerprint = phoenix.started[0]?.input.fingerprint ?? '';
    await account.store.setPaused(true, 'oncall-alice');
    expect(await phoenix.runPending()).toEqual([
      expect.objectContaining({ instanceId: drifted, outcome: 'skipped', reason: 'paused' }),
    ]);
    expect(await account.store.attemptOf(drifted, fingerprint)).toBe(1);

    // While paused, the same drift is held by the evaluator: nothing starts.
    expect(await phoenix.handle(event)).toMatchObject({ remediationsStarted: 0, remediationsHeld: 1 });

    // Resumed: the next detection of the very same drift starts its next attempt…
    await account.store.setPaused(false, 'oncall-alice');
    expect(await phoenix.handle(event)).toMatchObject({
      remediationsStarted: 1,
      remediationsAlreadyStarted: 0,
    });
    // …and a duplicate of that event meets the running attempt's name, as in Step Functions.
    expect(await phoenix.handle(event)).toMatchObject({
      remediationsStarted: 0,
      remediationsAlreadyStarted: 1,
    });
    expect(phoenix.started.map((s) => s.name)).toEqual([
      executionName(drifted, fingerprint, 0),
      executionName(drifted, fingerprint, 1),
    ]);

    const [replaced] = await phoenix.runPending();
    expect(replaced).toMatchObject({ instanceId: drifted, outcome: 'succeeded' });
    expect((await facts(account.clients, drifted)).state).toBe('terminated');
    expect((await facts(account.clients, replaced?.replacementId ?? '')).tags.Owner).toBe('team-web');
    // Replaced: the attempt stays, and a late delivery of the event starts nothing.
    expect(await account.store.attemptOf(drifted, fingerprint)).toBe(1);
    expect(await phoenix.handle(event)).toMatchObject({ remediationsStarted: 0 });
    expect(phoenix.started).toHaveLength(2);
    expect(invariants.violations).toEqual([]);
  });

  it("busy with another run's lease: waits in the fleet's queue, never blocked, and is served the moment that lease runs out", async () => {
    const shop = await seedAsgFleet(account, {
      name: 'shop',
      desired: 2,
      max: 3,
      tags: { Owner: 'team-shop' },
    });
    const [drifted = ''] = shop.instanceIds;
    const state = compile(`
version: 1
defaults: { mode: enforce, budget: { maxConcurrent: 1, minHealthyPercent: 50 } }
fleets:
  shop:
    match: { autoScalingGroup: shop-asg }
    launchTemplate: { name: shop-lt }
    tags: { Owner: team-shop }
    team: storefront
`);
    // Another execution (a deployed Phoenix sharing the table) holds the fleet's only slot for
    // ten minutes, and dies: nobody will release it, its lease runs out.
    const other = await account.store.acquireLease({
      fleet: 'shop',
      holder: 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:other',
      instanceId: 'i-0000000000000000f',
      maxConcurrent: 1,
      minHealthyPercent: 50,
      healthy: 2,
      desired: 2,
      disruption: 0,
      ttlSeconds: 600,
    });
    expect(other.granted).toBe(true);
    await driftByHand(drifted, 'mallory');
    const invariants = new Invariants(account, [watch(shop, { minHealthyPercent: 50, maxConcurrent: 1 })]);
    const phoenix = reconcilerFor(account, state, invariants);
    // Time passes while it waits in the queue: the dead holder's lease runs out.
    const waited = (async () => {
      expect(await parkedIn(account, 'shop')).toEqual([drifted]);
      account.clock.now = new Date(account.clock.now.getTime() + 601_000);
    })();

    const report = await phoenix.reconcile();
    await waited;

    const fingerprint = phoenix.started[0]?.input.fingerprint ?? '';
    expect(report.remediations.map((r) => [r.round, r.outcome, r.execution])).toEqual([
      [1, 'succeeded', executionName(drifted, fingerprint, 0)],
    ]);
    expect(report).toMatchObject({ converged: true, stoppedBecause: 'nothing-new', leftDrifted: [] });
    expect((await facts(account.clients, drifted)).state).toBe('terminated');
    expect(await parkedIn(account, 'shop', 0)).toEqual([]);
    expect(invariants.violations).toEqual([]);
  });

  // Two runs at once (issue 11): an instance one run waits for, the other may replace first.
  // The other claims the instance before it replaces it, as every execution does with its
  // lease, so whatever its granter sees at the waiter's turn stops it: the recheck (the instance
  // claimed, replaced or gone), or, had that recheck run a moment before the claim, the lease's
  // own transaction (the instance claimed). Either way it ends skipped, nothing launched.
  it('waiting behind another run that replaces the instance meanwhile: rechecked when its turn comes, skipped, converged', async () => {
    const ops = await seedStandaloneFleet(account, {
      name: 'ops',
      count: 2,
      tags: { App: 'ops', Owner: 'team-ops' },
    });
    const [drifted = ''] = ops.instanceIds;
    const state = compile(`
version: 1
defaults: { mode: enforce, budget: { maxConcurrent: 1, minHealthyPercent: 50 } }
fleets:
  ops:
    match: { tags: { App: ops } }
    launchTemplate: { name: ops-lt }
    tags: { Owner: team-ops }
    team: payments
`);
    // The other run holds the fleet's only slot while it replaces this very instance.
    const otherHolder =
      'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance/local-other:x';
    const lease = {
      holder: otherHolder,
      maxConcurrent: 1,
      minHealthyPercent: 50,
      healthy: 2,
      desired: 2,
      disruption: 0,
      ttlSeconds: 600,
    };
    const other = await account.store.acquireLease({
      ...lease,
      fleet: 'ops',
      instanceId: 'i-0000000000000000e',
    });
    expect(other.granted).toBe(true);
    await driftByHand(drifted, 'mallory');
    const phoenix = reconcilerFor(account, state, undefined, { maxRounds: 1 });
    // Meanwhile the other run claims the instance, replaces it, and gives the slot back.
    const otherRun = (async () => {
      try {
        expect(await parkedIn(account, 'ops')).toEqual([drifted]);
        const claim = await account.store.acquireLease({
          ...lease,
          fleet: 'ops-elsewhere',
          instanceId: drifted,
        });
        expect(claim.granted).toBe(true);
        await account.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [drifted] }));
        await account.store.settleInstanceClaim(drifted, otherHolder, 'i-0000000000000000d');
      } finally {
        await account.store.releaseLease('ops-elsewhere', otherHolder);
        await account.store.releaseLease('ops', otherHolder);
      }
    })();

    const report = await phoenix.reconcile();
    await otherRun;

    expect(report.remediations).toHaveLength(1);
    expect(report.remediations[0]).toMatchObject({ instanceId: drifted, outcome: 'skipped' });
    // Which depends on the moment its granter looked: replacing, replaced, or gone.
    expect(['in-flight-elsewhere', 'already-replaced', 'instance-gone']).toContain(
      report.remediations[0]?.reason,
    );
    expect(report).toMatchObject({ converged: true, stoppedBecause: 'nothing-new', leftDrifted: [] });
    // Nothing launched for it: the fleet's instances are the two it had.
    const members = await account.clients.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:App', Values: ['ops'] }] }),
    );
    const ids = (members.Reservations ?? []).flatMap((r) =>
      (r.Instances ?? []).map((i) => i.InstanceId ?? ''),
    );
    expect(ids.sort()).toEqual([...ops.instanceIds].sort());
  });

  it('rolled back: the next detection starts nothing, even once the quarantine is lifted', async () => {
    const api = await seedStandaloneFleet(account, {
      name: 'api',
      count: 2,
      tags: { App: 'api', Owner: 'team-api' },
    });
    const [drifted = ''] = api.instanceIds;
    // Every replacement this reconciler launches fails its status checks.
    const phoenix = reconcilerFor(account, STATE, undefined, {
      hooks: { faults: { impaired: 'replacement' } },
    });
    const event = await driftByHand(drifted, 'mallory');

    expect(await phoenix.handle(event)).toMatchObject({ remediationsStarted: 1 });
    const fingerprint = phoenix.started[0]?.input.fingerprint ?? '';
    expect(await phoenix.runPending()).toEqual([
      expect.objectContaining({ instanceId: drifted, outcome: 'rolled-back' }),
    ]);
    expect(await account.store.attemptOf(drifted, fingerprint)).toBe(0);

    // Quarantined: the evaluator holds the drift.
    expect(await phoenix.handle(event)).toMatchObject({ remediationsStarted: 0, remediationsHeld: 1 });

    // Lifted by an operator: the evaluator asks again, and the ended execution's name refuses it.
    expect(await account.store.liftQuarantine('api', api.template.id, 1)).toBe(true);
    expect(await phoenix.handle(event)).toMatchObject({
      remediationsStarted: 0,
      remediationsAlreadyStarted: 1,
    });
    expect(phoenix.started.map((s) => s.name)).toEqual([executionName(drifted, fingerprint, 0)]);
    expect(await phoenix.runPending()).toEqual([]);
    expect((await facts(account.clients, drifted)).state).toBe('running');
  });
});

/** The instances waiting in `fleet`'s queue, once at least `atLeast` are (or after a minute). */
async function parkedIn(account: E2eAccount, fleet: string, atLeast = 1): Promise<string[]> {
  for (let i = 0; ; i += 1) {
    const zones = await account.store.queueZones(fleet);
    const waiting = (await Promise.all(zones.map((zone) => account.store.listWaiters(fleet, zone))))
      .flat()
      .filter((w) => w.granted === undefined && w.failed === undefined)
      .map((w) => w.instanceId);
    if (waiting.length >= atLeast || i >= 3000) return waiting;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
