import { beforeAll, describe, expect, it } from 'vitest';
import {
  createLaunchTemplateVersionEvent,
  modifyLaunchTemplateEvent,
  userArn,
} from '../../emulator/cloudtrail';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import type { CompiledDesiredState } from '../../functions/domain/model';
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
  seedAsgFleet,
  seedStandaloneFleet,
  targetsOf,
} from './harness';

const STATE = compile(`
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 75 }
fleets:
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
    team: payments
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
`);

interface Fleet {
  name: string;
  template: { id: string; name: string };
  targetGroupArn: string;
  instanceIds: string[];
  /**
   * Who drains the old instances from the target group: Phoenix (standalone), or their Auto
   * Scaling group, which deregisters an instance before terminating it on AWS (moto does
   * not emulate that, so it is not asserted).
   */
  drainedBy: 'phoenix' | 'group';
  /**
   * Whether the two replacements are sure to overlap. Standalone leases are taken apiece. In
   * an Auto Scaling group the second joins the first's wave only if its lease lands before
   * the wave's raise; after it, it waits in the queue until the wave has handed its old
   * instance back (docs/adr/0034-waves.md), which a loaded machine makes happen.
   */
  overlap: 'always' | 'when-both-join-one-wave';
}

/**
 * A new version of the fleet's template, made the default: every member is replaced from
 * it, at most two at a time, and the fleet stays above its floor throughout.
 */
async function fanOut(account: E2eAccount, state: CompiledDesiredState, fleet: Fleet, team: string) {
  const invariants = new Invariants(account, [
    {
      fleet: fleet.name,
      targetGroupArn: fleet.targetGroupArn,
      size: 4,
      minHealthyPercent: 75,
      maxConcurrent: 2,
    },
  ]);
  const phoenix = reconcilerFor(account, state, invariants);
  const deployer = { principal: userArn('ci-deployer') };

  // A new version alone changes nothing: the fleet follows $Default.
  const version = await addLaunchTemplateVersion(account.clients.ec2, {
    id: fleet.template.id,
    version: {
      imageId: account.images.b,
      instanceType: 't3.micro',
      securityGroupIds: [account.network.securityGroupIds[0]],
    },
  });
  const created = await phoenix.handle(createLaunchTemplateVersionEvent(fleet.template, version, deployer));
  expect(created).toMatchObject({ judged: 4, compliant: 4, remediationsStarted: 0 });

  // Making it the default fans out to every member, each pinned to the version judged.
  await setDefaultVersion(account.clients.ec2, { id: fleet.template.id, version });
  const modified = await phoenix.handle(modifyLaunchTemplateEvent(fleet.template, version, deployer));
  expect(modified).toMatchObject({ judged: 4, nonCompliant: 4, remediationsStarted: 4 });
  expect(phoenix.started.map((s) => s.input.launchTemplate.version)).toEqual([2, 2, 2, 2]);

  const outcomes = await phoenix.runPending();

  expect(outcomes.map((o) => o.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  const replacements = outcomes.map((o) => o.replacementId ?? '');
  expect(new Set(replacements).size).toBe(4);
  for (const id of replacements) {
    expect(await facts(account.clients, id)).toMatchObject({
      state: 'running',
      imageId: account.images.b,
      launchTemplate: { id: fleet.template.id, version: '2' },
    });
  }
  for (const old of fleet.instanceIds) expect((await facts(account.clients, old)).state).toBe('terminated');
  const targets = await targetsOf(account.clients, fleet.targetGroupArn);
  expect(replacements.map((id) => targets[id])).toEqual(['healthy', 'healthy', 'healthy', 'healthy']);
  if (fleet.drainedBy === 'phoenix')
    for (const old of fleet.instanceIds) expect(targets[old]).toBeUndefined();

  // The budget: two in flight at most, never more than two leases, capacity never under the floor.
  expect(invariants.violations).toEqual([]);
  if (fleet.overlap === 'always') {
    expect(invariants.maxLeases.get(fleet.name)).toBe(2);
  } else {
    expect(invariants.maxLeases.get(fleet.name)).toBeGreaterThanOrEqual(1);
    expect(invariants.maxLeases.get(fleet.name)).toBeLessThanOrEqual(2);
  }

  const notes = await account.inbox(team);
  const count = (event: string) => notes.filter((n) => n.body.event === event).length;
  expect([count('drift.detected'), count('remediation.started'), count('remediation.succeeded')]).toEqual([
    4, 4, 4,
  ]);
  expect(notes.find((n) => n.body.event === 'drift.detected')?.body.principal).toBe(userArn('ci-deployer'));

  // No loop: the fleet is compliant, and a sweep starts nothing.
  const report = await phoenix.reconcile();
  expect(report).toMatchObject({ converged: true, stoppedBecause: 'nothing-new' });
  expect(phoenix.started).toHaveLength(4);
  const compliance = complianceById(phoenix.evaluations);
  expect(replacements.map((id) => compliance[id]?.compliance)).toEqual(replacements.map(() => 'COMPLIANT'));
  return replacements;
}

describe('end to end: a new launch template version fanned out to a whole fleet (maxConcurrent 2)', () => {
  let account: E2eAccount;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['payments', 'storefront'] });
  });

  it('standalone fleet: every instance replaced from the new version, two at a time, in the same target group', async () => {
    const api = await seedStandaloneFleet(account, {
      name: 'api',
      count: 4,
      tags: { App: 'api', Owner: 'team-api' },
    });

    const replacements = await fanOut(
      account,
      STATE,
      {
        name: 'api',
        template: { id: api.template.id, name: 'api-lt' },
        targetGroupArn: api.targetGroupArn,
        instanceIds: api.instanceIds,
        drainedBy: 'phoenix',
        overlap: 'always',
      },
      'payments',
    );

    for (const id of replacements) {
      expect((await facts(account.clients, id)).tags).toMatchObject({ App: 'api', Owner: 'team-api' });
    }
  });

  // Two executions in one Auto Scaling group: the first lease founds a wave, the second joins
  // it if it comes before the raise, and the wave raises the group's desired capacity once for
  // both (docs/adr/0034-waves.md). Without the group lock both raised to the same number, the
  // group launched one instance for two, and the second rolled back and quarantined the version
  // for the whole fleet.
  it('Auto Scaling fleet: every member replaced from the new version, two at a time, group back at its desired capacity', async () => {
    const web = await seedAsgFleet(account, { name: 'web', desired: 4, max: 6, tags: { Owner: 'team-web' } });

    const replacements = await fanOut(
      account,
      STATE,
      {
        name: 'web',
        template: { id: web.template.id, name: 'web-lt' },
        targetGroupArn: web.targetGroupArn,
        instanceIds: web.instanceIds,
        drainedBy: 'group',
        overlap: 'when-both-join-one-wave',
      },
      'storefront',
    );

    expect(await members(account.clients, 'web-asg')).toEqual([...replacements].sort());
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(4);
  });
});
