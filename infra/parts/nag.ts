/**
 * Grants that explain themselves.
 *
 * cdk-nag (AwsSolutions-IAM5) reports every wildcard in an IAM resource, one finding per
 * distinct resource string, and v3 acknowledges findings one by one. Granting through
 * {@link allow} keeps the permission, its wildcards and the reason for each wildcard in
 * one place: a wildcard without a reason fails synth instead of slipping through.
 */

import { Stack, Validations } from 'aws-cdk-lib';
import { type IRole, PolicyStatement, type PolicyStatementProps } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { UnexplainedWildcardError } from '../errors';

/**
 * The string cdk-nag reports for a (possibly tokenised) IAM resource: CloudFormation
 * references flattened to `<Logical.Attr>` / `<AWS::Region>`, the same way its
 * `flattenCfnReference` does, so acknowledgements match findings exactly.
 */
export function nagResourceString(scope: IConstruct, resource: string): string {
  return flatten(Stack.of(scope).resolve(resource));
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (record['Fn::Sub'] !== undefined) return flatten(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if (record['Fn::ImportValue'] !== undefined) return flatten(record['Fn::ImportValue']);
    if (record.Ref !== undefined) return `<${flatten(record.Ref)}>`;
  }
  return JSON.stringify(node);
}

/** Acknowledges one cdk-nag rule (or one finding of it, `Rule[finding]`) on a construct, with its reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) {
    throw new UnexplainedWildcardError(`acknowledging ${id} on ${scope.node.path} needs a real reason`);
  }
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges the AwsSolutions-IAM5 finding for each wildcard resource, on `scope`
 * (the role or an ancestor of its policy).
 */
export function acknowledgeWildcardResources(
  scope: IConstruct,
  resources: readonly string[],
  reason: string,
): void {
  for (const resource of resources) {
    const flat = nagResourceString(scope, resource);
    if (flat.includes('*')) acknowledge(scope, `AwsSolutions-IAM5[Resource::${flat}]`, reason);
  }
}

export interface ExplainedStatement
  extends Omit<PolicyStatementProps, 'notActions' | 'notResources' | 'notPrincipals'> {
  /** Why the wildcard resources of this statement cannot be narrower. Required when there is one. */
  wildcardReason?: string;
}

/**
 * Adds an Allow statement to a role's policy. Wildcard actions are refused outright;
 * wildcard resources need `wildcardReason`, which becomes the cdk-nag acknowledgement.
 */
export function allow(role: IRole, props: Omit<ExplainedStatement, 'effect'>): PolicyStatement {
  const { wildcardReason, ...statementProps } = props;
  for (const action of statementProps.actions ?? []) {
    if (action.includes('*')) {
      throw new UnexplainedWildcardError(
        `${role.node.path}: action ${action} is a wildcard; name each action`,
      );
    }
  }
  const resources = statementProps.resources ?? [];
  const wildcards = resources.filter((resource) => nagResourceString(role, resource).includes('*'));
  if (wildcards.length > 0) {
    if (wildcardReason === undefined) {
      throw new UnexplainedWildcardError(
        `${role.node.path}: ${statementProps.actions?.join(', ')} on ${wildcards
          .map((r) => nagResourceString(role, r))
          .join(', ')} needs a wildcardReason`,
      );
    }
    acknowledgeWildcardResources(role, wildcards, wildcardReason);
  }
  const statement = new PolicyStatement(statementProps);
  role.addToPrincipalPolicy(statement);
  return statement;
}
