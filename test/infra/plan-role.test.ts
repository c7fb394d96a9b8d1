/**
 * The read-only role of `phoenix plan` in pull requests: trusted only by GitHub's OIDC
 * provider for one repository's pull requests, and allowed exactly the plan's reads —
 * nothing that changes anything (IAM decisions computed over the synthesized policies).
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PlanRoleError } from '../../infra/errors';
import { iamLiteral } from '../../infra/parts/iam-scoping';
import { PLAN_ACTIONS, planActions } from '../../infra/parts/plan-role';
import { allowedActions, arn, decide, resolvedForAccount, statementsOfRole } from './helpers/iam';
import { logicalIdOf, resourcesOfType, type Synthesized, synthesize } from './helpers/synth';

const REPOSITORY = 'acme/infrastructure';

async function withPlanRole(planRole: NonNullable<Parameters<typeof synthesize>[0]>['props']) {
  return synthesize({ props: planRole });
}

function roleOf(s: Synthesized): string {
  const role = s.remediator.planRole?.role;
  if (role === undefined) throw new Error('no plan role');
  return logicalIdOf(s.stack, role);
}

describe('the plan role', () => {
  it('is created only when asked for', async () => {
    const s = await synthesize();
    expect(s.remediator.planRole).toBeUndefined();
    s.template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(Object.keys(s.json.Outputs ?? {}).some((key) => key.startsWith('PhoenixPlanRoleArn'))).toBe(false);
  });

  it("trusts GitHub's OIDC provider, created with the stack, for the repository's pull requests only", async () => {
    const s = await withPlanRole({ planRole: { githubRepository: REPOSITORY } });
    s.template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
    const [providerId] = resourcesOfType(s.json, 'AWS::IAM::OIDCProvider')[0] ?? [];
    s.template.hasResourceProperties('AWS::IAM::Role', {
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRoleWithWebIdentity',
            Principal: { Federated: { Ref: providerId } },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': [`repo:${REPOSITORY}:pull_request`],
              },
            },
          },
        ],
      },
    });
  });

  it('uses an existing provider when named, and matches wildcard subjects with StringLike', async () => {
    const providerArn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    const s = await withPlanRole({
      planRole: {
        githubRepository: REPOSITORY,
        oidcProviderArn: providerArn,
        subjects: ['pull_request', 'ref:refs/heads/*'],
      },
    });
    s.template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    s.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Federated: providerArn },
            Condition: {
              StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
              StringLike: {
                'token.actions.githubusercontent.com:sub': [
                  `repo:${REPOSITORY}:pull_request`,
                  `repo:${REPOSITORY}:ref:refs/heads/*`,
                ],
              },
            },
          }),
        ],
      },
    });
  });

  /** The state table's ARN as the policy resolves it for the test account. */
  const tableArnOf = (s: Synthesized): string =>
    String(resolvedForAccount(s.json, { 'Fn::GetAtt': [logicalIdOf(s.stack, s.remediator.table), 'Arn'] }));

  describe('permissions', () => {
    let s: Synthesized;
    let statements: ReturnType<typeof statementsOfRole>;
    it('are exactly the plan\'s reads: the three Describe calls on "*" and GetItem on the state table', async () => {
      s = await withPlanRole({ planRole: { githubRepository: REPOSITORY } });
      statements = statementsOfRole(s.json, roleOf(s));
      expect(allowedActions(statements)).toEqual([...PLAN_ACTIONS].sort());
      const tableArn = `<${logicalIdOf(s.stack, s.remediator.table)}.Arn>`;
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        expect(statement.Condition).toBeUndefined();
        if (statement.Action.some((a) => a.startsWith('dynamodb:'))) {
          expect(statement).toMatchObject({ Action: ['dynamodb:GetItem'], Resource: [tableArn] });
        } else {
          expect(statement.Resource).toEqual(['*']);
          expect(statement.Action.every((a) => /^(ec2|autoscaling):Describe/.test(a))).toBe(true);
        }
      }
      // No managed policy, no inline policy on the role itself.
      const role = s.json.Resources[roleOf(s)];
      expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
      expect(role?.Properties?.Policies).toBeUndefined();
    });

    it.each([
      ['ec2:TerminateInstances', arn('ec2', 'instance/i-0123456789abcdef0')],
      ['ec2:CreateTags', arn('ec2', 'instance/i-0123456789abcdef0')],
      ['ec2:RunInstances', arn('ec2', 'instance/*')],
      [
        'autoscaling:SetDesiredCapacity',
        arn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/web-prod'),
      ],
      ['dynamodb:PutItem', '<table>'],
      ['dynamodb:UpdateItem', '<table>'],
      ['dynamodb:DeleteItem', '<table>'],
      ['dynamodb:Scan', '<table>'],
      ['sns:Publish', '<topic>'],
      ['states:StartExecution', '<machine>'],
      ['ssm:GetParameter', arn('ssm', 'parameter/secret')],
      ['s3:GetObject', 'arn:aws:s3:::any-bucket/any-key'],
    ])('deny %s', async (action, resource) => {
      const resolved =
        resource === '<table>'
          ? tableArnOf(s)
          : resource === '<topic>'
            ? String(resolvedForAccount(s.json, { Ref: logicalIdOf(s.stack, s.remediator.topic) }))
            : resource === '<machine>'
              ? String(resolvedForAccount(s.json, { Ref: logicalIdOf(s.stack, s.remediator.stateMachine) }))
              : resource;
      expect(await decide(s.json, roleOf(s), { action, resource: resolved })).toBe('implicitly denied');
    });

    it('allow the plan to read the pause switch and quarantines', async () => {
      expect(await decide(s.json, roleOf(s), { action: 'dynamodb:GetItem', resource: tableArnOf(s) })).toBe(
        'allowed',
      );
      expect(await decide(s.json, roleOf(s), { action: 'ec2:DescribeInstances', resource: '*' })).toBe(
        'allowed',
      );
    });
  });

  describe('with rollouts declared (alarms, a fleet promoted from another)', () => {
    let s: Synthesized;
    const alarm = (name: string) => arn('cloudwatch', `alarm:${name}`);

    it('add DescribeAlarms on the declared alarms only, and Query on the state table for after:', async () => {
      s = await synthesize({
        fixture: 'rollout.yaml',
        props: { planRole: { githubRepository: REPOSITORY } },
      });
      const statements = statementsOfRole(s.json, roleOf(s));
      expect(allowedActions(statements)).toEqual(
        [...PLAN_ACTIONS, 'cloudwatch:DescribeAlarms', 'dynamodb:Query'].sort(),
      );
      expect(allowedActions(statements)).toEqual(planActions(s.desiredState.fleets).sort());
      const alarms = statements.filter((st) => st.Action.includes('cloudwatch:DescribeAlarms'));
      expect(alarms).toHaveLength(1);
      expect(alarms[0]?.Action).toEqual(['cloudwatch:DescribeAlarms']);
      // Each declared name once, by its ARN: never "*", never the alarm: prefix alone.
      expect(alarms[0]?.Resource).toHaveLength(3);
      for (const resource of alarms[0]?.Resource ?? []) expect(resource).toMatch(/:alarm:[^*]/);
    });

    it.each(['web-5xx', 'web-p99-latency'])('allow DescribeAlarms of %s, a declared alarm', async (name) => {
      expect(
        await decide(s.json, roleOf(s), { action: 'cloudwatch:DescribeAlarms', resource: alarm(name) }),
      ).toBe('allowed');
    });

    it.each([
      ['cloudwatch:DescribeAlarms', 'web-5xx-other'],
      ['cloudwatch:DescribeAlarms', 'db-cpu'],
      // A declared name with IAM's wildcards is that one alarm, not a pattern.
      ['cloudwatch:DescribeAlarms', 'api-xyz'],
      ['cloudwatch:SetAlarmState', 'web-5xx'],
      ['cloudwatch:DeleteAlarms', 'web-5xx'],
      ['cloudwatch:PutMetricAlarm', 'web-5xx'],
    ])('deny %s on alarm %s', async (action, name) => {
      expect(await decide(s.json, roleOf(s), { action, resource: alarm(name) })).toBe('implicitly denied');
    });

    it('allow the followed fleet’s rollouts to be read (Query on the state table), and no Scan', async () => {
      expect(await decide(s.json, roleOf(s), { action: 'dynamodb:Query', resource: tableArnOf(s) })).toBe(
        'allowed',
      );
      expect(await decide(s.json, roleOf(s), { action: 'dynamodb:Scan', resource: tableArnOf(s) })).toBe(
        'implicitly denied',
      );
    });
  });

  it.each([
    ['web-5xx', 'web-5xx'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: IAM's literal form, not a template
    ['api-*', 'api-${*}'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: IAM's literal form, not a template
    ['a?b$c', 'a${?}b${$}c'],
  ])('writes alarm name %j as the IAM literal %j', (name, literal) => {
    expect(iamLiteral(name)).toBe(literal);
  });

  it("is the PlanRoleArn output, the workflow's role-to-assume", async () => {
    const s = await withPlanRole({ planRole: { githubRepository: REPOSITORY, roleName: 'phoenix-plan' } });
    const [, output] =
      Object.entries(s.json.Outputs ?? {}).find(([key]) => key.startsWith('PhoenixPlanRoleArn')) ?? [];
    expect(output?.Value).toEqual({ 'Fn::GetAtt': [roleOf(s), 'Arn'] });
    s.template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'phoenix-plan' });
  });

  it.each([
    [{ githubRepository: 'infrastructure' }, /owner\/name/],
    [{ githubRepository: 'acme/infra structure' }, /owner\/name/],
    [{ githubRepository: REPOSITORY, subjects: [] }, /at least one subject/],
    [{ githubRepository: REPOSITORY, subjects: ['pull request'] }, /not a GitHub OIDC subject/],
  ])('refuses %j at synth', async (planRole, message) => {
    await expect(withPlanRole({ planRole })).rejects.toThrow(PlanRoleError);
    await expect(withPlanRole({ planRole })).rejects.toThrow(message);
  });
});
