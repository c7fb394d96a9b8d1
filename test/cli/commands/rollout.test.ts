/**
 * `phoenix rollout list | approve | halt | resume` against rollouts in the emulated account's
 * state table; bad flags against an endpoint that counts requests (none may reach it).
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { seedAlarm } from '../../../emulator/seed';
import { createStateTable } from '../../../emulator/table';
import { type NewRollout, RolloutStore } from '../../../functions/aws/rollout-store';
import { StateStore } from '../../../functions/aws/state-store';
import { type RolloutView, run as rollout } from '../../../functions/cli/commands/rollout';
import { memoryIo } from '../../../functions/cli/io';
import { main } from '../../../functions/cli/main';
import { writeDesiredState } from '../../evaluate-drift/world';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION, testClients } from '../../helpers/emulator';
import { type FakeEndpoint, startFakeEndpoint } from '../../helpers/fake-endpoint';

const TABLE = 'phoenix-cli-rollout';
const clients = testClients();
const rollouts = new RolloutStore(clients.dynamodb, TABLE);
const state = new StateStore(clients.dynamodb, TABLE);
const flags = () => ['--table', TABLE, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()];

let version = 0;
async function begin(fleet: string, overrides: Partial<NewRollout> = {}) {
  version += 1;
  return (
    await rollouts.create({
      fleet,
      source: { templateId: 'lt-0abc', version, imageId: `ami-0${version}` },
      stage: 'canary',
      members: 10,
      canary: 1,
      bakeMinutes: 30,
      maxFailures: 1,
      ...overrides,
    })
  ).rollout;
}

async function phoenix(argv: string[], env: Record<string, string> = {}) {
  const io = memoryIo({ env });
  const code = await rollout([...argv, ...flags()], io);
  return { code, out: io.out(), err: io.err() };
}

let counting: FakeEndpoint;

beforeAll(async () => {
  // The command builds its clients from the SDK's own chain, as on an operator's machine.
  vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
  await createStateTable(clients.dynamodb, TABLE);
  counting = await startFakeEndpoint();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await counting.close();
});

describe('phoenix rollout list', () => {
  it('says when there is none', async () => {
    expect(await phoenix(['list', '--fleet', 'empty'])).toEqual({
      code: 0,
      out: 'No rollouts for fleet empty.\n',
      err: '',
    });
  });

  it('shows each rollout with its source, stage, progress, failures and why it waits', async () => {
    const web = await begin('list-web', { stage: 'awaiting-approval' });
    await rollouts.count('list-web', web.source, { admitted: 2, replaced: 1, rolledBack: 1 });
    await begin('list-api', { stage: 'rolling', maxFailures: 3 });

    const text = await phoenix(['list']);
    expect(text.code).toBe(0);
    expect(text.out).toContain(
      `list-web  lt-0abc v${web.source.version} (ami-0${web.source.version})  awaiting-approval  replaced 1 / admitted 2 / members 10  failures 1 of at most 1`,
    );
    expect(text.out).toContain('    waits: waiting for `phoenix rollout approve`');
    expect(text.out).toMatch(
      /list-api {2}lt-0abc v\d+ \(ami-0\d+\) {2}rolling {2}replaced 0 \/ admitted 0 \/ members 10 {2}failures 0 of at most 3\n {4}since /,
    );
    // Fleets by name: api before web.
    expect(text.out.indexOf('list-api')).toBeLessThan(text.out.indexOf('list-web'));

    const json = await phoenix(['list', '--fleet', 'list-web', '--format', 'json']);
    const parsed = JSON.parse(json.out) as { schemaVersion: number; rollouts: RolloutView[] };
    expect(parsed.schemaVersion).toBe(1);
    expect(parsed.rollouts).toEqual([
      {
        fleet: 'list-web',
        source: { templateId: 'lt-0abc', version: web.source.version, imageId: `ami-0${web.source.version}` },
        stage: 'awaiting-approval',
        startedAt: web.startedAt,
        stageChangedAt: web.stageChangedAt,
        progress: { members: 10, admitted: 2, replaced: 1, rolledBack: 1, ended: 0, canary: 1 },
        failures: { counted: 1, maxFailures: 1 },
        waitsFor: 'waiting for `phoenix rollout approve`',
      },
    ]);
  });
});

describe('phoenix rollout list --desired-state: why it waits now, with the alarms read', () => {
  async function alarm(name: string, state: 'OK' | 'ALARM'): Promise<void> {
    await seedAlarm(clients.cloudwatch, name, state, 'test');
  }

  const yaml = (alarms: string[]) => `version: 1
fleets:
  now-web:
    match: { tags: { App: now-web } }
    launchTemplate: { name: now-web-lt }
    rollout: { canary: 1, bakeMinutes: 30, alarms: [${alarms.join(', ')}] }
`;

  it('says an alarm in ALARM halts a rolling rollout its record still calls rolling, in text and JSON', async () => {
    await alarm('now-5xx', 'ALARM');
    await alarm('now-p99', 'OK');
    const { file } = await writeDesiredState(yaml(['now-5xx', 'now-p99']));
    const record = await begin('now-web', { stage: 'rolling' });

    // The record alone: rolling, nothing to wait for.
    const recorded = await phoenix(['list', '--fleet', 'now-web', '--format', 'json']);
    const before = JSON.parse(recorded.out) as { rollouts: RolloutView[] };
    expect(before.rollouts[0]?.waitsFor).toBeNull();
    expect(before.rollouts[0]).not.toHaveProperty('firingAlarms');

    const json = await phoenix(['list', '--fleet', 'now-web', '--format', 'json', '--desired-state', file]);
    expect(json.err).toBe('');
    const parsed = JSON.parse(json.out) as { rollouts: RolloutView[] };
    expect(parsed.rollouts[0]).toMatchObject({
      fleet: 'now-web',
      stage: 'rolling',
      source: record.source,
      firingAlarms: ['now-5xx'],
      waitsFor: 'halted: alarm now-5xx in ALARM',
    });
    const text = await phoenix(['list', '--fleet', 'now-web', '--desired-state', file]);
    expect(text.out).toContain(
      '    waits: halted: alarm now-5xx in ALARM\n    alarms in ALARM now: now-5xx\n',
    );
    // Read, not written: the record is still rolling.
    expect((await rollouts.get('now-web', record.source))?.stage).toBe('rolling');
  });

  it('says a declared alarm that does not exist holds the rollout', async () => {
    await begin('now-held', { stage: 'rolling' });
    const { file: heldFile } = await writeDesiredState(yaml(['now-typo']).replace('now-web', 'now-held'));
    const json = await phoenix([
      'list',
      '--fleet',
      'now-held',
      '--format',
      'json',
      '--desired-state',
      heldFile,
    ]);
    const parsed = JSON.parse(json.out) as { rollouts: RolloutView[] };
    expect(parsed.rollouts[0]?.firingAlarms).toEqual([]);
    expect(parsed.rollouts[0]?.waitsFor).toMatch(/^alarm now-typo does not exist in this account and region/);
  });

  it('refuses an invalid desired state with its file:line:col, exit 1', async () => {
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp(path.join(tmpdir(), 'phoenix-rollout-'));
    const bad = path.join(dir, 'phoenix.yaml');
    await writeFile(bad, 'version: 2\n', 'utf8');
    const result = await phoenix(['list', '--desired-state', bad]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/phoenix\.yaml:1:\d+/);
  });
});

describe('phoenix rollout approve / halt / resume', () => {
  it('approves a rollout awaiting approval, and refuses a second approval with exit 1', async () => {
    const r = await begin('approve', { stage: 'awaiting-approval' });
    const approved = await phoenix(['approve', '--fleet', 'approve', '--by', 'alice']);
    expect(approved).toEqual({
      code: 0,
      out: `Approved the rollout of lt-0abc v${r.source.version} through fleet approve (by alice): it goes on rolling under the fleet's budget.\n`,
      err: '',
    });
    expect((await rollouts.current('approve'))?.stage).toBe('rolling');
    const again = await phoenix(['approve', '--fleet', 'approve']);
    expect(again.code).toBe(1);
    expect(again.err).toBe(
      `phoenix rollout approve: the rollout of lt-0abc v${r.source.version} through fleet approve is rolling, not awaiting approval: nothing to approve\n`,
    );
  });

  it('halts mid-rollout with who and why, quarantining the version; resume sends it back with the quarantine lifted', async () => {
    const r = await begin('midway', { stage: 'rolling' });
    await rollouts.count('midway', r.source, { admitted: 4, replaced: 3, rolledBack: 1 });
    const halted = await phoenix(['halt', '--fleet', 'midway', '--reason', 'checkout errors up 3%'], {
      USER: 'carol',
    });
    expect(halted.code).toBe(0);
    expect(halted.out).toContain(
      `Halted the rollout of lt-0abc v${r.source.version} through fleet midway in rolling (halted by carol: checkout errors up 3%).`,
    );
    expect(await state.getQuarantine('midway', 'lt-0abc', r.source.version)).toMatchObject({
      cause: 'rollout halted by carol: checkout errors up 3%',
    });
    const listed = await phoenix(['list', '--fleet', 'midway']);
    expect(listed.out).toContain('    waits: halted by carol: checkout errors up 3%');

    const resumed = await phoenix(['resume', '--fleet', 'midway']);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain(
      `Resumed the rollout of lt-0abc v${r.source.version} through fleet midway in rolling: its failure budget is given back and its version's quarantine lifted.`,
    );
    expect(await rollouts.current('midway')).toMatchObject({ stage: 'rolling', rolledBackBeforeResume: 1 });
    expect(await state.getQuarantine('midway', 'lt-0abc', r.source.version)).toBeUndefined();
  });

  it('resuming moves the rolled-back drift its quarantine names to the next attempt, as quarantine lift does', async () => {
    const r = await begin('drift', { stage: 'rolling' });
    const execution = 'i-0123456789abcdef0-v1-0a1b2c3d-0';
    await state.quarantine({
      fleet: 'drift',
      templateId: 'lt-0abc',
      version: r.source.version,
      cause: 'unhealthy',
      execution,
    });
    await phoenix(['halt', '--fleet', 'drift']);
    const resumed = await phoenix(['resume', '--fleet', 'drift']);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain('The drift v1-0a1b2c3d of i-0123456789abcdef0');
    expect(await state.attemptOf('i-0123456789abcdef0', 'v1-0a1b2c3d')).toBe(1);
  });

  it.each([
    {
      argv: ['approve', '--fleet', 'ghost'],
      message: 'phoenix rollout approve: fleet ghost has no rollout to approve',
    },
    {
      argv: ['halt', '--fleet', 'ghost'],
      message: 'phoenix rollout halt: fleet ghost has no rollout to halt',
    },
    {
      argv: ['resume', '--fleet', 'ghost'],
      message: 'phoenix rollout resume: fleet ghost has no rollout to resume',
    },
  ])('$argv.0 on a fleet with no rollout is one line, exit 1', async ({ argv, message }) => {
    expect(await phoenix(argv)).toEqual({ code: 1, out: '', err: `${message}\n` });
  });

  it.each([
    { action: 'resume', stage: 'rolling', message: /is rolling, not halted: nothing to resume/ },
    { action: 'halt', stage: 'completed', message: /is completed, not live .*: nothing to halt/ },
    { action: 'approve', stage: 'baking', message: /is baking, not awaiting approval: nothing to approve/ },
  ] as const)(
    '$action in $stage is one line, exit 1, and changes nothing',
    async ({ action, stage, message }) => {
      const fleet = `wrong-${action}`;
      const r = await begin(fleet, { stage: stage === 'completed' ? 'rolling' : stage });
      if (stage === 'completed') {
        const current = await rollouts.get(fleet, r.source);
        if (current === undefined) throw new Error('no rollout');
        await rollouts.recordStep(current, { rollout: { ...current, stage: 'completed' }, changed: true });
      }
      const before = await rollouts.get(fleet, r.source);
      const result = await phoenix([action, '--fleet', fleet]);
      expect(result.code).toBe(1);
      expect(result.err).toMatch(message);
      expect(result.err).toMatch(/^[^\n]+\n$/);
      expect(await rollouts.get(fleet, r.source)).toEqual(before);
      expect(await state.getQuarantine(fleet, 'lt-0abc', r.source.version)).toBeUndefined();
    },
  );
});

describe('phoenix rollout: bad input is one line naming the flag, exit 1, no AWS call', () => {
  it.each([
    { argv: [], message: 'phoenix rollout: expected list, approve, halt or resume' },
    { argv: ['pause'], message: 'phoenix rollout: expected list, approve, halt or resume, not "pause"' },
    { argv: ['approve'], message: 'phoenix rollout approve: --fleet is required' },
    { argv: ['halt', '--fleet', 'Web_1'], message: 'phoenix rollout: --fleet must be a fleet name' },
    { argv: ['halt', '--fleet', ''], message: 'phoenix rollout: --fleet is empty' },
    {
      argv: ['list', '--format', 'yaml'],
      message: 'phoenix rollout: --format must be text or json, not "yaml"',
    },
    {
      argv: ['approve', '--fleet', 'web', '--reason', 'x'],
      message: 'phoenix rollout approve: --reason is for halt, not approve',
    },
    {
      argv: ['halt', '--fleet', 'web', '--format', 'json'],
      message: 'phoenix rollout halt: --format is for list, not halt',
    },
    {
      argv: ['list', '--by', 'alice'],
      message: 'phoenix rollout list: --by is for approve, halt, resume, not list',
    },
    {
      argv: ['halt', '--fleet', 'web', '--reason', 'two\nlines'],
      message: 'phoenix rollout halt: --reason must be one line',
    },
    {
      argv: ['resume', '--fleet', 'web', '--flete', 'x'],
      message: 'unknown option "--flete"; did you mean --fleet?',
    },
    { argv: ['resume', '--fleet', 'web', '--table', 'x'], message: '--table must be a DynamoDB table name' },
  ])('$argv', async ({ argv, message }) => {
    counting.reset();
    const io = memoryIo({ env: { PHOENIX_TABLE_NAME: TABLE } });
    const code = await main(['rollout', ...argv, '--region', TEST_REGION, '--endpoint', counting.url], io);
    expect(code).toBe(1);
    expect(io.err()).toContain(message);
    expect(io.err()).toMatch(/^[^\n]+\n$/);
    expect(io.out()).toBe('');
    expect(counting.requests()).toBe(0);
  });

  it('needs a table', async () => {
    const io = memoryIo({ env: {} });
    expect(await rollout(['list', '--region', TEST_REGION, '--endpoint', counting.url], io)).toBe(1);
    expect(io.err()).toBe(
      'phoenix rollout list: no state table: pass --table NAME or set PHOENIX_TABLE_NAME\n',
    );
  });

  it('names the table when it does not exist', async () => {
    const io = memoryIo();
    const code = await rollout(
      [
        'halt',
        '--fleet',
        'web',
        '--table',
        'no-such-table',
        '--region',
        TEST_REGION,
        '--endpoint',
        emulatorEndpoint(),
      ],
      io,
    );
    expect(code).toBe(1);
    expect(io.err()).toMatch(/^phoenix rollout halt: table no-such-table: ResourceNotFoundException/);
  });

  it('prints its usage on --help', async () => {
    const io = memoryIo();
    expect(await rollout(['--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: phoenix rollout list');
  });
});
