/**
 * Progressive rollouts end to end (issue 15): the real definition through the local runner,
 * the fleet's CloudWatch alarm emulated (PutMetricAlarm, then SetAlarmState), the safety
 * invariants checked after every state. Each scenario has its own account.
 */
import { describe, expect, it } from 'vitest';
import { modifyLaunchTemplateEvent, userArn } from '../../emulator/cloudtrail';
import { addLaunchTemplateVersion, seedAlarm, setDefaultVersion } from '../../emulator/seed';
import { RolloutStore } from '../../functions/aws/rollout-store';
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
  watch,
} from './harness';

function stateWith(name: string, rollout: string, alarm: string): ReturnType<typeof compile> {
  return compile(`
version: 1
defaults:
  mode: enforce
fleets:
  ${name}:
    match: { autoScalingGroup: ${name}-asg }
    launchTemplate: { name: ${name}-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
    budget: { maxConcurrent: 1, minHealthyPercent: 66 }
    rollout: { canary: 1, bakeMinutes: 30, alarms: [${alarm}], maxFailures: 0${rollout} }
`);
}

async function setAlarm(account: E2eAccount, name: string, state: 'OK' | 'ALARM'): Promise<void> {
  await seedAlarm(account.clients.cloudwatch, name, state, `set to ${state} by the test`);
}

/** A fleet of 3 and a new default version of its template, on image b. */
async function newSource(account: E2eAccount, name: string) {
  const web = await seedAsgFleet(account, { name, desired: 3, max: 4, tags: { Owner: 'team-web' } });
  const version = await addLaunchTemplateVersion(account.clients.ec2, {
    id: web.template.id,
    version: {
      imageId: account.images.b,
      instanceType: 't3.micro',
      securityGroupIds: [account.network.securityGroupIds[0]],
    },
  });
  await setDefaultVersion(account.clients.ec2, { id: web.template.id, version });
  return {
    web,
    version,
    event: modifyLaunchTemplateEvent({ id: web.template.id, name: `${name}-lt` }, version, {
      principal: userArn('ci'),
    }),
  };
}

function invariantsOf(account: E2eAccount, web: SeededAsgFleet): Invariants {
  return new Invariants(account, [watch(web, { minHealthyPercent: 66, maxConcurrent: 1 })]);
}

async function imagesOf(account: E2eAccount, name: string): Promise<string[]> {
  const ids = await members(account.clients, `${name}-asg`);
  return Promise.all(ids.map(async (id) => (await facts(account.clients, id)).imageId ?? ''));
}

describe('end to end: progressive rollouts', () => {
  it('(a) an alarm in ALARM before a rollout holds it: nothing replaced, no rollout begun', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    await setAlarm(account, 'web-5xx-a', 'ALARM');
    const { web, version, event } = await newSource(account, 'weba');
    const invariants = invariantsOf(account, web);
    const phoenix = reconcilerFor(account, stateWith('weba', '', 'web-5xx-a'), invariants);

    // Detection holds every instance of the fleet while the alarm fires: nothing starts.
    expect(await phoenix.handle(event)).toMatchObject({ remediationsStarted: 0, remediationsHeld: 3 });
    const report = await phoenix.reconcile();
    expect(report.converged).toBe(false);
    expect(report.leftDrifted).toHaveLength(3);
    expect(report.leftDrifted[0]?.why).toMatch(/web-5xx-a .*in ALARM/);
    expect(await members(account.clients, 'weba-asg')).toEqual([...web.instanceIds].sort());
    const rollouts = new RolloutStore(account.clients.dynamodb, account.tableName);
    expect(await rollouts.get('weba', { templateId: web.template.id, version })).toBeUndefined();
    expect(await account.store.listLeases('weba')).toEqual([]);
    expect(invariants.violations).toEqual([]);
  });

  it('(b) an alarm firing during the bake halts the rollout after the canary, quarantines the version, leaves the others untouched', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    await setAlarm(account, 'web-5xx-b', 'OK');
    const { web, version, event } = await newSource(account, 'webb');
    const invariants = invariantsOf(account, web);
    const phoenix = reconcilerFor(account, stateWith('webb', '', 'web-5xx-b'), invariants);

    await phoenix.handle(event);
    const first = await phoenix.runPending();
    // The canary (one member) replaced, alone: the others are put back for a later round
    // (reconcile runs a canary alone, functions/local/canary-cap.ts), not run to spin and end held.
    expect(first.map((o) => o.outcome)).toEqual(['succeeded']);
    const rollouts = new RolloutStore(account.clients.dynamodb, account.tableName);
    const source = { templateId: web.template.id, version };
    expect(await rollouts.get('webb', source)).toMatchObject({ stage: 'baking', replaced: 1, members: 3 });
    const before = await members(account.clients, 'webb-asg');

    await setAlarm(account, 'web-5xx-b', 'ALARM');
    account.clock.now = new Date(account.clock.now.getTime() + 5 * 60_000);
    await phoenix.reconcile();

    const halted = await rollouts.get('webb', source);
    expect(halted).toMatchObject({ stage: 'halted', replaced: 1 });
    expect(halted?.halt?.cause).toEqual({ kind: 'alarm', alarms: ['web-5xx-b'] });
    expect(await account.store.getQuarantine('webb', web.template.id, version)).toBeDefined();
    // The other two members were not touched: the same instances as after the canary.
    expect(await members(account.clients, 'webb-asg')).toEqual(before);
    expect((await imagesOf(account, 'webb')).filter((i) => i === account.images.b)).toHaveLength(1);
    const notes = await account.inbox('storefront');
    const haltNotes = notes.filter((n) => n.body.event === 'rollout.halted');
    expect(haltNotes).toHaveLength(1);
    expect(haltNotes[0]?.attributes).toMatchObject({ team: 'storefront', severity: 'critical' });
    expect(haltNotes[0]?.body.message).toMatch(/web-5xx-b/);
    expect(notes.filter((n) => n.body.event === 'rollout.started')).toHaveLength(1);
    // One conversation per rollout: no per-instance start or success for members.
    expect(notes.filter((n) => n.body.event === 'remediation.succeeded')).toEqual([]);
    expect(notes.filter((n) => n.body.event === 'remediation.started')).toEqual([]);
    expect(invariants.violations).toEqual([]);
  });

  it('(d) approval stops after the bake until `phoenix rollout approve`; a later reconcile goes on and completes it', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    await setAlarm(account, 'web-5xx-d', 'OK');
    const { web, version, event } = await newSource(account, 'webd');
    const invariants = invariantsOf(account, web);
    const phoenix = reconcilerFor(account, stateWith('webd', ', approval: manual', 'web-5xx-d'), invariants);
    const rollouts = new RolloutStore(account.clients.dynamodb, account.tableName, () => account.clock.now);
    const source = { templateId: web.template.id, version };

    await phoenix.handle(event);
    await phoenix.runPending();
    expect(await rollouts.get('webd', source)).toMatchObject({ stage: 'baking', replaced: 1 });

    account.clock.now = new Date(account.clock.now.getTime() + 31 * 60_000);
    const waiting = await phoenix.reconcile();
    expect(waiting.converged).toBe(false);
    expect(await rollouts.get('webd', source)).toMatchObject({ stage: 'awaiting-approval', replaced: 1 });
    expect((await imagesOf(account, 'webd')).filter((i) => i === account.images.b)).toHaveLength(1);

    await rollouts.approve('webd', 'alice');
    const done = await phoenix.reconcile();
    expect(done.converged).toBe(true);
    expect(await rollouts.get('webd', source)).toMatchObject({
      stage: 'completed',
      replaced: 3,
      approvedBy: 'alice',
    });
    expect(await imagesOf(account, 'webd')).toEqual([account.images.b, account.images.b, account.images.b]);
    const notes = await account.inbox('storefront');
    expect(notes.filter((n) => n.body.event === 'rollout.completed')).toHaveLength(1);
    expect(notes.filter((n) => n.body.event === 'remediation.succeeded')).toEqual([]);
    expect(invariants.violations).toEqual([]);
  });

  it('(c) more rollbacks than maxFailures halt the rollout: the version quarantined, rollout.halted with the failures', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    await setAlarm(account, 'web-5xx-c', 'OK');
    const { web, version, event } = await newSource(account, 'webc');
    const invariants = invariantsOf(account, web);
    // The emulator cannot make an instance unhealthy: the runner reports every replacement impaired.
    const phoenix = reconcilerFor(account, stateWith('webc', '', 'web-5xx-c'), invariants, {
      hooks: { faults: { impaired: 'replacement' } },
    });
    const rollouts = new RolloutStore(account.clients.dynamodb, account.tableName);
    const source = { templateId: web.template.id, version };

    await phoenix.handle(event);
    const outcomes = await phoenix.runPending();
    expect(outcomes.filter((o) => o.outcome === 'rolled-back')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'succeeded')).toEqual([]);
    const halted = await rollouts.get('webc', source);
    expect(halted).toMatchObject({ stage: 'halted', rolledBack: 1, replaced: 0 });
    expect(halted?.halt?.cause).toEqual({ kind: 'failures', failures: 1, maxFailures: 0 });
    expect(await account.store.getQuarantine('webc', web.template.id, version)).toBeDefined();
    expect(await members(account.clients, 'webc-asg')).toEqual([...web.instanceIds].sort());
    const notes = await account.inbox('storefront');
    expect(notes.filter((n) => n.body.event === 'rollout.halted')).toHaveLength(1);
    // The rollback itself is still told, per instance.
    expect(notes.filter((n) => n.body.event === 'remediation.rolled-back')).toHaveLength(1);
    expect(invariants.violations).toEqual([]);
  });

  it('(f) an operator halts mid-rollout (nothing more starts) and resumes it (the bake starts over, then it completes)', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    await setAlarm(account, 'web-5xx-f', 'OK');
    const { web, version, event } = await newSource(account, 'webf');
    const invariants = invariantsOf(account, web);
    const phoenix = reconcilerFor(account, stateWith('webf', '', 'web-5xx-f'), invariants);
    const rollouts = new RolloutStore(account.clients.dynamodb, account.tableName, () => account.clock.now);
    const source = { templateId: web.template.id, version };

    await phoenix.handle(event);
    await phoenix.runPending();
    expect(await rollouts.get('webf', source)).toMatchObject({ stage: 'baking', replaced: 1 });

    await rollouts.halt('webf', 'oncall-bob', 'checking the logs');
    account.clock.now = new Date(account.clock.now.getTime() + 31 * 60_000);
    const held = await phoenix.reconcile();
    expect(held.converged).toBe(false);
    expect(await rollouts.get('webf', source)).toMatchObject({ stage: 'halted', replaced: 1 });
    expect((await imagesOf(account, 'webf')).filter((i) => i === account.images.b)).toHaveLength(1);

    const resumed = await rollouts.resume('webf');
    expect(resumed.stage).toBe('baking');
    expect(Date.parse(resumed.bakeUntil ?? '')).toBe(account.clock.now.getTime() + 30 * 60_000);
    expect(await account.store.getQuarantine('webf', web.template.id, version)).toBeUndefined();
    // Still baking: reconcile waits for the bake (on the test's clock), saying so, then rolls.
    const lines: string[] = [];
    const waiter = reconcilerFor(account, stateWith('webf', '', 'web-5xx-f'), invariants, {
      onProgress: (e) => {
        if (e.type === 'rollout') lines.push(e.line);
      },
    });
    const done = await waiter.reconcile();
    expect(lines).toEqual([`fleet webf: baking the canary until ${resumed.bakeUntil}, alarms OK`]);
    expect(done.converged).toBe(true);
    expect(await rollouts.get('webf', source)).toMatchObject({ stage: 'completed', replaced: 3 });
    expect(invariants.violations).toEqual([]);
  });

  it('(e) after: holds web until staging runs the image, converged and baked; then web rolls', async () => {
    const account = await e2eAccount({ teams: ['storefront'] });
    const staging = await newSource(account, 'stge');
    const web = await newSource(account, 'webe');
    const invariants = new Invariants(account, [
      watch(staging.web, { minHealthyPercent: 66, maxConcurrent: 1 }),
      watch(web.web, { minHealthyPercent: 66, maxConcurrent: 1 }),
    ]);
    const state = compile(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 66 }
fleets:
  stge:
    match: { autoScalingGroup: stge-asg }
    launchTemplate: { name: stge-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
    rollout: { canary: 1, bakeMinutes: 10 }
  webe:
    match: { autoScalingGroup: webe-asg }
    launchTemplate: { name: webe-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
    rollout: { after: stge }
`);
    const phoenix = reconcilerFor(account, state, invariants);
    const rollouts = new RolloutStore(account.clients.dynamodb, account.tableName);

    // web's members are held at detection while staging does not run the image yet.
    const detected = await phoenix.handle(web.event);
    expect(detected).toMatchObject({ remediationsStarted: 0, remediationsHeld: 3 });
    expect((await imagesOf(account, 'webe')).filter((i) => i === account.images.b)).toEqual([]);

    const report = await phoenix.reconcile();
    expect(report.converged).toBe(true);
    expect(
      await rollouts.get('stge', { templateId: staging.web.template.id, version: staging.version }),
    ).toMatchObject({
      stage: 'completed',
      replaced: 3,
    });
    expect(
      await rollouts.get('webe', { templateId: web.web.template.id, version: web.version }),
    ).toMatchObject({
      stage: 'completed',
      replaced: 3,
    });
    // web began only once staging had completed (baked) its rollout of the image.
    const stagingDone = await rollouts.get('stge', {
      templateId: staging.web.template.id,
      version: staging.version,
    });
    const webBegan = await rollouts.get('webe', { templateId: web.web.template.id, version: web.version });
    expect((webBegan?.startedAt ?? '') >= (stagingDone?.stageChangedAt ?? 'z')).toBe(true);
    expect(await imagesOf(account, 'webe')).toEqual([account.images.b, account.images.b, account.images.b]);
    expect(invariants.violations).toEqual([]);
  });
});
