/**
 * Reading the synthesized template's IAM policies, and asking "may this role do X to Y
 * carrying these tags?" the way IAM would: decided by `@cloud-copilot/iam-simulate` (the
 * same evaluator that decides every call of the e2e and remediation suites), over the role's
 * statements with every CloudFormation reference resolved to an ARN of the right shape.
 *
 * For reading the template itself, `resolve` turns references to the stack's own resources
 * into `<LogicalId>` / `<LogicalId.Attr>`.
 */
import { cfnResolver } from '../../helpers/iam/resolve';
import { type Decision as Simulated, simulate } from '../../helpers/iam/simulate';
import type { TemplateJson } from './synth';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-central-1';
export const PARTITION = 'aws';

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface IamRequest {
  action: string;
  resource: string;
  /** Request context: `aws:ResourceTag/App`, `ec2:LaunchTemplate`, … */
  context?: Record<string, string>;
}

export type Decision = 'allowed' | 'explicitly denied' | 'implicitly denied';

/** Resolves Fn::Join / Ref / Fn::GetAtt to a string. */
export function resolve(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, parts] = join as [string, unknown[]];
      return parts.map(resolve).join(delimiter);
    }
    const ref = record.Ref;
    if (typeof ref === 'string') {
      const pseudo: Record<string, string> = {
        'AWS::Partition': PARTITION,
        'AWS::Region': REGION,
        'AWS::AccountId': ACCOUNT,
        'AWS::URLSuffix': 'amazonaws.com',
      };
      return pseudo[ref] ?? `<${ref}>`;
    }
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${String(getAtt[0])}.${String(getAtt[1])}>`;
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function normalise(raw: Record<string, unknown>): Statement {
  if (raw.NotAction !== undefined || raw.NotResource !== undefined) {
    throw new Error('NotAction/NotResource are not supported by this reader');
  }
  const condition = raw.Condition as Record<string, Record<string, unknown>> | undefined;
  return {
    Effect: raw.Effect as 'Allow' | 'Deny',
    Action: asArray(raw.Action).map(resolve),
    Resource: asArray(raw.Resource).map(resolve),
    ...(condition === undefined
      ? {}
      : {
          Condition: Object.fromEntries(
            Object.entries(condition).map(([operator, block]) => [
              operator,
              Object.fromEntries(Object.entries(block).map(([key, v]) => [key, asArray(v).map(resolve)])),
            ]),
          ),
        }),
  };
}

/** Every identity-policy statement attached to the role with this logical id (AWS::IAM::Policy and inline). */
export function statementsOfRole(json: TemplateJson, roleLogicalId: string): Statement[] {
  const statements: Statement[] = [];
  const role = json.Resources[roleLogicalId];
  if (role === undefined || role.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role`);
  const inline = (role.Properties?.Policies ?? []) as Array<{ PolicyDocument: { Statement: unknown[] } }>;
  for (const policy of inline)
    statements.push(...policy.PolicyDocument.Statement.map((s) => normalise(s as Record<string, unknown>)));
  for (const resource of Object.values(json.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as unknown[];
    if (!roles.some((r) => resolve(r) === `<${roleLogicalId}>`)) continue;
    const document = resource.Properties?.PolicyDocument as { Statement: unknown[] };
    statements.push(...document.Statement.map((s) => normalise(s as Record<string, unknown>)));
  }
  return statements;
}

/** IAM wildcard match on action names: `*` any run, `?` one character, case-insensitive. */
export function actionMatches(pattern: string, action: string): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i').test(action);
}

/** Any part of the template with every reference resolved for {@link ACCOUNT} in {@link REGION} (to an ARN of the right shape). */
export function resolvedForAccount(json: TemplateJson, node: unknown): unknown {
  return cfnResolver({
    region: REGION,
    types: Object.fromEntries(Object.entries(json.Resources).map(([id, r]) => [id, r.Type])),
  })(node);
}

/** The role's identity policy, every reference resolved for {@link ACCOUNT} in {@link REGION}. */
export function policyOfRole(json: TemplateJson, roleLogicalId: string): unknown {
  const resolveAll = (node: unknown) => resolvedForAccount(json, node);
  const raw: unknown[] = [];
  const role = json.Resources[roleLogicalId];
  for (const policy of (role?.Properties?.Policies ?? []) as Array<{
    PolicyDocument: { Statement: unknown[] };
  }>)
    raw.push(...policy.PolicyDocument.Statement);
  for (const resource of Object.values(json.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as unknown[];
    if (!roles.some((r) => (r as { Ref?: unknown }).Ref === roleLogicalId)) continue;
    const document = resource.Properties?.PolicyDocument as { Statement?: unknown[] } | undefined;
    raw.push(...(document?.Statement ?? []));
  }
  return { Version: '2012-10-17', Statement: resolveAll(raw) };
}

const WORDS: Record<Simulated, Decision> = {
  Allowed: 'allowed',
  ExplicitlyDenied: 'explicitly denied',
  ImplicitlyDenied: 'implicitly denied',
};

/** IAM's decision for one request by the role with this logical id (iam-simulate). */
export async function decide(
  json: TemplateJson,
  roleLogicalId: string,
  request: IamRequest,
  options: { resourcePolicy?: unknown } = {},
): Promise<Decision> {
  const decided = await simulate({
    principal: `arn:${PARTITION}:iam::${ACCOUNT}:role/${roleLogicalId}`,
    identityPolicy: policyOfRole(json, roleLogicalId),
    ...(options.resourcePolicy === undefined ? {} : { resourcePolicy: options.resourcePolicy }),
    action: request.action,
    resource: request.resource,
    context: request.context ?? {},
  });
  return WORDS[decided.result];
}

/** `arn:aws:ec2:<region>:<account>:<resource>` for requests (`owner`: a resource shared from another account). */
export function arn(
  service: string,
  resource: string,
  options: { account?: boolean; owner?: string } = {},
): string {
  return `arn:${PARTITION}:${service}:${REGION}:${options.account === false ? '' : (options.owner ?? ACCOUNT)}:${resource}`;
}

/** Every action an Allow statement names (the role's grant surface). */
export function allowedActions(statements: readonly Statement[]): string[] {
  return [...new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action))].sort();
}
