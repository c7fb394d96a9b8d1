/**
 * The app as an operator runs it: `npm run synth` (cdk synth) with no AWS credentials and
 * no Docker, then what it produced: function bundles that carry the desired state, load on
 * Node.js 24 and are granted exactly the SDK calls their code makes. An invalid phoenix.yaml
 * stops synth with its file:line:col messages.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVALUATOR_ACTIONS, REMEDIATION_ACTIONS } from '../../infra/drift-remediator';
import { allowedActions, resolve, statementsOfRole } from './helpers/iam';
import { scratchDir, type TemplateJson } from './helpers/synth';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SYNTH_TIMEOUT_MS = 240_000;

/** The environment of a machine with no AWS credentials and no Docker. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DOCKER: '/nonexistent/docker', CI: 'true' };
  for (const name of Object.keys(env)) {
    if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|ENDPOINT_URL)/.test(name))
      delete env[name];
  }
  return env;
}

function npmSynth(args: string[]): SpawnSyncReturns<string> {
  return spawnSync('npm', ['run', '--silent', 'synth', '--', ...args], {
    cwd: ROOT,
    env: offlineEnv(),
    encoding: 'utf8',
    timeout: SYNTH_TIMEOUT_MS,
  });
}

describe('npm run synth with an invalid phoenix.yaml', () => {
  it(
    'exits non-zero and prints every problem as file:line:col',
    () => {
      const dir = scratchDir('bad');
      const file = path.join(dir, 'phoenix.yaml');
      writeFileSync(
        file,
        [
          'version: 1',
          'fleets:',
          '  web:',
          '    match: { autoScalingGroup: web-prod }',
          '    launchTemplate: { name: web-lt }',
          '    colour: blue',
          '  Reporting:',
          '    match: { autoScalingGroup: reporting }',
          '    launchTemplate: { name: reporting-lt }',
          '',
        ].join('\n'),
      );

      const run = npmSynth(['-c', `phoenix:desiredStatePath=${file}`, '-o', path.join(dir, 'out')]);

      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`${file}:6:5 `);
      expect(run.stderr).toMatch(/colour/);
      expect(run.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7:\\d+ `));
      expect(existsSync(path.join(dir, 'out', 'Phoenix.template.json'))).toBe(false);
    },
    SYNTH_TIMEOUT_MS,
  );
});

describe('npm run synth', () => {
  let out: string;
  let run: SpawnSyncReturns<string>;
  let template: TemplateJson;

  beforeAll(() => {
    out = scratchDir('synth');
    run = npmSynth(['-o', out]);
    if (run.status === 0)
      template = JSON.parse(readFileSync(path.join(out, 'Phoenix.template.json'), 'utf8'));
  }, SYNTH_TIMEOUT_MS);

  it('succeeds offline, without credentials or Docker, cdk-nag packs included', () => {
    expect(run.stderr).not.toMatch(/AwsSolutions-|Serverless-/);
    expect(run.status, run.stderr).toBe(0);
  });

  /** The function whose Role is the role with this logical-id prefix, and its bundle directory. */
  function bundleOf(rolePrefix: string): { dir: string; roleId: string } {
    const fn = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        resolve((r.Properties?.Role as unknown) ?? '').startsWith(`<${rolePrefix}`),
    );
    const code = fn?.Properties?.Code as { S3Key: unknown } | undefined;
    if (fn === undefined || code === undefined) throw new Error(`no function with role ${rolePrefix}`);
    const hash = resolve(code.S3Key).replace(/\.zip$/, '');
    const roleId = resolve(fn.Properties?.Role).slice(1).split('.')[0] ?? '';
    return { dir: path.join(out, `asset.${hash}`), roleId };
  }

  const FUNCTIONS = [
    ['evaluator', 'PhoenixEvaluatorRole', EVALUATOR_ACTIONS, 'functions/evaluate-drift/handler.ts'],
    [
      'remediation steps',
      'PhoenixRemediationStepsRole',
      REMEDIATION_ACTIONS,
      'functions/remediation/handler.ts',
    ],
  ] as const;

  it.each(FUNCTIONS)(
    'bundles the %s as minified ESM with a source map and the desired state inlined',
    (_n, role) => {
      const { dir } = bundleOf(role);
      const code = readFileSync(path.join(dir, 'index.mjs'), 'utf8');
      const provenance = /provenance:\{[^}]*sha256:"([0-9a-f]{64})"/.exec(code);
      const sweep = Object.values(template.Resources).find((r) => r.Type === 'Custom::PhoenixBaselineSweep');
      expect(provenance?.[1]).toBe(sweep?.Properties?.DesiredStateSha256);
      expect(provenance?.[1]).toMatch(/^[0-9a-f]{64}$/);
      expect(existsSync(path.join(dir, 'index.mjs.map'))).toBe(true);
      // Minified: long lines (readable output averages well under 100 characters a line).
      expect(code.length / code.split('\n').length).toBeGreaterThan(1_000);
      // ESM that can still require() the CommonJS modules esbuild leaves as require calls.
      expect(code.startsWith("import { createRequire as __phoenixCreateRequire } from 'node:module';")).toBe(
        true,
      );
    },
  );

  it.each(FUNCTIONS)(
    'loads the %s bundle on Node.js and reads its desired state at cold start',
    (_n, role) => {
      const { dir } = bundleOf(role);
      const probe = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(pathToFileURL(path.join(dir, 'index.mjs')).href)}); console.log(typeof m.handler);`,
        ],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'eu-central-1',
            PHOENIX_TABLE_NAME: 'phoenix-state',
            PHOENIX_TOPIC_ARN: 'arn:aws:sns:eu-central-1:123456789012:phoenix',
            PHOENIX_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:123456789012:stateMachine:phoenix',
          },
        },
      );
      expect(probe.stderr).toBe('');
      expect(probe.stdout.trim()).toBe('function');
    },
  );

  it.each(FUNCTIONS)(
    'grants the %s exactly the SDK calls its bundled code makes',
    async (_n, role, declared, entry) => {
      const { roleId } = bundleOf(role);
      // esbuild's own account of the sources that go into the bundle (the same entry, resolved the same way).
      const { metafile } = await build({
        entryPoints: [entry],
        absWorkingDir: ROOT,
        bundle: true,
        platform: 'node',
        format: 'esm',
        mainFields: ['module', 'main'],
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      const used = new Set<string>();
      for (const input of Object.keys(metafile.inputs).filter((p) => /^functions\/.*\.ts$/.test(p))) {
        for (const action of sdkActionsIn(readFileSync(path.join(ROOT, input), 'utf8'))) used.add(action);
      }
      const granted = allowedActions(statementsOfRole(template, roleId)).filter((a) => !INFRA_ACTIONS.has(a));
      // A launch is also authorized as what it implies: tags set at launch as ec2:CreateTags
      // (bound to ec2:CreateAction=RunInstances), a `resolve:ssm:` image id as ssm:GetParameters.
      const tagOnLaunch = used.has('ec2:RunInstances') ? ['ec2:CreateTags', 'ssm:GetParameters'] : [];
      expect([...new Set([...used, ...tagOnLaunch])].sort()).toEqual(granted);
      expect([...new Set([...declared, ...tagOnLaunch])].sort()).toEqual(granted);
    },
  );
});

describe('the SDK calls a source file makes, as IAM actions', () => {
  it('are its command imports, a transaction counting as every item action IAM authorizes it by', () => {
    const source = [
      "import { type AttributeValue, BatchGetItemCommand, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';",
      "import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';",
      "import type { Instance } from '@aws-sdk/client-ec2';",
    ].join('\n');
    expect(sdkActionsIn(source).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'ec2:TerminateInstances',
    ]);
  });
});

/** What infra adds to every function role, whatever its code: logs, traces, DLQ, the topic key. */
const INFRA_ACTIONS = new Set([
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'sqs:SendMessage',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'kms:GenerateDataKey',
  'kms:Decrypt',
]);

const IAM_PREFIX: Record<string, string> = {
  'client-ec2': 'ec2',
  'client-auto-scaling': 'autoscaling',
  'client-elastic-load-balancing-v2': 'elasticloadbalancing',
  'client-dynamodb': 'dynamodb',
  'client-sns': 'sns',
  'client-sqs': 'sqs',
  'client-sfn': 'states',
  'client-config-service': 'config',
  'client-cloudwatch': 'cloudwatch',
};

/**
 * Commands IAM does not authorize by their own name but per item action: a
 * TransactWriteItems needs the action of each item it may carry (Put, Delete, Update,
 * ConditionCheck), a TransactGetItems GetItem. Any other command is its own action
 * (`BatchGetItemCommand` is `dynamodb:BatchGetItem`).
 */
const ITEM_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  'dynamodb:TransactWriteItems': [
    'dynamodb:PutItem',
    'dynamodb:DeleteItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
  'dynamodb:TransactGetItems': ['dynamodb:GetItem'],
};

/**
 * `ec2:TerminateInstances` for every `TerminateInstancesCommand` a source file imports (value
 * imports only), or the item actions of a transaction.
 */
function sdkActionsIn(source: string): string[] {
  const actions: string[] = [];
  for (const match of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/(client-[a-z0-9-]+)'/g)) {
    const [, names = '', client = ''] = match;
    const prefix = IAM_PREFIX[client];
    if (prefix === undefined) throw new Error(`no IAM prefix known for @aws-sdk/${client}`);
    for (const raw of names.split(',')) {
      const name = raw.trim();
      const command = /^([A-Z][A-Za-z0-9]+)Command$/.exec(name);
      if (command?.[1] === undefined) continue;
      const action = `${prefix}:${command[1]}`;
      actions.push(...(ITEM_ACTIONS[action] ?? [action]));
    }
  }
  return actions;
}
