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
 *
 * Where the parts live: `config-rule.ts` (Config rule invocations and the sweep),
 * `eventbridge.ts` (CloudTrail and state-change events), `act.ts` (acting by mode, through
 * the gate in `domain/gate`), `invocation.ts` (one invocation's state), `decisions.ts` (the
 * per-instance records the summary returns), `deps.ts` (dependencies and summary).
 */
import { triggerOf } from './act';
import { configItemChange, configOversized, sweep } from './config-rule';
import { countsOf, type DetectionDeps, type DetectionSummary, emptySummary, METRIC } from './deps';
import { DetectionIncompleteError, MalformedEventError } from './errors';
import { instanceActivity, launchTemplateChange } from './eventbridge';
import { classifyEvent, type EventOrigin } from './events';
import { Invocation } from './invocation';

export type { ExecutionRef, InstanceAction, InstanceDecision, JudgedInstance } from './decisions';
export {
  DEFAULT_NOTIFICATION_TTL_SECONDS,
  type DetectionCounts,
  type DetectionDeps,
  type DetectionLogger,
  type DetectionMetrics,
  type DetectionStore,
  type DetectionSummary,
  METRIC,
} from './deps';
export { DetectionIncompleteError, MalformedEventError } from './errors';

/**
 * Handles one event end to end. Resolves with a summary, whose `decisions` say what was
 * decided for each instance; rejects when something could not be done and a retry can help
 * (AWS errors, refused evaluations: {@link DetectionIncompleteError}, which carries the
 * summary of what was done), or with {@link MalformedEventError} for a malformed EventBridge
 * event (see the module notes).
 */
export async function handleEvent(deps: DetectionDeps, raw: unknown): Promise<DetectionSummary> {
  const classified = classifyEvent(raw);
  if (!classified.ok) return rejectMalformed(deps, raw, classified.origin, classified.problem);
  const inv = new Invocation(deps, classified.event);
  try {
    return await handle(inv);
  } finally {
    inv.flushMetrics();
  }
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

async function handle(inv: Invocation): Promise<DetectionSummary> {
  const { event, deps } = inv;
  const reject = (item: unknown, problem: string) => rejectMalformed(deps, item, 'config-rule', problem);
  switch (event.kind) {
    case 'ignored':
      inv.count(METRIC.ignoredEvents, 1);
      deps.logger.info('Event ignored', { why: event.why });
      break;
    case 'config-item-change':
      await configItemChange(inv, event.rule, event.item, reject);
      break;
    case 'config-oversized-item-change':
      await configOversized(inv, event, reject);
      break;
    case 'config-scheduled':
      await sweep(inv, event.rule, new Date(event.notificationTime));
      break;
    case 'instance-activity':
      await instanceActivity(inv, event.instanceIds, triggerOf(event.trigger, event.principal));
      break;
    case 'launch-template-change':
      await launchTemplateChange(inv, event.template, triggerOf(event.trigger, event.principal));
      break;
  }
  const summary = inv.summary;
  summary.decisions = inv.decisions();
  deps.logger.info('Event processed', { summary: countsOf(summary) });
  if (inv.failures.length > 0) {
    inv.count(METRIC.failures, inv.failures.length);
    const shown = inv.failures.slice(0, 5).join('; ');
    throw new DetectionIncompleteError(
      `${inv.failures.length} failure(s) while handling ${event.kind}; everything else was done: ${shown}`,
      { summary },
    );
  }
  return summary;
}
