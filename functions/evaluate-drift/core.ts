/**
 * The evaluator's logic: judge the instances an event concerns, record compliance, act by
 * mode. Everything it touches is injected ({@link DetectionDeps}); the handler only builds
 * the dependencies once and passes events in.
 *
 * Decisions worth knowing:
 *
 * - **Only declared fleets.** Every instance goes through `findFleet`; outside or excluded
 *   instances are recorded NOT_APPLICABLE (Config events) and never acted on.
 * - **Current facts decide actions.** An EventBridge event only says *which* instances to
 *   look at: they are described again (DescribeInstances) and judged from what they are now,
 *   never from the event payload, so a stale or out-of-order event cannot cause a wrong
 *   action. A Config item is recorded as captured (Config orders evaluations by the capture
 *   time) but, before acting, the instance is described again in the same way.
 * - **Compliance is written only by Config-origin events**, which carry the rule's result
 *   token. CloudTrail and state-change events have none: they act (notify, start
 *   remediation) and Config's own change notification records the result minutes later.
 * - **Acting needs a running instance.** Pending instances (RunInstances) are judged again
 *   by the state-change event when they run, after Auto Scaling has tagged them; stopped
 *   ones are recorded but not replaced.
 * - **Idempotent actions.** Notifications are claimed once per instance, fingerprint and
 *   event in the state table (TTL'd); executions are named from instance, fingerprint and
 *   the drift's attempt generation (see execution.ts). Replays, duplicates and retries
 *   therefore notify and start nothing twice, which is what makes failing an invocation (so
 *   Lambda retries it) always safe.
 * - **Malformed events** are logged with the whole event and counted (`MalformedEvents`),
 *   then: a Config rule invocation returns normally (retrying cannot repair it, and the
 *   periodic sweep re-judges every instance anyway), while an EventBridge or unknown event
 *   throws {@link MalformedEventError}, so Lambda's asynchronous retry policy delivers it to
 *   the failure destination (dead-letter queue) where nothing is lost. Lambda retries an
 *   asynchronous event at most twice: no crash loop either way.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { GetResourceConfigHistoryCommand } from '@aws-sdk/client-config-service';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { ComplianceLedger, LedgerGeneration } from '../aws/compliance-ledger';
import { factsFromConfigItem } from '../aws/instance-facts';
import { describeInstances, groupSourceOf, listFleetInstances } from '../aws/inventory';
import type { NotificationPublisher } from '../aws/notifier';
import type { StateStore } from '../aws/state-store';
import { fingerprintOf } from '../domain/drift/fingerprint';
import { checkSource, type SourceCheck } from '../domain/drift/source-check';
import { InvalidInputError, PhoenixError } from '../domain/errors';
import type {
  CompiledDesiredState,
  CompiledFleet,
  InstanceFacts,
  LaunchTemplateFacts,
  Verdict,
} from '../domain/model';
import {
  buildNotification,
  type ExecutionLink,
  executionConsoleUrl,
  type NotificationEvent,
  type NotificationInput,
} from '../domain/notification';
import { PhoenixMetric } from '../runtime/metric-names';
import {
  type ComplianceRecord,
  EC2_INSTANCE_RESOURCE_TYPE,
  evaluationDigest,
  type RecordOptions,
  recordCompliance,
} from './evaluations';
import {
  type ConfigRuleContext,
  classifyEvent,
  type DetectionEvent,
  type EventOrigin,
  isDeletedStatus,
} from './events';
import {
  executionArnOf,
  REMEDIATION_REQUEST_VERSION,
  type RemediationRequest,
  startRemediation,
} from './execution';
import { complianceOf, Judge, type Judgement } from './judge';

/** An event that cannot be understood. Thrown for EventBridge events so they reach the DLQ. */
export class MalformedEventError extends InvalidInputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MalformedEventError';
  }
}

/** Some instances could not be judged or acted on; the rest were. Thrown so Lambda retries. */
export class DetectionIncompleteError extends PhoenixError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DetectionIncompleteError';
  }
}

/** Structured logging, as Powertools' Logger offers it. */
export interface DetectionLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Metrics, as Powertools' Metrics offers them. */
export interface DetectionMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
}

/** The metrics the evaluator emits (namespace set by the handler). */
export const METRIC = {
  malformedEvents: 'MalformedEvents',
  ignoredEvents: 'IgnoredEvents',
  instancesJudged: 'InstancesJudged',
  instancesDrifted: PhoenixMetric.DriftDetected,
  evaluationsRecorded: 'EvaluationsRecorded',
  evaluationsUnchanged: 'EvaluationsUnchanged',
  notificationsPublished: 'NotificationsPublished',
  remediationsStarted: 'RemediationsStarted',
  remediationsAlreadyStarted: 'RemediationsAlreadyStarted',
  remediationsPaused: 'RemediationsPaused',
  remediationsBlocked: 'RemediationsBlocked',
  sourceDrift: 'SourceDrift',
  failures: 'DetectionFailures',
} as const;

/** What the evaluator needs from the state table. */
export type DetectionStore = Pick<
  StateStore,
  'isPaused' | 'claimNotification' | 'releaseNotification' | 'getQuarantine' | 'driftAttempt'
>;

export interface DetectionDeps {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  config: Pick<ConfigServiceClient, 'send'>;
  sfn: Pick<SFNClient, 'send'>;
  store: DetectionStore;
  notifier: NotificationPublisher;
  desiredState: CompiledDesiredState;
  stateMachineArn: string;
  /** Region of console links; defaults to the state machine's region. */
  consoleRegion?: string;
  clock: () => Date;
  logger: DetectionLogger;
  metrics: DetectionMetrics;
  /** Backoff waits (PutEvaluations retries); injected so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
  /** How long a sent notification stays de-duplicated. Default 7 days: an unfixed drift reminds weekly. */
  notificationTtlSeconds?: number;
  /** Instances acted on in parallel. */
  concurrency?: number;
  /**
   * What was last reported to Config: with it, a sweep reports only evaluations that changed
   * (and change notifications keep it in step). Without it, every sweep reports everything.
   */
  ledger?: Pick<ComplianceLedger, 'read' | 'replace' | 'note'>;
  /** Changes with every deploy of the evaluator: the first sweep after a deploy reports everything. */
  deploymentId?: string;
}

/** What one invocation did; returned by the handler (and logged) for operators and tests. */
export interface DetectionSummary {
  event: DetectionEvent['kind'] | 'malformed';
  judged: number;
  compliant: number;
  nonCompliant: number;
  notApplicable: number;
  evaluationsRecorded: number;
  notificationsPublished: number;
  remediationsStarted: number;
  remediationsAlreadyStarted: number;
  /** Drifted instances not started: paused, quarantined, source drift, template unknown. */
  remediationsHeld: number;
  /** Sweep evaluations not sent because Config already holds them unchanged. */
  evaluationsUnchanged: number;
}

export const DEFAULT_NOTIFICATION_TTL_SECONDS = 7 * 24 * 3600;
const DEFAULT_CONCURRENCY = 8;

function emptySummary(event: DetectionSummary['event']): DetectionSummary {
  return {
    event,
    judged: 0,
    compliant: 0,
    nonCompliant: 0,
    notApplicable: 0,
    evaluationsRecorded: 0,
    notificationsPublished: 0,
    remediationsStarted: 0,
    remediationsAlreadyStarted: 0,
    remediationsHeld: 0,
    evaluationsUnchanged: 0,
  };
}

/** Why an instance is being looked at: carried into notifications and the execution input. */
interface Trigger {
  name: string;
  principal?: string;
}

/**
 * Handles one event end to end. Resolves with a summary; rejects when something could not be
 * done and a retry can help (AWS errors, refused evaluations), or with
 * {@link MalformedEventError} for a malformed EventBridge event (see the module notes).
 */
export async function handleEvent(deps: DetectionDeps, raw: unknown): Promise<DetectionSummary> {
  const classified = classifyEvent(raw);
  if (!classified.ok) return rejectMalformed(deps, raw, classified.origin, classified.problem);
  return new Invocation(deps, classified.event).run();
}

/**
 * A malformed Config invocation returns normally; anything else throws (see the module notes).
 * Either way the whole event is logged and counted, so nothing disappears silently.
 */
function rejectMalformed(
  deps: DetectionDeps,
  raw: unknown,
  origin: EventOrigin,
  problem: string,
): DetectionSummary {
  deps.metrics.addMetric(METRIC.malformedEvents, 'Count', 1);
  deps.logger.error('Malformed event: not processed', { origin, problem, event: raw });
  if (origin === 'config-rule') return emptySummary('malformed');
  throw new MalformedEventError(
    `Malformed ${origin === 'eventbridge' ? 'EventBridge ' : ''}event: ${problem}`,
  );
}

/** What the evaluator reads of a configuration item before handing it to `factsFromConfigItem`. */
interface ItemEnvelope {
  resourceType: string;
  resourceId: string;
  configurationItemStatus: string;
  configurationItemCaptureTime: string | Date;
  [field: string]: unknown;
}

type SourceLookup = { ok: true; check: SourceCheck } | { ok: false; why: string };

class Invocation {
  readonly #deps: DetectionDeps;
  readonly #event: DetectionEvent;
  readonly #judge: Judge;
  readonly #summary: DetectionSummary;
  readonly #failures: string[] = [];
  #paused: Promise<boolean> | undefined;
  readonly #sources = new Map<string, Promise<SourceLookup>>();
  readonly #counts = new Map<string, number>();

  constructor(deps: DetectionDeps, event: DetectionEvent) {
    this.#deps = deps;
    this.#event = event;
    this.#judge = new Judge(deps.ec2, deps.desiredState.fleets, deps.clock());
    this.#summary = emptySummary(event.kind);
  }

  async run(): Promise<DetectionSummary> {
    try {
      return await this.#handle();
    } finally {
      this.#flushMetrics();
    }
  }

  /**
   * Metrics are summed per invocation and emitted once each: a sweep of thousands of
   * instances adds one data point per metric, not one per instance.
   */
  #count(name: string, value = 1): void {
    if (value > 0) this.#counts.set(name, (this.#counts.get(name) ?? 0) + value);
  }

  #flushMetrics(): void {
    for (const [name, value] of this.#counts) this.#deps.metrics.addMetric(name, 'Count', value);
    this.#counts.clear();
  }

  async #handle(): Promise<DetectionSummary> {
    const event = this.#event;
    switch (event.kind) {
      case 'ignored':
        this.#count(METRIC.ignoredEvents, 1);
        this.#deps.logger.info('Event ignored', { why: event.why });
        break;
      case 'config-item-change':
        await this.#configItemChange(event.rule, event.item);
        break;
      case 'config-oversized-item-change':
        await this.#configOversized(event);
        break;
      case 'config-scheduled':
        await this.#sweep(event.rule, new Date(event.notificationTime));
        break;
      case 'instance-activity':
        await this.#instanceActivity(event.instanceIds, triggerOf(event.trigger, event.principal));
        break;
      case 'launch-template-change':
        await this.#launchTemplateChange(event.template, triggerOf(event.trigger, event.principal));
        break;
    }
    this.#deps.logger.info('Event processed', { summary: this.#summary });
    if (this.#failures.length > 0) {
      this.#count(METRIC.failures, this.#failures.length);
      const shown = this.#failures.slice(0, 5).join('; ');
      throw new DetectionIncompleteError(
        `${this.#failures.length} failure(s) while handling ${event.kind}; everything else was done: ${shown}`,
      );
    }
    return this.#summary;
  }

  // ---- Config rule invocations --------------------------------------------------------

  async #configItemChange(rule: ConfigRuleContext, item: ItemEnvelope): Promise<void> {
    const ordering = new Date(item.configurationItemCaptureTime);
    const outOfScope = this.#outOfScope(
      rule,
      item.resourceType,
      item.resourceId,
      item.configurationItemStatus,
    );
    if (outOfScope !== undefined) {
      await this.#record(rule, [{ ...outOfScope, orderingTimestamp: ordering }], true);
      return;
    }
    let facts: InstanceFacts;
    try {
      facts = factsFromConfigItem(item);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      // The item is Config's, not ours to repair: count it and leave it to the sweep.
      rejectMalformed(this.#deps, item, 'config-rule', error.message);
      return;
    }
    const judgement = await this.#judgeCounted(facts);
    await this.#record(rule, [complianceOf(judgement, ordering)], true);
    if (isActionable(judgement)) {
      // Judged again from current facts before acting; counted once, as recorded.
      await this.#actOnCurrent([facts.instanceId], { name: 'ConfigurationItemChangeNotification' }, false);
    }
  }

  async #configOversized(
    event: Extract<DetectionEvent, { kind: 'config-oversized-item-change' }>,
  ): Promise<void> {
    const { rule } = event;
    const outOfScope = this.#outOfScope(rule, event.resourceType, event.resourceId, event.status);
    if (outOfScope !== undefined) {
      await this.#record(rule, [{ ...outOfScope, orderingTimestamp: new Date(event.captureTime) }], true);
      return;
    }
    // The notification was too large to carry the item: read it from Config's history.
    const history = await this.#deps.config.send(
      new GetResourceConfigHistoryCommand({
        resourceType: EC2_INSTANCE_RESOURCE_TYPE,
        resourceId: event.resourceId,
        limit: 1,
      }),
    );
    const item = history.configurationItems?.[0];
    if (item === undefined) {
      this.#deps.logger.warn(
        'Oversized item not found in the configuration history; judging the instance as it is now',
        {
          instanceId: event.resourceId,
        },
      );
      const current = await describeInstances(this.#deps.ec2, [event.resourceId]);
      const records: ComplianceRecord[] = [];
      for (const facts of current) {
        const judgement = await this.#judgeCounted(facts);
        records.push(complianceOf(judgement, new Date(event.captureTime)));
        if (isActionable(judgement))
          await this.#act(judgement, { name: 'OversizedConfigurationItemChangeNotification' });
      }
      await this.#record(rule, records, true);
      return;
    }
    await this.#configItemChange(rule, {
      ...item,
      resourceType: item.resourceType ?? event.resourceType,
      resourceId: item.resourceId ?? event.resourceId,
      configurationItemStatus: item.configurationItemStatus ?? event.status,
      configurationItemCaptureTime: item.configurationItemCaptureTime ?? event.captureTime,
    });
  }

  /** NOT_APPLICABLE for anything Phoenix does not judge: other types, out of scope, deleted. */
  #outOfScope(
    rule: ConfigRuleContext,
    resourceType: string,
    resourceId: string,
    status: string,
  ): Omit<ComplianceRecord, 'orderingTimestamp'> | undefined {
    const base = { resourceId, resourceType };
    if (resourceType !== EC2_INSTANCE_RESOURCE_TYPE) {
      return { ...base, compliance: 'NOT_APPLICABLE', annotation: `${resourceType} is not an EC2 instance` };
    }
    if (rule.eventLeftScope) {
      return {
        ...base,
        compliance: 'NOT_APPLICABLE',
        annotation: `${resourceId} left the scope of the rule`,
      };
    }
    if (isDeletedStatus(status as Parameters<typeof isDeletedStatus>[0])) {
      return { ...base, compliance: 'NOT_APPLICABLE', annotation: `${resourceId} was deleted (${status})` };
    }
    return undefined;
  }

  /**
   * The periodic sweep: every instance of every declared fleet, judged from DescribeInstances.
   * With a ledger, only evaluations Config does not already hold are sent; the ledger is
   * written after Config accepted them, so a failed report is sent again next time.
   */
  async #sweep(rule: ConfigRuleContext, ordering: Date): Promise<void> {
    const instances = await this.#fleetInstances(this.#deps.desiredState.fleets);
    const judgements = await this.#judgeAll(instances);
    const records = judgements.map((j) => complianceOf(j, ordering));
    const ledger = this.#deps.ledger;
    if (ledger === undefined) {
      await this.#record(rule, records);
    } else {
      const reading = await ledger.read(this.#generation(rule));
      const digests = new Map(records.map((r) => [r.resourceId, evaluationDigest(r)]));
      const changed = records.filter((r) => reading.digestOf(r.resourceId) !== digests.get(r.resourceId));
      const unchanged = records.length - changed.length;
      this.#summary.evaluationsUnchanged += unchanged;
      this.#count(METRIC.evaluationsUnchanged, unchanged);
      await this.#record(rule, changed);
      try {
        await ledger.replace(reading, digests);
      } catch (error) {
        // The evaluations are recorded; a ledger that did not follow only repeats them next time.
        this.#deps.logger.warn('Could not write the compliance ledger; the next sweep reports these again', {
          error: errorText(error),
        });
      }
    }
    await this.#actAll(judgements.filter(isActionable), { name: 'ScheduledNotification' });
  }

  #generation(rule: ConfigRuleContext): LedgerGeneration {
    const generation: LedgerGeneration = {
      rule: rule.ruleArn ?? rule.ruleName,
      revision: this.#deps.desiredState.revision,
    };
    if (this.#deps.deploymentId !== undefined) generation.deployment = this.#deps.deploymentId;
    return generation;
  }

  /** Records evaluations of change notifications, and keeps the ledger in step with them. */
  async #record(rule: ConfigRuleContext, records: ComplianceRecord[], noteInLedger = false): Promise<void> {
    const options: RecordOptions = {};
    if (this.#deps.sleep !== undefined) options.sleep = this.#deps.sleep;
    const result = await recordCompliance(this.#deps.config, rule.resultToken, records, options);
    this.#summary.evaluationsRecorded += result.recorded;
    if (result.recorded > 0) this.#count(METRIC.evaluationsRecorded, result.recorded);
    const ledger = this.#deps.ledger;
    if (!noteInLedger || ledger === undefined) return;
    for (const record of records) {
      try {
        await ledger.note(this.#generation(rule), record.resourceId, evaluationDigest(record));
      } catch (error) {
        this.#deps.logger.warn(
          'Could not note an evaluation in the compliance ledger; the next sweep may report it again',
          {
            instanceId: record.resourceId,
            error: errorText(error),
          },
        );
      }
    }
  }

  // ---- EventBridge ----------------------------------------------------------------------

  async #instanceActivity(instanceIds: string[], trigger: Trigger): Promise<void> {
    await this.#actOnCurrent(instanceIds, trigger);
  }

  /** A new default or latest version: every instance of every fleet using that template. */
  async #launchTemplateChange(template: { id?: string; name?: string }, trigger: Trigger): Promise<void> {
    const fleets: CompiledFleet[] = [];
    for (const fleet of this.#deps.desiredState.fleets) {
      if (await this.#usesTemplate(fleet, template)) fleets.push(fleet);
    }
    if (fleets.length === 0) {
      this.#count(METRIC.ignoredEvents, 1);
      this.#deps.logger.info('Launch template change concerns no declared fleet', { template });
      return;
    }
    this.#deps.logger.info('Launch template changed: judging its fleets', {
      template,
      fleets: fleets.map((f) => f.name),
    });
    const judgements = await this.#judgeAll(await this.#fleetInstances(fleets));
    await this.#actAll(judgements.filter(isActionable), trigger);
  }

  async #usesTemplate(fleet: CompiledFleet, template: { id?: string; name?: string }): Promise<boolean> {
    const spec = fleet.launchTemplate;
    if (template.id !== undefined && spec.id === template.id) return true;
    if (template.name !== undefined && spec.name === template.name) return true;
    // Declared by name, changed by id (or the other way round): ask the resolved template.
    const lookup = await this.#judge.template(fleet);
    if (!lookup.ok) return false;
    return lookup.facts.id === template.id || lookup.facts.name === template.name;
  }

  // ---- judging --------------------------------------------------------------------------

  async #fleetInstances(fleets: readonly CompiledFleet[]): Promise<InstanceFacts[]> {
    const byId = new Map<string, InstanceFacts>();
    for (const fleet of fleets) {
      try {
        for (const instance of await listFleetInstances(this.#deps.ec2, fleet))
          byId.set(instance.instanceId, instance);
      } catch (error) {
        // One fleet's failure must not hide the others' drift; the invocation fails at the end.
        this.#fail(`listing fleet ${fleet.name}`, error);
      }
    }
    return [...byId.values()];
  }

  async #judgeCounted(facts: InstanceFacts): Promise<Judgement> {
    const judgement = await this.#judge.judge(facts);
    const record = complianceOf(judgement, this.#judge.now);
    this.#summary.judged += 1;
    if (record.compliance === 'COMPLIANT') this.#summary.compliant += 1;
    else if (record.compliance === 'NON_COMPLIANT') this.#summary.nonCompliant += 1;
    else this.#summary.notApplicable += 1;
    this.#count(METRIC.instancesJudged, 1);
    if (judgement.kind === 'member' && judgement.verdict.status === 'drifted') {
      this.#count(METRIC.instancesDrifted, 1);
      this.#deps.logger.info('Instance drifted', {
        instanceId: facts.instanceId,
        fleet: judgement.fleet.name,
        fingerprint: judgement.verdict.fingerprint,
        reasons: judgement.verdict.reasons,
      });
    }
    return judgement;
  }

  async #judgeAll(instances: readonly InstanceFacts[]): Promise<Judgement[]> {
    const judgements: Judgement[] = [];
    for (const instance of instances) judgements.push(await this.#judgeCounted(instance));
    return judgements;
  }

  /** Describes the instances as they are now and acts on those still drifted. */
  async #actOnCurrent(instanceIds: readonly string[], trigger: Trigger, count = true): Promise<void> {
    const current = await describeInstances(this.#deps.ec2, [...instanceIds]);
    const found = new Set(current.map((i) => i.instanceId));
    const gone = instanceIds.filter((id) => !found.has(id));
    if (gone.length > 0)
      this.#deps.logger.info('Instances no longer exist; nothing to do', { instanceIds: gone });
    const judgements = count
      ? await this.#judgeAll(current)
      : await Promise.all(current.map((facts) => this.#judge.judge(facts)));
    await this.#actAll(judgements.filter(isActionable), trigger);
  }

  // ---- acting ---------------------------------------------------------------------------

  async #actAll(judgements: readonly ActionableJudgement[], trigger: Trigger): Promise<void> {
    const limit = Math.max(1, this.#deps.concurrency ?? DEFAULT_CONCURRENCY);
    let next = 0;
    const worker = async () => {
      while (next < judgements.length) {
        const judgement = judgements[next];
        next += 1;
        if (judgement === undefined) continue;
        try {
          await this.#act(judgement, trigger);
        } catch (error) {
          this.#fail(`acting on ${judgement.instance.instanceId}`, error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, judgements.length) }, worker));
  }

  /** Observe: nothing. Notify: one notification per drift. Enforce: also start the remediation, unless held. */
  async #act(judgement: Judgement, trigger: Trigger): Promise<void> {
    if (!isActionable(judgement)) return;
    const { instance, fleet, template, verdict } = judgement;
    const log = { instanceId: instance.instanceId, fleet: fleet.name, fingerprint: verdict.fingerprint };
    if (fleet.mode === 'observe') return;
    if (instance.state !== 'running') {
      this.#deps.logger.info('Drifted instance is not running: recorded, not acted on', {
        ...log,
        state: instance.state,
      });
      return;
    }
    const detectedAt = this.#judge.now.toISOString();
    const base = {
      fleet: fleet.name,
      team: fleet.team,
      instanceId: instance.instanceId,
      reasons: verdict.reasons,
      desiredState: this.#desiredStateRef(),
      timings: { detectedAt },
      ...(trigger.principal === undefined ? {} : { principal: trigger.principal }),
    };
    const driftKey = `drift.detected#${instance.instanceId}#${verdict.fingerprint}`;
    const who = trigger.principal === undefined ? '' : ` Changed by ${trigger.principal}.`;
    const summary = `Instance ${instance.instanceId} of fleet ${fleet.name} differs from the desired state: ${verdict.reasons.length} difference(s).${who}`;

    if (fleet.mode === 'notify') {
      await this.#notifyOnce(driftKey, {
        ...base,
        event: 'drift.detected',
        message: `${summary} Fleet mode is notify: Phoenix will not replace it; fix it or switch the fleet to enforce.`,
      });
      return;
    }

    // enforce
    const hold = await this.#hold(judgement, template);
    if (hold !== undefined) {
      this.#summary.remediationsHeld += 1;
      this.#count(hold.metric, 1);
      this.#deps.logger.warn('Drifted instance not replaced', { ...log, why: hold.why });
      if (hold.source !== undefined) {
        await this.#notifySourceDrift(judgement, hold.source, base, hold.why);
      }
      await this.#notifyOnce(driftKey, {
        ...base,
        event: 'drift.detected',
        message: `${summary} ${hold.why}`,
      });
      if (hold.blocked) {
        await this.#notifyOnce(`remediation.blocked#${instance.instanceId}#${verdict.fingerprint}`, {
          ...base,
          event: 'remediation.blocked',
          message: hold.why,
        });
      }
      return;
    }
    if (template === undefined) return; // #hold covers it; narrows the type

    // The attempt names the execution: the same until an execution for this drift ends in a
    // way that may be retried, so duplicates still meet ExecutionAlreadyExists.
    const { attempt, held } = await this.#deps.store.driftAttempt(instance.instanceId, verdict.fingerprint);
    if (held !== undefined) {
      // Its last execution asked a human to act (and told the team): not again until the hold ends.
      this.#summary.remediationsHeld += 1;
      this.#count(METRIC.remediationsBlocked, 1);
      this.#deps.logger.warn('Drifted instance not replaced', {
        ...log,
        why: `Not replaced before ${held.until}: ${held.why}`,
      });
      return;
    }
    const request: RemediationRequest = {
      requestVersion: REMEDIATION_REQUEST_VERSION,
      instanceId: instance.instanceId,
      fleet: fleet.name,
      fingerprint: verdict.fingerprint,
      reasons: verdict.reasons,
      desiredState: this.#desiredStateRef(),
      launchTemplate: { id: template.id, name: template.name, version: template.version },
      detectedAt,
      trigger: trigger.name,
      attempt,
    };
    if (trigger.principal !== undefined) request.principal = trigger.principal;
    const outcome = await startRemediation(this.#deps.sfn, this.#deps.stateMachineArn, request);
    if (outcome.started) {
      this.#summary.remediationsStarted += 1;
      this.#count(METRIC.remediationsStarted, 1);
      this.#deps.logger.info('Remediation started', { ...log, execution: outcome.executionArn });
    } else {
      this.#summary.remediationsAlreadyStarted += 1;
      this.#count(METRIC.remediationsAlreadyStarted, 1);
      this.#deps.logger.info('Remediation already started for this drift', {
        ...log,
        execution: outcome.name,
      });
    }
    const arn = outcome.started
      ? outcome.executionArn
      : executionArnOf(this.#deps.stateMachineArn, outcome.name);
    await this.#notifyOnce(driftKey, {
      ...base,
      event: 'drift.detected',
      execution: this.#executionLink(outcome.name, arn),
      message: `${summary} Phoenix is replacing it (launch template ${template.name} version ${template.version}).`,
    });
  }

  /** Why an enforce-mode instance must not be replaced now, if it must not. */
  async #hold(
    judgement: ActionableJudgement,
    template: LaunchTemplateFacts | undefined,
  ): Promise<
    | {
        why: string;
        metric: string;
        blocked: boolean;
        source?: { reasons: SourceReasons; template: LaunchTemplateFacts };
      }
    | undefined
  > {
    const { fleet } = judgement;
    if (template === undefined) {
      return {
        why: `Not replaced: ${judgement.templateProblem ?? 'the launch template cannot be resolved'}.`,
        metric: METRIC.remediationsBlocked,
        blocked: true,
      };
    }
    const source = await this.#sourceCheck(fleet, template);
    if (!source.ok) {
      return { why: `Not replaced: ${source.why}.`, metric: METRIC.remediationsBlocked, blocked: true };
    }
    if (!source.check.ok) {
      return {
        why: `Not replaced: a fresh instance from launch template ${template.name} version ${template.version} would itself be drifted (source drift); fix Git or the template.`,
        metric: METRIC.sourceDrift,
        blocked: false,
        source: { reasons: source.check.reasons, template },
      };
    }
    const quarantine = await this.#deps.store.getQuarantine(fleet.name, template.id, template.version);
    if (quarantine !== undefined) {
      return {
        why: `Not replaced: launch template ${template.name} version ${template.version} is quarantined for fleet ${fleet.name} since ${quarantine.at} (${quarantine.cause}); lift the quarantine or publish a fixed version.`,
        metric: METRIC.remediationsBlocked,
        blocked: true,
      };
    }
    if (await this.#isPaused()) {
      return {
        why: 'Remediation is paused: nothing is replaced until an operator resumes it.',
        metric: METRIC.remediationsPaused,
        blocked: false,
      };
    }
    return undefined;
  }

  #isPaused(): Promise<boolean> {
    this.#paused ??= this.#deps.store.isPaused();
    return this.#paused;
  }

  /** The anti-loop check, once per fleet per invocation. */
  #sourceCheck(fleet: CompiledFleet, template: LaunchTemplateFacts): Promise<SourceLookup> {
    let lookup = this.#sources.get(fleet.name);
    if (lookup === undefined) {
      lookup = (async (): Promise<SourceLookup> => {
        try {
          const now = this.#judge.now;
          if (fleet.match.kind !== 'autoScalingGroup') {
            return { ok: true, check: checkSource({ fleet, template, propagatedTags: {}, now }) };
          }
          // What the group itself launches: its tags and its own template version, which may
          // not be the one Git declares (the recheck would refuse to replace from it anyway).
          const group = await groupSourceOf(
            this.#deps.ec2,
            this.#deps.autoScaling,
            fleet.match.autoScalingGroup,
            {
              spec: fleet.launchTemplate,
              facts: template,
            },
          );
          if (group.template === undefined) {
            return {
              ok: false,
              why: `Auto Scaling group ${fleet.match.autoScalingGroup} launches from a launch configuration, not a launch template: a replacement would not be built from what Git declares`,
            };
          }
          return {
            ok: true,
            check: checkSource({
              fleet,
              template,
              propagatedTags: group.propagatedTags,
              now,
              groupTemplate: group.template,
            }),
          };
        } catch (error) {
          // A missing group or a template mix-up: the source cannot be checked, so nothing is replaced.
          if (error instanceof PhoenixError) return { ok: false, why: error.message };
          throw error;
        }
      })();
      lookup.catch(() => this.#sources.delete(fleet.name));
      this.#sources.set(fleet.name, lookup);
    }
    return lookup;
  }

  /** One manual-action-required per fleet, template version and source drift: not one per instance. */
  async #notifySourceDrift(
    judgement: ActionableJudgement,
    source: { reasons: SourceReasons; template: LaunchTemplateFacts },
    base: Omit<NotificationInput, 'event' | 'message'>,
    why: string,
  ): Promise<void> {
    const { fleet } = judgement;
    const key = `manual-action-required#source#${fleet.name}#${source.template.id}#${source.template.version}#${fingerprintOf(source.reasons)}`;
    await this.#notifyOnce(key, {
      ...base,
      event: 'manual-action-required',
      reasons: source.reasons,
      message: `Fleet ${fleet.name}: ${why.replace(/^Not replaced: /, '')} Drifted instances of this fleet are reported but not replaced until the source is fixed.`,
    });
  }

  async #notifyOnce(key: string, input: NotificationInput & { event: NotificationEvent }): Promise<void> {
    const ttl = this.#deps.notificationTtlSeconds ?? DEFAULT_NOTIFICATION_TTL_SECONDS;
    if (!(await this.#deps.store.claimNotification(key, ttl))) {
      this.#deps.logger.debug('Notification already sent', { key });
      return;
    }
    try {
      await this.#deps.notifier.publish(buildNotification(input));
    } catch (error) {
      // Give the claim back, or the retry of this invocation would believe it was sent.
      await this.#deps.store.releaseNotification(key).catch((releaseError: unknown) => {
        this.#deps.logger.error('Could not release a notification claim: this notification is lost', {
          key,
          error: String(releaseError),
        });
      });
      throw error;
    }
    this.#summary.notificationsPublished += 1;
    this.#count(METRIC.notificationsPublished, 1);
  }

  #desiredStateRef(): { revision: string; commit: string } {
    const { revision, provenance } = this.#deps.desiredState;
    return { revision, commit: provenance.commit };
  }

  #executionLink(name: string, arn: string): ExecutionLink {
    const region = this.#deps.consoleRegion ?? regionOf(this.#deps.stateMachineArn);
    return { name, arn, consoleUrl: executionConsoleUrl(region, arn) };
  }

  #fail(what: string, error: unknown): void {
    const message = errorText(error);
    this.#failures.push(`${what}: ${message}`);
    this.#deps.logger.error(`Failed ${what}`, { error: message });
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

type SourceReasons = Extract<SourceCheck, { ok: false }>['reasons'];

type ActionableJudgement = Extract<Judgement, { kind: 'member' }> & {
  verdict: Extract<Verdict, { status: 'drifted' }>;
};

/** A member whose verdict is drifted: the only judgement that can lead to an action. */
function isActionable(judgement: Judgement): judgement is ActionableJudgement {
  return judgement.kind === 'member' && judgement.verdict.status === 'drifted';
}

function triggerOf(name: string, principal: string | undefined): Trigger {
  return principal === undefined ? { name } : { name, principal };
}

function regionOf(arn: string): string {
  return arn.split(':')[3] || 'us-east-1';
}
