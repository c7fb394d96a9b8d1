/**
 * A deliberately small IAM policy evaluator over the synthesized template, enough to ask
 * "may this role do X to Y carrying these tags?" the way IAM would: explicit Deny wins,
 * then any Allow whose action, resource and every condition match.
 *
 * CloudFormation intrinsics are resolved against a fixed account and region; references to
 * the stack's own resources become `<LogicalId>` / `<LogicalId.Attr>`, which requests use
 * as-is. Condition operators it does not know make it throw: a test never passes because
 * the evaluator skipped something.
 */
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
    throw new Error('NotAction/NotResource are not supported by this evaluator');
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

/** IAM wildcard match: `*` any run, `?` one character. */
export function globMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, caseInsensitive ? 'i' : '').test(value);
}

function conditionHolds(
  operator: string,
  key: string,
  expected: string[],
  context: Record<string, string>,
): boolean {
  const actual = context[key];
  switch (operator) {
    case 'StringEquals':
    case 'ArnEquals':
      return actual !== undefined && expected.includes(actual);
    case 'StringNotEquals':
      return actual === undefined || !expected.includes(actual);
    case 'StringLike':
    case 'ArnLike':
      return actual !== undefined && expected.some((pattern) => globMatch(pattern, actual));
    case 'Bool':
      return actual !== undefined && expected.includes(actual);
    case 'Null':
      return expected.includes(actual === undefined ? 'true' : 'false');
    default:
      throw new Error(`condition operator ${operator} is not supported by this evaluator`);
  }
}

function matches(statement: Statement, request: IamRequest): boolean {
  if (!statement.Action.some((pattern) => globMatch(pattern, request.action, true))) return false;
  if (!statement.Resource.some((pattern) => globMatch(pattern, request.resource))) return false;
  const context = request.context ?? {};
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(block)) {
      if (!conditionHolds(operator, key, expected, context)) return false;
    }
  }
  return true;
}

/** IAM's decision for one request against one principal's identity statements. */
export function decide(statements: readonly Statement[], request: IamRequest): Decision {
  const applicable = statements.filter((statement) => matches(statement, request));
  if (applicable.some((statement) => statement.Effect === 'Deny')) return 'explicitly denied';
  return applicable.some((statement) => statement.Effect === 'Allow') ? 'allowed' : 'implicitly denied';
}

/** `arn:aws:ec2:<region>:<account>:<resource>` for requests. */
export function arn(service: string, resource: string, options: { account?: boolean } = {}): string {
  return `arn:${PARTITION}:${service}:${REGION}:${options.account === false ? '' : ACCOUNT}:${resource}`;
}

/** Every action an Allow statement names (the role's grant surface). */
export function allowedActions(statements: readonly Statement[]): string[] {
  return [...new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action))].sort();
}
