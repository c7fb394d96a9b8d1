import { beforeAll, describe, expect, it } from 'vitest';
import { modifyLaunchTemplateEvent, userArn } from '../../emulator/cloudtrail';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import {
  compile,
  complianceById,
  describeGroup,
  type E2eAccount,
  e2eAccount,
  facts,
  Invariants,
  members,
  reconcilerFor,
  type SeededAsgFleet,
  seedAsgFleet,
  tagByHand,
  targetsOf,
  watch,
} from './harness';

const STATE = compile(`
version: 1
defaults:
  mode: enforce
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
    budget: { maxConcurrent: 1, minHealthyPercent: 66 }
`);

describe('end to end: an image that never becomes healthy', () => {
  let account: E2eAccount;
  let web: SeededAsgFleet;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['storefront'] });
    web = await seedAsgFleet(account, { name: 'web', desired: 3, max: 4, tags: { Owner: 'team-web' } });
  });

  it('rolls back, quarantines the version for the fleet, and later events for that version start nothing', async () => {
    const invariants = new Invariants(account, [watch(web, { minHealthyPercent: 66, maxConcurrent: 1 })]);
    // The emulator cannot make an instance unhealthy: the runner reports every replacement impaired.
    const phoenix = reconcilerFor(account, STATE, invariants, {
      hooks: { faults: { impaired: 'replacement' } },
    });
    const template = { id: web.template.id, name: 'web-lt' };
    const badVersion = await addLaunchTemplateVersion(account.clients.ec2, {
      id: web.template.id,
      version: {
        imageId: account.images.b,
        instanceType: 't3.micro',
        securityGroupIds: [account.network.securityGroupIds[0]],
      },
    });
    await setDefaultVersion(account.clients.ec2, { id: web.template.id, version: badVersion });

    const detection = await phoenix.handle(
      modifyLaunchTemplateEvent(template, badVersion, { principal: userArn('ci-deployer') }),
    );
    expect(detection).toMatchObject({ nonCompliant: 3, remediationsStarted: 3 });

    const outcomes = await phoenix.runPending();

    // The one replacement the budget lets through (whichever execution's lease came first: all
    // three wait in the fleet's queue) fails its health checks and is rolled back; the version
    // is quarantined, so the fleet's other executions stop when their recheck sees it.
    expect(outcomes.map((o) => [o.outcome, o.reason]).sort()).toEqual([
      ['rolled-back', 'rolled-back'],
      ['skipped', 'quarantined'],
      ['skipped', 'quarantined'],
    ]);
    const failed = outcomes.find((o) => o.outcome === 'rolled-back');
    expect(failed?.error).toBe('ReplacementUnhealthyError');
    expect(failed?.cause).toMatch(/not healthy after 3 checks/);
    expect(failed?.cause).toMatch(/rolled back: .*terminated replacement/);
    const badReplacement = failed?.replacementId ?? '';
    expect(badReplacement).toMatch(/^i-/);

    // The estate is as it was: the same members serving, the failed replacement gone.
    expect(await members(account.clients, 'web-asg')).toEqual([...web.instanceIds].sort());
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(3);
    const targets = await targetsOf(account.clients, web.targetGroupArn);
    expect(web.instanceIds.map((id) => targets[id])).toEqual(['healthy', 'healthy', 'healthy']);
    expect(targets[badReplacement]).toBeUndefined();
    expect((await facts(account.clients, badReplacement)).state).toMatch(/shutting-down|terminated/);
    expect(await account.store.getQuarantine('web', web.template.id, badVersion)).toMatchObject({
      fleet: 'web',
      version: badVersion,
      cause: expect.stringContaining('ReplacementUnhealthyError'),
    });
    expect(await account.store.listLeases('web')).toEqual([]);
    expect(invariants.violations).toEqual([]);

    const notes = await account.inbox('storefront');
    const rolledBack = notes.filter((n) => n.body.event === 'remediation.rolled-back');
    expect(rolledBack).toEqual([
      expect.objectContaining({
        attributes: expect.objectContaining({ severity: 'critical', team: 'storefront' }),
        body: expect.objectContaining({ instanceId: failed?.instanceId, replacementId: badReplacement }),
      }),
    ]);
    expect(notes.filter((n) => n.body.event === 'remediation.succeeded')).toEqual([]);

    // Later events for that version (someone re-saves the default, someone touches a tag)
    // are recorded but start nothing: the team is told the version is blocked instead.
    const again = await phoenix.handle(
      modifyLaunchTemplateEvent(template, badVersion, { principal: userArn('ci-deployer') }),
    );
    const target = web.instanceIds[1] ?? '';
    const tagged = await phoenix.handle(await tagByHand(account, [target], { Team: 'web' }, { by: 'bob' }));
    expect([again.remediationsStarted, tagged.remediationsStarted]).toEqual([0, 0]);
    expect([again.remediationsHeld, tagged.remediationsHeld]).toEqual([3, 1]);
    expect(phoenix.started).toHaveLength(3);
    const blocked = (await account.inbox('storefront')).filter((n) => n.body.event === 'remediation.blocked');
    expect(blocked.length).toBeGreaterThan(0);
    expect(blocked[0]?.body.message).toMatch(/quarantined/);

    // reconcile reports the fleet as still drifted, held by the quarantine — and stops.
    const report = await phoenix.reconcile();
    expect(report).toMatchObject({ converged: false, stoppedBecause: 'nothing-new' });
    expect(report.leftDrifted.map((l) => l.instanceId)).toEqual([...web.instanceIds].sort());
    expect(report.leftDrifted[0]?.why).toMatch(/quarantined/);
    expect(complianceById(phoenix.evaluations)[target]?.compliance).toBe('NON_COMPLIANT');
    expect(phoenix.started).toHaveLength(3);
  });
});
