/**
 * Why the remediation's coordination refuses: the sentences its decisions carry, which the
 * steps pass on to notifications and execution outputs. The words are the gate's
 * (functions/domain/gate/messages.ts), so a refusal reads the same wherever it is met.
 */
import {
  belowFloorInFlightSentence,
  belowFloorSentence,
  budgetFullSentence,
  groupBusySentence,
  instanceClaimSentence,
  pausedSentence,
  quarantinedAtLeaseSentence,
  retirementsFirstSentence,
} from '../../../domain/gate/messages';
import type { GroupLock, InstanceClaim, PauseState } from '../schema';
import type { RemediationGate } from './gate';

/** Why nothing may start while the switch is on: who paused it, when, and how to resume. */
export function pausedReason(pause: PauseState): string {
  return pausedSentence(pause);
}

/** Why the gate is closed: the pause switch, or the version's quarantine. */
export function gateReason(gate: RemediationGate): string {
  if (gate.pause.paused) return pausedReason(gate.pause);
  return gate.quarantine === undefined
    ? 'the remediation gate is closed'
    : quarantinedAtLeaseSentence(gate.quarantine);
}

/** Why a lease is refused for concurrency: every slot is held. */
export function concurrencyReason(fleet: string, maxConcurrent: number): string {
  return budgetFullSentence({ fleet, maxConcurrent });
}

/** Why a disruptive lease is refused: taking instances out would cross the healthy floor. */
export function floorInFlightReason(
  request: { fleet: string; healthy: number; desired: number; minHealthyPercent: number },
  floor: number,
  inFlight: number,
): string {
  return belowFloorInFlightSentence({ ...request, floor, inFlight });
}

export function floorReason(
  request: { fleet: string; healthy: number; desired: number; disruption: number; minHealthyPercent: number },
  floor: number,
): string {
  return belowFloorSentence({ ...request, floor });
}

/**
 * Why an instance is not replaced by this execution: who replaced it, or who is replacing it
 * and until when its claim holds at the latest. The holder is named by its whole ARN: two
 * executions may carry the same name (two local runs, a local run beside the deployed stack).
 */
export function instanceClaimReason(claim: InstanceClaim): string {
  return instanceClaimSentence(claim);
}

/** Why a group's lock is refused: who holds it, or the retirements that go first. */
export function groupRefusalReason(decision: { heldBy: GroupLock; retirersFirst?: number }): string {
  return decision.retirersFirst === undefined
    ? groupBusySentence(decision.heldBy)
    : retirementsFirstSentence(decision.heldBy.group, decision.retirersFirst);
}

/** Who holds a group's lock, for what, and until when at the latest. */
export function groupBusyReason(lock: GroupLock): string {
  return groupBusySentence(lock);
}

/** Why a granter takes nothing for a waiter: another answered it first (or it is gone). */
export function answeredReason(request: { fleet: string; instanceId: string }): string {
  return `fleet ${request.fleet}: the waiter for ${request.instanceId} was answered (or is gone) before this grant; nothing taken for it`;
}

/** Why a newcomer waits although a slot may be free: others were waiting first. */
export function queuedReason(fleet: string): string {
  return `fleet ${fleet}: other replacements wait in its queue; this one waits behind them`;
}
