/**
 * The real-account test cannot rot: `npm test` synthesizes it (bundling off, no AWS) and checks
 * that it deploys what it claims and asserts what docs/aws-truth.md says it asserts.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { INTEG_NAMES, type PhoenixInteg, phoenixInteg } from './phoenix-integ';

let built: PhoenixInteg;
let assertions: string;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  built = phoenixInteg(app);
  const assembly = app.synth();
  const assertionStack = assembly.stacks.find(
    (s) => s.stackName.includes('PhoenixInteg') && s.stackName.includes('DeployAssert'),
  );
  if (assertionStack === undefined)
    throw new Error(`no assertion stack in ${assembly.stacks.map((s) => s.stackName).join(', ')}`);
  assertions = JSON.stringify(assertionStack.template);
}, 120_000);

describe('the real-account test (npm run test:aws)', () => {
  it('deploys an Auto Scaling group and a standalone instance from one template resolved from Systems Manager', () => {
    const estate = Template.fromStack(built.estate);
    estate.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateName: INTEG_NAMES.template,
      LaunchTemplateData: Match.objectLike({ ImageId: Match.stringLikeRegexp('^resolve:ssm:/aws/service/') }),
    });
    estate.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      AutoScalingGroupName: INTEG_NAMES.group,
      DesiredCapacity: '2',
    });
    estate.resourceCountIs('AWS::EC2::Instance', 1);
  });

  it('deploys Phoenix as users do, enforcing both fleets, with a Config recorder and nothing retained', () => {
    const phoenix = Template.fromStack(built.phoenix);
    phoenix.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    phoenix.resourceCountIs('AWS::Config::ConfigurationRecorder', 1);
    expect(built.remediator.desiredState.fleets.map((f) => `${f.name}:${f.mode}`).sort()).toEqual([
      'reports:enforce',
      'web:enforce',
    ]);
    phoenix.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    phoenix.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      RawMessageDelivery: true,
      FilterPolicy: { event: ['remediation.succeeded'] },
    });
  });

  it.each([
    ['drifts both instances by hand', 'createTags'],
    ['asks Config to evaluate', 'startConfigRulesEvaluation'],
    ['waits for both to be NON_COMPLIANT in Config', 'getComplianceDetailsByResource'],
    ['waits for both to be replaced (terminated)', 'describeInstances'],
    ['waits for the group to be back at its capacity', 'describeAutoScalingGroups'],
    ['waits for the team to be told', 'receiveMessage'],
    ['terminates the standalone replacement before the estate is destroyed', 'terminateInstances'],
  ])('%s (%s)', (_what, api) => {
    expect(assertions).toContain(`"api":"${api}"`);
  });
});
