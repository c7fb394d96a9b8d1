/**
 * One invocation's state, shared by its parts (`config-rule.ts`, `eventbridge.ts`,
 * `act.ts`): the dependencies, the judge, the summary and its per-instance decisions, the
 * metrics summed so far, the failures met, and the facts read once per invocation (a sweep
 * judges thousands of instances against a handful of fleets).
 */
import { listFleetInstances } from '../aws/inventory';
import type { PauseFact, SourceFact } from '../domain/gate/facts';
import type { CompiledFleet, InstanceFacts } from '../domain/model';
import type { InstanceAction, InstanceDecision, JudgedInstance } from './decisions';
import { type DetectionDeps, type DetectionSummary, emptySummary, METRIC } from './deps';
import type { DetectionEvent } from './events';
import { complianceOf, Judge, type Judgement } from './judge';

export class Invocation {
  readonly deps: DetectionDeps;
  readonly event: DetectionEvent;
  readonly judge: Judge;
  readonly summary: DetectionSummary;
  readonly failures: string[] = [];
  /** The anti-loop check per fleet (see `act.ts`). */
  readonly sources = new Map<string, Promise<SourceFact | undefined>>();
  #pause: Promise<PauseFact> | undefined;
  readonly #counts = new Map<string, number>();
  readonly #decisions = new Map<string, InstanceDecision>();

  constructor(deps: DetectionDeps, event: DetectionEvent) {
    this.deps = deps;
    this.event = event;
    this.judge = new Judge(deps.ec2, deps.desiredState.fleets, deps.clock());
    this.summary = emptySummary(event.kind);
  }

  /** The pause switch, read once per invocation. */
  pause(): Promise<PauseFact> {
    this.#pause ??= this.deps.store.pauseState();
    return this.#pause;
  }

  /**
   * Metrics are summed per invocation and emitted once each: a sweep of thousands of
   * instances adds one data point per metric, not one per instance.
   */
  count(name: string, value = 1): void {
    if (value > 0) this.#counts.set(name, (this.#counts.get(name) ?? 0) + value);
  }

  flushMetrics(): void {
    for (const [name, value] of this.#counts) this.deps.metrics.addMetric(name, 'Count', value);
    this.#counts.clear();
  }

  fail(what: string, error: unknown): void {
    const message = errorText(error);
    this.failures.push(`${what}: ${message}`);
    this.deps.logger.error(`Failed ${what}`, { error: message });
  }

  // ---- decisions ------------------------------------------------------------------------

  /** Records what was decided about an instance; a later record of the same instance replaces it. */
  decide(subject: JudgedInstance, action: InstanceAction): void {
    this.#decisions.delete(subject.instanceId);
    this.#decisions.set(subject.instanceId, { ...subject, ...action } as InstanceDecision);
  }

  /** The decisions so far, in the order their instances were last decided on. */
  decisions(): InstanceDecision[] {
    return [...this.#decisions.values()];
  }

  // ---- judging --------------------------------------------------------------------------

  async fleetInstances(fleets: readonly CompiledFleet[]): Promise<InstanceFacts[]> {
    const byId = new Map<string, InstanceFacts>();
    for (const fleet of fleets) {
      try {
        for (const instance of await listFleetInstances(this.deps.ec2, fleet))
          byId.set(instance.instanceId, instance);
      } catch (error) {
        // One fleet's failure must not hide the others' drift; the invocation fails at the end.
        this.fail(`listing fleet ${fleet.name}`, error);
      }
    }
    return [...byId.values()];
  }

  /** Judges an instance, counts the judgement and records its decision (acting may amend it). */
  async judgeCounted(facts: InstanceFacts): Promise<Judgement> {
    const judgement = await this.judge.judge(facts);
    const record = complianceOf(judgement, this.judge.now);
    this.summary.judged += 1;
    if (record.compliance === 'COMPLIANT') this.summary.compliant += 1;
    else if (record.compliance === 'NON_COMPLIANT') this.summary.nonCompliant += 1;
    else this.summary.notApplicable += 1;
    this.count(METRIC.instancesJudged, 1);
    if (judgement.kind === 'member' && judgement.verdict.status === 'drifted') {
      this.count(METRIC.instancesDrifted, 1);
      this.deps.logger.info('Instance drifted', {
        instanceId: facts.instanceId,
        fleet: judgement.fleet.name,
        fingerprint: judgement.verdict.fingerprint,
        reasons: judgement.verdict.reasons,
      });
    }
    this.decide(judgedInstance(judgement), judgedAction(judgement));
    return judgement;
  }

  async judgeAll(instances: readonly InstanceFacts[]): Promise<Judgement[]> {
    const judgements: Judgement[] = [];
    for (const instance of instances) judgements.push(await this.judgeCounted(instance));
    return judgements;
  }
}

/** What an instance is, as judged. */
export function judgedInstance(judgement: Judgement): JudgedInstance {
  const { instance } = judgement;
  const base = { instanceId: instance.instanceId, state: instance.state, fingerprint: null, reasons: [] };
  switch (judgement.kind) {
    case 'outside':
      return { ...base, fleet: null, verdict: 'outside' };
    case 'excluded':
      return { ...base, fleet: judgement.fleet.name, verdict: 'excluded' };
    case 'member': {
      const { verdict } = judgement;
      const fleet = judgement.fleet.name;
      return verdict.status === 'drifted'
        ? { ...base, fleet, verdict: 'drifted', fingerprint: verdict.fingerprint, reasons: verdict.reasons }
        : { ...base, fleet, verdict: verdict.status };
    }
  }
}

/** An instance the event named that no longer exists. */
export function goneInstance(instanceId: string): JudgedInstance {
  return { instanceId, fleet: null, state: null, verdict: 'gone', fingerprint: null, reasons: [] };
}

/** The action a judgement alone implies, until acting says more (a drift is acted on next). */
function judgedAction(judgement: Judgement): InstanceAction {
  if (judgement.kind !== 'member') return { action: 'none', why: judgement.why };
  const { verdict } = judgement;
  switch (verdict.status) {
    case 'in-sync':
      return { action: 'none', why: null };
    case 'not-applicable':
      return { action: 'none', why: judgement.templateProblem ?? verdict.why };
    case 'drifted':
      return { action: 'recorded', why: 'recorded; not acted on' };
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
