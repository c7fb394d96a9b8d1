/**
 * `phoenix plan --format markdown`: golden files of the pull-request comment for plans built
 * by the real `buildPlan` from fake account readings, and the properties a comment must keep
 * whatever the account holds (escaping, GitHub's size limit, the total line first).
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import type { RolloutRecord } from '../../functions/aws/rollout-store';
import { buildPlan, type PlanDeps } from '../../functions/cli/commands/plan';
import {
  COLLAPSE_AFTER,
  escapeMarkdown,
  MAX_COMMENT_CHARS,
  MAX_ROWS_PER_FLEET,
  renderMarkdown,
} from '../../functions/cli/plan/markdown';
import type { CompiledFleet, InstanceFacts } from '../../functions/domain/model';
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
  TEMPLATE_ID,
  TEMPLATE_VERSION,
  tagFleet,
  WEEKDAYS,
  windowRange,
} from '../helpers/builders';

const weekdays = maintenanceWindow('Europe/Berlin', windowRange([...WEEKDAYS], '09:00', '17:00'));

function id(n: number): string {
  return `i-${String(n).padStart(17, '0')}`;
}

function drifted(instanceId: string, overrides: Partial<InstanceFacts> = {}): InstanceFacts {
  return instanceFacts({ instanceId, imageId: OTHER_IMAGE_ID, ...overrides });
}

async function planOf(
  fleets: CompiledFleet[],
  instances: InstanceFacts[],
  options: { world?: Partial<World>; state?: PlanDeps['state']; rollout?: PlanDeps['rollout'] } = {},
) {
  const h = harness({ desiredState: desiredState(fleets), world: options.world ?? {} });
  h.world.instances = instances;
  const deps: PlanDeps = { ec2: h.deps.ec2, autoScaling: h.deps.autoScaling, now: NOW };
  if (options.state !== undefined) deps.state = options.state;
  if (options.rollout !== undefined) deps.rollout = options.rollout;
  return buildPlan(h.deps.desiredState, 'phoenix.yaml', deps);
}

const notPaused: NonNullable<PlanDeps['state']> = {
  isPaused: async () => false,
  getQuarantine: async () => undefined,
};

describe('phoenix plan --format markdown (golden files)', () => {
  it('no drift: the title says so, one table row per fleet', async () => {
    const plan = await planOf([fleet()], [instanceFacts()], { state: notPaused });
    await expect(renderMarkdown(plan)).toMatchFileSnapshot('golden/plan-no-drift.md');
  });

  it('three fleets: replacements in waves with an estimate, a closed window, a group at MaxSize', async () => {
    const web = fleet({ budget: { maxConcurrent: { percent: 50 }, minHealthyPercent: 50 } });
    const batch = tagFleet({ name: 'batch', window: weekdays });
    const plan = await planOf(
      [web, batch],
      [
        drifted(id(1)),
        drifted(id(2)),
        drifted(id(3), { state: 'stopped' }),
        instanceFacts({ instanceId: id(4) }),
        standaloneInstance({ App: 'batch' }, { instanceId: id(5), imageId: OTHER_IMAGE_ID }),
        standaloneInstance({ App: 'batch' }, { instanceId: id(6) }),
      ],
      { state: notPaused },
    );
    await expect(renderMarkdown(plan)).toMatchFileSnapshot('golden/plan-fleets.md');
  });

  it('blocked: paused, a quarantined version, and the table not read', async () => {
    const quarantined: NonNullable<PlanDeps['state']> = {
      isPaused: async () => true,
      getQuarantine: async (fleet, templateId, version) => ({
        fleet,
        templateId,
        version,
        execution: 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate:i-0abc-1a2b3c-1',
        at: '2025-06-14T08:00:00.000Z',
        cause: 'replacement i-0abc unhealthy: status checks failed',
      }),
    };
    const plan = await planOf([fleet()], [drifted(id(1)), drifted(id(2))], { state: quarantined });
    await expect(renderMarkdown(plan)).toMatchFileSnapshot('golden/plan-blocked.md');
    const unread = await planOf([fleet()], [drifted(id(1))]);
    expect(renderMarkdown(unread)).toContain(
      'pause and quarantines not read (the plan ran without `--table`)',
    );
  });

  it('a large fleet: its instances in a collapsed block, cut at the row limit', async () => {
    const instances = Array.from({ length: MAX_ROWS_PER_FLEET + 7 }, (_, i) => drifted(id(i + 1)));
    const plan = await planOf(
      [fleet({ budget: { maxConcurrent: { percent: 10 }, minHealthyPercent: 90 } })],
      instances,
      { state: notPaused },
    );
    const markdown = renderMarkdown(plan);
    await expect(markdown).toMatchFileSnapshot('golden/plan-large.md');
    expect(markdown).toContain('<details>');
    expect(markdown.match(/^\| `i-/gm)).toHaveLength(MAX_ROWS_PER_FLEET);
    expect(markdown).toContain('… and 7 more drifted in `web`');
  });
});

/** CloudWatch answering DescribeAlarms with `states` (an alarm not listed does not exist). */
function alarmsReading(states: Record<string, 'OK' | 'ALARM'>): CloudWatchClient {
  const client = new CloudWatchClient({ region: 'us-east-1' });
  mockClient(client)
    .on(DescribeAlarmsCommand)
    .callsFake((input: DescribeAlarmsCommandInput) => ({
      MetricAlarms: (input.AlarmNames ?? [])
        .filter((name) => states[name] !== undefined)
        .map((name) => ({ AlarmName: name, StateValue: states[name], StateReason: 'test' })),
    }));
  return client;
}

/** A rollout record of the default template through `fleet`. */
function record(fleet: string, overrides: Partial<RolloutRecord>): RolloutRecord {
  return {
    fleet,
    source: { templateId: TEMPLATE_ID, version: TEMPLATE_VERSION, imageId: 'ami-0123456789abcdef0' },
    stage: 'canary',
    startedAt: '2025-06-15T10:00:00.000Z',
    stageChangedAt: '2025-06-15T11:40:00.000Z',
    members: 3,
    admitted: 1,
    replaced: 1,
    rolledBack: 0,
    ended: 0,
    canary: 1,
    bakeMinutes: 30,
    maxFailures: 1,
    ...overrides,
  };
}

describe('phoenix plan --format markdown: rollout stages (golden file)', () => {
  it('a baking fleet, a halted one, one waiting for its promotion and one with an alarm in ALARM', async () => {
    const policy = {
      canary: { count: 1 },
      bakeMinutes: 30,
      alarms: [],
      maxFailures: 1,
      approval: 'automatic' as const,
    };
    const web = fleet({ rollout: policy });
    const batch = tagFleet({ name: 'batch', rollout: policy });
    const api = tagFleet({ name: 'api', rollout: { ...policy, after: 'web' } });
    const jobs = tagFleet({ name: 'jobs', rollout: { ...policy, alarms: ['jobs-5xx', 'jobs-latency'] } });
    const records: RolloutRecord[] = [
      record('web', { stage: 'baking', bakeUntil: '2025-06-15T12:10:00.000Z' }),
      record('batch', {
        stage: 'halted',
        rolledBack: 2,
        replaced: 0,
        halt: {
          cause: { kind: 'failures', failures: 2, maxFailures: 1 },
          at: '2025-06-15T11:50:00.000Z',
          from: 'canary',
        },
      }),
    ];
    const rollouts = {
      get: async (name: string) => records.find((r) => r.fleet === name),
      list: async (name?: string) => records.filter((r) => name === undefined || r.fleet === name),
    };
    const plan = await planOf(
      [web, batch, api, jobs],
      [
        drifted(id(1)),
        drifted(id(2)),
        instanceFacts({ instanceId: id(3) }),
        standaloneInstance({ App: 'batch' }, { instanceId: id(4), imageId: OTHER_IMAGE_ID }),
        standaloneInstance({ App: 'api' }, { instanceId: id(5), imageId: OTHER_IMAGE_ID }),
        standaloneInstance({ App: 'jobs' }, { instanceId: id(6), imageId: OTHER_IMAGE_ID }),
      ],
      {
        state: notPaused,
        rollout: { cloudwatch: alarmsReading({ 'jobs-5xx': 'ALARM', 'jobs-latency': 'OK' }), rollouts },
      },
    );
    const markdown = renderMarkdown(plan);
    await expect(markdown).toMatchFileSnapshot('golden/plan-rollout.md');
    const rowOf = (name: string) => markdown.split('\n').find((l) => l.startsWith(`| \`${name}\``)) ?? '';
    expect(rowOf('web')).toContain('rollout stage baking: baking the canary until 2025-06-15T12:10:00.000Z');
    expect(rowOf('batch')).toContain('rollout stage halted: 2 rollbacks, more than maxFailures 1');
    expect(rowOf('api')).toContain(
      'rollout stage not begun: waiting for fleet web to run ami-0123456789abcdef0',
    );
    expect(rowOf('jobs')).toContain('alarm jobs-5xx in ALARM');
    expect(plan.summary.replacements).toBe(0);
  });
});

describe('phoenix plan: what a rollout on record lets start now', () => {
  const policy = {
    canary: { count: 1 },
    bakeMinutes: 30,
    alarms: [],
    maxFailures: 1,
    approval: 'automatic' as const,
  };
  const planWith = async (rec: RolloutRecord) =>
    planOf(
      [fleet({ rollout: policy })],
      [drifted(id(1)), drifted(id(2)), instanceFacts({ instanceId: id(3) })],
      {
        state: notPaused,
        rollout: {
          cloudwatch: alarmsReading({}),
          rollouts: { get: async () => rec, list: async () => [rec] },
        },
      },
    );

  it('a canary in flight: nothing more starts until it is replaced and baked', async () => {
    const plan = await planWith(record('web', { stage: 'canary', admitted: 1, replaced: 0 }));
    expect(plan.fleets[0]?.rollout).toMatchObject({
      stage: 'canary',
      waitsFor: 'the canary first: 0 of 1 replaced, nothing else starts until it has baked',
    });
    expect(plan.fleets[0]?.enforcement).toMatchObject({ replacements: 0, blockedBy: ['rollout-waiting'] });
  });

  it('a canary not yet admitted: its one replacement starts now, the rest after the bake', async () => {
    const plan = await planWith(record('web', { stage: 'canary', admitted: 0, replaced: 0 }));
    expect(plan.fleets[0]?.enforcement).toMatchObject({ replacements: 1, blockedBy: [] });
  });

  it('rolling, or completed: the budget alone decides', async () => {
    for (const stage of ['rolling', 'completed'] as const) {
      const plan = await planWith(record('web', { stage, members: 10, admitted: 3, replaced: 3 }));
      expect(plan.fleets[0]?.rollout.stage).toBe(stage);
      expect(plan.fleets[0]?.enforcement).toMatchObject({ replacements: 2, blockedBy: [] });
    }
  });
});

describe('phoenix plan: alarms CloudWatch will not describe', () => {
  it('hold the fleet and say why, as the admission holds; the plan does not fail', async () => {
    const client = new CloudWatchClient({ region: 'us-east-1' });
    const denied = Object.assign(new Error('not authorized to perform: cloudwatch:DescribeAlarms'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    mockClient(client).on(DescribeAlarmsCommand).rejects(denied);
    const web = fleet({
      rollout: { bakeMinutes: 0, alarms: ['web-5xx'], maxFailures: 0, approval: 'automatic' },
    });
    const records: RolloutRecord[] = [];
    const rollouts = {
      get: async (name: string) => records.find((r) => r.fleet === name),
      list: async () => records,
    };
    for (const reader of [{ cloudwatch: client, rollouts }, { cloudwatch: client }]) {
      const plan = await planOf([web], [drifted(id(1))], { state: notPaused, rollout: reader });
      const [only] = plan.fleets;
      expect(only?.rollout.alarmsProblem).toMatch(/CloudWatch refused to describe 1 alarm \(web-5xx\)/);
      expect(only?.rollout.waitsFor).toMatch(
        /^the declared alarms could not be read .*: held until they can be$/,
      );
      expect(only?.enforcement).toMatchObject({ replacements: 0, blockedBy: ['rollout-waiting'] });
    }
  });
});

describe('renderMarkdown, whatever the account holds', () => {
  it('puts the total line first, after the title', async () => {
    const plan = await planOf([fleet()], [drifted(id(1))], { state: notPaused });
    const lines = renderMarkdown(plan).split('\n');
    expect(lines[0]).toBe('### Phoenix plan: 1 drifted, 1 replacement now');
    expect(lines[2]).toMatch(/^\*\*Total:\*\* 1 instance in 1 fleet: 1 drifted/);
  });

  it('lists a few drifted instances openly, more than the collapse size in a details block', async () => {
    const few = await planOf([fleet()], [drifted(id(1))], { state: notPaused });
    expect(renderMarkdown(few)).not.toContain('<details>');
    const many = await planOf(
      [fleet()],
      Array.from({ length: COLLAPSE_AFTER + 1 }, (_, i) => drifted(id(i + 1))),
      { state: notPaused },
    );
    expect(renderMarkdown(many)).toContain(
      `<summary>${COLLAPSE_AFTER + 1} drifted instances of \`web\`</summary>`,
    );
  });

  it('escapes what a tag carries: no pipe breaks the table, no HTML reaches the comment', async () => {
    const hostile = 'x | y <script>alert(1)</script> `z`\nnext';
    const plan = await planOf(
      [fleet()],
      [instanceFacts({ instanceId: id(1), tags: { ...DEFAULT_INSTANCE_TAGS, Owner: hostile } })],
      { state: notPaused },
    );
    const markdown = renderMarkdown(plan);
    expect(markdown).not.toContain('<script>');
    expect(markdown).toContain('x \\| y &lt;script&gt;');
    const row = markdown.split('\n').find((l) => l.startsWith(`| \`${id(1)}\``));
    // Four cells: the pipe inside the value is escaped, the newline gone.
    expect(row?.split(/(?<!\\)\|/).length).toBe(6);
  });

  it('stays under GitHub’s comment limit: past it, the instance lists are left out and it says so', async () => {
    const fleets = Array.from({ length: 40 }, (_, f) =>
      tagFleet({ name: `fleet-${f}`, selector: { App: `app-${f}` } }),
    );
    const instances = fleets.flatMap((_, f) =>
      Array.from({ length: MAX_ROWS_PER_FLEET }, (_, i) =>
        standaloneInstance(
          { App: `app-${f}` },
          { instanceId: id(f * 1000 + i + 1), imageId: OTHER_IMAGE_ID },
        ),
      ),
    );
    const plan = await planOf(fleets, instances, { state: notPaused });
    const markdown = renderMarkdown(plan);
    expect(markdown.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS);
    expect(markdown).toContain('The instance lists are left out to fit one comment');
    // Every fleet still has its row and its facts.
    for (const f of fleets) expect(markdown).toContain(`#### \`${f.name}\`: 50 drifted instances`);
  });

  it.each([
    ['a|b', 'a\\|b'],
    ['<b>&', '&lt;b&gt;&amp;'],
    ['line\r\nbreak', 'line break'],
    ['`tick`', "'tick'"],
  ])('escapeMarkdown(%j) is %j', (text, escaped) => {
    expect(escapeMarkdown(text)).toBe(escaped);
  });
});
