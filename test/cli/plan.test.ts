import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { addLaunchTemplateVersion, defaultImageIds, setDefaultVersion } from '../../emulator/seed';
import { createStateTable } from '../../emulator/table';
import { StateStore } from '../../functions/aws/state-store';
import { EXIT_DRIFT, EXIT_ERROR, EXIT_NO_DRIFT, type Plan, run } from '../../functions/cli/commands/plan';
import { memoryIo } from '../../functions/cli/io';
import { rolloutLine } from '../../functions/cli/plan/render';
import { desiredStateYaml, type SeededEstate, seedEstate, writeDesiredState } from '../evaluate-drift/world';
import {
  emulatorEndpoint,
  resetEmulator,
  TEST_CREDENTIALS,
  TEST_REGION,
  testClients,
} from '../helpers/emulator';

/** `phoenix plan` against the emulated account, as a user would type it. */
async function plan(file: string, ...extra: string[]) {
  const io = memoryIo();
  const code = await run(
    ['--desired-state', file, '--region', TEST_REGION, '--endpoint', emulatorEndpoint(), ...extra],
    io,
  );
  return { code, out: io.out(), err: io.err() };
}

describe('phoenix plan (emulated account)', () => {
  beforeEach(async () => {
    await resetEmulator();
    // The SDK's default credential chain reads these; the emulator accepts any.
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  describe('with drift', () => {
    let estate: SeededEstate;
    let file: string;
    beforeEach(async () => {
      estate = await seedEstate(testClients());
      ({ file } = await writeDesiredState(desiredStateYaml('enforce')));
    });

    it('prints every drifted instance with its reasons and exits 2', async () => {
      const { code, out, err } = await plan(file);

      expect(err).toBe('');
      expect(code).toBe(EXIT_DRIFT);
      const line = (id: string) => out.split('\n').find((l) => l.includes(id)) ?? '';
      expect(line(estate.web.handChanged)).toMatch(
        /web\s+i-\w+\s+running\s+drifted\s+tags\.Owner: expected team-web, found someone-else/,
      );
      expect(line(estate.batch.wrongType)).toMatch(
        /drifted\s+instanceType: expected t3\.micro, found t3\.large/,
      );
      expect(out).toMatch(/launchTemplate\.version: expected 2, found 1/);
      expect(line(estate.batch.excluded)).toMatch(
        /excluded\s+instance .* carries the exclusion tag phoenix:skip=true/,
      );
      expect(line(estate.batch.inSync)).toMatch(/in-sync/);
      expect(out).not.toContain(estate.outside);
      expect(out).toMatch(
        /Fleet web \(mode enforce, team team-web, launch template web-lt \(lt-\w+\) version 1\)/,
      );
      expect(out).toMatch(
        /3 instances, 1 drifted → 1 replacement in 1 wave \(maxConcurrent 2, minHealthyPercent 50\)/,
      );
      expect(out).toMatch(/4 instances, 2 drifted → 2 replacements in 1 wave/);
      expect(out).toMatch(/window: no maintenance window \(always open\)/);
      expect(out).toMatch(/quarantine: unknown \(pass --table to read it\)/);
      expect(out).toMatch(
        /Summary: 7 instances in 2 fleets: 3 drifted, 3 in sync, 1 excluded, 0 not applicable, 0 outside\. Enforcement would replace 3 now\./,
      );
    });

    it('writes the pull-request comment with --format markdown against the emulated account', async () => {
      const { code, out } = await plan(file, '--format', 'markdown');

      expect(code).toBe(EXIT_DRIFT);
      expect(out.split('\n')[0]).toBe('### Phoenix plan: 3 drifted, 3 replacements now');
      expect(out).toMatch(/^\*\*Total:\*\* 7 instances in 2 fleets: 3 drifted, 3 in sync, 1 excluded/m);
      expect(out).toContain(
        '| Fleet | Mode | Instances | Drifted | Replacements | Waves | Estimated | Blocked by |',
      );
    });

    it('writes the documented JSON shape', async () => {
      const { code, out } = await plan(file, '--format', 'json');

      expect(code).toBe(EXIT_DRIFT);
      const parsed = JSON.parse(out) as Plan;
      expect(parsed).toMatchObject({
        schemaVersion: 1,
        desiredState: { file, path: 'phoenix.yaml', commit: 'unknown' },
        summary: {
          fleets: 2,
          instances: 7,
          inSync: 3,
          drifted: 3,
          excluded: 1,
          notApplicable: 0,
          outside: 0,
          replacements: 3,
          notReplaceable: 0,
        },
      });
      const batch = parsed.fleets.find((f) => f.name === 'batch');
      expect(batch?.launchTemplate).toEqual({ id: estate.templates.batch.id, name: 'batch-lt', version: 2 });
      expect(batch?.enforcement).toEqual({
        drifted: 2,
        replacements: 2,
        notReplaceable: 0,
        waves: 1,
        headroom: null,
        maxConcurrent: 2,
        maxConcurrentDeclared: '2',
        minHealthyPercent: 50,
        window: { declared: false, timezone: null, openNow: true, nextOpening: null },
        sourceDrift: { checked: true, drifted: false, reasons: [], problem: null },
        quarantine: 'unknown',
        quarantineCause: null,
        paused: null,
        blockedBy: [],
        // One wave of 75 s, then the last old instances drain 300 s (functions/domain/estimate.ts).
        estimatedSeconds: 375,
      });
      // A fleet without a rollout: block says so, whatever could be read.
      expect(batch === undefined ? '' : rolloutLine(batch)).toBe(
        'none declared (replaced under the budget alone)',
      );
      // Without --table the rollout's record is not read; no alarm is declared, so none is read.
      expect(batch?.rollout).toEqual({
        stage: 'unknown',
        source: {
          templateId: estate.templates.batch.id,
          version: 2,
          imageId: expect.stringMatching(/^ami-/),
        },
        waitsFor: null,
        firingAlarms: [],
        alarmsProblem: null,
        progress: null,
        policy: { staged: false, canary: 0, bakeMinutes: 0, approval: 'automatic', after: null },
      });
      const wrongType = batch?.instances.find((i) => i.instanceId === estate.batch.wrongType);
      expect(wrongType).toMatchObject({
        verdict: 'drifted',
        fingerprint: expect.stringMatching(/^v1-/),
        reasons: [{ kind: 'instance-type', field: 'instanceType', expected: 't3.micro', actual: 't3.large' }],
        why: null,
      });
    });

    it('reads the pause switch and quarantines from the state table when given one', async () => {
      const clients = testClients();
      const table = await createStateTable(clients.dynamodb, 'phoenix-state');
      const store = new StateStore(clients.dynamodb, table);
      await store.quarantine({
        fleet: 'batch',
        templateId: estate.templates.batch.id,
        version: 2,
        cause: 'unhealthy',
        execution: 'earlier',
      });

      const { code, out } = await plan(file, '--format', 'json', '--table', table);

      expect(code).toBe(EXIT_DRIFT);
      const parsed = JSON.parse(out) as Plan;
      const byName = Object.fromEntries(parsed.fleets.map((f) => [f.name, f.enforcement]));
      expect(byName.batch).toMatchObject({
        quarantine: 'quarantined',
        quarantineCause: expect.stringMatching(/^since \S+: unhealthy$/),
        paused: false,
        replacements: 0,
        blockedBy: ['quarantined'],
      });
      expect(byName.web).toMatchObject({
        quarantine: 'none',
        quarantineCause: null,
        paused: false,
        replacements: 1,
      });
      expect(parsed.summary.replacements).toBe(1);
      // The text says why, too.
      const text = await plan(file, '--table', table);
      expect(text.out).toMatch(/quarantine: quarantined; paused: no\n {2}quarantined since \S+: unhealthy\n/);
    });

    it('says what would not be replaced, and why, in observe mode', async () => {
      ({ file } = await writeDesiredState(desiredStateYaml('observe')));

      const { code, out } = await plan(file);

      expect(code).toBe(EXIT_DRIFT);
      expect(out).toMatch(/1 drifted → 0 replacements in 0 waves/);
      expect(out).toMatch(/not replacing: mode observe/);
    });
  });

  it('exits 0 for a clean fleet', async () => {
    await seedEstate(testClients(), { drift: false });
    const { file } = await writeDesiredState(desiredStateYaml('enforce'));

    const { code, out } = await plan(file);

    expect(code).toBe(EXIT_NO_DRIFT);
    expect(out).toMatch(/Summary: 7 instances in 2 fleets: 0 drifted, 6 in sync, 1 excluded/);
    expect(out).not.toMatch(/\bdrifted\s+\S+:/);
  });

  it('reports source drift as a blocker: the template itself contradicts Git', async () => {
    await seedEstate(testClients(), { drift: false });
    // Git now declares a tag the Auto Scaling group does not propagate: every member, and every
    // fresh instance, lacks it.
    const { file } = await writeDesiredState(
      desiredStateYaml('enforce').replace('Environment: prod', 'Environment: prod, Tier: web'),
    );

    const { code, out } = await plan(file);

    expect(code).toBe(EXIT_DRIFT);
    expect(out).toMatch(/source: SOURCE DRIFT: tags\.Tier: expected web, found \(none\)/);
    expect(out).toMatch(/3 drifted → 0 replacements in 0 waves/);
    expect(out).toMatch(/not replacing: SOURCE DRIFT/);
  });
});

describe('phoenix plan: the source the group really launches', () => {
  beforeEach(async () => {
    await resetEmulator();
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reports source drift when the group is pinned to an older version than Git follows', async () => {
    const clients = testClients();
    const estate = await seedEstate(clients, { drift: false });
    const [, newImage = ''] = await defaultImageIds(clients.ec2, 2);
    const version = await addLaunchTemplateVersion(clients.ec2, {
      id: estate.templates.web.id,
      version: { imageId: newImage, instanceType: 't3.micro', instanceTags: { Name: 'web' } },
    });
    await setDefaultVersion(clients.ec2, { id: estate.templates.web.id, version });
    // The group still launches version 1: what it would launch is drifted from the default.
    await clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web-prod',
        LaunchTemplate: { LaunchTemplateId: estate.templates.web.id, Version: '1' },
      }),
    );
    const { file } = await writeDesiredState(desiredStateYaml('enforce'));

    const { code, out } = await plan(file);

    expect(code).toBe(EXIT_DRIFT);
    expect(out).toMatch(/source: SOURCE DRIFT: .*imageId/);
    expect(out).toMatch(/not replacing: SOURCE DRIFT/);
  });
});

describe('phoenix plan: errors exit 1', () => {
  it('names every problem of an invalid file with file:line:col', async () => {
    const { file } = await writeDesiredState(desiredStateYaml());
    const broken = path.join(path.dirname(file), 'broken.yaml');
    await writeFile(
      broken,
      'version: 1\nfleets:\n  web:\n    match: { autoScalingGroup: web-prod }\n',
      'utf8',
    );

    const io = memoryIo();
    const code = await run(['--desired-state', broken], io);

    expect(code).toBe(EXIT_ERROR);
    expect(io.err()).toMatch(
      new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+ .*launchTemplate`),
    );
  });

  it.each([
    [[], /^phoenix plan: --desired-state is required/],
    [['--desired-state', 'x.yaml', '--format', 'yaml'], /--format must be text, json or markdown/],
    [['--desired-state', 'x.yaml', '--bogus'], /^phoenix plan: unknown option "--bogus"/],
    [['--desired-state', '/nonexistent/phoenix.yaml'], /cannot read desired-state file .*no such file/],
  ])('%j → %s', async (argv, message) => {
    const io = memoryIo();
    expect(await run(argv, io)).toBe(EXIT_ERROR);
    expect(io.err()).toMatch(message);
  });

  it('fails cleanly when the account cannot be reached', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
    const { file } = await writeDesiredState(desiredStateYaml());
    const io = memoryIo();

    const code = await run(
      ['--desired-state', file, '--region', TEST_REGION, '--endpoint', 'http://127.0.0.1:9'],
      io,
    );

    vi.unstubAllEnvs();
    expect(code).toBe(EXIT_ERROR);
    expect(io.err()).toMatch(/phoenix plan: could not read the account/);
  });

  it('names the state table when --table names one that does not exist', async () => {
    await resetEmulator();
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    const { file } = await writeDesiredState(desiredStateYaml());

    const { code, err } = await plan(file, '--table', 'phoenix-prod-StateTable-missing');

    vi.unstubAllEnvs();
    expect(code).toBe(EXIT_ERROR);
    expect(err).toMatch(
      /^phoenix plan: could not read the account: state table phoenix-prod-StateTable-missing: ResourceNotFoundException: .+\n$/,
    );
  });

  it('prints its usage with --help', async () => {
    const io = memoryIo();
    expect(await run(['--help'], io)).toBe(EXIT_NO_DRIFT);
    expect(io.out()).toMatch(/Usage: phoenix plan --desired-state FILE/);
  });
});
