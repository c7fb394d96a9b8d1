import { describe, expect, it } from 'vitest';
import { buildPlan, exitCodeOf, renderText } from '../../functions/cli/commands/plan';
import { harness, type World } from '../evaluate-drift/harness';
import {
  DEFAULT_INSTANCE_TAGS,
  desiredState,
  fleet,
  instanceFacts,
  maintenanceWindow,
  NOW,
  OTHER_IMAGE_ID,
  standaloneInstance,
  tagFleet,
  WEEKDAYS,
  windowRange,
} from '../helpers/builders';

// NOW is Sunday 2025-06-15 12:00 UTC: a weekday window is closed and opens Monday morning.
const weekdays = maintenanceWindow('Europe/Berlin', windowRange([...WEEKDAYS], '09:00', '17:00'));

function drifted(instanceId: string, state = 'running') {
  return instanceFacts({ instanceId, state, imageId: OTHER_IMAGE_ID });
}

async function planOf(fleets = [fleet()], instances = [instanceFacts()], world: Partial<World> = {}) {
  const h = harness({ desiredState: desiredState(fleets), world });
  h.world.instances = instances;
  return buildPlan(h.deps.desiredState, 'phoenix.yaml', {
    ec2: h.deps.ec2,
    autoScaling: h.deps.autoScaling,
    now: NOW,
  });
}

describe('buildPlan', () => {
  it('counts waves as ceil(replacements / maxConcurrent)', async () => {
    const plan = await planOf(
      [fleet({ budget: { maxConcurrent: { count: 2 }, minHealthyPercent: 50 } })],
      [
        'i-00000000000000001',
        'i-00000000000000002',
        'i-00000000000000003',
        'i-00000000000000004',
        'i-00000000000000005',
      ].map((id) => drifted(id)),
    );

    expect(plan.fleets[0]?.enforcement).toMatchObject({ drifted: 5, replacements: 5, waves: 3 });
    expect(exitCodeOf(plan)).toBe(2);
  });

  it('does not count a stopped drifted instance as a replacement (the evaluator replaces running ones)', async () => {
    const plan = await planOf(
      [fleet()],
      [drifted('i-00000000000000001'), drifted('i-00000000000000002', 'stopped')],
    );

    expect(plan.fleets[0]?.enforcement).toMatchObject({ drifted: 2, replacements: 1, waves: 1 });
  });

  it('says when a closed window next opens, in UTC', async () => {
    const plan = await planOf([fleet({ window: weekdays })], [drifted('i-00000000000000001')]);

    expect(plan.fleets[0]?.enforcement.window).toEqual({
      declared: true,
      timezone: 'Europe/Berlin',
      openNow: false,
      nextOpening: '2025-06-16T07:00:00.000Z',
    });
    expect(renderText(plan)).toMatch(/window: closed, opens 2025-06-16T07:00:00.000Z \(Europe\/Berlin\)/);
  });

  it('reports an unresolvable launch template as a blocker, with the reason', async () => {
    const plan = await planOf(
      [fleet({ launchTemplate: { name: 'gone-lt', version: '$Default' } })],
      [instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'x' } })],
    );

    const web = plan.fleets[0];
    expect(web?.launchTemplate).toBeNull();
    expect(web?.launchTemplateProblem).toMatch(/gone-lt .* cannot be resolved/);
    expect(web?.enforcement).toMatchObject({
      drifted: 1,
      replacements: 0,
      blockedBy: ['template-unresolved'],
    });
  });

  it('exits 0 and prints no reasons when everything is in sync', async () => {
    const plan = await planOf();

    expect(exitCodeOf(plan)).toBe(0);
    expect(plan.summary).toMatchObject({ instances: 1, inSync: 1, drifted: 0 });
  });
});

describe('buildPlan counts only replacements that can happen (issue 11, item 7)', () => {
  const ids = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004'];

  it('does not count a Standby member: it is not InService, someone else is managing it', async () => {
    const plan = await planOf([fleet()], [drifted(ids[0] ?? ''), drifted(ids[1] ?? '')], {
      lifecycles: { [ids[1] ?? '']: 'Standby' },
    });

    const web = plan.fleets[0];
    expect(web?.enforcement).toMatchObject({ drifted: 2, replacements: 1, notReplaceable: 1, waves: 1 });
    expect(web?.instances.find((i) => i.instanceId === ids[1])?.notReplaceable).toEqual({
      code: 'not-in-service',
      why: `instance ${ids[1]} is Standby in Auto Scaling group web-prod, not InService: someone else is managing it; it is replaced once it is back in service`,
    });
    expect(renderText(plan)).toMatch(new RegExp(`↳ not replaceable: instance ${ids[1]} is Standby`));
    expect(plan.summary).toMatchObject({ replacements: 1, notReplaceable: 1 });
  });

  it('does not count a standalone instance launched from no launch template: nothing to rebuild it from', async () => {
    const {
      'aws:ec2launchtemplate:id': _id,
      'aws:ec2launchtemplate:version': _v,
      ...tags
    } = standaloneInstance({
      App: 'batch',
    }).tags;
    const bare = standaloneInstance({}, { instanceId: ids[0], tags, launchTemplate: undefined });
    const plan = await planOf(
      [tagFleet()],
      [bare, standaloneInstance({ App: 'batch' }, { instanceId: ids[1], imageId: OTHER_IMAGE_ID })],
    );

    const batch = plan.fleets[0];
    expect(batch?.instances.find((i) => i.instanceId === ids[0])).toMatchObject({
      verdict: 'drifted',
      notReplaceable: {
        code: 'no-launch-template',
        why: expect.stringMatching(/was not launched from a launch template/),
      },
    });
    expect(batch?.enforcement).toMatchObject({ drifted: 2, replacements: 1, notReplaceable: 1 });
  });

  it('does not count members of a group at MaxSize whose budget forbids the dip, and says what headroom is missing', async () => {
    const plan = await planOf(
      [fleet({ budget: { maxConcurrent: { count: 2 }, minHealthyPercent: 100 } })],
      ids.slice(0, 2).map((id) => drifted(id)),
      { groupSizes: { 'web-prod': { min: 1, max: 2, desired: 2 } } },
    );

    const web = plan.fleets[0];
    expect(web?.enforcement).toMatchObject({
      drifted: 2,
      replacements: 0,
      notReplaceable: 2,
      waves: 0,
      headroom: 'none',
      blockedBy: [],
    });
    const why =
      'no headroom: Auto Scaling group web-prod is at MaxSize 2 and minHealthyPercent 100 forbids taking one out first (2 of 2 must stay healthy); raise MaxSize by 1';
    expect(web?.instances.map((i) => i.notReplaceable)).toEqual([
      { code: 'no-headroom', why },
      { code: 'no-headroom', why },
    ]);
    const text = renderText(plan);
    expect(text).toContain(`  cannot replace 2 instances: ${why}`);
    expect(text).toContain('2 drifted → 0 replacements in 0 waves, 2 not replaceable');
    expect(text).toContain('Enforcement would replace 0 now; 2 drifted cannot be replaced (see above).');
  });

  it('says a group pinned at MinSize = MaxSize leaves no way either', async () => {
    const plan = await planOf([fleet()], [drifted(ids[0] ?? '')], {
      groupSizes: { 'web-prod': { min: 1, max: 1, desired: 1 } },
    });

    expect(plan.fleets[0]?.instances[0]?.notReplaceable).toEqual({
      code: 'pinned',
      why: 'Auto Scaling group web-prod is pinned at min 1 = max 1 = desired 1: no room to launch first and no safe way back; raise MaxSize by one',
    });
  });

  it('at MaxSize with room in the budget, counts waves by the dips the budget allows at once', async () => {
    const plan = await planOf(
      [fleet({ budget: { maxConcurrent: { count: 3 }, minHealthyPercent: 50 } })],
      ids.map((id) => drifted(id)),
      { groupSizes: { 'web-prod': { min: 1, max: 4, desired: 4 } } },
    );

    // Floor 2 of 4: two may be out at once, though maxConcurrent says 3.
    expect(plan.fleets[0]?.enforcement).toMatchObject({
      replacements: 4,
      notReplaceable: 0,
      waves: 2,
      headroom: 'standby-first',
    });
    expect(renderText(plan)).toContain(
      'headroom: the group is at MaxSize: each replacement takes its old instance out first',
    );
  });
});

describe('buildPlan lists an instance once, under the fleet that governs it (issue 11, item 8)', () => {
  it("an Auto Scaling member whose tags also match a tag fleet: under its group's fleet, naming the other", async () => {
    const member = drifted('i-00000000000000001');
    const plan = await planOf(
      [fleet(), tagFleet({ name: 'owners', selector: { Owner: 'team-web' } })],
      [member],
    );

    const [owners, web] = [
      plan.fleets.find((f) => f.name === 'owners'),
      plan.fleets.find((f) => f.name === 'web'),
    ];
    expect(owners?.instances).toEqual([]);
    expect(owners?.enforcement).toMatchObject({ drifted: 0, replacements: 0 });
    expect(web?.instances).toEqual([
      expect.objectContaining({
        instanceId: member.instanceId,
        verdict: 'drifted',
        alsoSelectedBy: [
          {
            fleet: 'owners',
            why: "fleet owners's tags match too, but a tag fleet selects standalone instances only and this one is in Auto Scaling group web-prod: fleet web governs it",
          },
        ],
      }),
    ]);
    expect(plan.summary).toMatchObject({ instances: 1, drifted: 1, replacements: 1 });
    const rows = renderText(plan)
      .split('\n')
      .filter((line) => line.includes(member.instanceId));
    expect(rows).toHaveLength(1);
    expect(renderText(plan)).toContain(
      "↳ fleet owners's tags match too, but a tag fleet selects standalone instances only",
    );
  });

  it('a standalone instance two tag fleets select: once, outside, naming both (Phoenix acts on neither)', async () => {
    const both = standaloneInstance({ App: 'batch', Tier: 'gold' }, { instanceId: 'i-00000000000000002' });
    const plan = await planOf([tagFleet(), tagFleet({ name: 'gold', selector: { Tier: 'gold' } })], [both]);

    const rows = plan.fleets.flatMap((f) => f.instances.map((i) => ({ fleet: f.name, ...i })));
    expect(rows).toEqual([
      expect.objectContaining({
        fleet: 'batch',
        verdict: 'outside',
        why: expect.stringMatching(/ambiguous: fleets batch, gold all select/),
        alsoSelectedBy: [
          {
            fleet: 'gold',
            why: 'fleet gold selects it too: with more than one fleet selecting it, Phoenix acts on none',
          },
        ],
      }),
    ]);
    expect(plan.summary).toMatchObject({ instances: 1, outside: 1, replacements: 0 });
  });
});
