import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as pause } from '../../functions/cli/commands/pause';
import { run as resume } from '../../functions/cli/commands/resume';
import { memoryIo } from '../../functions/cli/io';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../helpers/emulator';
import {
  compile,
  type E2eAccount,
  e2eAccount,
  facts,
  Invariants,
  members,
  reconcilerFor,
  type SeededAsgFleet,
  seedAsgFleet,
  tagByHand,
  watch,
} from './harness';

const STATE = compile(`
version: 1
defaults:
  mode: enforce
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    tags: { Owner: team-web }
    team: storefront
    budget: { maxConcurrent: 1, minHealthyPercent: 66 }
`);

describe('end to end: the pause switch', () => {
  let account: E2eAccount;
  let web: SeededAsgFleet;

  beforeAll(async () => {
    // The operator's commands build their clients from the SDK's own chain.
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    account = await e2eAccount({ teams: ['storefront'] });
    web = await seedAsgFleet(account, { name: 'web', desired: 3, max: 4, tags: { Owner: 'team-web' } });
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  async function operator(command: typeof pause, by: string) {
    const io = memoryIo();
    const args = [
      '--table',
      account.tableName,
      '--by',
      by,
      '--region',
      TEST_REGION,
      '--endpoint',
      emulatorEndpoint(),
    ];
    expect(await command(args, io)).toBe(0);
  }

  async function driftByHand(instanceId: string, value: string) {
    return tagByHand(account, [instanceId], { Owner: value }, { by: value });
  }

  it('while paused nothing is replaced, whether detected after the pause or already started; after resume it converges', async () => {
    const [first = '', second = '', third = ''] = web.instanceIds;
    const invariants = new Invariants(account, [watch(web, { minHealthyPercent: 66, maxConcurrent: 1 })]);
    const phoenix = reconcilerFor(account, STATE, invariants);

    // Paused first: detection records and tells the team, but starts nothing.
    await operator(pause, 'oncall-alice');
    const held = await phoenix.handle(await driftByHand(first, 'eve'));
    expect(held).toMatchObject({ nonCompliant: 1, remediationsStarted: 0, remediationsHeld: 1 });
    const told = await account.inbox('storefront');
    expect(told.map((n) => n.body.event)).toEqual(['drift.detected']);
    expect(told[0]?.body.message).toMatch(/paused/);

    // Started before the pause: the execution stops at its recheck, touching nothing.
    await operator(resume, 'oncall-alice');
    expect((await phoenix.handle(await driftByHand(second, 'eve'))).remediationsStarted).toBe(1);
    await operator(pause, 'oncall-bob');
    const [skipped] = await phoenix.runPending();
    expect(skipped).toMatchObject({ instanceId: second, outcome: 'skipped', reason: 'paused' });
    expect(skipped?.detail).toMatch(/paused \(by oncall-bob/);
    const skippedNotes = await account.inbox('storefront');
    expect(skippedNotes.map((n) => n.body.event)).toEqual(['drift.detected', 'remediation.skipped']);

    // Reconciling while paused reports both as held by the pause and stops.
    const pausedReport = await phoenix.reconcile();
    expect(pausedReport).toMatchObject({ converged: false, stoppedBecause: 'nothing-new' });
    expect(pausedReport.leftDrifted.map((l) => l.instanceId)).toEqual([first, second].sort());
    for (const left of pausedReport.leftDrifted) expect(left.why).toMatch(/paused/);
    expect(await members(account.clients, 'web-asg')).toEqual([...web.instanceIds].sort());
    for (const id of [first, second, third]) expect((await facts(account.clients, id)).state).toBe('running');

    // Resumed: the next reconcile (a new run, as an operator would start it) replaces both.
    await operator(resume, 'oncall-bob');
    const after = reconcilerFor(account, STATE, invariants);
    const report = await after.reconcile();
    expect(report.converged).toBe(true);
    expect(report.remediations.map((r) => [r.instanceId, r.outcome]).sort()).toEqual(
      [
        [first, 'succeeded'],
        [second, 'succeeded'],
      ].sort(),
    );
    expect((await facts(account.clients, third)).state).toBe('running');
    expect(invariants.violations).toEqual([]);
    // The drift was already reported: the team is not told twice, only of the replacements.
    const notes = (await account.inbox('storefront')).map((n) => n.body.event);
    expect(notes.filter((e) => e === 'drift.detected')).toEqual([]);
    expect(notes.filter((e) => e === 'remediation.succeeded')).toHaveLength(2);
  });
});
