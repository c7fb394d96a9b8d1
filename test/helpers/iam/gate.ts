/**
 * Every AWS call a scenario makes through Phoenix, decided by IAM.
 *
 * {@link iamGate} builds the {@link CallGate} the local runner and the reconciler take: each
 * call is turned into what IAM authorizes (requests.ts: actions, resource ARNs, the resource's
 * current tags from the emulated account) and decided by `@cloud-copilot/iam-simulate`
 * against the synthesized policy of the role that would make it (policies.ts). An allowed
 * call goes on to the emulator; a denied one fails as AWS would fail it (AccessDenied /
 * UnauthorizedOperation), so the code reacts as it would in AWS, AND is recorded: the test
 * that made it fails afterwards with the role, the action, the resource, the statement that
 * was missing and the statements that came close, whatever the code did with the error.
 * A test that expects a denial takes it with {@link takeDenials}.
 */
import { AutoScalingServiceException } from '@aws-sdk/client-auto-scaling';
import { CloudWatchServiceException } from '@aws-sdk/client-cloudwatch';
import { ConfigServiceServiceException } from '@aws-sdk/client-config-service';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2ServiceException } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { SFNServiceException } from '@aws-sdk/client-sfn';
import { SNSServiceException } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, afterEach } from 'vitest';
import type { AwsCall, CallGate, Principal } from '../../../functions/aws/call-gate';
import type { PhoenixClients } from '../../../functions/aws/clients';
import type { CompiledDesiredState } from '../../../functions/domain/model';
import { testClientConfig } from '../emulator';
import { type AccountNames, type ResolvedRole, resolvedPolicies } from './policies';
import { type Authorization, authorizationsFor, type World } from './requests';
import { type Decided, simulate } from './simulate';
import type { IamProps } from './synthesized-policies';

/** A call IAM would deny. */
export interface Denial {
  principal: Principal;
  role: string;
  /** The call as the code made it, e.g. `ec2:RunInstances`. */
  call: string;
  action: string;
  resource: string;
  decision: 'ExplicitlyDenied' | 'ImplicitlyDenied';
  /** The readable account of it all (what the failing test prints). */
  message: string;
}

const pending: Denial[] = [];

/** The denials recorded since the last call (a test that expects one takes it here). */
export function takeDenials(): Denial[] {
  return pending.splice(0);
}

/** Throws the report of the denials recorded so far (and takes them), if there are any. */
export function assertNoDenials(): void {
  const denied = takeDenials();
  if (denied.length === 0) return;
  // A retried call is denied again each time: say it once, with the count.
  const counts = new Map<string, number>();
  for (const d of denied) counts.set(d.message, (counts.get(d.message) ?? 0) + 1);
  const error = new Error(
    `IAM would deny ${denied.length} call${denied.length === 1 ? '' : 's'} that the emulator accepted:\n\n${[
      ...counts,
    ]
      .map(([message, n]) =>
        n === 1 ? message : `${message}\n    (denied ${n} times: the call was retried)`,
      )
      .join('\n\n')}`,
  );
  error.name = 'IamDeniedError';
  throw error;
}

// Wherever a scenario made the call (a test, a beforeAll), the test it belongs to fails.
afterEach(assertNoDenials);
afterAll(assertNoDenials);

const ROLE_WORDS: Record<Principal, string> = {
  evaluator: "the evaluator function's role",
  'remediation-steps': "the remediation steps function's role",
  'state-machine': "the state machine's role",
};

interface StatementLike {
  statement?: unknown;
  actionMatch?: boolean;
  resourceMatch?: boolean;
  conditionMatch?: unknown;
  explain?: {
    resources?: Array<{ resource?: string; matches?: boolean; mismatchReason?: string }>;
    conditions?: Array<{
      operator?: string;
      conditionKeyValue?: string;
      matches?: boolean;
      failedBecauseMissing?: boolean;
      values?: Array<{ value?: string }> | { value?: string };
      resolvedConditionKeyValue?: string | string[];
    }>;
  };
}

/** Why a statement naming the action did not apply: its resources or its conditions. */
function nearMiss(analysis: StatementLike): string {
  const reasons: string[] = [];
  if (analysis.resourceMatch === false) {
    const resources = (analysis.explain?.resources ?? []).map(
      (r) => `${r.resource ?? '?'}${r.mismatchReason === undefined ? '' : ` (${r.mismatchReason})`}`,
    );
    reasons.push(`its Resource does not match: ${resources.join(', ')}`);
  }
  for (const condition of analysis.explain?.conditions ?? []) {
    if (condition.matches !== false) continue;
    const expected = (Array.isArray(condition.values) ? condition.values : [condition.values ?? {}])
      .map((v) => v.value)
      .join(' | ');
    const actual = condition.failedBecauseMissing
      ? 'the request has no such key'
      : `the request has ${JSON.stringify(condition.resolvedConditionKeyValue)}`;
    reasons.push(
      `condition ${condition.operator} ${condition.conditionKeyValue} = ${expected} fails: ${actual}`,
    );
  }
  return `${JSON.stringify(analysis.statement)}\n        → ${reasons.join('; ') || 'does not apply'}`;
}

function explain(call: AwsCall, role: ResolvedRole, request: Authorization, decided: Decided): string {
  const analysis = (decided.analysis ?? {}) as {
    denyStatements?: StatementLike[];
    unmatchedStatements?: StatementLike[];
  };
  const context = Object.entries(request.context).sort(([a], [b]) => a.localeCompare(b));
  const lines = [
    `✗ ${ROLE_WORDS[call.principal]} (${role.name}) may not ${request.action} on ${request.resource}`,
    `    call:      ${call.client}:${call.operation} by ${call.principal}${request.why === undefined ? '' : ` — for ${request.why}`}`,
    `    context:   ${context.length === 0 ? '(none)' : context.map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`).join(', ')}`,
  ];
  if (decided.result === 'ExplicitlyDenied') {
    lines.push('    decision:  explicitly denied by');
    for (const deny of analysis.denyStatements ?? []) lines.push(`      ${JSON.stringify(deny.statement)}`);
    return lines.join('\n');
  }
  lines.push(
    '    decision:  implicitly denied: no statement of the role allows it',
    `    missing:   ${JSON.stringify({ Effect: 'Allow', Action: request.action, Resource: request.resource })}`,
  );
  const close = (analysis.unmatchedStatements ?? []).filter((s) => s.actionMatch === true);
  if (close.length > 0) {
    lines.push('    closest:   statements that name the action but do not apply:');
    for (const statement of close) lines.push(`      ${nearMiss(statement)}`);
  }
  return lines.join('\n');
}

type ServiceExceptionClass = new (options: {
  name: string;
  $fault: 'client';
  $metadata: object;
  message: string;
}) => Error;

const REFUSALS: Record<string, { exception: ServiceExceptionClass; name: string }> = {
  ec2: { exception: EC2ServiceException, name: 'UnauthorizedOperation' },
  autoScaling: { exception: AutoScalingServiceException, name: 'AccessDenied' },
  elbv2: { exception: ElasticLoadBalancingV2ServiceException, name: 'AccessDenied' },
  dynamodb: { exception: DynamoDBServiceException, name: 'AccessDeniedException' },
  sns: { exception: SNSServiceException, name: 'AuthorizationError' },
  config: { exception: ConfigServiceServiceException, name: 'AccessDeniedException' },
  sfn: { exception: SFNServiceException, name: 'AccessDeniedException' },
  cloudwatch: { exception: CloudWatchServiceException, name: 'AccessDenied' },
};

/** The error AWS answers a denied call with, as the SDK raises it. */
function refusal(call: AwsCall, denial: Denial): Error {
  const text = `User: ${denial.role} is not authorized to perform: ${denial.action} on resource: ${denial.resource} (IAM decided in the test)`;
  const kind = REFUSALS[call.client];
  if (kind === undefined) {
    const error = new Error(text);
    error.name = 'AccessDeniedException';
    return error;
  }
  return new kind.exception({ name: kind.name, $fault: 'client', $metadata: {}, message: text });
}

export interface IamGateOptions {
  desiredState: CompiledDesiredState;
  /** The account's own names: region, state table, topic. */
  names: AccountNames;
  /** Raw clients on the emulated account, to read resources' current tags. */
  clients: Pick<PhoenixClients, 'ec2' | 'autoScaling' | 'elbv2'>;
  /** Props of the DriftRemediator that change its policies (instance roles, EBS keys). */
  props?: IamProps;
  /** Takes one action out of one role's synthesized policy (proves a missing grant is caught). */
  withoutGrant?: { principal: Principal; action: string };
}

/** `role` with `action` removed from every statement (statements left with no action dropped). */
function without(role: ResolvedRole, action: string): ResolvedRole {
  const statements = role.policy.Statement.flatMap((statement) => {
    const actions = ([] as unknown[]).concat(statement.Action ?? []).filter((a) => a !== action);
    return actions.length === 0 ? [] : [{ ...statement, Action: actions }];
  });
  return { ...role, policy: { ...role.policy, Statement: statements } };
}

/** A gate deciding every call against the policies synthesized for `desiredState`. */
export async function iamGate(options: IamGateOptions): Promise<CallGate> {
  const policies = await resolvedPolicies(options.desiredState, options.names, options.props);
  const cut = options.withoutGrant;
  if (cut !== undefined) policies.roles[cut.principal] = without(policies.roles[cut.principal], cut.action);
  const world: World = {
    region: options.names.region,
    ec2: options.clients.ec2,
    autoScaling: options.clients.autoScaling,
    elbv2: options.clients.elbv2,
    ssm: new SSMClient(testClientConfig()),
    iam: new IAMClient(testClientConfig()),
    topicKeys: new Map([[options.names.topicArn, policies.topicKeyArn]]),
  };
  return async (call) => {
    const role = policies.roles[call.principal];
    const requests = await authorizationsFor(call, world);
    for (const request of requests) {
      const resourcePolicy = policies.resourcePolicies.get(request.resource);
      const decided = await simulate({
        principal: role.arn,
        identityPolicy: role.policy,
        ...(resourcePolicy === undefined ? {} : { resourcePolicy }),
        action: request.action,
        resource: request.resource,
        context: request.context,
      });
      if (decided.result === 'Allowed') continue;
      const denial: Denial = {
        principal: call.principal,
        role: role.arn,
        call: `${call.client}:${call.operation}`,
        action: request.action,
        resource: request.resource,
        decision: decided.result,
        message: explain(call, role, request, decided),
      };
      pending.push(denial);
      throw refusal(call, denial);
    }
  };
}
