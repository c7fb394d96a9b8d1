/**
 * The roles can act on the declared fleets and nothing else: decided on the synthesized
 * policies by iam-simulate (see helpers/iam.ts), the way IAM would decide a request.
 *
 * Claims are made about every role in the stack, so they hold wherever a call lives (the
 * steps Lambda or a Task of the state machine): no role may touch what is outside the
 * fleets, and each role that may act at all may act on every declared fleet.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  actionMatches,
  allowedActions,
  arn,
  type Decision,
  decide as decideFor,
  type IamRequest,
  resolve,
  resolvedForAccount,
  type Statement,
  statementsOfRole,
} from './helpers/iam';
import { logicalIdOf, type Synthesized, synthesize } from './helpers/synth';

let declared: Synthesized;
let pinned: Synthesized;

beforeAll(async () => {
  declared = await synthesize();
  pinned = await synthesize({ fixture: 'pinned.yaml' });
});

interface RoleOf {
  id: string;
  statements: Statement[];
  /** IAM's decision for a request by this role. */
  decide: (request: IamRequest) => Promise<Decision>;
}

/** Every role of the stack with its identity statements. */
function roles(s: Synthesized): RoleOf[] {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id]) => ({
      id,
      statements: statementsOfRole(s.json, id),
      decide: (request: IamRequest) => decideFor(s.json, id, request),
    }));
}

/** The roles that are granted `action` on some resource at all. */
function rolesGranting(s: Synthesized, action: string): RoleOf[] {
  return roles(s).filter((role) =>
    role.statements.some((st) => st.Effect === 'Allow' && st.Action.some((a) => actionMatches(a, action))),
  );
}

const instance = arn('ec2', 'instance/i-0123456789abcdef0');
const tags = (t: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
const terminate = (t: Record<string, string>): IamRequest => ({
  action: 'ec2:TerminateInstances',
  resource: instance,
  context: tags(t),
});

describe('terminating instances', () => {
  it('is possible for the roles that replace instances', () => {
    const ids = rolesGranting(declared, 'ec2:TerminateInstances').map((r) => r.id);
    expect(ids).toContain(logicalIdOf(declared.stack, declared.remediator.remediationSteps.role));
    expect(ids).not.toContain(logicalIdOf(declared.stack, declared.remediator.evaluator.role));
  });

  const IN_FLEET: Array<[string, Record<string, string>]> = [
    ['a member of a declared Auto Scaling group', { 'aws:autoscaling:groupName': 'web-prod' }],
    ['a member of the other declared group', { 'aws:autoscaling:groupName': 'batch-workers' }],
    ['an instance carrying every selector tag of a tag fleet', { App: 'reporting', Environment: 'prod' }],
    [
      "a member carrying another fleet's exclusion tag (batch excludes nothing)",
      { 'aws:autoscaling:groupName': 'batch-workers', 'phoenix:skip': 'true' },
    ],
  ];

  it.each(IN_FLEET)('is allowed, to each of them, for %s', async (_what, instanceTags) => {
    for (const role of rolesGranting(declared, 'ec2:TerminateInstances')) {
      expect(await role.decide(terminate(instanceTags)), role.id).toBe('allowed');
    }
  });

  const OUTSIDE: Array<[string, Decision, Record<string, string>]> = [
    [
      'a member of an undeclared group',
      'implicitly denied',
      { 'aws:autoscaling:groupName': 'payments-prod' },
    ],
    ['an instance carrying only some selector tags', 'implicitly denied', { App: 'reporting' }],
    [
      'an instance whose selector tag has another value',
      'implicitly denied',
      { App: 'reporting', Environment: 'staging' },
    ],
    ['an instance with no tags at all', 'implicitly denied', {}],
    [
      'an excluded member of a declared group',
      'explicitly denied',
      { 'aws:autoscaling:groupName': 'web-prod', 'phoenix:skip': 'true' },
    ],
    [
      'an excluded instance of a tag fleet',
      'explicitly denied',
      { App: 'reporting', Environment: 'prod', Keep: 'yes' },
    ],
  ];

  it.each(OUTSIDE)(
    'is impossible, for every role, for %s (%s where a role could otherwise)',
    async (_w, how, t) => {
      const decisions = await Promise.all(
        roles(declared).map(async (role) => [role.id, await role.decide(terminate(t))]),
      );
      const granting = new Set(rolesGranting(declared, 'ec2:TerminateInstances').map((r) => r.id));
      expect(decisions).toEqual(
        decisions.map(([id]) => [id, granting.has(id ?? '') ? how : 'implicitly denied']),
      );
    },
  );

  it('is impossible, for every role, on an instance of another account, even one tagged like a member', async () => {
    const request: IamRequest = {
      action: 'ec2:TerminateInstances',
      resource: arn('ec2', 'instance/i-0123456789abcdef0', { owner: '210987654321' }),
      context: tags({ 'aws:autoscaling:groupName': 'web-prod' }),
    };
    for (const role of roles(declared)) expect(await role.decide(request), role.id).toBe('implicitly denied');
  });
});

describe('Auto Scaling actions', () => {
  const group = (name: string) =>
    arn('autoscaling', `autoScalingGroup:0f1e2d3c-aaaa-bbbb:autoScalingGroupName/${name}`);

  it.each([
    ['web-prod', 'allowed'],
    ['batch-workers', 'allowed'],
    ['payments-prod', 'implicitly denied'],
    ['web-prod-2', 'implicitly denied'],
  ] as const)('SetDesiredCapacity on group %s is %s', async (name, expected) => {
    const granting = rolesGranting(declared, 'autoscaling:SetDesiredCapacity');
    expect(granting.length).toBeGreaterThan(0);
    for (const role of roles(declared)) {
      const decision = await role.decide({
        action: 'autoscaling:SetDesiredCapacity',
        resource: group(name),
      });
      expect(decision, role.id).toBe(granting.some((g) => g.id === role.id) ? expected : 'implicitly denied');
    }
  });
});

describe('RunInstances', () => {
  const launch = (launchTemplate: string | undefined): IamRequest => ({
    action: 'ec2:RunInstances',
    resource: instance,
    context: launchTemplate === undefined ? {} : { 'ec2:LaunchTemplate': launchTemplate },
  });
  const template = (id: string) => arn('ec2', `launch-template/${id}`);

  it('is pinned to the declared templates when every fleet names its template by id', async () => {
    const granting = rolesGranting(pinned, 'ec2:RunInstances');
    expect(granting.length).toBeGreaterThan(0);
    for (const role of roles(pinned)) {
      const may = granting.some((g) => g.id === role.id) ? 'allowed' : 'implicitly denied';
      expect(await role.decide(launch(template('lt-0fedcba9876543210'))), role.id).toBe(may);
      expect(await role.decide(launch(template('lt-0123456789abcdef0'))), role.id).toBe(may);
      expect(await role.decide(launch(template('lt-0aaaaaaaaaaaaaaaa'))), role.id).toBe('implicitly denied');
    }
  });

  it('always requires a launch template, even when a template is declared by name', async () => {
    for (const role of roles(declared)) {
      expect(await role.decide(launch(undefined)), role.id).toBe('implicitly denied');
    }
  });

  it.each([
    [
      'a subnet shared from another account (AWS RAM)',
      arn('ec2', 'subnet/subnet-0abc', { owner: '210987654321' }),
    ],
    ['a subnet of this account', arn('ec2', 'subnet/subnet-0abc')],
    [
      'a security group shared from another account',
      arn('ec2', 'security-group/sg-0abc', { owner: '210987654321' }),
    ],
    ['a placement group', arn('ec2', 'placement-group/reports-spread')],
    [
      'a capacity reservation shared from another account',
      arn('ec2', 'capacity-reservation/cr-0abc', { owner: '210987654321' }),
    ],
    ['a snapshot', arn('ec2', 'snapshot/snap-0abc', { account: false })],
  ])('launches from a declared template into %s', async (_what, resource) => {
    const granting = rolesGranting(pinned, 'ec2:RunInstances');
    expect(granting.length).toBeGreaterThan(0);
    for (const role of granting) {
      expect(await role.decide({ ...launch(template('lt-0fedcba9876543210')), resource }), role.id).toBe(
        'allowed',
      );
    }
  });

  it('may tag what it launches, never an instance outside the fleets', async () => {
    const tagAtLaunch: IamRequest = {
      action: 'ec2:CreateTags',
      resource: instance,
      context: { 'ec2:CreateAction': 'RunInstances' },
    };
    const tagOutside: IamRequest = {
      action: 'ec2:CreateTags',
      resource: instance,
      context: tags({ App: 'payments' }),
    };
    for (const role of rolesGranting(pinned, 'ec2:RunInstances')) {
      expect(await role.decide(tagAtLaunch), role.id).toBe('allowed');
    }
    for (const role of roles(pinned))
      expect(await role.decide(tagOutside), role.id).toBe('implicitly denied');
  });
});

describe('the evaluator role', () => {
  it('may start executions of its own state machine only', async () => {
    const id = logicalIdOf(declared.stack, declared.remediator.evaluator.role);
    const own = arn('states', `stateMachine:${declared.remediator.stateMachineName}`);
    const other = arn('states', 'stateMachine:someone-elses');
    expect(await decideFor(declared.json, id, { action: 'states:StartExecution', resource: own })).toBe(
      'allowed',
    );
    expect(await decideFor(declared.json, id, { action: 'states:StartExecution', resource: other })).toBe(
      'implicitly denied',
    );
  });
});

describe('every role in the stack', () => {
  it('names each action: no wildcard action anywhere', () => {
    const all = roles(declared);
    const wildcards = all.flatMap((role) =>
      allowedActions(role.statements)
        .filter((action) => action.includes('*'))
        .map((action) => `${role.id}: ${action}`),
    );
    expect(all.length).toBeGreaterThan(0);
    expect(wildcards).toEqual([]);
  });
});

describe('a standalone fleet whose launch template may carry an instance profile', () => {
  const warning = Match.stringLikeRegexp(
    "Standalone fleet reporting is replaced by RunInstances from the remediation steps' role, which may pass no instance role.*phoenix:instanceRoleArns",
  );

  it('makes synth warn while no instance role may be passed: every replacement would be refused (iam:PassRole)', () => {
    Annotations.fromStack(declared.stack).hasWarning('*', warning);
  });

  it('makes synth quiet once the roles are named, and may pass exactly those, to EC2 only', async () => {
    const role = 'arn:aws:iam::123456789012:role/reporting-instance';
    const named = await synthesize({ props: { instanceRoleArns: [role] } });

    Annotations.fromStack(named.stack).hasNoWarning('*', warning);
    const id = logicalIdOf(named.stack, named.remediator.remediationSteps.role);
    const pass = (resource: string, service: string) =>
      decideFor(named.json, id, {
        action: 'iam:PassRole',
        resource,
        context: { 'iam:PassedToService': service },
      });
    expect(await pass(role, 'ec2.amazonaws.com')).toBe('allowed');
    expect(await pass(role, 'lambda.amazonaws.com')).toBe('implicitly denied');
    expect(await pass('arn:aws:iam::123456789012:role/admin', 'ec2.amazonaws.com')).toBe('implicitly denied');
  });
});

describe("the Config recorder's role (phoenix:createConfigRecorder)", () => {
  let withRecorder: Synthesized;
  let roleId = '';
  let bucketPolicy: unknown;
  let bucketArn = '';

  beforeAll(async () => {
    withRecorder = await synthesize({ props: { createConfigRecorder: true } });
    const recorder = withRecorder.remediator.configRecorder;
    if (recorder === undefined) throw new Error('no Config recorder');
    roleId = resolve(
      withRecorder.json.Resources[withRecorder.stack.getLogicalId(recorder.recorder)]?.Properties?.RoleARN,
    ).replace(/^<(.*)\.Arn>$/, '$1');
    const [, policy] =
      Object.entries(withRecorder.json.Resources).find(([, r]) => r.Type === 'AWS::S3::BucketPolicy') ?? [];
    bucketPolicy = resolvedForAccount(withRecorder.json, policy?.Properties?.PolicyDocument);
    bucketArn = String(
      resolvedForAccount(withRecorder.json, {
        'Fn::GetAtt': [logicalIdOf(withRecorder.stack, recorder.bucket), 'Arn'],
      }),
    );
  });

  // Same account: Config delivers as the recorder's role, so the role must be allowed to write.
  it.each([
    [
      'writes a configuration history file',
      's3:PutObject',
      'AWSLogs/123456789012/Config/eu-central-1/2026/1/5/ConfigHistory/h.json.gz',
    ],
    [
      'writes a configuration snapshot',
      's3:PutObject',
      'AWSLogs/123456789012/Config/eu-central-1/2026/1/5/ConfigSnapshot/s.json.gz',
    ],
  ])('%s into its delivery bucket', async (_what, action, key) => {
    const decision = await decideFor(
      withRecorder.json,
      roleId,
      { action, resource: `${bucketArn}/${key}`, context: { 's3:x-amz-acl': 'bucket-owner-full-control' } },
      { resourcePolicy: bucketPolicy },
    );
    expect(decision).toBe('allowed');
  });

  it('reads the bucket ACL Config checks before delivering', async () => {
    const decision = await decideFor(
      withRecorder.json,
      roleId,
      { action: 's3:GetBucketAcl', resource: bucketArn },
      { resourcePolicy: bucketPolicy },
    );
    expect(decision).toBe('allowed');
  });

  it('writes nowhere else in the bucket', async () => {
    const decision = await decideFor(
      withRecorder.json,
      roleId,
      {
        action: 's3:PutObject',
        resource: `${bucketArn}/elsewhere/file`,
        context: { 's3:x-amz-acl': 'bucket-owner-full-control' },
      },
      { resourcePolicy: bucketPolicy },
    );
    expect(decision).toBe('implicitly denied');
  });
});
