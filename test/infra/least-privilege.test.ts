/**
 * The roles can act on the declared fleets and nothing else: evaluated on the synthesized
 * policies (see helpers/iam.ts), the way IAM would decide a request.
 *
 * Claims are made about every role in the stack, so they hold wherever a call lives (the
 * steps Lambda or a Task of the state machine): no role may touch what is outside the
 * fleets, and each role that may act at all may act on every declared fleet.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allowedActions,
  arn,
  type Decision,
  decide,
  globMatch,
  type IamRequest,
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

/** Every role of the stack with its identity statements. */
function roles(s: Synthesized): Array<{ id: string; statements: Statement[] }> {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id]) => ({ id, statements: statementsOfRole(s.json, id) }));
}

/** The roles that are granted `action` on some resource at all. */
function rolesGranting(s: Synthesized, action: string): Array<{ id: string; statements: Statement[] }> {
  return roles(s).filter((role) =>
    role.statements.some((st) => st.Effect === 'Allow' && st.Action.some((a) => globMatch(a, action, true))),
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

  it.each(IN_FLEET)('is allowed, to each of them, for %s', (_what, instanceTags) => {
    for (const role of rolesGranting(declared, 'ec2:TerminateInstances')) {
      expect(decide(role.statements, terminate(instanceTags)), role.id).toBe('allowed');
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
    (_w, how, t) => {
      const decisions = roles(declared).map((role) => [role.id, decide(role.statements, terminate(t))]);
      const granting = new Set(rolesGranting(declared, 'ec2:TerminateInstances').map((r) => r.id));
      expect(decisions).toEqual(
        decisions.map(([id]) => [id, granting.has(id ?? '') ? how : 'implicitly denied']),
      );
    },
  );

  it('is impossible, for every role, on anything that is not an instance', () => {
    const request: IamRequest = {
      action: 'ec2:TerminateInstances',
      resource: arn('ec2', 'volume/vol-0123456789abcdef0'),
      context: tags({ 'aws:autoscaling:groupName': 'web-prod' }),
    };
    for (const role of roles(declared))
      expect(decide(role.statements, request), role.id).toBe('implicitly denied');
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
    const granting = rolesGranting(declared, 'autoscaling:SetDesiredCapacity');
    expect(granting.length).toBeGreaterThan(0);
    for (const role of roles(declared)) {
      const decision = decide(role.statements, {
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

  it('is pinned to the declared templates when every fleet names its template by id', () => {
    const granting = rolesGranting(pinned, 'ec2:RunInstances');
    expect(granting.length).toBeGreaterThan(0);
    for (const role of roles(pinned)) {
      const may = granting.some((g) => g.id === role.id) ? 'allowed' : 'implicitly denied';
      expect(decide(role.statements, launch(template('lt-0fedcba9876543210'))), role.id).toBe(may);
      expect(decide(role.statements, launch(template('lt-0123456789abcdef0'))), role.id).toBe(may);
      expect(decide(role.statements, launch(template('lt-0aaaaaaaaaaaaaaaa'))), role.id).toBe(
        'implicitly denied',
      );
    }
  });

  it('always requires a launch template, even when a template is declared by name', () => {
    for (const role of roles(declared)) {
      expect(decide(role.statements, launch(undefined)), role.id).toBe('implicitly denied');
    }
  });

  it('may tag what it launches, never an instance outside the fleets', () => {
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
      expect(decide(role.statements, tagAtLaunch), role.id).toBe('allowed');
    }
    for (const role of roles(pinned))
      expect(decide(role.statements, tagOutside), role.id).toBe('implicitly denied');
  });
});

describe('the evaluator role', () => {
  it('may start executions of its own state machine only', () => {
    const statements = statementsOfRole(
      declared.json,
      logicalIdOf(declared.stack, declared.remediator.evaluator.role),
    );
    const own = arn('states', `stateMachine:${declared.remediator.stateMachineName}`);
    const other = arn('states', 'stateMachine:someone-elses');
    expect(decide(statements, { action: 'states:StartExecution', resource: own })).toBe('allowed');
    expect(decide(statements, { action: 'states:StartExecution', resource: other })).toBe(
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
