/**
 * `phoenix plan` shows each fleet's rollout stage (issue 15, issue 16 "rollout stage"),
 * against the emulated account: the alarms are real CloudWatch alarms driven with
 * `SetAlarmState`, the rollouts real items of the state table written by `RolloutStore`
 * (`create`, `count`, `recordStep`, `halt`), read by the plan through `readRolloutView`.
 *
 * Where moto differs: a new alarm starts `OK` in moto (`INSUFFICIENT_DATA` on AWS); each test
 * sets the state it needs.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { seedAlarm } from '../../emulator/seed';
import { createStateTable } from '../../emulator/table';
import { RolloutStore } from '../../functions/aws/rollout-store';
import { EXIT_DRIFT, type FleetPlan, type Plan, run } from '../../functions/cli/commands/plan';
import { memoryIo } from '../../functions/cli/io';
import { estimatedRolloutSeconds, estimatedSeconds } from '../../functions/domain/estimate';
import { advance } from '../../functions/domain/rollout/stage';
import { type SeededEstate, seedEstate, writeDesiredState } from '../evaluate-drift/world';
import {
  emulatorEndpoint,
  resetEmulator,
  TEST_CREDENTIALS,
  TEST_REGION,
  testClientConfig,
  testClients,
} from '../helpers/emulator';

/** The estate's desired state with a `rollout:` block for each fleet. */
function yamlWith(rollouts: { web?: string; batch?: string }): string {
  return `version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-prod }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web, Environment: prod }
    team: team-web
${rollouts.web === undefined ? '' : `    rollout: ${rollouts.web}\n`}  batch:
    match: { tags: { App: batch } }
    launchTemplate: { name: batch-lt, version: $Default }
    tags: { Owner: team-batch }
    team: team-batch
    exclude: { tags: { "phoenix:skip": "true" } }
${rollouts.batch === undefined ? '' : `    rollout: ${rollouts.batch}\n`}`;
}

async function plan(file: string, ...extra: string[]) {
  const io = memoryIo();
  const code = await run(
    ['--desired-state', file, '--region', TEST_REGION, '--endpoint', emulatorEndpoint(), ...extra],
    io,
  );
  return { code, out: io.out(), err: io.err() };
}

async function planJson(file: string, ...extra: string[]): Promise<Record<string, FleetPlan>> {
  const { code, out, err } = await plan(file, '--format', 'json', ...extra);
  expect(err).toBe('');
  expect(code).toBe(EXIT_DRIFT);
  const parsed = JSON.parse(out) as Plan;
  return Object.fromEntries(parsed.fleets.map((f) => [f.name, f]));
}

async function alarm(name: string, state: 'OK' | 'ALARM'): Promise<void> {
  const cloudwatch = new CloudWatchClient(testClientConfig());
  try {
    await seedAlarm(cloudwatch, name, state, 'test');
  } finally {
    cloudwatch.destroy();
  }
}

describe('phoenix plan: each fleet’s rollout stage (emulated account)', () => {
  let estate: SeededEstate;
  let table: string;
  let store: RolloutStore;
  /** Batch's current source: launch template batch-lt version 2. */
  let batchSource: { templateId: string; version: number };

  beforeEach(async () => {
    await resetEmulator();
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined);
    const clients = testClients();
    estate = await seedEstate(clients);
    table = await createStateTable(clients.dynamodb, 'phoenix-state');
    store = new RolloutStore(clients.dynamodb, table);
    batchSource = { templateId: estate.templates.batch.id, version: 2 };
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('an alarm in ALARM blocks the fleet, read without --table too: nothing is replaced', async () => {
    await alarm('batch-5xx', 'ALARM');
    await alarm('web-5xx', 'OK');
    const { file } = await writeDesiredState(
      yamlWith({ web: '{ alarms: [web-5xx] }', batch: '{ alarms: [batch-5xx] }' }),
    );

    const fleets = await planJson(file);

    expect(fleets.batch?.rollout).toMatchObject({ stage: 'unknown', firingAlarms: ['batch-5xx'] });
    expect(fleets.batch?.enforcement).toMatchObject({
      replacements: 0,
      blockedBy: ['alarm-firing'],
      estimatedSeconds: 0,
    });
    // An alarm OK blocks nothing.
    expect(fleets.web?.rollout).toMatchObject({ stage: 'unknown', firingAlarms: [] });
    expect(fleets.web?.enforcement).toMatchObject({ replacements: 1, blockedBy: [] });
    const text = await plan(file);
    expect(text.out).toContain(
      '  not replacing: alarm batch-5xx in ALARM: no replacement of the fleet starts',
    );
    const markdown = await plan(file, '--format', 'markdown');
    const row = markdown.out.split('\n').find((l) => l.startsWith('| `batch`'));
    expect(row).toContain('alarm batch-5xx in ALARM');
  });

  it('a declared alarm that does not exist holds the fleet, and says so', async () => {
    const { file } = await writeDesiredState(yamlWith({ batch: '{ alarms: [batch-typo] }' }));
    const fleets = await planJson(file, '--table', table);
    expect(fleets.batch?.enforcement).toMatchObject({ replacements: 0, blockedBy: ['rollout-waiting'] });
    expect(fleets.batch?.rollout.waitsFor).toMatch(/^alarm batch-typo does not exist in this account/);
  });

  it('a baking rollout: stage, why it waits, progress; nothing else is replaced until the bake ends', async () => {
    const { file } = await writeDesiredState(
      yamlWith({ batch: '{ canary: 1, bakeMinutes: 30, maxFailures: 1 }' }),
    );
    const { rollout } = await store.create({
      fleet: 'batch',
      source: batchSource,
      stage: 'canary',
      members: 2,
      canary: 1,
      bakeMinutes: 30,
      maxFailures: 1,
    });
    const counted = await store.count('batch', batchSource, { admitted: 1, replaced: 1 });
    const policy = {
      bakeMinutes: 30,
      alarms: [],
      maxFailures: 1,
      approval: 'automatic' as const,
      canary: { count: 1 },
    };
    const step = advance(counted, { now: new Date(), policy, alarms: [] });
    expect(step.rollout.stage).toBe('baking');
    expect((await store.recordStep(counted, step)).written).toBe(true);
    expect(rollout.stage).toBe('canary');

    const fleets = await planJson(file, '--table', table);

    expect(fleets.batch?.rollout).toMatchObject({
      stage: 'baking',
      source: { ...batchSource },
      waitsFor: expect.stringMatching(/^baking the canary until \S+Z$/),
      firingAlarms: [],
      progress: { members: 2, replaced: 1, rolledBack: 0, maxFailures: 1, canary: 1 },
      policy: { canary: 1, bakeMinutes: 30, approval: 'automatic', after: null },
    });
    expect(fleets.batch?.enforcement).toMatchObject({ replacements: 0, blockedBy: ['rollout-waiting'] });
    const text = await plan(file, '--table', table);
    expect(text.err).toBe('');
    expect(text.out).toMatch(
      / {2}rollout: of \S+ version 2: baking \(1 of 2 replaced, 0 rolled back, maxFailures 1\)\n/,
    );
    expect(text.out).toMatch(/ {2}not replacing: rollout stage baking: baking the canary until \S+Z\n/);
  });

  it('a halted rollout says who halted it and why, and blocks the fleet', async () => {
    const { file } = await writeDesiredState(yamlWith({ batch: '{ canary: 1, bakeMinutes: 30 }' }));
    await store.create({
      fleet: 'batch',
      source: batchSource,
      stage: 'canary',
      members: 2,
      canary: 1,
      bakeMinutes: 30,
      maxFailures: 0,
    });
    await store.halt('batch', 'ops', 'bad image');

    const fleets = await planJson(file, '--table', table);

    expect(fleets.batch?.rollout).toMatchObject({ stage: 'halted', waitsFor: 'halted by ops: bad image' });
    expect(fleets.batch?.enforcement).toMatchObject({
      replacements: 0,
      blockedBy: ['quarantined', 'rollout-waiting'],
    });
  });

  it('a fleet promoted from another waits until that fleet runs its image: plan says so', async () => {
    // Web runs the first image; batch runs both: web waits for batch to converge on it.
    const { file } = await writeDesiredState(yamlWith({ web: '{ after: batch }' }));

    const fleets = await planJson(file, '--table', table);

    expect(fleets.web?.rollout).toMatchObject({
      stage: 'none',
      waitsFor: expect.stringMatching(/^waiting for fleet batch to run ami-\w+: \d of \d instances do$/),
      policy: { after: 'batch' },
    });
    expect(fleets.web?.enforcement).toMatchObject({ replacements: 0, blockedBy: ['rollout-waiting'] });
    const markdown = await plan(file, '--format', 'markdown', '--table', table);
    const row = markdown.out.split('\n').find((l) => l.startsWith('| `web`'));
    expect(row).toMatch(/rollout stage not begun: waiting for fleet batch to run ami-/);
  });

  it('no rollout begun yet: the canary goes first, and the estimate counts its wave, the bake and the rest', async () => {
    const { file } = await writeDesiredState(yamlWith({ batch: '{ canary: 1, bakeMinutes: 30 }' }));

    const fleets = await planJson(file, '--table', table);

    expect(fleets.batch?.rollout).toMatchObject({ stage: 'none', waitsFor: null, progress: null });
    // Two drifted, the canary of one first: one replacement now, the other after the bake.
    expect(fleets.batch?.enforcement).toMatchObject({
      drifted: 2,
      replacements: 1,
      waves: 1,
      blockedBy: [],
      estimatedSeconds: estimatedRolloutSeconds({ canaryWaves: 1, bakeMinutes: 30, waves: 1 }),
    });
    // A fleet without a canary: its waves alone.
    expect(fleets.web?.enforcement.estimatedSeconds).toBe(estimatedSeconds(1));
  });
});
