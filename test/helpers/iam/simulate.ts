/**
 * One IAM decision, made by `@cloud-copilot/iam-simulate` (a maintained evaluator of AWS's
 * policy language: every condition operator, explicit deny, resource policies, KMS key
 * policies), cached per policy and request: the same request is decided once per process.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT } from './resolve';

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

export interface SimulationRequest {
  /** The principal's ARN (a role). */
  principal: string;
  /** The principal's identity policy (one document). */
  identityPolicy: unknown;
  /** The resource's own policy (a key policy, a bucket policy), if it has one. */
  resourcePolicy?: unknown;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface Decided {
  result: Decision;
  /** iam-simulate's identity analysis: which statements allowed, denied or did not apply, and why. */
  analysis: unknown;
}

const decisions = new Map<string, Promise<Decided>>();

const sorted = (context: Record<string, string | string[]>) =>
  Object.entries(context).sort(([a], [b]) => a.localeCompare(b));

/** IAM's decision. Requests are made over TLS, as the SDK makes them (`aws:SecureTransport`). */
export function simulate(request: SimulationRequest): Promise<Decided> {
  const context = { 'aws:SecureTransport': 'true', ...(request.context ?? {}) };
  const key = JSON.stringify([
    request.principal,
    request.identityPolicy,
    request.resourcePolicy ?? null,
    request.action,
    request.resource,
    sorted(context),
  ]);
  let decided = decisions.get(key);
  if (decided === undefined) {
    decided = (async () => {
      const answer = await runSimulation(
        {
          identityPolicies: [{ name: 'identity', policy: request.identityPolicy }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          ...(request.resourcePolicy === undefined ? {} : { resourcePolicy: request.resourcePolicy }),
          request: {
            principal: request.principal,
            action: request.action,
            resource: { resource: request.resource, accountId: ACCOUNT },
            contextVariables: context,
          },
        },
        {},
      );
      if (answer.resultType === 'error') {
        throw new Error(
          `iam-simulate could not decide ${request.action} on ${request.resource}: ${answer.errors.message}\n${JSON.stringify(answer.errors, null, 2)}`,
        );
      }
      const analysis =
        answer.resultType === 'single'
          ? answer.result.analysis.identityAnalysis
          : answer.results.find((r) => r.analysis.result !== 'Allowed')?.analysis.identityAnalysis;
      return { result: answer.overallResult, analysis };
    })();
    decisions.set(key, decided);
  }
  return decided;
}
