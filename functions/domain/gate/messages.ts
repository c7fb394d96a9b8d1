/**
 * Every sentence Phoenix uses to say why something is not replaced (now): the gate's
 * blockers, the evaluator's framing of them for the team, `phoenix plan`'s blocker labels,
 * and the budget lease's refusals. One place, so a refusal reads the same wherever it is met
 * (a notification, an execution's output, `phoenix plan`, `phoenix reconcile`'s report), and
 * the tests and docs that quote a sentence quote this module.
 *
 * Pure functions of the facts; nothing here decides anything (the gate does).
 */
import type { DriftReason } from '../model';
import type { Blocker } from './blockers';
import type { ClaimFact, PauseFact, QuarantineFact } from './facts';

// ---- the gate's blockers ---------------------------------------------------------------

/** Why the remediation is paused: who paused it, when, and how to resume. */
export function pausedSentence(pause: PauseFact): string {
  return `remediation is paused (by ${pause.by ?? 'unknown'} at ${pause.at ?? 'an unknown time'}); run \`phoenix resume\` to allow it again`;
}

/** A quarantined launch template version, named by its name when known, else by its id. */
export function quarantinedSentence(quarantine: QuarantineFact, templateName?: string): string {
  const q = quarantine;
  return `launch template ${templateName ?? q.templateId} version ${q.version} is quarantined for fleet ${q.fleet} since ${q.at} (${q.cause}); lift the quarantine or publish a fixed version`;
}

/**
 * A quarantine as the budget lease refuses it: the rollback's execution named beside its
 * cause, since the execution asking may want to read that one's history.
 */
export function quarantinedAtLeaseSentence(q: QuarantineFact): string {
  return `launch template ${q.templateId} version ${q.version} is quarantined for fleet ${q.fleet} since ${q.at} (execution ${q.execution}: ${q.cause})`;
}

/**
 * Why an instance is not replaced by this execution: who replaced it, or who is replacing it
 * and until when its claim holds at the latest. The holder is named by its whole ARN: two
 * executions may carry the same name (two local runs, a local run beside the deployed stack).
 */
export function instanceClaimSentence(claim: ClaimFact): string {
  if (claim.replacedBy !== undefined) {
    return `instance ${claim.instanceId} was already replaced by ${claim.replacedBy} (execution ${claim.holder}, at ${claim.replacedAt ?? 'an unknown time'}); it is leaving, not to be replaced again`;
  }
  return `instance ${claim.instanceId} is being replaced by execution ${claim.holder} (since ${claim.acquiredAt}; its claim expires by ${new Date(claim.expiresAt * 1000).toISOString()} at the latest): one replacement per instance`;
}

/** Another execution already waits in the fleet's queue to replace the instance. */
export function waitingElsewhereSentence(waiter: {
  instanceId: string;
  fleet: string;
  holder: string;
  parkedAt: string;
}): string {
  return `instance ${waiter.instanceId} is already waiting in fleet ${waiter.fleet}'s queue to be replaced by execution ${waiter.holder} (since ${waiter.parkedAt}): one replacement per instance`;
}

/** A group pinned at MinSize = MaxSize = desired. */
export function pinnedSentence(group: { name: string; desired: number; min: number; max: number }): string {
  return `Auto Scaling group ${group.name} is pinned at min ${group.min} = max ${group.max} = desired ${group.desired}: no room to launch first and no safe way back; raise MaxSize by one`;
}

/** A group at MaxSize whose fleet's `minHealthyPercent` forbids taking one out first. */
export function noHeadroomSentence(group: {
  name: string;
  desired: number;
  max: number;
  floor: number;
  minHealthyPercent: number;
}): string {
  return `no headroom: Auto Scaling group ${group.name} is at MaxSize ${group.max} and minHealthyPercent ${group.minHealthyPercent} forbids taking one out first (${group.floor} of ${group.desired} must stay healthy); raise MaxSize by 1`;
}

/** `field: expected X, source gives Y; …` */
function sourceReasonsText(reasons: readonly DriftReason[]): string {
  return reasons
    .map((r) => `${r.field}: expected ${r.expected ?? 'nothing'}, source gives ${r.actual ?? 'nothing'}`)
    .join('; ');
}

/**
 * The gate's sentence for a blocker: a clause, lower case, without a final stop, as an
 * execution's `detail` carries it; {@link notReplacedSentence} frames it for the team.
 */
export function whyOf(blocker: Blocker): string {
  switch (blocker.code) {
    case 'instance-gone':
      return `instance ${blocker.instanceId} is ${blocker.state ?? 'gone'}: nothing to replace`;
    case 'outside':
    case 'excluded':
    case 'not-applicable':
    case 'template-unresolved':
    case 'source-unchecked':
      return blocker.why;
    case 'moved-fleet':
      return `instance ${blocker.instanceId} now belongs to fleet ${blocker.fleet}, not ${blocker.expected}`;
    case 'mode-observe':
      return `fleet ${blocker.fleet} is in observe mode: Phoenix does not replace its instances`;
    case 'mode-notify':
      return `fleet ${blocker.fleet} is in notify mode: Phoenix does not replace its instances`;
    case 'not-running':
      return `instance ${blocker.instanceId} is ${blocker.state}: only running instances are replaced`;
    case 'template-changed': {
      const { current, pinned } = blocker;
      return `fleet ${blocker.fleet} now resolves to launch template ${current.id} version ${current.version}, not the pinned ${pinned.id} version ${pinned.version}; the remediation for the new version takes over`;
    }
    case 'in-sync':
      return `instance ${blocker.instanceId} is no longer drifted`;
    case 'drift-changed':
      return `instance ${blocker.instanceId} is drifted differently now (fingerprint ${blocker.expected} → ${blocker.actual}); the remediation for the new drift takes over`;
    case 'already-replaced':
    case 'in-flight-elsewhere':
      return instanceClaimSentence(blocker.claim);
    case 'launch-configuration':
      return `Auto Scaling group ${blocker.group} launches from a launch configuration, not a launch template: a replacement would not be built from what Git declares`;
    case 'source-drift':
      return `a fresh instance from launch template ${blocker.template.name} version ${blocker.template.version} would itself be drifted (source drift: ${sourceReasonsText(blocker.reasons)}); fix Git or the template — Phoenix does not replace in a loop`;
    case 'quarantined':
      return quarantinedSentence(blocker.quarantine, blocker.templateName);
    case 'paused':
      return pausedSentence(blocker.pause);
    case 'manual-hold':
      return `its last execution asked for manual action (${blocker.hold.why}); nothing is started for it before ${blocker.hold.until}`;
    case 'not-in-service':
      return blocker.lifecycle === undefined
        ? `instance ${blocker.instanceId} is not a member of Auto Scaling group ${blocker.group} any more: someone else is managing it`
        : `instance ${blocker.instanceId} is ${blocker.lifecycle} in Auto Scaling group ${blocker.group}, not InService: someone else is managing it; it is replaced once it is back in service`;
    case 'no-subnet':
      return `instance ${blocker.instanceId} has no subnet: Phoenix cannot launch its replacement in the same place`;
    case 'no-launch-template':
      return `instance ${blocker.instanceId} was not launched from a launch template and is in no Auto Scaling group: a fresh instance may not replace it like for like (volumes, interfaces, addresses); replace it by hand`;
    case 'pinned':
      return pinnedSentence({ ...blocker, name: blocker.group });
    case 'no-headroom':
      return noHeadroomSentence({ ...blocker, name: blocker.group });
    case 'alarm-firing':
      return alarmFiringSentence(blocker.fleet, blocker.alarms);
    case 'rollout-waiting':
      return `the rollout of fleet ${blocker.fleet} is ${blocker.stage}: ${blocker.why}`;
    case 'window-closed':
      return `outside the maintenance window of fleet ${blocker.fleet} (${blocker.timezone}); waiting until ${blocker.opensAt}`;
  }
}

/** Alarms in ALARM hold every replacement of the fleet. */
export function alarmFiringSentence(fleet: string, alarms: readonly string[]): string {
  const one = alarms.length === 1;
  return `alarm${one ? '' : 's'} ${alarms.join(', ')} of fleet ${fleet} ${one ? 'is' : 'are'} in ALARM: no replacement of the fleet starts until ${one ? 'it is' : 'they are'} OK`;
}

// ---- what the evaluator tells the team --------------------------------------------------

/**
 * A refusal as the evaluator logs it and tells the team: "Not replaced: <why>." A drift held
 * for a human says until when first.
 */
export function notReplacedSentence(blocker: Blocker): string {
  if (blocker.code === 'manual-hold') return `Not replaced before ${blocker.hold.until}: ${blocker.hold.why}`;
  return `Not replaced: ${whyOf(blocker)}.`;
}

/** The first sentence of every drift notification. */
export function driftSummary(input: {
  instanceId: string;
  fleet: string;
  differences: number;
  principal?: string;
}): string {
  const who = input.principal === undefined ? '' : ` Changed by ${input.principal}.`;
  return `Instance ${input.instanceId} of fleet ${input.fleet} differs from the desired state: ${input.differences} difference(s).${who}`;
}

/** A drift in a notify-mode fleet: the team is told, nothing is replaced. */
export function notifyModeMessage(summary: string): string {
  return `${summary} Fleet mode is notify: Phoenix will not replace it; fix it or switch the fleet to enforce.`;
}

/** A drift whose replacement has started. */
export function replacingMessage(summary: string, template: { name: string; version: number }): string {
  return `${summary} Phoenix is replacing it (launch template ${template.name} version ${template.version}).`;
}

/** A drift not replaced: the summary, then why. */
export function heldMessage(summary: string, blocker: Blocker): string {
  return `${summary} ${notReplacedSentence(blocker)}`;
}

/** Source drift, told once per fleet and template version (not once per instance). */
export function sourceDriftMessage(fleet: string, blocker: Blocker): string {
  return `Fleet ${fleet}: ${whyOf(blocker)}. Drifted instances of this fleet are reported but not replaced until the source is fixed.`;
}

// ---- phoenix plan ------------------------------------------------------------------------

/** What blocks a whole fleet in `phoenix plan`'s `blockedBy` (docs/cli/plan.md). */
export type PlanBlockerCode =
  | 'mode-observe'
  | 'mode-notify'
  | 'template-unresolved'
  | 'source-drift'
  | 'source-unchecked'
  | 'quarantined'
  | 'paused';

/** `phoenix plan`'s line for each fleet blocker: "not replacing: <label>". */
export const PLAN_BLOCKER_LABELS: Readonly<Record<PlanBlockerCode, string>> = {
  'mode-observe': 'mode observe: compliance is recorded, nothing is replaced',
  'mode-notify': 'mode notify: the team is told, nothing is replaced',
  'template-unresolved': 'the launch template cannot be resolved',
  'source-drift': 'SOURCE DRIFT: a fresh instance would itself be drifted; fix Git or the template',
  'source-unchecked': 'the source cannot be checked',
  quarantined: 'the launch template version is quarantined for this fleet',
  paused: 'remediation is paused',
};

// ---- the budget lease's refusals ----------------------------------------------------------

/** Who holds a group's lock, for what, and until when at the latest. */
export function groupBusySentence(lock: {
  group: string;
  holder: string;
  instanceId: string;
  expiresAt: number;
}): string {
  const name = lock.holder.split(':').at(-1) ?? lock.holder;
  return `Auto Scaling group ${lock.group} is being changed by execution ${name} (replacing ${lock.instanceId}) until it has found its replacement; the lock expires by ${new Date(lock.expiresAt * 1000).toISOString()} at the latest`;
}

/** A surge held off a group's lock because replacements waiting to hand their old members back go first. */
export function retirementsFirstSentence(group: string, waiting: number): string {
  return `Auto Scaling group ${group}: ${waiting} replacement(s) wait to hand their old member back first; no new surge starts until they have`;
}

/** Below the healthy floor only while others' replacements are in flight: their ends lift it. */
export function belowFloorInFlightSentence(request: {
  fleet: string;
  healthy: number;
  desired: number;
  floor: number;
  minHealthyPercent: number;
  inFlight: number;
}): string {
  const r = request;
  return (
    `fleet ${r.fleet} has ${r.healthy} healthy of ${r.desired} while ${r.inFlight} other replacement(s) are in flight, ` +
    `under its floor of ${r.floor} (minHealthyPercent ${r.minHealthyPercent}); it waits for them`
  );
}

/** A lease refused because taking the instance out would cross the fleet's healthy floor. */
export function belowFloorSentence(request: {
  fleet: string;
  healthy: number;
  desired: number;
  disruption: number;
  floor: number;
  minHealthyPercent: number;
}): string {
  const r = request;
  return (
    `fleet ${r.fleet} has ${r.healthy} healthy of ${r.desired}; ` +
    `taking ${r.disruption} out would cross its floor of ${r.floor} (minHealthyPercent ${r.minHealthyPercent})`
  );
}

/** A lease refused because the fleet's budget is in use. */
export function budgetFullSentence(request: { fleet: string; maxConcurrent: number }): string {
  return `fleet ${request.fleet} already has ${request.maxConcurrent} replacement(s) in flight (maxConcurrent ${request.maxConcurrent})`;
}

/** Why a fleet's queue waits though it has free slots: EC2's launch tokens, as Phoenix counts them. */
export function launchTokensSentence(tokens: number): string {
  return `EC2's RunInstances tokens are spent for now (Phoenix's estimate: ${Math.max(0, tokens).toFixed(1)} left, refilled at 2 a second): the next release or the sweep grants more`;
}
