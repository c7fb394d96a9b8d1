/**
 * The installable package, as another team gets it: `npm pack` (which compiles dist/), the
 * tarball installed into a fresh project from the local npm cache (no network; the
 * repository's own `npm ci` filled the cache), and then what that team would run: the
 * installed `phoenix` command (`validate`, `plan` and `reconcile` against the emulated
 * account), a `cdk synth` of a tiny app with `new DriftRemediator(this, 'Phoenix', {
 * desiredStatePath: 'phoenix.yaml' })`, and its TypeScript type-checked against the
 * package's declarations. No tsx and no devDependency is installed, so none can be used.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { desiredStateYaml, type SeededEstate, seedEstate } from '../evaluate-drift/world';
import {
  emulatorEndpoint,
  resetEmulator,
  TEST_CREDENTIALS,
  TEST_REGION,
  testClients,
} from '../helpers/emulator';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 300_000;

const run = promisify(execFile);

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  optional?: boolean;
  [key: string]: unknown;
}

interface Lockfile {
  packages: Record<string, LockEntry>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** Where Node.js would find `name` from the package installed at `from` (a lockfile path), as the lockfile lays it out. */
function resolveIn(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const at = base.lastIndexOf('/node_modules/');
    base = at === -1 ? '' : base.slice(0, at);
  }
}

/**
 * The consumer's lockfile: the repository's own entries (same versions, same integrity, so
 * npm finds each in its cache by hash) for everything the package and its peers need, and
 * nothing the repository only develops with. npm resolves version ranges from registry
 * metadata, which `npm ci` never caches; with these entries it needs none.
 */
function consumerLock(peers: Record<string, string>): Lockfile & Record<string, unknown> {
  const lock = readJson<Lockfile>(path.join(ROOT, 'package-lock.json'));
  const manifest = readJson<{ dependencies: Record<string, string> }>(path.join(ROOT, 'package.json'));
  const needed = new Map<string, LockEntry>();
  const queue = [...Object.keys(manifest.dependencies), ...Object.keys(peers)].map((n) =>
    resolveIn(lock, '', n),
  );
  for (let next = queue.pop(); next !== undefined || queue.length > 0; next = queue.pop()) {
    if (next === undefined || needed.has(next)) continue;
    const entry = lock.packages[next];
    if (entry === undefined) continue;
    needed.set(next, entry);
    for (const deps of [entry.dependencies, entry.optionalDependencies, entry.peerDependencies]) {
      for (const name of Object.keys(deps ?? {})) queue.push(resolveIn(lock, next, name));
    }
  }
  const packages: Record<string, LockEntry> = { '': { name: 'consumer', dependencies: peers } };
  for (const [at, entry] of [...needed].sort(([a], [b]) => a.localeCompare(b))) {
    const { dev: _dev, devOptional, peer: _peer, ...rest } = entry;
    packages[at] = devOptional === true ? { ...rest, optional: true } : rest;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

/** A machine with no AWS credentials of its own and no Docker; the commands get the emulator's explicitly. */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_DOCKER: '/nonexistent/docker',
    CI: 'true',
    // Node.js 24 first (the pinned one that runs the tests), as `npx` would.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    ...extra,
  };
  for (const name of Object.keys(env)) {
    if (/^AWS_/.test(name) && !(name in extra)) delete env[name];
  }
  return env;
}

let work: string;
let consumer: string;
let tarball: string;
let estate: SeededEstate;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'phoenix-package-'));
  consumer = path.join(work, 'consumer');
  await mkdir(consumer);

  // `npm pack` compiles dist/ (prepack) and removes it again (postpack).
  await run('npm', ['pack', '--pack-destination', work], {
    cwd: ROOT,
    env: environment(),
    timeout: STEP_TIMEOUT_MS,
  });
  const [name] = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  if (name === undefined) throw new Error(`npm pack wrote no tarball into ${work}`);
  tarball = path.join(work, name);

  const lock = readJson<Lockfile>(path.join(ROOT, 'package-lock.json'));
  const peers = Object.fromEntries(
    ['aws-cdk-lib', 'constructs'].map((n) => [n, lock.packages[`node_modules/${n}`]?.version ?? '']),
  );
  await writeFile(
    path.join(consumer, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: peers, allowScripts: { esbuild: true } }, null, 2)}\n`,
  );
  await writeFile(
    path.join(consumer, 'package-lock.json'),
    `${JSON.stringify(consumerLock(peers), null, 2)}\n`,
  );
  try {
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], {
      cwd: consumer,
      env: environment(),
      timeout: STEP_TIMEOUT_MS,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? error);
    const missing = /ENOTCACHED[\s\S]*?request to (\S+) failed/.exec(stderr)?.[1];
    throw new Error(
      missing === undefined
        ? `npm install of the packed tarball failed:\n${stderr}`
        : `the package needs ${missing}, which is not in the local npm cache: run \`npm ci\` in the repository (it fills the cache with every package of its lockfile), then this test again`,
    );
  }

  await resetEmulator();
  estate = await seedEstate(testClients());
  await writeFile(path.join(consumer, 'phoenix.yaml'), desiredStateYaml('enforce'));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** Runs the installed `phoenix` bin in the consumer project; never throws on a non-zero exit. */
async function phoenix(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = environment({
    AWS_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  });
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(consumer, 'node_modules/.bin/phoenix'), ...args],
      {
        cwd: consumer,
        env,
        timeout: STEP_TIMEOUT_MS,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('the packed package, installed into a fresh project from the npm cache', () => {
  it('holds compiled JavaScript with types, and installs no devDependency', () => {
    const installed = path.join(consumer, 'node_modules/phoenix-drift-remediator');
    for (const file of ['dist/functions/cli/main.js', 'dist/infra/index.js', 'dist/infra/index.d.ts']) {
      expect(existsSync(path.join(installed, file)), file).toBe(true);
    }
    for (const devOnly of [
      'tsx',
      'typescript',
      'vitest',
      'aws-sdk-client-mock',
      'cdk-nag',
      '@biomejs/biome',
    ]) {
      expect(existsSync(path.join(consumer, 'node_modules', devOnly)), devOnly).toBe(false);
    }
    // The checkout keeps running its sources: packing left no compiled copy behind.
    expect(existsSync(path.join(ROOT, 'dist'))).toBe(false);
  });

  it('phoenix validate: a valid file passes, an invalid one is refused at its line and column', async () => {
    const valid = await phoenix('validate', 'phoenix.yaml');
    expect(valid).toMatchObject({ code: 0, stderr: '' });
    expect(valid.stdout).toMatch(/^phoenix\.yaml: valid \(2 fleets, revision [0-9a-f]{12}\)/);

    await writeFile(path.join(consumer, 'broken.yaml'), 'version: 1\nfleets:\n  web:\n    mach: {}\n');
    const invalid = await phoenix('validate', 'broken.yaml');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /^broken\.yaml:4:5 fleets\.web: unknown key "mach"; did you mean "match"\?/m,
    );
  });

  it(
    'phoenix plan against the emulated account shows the drift and exits 2',
    async () => {
      const plan = await phoenix('plan', '--desired-state', 'phoenix.yaml', '--endpoint', emulatorEndpoint());

      expect(plan.stderr).toBe('');
      expect(plan.code).toBe(2);
      expect(plan.stdout).toContain(estate.web.handChanged);
      expect(plan.stdout).toMatch(
        /Summary: 7 instances in 2 fleets: 3 drifted, 3 in sync, 1 excluded, 0 not applicable, 0 outside\. Enforcement would replace 3 now\./,
      );
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'phoenix reconcile runs the state machine locally (aws-local-stepfunctions, a dependency now) until the estate converges',
    async () => {
      const reconcile = await phoenix(
        'reconcile',
        '--desired-state',
        'phoenix.yaml',
        '--endpoint',
        emulatorEndpoint(),
        '--format',
        'json',
      );

      expect(reconcile.code, reconcile.stderr).toBe(0);
      expect(JSON.parse(reconcile.stdout)).toMatchObject({
        converged: true,
        summary: { fleets: 2, driftFound: 3, replaced: 3 },
      });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'cdk synth of an app with new DriftRemediator(this, "Phoenix", { desiredStatePath }) bundles both functions with the file inlined, and its TypeScript checks against the declarations',
    async () => {
      await writeFile(
        path.join(consumer, 'app.mjs'),
        [
          "import { App, Stack } from 'aws-cdk-lib';",
          "import { DriftRemediator } from 'phoenix-drift-remediator';",
          '',
          'const app = new App();',
          "new DriftRemediator(new Stack(app, 'Consumer'), 'Phoenix', { desiredStatePath: 'phoenix.yaml' });",
          '',
        ].join('\n'),
      );
      await writeFile(
        path.join(consumer, 'cdk.json'),
        JSON.stringify({
          app: `${process.execPath} app.mjs`,
          notices: false,
          versionReporting: false,
          context: { 'cli-telemetry': false },
        }),
      );
      await writeFile(
        path.join(consumer, 'app.ts'),
        [
          "import { App, Stack } from 'aws-cdk-lib';",
          "import { DriftRemediator, type DriftRemediatorProps } from 'phoenix-drift-remediator';",
          '',
          "const props: DriftRemediatorProps = { desiredStatePath: 'phoenix.yaml', sweepFrequency: 'Six_Hours' };",
          "const remediator = new DriftRemediator(new Stack(new App(), 'Consumer'), 'Phoenix', props);",
          'export const name: string = remediator.stateMachineName;',
          '// @ts-expect-error: the sweep frequencies come from a module the entry imports; a wrong one must not compile.',
          "export const wrong: DriftRemediatorProps = { desiredStatePath: 'phoenix.yaml', sweepFrequency: 'Hourly' };",
          '',
        ].join('\n'),
      );
      await writeFile(
        path.join(consumer, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2023',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: [],
          },
          files: ['app.ts'],
        }),
      );
      const out = path.join(consumer, 'cdk.out');

      // Independent: run side by side.
      const [synth, typecheck] = await Promise.allSettled([
        run(
          process.execPath,
          [path.join(ROOT, 'node_modules/aws-cdk/bin/cdk'), 'synth', '--quiet', '-o', out],
          {
            cwd: consumer,
            env: environment(),
            timeout: STEP_TIMEOUT_MS,
          },
        ),
        run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
          cwd: consumer,
          env: environment(),
          timeout: STEP_TIMEOUT_MS,
        }),
      ]);

      expect(typecheck.status === 'rejected' ? String(typecheck.reason) : 'ok').toBe('ok');
      expect(synth.status === 'rejected' ? String(synth.reason) : 'ok').toBe('ok');
      const template = readJson<{
        Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      }>(path.join(out, 'Consumer.template.json'));
      // Phoenix's two functions (the baseline sweep's custom resource has a function of CDK's own).
      const functions = Object.values(template.Resources).filter(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          JSON.stringify(r.Properties?.Environment ?? {}).includes('PHOENIX_DESIRED_STATE_REVISION'),
      );
      const sha256 = createHash('sha256')
        .update(readFileSync(path.join(consumer, 'phoenix.yaml')))
        .digest('hex');
      const bundles = functions
        .map((fn) => (fn.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key)
        .filter((key): key is string => typeof key === 'string')
        .map((key) =>
          readFileSync(path.join(out, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8'),
        );
      // The evaluator and the steps, each carrying the consumer's phoenix.yaml and where it came from.
      expect(bundles).toHaveLength(2);
      for (const code of bundles) {
        expect(code).toContain(`provenance:{commit:"unknown",path:"phoenix.yaml",sha256:"${sha256}"}`);
      }
    },
    STEP_TIMEOUT_MS,
  );
});
