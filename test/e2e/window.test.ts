import { beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileProgress } from '../../functions/local/progress';
import {
  compile,
  type E2eAccount,
  e2eAccount,
  facts,
  Invariants,
  reconcilerFor,
  type SeededStandaloneFleet,
  seedStandaloneFleet,
  tagByHand,
  watch,
} from './harness';

const STATE = compile(`
version: 1
defaults:
  mode: enforce
fleets:
  reports:
    match: { tags: { App: reports } }
    launchTemplate: { name: reports-lt }
    tags: { Owner: team-data }
    team: data
    budget: { maxConcurrent: 1, minHealthyPercent: 50 }
    window: { timezone: Europe/Berlin, allow: ["Mon-Fri 09:00-17:00"] }
`);

/** Saturday 14 June 2025, noon in Berlin: the window is closed until Monday 09:00 Berlin (07:00 UTC). */
const SATURDAY_NOON = new Date('2025-06-14T10:00:00Z');
const MONDAY_OPENING = '2025-06-16T07:00:00.000Z';

describe('end to end: a drift outside the maintenance window', () => {
  let account: E2eAccount;
  let reports: SeededStandaloneFleet;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['data'], start: SATURDAY_NOON });
    reports = await seedStandaloneFleet(account, {
      name: 'reports',
      count: 2,
      tags: { App: 'reports', Owner: 'team-data' },
    });
  });

  async function driftByHand(instanceId: string) {
    return tagByHand(account, [instanceId], { Owner: 'mallory' }, { by: 'mallory', at: account.clock.now });
  }

  it('waits for the window without touching anything, then proceeds when it opens', async () => {
    const [target = ''] = reports.instanceIds;
    const invariants = new Invariants(account, [watch(reports, { minHealthyPercent: 50, maxConcurrent: 1 })]);
    const statesBeforeOpening: string[] = [];
    const waits: string[] = [];
    let opened = false;
    const phoenix = reconcilerFor(account, STATE, invariants, {
      hooks: {
        // The Wait state is instant: the test's clock jumps to the opening instead.
        waitForWindow: async (opensAt) => {
          waits.push(opensAt.toISOString());
          account.clock.now = opensAt;
          opened = true;
        },
      },
      onProgress: (event: ReconcileProgress) => {
        if (event.type === 'state' && !opened) statesBeforeOpening.push(event.state);
      },
    });

    const detection = await phoenix.handle(await driftByHand(target));
    expect(detection.remediationsStarted).toBe(1);
    const [outcome] = await phoenix.runPending();

    expect(waits).toEqual([MONDAY_OPENING]);
    // Before the window opened, the execution only checked: no plan, no lease, no launch.
    expect(statesBeforeOpening).toEqual(['Recheck']);
    expect(outcome).toMatchObject({ instanceId: target, outcome: 'succeeded', reason: 'replaced' });
    expect((await facts(account.clients, target)).state).toBe('terminated');
    expect(await facts(account.clients, outcome?.replacementId ?? '')).toMatchObject({
      state: 'running',
      tags: expect.objectContaining({ App: 'reports', Owner: 'team-data' }),
    });
    expect(invariants.violations).toEqual([]);

    const notes = await account.inbox('data');
    const started = notes.find((n) => n.body.event === 'remediation.started');
    // Started on Monday morning, not when the drift was seen on Saturday.
    expect(started?.body.timings?.detectedAt).toBe(SATURDAY_NOON.toISOString());
    expect(notes.map((n) => n.body.event)).toEqual([
      'drift.detected',
      'remediation.started',
      'remediation.succeeded',
    ]);
  });

  it('with instant waits and no one to move the clock (phoenix reconcile on the emulator), reports the wait and touches nothing', async () => {
    account.clock.now = SATURDAY_NOON;
    const [, target = ''] = reports.instanceIds;
    const phoenix = reconcilerFor(account, STATE, undefined);

    await phoenix.handle(await driftByHand(target));
    const report = await phoenix.reconcile();

    expect(report.remediations).toEqual([]);
    expect(report.held).toEqual([
      expect.objectContaining({
        instanceId: target,
        why: expect.stringContaining(
          `waiting for the maintenance window of fleet reports (Europe/Berlin), which opens at ${MONDAY_OPENING}`,
        ),
      }),
    ]);
    expect(report).toMatchObject({ converged: false, stoppedBecause: 'nothing-new' });
    expect(report.leftDrifted).toEqual([
      expect.objectContaining({
        instanceId: target,
        why: expect.stringContaining('waiting for the maintenance window'),
      }),
    ]);
    expect(await facts(account.clients, target)).toMatchObject({
      state: 'running',
      tags: expect.objectContaining({ Owner: 'mallory' }),
    });
  });
});
