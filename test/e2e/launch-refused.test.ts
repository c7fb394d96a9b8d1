import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import { run as plan } from '../../functions/cli/commands/plan';
import { run as quarantine } from '../../functions/cli/commands/quarantine';
import { memoryIo } from '../../functions/cli/io';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../helpers/emulator';
import {
  compile,
  describeGroup,
  type E2eAccount,
  e2eAccount,
  facts,
  Invariants,
  members,
  reconcilerFor,
  type SeededAsgFleet,
  type SeededStandaloneFleet,
  seedAsgFleet,
  seedStandaloneFleet,
  watch,
} from './harness';

const YAML = `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 2, minHealthyPercent: 50 }
fleets:
  reports:
    match: { tags: { App: reports } }
    launchTemplate: { name: reports-lt, version: $Default }
    tags: { Owner: team-reports }
    team: storefront
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
`;
const STATE = compile(YAML);

/**
 * Issue 11: a new default version EC2 will never launch (an instance type the region does
 * not offer; an image that does not exist) made every reconcile start the same replacements
 * again. Now the first run quarantines the version and says why; the second starts nothing.
 */
describe('end to end: a template version EC2 refuses to launch', () => {
  let account: E2eAccount;
  let reports: SeededStandaloneFleet;
  let web: SeededAsgFleet;
  let file: string;

  beforeAll(async () => {
    // The operator's commands build their clients from the SDK's own chain.
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    account = await e2eAccount({ teams: ['storefront'] });
    reports = await seedStandaloneFleet(account, {
      name: 'reports',
      count: 2,
      tags: { App: 'reports', Owner: 'team-reports' },
    });
    web = await seedAsgFleet(account, { name: 'web', desired: 4, max: 5, tags: { Owner: 'team-web' } });
    const sg = account.network.securityGroupIds[0] ?? '';
    const bad = async (fleet: { template: { id: string } }, imageId: string, instanceType: string) => {
      const version = await addLaunchTemplateVersion(account.clients.ec2, {
        id: fleet.template.id,
        version: { imageId, instanceType, securityGroupIds: [sg] },
      });
      await setDefaultVersion(account.clients.ec2, { id: fleet.template.id, version });
    };
    await bad(reports, account.images.b, 'c5.bogus');
    await bad(web, 'ami-0000000000000dead', 't3.micro');
    const dir = await mkdtemp(path.join(tmpdir(), 'phoenix-e2e-'));
    file = path.join(dir, 'phoenix.yaml');
    await writeFile(file, YAML, 'utf8');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  const flags = () => [
    '--table',
    account.tableName,
    '--region',
    TEST_REGION,
    '--endpoint',
    emulatorEndpoint(),
  ];

  it('the first run rolls back and quarantines each version, the second starts nothing; plan and quarantine list say why', async () => {
    const invariants = new Invariants(account, [
      watch(reports, { minHealthyPercent: 50, maxConcurrent: 2 }),
      watch(web, { minHealthyPercent: 50, maxConcurrent: 2 }),
    ]);
    const phoenix = reconcilerFor(account, STATE, invariants);

    const first = await phoenix.reconcile();

    expect(first.converged).toBe(false);
    expect(first.summary.replaced).toBe(0);
    expect(first.summary.rolledBack).toBeGreaterThanOrEqual(2);
    const startedFirst = phoenix.started.length;
    expect(startedFirst).toBeGreaterThanOrEqual(2);
    expect(invariants.violations).toEqual([]);
    const quarantines = await account.store.listQuarantines();
    expect(quarantines.map((q) => q.fleet).sort()).toEqual(['reports', 'web']);
    const causeOf = (fleet: string) => quarantines.find((q) => q.fleet === fleet)?.cause ?? '';
    expect(causeOf('reports')).toMatch(/LaunchRejectedError: .*InvalidInstanceType\.NotFound/);
    expect(causeOf('web')).toMatch(/LaunchRejectedError: .*InvalidAMIID\.NotFound/);

    // Nothing was left behind: the old instances serve, the group is at its size, no stray instance.
    for (const id of reports.instanceIds) expect((await facts(account.clients, id)).state).toBe('running');
    expect((await describeGroup(account.clients, 'web-asg')).DesiredCapacity).toBe(4);
    expect(await members(account.clients, 'web-asg')).toEqual([...web.instanceIds].sort());
    expect(await account.store.listLeases('reports')).toEqual([]);
    expect(await account.store.listLeases('web')).toEqual([]);

    const second = await phoenix.reconcile();

    expect(phoenix.started).toHaveLength(startedFirst);
    // Its rounds (the report lists the reconciler's every round) started nothing: each drift held.
    const rounds = second.rounds.slice(first.rounds.length);
    expect(rounds.length).toBeGreaterThan(0);
    expect(rounds.map((r) => r.started)).toEqual(rounds.map(() => 0));
    expect(rounds.map((r) => r.held)).toEqual(rounds.map(() => 6));
    expect(second.stoppedBecause).toBe('nothing-new');
    expect(second.leftDrifted.map((l) => l.why)).toEqual(
      second.leftDrifted.map(() => expect.stringContaining('quarantined')),
    );

    // plan promises nothing for either fleet, and says why.
    const planned = memoryIo();
    await plan(['--desired-state', file, ...flags()], planned);
    const text = planned.out();
    expect(text).toMatch(/Fleet reports [^\n]*\n {2}2 instances, 2 drifted → 0 replacements/);
    expect(text).toMatch(/quarantined since \S+: LaunchRejectedError: [^\n]*InvalidInstanceType\.NotFound/);
    expect(text).toMatch(/quarantined since \S+: LaunchRejectedError: [^\n]*InvalidAMIID\.NotFound/);
    expect(text).toContain('Enforcement would replace 0 now.');

    // And the operator's list names the cause.
    const listed = memoryIo();
    expect(await quarantine(['list', ...flags()], listed)).toBe(0);
    expect(listed.out()).not.toContain('No quarantines.');
    expect(listed.out()).toMatch(
      /cause: LaunchRejectedError: EC2 refused to launch [^\n]*InvalidInstanceType\.NotFound/,
    );
    expect(listed.out()).toMatch(
      /cause: LaunchRejectedError: EC2 refused to launch [^\n]*InvalidAMIID\.NotFound/,
    );
  });
});
