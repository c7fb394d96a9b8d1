import { beforeAll, describe, expect, it } from 'vitest';
import { instanceStateChangeEvent, userArn } from '../../emulator/cloudtrail';
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
    budget: { maxConcurrent: 1, minHealthyPercent: 50 }
`);

describe('end to end: duplicate and out-of-order events', () => {
  let account: E2eAccount;
  let web: SeededAsgFleet;

  beforeAll(async () => {
    account = await e2eAccount({ teams: ['storefront'] });
    web = await seedAsgFleet(account, { name: 'web', desired: 2, max: 3, tags: { Owner: 'team-web' } });
  });

  it('judges the instance as it is now whatever the delivery order: one execution, the right final state', async () => {
    const [target = '', other = ''] = web.instanceIds;
    const invariants = new Invariants(account, [watch(web, { minHealthyPercent: 50, maxConcurrent: 1 })]);
    const phoenix = reconcilerFor(account, STATE, invariants);

    // Bob edits a tag at 10:00, Carol edits it again at 10:05: the instance now says carol.
    const older = await tagByHand(
      account,
      [target],
      { Owner: 'bob' },
      { by: 'bob', at: new Date('2025-06-16T10:00:00Z') },
    );
    const newer = await tagByHand(
      account,
      [target],
      { Owner: 'carol' },
      { by: 'carol', at: new Date('2025-06-16T10:05:00Z') },
    );

    // EventBridge delivers the newer first, then the older, then the newer again.
    const summaries = [];
    for (const event of [newer, older, newer]) summaries.push(await phoenix.handle(event));

    expect(summaries.map((s) => [s.remediationsStarted, s.remediationsAlreadyStarted])).toEqual([
      [1, 0],
      [0, 1],
      [0, 1],
    ]);
    expect(phoenix.started).toHaveLength(1);
    // What was judged is the instance as it is, not what the older event said.
    expect(phoenix.started[0]?.input).toMatchObject({
      instanceId: target,
      principal: userArn('carol'),
      reasons: [expect.objectContaining({ field: 'tags.Owner', expected: 'team-web', actual: 'carol' })],
    });

    const [outcome] = await phoenix.runPending();
    expect(outcome).toMatchObject({ outcome: 'succeeded' });
    const replacement = outcome?.replacementId ?? '';

    // Late deliveries after the replacement: the old instance is gone, the new one is in sync.
    const late = await phoenix.handle(older);
    const running = await phoenix.handle(instanceStateChangeEvent(replacement, 'running'));
    expect(late).toMatchObject({ remediationsStarted: 0, nonCompliant: 0 });
    expect(running).toMatchObject({ judged: 1, compliant: 1, remediationsStarted: 0 });
    expect(phoenix.started).toHaveLength(1);

    expect((await facts(account.clients, target)).state).toBe('terminated');
    expect((await facts(account.clients, replacement)).tags).toMatchObject({ Owner: 'team-web' });
    expect(await members(account.clients, 'web-asg')).toEqual([other, replacement].sort());
    expect(invariants.violations).toEqual([]);

    // One drift, one notification of it; one replacement, one of each outcome.
    const notes = await account.inbox('storefront');
    expect(notes.map((n) => n.body.event)).toEqual([
      'drift.detected',
      'remediation.started',
      'remediation.succeeded',
    ]);

    const report = await phoenix.reconcile();
    expect(report).toMatchObject({ converged: true, leftDrifted: [] });
    expect(phoenix.started).toHaveLength(1);
  });
});
