import { describe, expect, it } from 'vitest';
import { buildPlan, exitCodeOf, renderText } from '../../functions/cli/commands/plan';
import { harness } from '../evaluate-drift/harness';
import {
  DEFAULT_INSTANCE_TAGS,
  desiredState,
  fleet,
  instanceFacts,
  maintenanceWindow,
  NOW,
  OTHER_IMAGE_ID,
  WEEKDAYS,
  windowRange,
} from '../helpers/builders';

// NOW is Sunday 2025-06-15 12:00 UTC: a weekday window is closed and opens Monday morning.
const weekdays = maintenanceWindow('Europe/Berlin', windowRange([...WEEKDAYS], '09:00', '17:00'));

function drifted(instanceId: string, state = 'running') {
  return instanceFacts({ instanceId, state, imageId: OTHER_IMAGE_ID });
}

async function planOf(fleets = [fleet()], instances = [instanceFacts()]) {
  const h = harness({ desiredState: desiredState(fleets) });
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
      [fleet({ budget: { maxConcurrent: 2, minHealthyPercent: 50 } })],
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
