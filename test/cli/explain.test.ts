import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factsFromConfigItem } from '../../functions/aws/instance-facts';
import { type Explanation, run } from '../../functions/cli/commands/explain';
import { memoryIo } from '../../functions/cli/io';
import { findFleet } from '../../functions/domain/drift/match';
import { loadDesiredStateFile } from '../../functions/io/desired-state-file';

const DESIRED_STATE = [
  'version: 1',
  'fleets:',
  '  web:',
  '    match: { autoScalingGroup: web-prod }',
  '    launchTemplate: { name: web-lt }',
  '    tags: { Owner: team-web, Environment: prod }',
  '    checks: { maxAgeDays: 30 }',
  '    exclude: { tags: { "phoenix:skip": "true" } }',
  '  batch:',
  '    match: { tags: { App: batch } }',
  '    launchTemplate: { id: lt-0123abcd4567ef890, version: 2 }',
  '    tags: { Owner: team-data }',
  '',
].join('\n');

const NOW = '2025-03-01T12:00:00.000Z';
const LAUNCHED = '2025-02-20T08:00:00.000Z';

/** One instance as `aws ec2 describe-instances` prints it. */
function webInstance(overrides: { tags?: Record<string, string>; version?: string; imageId?: string } = {}) {
  const tags = {
    Owner: 'team-web',
    Environment: 'prod',
    'aws:autoscaling:groupName': 'web-prod',
    'aws:ec2launchtemplate:id': 'lt-0abc1234def567890',
    'aws:ec2launchtemplate:version': overrides.version ?? '4',
    ...overrides.tags,
  };
  return {
    InstanceId: 'i-0aaaaaaaaaaaaaaa1',
    State: { Code: 16, Name: 'running' },
    ImageId: overrides.imageId ?? 'ami-0new',
    InstanceType: 't3.small',
    LaunchTime: LAUNCHED,
    SubnetId: 'subnet-0a1a2a3a4a5a6a7a8',
    VpcId: 'vpc-0f3e2d1c0b9a87654',
    Placement: { AvailabilityZone: 'us-east-1a' },
    SecurityGroups: [{ GroupId: 'sg-0123456789abcdef0', GroupName: 'web' }],
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

/** The fleet's template as `aws ec2 describe-launch-template-versions` prints it. */
const WEB_TEMPLATE = {
  LaunchTemplateVersions: [
    {
      LaunchTemplateId: 'lt-0abc1234def567890',
      LaunchTemplateName: 'web-lt',
      VersionNumber: 4,
      DefaultVersion: true,
      LaunchTemplateData: {
        ImageId: 'ami-0new',
        InstanceType: 't3.small',
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      },
    },
  ],
};

let dir: string;
let desiredState: string;
const files: Record<string, string> = {};

async function json(name: string, value: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(value, null, 2));
  files[name] = file;
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'phoenix-explain-'));
  desiredState = path.join(dir, 'phoenix.yaml');
  await writeFile(desiredState, DESIRED_STATE);
  await json('in-sync.json', webInstance());
  await json('drifted.json', webInstance({ tags: { Owner: 'someone' }, version: '3', imageId: 'ami-0old' }));
  await json('excluded.json', webInstance({ tags: { 'phoenix:skip': 'true', Owner: 'someone' } }));
  await json('outside.json', {
    ...webInstance(),
    Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'other-asg' }],
  });
  await json('describe-one.json', { Reservations: [{ Instances: [webInstance()] }] });
  await json('describe-two.json', {
    Reservations: [{ Instances: [webInstance(), { ...webInstance(), InstanceId: 'i-0bbbbbbbbbbbbbbb2' }] }],
  });
  await json('template.json', WEB_TEMPLATE);
  await json('template-version.json', WEB_TEMPLATE.LaunchTemplateVersions[0]);
  await writeFile(path.join(dir, 'not-json.json'), '{ "InstanceId": ');
  await writeFile(
    path.join(dir, 'invalid.yaml'),
    DESIRED_STATE.replace('name: web-lt', 'name: web-lt, id: lt-0abc'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function explain(...argv: string[]) {
  const io = memoryIo();
  const code = await run(argv, io);
  return { code, out: io.out(), err: io.err() };
}

async function explainJson(...argv: string[]): Promise<{ code: number; explanation: Explanation }> {
  const { code, out, err } = await explain(...argv, '--format', 'json');
  expect(err).toBe('');
  return { code, explanation: JSON.parse(out) as Explanation };
}

describe('phoenix explain', () => {
  it('says an instance that matches Git and its template is in sync, and exits 0', async () => {
    const { code, out } = await explain(
      '--desired-state',
      desiredState,
      '--instance-json',
      files['in-sync.json'] ?? '',
      '--template-json',
      files['template.json'] ?? '',
      '--now',
      NOW,
    );

    expect(code).toBe(0);
    expect(out).toContain('Instance i-0aaaaaaaaaaaaaaa1\n  fleet:    web\n');
    expect(out).toContain('  template: web-lt (lt-0abc1234def567890) version 4\n  verdict:  in sync\n');
  });

  it('lists every reason of a drifted instance with expected, actual and source, and exits 2', async () => {
    const { code, out } = await explain(
      '--desired-state',
      desiredState,
      '--instance-json',
      files['drifted.json'] ?? '',
      '--template-json',
      files['template.json'] ?? '',
      '--now',
      NOW,
    );

    expect(code).toBe(2);
    expect(out).toMatch(/ {2}verdict: {2}drifted \(3 reasons, fingerprint v\d+-[0-9a-f]+\)\n/);
    expect(out).toContain(
      '    1. imageId: expected "ami-0new", actual "ami-0old" [image, from launch template web-lt version 4]\n',
    );
    expect(out).toContain(
      '    2. launchTemplate.version: expected "4", actual "3" [launch-template-version, from launch template web-lt version 4]\n',
    );
    expect(out).toContain(
      '    3. tags.Owner: expected "team-web", actual "someone" [tag-value, from the desired state]\n',
    );
  });

  it('gives the same verdict as JSON, with the fingerprint and the provenance of the desired state', async () => {
    const { code, explanation } = await explainJson(
      '--desired-state',
      desiredState,
      '--instance-json',
      files['drifted.json'] ?? '',
      '--template-json',
      files['template-version.json'] ?? '',
      '--now',
      NOW,
    );
    const compiled = await loadDesiredStateFile(desiredState);

    expect(code).toBe(2);
    expect(explanation).toMatchObject({
      instanceId: 'i-0aaaaaaaaaaaaaaa1',
      desiredState: {
        path: compiled.provenance.path,
        commit: compiled.provenance.commit,
        revision: compiled.revision,
      },
      match: { kind: 'member', fleet: 'web' },
      template: { id: 'lt-0abc1234def567890', name: 'web-lt', version: 4 },
      verdict: {
        status: 'drifted',
        fleet: 'web',
        reasons: [
          {
            kind: 'image',
            field: 'imageId',
            expected: 'ami-0new',
            actual: 'ami-0old',
            source: 'launch-template',
          },
          {
            kind: 'launch-template-version',
            field: 'launchTemplate.version',
            expected: '4',
            actual: '3',
            source: 'launch-template',
          },
          {
            kind: 'tag-value',
            field: 'tags.Owner',
            expected: 'team-web',
            actual: 'someone',
            source: 'desired-state',
          },
        ],
      },
    });
    expect(explanation.verdict.status === 'drifted' && explanation.verdict.fingerprint).toMatch(
      /^v\d+-[0-9a-f]+$/,
    );
  });

  it('judges age against --now', async () => {
    const { code, explanation } = await explainJson(
      '--desired-state',
      desiredState,
      '--instance-json',
      files['in-sync.json'] ?? '',
      '--template-json',
      files['template.json'] ?? '',
      '--now',
      '2025-04-01T00:00:00Z',
    );

    expect(code).toBe(2);
    expect(
      explanation.verdict.status === 'drifted' && explanation.verdict.reasons.map((r) => r.kind),
    ).toEqual(['max-age']);
  });

  it('reads an AWS Config configuration item the way the Config rule does', async () => {
    const itemPath = new URL('../fixtures/config-items/asg-member-running.json', import.meta.url);
    const item: unknown = JSON.parse(await readFile(itemPath, 'utf8'));
    const facts = factsFromConfigItem(item);
    const compiled = await loadDesiredStateFile(desiredState);

    const { explanation } = await explainJson(
      '--desired-state',
      desiredState,
      '--instance-json',
      await json('config-item.json', item),
      '--now',
      NOW,
    );

    expect(explanation.instanceId).toBe(facts.instanceId);
    expect(explanation.match.kind).toBe(findFleet(facts, compiled.fleets).kind);
    expect(explanation.match).toMatchObject({ kind: 'member', fleet: 'web' });
  });

  it('accepts DescribeInstances output holding exactly one instance', async () => {
    const { explanation } = await explainJson(
      '--desired-state',
      desiredState,
      '--instance-json',
      files['describe-one.json'] ?? '',
      '--template-json',
      files['template.json'] ?? '',
      '--now',
      NOW,
    );

    expect(explanation.verdict).toEqual({ status: 'in-sync', fleet: 'web' });
  });

  it('runs only the checks that need no template when none is given, and says so', async () => {
    const { code, out } = await explain(
      '--desired-state',
      desiredState,
      '--instance-json',
      files['drifted.json'] ?? '',
      '--now',
      NOW,
    );

    expect(code).toBe(2);
    expect(out).toContain(
      '  template: not given (--template-json): only the checks that need no template ran\n',
    );
    expect(out).toContain('(1 reason, fingerprint');
    expect(out).toContain(
      'tags.Owner: expected "team-web", actual "someone" [tag-value, from the desired state]',
    );
  });

  it.each([
    {
      file: 'excluded.json',
      match: {
        kind: 'excluded',
        fleet: 'web',
        why: 'instance i-0aaaaaaaaaaaaaaa1 carries the exclusion tag phoenix:skip=true of fleet web',
      },
      text: '  fleet:    web (excluded: instance i-0aaaaaaaaaaaaaaa1 carries the exclusion tag phoenix:skip=true of fleet web)',
    },
    {
      file: 'outside.json',
      match: {
        kind: 'outside',
        why: 'no declared fleet selects the instance i-0aaaaaaaaaaaaaaa1 of Auto Scaling group other-asg',
      },
      text: '  fleet:    none (no declared fleet selects the instance i-0aaaaaaaaaaaaaaa1 of Auto Scaling group other-asg)',
    },
  ])('says why Phoenix leaves $match.kind instances alone, and exits 0', async ({ file, match, text }) => {
    const argv = ['--desired-state', desiredState, '--instance-json', files[file] ?? '', '--now', NOW];

    const asJson = await explainJson(...argv);
    const asText = await explain(...argv);

    expect(asJson.code).toBe(0);
    expect(asJson.explanation.match).toEqual(match);
    expect(asJson.explanation.verdict).toMatchObject({ status: 'not-applicable', why: match.why });
    expect(asText.out).toContain(`${text}\n`);
  });

  it('prints the problems of an invalid desired-state file as file:line:col and exits 1', async () => {
    const invalid = path.join(dir, 'invalid.yaml');

    const { code, out, err } = await explain(
      '--desired-state',
      invalid,
      '--instance-json',
      files['in-sync.json'] ?? '',
    );

    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(
      `${invalid}:5:5 fleets.web.launchTemplate: expected exactly one of name or id, got both\n`,
    );
  });

  it.each([
    {
      name: 'no --instance-json',
      argv: ['--desired-state', 'phoenix.yaml'],
      message: '--instance-json is required (phoenix explain --help lists what it takes)',
    },
    {
      name: 'no flags at all',
      argv: [],
      message:
        '--desired-state and --instance-json are required (phoenix explain --help lists what it takes)',
    },
    {
      name: 'an unknown format',
      argv: ['--desired-state', 'a', '--instance-json', 'b', '--format', 'yaml'],
      message: '--format must be text or json, not "yaml"',
    },
    {
      name: 'a --now that is not a time',
      argv: ['--desired-state', 'a', '--instance-json', 'b', '--now', 'yesterday'],
      message: '--now must be an ISO-8601 time such as 2025-01-31T12:00:00Z, not "yesterday"',
    },
  ])('refuses $name in one line and exits 1', async ({ argv, message }) => {
    const { code, err } = await explain(...argv);

    expect(code).toBe(1);
    expect(err).toBe(`phoenix explain: ${message}\n`);
  });

  it.each([
    {
      name: 'instance JSON that does not parse',
      file: 'not-json.json',
      message: /^phoenix explain: --instance-json .*not-json\.json is not JSON: /,
    },
    {
      name: 'DescribeInstances output with two instances',
      file: 'describe-two.json',
      message:
        /^phoenix explain: --instance-json holds 2 instances \(i-0aaaaaaaaaaaaaaa1, i-0bbbbbbbbbbbbbbb2\): give exactly one\n$/,
    },
    {
      name: 'JSON that is no instance at all',
      file: 'template.json',
      message: /^phoenix explain: --instance-json is neither an EC2 instance/,
    },
  ])('explains $name and exits 1', async ({ file, message }) => {
    const { code, out, err } = await explain(
      '--desired-state',
      desiredState,
      '--instance-json',
      files[file] ?? path.join(dir, file),
    );

    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(message);
  });

  it('prints its usage on --help and exits 0', async () => {
    const { code, out } = await explain('--help');

    expect(code).toBe(0);
    expect(out).toContain('Usage: phoenix explain');
  });
});
