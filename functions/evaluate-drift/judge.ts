/**
 * Judging instances against the declared fleets: which fleet, which template, which verdict.
 *
 * Shared by the evaluator and `phoenix plan`, so the compliance record, the actions and the
 * plan a reviewer reads before merging all come from one judgement.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { NonAwsResponseError } from '../aws/errors';
import { resolveLaunchTemplate } from '../aws/inventory';
import { evaluateDrift } from '../domain/drift/engine';
import { findFleet } from '../domain/drift/match';
import { PhoenixError } from '../domain/errors';
import type { CompiledFleet, InstanceFacts, LaunchTemplateFacts, Verdict } from '../domain/model';
import { type ComplianceRecord, describeReasons } from './evaluations';

/** The fleet's launch template resolved to a number, or why it could not be. */
export type TemplateLookup = { ok: true; facts: LaunchTemplateFacts } | { ok: false; why: string };

export type Judgement =
  /** No declared fleet selects the instance (or several do): Phoenix never acts on it. */
  | { kind: 'outside'; instance: InstanceFacts; why: string }
  /** Its fleet selects it, but it carries one of the fleet's exclusion tags. */
  | { kind: 'excluded'; instance: InstanceFacts; fleet: CompiledFleet; why: string }
  | {
      kind: 'member';
      instance: InstanceFacts;
      fleet: CompiledFleet;
      /** Undefined when the template could not be resolved (`templateProblem` says why). */
      template: LaunchTemplateFacts | undefined;
      templateProblem?: string;
      verdict: Verdict;
    };

/**
 * Errors that mean "this template cannot be resolved" (deleted, renamed, version gone) rather
 * than "AWS did not answer": the first is a verdict input, the second must fail the
 * invocation so it is retried.
 */
function isPermanentLookupFailure(error: unknown): boolean {
  // An endpoint that is not AWS says nothing about the template.
  if (error instanceof NonAwsResponseError) return false;
  if (error instanceof PhoenixError) return true;
  if (!(error instanceof Error)) return false;
  return /NotFound|InvalidLaunchTemplate|InvalidParameter|ValidationError/i.test(error.name);
}

/** Judges instances for one invocation; resolves each fleet's template once. */
export class Judge {
  readonly #ec2: Pick<EC2Client, 'send'>;
  readonly #fleets: readonly CompiledFleet[];
  readonly #now: Date;
  readonly #templates = new Map<string, Promise<TemplateLookup>>();

  constructor(ec2: Pick<EC2Client, 'send'>, fleets: readonly CompiledFleet[], now: Date) {
    this.#ec2 = ec2;
    this.#fleets = fleets;
    this.#now = now;
  }

  get now(): Date {
    return this.#now;
  }

  get fleets(): readonly CompiledFleet[] {
    return this.#fleets;
  }

  /** The fleet's template, resolved once per invocation (a sweep judges thousands against it). */
  template(fleet: CompiledFleet): Promise<TemplateLookup> {
    let lookup = this.#templates.get(fleet.name);
    if (lookup === undefined) {
      lookup = resolveLaunchTemplate(this.#ec2, fleet.launchTemplate).then(
        (facts): TemplateLookup => ({ ok: true, facts }),
        (error: unknown): TemplateLookup => {
          if (!isPermanentLookupFailure(error)) throw error;
          const spec = fleet.launchTemplate;
          return {
            ok: false,
            why: `launch template ${spec.name ?? spec.id ?? '?'} version ${spec.version} of fleet ${fleet.name} cannot be resolved: ${(error as Error).message}`,
          };
        },
      );
      // A transient failure is not remembered: the next instance asks again.
      lookup.catch(() => this.#templates.delete(fleet.name));
      this.#templates.set(fleet.name, lookup);
    }
    return lookup;
  }

  /** Which fleet the instance belongs to and, for a member, its verdict. */
  async judge(instance: InstanceFacts): Promise<Judgement> {
    const match = findFleet(instance, this.#fleets);
    if (match.kind === 'outside') return { kind: 'outside', instance, why: match.why };
    if (match.kind === 'excluded') return { kind: 'excluded', instance, fleet: match.fleet, why: match.why };
    const { fleet } = match;
    const lookup = await this.template(fleet);
    const template = lookup.ok ? lookup.facts : undefined;
    const verdict = evaluateDrift({ instance, fleet, template, now: this.#now });
    const judgement: Judgement = { kind: 'member', instance, fleet, template, verdict };
    if (!lookup.ok) judgement.templateProblem = lookup.why;
    return judgement;
  }
}

/** The compliance record of a judgement. */
export function complianceOf(judgement: Judgement, orderingTimestamp: Date): ComplianceRecord {
  const resourceId = judgement.instance.instanceId;
  if (judgement.kind !== 'member') {
    return { resourceId, compliance: 'NOT_APPLICABLE', annotation: judgement.why, orderingTimestamp };
  }
  const { verdict } = judgement;
  switch (verdict.status) {
    case 'in-sync':
      return { resourceId, compliance: 'COMPLIANT', orderingTimestamp };
    case 'drifted':
      return {
        resourceId,
        compliance: 'NON_COMPLIANT',
        annotation: describeReasons(verdict.reasons),
        orderingTimestamp,
      };
    case 'not-applicable':
      return {
        resourceId,
        compliance: 'NOT_APPLICABLE',
        annotation: judgement.templateProblem ?? verdict.why,
        orderingTimestamp,
      };
  }
}
