/**
 * The state machine as deployed: every `${...}` in the ASL is substituted and none survives
 * into the synthesized definition; the role may invoke exactly the Lambda the definition
 * references and perform exactly the SDK calls its Task states make.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alias, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AslWiringError } from '../../infra/errors';
import { permissionFor, placeholdersOf, taskStates } from '../../infra/parts/asl';
import { RemediationStateMachine, STATE_MACHINE_FILE } from '../../infra/parts/state-machine';
import { allowedActions, resolve, statementsOfRole } from './helpers/iam';
import {
  loadFixture,
  logicalIdOf,
  resourcesOfType,
  type Synthesized,
  scratchDir,
  synthesize,
} from './helpers/synth';

const ASL_PATH = path.join(import.meta.dirname, '..', '..', STATE_MACHINE_FILE);

/** `${Name}`: a definition-substitution placeholder. */
const ph = (name: string): string => `\${${name}}`;

describe('placeholdersOf', () => {
  it.each([
    ['none', '{"a": "b"}', []],
    [
      'each name once, sorted',
      JSON.stringify({ a: ph('TopicArn'), b: ph('TableName'), c: ph('TopicArn') }),
      ['TableName', 'TopicArn'],
    ],
    [
      'JSONPath and intrinsics are not placeholders',
      '{"a.$": "$.x", "b.$": "States.Format(\'{}\', $.y)"}',
      [],
    ],
  ])('%s', (_name, text, expected) => {
    expect(placeholdersOf(text)).toEqual(expected);
  });
});

describe('taskStates', () => {
  it('finds Task states inside Parallel branches and Map processors', () => {
    const definition = {
      States: {
        A: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:ec2:describeInstances' },
        P: {
          Type: 'Parallel',
          Branches: [{ States: { B: { Type: 'Task', Resource: ph('StepsFunctionArn') } } }],
        },
        M: {
          Type: 'Map',
          ItemProcessor: { States: { C: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish' } } },
        },
        W: { Type: 'Wait', Seconds: 1 },
      },
    };
    expect(taskStates(definition).map((t) => t.path)).toEqual(['A', 'P[0]/B', 'M/C']);
  });
});

describe('permissionFor', () => {
  it.each([
    [
      'arn:aws:states:::aws-sdk:ec2:terminateInstances',
      {},
      { kind: 'action', action: 'ec2:TerminateInstances' },
    ],
    [
      'arn:aws:states:::aws-sdk:elasticloadbalancingv2:deregisterTargets',
      {},
      { kind: 'action', action: 'elasticloadbalancing:DeregisterTargets' },
    ],
    ['arn:aws:states:::aws-sdk:sfn:startExecution', {}, { kind: 'action', action: 'states:StartExecution' }],
    ['arn:aws:states:::dynamodb:updateItem', {}, { kind: 'action', action: 'dynamodb:UpdateItem' }],
    ['arn:aws:states:::sns:publish', {}, { kind: 'action', action: 'sns:Publish' }],
    [ph('StepsFunctionArn'), {}, { kind: 'invoke', functionRef: ph('StepsFunctionArn') }],
    [
      'arn:aws:states:::lambda:invoke',
      { FunctionName: ph('StepsFunctionArn') },
      { kind: 'invoke', functionRef: ph('StepsFunctionArn') },
    ],
  ])('%s needs %o', (resource, parameters, expected) => {
    expect(permissionFor({ path: 'S', resource, parameters })).toEqual(expected);
  });

  it('refuses a Task resource it cannot turn into a permission', () => {
    expect(() =>
      permissionFor({ path: 'S', resource: 'arn:aws:states:::batch:submitJob.sync:2', parameters: {} }),
    ).toThrow(AslWiringError);
  });
});

describe('the deployed remediate-instance state machine', () => {
  let s: Synthesized;
  let substitutions: Record<string, unknown>;
  let synthesizedDefinition: string;
  const aslText = readFileSync(ASL_PATH, 'utf8');

  beforeAll(async () => {
    s = await synthesize();
    const [, machine] = resourcesOfType(s.json, 'AWS::StepFunctions::StateMachine')[0] ?? [];
    if (machine === undefined) throw new Error('no state machine in the template');
    substitutions = (machine.Properties?.DefinitionSubstitutions ?? {}) as Record<string, unknown>;
    // The definition is an S3 asset: read the staged copy from the cloud assembly, as CloudFormation would.
    const assembly = s.app.synth();
    const location = machine.Properties?.DefinitionS3Location as { Key: unknown } | undefined;
    if (location === undefined) throw new Error('the definition is not an S3 asset');
    const key = resolve(location.Key);
    synthesizedDefinition = readFileSync(path.join(assembly.directory, `asset.${key}`), 'utf8');
  });

  it('has a substitution for every placeholder in the ASL, and none it does not use', () => {
    expect(Object.keys(substitutions).sort()).toEqual(placeholdersOf(aslText));
    expect(placeholdersOf(aslText).length).toBeGreaterThan(0);
  });

  it('leaves no placeholder in the synthesized definition once CloudFormation substitutes', () => {
    let substituted = synthesizedDefinition;
    for (const [name, value] of Object.entries(substitutions)) {
      substituted = substituted.split(`\${${name}}`).join(resolve(value));
    }
    expect(substituted).not.toMatch(/\$\{[^}]*\}/);
    expect(() => JSON.parse(substituted)).not.toThrow();
  });

  it('substitutes the live alias of the steps function, the table and the topic', () => {
    const expected: Record<string, string> = {
      StepsFunctionArn: `<${logicalIdOf(s.stack, s.remediator.remediationSteps.live)}>`,
      TableName: `<${logicalIdOf(s.stack, s.remediator.table)}>`,
      TopicArn: `<${logicalIdOf(s.stack, s.remediator.topic)}>`,
    };
    for (const [name, value] of Object.entries(substitutions)) expect(resolve(value)).toBe(expected[name]);
  });

  it('may invoke every Lambda the definition references, and no other', () => {
    const referenced = taskStates(JSON.parse(aslText))
      .map((task) => permissionFor(task))
      .flatMap((p) => (p.kind === 'invoke' ? [resolve(substitutions[p.functionRef.slice(2, -1)])] : []));
    const statements = statementsOfRole(s.json, logicalIdOf(s.stack, s.remediator.stateMachine.role));
    const granted = statements
      .filter((st) => st.Effect === 'Allow' && st.Action.some((a) => a.toLowerCase().startsWith('lambda:')))
      .flatMap((st) => st.Resource);
    expect(referenced.length).toBeGreaterThan(0);
    expect([...new Set(granted)].sort()).toEqual([...new Set(referenced)].sort());
    expect(allowedActions(statements).filter((a) => a.startsWith('lambda:'))).toEqual([
      'lambda:InvokeFunction',
    ]);
  });

  it('may make exactly the SDK calls its Task states make, besides logging and tracing', () => {
    const definition = JSON.parse(aslText) as unknown;
    // Written out independently of infra/parts/asl.ts: the SDK-integration service names AWS documents.
    const iamPrefix: Record<string, string> = {
      elasticloadbalancingv2: 'elasticloadbalancing',
      sfn: 'states',
    };
    const expected = taskStates(definition).flatMap((task) => {
      const m = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([a-zA-Z0-9]+)$/.exec(task.resource);
      if (m === null || m[1] === 'lambda') return [];
      const [, service = '', action = ''] = m;
      return [`${iamPrefix[service] ?? service}:${action[0]?.toUpperCase()}${action.slice(1)}`];
    });
    // RunInstances also tags what it creates and resolves resolve:ssm: image ids as the caller.
    const tagOnLaunch = expected.includes('ec2:RunInstances') ? ['ec2:CreateTags', 'ssm:GetParameters'] : [];
    const topicKey = expected.includes('sns:Publish') ? ['kms:Decrypt', 'kms:GenerateDataKey'] : [];
    const statements = statementsOfRole(s.json, logicalIdOf(s.stack, s.remediator.stateMachine.role));
    const granted = allowedActions(statements).filter(
      (a) => !a.startsWith('logs:') && !a.startsWith('xray:') && a !== 'lambda:InvokeFunction',
    );
    expect(granted).toEqual([...new Set([...expected, ...tagOnLaunch, ...topicKey])].sort());
  });
});

describe('wiring errors fail synth', () => {
  async function buildWith(definition: object): Promise<() => RemediationStateMachine> {
    const desiredState = await loadFixture('phoenix.yaml');
    const dir = scratchDir('asl');
    const file = path.join(dir, 'machine.asl.json');
    writeFileSync(file, JSON.stringify(definition));
    const stack = new Stack(new App(), 'S');
    const fn = new LambdaFunction(stack, 'Steps', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({})'),
    });
    const steps = new Alias(stack, 'Live', { aliasName: 'live', version: fn.currentVersion });
    return () =>
      new RemediationStateMachine(stack, 'Machine', {
        stateMachineName: 'test-machine',
        steps,
        tableName: 'table',
        fleets: desiredState.fleets,
        targets: {
          tableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/t',
          topicArn: 'arn:aws:sns:eu-central-1:123456789012:t',
          topicKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/k',
        },
        logRetention: RetentionDays.ONE_DAY,
        removalPolicy: RemovalPolicy.DESTROY,
        definitionFile: file,
      });
  }

  it('names a placeholder the deployment does not substitute', async () => {
    const build = await buildWith({
      StartAt: 'A',
      States: { A: { Type: 'Task', Resource: ph('OtherFunctionArn'), End: true } },
    });
    expect(build).toThrow(/\$\{OtherFunctionArn\}/);
  });

  it('names an SDK call that has no least-privilege scope', async () => {
    const build = await buildWith({
      StartAt: 'A',
      States: { A: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:iam:createUser', End: true } },
    });
    expect(build).toThrow(/iam:CreateUser/);
  });
});
