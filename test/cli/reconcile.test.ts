import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import { listFleetInstances } from '../../functions/aws/inventory';
import {
  EXIT_CONVERGED,
  EXIT_ERROR,
  EXIT_NOT_CONVERGED,
  isLocalEndpoint,
  run,
} from '../../functions/cli/commands/reconcile';
import { memoryIo } from '../../functions/cli/io';
import { plainText } from '../../functions/local/progress';
import type { ReconcileReport } from '../../functions/local/report';
import { DEFAULT_TABLE_NAME } from '../../functions/local/state-table';
import {
  type E2eAccount,
  e2eAccount,
  facts,
  members,
  type SeededAsgFleet,
  type SeededStandaloneFleet,
  seedAsgFleet,
  seedStandaloneFleet,
} from '../e2e/harness';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../helpers/emulator';

/** The escape character that starts every terminal control sequence. */
const ESC = String.fromCharCode(27);

const REPORTS = { name: 'reports', match: { kind: 'tags' as const, tags: { App: 'reports' } } };

const YAML = (reportsMode: string) => `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
  reports:
    match: { tags: { App: reports } }
    launchTemplate: { name: reports-lt }
    tags: { Owner: team-data }
    team: data
    mode: ${reportsMode}
`;

const directories: string[] = [];

async function desiredStateFile(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'phoenix-reconcile-'));
  directories.push(dir);
  const file = path.join(dir, 'phoenix.yaml');
  await writeFile(file, yaml);
  return file;
}

/** `phoenix reconcile` against the emulated account, as a user would type it. */
async function reconcile(args: string[], options: { isTTY?: boolean; env?: Record<string, string> } = {}) {
  const io = memoryIo({ isTTY: options.isTTY ?? false, env: options.env ?? {} });
  const code = await run([...args, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()], io);
  return { code, out: io.out(), err: io.err() };
}

describe('phoenix reconcile (emulated account)', () => {
  let account: E2eAccount;
  let web: SeededAsgFleet;
  let reports: SeededStandaloneFleet;

  beforeAll(async () => {
    // The command builds its clients from the SDK's own chain, as on an operator's machine.
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined);
    account = await e2eAccount({ teams: ['storefront', 'data'] });
    web = await seedAsgFleet(account, { name: 'web', desired: 2, max: 3, tags: { Owner: 'team-web' } });
    reports = await seedStandaloneFleet(account, {
      name: 'reports',
      count: 1,
      tags: { App: 'reports', Owner: 'team-data' },
    });
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    for (const dir of directories) await rm(dir, { recursive: true, force: true });
  });

  /** The web fleet's template gets a new default version; the report instance a hand-edited tag. */
  async function drift() {
    const version = await addLaunchTemplateVersion(account.clients.ec2, {
      id: web.template.id,
      version: {
        imageId: account.images.b,
        instanceType: 't3.micro',
        securityGroupIds: [account.network.securityGroupIds[0]],
      },
    });
    await setDefaultVersion(account.clients.ec2, { id: web.template.id, version });
    await account.clients.ec2.send(
      new CreateTagsCommand({ Resources: reports.instanceIds, Tags: [{ Key: 'Owner', Value: 'someone' }] }),
    );
  }

  it('converges a drifted estate, showing progress, and exits 0; run again, it does nothing', async () => {
    await drift();
    const file = await desiredStateFile(YAML('enforce'));

    const first = await reconcile(['--desired-state', file, '--topic-arn', account.topicArn], {
      isTTY: true,
    });

    expect(first.err).toBe('');
    expect(first.code).toBe(EXIT_CONVERGED);
    // On a terminal the running executions are redrawn in place.
    expect(first.out).toMatch(new RegExp(`${ESC}\\[\\d+A`));
    expect(first.out).toContain('▸ i-');
    const out = plainText(first.out);
    expect(out).toContain(`Created the local state table ${DEFAULT_TABLE_NAME}`);
    expect(out).toMatch(/Round 1: judged 3 instances: 0 in sync, 3 drifted → 3 remediations started/);
    expect(out).toMatch(/Round 2: judged 3 instances: 3 in sync, 0 drifted → nothing new to do/);
    for (const id of [...web.instanceIds, ...reports.instanceIds]) {
      expect(out).toMatch(new RegExp(`${id} → i-[0-9a-f]+ `));
      expect((await facts(account.clients, id)).state).toBe('terminated');
    }
    expect(out).toMatch(/tags\.Owner: expected team-data, found someone/);
    expect(out).toMatch(/storefront: 2 drift\.detected, 2 remediation\.started, 2 remediation\.succeeded/);
    expect(out).toMatch(
      /Drift found on 3 instances: 3 replaced\. Converged: every instance matches the desired state\./,
    );
    expect(await members(account.clients, 'web-asg')).toHaveLength(2);
    expect((await account.inbox('data')).map((n) => n.body.event)).toEqual([
      'drift.detected',
      'remediation.started',
      'remediation.succeeded',
    ]);
    const table = await account.clients.dynamodb.send(
      new DescribeTableCommand({ TableName: DEFAULT_TABLE_NAME }),
    );
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);

    const second = await reconcile(['--desired-state', file, '--format', 'json']);

    expect(second.code).toBe(EXIT_CONVERGED);
    const report = JSON.parse(second.out) as ReconcileReport;
    expect(report).toMatchObject({
      schemaVersion: 1,
      converged: true,
      stoppedBecause: 'nothing-new',
      remediations: [],
      held: [],
      leftDrifted: [],
      notifications: [],
      errors: [],
      summary: { fleets: 2, instancesJudged: 3, driftFound: 0, replaced: 0 },
      target: { region: TEST_REGION, endpoint: emulatorEndpoint(), table: DEFAULT_TABLE_NAME, waits: 'zero' },
    });
    expect(report.rounds).toHaveLength(1);
    // Progress went to standard error, the report alone to standard output.
    expect(second.err).toMatch(/Round 1: judged 3 instances: 3 in sync, 0 drifted → nothing new to do/);
  });

  it('exits 2 and says why when drift is left: a fleet in observe mode is reported, not replaced', async () => {
    const [instance = ''] = (await listFleetInstances(account.clients.ec2, REPORTS)).map((i) => i.instanceId);
    await account.clients.ec2.send(
      new CreateTagsCommand({ Resources: [instance], Tags: [{ Key: 'Owner', Value: 'mallory' }] }),
    );

    const { code, out } = await reconcile(['--desired-state', await desiredStateFile(YAML('observe'))]);

    expect(code).toBe(EXIT_NOT_CONVERGED);
    // Not a terminal: plain lines, no control sequences.
    expect(out).not.toContain(ESC);
    expect(out).toMatch(/Round 1: judged 3 instances: 2 in sync, 1 drifted → nothing new to do/);
    expect(out).toContain(
      `Still drifted\n  ${instance} (reports): tags.Owner: expected team-data, found mallory — fleet reports is in observe mode`,
    );
    expect(out).toMatch(/NOT converged: 1 instance still drifted\./);
    expect(await facts(account.clients, instance)).toMatchObject({
      state: 'running',
      tags: expect.objectContaining({ Owner: 'mallory' }),
    });
  });

  it.each([
    { argv: [], message: '--desired-state is required' },
    { argv: ['--desired-state', 'x.yaml', '--format', 'xml'], message: '--format must be text or json' },
    {
      argv: ['--desired-state', 'x.yaml', '--concurrency', '0'],
      message: '--concurrency must be a whole number ≥ 1',
    },
    {
      argv: ['--desired-state', 'x.yaml', '--max-rounds', 'many'],
      message: '--max-rounds must be a whole number ≥ 1',
    },
    { argv: ['--desired-state', 'x.yaml', '--bogus'], message: 'unknown option "--bogus"' },
  ])('refuses $argv with exit 1 and a clear message', async ({ argv, message }) => {
    const io = memoryIo();
    expect(await run(argv, io)).toBe(EXIT_ERROR);
    expect(io.err()).toContain(message);
    expect(io.out()).toBe('');
  });

  it('refuses an invalid desired-state file with file:line:col, touching nothing', async () => {
    const file = await desiredStateFile(
      'version: 1\nfleets:\n  web:\n    match: { autoScalingGroup: web-asg }\n    launchTemplate: { name: web-lt }\n    mode: enforced\n',
    );
    const { code, err, out } = await reconcile(['--desired-state', file]);
    expect(code).toBe(EXIT_ERROR);
    expect(err).toMatch(/phoenix\.yaml:6:\d+ /);
    expect(out).toBe('');
  });

  it('refuses a named state table that does not exist, instead of creating it', async () => {
    const file = await desiredStateFile(YAML('enforce'));
    const { code, err } = await reconcile([
      '--desired-state',
      file,
      '--table',
      'phoenix-prod-StateTable-missing',
    ]);
    expect(code).toBe(EXIT_ERROR);
    expect(err).toMatch(/state table phoenix-prod-StateTable-missing does not exist on this endpoint/);
  });

  it('prints its usage with --help', async () => {
    const io = memoryIo();
    expect(await run(['--help'], io)).toBe(EXIT_CONVERGED);
    expect(io.out()).toMatch(/^Usage: phoenix reconcile --desired-state FILE/);
    expect(io.out()).toContain('Exit status: 0 converged, 2 something is left drifted');
  });
});

describe('isLocalEndpoint: where instant waits are safe', () => {
  it.each([
    ['http://127.0.0.1:4566', true],
    ['http://localhost:5000', true],
    ['http://[::1]:5000', true],
    ['https://ec2.eu-central-1.amazonaws.com', false],
    ['https://vpce-0123.ec2.eu-central-1.vpce.amazonaws.com', false],
    ['http://10.0.0.5:4566', false],
    ['not a url', false],
    [undefined, false],
  ])('%s → %s', (endpoint, local) => {
    expect(isLocalEndpoint(endpoint)).toBe(local);
  });
});
