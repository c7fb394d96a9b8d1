/**
 * The guard rails of least privilege at synth: an action without a known scope, a wildcard
 * action and an unexplained wildcard resource each stop synth instead of shipping.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import type { CompiledFleet } from '../../functions/domain/model';
import { UnexplainedWildcardError, UnscopedActionError } from '../../infra/errors';
import { fleetInstanceConditions, launchTemplateArns, scopeOf } from '../../infra/parts/iam-scoping';
import { allow } from '../../infra/parts/nag';
import { resolve } from './helpers/iam';

const role = () =>
  new Role(new Stack(new App(), 'S'), 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });

const fleet = (overrides: Partial<CompiledFleet>): CompiledFleet => ({
  name: 'web',
  mode: 'enforce',
  match: { kind: 'autoScalingGroup', autoScalingGroup: 'web-prod' },
  launchTemplate: { name: 'web-lt', version: '$Default' },
  tags: {},
  checks: { image: true, instanceType: true, securityGroups: true },
  team: 'web',
  exclude: { tags: {} },
  budget: { maxConcurrent: { count: 1 }, minHealthyPercent: 90 },
  rollout: { bakeMinutes: 0, alarms: [], maxFailures: 0, approval: 'automatic' },
  ...overrides,
});

describe('scopeOf', () => {
  it.each([
    ['ec2:DescribeInstances', 'no-resource-level'],
    ['config:PutEvaluations', 'no-resource-level'],
    ['ec2:TerminateInstances', 'fleet-instance'],
    ['autoscaling:SetDesiredCapacity', 'fleet-group'],
    ['ec2:RunInstances', 'fleet-launch'],
    ['elasticloadbalancing:RegisterTargets', 'target-group'],
    ['dynamodb:PutItem', 'state-table'],
    ['sns:Publish', 'topic'],
    ['states:StartExecution', 'state-machine'],
    ['config:StartConfigRulesEvaluation', 'config-rule'],
    ['cloudwatch:DescribeAlarms', 'fleet-alarm'],
  ])('puts %s in scope %s', (action, scope) => {
    expect(scopeOf(action)).toBe(scope);
  });

  it.each([
    'cloudwatch:SetAlarmState',
    'ec2:DeleteVpc',
    'iam:CreateUser',
    's3:GetObject',
    'ec2:DescribeInstances*',
  ])('refuses %s, which has no scope', (action) => {
    expect(() => scopeOf(action)).toThrow(UnscopedActionError);
  });
});

describe('fleetInstanceConditions', () => {
  it('selects all declared groups in one block and each tag fleet by all of its tags', () => {
    const blocks = fleetInstanceConditions([
      fleet({ name: 'web' }),
      fleet({ name: 'api', match: { kind: 'autoScalingGroup', autoScalingGroup: 'api-prod' } }),
      fleet({ name: 'reporting', match: { kind: 'tags', tags: { Environment: 'prod', App: 'reporting' } } }),
    ]);
    expect(blocks.map((b) => b.condition)).toEqual([
      { StringEquals: { 'aws:ResourceTag/aws:autoscaling:groupName': ['api-prod', 'web-prod'] } },
      { StringEquals: { 'aws:ResourceTag/App': 'reporting', 'aws:ResourceTag/Environment': 'prod' } },
    ]);
  });
});

describe('launchTemplateArns', () => {
  it('pins templates declared by id, and falls back to any template when one is declared by name', () => {
    const stack = new Stack(new App(), 'S');
    const arns = (fleets: CompiledFleet[]) =>
      launchTemplateArns(fleets).map((a) => resolve(stack.resolve(a)));
    const byId = fleet({ launchTemplate: { id: 'lt-0123456789abcdef0', version: 3 } });
    expect(arns([byId])).toEqual([
      'arn:aws:ec2:eu-central-1:123456789012:launch-template/lt-0123456789abcdef0',
    ]);
    expect(arns([byId, fleet({})])).toEqual(['arn:aws:ec2:eu-central-1:123456789012:launch-template/*']);
  });
});

describe('allow', () => {
  it('refuses a wildcard action', () => {
    expect(() =>
      allow(role(), { actions: ['ec2:Describe*'], resources: ['*'], wildcardReason: 'x'.repeat(80) }),
    ).toThrow(UnexplainedWildcardError);
  });

  it('refuses a wildcard resource without a reason', () => {
    expect(() => allow(role(), { actions: ['ec2:DescribeInstances'], resources: ['*'] })).toThrow(
      /needs a wildcardReason/,
    );
  });

  it('grants a named resource without asking for a reason', () => {
    const statement = allow(role(), {
      actions: ['sns:Publish'],
      resources: ['arn:aws:sns:eu-central-1:123456789012:phoenix'],
    });
    expect(statement.toStatementJson()).toEqual({
      Effect: 'Allow',
      Action: 'sns:Publish',
      Resource: 'arn:aws:sns:eu-central-1:123456789012:phoenix',
    });
  });
});
