import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';
import { userArn } from '../../emulator/cloudtrail';
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
  seedUnmanagedInstance,
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
    launchTemplate: { name: web-lt }
    tags: { Owner: team-web, Environment: prod }
    team: storefront
    budget: { maxConcurrent: 1, minHealthyPercent: 66 }
    exclude: { tags: { "phoenix:skip": "true" } }
`);

describe('end to end: a tag edited by hand', () => {
  let account: E2eAccount;
  let web: SeededAsgFleet;
  let outsider: string;
  let excluded: string;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['storefront', 'payments'] });
    web = await seedAsgFleet(account, {
      name: 'web',
      desired: 4,
      max: 5,
      tags: { Owner: 'team-web', Environment: 'prod' },
    });
    excluded = web.instanceIds[3] ?? '';
    await account.clients.ec2.send(
      new CreateTagsCommand({ Resources: [excluded], Tags: [{ Key: 'phoenix:skip', Value: 'true' }] }),
    );
    outsider = await seedUnmanagedInstance(account, { Name: 'legacy-bastion', Owner: 'nobody' });
  });

  it('is detected from the CloudTrail event, replaced within the budget, recorded, notified, and not repeated', async () => {
    const [target = '', ...others] = web.instanceIds;
    const invariants = new Invariants(account, [watch(web, { minHealthyPercent: 66, maxConcurrent: 1 })]);
    const phoenix = reconcilerFor(account, STATE, invariants);

    // In sync to begin with: the periodic sweep records every member compliant, the excluded one not applicable.
    await phoenix.sweep();
    expect(complianceById(phoenix.evaluations)).toEqual({
      [target]: { compliance: 'COMPLIANT', annotation: null },
      [others[0] ?? '']: { compliance: 'COMPLIANT', annotation: null },
      [others[1] ?? '']: { compliance: 'COMPLIANT', annotation: null },
      [excluded]: { compliance: 'NOT_APPLICABLE', annotation: expect.stringContaining('phoenix:skip=true') },
    });
    expect(phoenix.started).toEqual([]);

    // Alice changes a tag on one member and, in the same call, on the bastion no fleet declares.
    const detection = await phoenix.handle(
      await tagByHand(account, [target, outsider], { Owner: 'alice' }, { by: 'alice' }),
    );

    // The bastion is judged outside every fleet; only the member is acted on.
    expect(detection).toMatchObject({ judged: 2, notApplicable: 1, nonCompliant: 1, remediationsStarted: 1 });
    expect(phoenix.started.map((s) => s.input)).toEqual([
      expect.objectContaining({
        instanceId: target,
        fleet: 'web',
        trigger: 'CreateTags',
        principal: userArn('alice'),
        reasons: [expect.objectContaining({ kind: 'tag-value', field: 'tags.Owner', actual: 'alice' })],
        launchTemplate: { id: web.template.id, name: 'web-lt', version: 1 },
      }),
    ]);

    // Config's next evaluation records the drift, and starts nothing twice.
    const sweep = await phoenix.sweep();
    expect(sweep).toMatchObject({ remediationsStarted: 0, remediationsAlreadyStarted: 1 });
    expect(complianceById(phoenix.evaluations)[target]).toEqual({
      compliance: 'NON_COMPLIANT',
      annotation: 'tags.Owner: expected team-web, found alice',
    });

    const [outcome] = await phoenix.runPending();
    expect(outcome).toMatchObject({ instanceId: target, outcome: 'succeeded', reason: 'replaced' });
    const replacement = outcome?.replacementId ?? '';

    // The final estate: the member replaced by a fresh one carrying the declared tags, the group whole.
    expect((await facts(account.clients, target)).state).toBe('terminated');
    expect(await facts(account.clients, replacement)).toMatchObject({
      state: 'running',
      imageId: account.images.a,
      tags: expect.objectContaining({ Owner: 'team-web', Environment: 'prod' }),
    });
    expect(await members(account.clients, 'web-asg')).toEqual([...others, replacement].sort());
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(4);
    expect(await targetsOf(account.clients, web.targetGroupArn)).toMatchObject({ [replacement]: 'healthy' });

    // Never outside the fleets: the bastion and the excluded member are as they were.
    expect(await facts(account.clients, outsider)).toMatchObject({
      state: 'running',
      tags: expect.objectContaining({ Owner: 'alice', Name: 'legacy-bastion' }),
    });
    expect((await facts(account.clients, excluded)).state).toBe('running');

    // Safety held after every state.
    expect(invariants.violations).toEqual([]);
    expect(invariants.checks.length).toBeGreaterThan(5);
    expect(invariants.maxLeases.get('web')).toBe(1);

    // The team heard about it, with who did it; the other team heard nothing.
    const storefront = await account.inbox('storefront');
    expect(storefront.map((n) => n.body.event)).toEqual([
      'drift.detected',
      'remediation.started',
      'remediation.succeeded',
    ]);
    expect(storefront[0]?.body).toMatchObject({ instanceId: target, principal: userArn('alice') });
    expect(storefront[2]?.body).toMatchObject({ instanceId: target, replacementId: replacement });
    expect(storefront.every((n) => n.attributes.team === 'storefront')).toBe(true);
    expect(await account.inbox('payments')).toEqual([]);

    // No loop: the next sweep finds every member compliant and starts nothing.
    const report = await phoenix.reconcile();
    expect(report).toMatchObject({ converged: true, stoppedBecause: 'nothing-new', leftDrifted: [] });
    expect(report.rounds).toEqual([expect.objectContaining({ round: 1, drifted: 0, started: 0 })]);
    expect(phoenix.started).toHaveLength(1);
    expect(complianceById(phoenix.evaluations)[replacement]?.compliance).toBe('COMPLIANT');
    expect(await account.inbox('storefront')).toEqual([]);
  });
});
