import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EnterStandbyCommand } from '@aws-sdk/client-auto-scaling';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import { EXIT_DRIFT, type Plan, run as plan } from '../../functions/cli/commands/plan';
import { run as reconcile } from '../../functions/cli/commands/reconcile';
import { memoryIo } from '../../functions/cli/io';
import type { ReconcileReport } from '../../functions/local/report';
import { type E2eAccount, e2eAccount, facts, type SeededAsgFleet, seedAsgFleet } from '../e2e/harness';
import { emulatorEndpoint, TEST_CREDENTIALS, TEST_REGION } from '../helpers/emulator';

/**
 * `phoenix plan` promises only replacements that can happen, and says why the others cannot;
 * `phoenix reconcile` then does not spend rounds on what can never be granted (issue 11,
 * items 7 and 8). On the emulated account, through the commands as a user types them.
 */

const YAML = `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: 1, minHealthyPercent: 50 }
fleets:
  db:
    match: { autoScalingGroup: db-asg }
    launchTemplate: { name: db-lt, version: $Default }
    tags: { Owner: team-db }
    team: data
    budget: { minHealthyPercent: 100 }
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
  legacy:
    match: { tags: { App: legacy } }
    launchTemplate: { name: web-lt }
    team: storefront
  owners:
    match: { tags: { Owner: team-web } }
    launchTemplate: { name: web-lt }
    team: storefront
`;

const DB_ONLY = YAML.slice(0, YAML.indexOf('  web:'));

const NO_HEADROOM =
  'no headroom: Auto Scaling group db-asg is at MaxSize 1 and minHealthyPercent 100 forbids taking one out first (1 of 1 must stay healthy); raise MaxSize by 1';

const directories: string[] = [];

async function fileWith(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'phoenix-promises-'));
  directories.push(dir);
  const file = path.join(dir, 'phoenix.yaml');
  await writeFile(file, yaml);
  return file;
}

async function phoenix(command: typeof plan, args: string[]) {
  const io = memoryIo();
  const code = await command([...args, '--region', TEST_REGION, '--endpoint', emulatorEndpoint()], io);
  return { code, out: io.out(), err: io.err() };
}

/** A new default version of the fleet's template: every member is drifted (image, version). */
async function newDefaultVersion(account: E2eAccount, fleet: SeededAsgFleet): Promise<void> {
  const version = await addLaunchTemplateVersion(account.clients.ec2, {
    id: fleet.template.id,
    version: {
      imageId: account.images.b,
      instanceType: 't3.micro',
      securityGroupIds: [account.network.securityGroupIds[0]],
    },
  });
  await setDefaultVersion(account.clients.ec2, { id: fleet.template.id, version });
}

describe('phoenix plan and reconcile promise only what can happen (emulated account)', () => {
  let account: E2eAccount;
  let db: SeededAsgFleet;
  let web: SeededAsgFleet;
  let standby = '';
  let serving = '';
  let bare = '';

  beforeAll(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_PROFILE', undefined);
    account = await e2eAccount({ teams: ['data', 'storefront'] });
    // At MaxSize 1, and minHealthyPercent 100 forbids the one instance going out first.
    db = await seedAsgFleet(account, { name: 'db', desired: 1, max: 1, min: 0, tags: { Owner: 'team-db' } });
    web = await seedAsgFleet(account, { name: 'web', desired: 2, max: 3, tags: { Owner: 'team-web' } });
    [standby = '', serving = ''] = web.instanceIds;
    await account.clients.autoScaling.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: web.groupName,
        InstanceIds: [standby],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    // Launched by hand from an image, tagged into the legacy fleet: no template to rebuild it from.
    const launched = await account.clients.ec2.send(
      new RunInstancesCommand({
        ImageId: account.images.a,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: account.network.subnetIds[0],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'App', Value: 'legacy' }] }],
      }),
    );
    bare = launched.Instances?.[0]?.InstanceId ?? '';
    await newDefaultVersion(account, db);
    await newDefaultVersion(account, web);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    for (const dir of directories) await rm(dir, { recursive: true, force: true });
  });

  it('plan counts the one replacement that can happen, and says why each other drifted instance cannot', async () => {
    const { code, out, err } = await phoenix(plan, ['--desired-state', await fileWith(YAML)]);

    expect(err).toBe('');
    expect(code).toBe(EXIT_DRIFT);
    const line = (id: string) => out.split('\n').filter((l) => l.includes(id));
    // Standby: someone else is managing it.
    expect(out).toMatch(
      new RegExp(
        `↳ not replaceable: instance ${standby} is Standby in Auto Scaling group web-asg, not InService`,
      ),
    );
    // No launch template: nothing to rebuild it from.
    expect(out).toMatch(
      new RegExp(`↳ not replaceable: instance ${bare} was not launched from a launch template`),
    );
    // MaxSize and minHealthyPercent 100: the missing headroom, once, in words.
    expect(out).toContain(`  cannot replace 1 instance: ${NO_HEADROOM}`);
    expect(out).toMatch(/1 instance, 1 drifted → 0 replacements in 0 waves, 1 not replaceable/);
    expect(out).toMatch(/2 instances, 2 drifted → 1 replacement in 1 wave, 1 not replaceable/);
    // Members of web-asg carry Owner=team-web, which fleet owners selects by: listed once, under web.
    expect(line(serving)).toEqual([expect.stringMatching(/^web\s+/)]);
    expect(out).toContain(
      "↳ fleet owners's tags match too, but a tag fleet selects standalone instances only and this one is in Auto Scaling group web-asg: fleet web governs it",
    );
    expect(out).toMatch(
      /Summary: 4 instances in 4 fleets: 4 drifted, 0 in sync, 0 excluded, 0 not applicable, 0 outside\. Enforcement would replace 1 now; 3 drifted cannot be replaced \(see above\)\./,
    );

    const json = JSON.parse(
      (await phoenix(plan, ['--desired-state', await fileWith(YAML), '--format', 'json'])).out,
    ) as Plan;
    const byName = Object.fromEntries(json.fleets.map((f) => [f.name, f]));
    expect(byName.db?.enforcement).toMatchObject({ replacements: 0, notReplaceable: 1, headroom: 'none' });
    expect(byName.db?.instances[0]?.notReplaceable).toEqual({ code: 'no-headroom', why: NO_HEADROOM });
    expect(byName.web?.enforcement).toMatchObject({ replacements: 1, notReplaceable: 1, headroom: 'surge' });
    expect(byName.legacy?.instances[0]?.notReplaceable?.code).toBe('no-launch-template');
    expect(byName.owners?.instances).toEqual([]);
    expect(json.summary).toMatchObject({ instances: 4, drifted: 4, replacements: 1, notReplaceable: 3 });
  });

  it('reconcile ends a replacement that can never get a budget after one round, with one message naming the headroom', async () => {
    const { code, out } = await phoenix(reconcile, [
      '--desired-state',
      await fileWith(DB_ONLY),
      '--table',
      account.tableName,
      '--topic-arn',
      account.topicArn,
      '--format',
      'json',
    ]);

    const report = JSON.parse(out) as ReconcileReport;
    expect(code).toBe(2);
    expect(report.remediations).toEqual([
      expect.objectContaining({
        instanceId: db.instanceIds[0],
        outcome: 'manual-action-required',
        detail: expect.stringContaining(NO_HEADROOM),
      }),
    ]);
    // Round 1 started it; round 2 only swept and found the drift held for a human.
    expect(report.stoppedBecause).toBe('nothing-new');
    expect(report.rounds).toHaveLength(2);
    const sent = (await account.inbox('data')).map((n) => n.body);
    expect(sent.map((n) => n.event)).toEqual(['drift.detected', 'manual-action-required']);
    expect(sent[1]?.message).toContain(NO_HEADROOM);
    // Nothing was touched.
    expect((await facts(account.clients, db.instanceIds[0] ?? '')).state).toBe('running');
  });
});
