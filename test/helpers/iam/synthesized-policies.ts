/**
 * The identity policies of Phoenix's three roles, read from the synthesized template of a
 * DriftRemediator built for one desired state: exactly what CloudFormation would attach.
 *
 * Statements are returned as synthesized (CloudFormation intrinsics and all); policies.ts
 * resolves them for the emulated account. Synth runs with bundling off (the template is the
 * same, the functions' code is not needed).
 */
import { App, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { Principal } from '../../../functions/aws/call-gate';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import { DriftRemediator, type DriftRemediatorProps } from '../../../infra/drift-remediator';

/** The DriftRemediator props that change what its roles may do. */
export type IamProps = Pick<DriftRemediatorProps, 'instanceRoleArns' | 'ebsKmsKeyArns'>;

/** One role's identity statements, as in the template. */
export interface SynthesizedRole {
  logicalId: string;
  statements: Array<Record<string, unknown>>;
}

/** What a caller needs to resolve the statements for an account. */
export interface SynthesizedPolicies {
  roles: Record<Principal, SynthesizedRole>;
  /** Logical ids of the resources the statements reference, and the state machine's fixed name. */
  refs: {
    table: string;
    topic: string;
    topicKey: string;
    stepsAlias: string;
    stateMachineName: string;
  };
  /** Resource policies IAM also reads for these calls: the topic key's key policy, the topic's policy. */
  resourcePolicies: { topicKey: unknown; topic?: unknown };
  /** Every resource's CloudFormation type, by logical id (for the shape of the ARNs it resolves to). */
  types: Record<string, string>;
}

interface ResourceJson {
  Type: string;
  Properties?: Record<string, unknown>;
}

function logicalId(stack: Stack, construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (child === undefined) throw new Error(`${construct.node.path} has no default child`);
  return stack.getLogicalId(child as Parameters<Stack['getLogicalId']>[0]);
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** Every identity statement attached to the role (its AWS::IAM::Policy resources and inline policies). */
export function statementsOfRole(
  resources: Record<string, ResourceJson>,
  roleLogicalId: string,
): Array<Record<string, unknown>> {
  const role = resources[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role`);
  const statements: Array<Record<string, unknown>> = [];
  for (const policy of asArray(role.Properties?.Policies ?? [])) {
    const document = (policy as { PolicyDocument?: { Statement?: unknown } }).PolicyDocument;
    statements.push(...(asArray(document?.Statement ?? []) as Array<Record<string, unknown>>));
  }
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = asArray(resource.Properties?.Roles ?? []);
    if (!roles.some((r) => (r as { Ref?: unknown }).Ref === roleLogicalId)) continue;
    const document = resource.Properties?.PolicyDocument as { Statement?: unknown } | undefined;
    statements.push(...(asArray(document?.Statement ?? []) as Array<Record<string, unknown>>));
  }
  return statements;
}

/** Synthesizes the stack for `desiredState` and returns its roles' policies. */
export function synthesizePolicies(
  desiredState: CompiledDesiredState,
  props: IamProps = {},
): SynthesizedPolicies {
  // No built-in CloudFormation validation: its engine costs seconds to start, and the infra
  // tests validate this same template.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'PhoenixIam');
  const remediator = new DriftRemediator(stack, 'Phoenix', { ...props, desiredState });
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, ResourceJson>;
  };
  const resources = template.Resources;
  const role = (construct: IConstruct): SynthesizedRole => {
    const id = logicalId(stack, construct);
    return { logicalId: id, statements: statementsOfRole(resources, id) };
  };
  const topic = logicalId(stack, remediator.topic);
  const keyRef = resources[topic]?.Properties?.KmsMasterKeyId as { 'Fn::GetAtt'?: unknown[] } | undefined;
  const topicKey = String(keyRef?.['Fn::GetAtt']?.[0] ?? '');
  if (topicKey === '') throw new Error('the notification topic has no customer-managed key');
  const topicPolicy = Object.values(resources).find(
    (r) =>
      r.Type === 'AWS::SNS::TopicPolicy' &&
      asArray(r.Properties?.Topics ?? []).some((t) => (t as { Ref?: unknown }).Ref === topic),
  );
  return {
    types: Object.fromEntries(Object.entries(resources).map(([id, r]) => [id, r.Type])),
    resourcePolicies: {
      topicKey: resources[topicKey]?.Properties?.KeyPolicy,
      ...(topicPolicy === undefined ? {} : { topic: topicPolicy.Properties?.PolicyDocument }),
    },
    roles: {
      evaluator: role(remediator.evaluator.role),
      'remediation-steps': role(remediator.remediationSteps.role),
      'state-machine': role(remediator.stateMachine.role),
    },
    refs: {
      table: logicalId(stack, remediator.table),
      topic,
      topicKey,
      stepsAlias: logicalId(stack, remediator.remediationSteps.live),
      stateMachineName: remediator.stateMachineName,
    },
  };
}
