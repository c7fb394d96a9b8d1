/**
 * Two `phoenix reconcile` processes at once, on one estate and one state table (issue 11).
 *
 * Two real processes, spawned as a user would start them (`bin/phoenix.mjs reconcile`),
 * rather than two reconcilers in this process: what they share is then exactly what two
 * operators (or an operator and the deployed stack) share, the account and the table, and
 * nothing in this process (a module, a clock, a client, a queue of DynamoDB requests) can
 * make them agree by accident. They run against an emulated account of their own whose
 * DynamoDB takes requests one at a time, as DynamoDB evaluates a conditional write
 * atomically (moto's threaded server does not: the launcher's correction 6, emulator/moto-launcher.py); every
 * other service is moto's as usual.
 *
 * What must hold: each drifted instance is replaced exactly once (20 launches for 20
 * drifted instances), the group is back at its desired capacity, no budget is exceeded at
 * any moment (checked by polling the account while both run), and each process reports
 * only what it did.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthyServing } from '../../emulator/account';
import { type RunningEmulator, startEmulator } from '../../emulator/moto-process';
import { addLaunchTemplateVersion, setDefaultVersion } from '../../emulator/seed';
import { listFleetInstances } from '../../functions/aws/inventory';
import type { CompiledFleet } from '../../functions/domain/model';
import type { ReconcileReport } from '../../functions/local/report';
import { TEST_CREDENTIALS, TEST_REGION } from '../helpers/emulator';
import {
  compile,
  describeGroup,
  type E2eAccount,
  e2eAccount,
  facts,
  members,
  type SeededAsgFleet,
  type SeededStandaloneFleet,
  seedAsgFleet,
  seedStandaloneFleet,
} from './harness';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A run takes well under a minute on 2 cores; the bound only stops a hung process. */
const PROCESS_TIMEOUT_MS = 240_000;
const SIZE = 10;
const MAX_CONCURRENT = 2;
const MIN_HEALTHY_PERCENT = 80;
const FLOOR = 8;

const YAML = `
version: 1
defaults:
  mode: enforce
  budget: { maxConcurrent: ${MAX_CONCURRENT}, minHealthyPercent: ${MIN_HEALTHY_PERCENT} }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: storefront
  api:
    match: { tags: { App: api } }
    launchTemplate: { name: api-lt, version: $Default }
    tags: { Owner: team-api }
    team: payments
`;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** `phoenix reconcile --format json` as its own process; resolves when it exits. */
function reconcileProcess(args: string[]): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/phoenix.mjs'), 'reconcile', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_REGION: TEST_REGION,
    },
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const finished = new Promise<Finished>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
  void finished.then(() => clearTimeout(timer));
  return { child, finished };
}

/** Every instance the account ever launched (terminated ones stay listed), by id. */
async function everyInstance(account: E2eAccount): Promise<string[]> {
  const ids: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await account.clients.ec2.send(
      new DescribeInstancesCommand({ MaxResults: 1000, NextToken }),
    );
    for (const r of page.Reservations ?? [])
      for (const i of r.Instances ?? []) if (i.InstanceId !== undefined) ids.push(i.InstanceId);
    NextToken = page.NextToken === '' ? undefined : page.NextToken;
  } while (NextToken !== undefined);
  return ids;
}

/**
 * The budgets as the account shows them, polled while both processes run: never more than
 * `maxConcurrent` replacements in flight per fleet (running instances of the fleet beyond its
 * size), never fewer healthy serving instances than the floor, and the group's desired
 * capacity never above its size plus `maxConcurrent` surges.
 */
class BudgetWatch {
  readonly violations: string[] = [];
  readonly peakInFlight = new Map<string, number>();
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly account: E2eAccount,
    private readonly fleets: { fleet: CompiledFleet; targetGroupArn: string; group?: string }[],
  ) {}

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.check();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.check();
  }

  async check(): Promise<void> {
    for (const { fleet, targetGroupArn, group } of this.fleets) {
      const running = (await listFleetInstances(this.account.clients.ec2, fleet)).filter(
        (i) => i.state === 'running',
      ).length;
      const inFlight = running - SIZE;
      this.peakInFlight.set(fleet.name, Math.max(this.peakInFlight.get(fleet.name) ?? 0, inFlight));
      if (inFlight > MAX_CONCURRENT)
        this.violations.push(`${fleet.name}: ${running} running = ${inFlight} replacements in flight`);
      const healthy = await healthyServing(this.account.clients, targetGroupArn);
      if (healthy < FLOOR) this.violations.push(`${fleet.name}: ${healthy} healthy < floor ${FLOOR}`);
      if (group !== undefined) {
        const desired = (await describeGroup(this.account.clients, group)).DesiredCapacity ?? 0;
        if (desired > SIZE + MAX_CONCURRENT) this.violations.push(`${group}: desired capacity ${desired}`);
      }
    }
  }
}

describe('end to end: two `phoenix reconcile` processes at once on one estate and one table', () => {
  let emulator: RunningEmulator;
  let account: E2eAccount;
  let web: SeededAsgFleet;
  let api: SeededStandaloneFleet;
  let dir: string;

  beforeAll(async () => {
    emulator = await startEmulator();
    account = await e2eAccount({ teams: ['storefront', 'payments'], endpoint: emulator.endpoint });
    web = await seedAsgFleet(account, {
      name: 'web',
      desired: SIZE,
      max: 2 * SIZE,
      tags: { Owner: 'team-web' },
    });
    api = await seedStandaloneFleet(account, {
      name: 'api',
      count: SIZE,
      tags: { App: 'api', Owner: 'team-api' },
    });
    dir = await mkdtemp(path.join(tmpdir(), 'phoenix-two-reconcilers-'));
  });
  afterAll(async () => {
    await emulator?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(
    'replaces each of 20 drifted instances exactly once (20 launches), the group back at 10, every budget kept, each run reporting only what it did',
    async () => {
      // Every instance of both fleets drifts: their templates get a new default version.
      for (const fleet of [web, api]) {
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
      const file = path.join(dir, 'phoenix.yaml');
      await writeFile(file, YAML);
      const state = compile(YAML);
      const fleetNamed = (name: string): CompiledFleet => {
        const fleet = state.fleets.find((f) => f.name === name);
        if (fleet === undefined) throw new Error(`no fleet ${name}`);
        return fleet;
      };
      const before = await everyInstance(account);
      const originals = [...web.instanceIds, ...api.instanceIds];
      expect(before.sort()).toEqual([...originals].sort());

      const watch = new BudgetWatch(account, [
        { fleet: fleetNamed('web'), targetGroupArn: web.targetGroupArn, group: web.groupName },
        { fleet: fleetNamed('api'), targetGroupArn: api.targetGroupArn },
      ]);
      watch.start();
      const args = [
        '--desired-state',
        file,
        '--format',
        'json',
        '--endpoint',
        emulator.endpoint,
        '--table',
        account.tableName,
      ];
      const runs = await Promise.all([reconcileProcess(args).finished, reconcileProcess(args).finished]);
      await watch.stop();

      for (const run of runs) {
        expect(run.signal, run.err).toBeNull();
        expect([0, 2], run.err).toContain(run.code);
      }
      const reports = runs.map((run) => JSON.parse(run.out) as ReconcileReport);

      // Exactly one replacement per drifted instance: 20 launches, not more.
      const launched = (await everyInstance(account)).filter((id) => !before.includes(id));
      expect(launched).toHaveLength(2 * SIZE);
      for (const old of originals) expect((await facts(account.clients, old)).state).toBe('terminated');
      const group = await describeGroup(account.clients, web.groupName);
      expect(group.DesiredCapacity).toBe(SIZE);
      const webNow = await members(account.clients, web.groupName);
      expect(webNow).toHaveLength(SIZE);
      const apiNow = (await listFleetInstances(account.clients.ec2, fleetNamed('api'))).filter(
        (i) => i.state === 'running',
      );
      expect(apiNow).toHaveLength(SIZE);
      for (const id of [...webNow, ...apiNow.map((i) => i.instanceId)]) {
        expect(launched).toContain(id);
        expect((await facts(account.clients, id)).imageId).toBe(account.images.b);
      }

      // Every budget kept at every moment the watch looked.
      expect(watch.violations).toEqual([]);
      expect(watch.peakInFlight.get('web')).toBeLessThanOrEqual(MAX_CONCURRENT);
      expect(watch.peakInFlight.get('api')).toBeLessThanOrEqual(MAX_CONCURRENT);

      // Each run reports only what it did: together, one success per drifted instance, each
      // naming a replacement that exists; nothing else claims a replacement.
      const succeeded = reports.flatMap((r) => r.remediations.filter((x) => x.outcome === 'succeeded'));
      expect(succeeded.map((r) => r.instanceId).sort()).toEqual([...originals].sort());
      expect(succeeded.map((r) => r.replacementId ?? '').sort()).toEqual([...launched].sort());
      // What a run did not do, it says who did: a skip for another execution's claim names that
      // execution, which is the other run's, for the same instance.
      for (const [index, report] of reports.entries()) {
        const other = reports[1 - index]?.remediations ?? [];
        for (const skip of report.remediations.filter((r) =>
          ['in-flight-elsewhere', 'already-replaced'].includes(r.reason),
        )) {
          const holder = other.find(
            (r) => r.instanceId === skip.instanceId && skip.detail.includes(r.executionArn),
          );
          expect(holder, `${skip.instanceId}: ${skip.detail}`).toBeDefined();
          if (skip.reason === 'already-replaced')
            expect(skip.detail).toContain(`already replaced by ${holder?.replacementId}`);
        }
      }
      for (const report of reports) {
        expect(report.errors).toEqual([]);
        expect(report.summary.replaced).toBe(
          report.remediations.filter((r) => r.outcome === 'succeeded').length,
        );
        // Nothing failed, and nothing asked a human to step in for what the other run did.
        expect(
          report.remediations.filter((r) =>
            ['rolled-back', 'failed', 'error', 'manual-action-required'].includes(r.outcome),
          ),
        ).toEqual([]);
      }
    },
    PROCESS_TIMEOUT_MS + 60_000,
  );
});
