import { beforeAll, describe, expect, it } from 'vitest';
import {
  compile,
  complianceById,
  type E2eAccount,
  e2eAccount,
  facts,
  Invariants,
  members,
  reconcilerFor,
  type SeededAsgFleet,
  type SeededStandaloneFleet,
  seedAsgFleet,
  seedStandaloneFleet,
  watch,
} from './harness';

/** The desired state as merged, then the pull request that declares a CostCenter tag on both fleets. */
const declared = (reportsTags: string, webTags: string) => `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  reports:
    match: { tags: { App: reports } }
    launchTemplate: { name: reports-lt }
    tags: ${reportsTags}
    team: data
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt }
    tags: ${webTags}
    team: storefront
`;
const BEFORE = compile(declared('{ Owner: team-data }', '{ Owner: team-web }'), 'c0ffee1');
const AFTER = compile(
  declared('{ Owner: team-data, CostCenter: cc-42 }', '{ Owner: team-web, CostCenter: cc-7 }'),
  'c0ffee2',
);

describe('end to end: a desired-state change in Git makes a healthy fleet drifted', () => {
  let account: E2eAccount;
  let reports: SeededStandaloneFleet;
  let web: SeededAsgFleet;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['data', 'storefront'] });
    reports = await seedStandaloneFleet(account, {
      name: 'reports',
      count: 2,
      tags: { App: 'reports', Owner: 'team-data' },
    });
    web = await seedAsgFleet(account, { name: 'web', desired: 2, max: 3, tags: { Owner: 'team-web' } });
  });

  it('the deploy of the new revision replaces what Phoenix can launch right, and reports source drift for what it cannot', async () => {
    expect(AFTER.revision).not.toBe(BEFORE.revision);

    // Under the merged revision the estate is in sync: reconcile has nothing to do.
    const before = await reconcilerFor(account, BEFORE, undefined).reconcile();
    expect(before).toMatchObject({ converged: true, remediations: [], leftDrifted: [] });

    // The new revision is deployed; its baseline sweep judges every instance against it.
    const invariants = new Invariants(account, [
      watch(reports, { minHealthyPercent: 50, maxConcurrent: 1 }),
      watch(web, { minHealthyPercent: 50, maxConcurrent: 1 }),
    ]);
    const phoenix = reconcilerFor(account, AFTER, invariants);
    const report = await phoenix.reconcile();

    // The standalone fleet: Phoenix launches its instances with the declared tags, so it converges.
    const replaced = report.remediations.filter((r) => r.fleet === 'reports');
    expect(replaced.map((r) => [r.outcome, r.reasons.map((x) => x.field)])).toEqual([
      ['succeeded', ['tags.CostCenter']],
      ['succeeded', ['tags.CostCenter']],
    ]);
    for (const r of replaced) {
      expect((await facts(account.clients, r.instanceId)).state).toBe('terminated');
      expect((await facts(account.clients, r.replacementId ?? '')).tags).toMatchObject({
        App: 'reports',
        Owner: 'team-data',
        CostCenter: 'cc-42',
      });
    }

    // The Auto Scaling fleet: its group does not propagate the new tag, so a replacement would
    // be drifted too. Phoenix does not replace in a loop: it asks for the source to be fixed.
    expect(report.remediations.filter((r) => r.fleet === 'web')).toEqual([]);
    expect(await members(account.clients, 'web-asg')).toEqual([...web.instanceIds].sort());
    expect(report.leftDrifted.map((l) => l.instanceId)).toEqual([...web.instanceIds].sort());
    expect(report.leftDrifted[0]?.why).toMatch(/source drift/);
    const compliance = complianceById(phoenix.evaluations);
    expect(compliance[web.instanceIds[0] ?? '']).toEqual({
      compliance: 'NON_COMPLIANT',
      annotation: 'tags.CostCenter: expected cc-7, found (none)',
    });
    for (const r of replaced) expect(compliance[r.replacementId ?? '']?.compliance).toBe('COMPLIANT');
    expect(report).toMatchObject({ converged: false, stoppedBecause: 'nothing-new' });
    expect(report.rounds.at(-1)).toMatchObject({ started: 0 });
    expect(invariants.violations).toEqual([]);

    // Each team hears about its own fleet, under the new revision.
    const data = await account.inbox('data');
    expect(data.filter((n) => n.body.event === 'remediation.succeeded')).toHaveLength(2);
    expect(data.every((n) => n.body.desiredState.revision === AFTER.revision)).toBe(true);
    const storefront = await account.inbox('storefront');
    const manual = storefront.filter((n) => n.body.event === 'manual-action-required');
    expect(manual).toHaveLength(1);
    expect(manual[0]?.body.reasons).toEqual([
      expect.objectContaining({ field: 'tags.CostCenter', expected: 'cc-7', actual: null }),
    ]);
    expect(storefront.filter((n) => n.body.event.startsWith('remediation.'))).toEqual([]);

    // Deploying the same revision again changes nothing and tells nobody anything new.
    const again = await reconcilerFor(account, AFTER, invariants).reconcile();
    expect(again.remediations).toEqual([]);
    expect(await account.inbox('data')).toEqual([]);
    expect(await account.inbox('storefront')).toEqual([]);
  });
});
