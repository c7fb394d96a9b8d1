/**
 * Acting on drifted instances, by mode: observe records only, notify tells the team once
 * per drift, enforce also starts the remediation unless the gate refuses it. The gate
 * (`domain/gate`) decides; this reads the facts it asks for, in its order, and renders the
 * decision: logs, metrics, notifications, the execution, the instance's decision record.
 */
import { describeAutoScalingGroup, describeInstances } from '../aws/inventory';
import { fingerprintOf } from '../domain/drift/fingerprint';
import type { Blocker, BlockerCode } from '../domain/gate/blockers';
import { decideLazily, type GateDecision, type GateRefusal } from '../domain/gate/decide';
import type { GateFacts, SourceFact } from '../domain/gate/facts';
import {
  driftSummary,
  heldMessage,
  notifyModeMessage,
  notReplacedSentence,
  replacingMessage,
  sourceDriftMessage,
} from '../domain/gate/messages';
import type { CompiledFleet, LaunchTemplateFacts, Verdict } from '../domain/model';
import {
  buildNotification,
  type ExecutionLink,
  executionConsoleUrl,
  type NotificationEvent,
  type NotificationInput,
} from '../domain/notification';
import { DEFAULT_NOTIFICATION_TTL_SECONDS, METRIC } from './deps';
import {
  executionArnOf,
  REMEDIATION_REQUEST_VERSION,
  type RemediationRequest,
  startRemediation,
} from './execution';
import { errorText, goneInstance, type Invocation, judgedInstance } from './invocation';
import type { Judgement } from './judge';
import { rolloutFactOf } from './rollout-facts';
import { readSource } from './source-facts';

/** Why an instance is being looked at: carried into notifications and the execution input. */
export interface Trigger {
  name: string;
  principal?: string;
}

export function triggerOf(name: string, principal: string | undefined): Trigger {
  return principal === undefined ? { name } : { name, principal };
}

const DEFAULT_CONCURRENCY = 8;

export type ActionableJudgement = Extract<Judgement, { kind: 'member' }> & {
  verdict: Extract<Verdict, { status: 'drifted' }>;
};

/** A member whose verdict is drifted: the only judgement that can lead to an action. */
export function isActionable(judgement: Judgement): judgement is ActionableJudgement {
  return judgement.kind === 'member' && judgement.verdict.status === 'drifted';
}

/** The metric a refusal counts under (every other refusal is `RemediationsBlocked`). */
const HOLD_METRIC: Partial<Record<BlockerCode, string>> = {
  'source-drift': METRIC.sourceDrift,
  paused: METRIC.remediationsPaused,
};

/**
 * Describes the instances as they are now and acts on those still drifted. `count`: judge
 * them as this event's judgements (false when the event's own judgement was already counted,
 * a Config item recorded as captured).
 */
export async function actOnCurrent(
  inv: Invocation,
  instanceIds: readonly string[],
  trigger: Trigger,
  count = true,
): Promise<void> {
  const current = await describeInstances(inv.deps.ec2, [...instanceIds]);
  const found = new Set(current.map((i) => i.instanceId));
  const gone = instanceIds.filter((id) => !found.has(id));
  if (gone.length > 0)
    inv.deps.logger.info('Instances no longer exist; nothing to do', { instanceIds: gone });
  for (const id of gone)
    inv.decide(goneInstance(id), { action: 'none', why: `instance ${id} no longer exists` });
  const judgements = count
    ? await inv.judgeAll(current)
    : await Promise.all(current.map((facts) => inv.judge.judge(facts)));
  if (!count) {
    // The counted judgement (the item) said drifted; what it is now decides, and says so.
    for (const judgement of judgements) {
      if (isActionable(judgement)) continue;
      const now = judgedInstance(judgement);
      inv.decide(now, {
        action: 'none',
        why: `instance ${now.instanceId} is ${now.verdict} now (described again before acting): nothing to do`,
      });
    }
  }
  await actAll(inv, judgements.filter(isActionable), trigger);
}

/** Acts on each judgement, a few at a time; one instance's failure does not stop the others. */
export async function actAll(
  inv: Invocation,
  judgements: readonly ActionableJudgement[],
  trigger: Trigger,
): Promise<void> {
  const limit = Math.max(1, inv.deps.concurrency ?? DEFAULT_CONCURRENCY);
  let next = 0;
  const worker = async () => {
    while (next < judgements.length) {
      const judgement = judgements[next];
      next += 1;
      if (judgement === undefined) continue;
      try {
        await act(inv, judgement, trigger);
      } catch (error) {
        inv.fail(`acting on ${judgement.instance.instanceId}`, error);
        inv.decide(judgedInstance(judgement), { action: 'failed', error: errorText(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, judgements.length) }, worker));
}

/** Observe: nothing. Notify: one notification per drift. Enforce: also start the remediation, unless held. */
export async function act(inv: Invocation, judgement: ActionableJudgement, trigger: Trigger): Promise<void> {
  const { instance, fleet, template, verdict } = judgement;
  const subject = judgedInstance(judgement);
  const log = { instanceId: instance.instanceId, fleet: fleet.name, fingerprint: verdict.fingerprint };
  // The attempt names the execution: the same until an execution for this drift ends in a
  // way that may be retried, so duplicates still meet ExecutionAlreadyExists.
  let attempt = 0;
  const decision = await decideLazily(gateFacts(inv, judgement), {
    source: async () => (template === undefined ? undefined : sourceOf(inv, fleet, template)),
    quarantine: async () =>
      template === undefined
        ? undefined
        : inv.deps.store.getQuarantine(fleet.name, template.id, template.version),
    pause: () => inv.pause(),
    rollout: () => rolloutFactOf(inv, inv.deps, fleet, template, instance),
    attemptHold: async () => {
      const drift = await inv.deps.store.driftAttempt(instance.instanceId, verdict.fingerprint);
      attempt = drift.attempt;
      return drift.held;
    },
  });

  if (decision.verdict === 'replace' || decision.verdict === 'wait') {
    // A wait is the execution's to do (a closed window waits in the state machine, for free);
    // the gate does not ask detection to wait today, but a later gate may.
    if (template === undefined) return; // the gate holds an unresolved template; narrows the type
    await start(inv, judgement, template, trigger, attempt, decision);
    return;
  }
  const { blocker } = decision;
  switch (blocker.code) {
    case 'mode-observe':
      inv.decide(subject, { action: 'recorded', why: decision.why, gate: decision });
      return;
    case 'instance-gone':
    case 'not-running':
      // Shutting down is recorded as stopped is; an observe fleet's instances say nothing.
      if (fleet.mode !== 'observe')
        inv.deps.logger.info('Drifted instance is not running: recorded, not acted on', {
          ...log,
          state: instance.state,
        });
      inv.decide(subject, { action: 'recorded', why: decision.why, gate: decision });
      return;
    case 'mode-notify': {
      const published = await notifyOnce(inv, driftKey(judgement), {
        ...notificationBase(inv, judgement, trigger),
        event: 'drift.detected',
        message: notifyModeMessage(summaryOf(judgement, trigger)),
      });
      inv.decide(subject, { action: 'notified', why: decision.why, gate: decision, published });
      return;
    }
    default:
      await hold(inv, judgement, trigger, decision, blocker);
  }
}

/** What the gate is asked at detection; the costly facts are read when it asks (see `act`). */
function gateFacts(inv: Invocation, judgement: ActionableJudgement): GateFacts {
  const { instance, fleet, template, verdict } = judgement;
  return {
    moment: 'detection',
    now: inv.judge.now,
    match: { kind: 'member', fleet },
    instance: { instanceId: instance.instanceId, state: instance.state, verdict },
    template:
      template === undefined
        ? { ok: false, why: judgement.templateProblem ?? 'the launch template cannot be resolved' }
        : { ok: true, facts: template },
  };
}

/** A refusal in enforce mode: counted, logged, and told to the team as the gate says. */
async function hold(
  inv: Invocation,
  judgement: ActionableJudgement,
  trigger: Trigger,
  decision: GateRefusal,
  blocker: Blocker,
): Promise<void> {
  const { instance, fleet, verdict } = judgement;
  const why = notReplacedSentence(blocker);
  inv.summary.remediationsHeld += 1;
  inv.count(HOLD_METRIC[blocker.code] ?? METRIC.remediationsBlocked, 1);
  inv.deps.logger.warn('Drifted instance not replaced', {
    instanceId: instance.instanceId,
    fleet: fleet.name,
    fingerprint: verdict.fingerprint,
    why,
  });
  inv.decide(judgedInstance(judgement), { action: 'held', why, gate: decision });
  // Its last execution asked a human to act, and told the team: not again until the hold ends.
  if (blocker.code === 'manual-hold') return;
  const base = notificationBase(inv, judgement, trigger);
  if (blocker.code === 'source-drift') {
    // One manual-action-required per fleet, template version and source drift: not one per instance.
    const { template, reasons } = blocker;
    await notifyOnce(
      inv,
      `manual-action-required#source#${fleet.name}#${template.id}#${template.version}#${fingerprintOf(reasons)}`,
      { ...base, event: 'manual-action-required', reasons, message: sourceDriftMessage(fleet.name, blocker) },
    );
  }
  await notifyOnce(inv, driftKey(judgement), {
    ...base,
    event: 'drift.detected',
    message: heldMessage(summaryOf(judgement, trigger), blocker),
  });
  if (decision.notify && blocker.code !== 'source-drift') {
    await notifyOnce(inv, `remediation.blocked#${instance.instanceId}#${verdict.fingerprint}`, {
      ...base,
      event: 'remediation.blocked',
      message: why,
    });
  }
}

async function start(
  inv: Invocation,
  judgement: ActionableJudgement,
  template: LaunchTemplateFacts,
  trigger: Trigger,
  attempt: number,
  decision: GateDecision,
): Promise<void> {
  const { instance, fleet, verdict } = judgement;
  const log = { instanceId: instance.instanceId, fleet: fleet.name, fingerprint: verdict.fingerprint };
  const base = notificationBase(inv, judgement, trigger);
  const request: RemediationRequest = {
    requestVersion: REMEDIATION_REQUEST_VERSION,
    instanceId: instance.instanceId,
    fleet: fleet.name,
    fingerprint: verdict.fingerprint,
    reasons: verdict.reasons,
    desiredState: desiredStateRef(inv),
    launchTemplate: { id: template.id, name: template.name, version: template.version },
    detectedAt: base.timings.detectedAt,
    trigger: trigger.name,
    attempt,
  };
  if (trigger.principal !== undefined) request.principal = trigger.principal;
  const outcome = await startRemediation(inv.deps.sfn, inv.deps.stateMachineArn, request);
  const arn = outcome.started ? outcome.executionArn : executionArnOf(inv.deps.stateMachineArn, outcome.name);
  const execution = { name: outcome.name, arn };
  if (outcome.started) {
    inv.summary.remediationsStarted += 1;
    inv.count(METRIC.remediationsStarted, 1);
    inv.deps.logger.info('Remediation started', { ...log, execution: outcome.executionArn });
    inv.decide(judgedInstance(judgement), { action: 'started', execution, gate: decision });
  } else {
    inv.summary.remediationsAlreadyStarted += 1;
    inv.count(METRIC.remediationsAlreadyStarted, 1);
    inv.deps.logger.info('Remediation already started for this drift', { ...log, execution: outcome.name });
    inv.decide(judgedInstance(judgement), { action: 'already-started', execution, gate: decision });
  }
  await notifyOnce(inv, driftKey(judgement), {
    ...base,
    event: 'drift.detected',
    execution: executionLink(inv, outcome.name, arn),
    message: replacingMessage(summaryOf(judgement, trigger), template),
  });
}

/** The anti-loop check, once per fleet per invocation; an AWS failure is not remembered. */
function sourceOf(
  inv: Invocation,
  fleet: CompiledFleet,
  template: LaunchTemplateFacts,
): Promise<SourceFact | undefined> {
  let lookup = inv.sources.get(fleet.name);
  if (lookup === undefined) {
    const group = fleet.match.kind === 'autoScalingGroup' ? fleet.match.autoScalingGroup : '';
    lookup = readSource(inv.deps.ec2, fleet, template, inv.judge.now, () =>
      describeAutoScalingGroup(inv.deps.autoScaling, group),
    );
    lookup.catch(() => inv.sources.delete(fleet.name));
    inv.sources.set(fleet.name, lookup);
  }
  return lookup;
}

function driftKey(judgement: ActionableJudgement): string {
  return `drift.detected#${judgement.instance.instanceId}#${judgement.verdict.fingerprint}`;
}

function summaryOf(judgement: ActionableJudgement, trigger: Trigger): string {
  const input = {
    instanceId: judgement.instance.instanceId,
    fleet: judgement.fleet.name,
    differences: judgement.verdict.reasons.length,
  };
  return driftSummary(trigger.principal === undefined ? input : { ...input, principal: trigger.principal });
}

function notificationBase(inv: Invocation, judgement: ActionableJudgement, trigger: Trigger) {
  const { instance, fleet, verdict } = judgement;
  return {
    fleet: fleet.name,
    team: fleet.team,
    instanceId: instance.instanceId,
    reasons: verdict.reasons,
    desiredState: desiredStateRef(inv),
    timings: { detectedAt: inv.judge.now.toISOString() },
    ...(trigger.principal === undefined ? {} : { principal: trigger.principal }),
  };
}

/** Publishes once per key (claimed in the state table); resolves whether it published now. */
async function notifyOnce(
  inv: Invocation,
  key: string,
  input: NotificationInput & { event: NotificationEvent },
): Promise<boolean> {
  const ttl = inv.deps.notificationTtlSeconds ?? DEFAULT_NOTIFICATION_TTL_SECONDS;
  if (!(await inv.deps.store.claimNotification(key, ttl))) {
    inv.deps.logger.debug('Notification already sent', { key });
    return false;
  }
  try {
    await inv.deps.notifier.publish(buildNotification(input));
  } catch (error) {
    // Give the claim back, or the retry of this invocation would believe it was sent.
    await inv.deps.store.releaseNotification(key).catch((releaseError: unknown) => {
      inv.deps.logger.error('Could not release a notification claim: this notification is lost', {
        key,
        error: String(releaseError),
      });
    });
    throw error;
  }
  inv.summary.notificationsPublished += 1;
  inv.count(METRIC.notificationsPublished, 1);
  return true;
}

function desiredStateRef(inv: Invocation): { revision: string; commit: string } {
  const { revision, provenance } = inv.deps.desiredState;
  return { revision, commit: provenance.commit };
}

function executionLink(inv: Invocation, name: string, arn: string): ExecutionLink {
  const region = inv.deps.consoleRegion ?? regionOf(inv.deps.stateMachineArn);
  return { name, arn, consoleUrl: executionConsoleUrl(region, arn) };
}

function regionOf(arn: string): string {
  return arn.split(':')[3] || 'us-east-1';
}
