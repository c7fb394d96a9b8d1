import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { memoryIo } from '../../functions/cli/io';
import { main } from '../../functions/cli/main';
import {
  type Answer,
  closedPort,
  type FakeEndpoint,
  HTML_PAGE,
  jsonError,
  queryError,
  startFakeEndpoint,
} from '../helpers/fake-endpoint';

/**
 * A hostile user at the command line: every bad flag, file and AWS answer a command can
 * meet ends with one line on standard error that names what is wrong, exit 1, nothing on
 * standard output, no stack trace. Flag errors must not reach AWS: every case points the
 * commands at an endpoint that counts requests, and the count must stay 0.
 */

const DESIRED = 'examples/minimal.yaml';
const ONE_LINE = /^[^\n]+\n$/;

let endpoint: FakeEndpoint;
let dir: string;

/** Runs `phoenix …` through the dispatcher, as the binary does. */
async function phoenix(argv: string[], env: Record<string, string | undefined> = {}) {
  const io = memoryIo({ env: { AWS_ENDPOINT_URL: endpoint.url, AWS_REGION: 'us-east-1', ...env } });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

function expectOneLine(result: { code: number; out: string; err: string }, message: RegExp): void {
  expect(result.err).toMatch(message);
  expect(result.err).toMatch(ONE_LINE);
  expect(result.err).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
  expect(result.out).toBe('');
  expect(result.code).toBe(1);
}

beforeAll(async () => {
  endpoint = await startFakeEndpoint();
  dir = await mkdtemp(path.join(tmpdir(), 'phoenix-bad-input-'));
});

afterAll(async () => {
  await endpoint.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  endpoint.reset();
  // The SDK reads the process environment: dummy credentials, and the counting endpoint.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
  vi.stubEnv('AWS_PROFILE', undefined);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ENDPOINT_URL', endpoint.url);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('bad flags: one line naming the flag, exit 1, no AWS call', () => {
  const at = (...argv: string[]) => [...argv, '--region', 'us-east-1', '--endpoint', endpoint.url];

  // [what, argv, message, env for the command]
  const cases: Array<[string, () => string[], RegExp, Record<string, string>?]> = [
    // Empty values are errors, never "not given" (issue 11, item 4).
    [
      'reconcile --table ""',
      () => at('reconcile', '--desired-state', DESIRED, '--table', ''),
      /^phoenix reconcile: --table is empty/,
    ],
    [
      'reconcile --table=',
      () => at('reconcile', '--desired-state', DESIRED, '--table='),
      /^phoenix reconcile: --table is empty/,
    ],
    ['plan --table ""', () => at('plan', '--desired-state', DESIRED, '--table', ''), /--table is empty/],
    ['plan --region ""', () => ['plan', '--desired-state', DESIRED, '--region', ''], /--region is empty/],
    [
      'plan --endpoint ""',
      () => ['plan', '--desired-state', DESIRED, '--endpoint', ''],
      /--endpoint is empty/,
    ],
    ['plan --format ""', () => at('plan', '--desired-state', DESIRED, '--format', ''), /--format is empty/],
    ['plan --desired-state ""', () => at('plan', '--desired-state', ''), /--desired-state is empty/],
    [
      'reconcile --topic-arn ""',
      () => at('reconcile', '--desired-state', DESIRED, '--topic-arn', ''),
      /--topic-arn is empty/,
    ],
    [
      'reconcile --concurrency ""',
      () => at('reconcile', '--desired-state', DESIRED, '--concurrency', ''),
      /--concurrency is empty/,
    ],
    [
      'pause --by ""',
      () => at('pause', '--table', 'phoenix-state', '--by', ''),
      /^phoenix pause: --by is empty/,
    ],
    ['resume --table ""', () => at('resume', '--table', ''), /^phoenix resume: --table is empty/],
    [
      'quarantine list --fleet ""',
      () => at('quarantine', 'list', '--fleet', '', '--table', 'tbl'),
      /--fleet is empty/,
    ],
    [
      'explain --instance-json ""',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', ''],
      /^phoenix explain: --instance-json is empty/,
    ],
    [
      'explain --now ""',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', 'x.json', '--now', ''],
      /--now is empty/,
    ],
    ['validate ""', () => ['validate', ''], /^phoenix validate: a file name is empty/],
    // Empty and malformed environment variables behind the flags.
    [
      'PHOENIX_TABLE_NAME=""',
      () => at('reconcile', '--desired-state', DESIRED),
      /^phoenix reconcile: PHOENIX_TABLE_NAME is set but empty/,
      { PHOENIX_TABLE_NAME: '' },
    ],
    [
      'PHOENIX_TABLE_NAME with a space',
      () => at('pause'),
      /^phoenix pause: PHOENIX_TABLE_NAME must be a DynamoDB table name/,
      { PHOENIX_TABLE_NAME: 'my table' },
    ],
    [
      'PHOENIX_TOPIC_ARN=""',
      () => at('reconcile', '--desired-state', DESIRED),
      /PHOENIX_TOPIC_ARN is set but empty/,
      { PHOENIX_TOPIC_ARN: '' },
    ],
    [
      'AWS_ENDPOINT_URL=notaurl',
      () => ['plan', '--desired-state', DESIRED],
      /^phoenix plan: AWS_ENDPOINT_URL must be an http:\/\/ or https:\/\/ URL .*not "notaurl"/,
      { AWS_ENDPOINT_URL: 'notaurl' },
    ],
    [
      'AWS_REGION=""',
      () => ['plan', '--desired-state', DESIRED],
      /AWS_REGION is set but empty/,
      { AWS_REGION: '' },
    ],
    // Malformed values (issue 11, item 6).
    [
      'plan --endpoint notaurl',
      () => ['plan', '--desired-state', DESIRED, '--endpoint', 'notaurl'],
      /^phoenix plan: --endpoint must be an http:\/\/ or https:\/\/ URL such as http:\/\/127\.0\.0\.1:5000, not "notaurl"$/m,
    ],
    [
      'plan --endpoint ftp://…',
      () => ['plan', '--desired-state', DESIRED, '--endpoint', 'ftp://127.0.0.1/'],
      /--endpoint must be an http/,
    ],
    [
      'plan --region "EU West"',
      () => ['plan', '--desired-state', DESIRED, '--region', 'EU West', '--endpoint', endpoint.url],
      /^phoenix plan: --region must be a region name such as eu-west-1 .*not "EU West"/,
    ],
    [
      'plan --format yaml',
      () => at('plan', '--desired-state', DESIRED, '--format', 'yaml'),
      /--format must be text, json or markdown, not "yaml"/,
    ],
    [
      'quarantine list --format markdown (only plan speaks markdown)',
      () => at('quarantine', 'list', '--format', 'markdown', '--table', 'tbl'),
      /--format must be text or json, not "markdown"/,
    ],
    [
      'plan --table "a b"',
      () => at('plan', '--desired-state', DESIRED, '--table', 'a b'),
      /--table must be a DynamoDB table name/,
    ],
    [
      'reconcile --max-rounds -1',
      () => at('reconcile', '--desired-state', DESIRED, '--max-rounds', '-1'),
      /^phoenix reconcile: --max-rounds must be a whole number ≥ 1, not "-1"$/m,
    ],
    [
      'reconcile --max-rounds 0',
      () => at('reconcile', '--desired-state', DESIRED, '--max-rounds', '0'),
      /--max-rounds must be a whole number/,
    ],
    [
      'reconcile --max-rounds 1.5',
      () => at('reconcile', '--desired-state', DESIRED, '--max-rounds', '1.5'),
      /--max-rounds must be a whole number/,
    ],
    [
      'reconcile --max-rounds 1e3',
      () => at('reconcile', '--desired-state', DESIRED, '--max-rounds', '1e3'),
      /--max-rounds must be a whole number/,
    ],
    [
      'reconcile --concurrency 0x10',
      () => at('reconcile', '--desired-state', DESIRED, '--concurrency', '0x10'),
      /--concurrency must be a whole number/,
    ],
    [
      'reconcile --topic-arn not-an-arn',
      () => at('reconcile', '--desired-state', DESIRED, '--topic-arn', 'not-an-arn'),
      /--topic-arn must be an SNS topic ARN/,
    ],
    [
      'reconcile --real-waits=yes',
      () => at('reconcile', '--desired-state', DESIRED, '--real-waits=yes'),
      /--real-waits takes no value, not "yes"/,
    ],
    [
      'pause --by with a line break',
      () => at('pause', '--table', 'phoenix-state', '--by', 'alice\nbob'),
      /--by must be a name of at most 128 characters on one line, not "alice\\nbob"/,
    ],
    [
      'quarantine lift --fleet Web_1',
      () =>
        at(
          'quarantine',
          'lift',
          '--fleet',
          'Web_1',
          '--template',
          'lt-0abc',
          '--version',
          '1',
          '--table',
          'tbl',
        ),
      /--fleet must be a fleet name/,
    ],
    [
      'quarantine lift --template web-lt',
      () =>
        at(
          'quarantine',
          'lift',
          '--fleet',
          'web',
          '--template',
          'web-lt',
          '--version',
          '1',
          '--table',
          'tbl',
        ),
      /--template must be a launch template id such as lt-0123456789abcdef0, not "web-lt"/,
    ],
    [
      'quarantine lift --version -1',
      () =>
        at(
          'quarantine',
          'lift',
          '--fleet',
          'web',
          '--template',
          'lt-0abc',
          '--version',
          '-1',
          '--table',
          'tbl',
        ),
      /--version must be a whole number ≥ 1, not "-1"/,
    ],
    [
      'quarantine lift without --version',
      () => at('quarantine', 'lift', '--fleet', 'web', '--template', 'lt-0abc', '--table', 'tbl'),
      /needs --fleet NAME, --template LT_ID and --version N \(missing: --version\)/,
    ],
    [
      'quarantine list --version 2',
      () => at('quarantine', 'list', '--version', '2', '--table', 'tbl'),
      /--version is for lift, not list/,
    ],
    [
      'quarantine lift --format json',
      () =>
        at(
          'quarantine',
          'lift',
          '--format',
          'json',
          '--fleet',
          'web',
          '--template',
          'lt-0abc',
          '--version',
          '1',
          '--table',
          'tbl',
        ),
      /--format is for list, not lift/,
    ],
    [
      'quarantine purge',
      () => at('quarantine', 'purge', '--table', 'tbl'),
      /expected "list" or "lift", not "purge"/,
    ],
    [
      'explain --now 5',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', 'x.json', '--now', '5'],
      /--now must be an ISO-8601 time such as 2025-01-31T12:00:00Z, not "5"/,
    ],
    [
      'explain --now 2025-02-30',
      () => [
        'explain',
        '--desired-state',
        DESIRED,
        '--instance-json',
        'x.json',
        '--now',
        '2025-02-30T12:00Z',
      ],
      /--now must be an ISO-8601 time/,
    ],
    // Unknown, repeated, missing and stray flags.
    [
      'plan --dsired-state',
      () => at('plan', '--dsired-state', DESIRED),
      /^phoenix plan: unknown option "--dsired-state"; did you mean --desired-state\? \(phoenix plan --help lists what it takes\)$/m,
    ],
    ['plan -x', () => at('plan', '-x'), /unknown option "-x"/],
    [
      'plan --desired-state twice',
      () => at('plan', '--desired-state', DESIRED, '--desired-state', DESIRED),
      /--desired-state is given twice: give it once/,
    ],
    [
      'reconcile --table twice',
      () => at('reconcile', '--desired-state', DESIRED, '--table', 'a-table', '--table', 'b-table'),
      /--table is given twice/,
    ],
    [
      'plan --desired-state (no value)',
      () => ['plan', '--endpoint', endpoint.url, '--desired-state'],
      /--desired-state needs a value$/m,
    ],
    [
      'plan --table --region x',
      () => ['plan', '--desired-state', DESIRED, '--table', '--region', 'x'],
      /--table needs a value$/m,
    ],
    ['plan without --desired-state', () => at('plan'), /^phoenix plan: --desired-state is required/],
    [
      'plan extra argument',
      () => at('plan', '--desired-state', DESIRED, 'extra'),
      /unexpected argument "extra"/,
    ],
    [
      'pause extra argument',
      () => at('pause', '--table', 'phoenix-state', 'now'),
      /unexpected argument "now"/,
    ],
    [
      'pause without a table',
      () => at('pause'),
      /^phoenix pause: no state table: pass --table NAME or set PHOENIX_TABLE_NAME$/m,
    ],
    ['validate --strict', () => ['validate', '--strict', DESIRED], /unknown option "--strict"/],
    ['an unknown command', () => ['valdiate', DESIRED], /^phoenix: unknown command "valdiate"/],
  ];

  it.each(cases)('%s', async (_what, argv, message, env) => {
    const result = await phoenix(argv(), env);

    if (argv()[0] === 'valdiate') {
      // The dispatcher lists the commands after its one line; it never reaches AWS either.
      expect(result.err.split('\n')[0]).toMatch(message);
      expect(result.code).toBe(1);
    } else {
      expectOneLine(result, message);
    }
    expect(endpoint.requests()).toBe(0);
  });
});

describe('bad files: one line naming the file (and the position), exit 1', () => {
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    await mkdir(file('a-directory.yaml'));
    execFileSync('mkfifo', [file('a-fifo.yaml')]);
    await symlink(file('loop-b.yaml'), file('loop-a.yaml'));
    await symlink(file('loop-a.yaml'), file('loop-b.yaml'));
    await writeFile(file('latin1.yaml'), Buffer.from('version: 1\nfleets:\n  caf\xe9:\n', 'latin1'));
    await writeFile(file('not-yaml.yaml'), 'version: 1\nfleets: [web\n');
    await writeFile(file('empty.yaml'), '');
    await writeFile(
      file('proto-fleet.yaml'),
      'version: 1\nfleets:\n  web:\n    match: { autoScalingGroup: web-prod }\n    launchTemplate: { name: web-lt }\n  __proto__:\n    match: { autoScalingGroup: api-prod }\n    launchTemplate: { name: api-lt }\n',
    );
    await writeFile(
      file('flow-deep.yaml'),
      `version: 1\nfleets:\n  web: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
    );
    const block = Array.from({ length: 5_000 }, (_, i) => `${'  '.repeat(i + 2)}a:`).join('\n');
    await writeFile(file('block-deep.yaml'), `version: 1\nfleets:\n  web:\n${block}\n`);
    await writeFile(file('not-json.json'), '{\n  "InstanceId": "i-1",\n  oops\n}\n');
    await writeFile(file('empty.json'), '');
    await writeFile(
      file('instance.json'),
      JSON.stringify({ InstanceId: 'i-0123456789abcdef0', State: { Name: 'running' }, Tags: [] }),
    );
    await writeFile(file('latin1.json'), Buffer.from('{"InstanceId": "i-caf\xe9"}', 'latin1'));
    await writeFile(file('unreadable.yaml'), 'version: 1\n');
    await chmod(file('unreadable.yaml'), 0o000);
  });

  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'a missing desired state',
      () => ['validate', file('missing.yaml')],
      /^phoenix validate: cannot read desired-state file .*missing\.yaml: no such file$/m,
    ],
    [
      'a directory',
      () => ['validate', file('a-directory.yaml')],
      /cannot read desired-state file .*a-directory\.yaml: it is a directory, not a file$/m,
    ],
    [
      'a FIFO (never waited on)',
      () => ['validate', file('a-fifo.yaml')],
      /a-fifo\.yaml: it is not a regular file$/m,
    ],
    [
      'a path through a file',
      () => ['validate', path.join(file('empty.yaml'), 'phoenix.yaml')],
      /empty\.yaml\/phoenix\.yaml: no such file \(a part of its path is not a directory\)$/m,
    ],
    [
      'a symbolic link loop',
      () => ['validate', file('loop-a.yaml')],
      /loop-a\.yaml: too many symbolic links$/m,
    ],
    [
      'a file that is not UTF-8',
      () => ['validate', file('latin1.yaml')],
      /desired-state file .*latin1\.yaml:3:6 is not UTF-8 text \(byte 0xe9\): save it as UTF-8$/m,
    ],
    [
      'a file that is not YAML',
      () => ['validate', file('not-yaml.yaml')],
      /not-yaml\.yaml:\d+:\d+ YAML syntax error: /,
    ],
    ['an empty file', () => ['validate', file('empty.yaml')], /empty\.yaml:1:1 the file is empty/],
    [
      'a fleet named __proto__ (never silently dropped)',
      () => ['validate', file('proto-fleet.yaml')],
      /proto-fleet\.yaml:6:3 fleets: invalid key "__proto__": expected a fleet name/,
    ],
    [
      'flow collections nested 50,000 deep',
      () => ['validate', file('flow-deep.yaml')],
      /flow-deep\.yaml:3:\d+ nested too deeply/,
    ],
    [
      'block mappings nested 5,000 deep',
      () => ['validate', file('block-deep.yaml')],
      /block-deep\.yaml:\d+:\d+ nested too deeply/,
    ],
    [
      'plan --desired-state DIR',
      () => ['plan', '--desired-state', dir, '--endpoint', endpoint.url],
      /^phoenix plan: cannot read desired-state file .*: it is a directory, not a file$/m,
    ],
    [
      'explain --instance-json DIR',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', dir],
      /^phoenix explain: cannot read --instance-json file .*: it is a directory, not a file$/m,
    ],
    [
      'explain --template-json missing',
      () => [
        'explain',
        '--desired-state',
        DESIRED,
        '--instance-json',
        file('instance.json'),
        '--template-json',
        file('nope.json'),
      ],
      /^phoenix explain: cannot read --template-json file .*nope\.json: no such file$/m,
    ],
    [
      'explain --instance-json not JSON',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', file('not-json.json')],
      /^phoenix explain: --instance-json .*not-json\.json:3:3 is not JSON: Expected double-quoted property name$/m,
    ],
    [
      'explain --instance-json empty',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', file('empty.json')],
      /--instance-json .*empty\.json is not JSON: Unexpected end of JSON input$/m,
    ],
    [
      'explain --instance-json not UTF-8',
      () => ['explain', '--desired-state', DESIRED, '--instance-json', file('latin1.json')],
      /--instance-json file .*latin1\.json:1:22 is not UTF-8 text \(byte 0xe9\)/,
    ],
  ];

  it.each(cases)('%s', async (_what, argv, message) => {
    const result = await phoenix(argv());

    expectOneLine(result, message);
    expect(endpoint.requests()).toBe(0);
  });

  it.skipIf(process.getuid?.() === 0)('a file it may not read', async () => {
    const result = await phoenix(['validate', file('unreadable.yaml')]);

    expectOneLine(result, /unreadable\.yaml: permission denied$/m);
  });
});

describe('AWS failing: one line naming the cause, exit 1', () => {
  const ec2 = (answer: Answer) => () => answer;

  it('an endpoint nothing listens on', async () => {
    const port = await closedPort();
    const result = await phoenix([
      'plan',
      '--desired-state',
      DESIRED,
      '--endpoint',
      `http://127.0.0.1:${port}`,
    ]);

    expectOneLine(
      result,
      new RegExp(
        `^phoenix plan: could not read the account: cannot reach AWS \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\): check --endpoint`,
      ),
    );
  });

  it('an endpoint nothing listens on, for the state table', async () => {
    const port = await closedPort();
    const result = await phoenix([
      'pause',
      '--table',
      'phoenix-state',
      '--endpoint',
      `http://127.0.0.1:${port}`,
    ]);

    expectOneLine(
      result,
      /^phoenix pause: could not set the switch in table phoenix-state: cannot reach AWS/,
    );
  });

  it('an endpoint that answers a web page where EC2 should answer (which EC2 would read as "no instances")', async () => {
    endpoint.reset(ec2(HTML_PAGE));
    const result = await phoenix(['plan', '--desired-state', DESIRED, '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix plan: could not read the account: 127\.0\.0\.1:\d+ answered HTTP 200 \(text\/html; charset=utf-8\) with "<!DOCTYPE html>.*"…, not as AWS answers: is the endpoint right\?$/m,
    );
  });

  it('an endpoint that answers a web page where DynamoDB should answer', async () => {
    endpoint.reset(ec2(HTML_PAGE));
    const result = await phoenix([
      'quarantine',
      'list',
      '--table',
      'phoenix-state',
      '--endpoint',
      endpoint.url,
    ]);

    expectOneLine(
      result,
      /^phoenix quarantine: table phoenix-state: 127\.0\.0\.1:\d+ answered HTTP 200 \(text\/html/,
    );
  });

  it('an endpoint that answers an error page', async () => {
    endpoint.reset(ec2({ ...HTML_PAGE, status: 502 }));
    const result = await phoenix(['pause', '--table', 'phoenix-state', '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix pause: could not set the switch in table phoenix-state: the endpoint answered HTTP 502 \(text\/html; charset=utf-8\), not as AWS answers: is the endpoint right\?$/m,
    );
  });

  it('no credentials anywhere', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);
    vi.stubEnv('AWS_WEB_IDENTITY_TOKEN_FILE', undefined);
    vi.stubEnv('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', undefined);
    vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', undefined);
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(dir, 'no-credentials'));
    vi.stubEnv('AWS_CONFIG_FILE', path.join(dir, 'no-config'));

    const result = await phoenix(['plan', '--desired-state', DESIRED, '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix plan: could not read the account: no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
    expect(endpoint.requests()).toBe(0);
  });

  it('a profile that does not exist', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    vi.stubEnv('AWS_PROFILE', 'nope');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(dir, 'no-credentials'));
    vi.stubEnv('AWS_CONFIG_FILE', path.join(dir, 'no-config'));

    const result = await phoenix(['plan', '--desired-state', DESIRED, '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix plan: could not read the account: no AWS credentials found for AWS_PROFILE "nope"/,
    );
    expect(endpoint.requests()).toBe(0);
  });

  it('no region anywhere', async () => {
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_CONFIG_FILE', path.join(dir, 'no-config'));
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', path.join(dir, 'no-credentials'));

    const result = await phoenix(['pause', '--table', 'phoenix-state', '--endpoint', endpoint.url], {
      AWS_REGION: undefined,
    });

    expectOneLine(
      result,
      /^phoenix pause: could not set the switch in table phoenix-state: no AWS region: pass --region REGION or set AWS_REGION/,
    );
    expect(endpoint.requests()).toBe(0);
  });

  it('access denied by EC2', async () => {
    endpoint.reset(
      ec2(queryError(403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.')),
    );
    const result = await phoenix(['plan', '--desired-state', DESIRED, '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix plan: could not read the account: access denied \(UnauthorizedOperation: You are not authorized to perform this operation\.\): the credentials in use are not allowed to do this$/m,
    );
  });

  it('access denied by DynamoDB', async () => {
    endpoint.reset(
      ec2(
        jsonError(
          400,
          'AccessDeniedException',
          'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: dynamodb:PutItem',
        ),
      ),
    );
    const result = await phoenix(['pause', '--table', 'phoenix-state', '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix pause: could not set the switch in table phoenix-state: access denied \(AccessDeniedException: User: .* dynamodb:PutItem\)/,
    );
  });

  it('credentials AWS refuses', async () => {
    endpoint.reset(
      ec2(queryError(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials')),
    );
    const result = await phoenix(['plan', '--desired-state', DESIRED, '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix plan: could not read the account: AWS refused the credentials \(AuthFailure: AWS was not able to validate/,
    );
  });

  it('throttling that outlasts the retries', async () => {
    endpoint.reset(ec2(queryError(503, 'RequestLimitExceeded', 'Request limit exceeded.')));
    const result = await phoenix(['plan', '--desired-state', DESIRED, '--endpoint', endpoint.url]);

    expectOneLine(
      result,
      /^phoenix plan: could not read the account: AWS throttled the requests \(RequestLimitExceeded \(5 attempts\)\): try again in a minute/,
    );
    expect(endpoint.requests()).toBe(5);
  });

  it('reconcile against an endpoint nothing listens on', async () => {
    const port = await closedPort();
    const result = await phoenix([
      'reconcile',
      '--desired-state',
      DESIRED,
      '--endpoint',
      `http://127.0.0.1:${port}`,
    ]);

    expectOneLine(result, /^phoenix reconcile: cannot reach AWS \(connect ECONNREFUSED/);
  });
});
