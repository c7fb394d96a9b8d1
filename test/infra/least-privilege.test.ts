/**
 * The roles can act on the declared fleets and nothing else: evaluated on the synthesized
 * policies (see helpers/iam.ts), the way IAM would decide a request.
 */
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allowedActions,
  arn,
  type Decision,
  decide,
  type IamRequest,
  type Statement,
  statementsOfRole,
} from './helpers/iam';
import { logicalIdOf, type Synthesized, synthesize } from './helpers/synth';

let declared: Synthesized;
let pinned: Synthesized;

const statementsOf = (s: Synthesized, role: IRole): Statement[] =>
  statementsOfRole(s.json, logicalIdOf(s.stack, role));

beforeAll(async () => {
  declared = await synthesize();
  pinned = await synthesize({ fixture: 'pinned.yaml' });
});

const instance = arn('ec2', 'instance/i-0123456789abcdef0');
const tags = (t: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
const terminate = (t: Record<string, string>): IamRequest => ({
  action: 'ec2:TerminateInstances',
  resource: instance,
  context: tags(t),
});

const TERMINATE_CASES: Array<[string, Decision, Record<string, string>]> = [
  ['a member of a declared Auto Scaling group', 'allowed', { 'aws:autoscaling:groupName': 'web-prod' }],
  ['a member of the other declared group', 'allowed', { 'aws:autoscaling:groupName': 'batch-workers' }],
  ['a member of an undeclared group', 'implicitly denied', { 'aws:autoscaling:groupName': 'payments-prod' }],
  [
    'an instance carrying every selector tag of a tag fleet',
    'allowed',
    { App: 'reporting', Environment: 'prod' },
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
  [
    "another fleet's exclusion tag does not exclude (batch declares none)",
    'allowed',
    { 'aws:autoscaling:groupName': 'batch-workers', 'phoenix:skip': 'true' },
  ],
];

describe.each([
  ['the remediation steps role', (s: Synthesized) => s.remediator.remediationSteps.role],
  ['the state machine role', (s: Synthesized) => s.remediator.stateMachine.role],
])('%s', (_name, roleOf) => {
  it.each(TERMINATE_CASES)('terminating %s is %s', (_what, expected, instanceTags) => {
    const statements = statementsOf(declared, roleOf(declared));
    expect(decide(statements, terminate(instanceTags))).toBe(expected);
  });

  it('cannot terminate anything that is not an instance', () => {
    const statements = statementsOf(declared, roleOf(declared));
    const request: IamRequest = {
      action: 'ec2:TerminateInstances',
      resource: arn('ec2', 'volume/vol-0123456789abcdef0'),
      context: tags({ 'aws:autoscaling:groupName': 'web-prod' }),
    };
    expect(decide(statements, request)).toBe('implicitly denied');
  });
});

describe('the evaluator role', () => {
  it('cannot terminate, launch or change capacity at all', () => {
    const statements = statementsOf(declared, declared.remediator.evaluator.role);
    const requests: IamRequest[] = [
      terminate({ 'aws:autoscaling:groupName': 'web-prod' }),
      { action: 'ec2:RunInstances', resource: instance },
      {
        action: 'autoscaling:SetDesiredCapacity',
        resource: arn('autoscaling', 'autoScalingGroup:uuid:autoScalingGroupName/web-prod'),
      },
    ];
    expect(requests.map((r) => decide(statements, r))).toEqual(requests.map(() => 'implicitly denied'));
  });

  it('may start executions of its own state machine only', () => {
    const statements = statementsOf(declared, declared.remediator.evaluator.role);
    const own = arn('states', `stateMachine:${declared.remediator.stateMachineName}`);
    const other = arn('states', 'stateMachine:someone-elses');
    expect(decide(statements, { action: 'states:StartExecution', resource: own })).toBe('allowed');
    expect(decide(statements, { action: 'states:StartExecution', resource: other })).toBe(
      'implicitly denied',
    );
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
  ] as const)('SetDesiredCapacity on group %s is %s', (name, expected) => {
    const statements = statementsOf(declared, declared.remediator.remediationSteps.role);
    expect(decide(statements, { action: 'autoscaling:SetDesiredCapacity', resource: group(name) })).toBe(
      expected,
    );
  });
});

describe('RunInstances', () => {
  const launch = (launchTemplate: string | undefined): IamRequest => ({
    action: 'ec2:RunInstances',
    resource: instance,
    context: launchTemplate === undefined ? {} : { 'ec2:LaunchTemplate': launchTemplate },
  });
  const template = (id: string) => arn('ec2', `launch-template/${id}`);

  it('is pinned to the declared templates when every fleet names its template by id', () => {
    const statements = statementsOf(pinned, pinned.remediator.stateMachine.role);
    expect(decide(statements, launch(template('lt-0fedcba9876543210')))).toBe('allowed');
    expect(decide(statements, launch(template('lt-0123456789abcdef0')))).toBe('allowed');
    expect(decide(statements, launch(template('lt-0aaaaaaaaaaaaaaaa')))).toBe('implicitly denied');
  });

  it('always requires a launch template, even when a template is declared by name', () => {
    const statements = statementsOf(declared, declared.remediator.stateMachine.role);
    expect(decide(statements, launch(undefined))).toBe('implicitly denied');
    expect(decide(statements, launch(template('lt-0aaaaaaaaaaaaaaaa')))).toBe('allowed');
  });

  it('may tag only what it launches', () => {
    const statements = statementsOf(pinned, pinned.remediator.stateMachine.role);
    const tagAtLaunch: IamRequest = {
      action: 'ec2:CreateTags',
      resource: instance,
      context: { 'ec2:CreateAction': 'RunInstances' },
    };
    const tagLater: IamRequest = {
      action: 'ec2:CreateTags',
      resource: instance,
      context: tags({ App: 'payments' }),
    };
    expect(decide(statements, tagAtLaunch)).toBe('allowed');
    expect(decide(statements, tagLater)).toBe('implicitly denied');
  });
});

describe('every role in the stack', () => {
  it('names each action: no wildcard action anywhere', () => {
    const roles = Object.entries(declared.json.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    const wildcards = roles.flatMap(([id]) =>
      allowedActions(statementsOfRole(declared.json, id))
        .filter((action) => action.includes('*'))
        .map((action) => `${id}: ${action}`),
    );
    expect(roles.length).toBeGreaterThan(0);
    expect(wildcards).toEqual([]);
  });
});
