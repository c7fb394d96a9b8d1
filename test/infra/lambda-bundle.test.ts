/**
 * The Lambda bundles as CDK deploys them: built by `bundleLambda` (infra/parts/lambda-bundle.ts,
 * the one function synth, the benchmark and this test use), the SDK trimmed, loaded in a fresh
 * Node.js 24 process with a Lambda's environment and invoked with a real event against the
 * emulated account. Proof that the trimmed SDK still serialises and parses every call the
 * handlers make: EC2 and Auto Scaling (XML), DynamoDB, SNS and Step Functions on moto, and
 * AWS Config's PutEvaluations on a stand-in (moto takes it only in TestMode, EMULATOR.md).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import { App, type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contributedInputs } from '../../bench/lib/bundle';
import { seedDriftedAsgFleet } from '../../emulator/seed';
import { createStateTable } from '../../emulator/table';
import type { PhoenixClients } from '../../functions/aws/clients';
import type { CompiledDesiredState } from '../../functions/domain/model';
import { PhoenixService } from '../../functions/runtime/metric-names';
import { LambdaBundleError } from '../../infra/errors';
import { PhoenixFunction } from '../../infra/parts/functions';
import {
  type BuiltBundle,
  bundleLambda,
  bundleLambdaSync,
  desiredStateDefine,
  LAZY_CREDENTIAL_LINKS,
  NOT_BUNDLED_CREDENTIALS,
  PROJECT_ROOT,
  resolveSchemaKeys,
} from '../../infra/parts/lambda-bundle';
import { fixture } from '../evaluate-drift/harness';
import { compileYaml } from '../helpers/account';
import {
  emulatorEndpoint,
  resetEmulator,
  TEST_CREDENTIALS,
  TEST_REGION,
  testClients,
} from '../helpers/emulator';
import { remediationInput, TEST_TIMINGS } from '../remediation/harness';

const STATE = compileYaml(
  `
version: 1
defaults: { mode: enforce }
fleets:
  web:
    match: { autoScalingGroup: web-asg }
    launchTemplate: { name: web-lt, version: $Default }
    tags: { Owner: team-web }
    team: web
`,
  { commit: 'bundle0smoke', sha256: 'b'.repeat(64) },
);

const TABLE = 'phoenix-bundle-smoke';
const RESULT_MARK = 'PHOENIX-BUNDLE-RESULT ';

/** Imports the bundle, invokes its handler once with a Lambda-like context, prints the answer on one marked line. */
const INVOKE = `
const { handler } = await import(process.env.BUNDLE_URL);
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '1', awsRequestId: 'bundle-smoke-1',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME + ':live',
  memoryLimitInMB: '256', logGroupName: 'smoke', logStreamName: 'smoke', callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60000,
};
let answer;
try {
  answer = { ok: true, result: await handler(JSON.parse(process.env.BUNDLE_EVENT), context) };
} catch (error) {
  answer = { ok: false, name: error?.name, message: error?.message };
}
process.stdout.write('\\n${RESULT_MARK}' + JSON.stringify(answer) + '\\n');
`;

type Answer = { ok: true; result: unknown } | { ok: false; name: string; message: string };

/** AWS Config's PutEvaluations, as a stand-in records it. */
interface ConfigCall {
  target: string;
  body: {
    ResultToken?: string;
    Evaluations?: Array<{ ComplianceResourceId: string; ComplianceType: string }>;
  };
}

let scratch: string;
let clients: PhoenixClients;
let topicArn: string;
let stateMachineArn: string;
let fleet: Awaited<ReturnType<typeof seedDriftedAsgFleet>>;
const bundles: Record<'evaluator' | 'steps', BuiltBundle | undefined> = {
  evaluator: undefined,
  steps: undefined,
};
let configStandIn: Server;
const configCalls: ConfigCall[] = [];

function bundleOf(which: 'evaluator' | 'steps'): BuiltBundle {
  const bundle = bundles[which];
  if (bundle === undefined) throw new Error(`the ${which} bundle was not built`);
  return bundle;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'phoenix-lambda-bundle-'));
  await resetEmulator();
  clients = testClients();
  fleet = await seedDriftedAsgFleet(clients, { name: 'web', desired: 2, max: 3 });
  await createStateTable(clients.dynamodb, TABLE);
  topicArn =
    (await clients.sns.send(new CreateTopicCommand({ Name: 'phoenix-bundle-smoke' }))).TopicArn ?? '';
  const machine = await clients.sfn.send(
    new CreateStateMachineCommand({
      name: 'phoenix-remediate-instance',
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      roleArn: 'arn:aws:iam::123456789012:role/phoenix-remediation',
    }),
  );
  stateMachineArn = machine.stateMachineArn ?? '';

  configStandIn = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      configCalls.push({ target: String(request.headers['x-amz-target']), body: JSON.parse(body) });
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ FailedEvaluations: [] }));
    });
  });
  await new Promise<void>((resolve) => configStandIn.listen(0, '127.0.0.1', resolve));

  const define = desiredStateDefine(STATE);
  bundles.evaluator = await bundleLambda({
    entry: 'functions/evaluate-drift/handler.ts',
    outdir: path.join(scratch, 'evaluator'),
    define,
  });
  bundles.steps = await bundleLambda({
    entry: 'functions/remediation/handler.ts',
    outdir: path.join(scratch, 'steps'),
    define,
  });
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => configStandIn?.close(resolve));
  await rm(scratch, { recursive: true, force: true });
});

/** What Lambda's environment holds for the function (the role's credentials included), pointed at the emulator. */
function lambdaEnv(service: string): Record<string, string> {
  const config = configStandIn.address() as AddressInfo;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_REGION: TEST_REGION,
    AWS_DEFAULT_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'bundle-smoke-session',
    AWS_ENDPOINT_URL: emulatorEndpoint(),
    AWS_ENDPOINT_URL_CONFIG_SERVICE: `http://127.0.0.1:${config.port}`,
    AWS_LAMBDA_FUNCTION_NAME: service,
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: 'Phoenix',
    LOG_LEVEL: 'WARN',
    PHOENIX_TABLE_NAME: TABLE,
    PHOENIX_TOPIC_ARN: topicArn,
    PHOENIX_STATE_MACHINE_ARN: stateMachineArn,
  };
}

/** Invokes a bundle's handler once in a fresh Node.js process (asynchronously: the stand-in must keep answering). */
async function invoke(
  bundle: BuiltBundle,
  event: unknown,
  env: Record<string, string | undefined>,
): Promise<Answer> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', INVOKE], {
    env: { ...env, BUNDLE_URL: pathToFileURL(bundle.file).href, BUNDLE_EVENT: JSON.stringify(event) },
    encoding: 'utf8',
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (line === undefined) throw new Error(`the bundle printed no answer:\n${stdout}`);
  return JSON.parse(line.slice(RESULT_MARK.length)) as Answer;
}

describe('the evaluator bundle, invoked like Lambda against the emulated account', () => {
  it('on a scheduled Config notification judges the fleet, records every evaluation and starts a remediation per drifted instance', async () => {
    const event = fixture('config-scheduled');
    const drifted = [...fleet.group.instanceIds].sort();

    const answer = await invoke(bundleOf('evaluator'), event, lambdaEnv(PhoenixService.evaluator));

    expect(answer).toMatchObject({
      ok: true,
      result: { judged: 2, nonCompliant: 2, remediationsStarted: 2 },
    });
    expect(configCalls.map((c) => c.target)).toEqual(['StarlingDoveService.PutEvaluations']);
    const [put] = configCalls;
    expect(put?.body.ResultToken).toBe(event.resultToken);
    expect(
      (put?.body.Evaluations ?? []).map((e) => [e.ComplianceResourceId, e.ComplianceType]).sort(),
    ).toEqual(drifted.map((id) => [id, 'NON_COMPLIANT']));
    const listed = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    const inputs = await Promise.all(
      (listed.executions ?? []).map(async (e) => {
        const described = await clients.sfn.send(
          new DescribeExecutionCommand({ executionArn: e.executionArn }),
        );
        return JSON.parse(described.input ?? '{}') as { instanceId?: string; desiredState?: unknown };
      }),
    );
    expect(inputs.map((i) => i.instanceId).sort()).toEqual(drifted);
    expect(inputs[0]?.desiredState).toEqual({ revision: STATE.revision, commit: 'bundle0smoke' });
  });
});

describe('the remediation steps bundle, invoked like Lambda against the emulated account', () => {
  const stepEvent = async () => {
    const [instanceId = ''] = fleet.group.instanceIds;
    const data = await remediationInput(clients, STATE, instanceId, new Date(), TEST_TIMINGS);
    return {
      step: 'recheck',
      executionId: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:bundle-smoke`,
      startedAt: new Date().toISOString(),
      data,
    };
  };

  it('rechecks a drifted Auto Scaling member and lets its remediation go on, with what it read', async () => {
    const answer = await invoke(bundleOf('steps'), await stepEvent(), lambdaEnv(PhoenixService.remediation));

    expect(answer).toMatchObject({
      ok: true,
      result: {
        decision: 'proceed',
        reason: 'drifted',
        snapshot: {
          instance: { launchedFromTemplate: true, vpcId: fleet.network.vpcId, autoScalingGroup: 'web-asg' },
          group: { desired: 2 },
        },
      },
    });
  });

  it('without the execution role credentials in its environment, fails saying which credentials it reads', async () => {
    const env: Record<string, string | undefined> = { ...lambdaEnv(PhoenixService.remediation) };
    delete env.AWS_ACCESS_KEY_ID;
    delete env.AWS_SECRET_ACCESS_KEY;
    delete env.AWS_SESSION_TOKEN;
    // Nor may the machine's own configuration or metadata service stand in for them.
    env.AWS_CONFIG_FILE = path.join(scratch, 'no-config');
    env.AWS_SHARED_CREDENTIALS_FILE = path.join(scratch, 'no-credentials');
    env.AWS_EC2_METADATA_DISABLED = 'true';

    const answer = await invoke(bundleOf('steps'), await stepEvent(), env);

    expect(answer.ok).toBe(false);
    expect(answer.ok === false && answer.message).toContain(NOT_BUNDLED_CREDENTIALS);
  });
});

describe('bundleLambda trims the SDK', () => {
  it.each(['evaluator', 'steps'] as const)(
    'the %s bundle holds none of the credential links Lambda never runs, nor the STS and SSO clients they carry',
    (which) => {
      const packages = sourcesOf(bundleOf(which).metafile);
      for (const pkg of [...Object.keys(LAZY_CREDENTIAL_LINKS), '@aws-sdk/nested-clients']) {
        expect(packages.some((p) => p.includes(`node_modules/${pkg}/`))).toBe(false);
      }
      // The link that does run is there.
      expect(packages.some((p) => p.includes('node_modules/@aws-sdk/credential-provider-env/'))).toBe(true);
    },
  );

  it.each(['evaluator', 'steps'] as const)(
    "the %s bundle holds each SDK client's package.json as its version only",
    (which) => {
      const packageJsons = contributedInputs(bundleOf(which).metafile).filter((i) =>
        /node_modules\/@aws-sdk\/[^/]+\/package\.json$/.test(i.path),
      );
      expect(packageJsons.length).toBeGreaterThan(2);
      // `{version:"3.x.y"}` minified, where the whole file was about 2 KiB.
      for (const { path: file, bytes } of packageJsons) expect([file, bytes < 40]).toEqual([file, true]);
    },
  );

  it('gives the version the SDK puts in its user agent, the one field of its package.json its code reads', async () => {
    const sdk = path.join(PROJECT_ROOT, 'node_modules', '@aws-sdk');
    const read = new Set<string>();
    for (const pkg of readdirSync(sdk)) {
      const dist = path.join(sdk, pkg, 'dist-es');
      if (!existsSync(dist)) continue;
      for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
        if (!file.endsWith('.js')) continue;
        for (const m of readFileSync(path.join(dist, file), 'utf8').matchAll(/packageInfo\.(\w+)/g))
          read.add(m[1] ?? '');
      }
    }
    expect([...read]).toEqual(['version']);

    const entry = path.join(scratch, 'sfn-version.mjs');
    // As a client's runtime config imports it: by its path, a default import.
    const packageJson = path.join(sdk, 'client-sfn', 'package.json');
    writeFileSync(
      entry,
      `import info from ${JSON.stringify(packageJson)};\nconsole.log(JSON.stringify(info));\n`,
    );
    const built = await bundleLambda({ entry, outdir: path.join(scratch, 'sfn-version') });
    const { stdout } = await promisify(execFile)(process.execPath, [built.file], { encoding: 'utf8' });
    const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
    expect(JSON.parse(stdout)).toEqual({ version });
  });

  it('and is not what esbuild alone would build: the same entry untrimmed is far heavier', async () => {
    const untrimmed = await bundleLambda({
      entry: 'functions/remediation/handler.ts',
      outdir: path.join(scratch, 'steps-untrimmed'),
      define: desiredStateDefine(STATE),
      trimSdk: false,
    });
    expect(bundleOf('steps').bytes).toBeLessThan(untrimmed.bytes * 0.6);
    expect(
      sourcesOf(untrimmed.metafile).some((p) => p.includes('node_modules/@aws-sdk/nested-clients/')),
    ).toBe(true);
  });
});

describe('resolveSchemaKeys', () => {
  it('replaces computed keys naming string constants with the literal keys', () => {
    const source = [
      'const _eQN = "ec2QueryName";',
      'const _xN = "xmlName";',
      'export var A$ = [3, n0, _A, 0, [_M], [[1, { [_eQN]: `Min`, [_xN]: _m }]]];',
    ].join('\n');
    expect(resolveSchemaKeys(source)).toContain('{ "ec2QueryName": `Min`, "xmlName": _m }');
  });

  it('leaves a computed key it cannot resolve, and everything else, as it was', () => {
    const source = 'const _a = "a";\nexport var B$ = [{ [_unknown]: 1 }, _a, x[_a]];';
    expect(resolveSchemaKeys(source)).toBe(source);
  });
});

describe('bundleLambdaSync (what CDK calls at synth)', () => {
  it("fails with esbuild's own message, naming the entry", () => {
    const build = () =>
      bundleLambdaSync({ entry: 'functions/no-such-handler.ts', outdir: path.join(scratch, 'missing') });
    expect(build).toThrow(LambdaBundleError);
    expect(build).toThrow(/cannot bundle functions\/no-such-handler\.ts:[\s\S]*Could not resolve/);
  });
});

describe('CDK local bundling', () => {
  it('gives two functions of one entry with different desired states each its own bundle', () => {
    const app = new App({ outdir: path.join(scratch, 'cdk.out') });
    const other = compileYaml(
      'version: 1\nfleets:\n  api:\n    match: { tags: { App: api } }\n    launchTemplate: { name: api-lt }\n',
      { commit: 'other0state', sha256: 'c'.repeat(64) },
    );
    const stack = new Stack(app, 'Bundles');
    const functionOf = (id: string, desiredState: CompiledDesiredState) =>
      new PhoenixFunction(stack, id, {
        entry: 'functions/remediation/handler.ts',
        serviceName: PhoenixService.remediation,
        purpose: 'bundling test',
        desiredState,
        environment: {},
        memorySize: 256,
        timeout: Duration.minutes(1),
        logRetention: RetentionDays.ONE_DAY,
        removalPolicy: RemovalPolicy.DESTROY,
        logLevel: 'WARN',
        synchronousOnlyReason: 'Only this test invokes it, never asynchronously.',
      });
    const first = functionOf('First', STATE);
    const second = functionOf('Second', other);
    const assembly = app.synth();

    const bundleText = (fn: PhoenixFunction): string => {
      const resource = assembly.getStackByName('Bundles').template.Resources[
        stack.getLogicalId(fn.function.node.defaultChild as CfnElement)
      ] as { Properties: { Code: { S3Key: string } } };
      const hash = resource.Properties.Code.S3Key.replace(/\.zip$/, '');
      return readFileSync(path.join(assembly.directory, `asset.${hash}`, 'index.mjs'), 'utf8');
    };
    expect(bundleText(first)).toContain('bundle0smoke');
    expect(bundleText(second)).toContain('other0state');
    expect(bundleText(second)).not.toContain('bundle0smoke');
  }, 240_000);
});

/** The input files that put code into a bundle. */
function sourcesOf(metafile: Metafile): string[] {
  return contributedInputs(metafile).map((i) => i.path);
}
