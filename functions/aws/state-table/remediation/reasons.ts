/**
 * Why the remediation's coordination refuses: the sentences its decisions carry, which the
 * steps pass on to notifications and execution outputs.
 */
import type { GroupLock, InstanceClaim, PauseState } from '../schema';
import type { RemediationGate } from './gate';

/** Why nothing may start while the switch is on: who paused it, when, and how to resume. */
export function pausedReason(pause: PauseState): string {
  return `remediation is paused (by ${pause.by ?? 'unknown'} at ${pause.at ?? 'an unknown time'}); run \`phoenix resume\` to allow it again`;
}

/** Why the gate is closed: the pause switch, or the version's quarantine. */
export function gateReason(gate: RemediationGate): string {
  if (gate.pause.paused) return pausedReason(gate.pause);
  const q = gate.quarantine;
  return q === undefined
    ? 'the remediation gate is closed'
    : `launch template ${q.templateId} version ${q.version} is quarantined for fleet ${q.fleet} since ${q.at} (execution ${q.execution}: ${q.cause})`;
}

/** Why a lease is refused for concurrency: every slot is held. */
export function concurrencyReason(fleet: string, maxConcurrent: number): string {
  return `fleet ${fleet} already has ${maxConcurrent} replacement(s) in flight (maxConcurrent ${maxConcurrent})`;
}

/** Why a disruptive lease is refused: taking instances out would cross the healthy floor. */
export function floorReason(
  request: { fleet: string; healthy: number; desired: number; disruption: number; minHealthyPercent: number },
  floor: number,
): string {
  return (
    `fleet ${request.fleet} has ${request.healthy} healthy of ${request.desired}; ` +
    `taking ${request.disruption} out would cross its floor of ${floor} (minHealthyPercent ${request.minHealthyPercent})`
  );
}

/**
 * Why an instance is not replaced by this execution: who replaced it, or who is replacing it
 * and until when its claim holds at the latest. The holder is named by its whole ARN: two
 * executions may carry the same name (two local runs, a local run beside the deployed stack).
 */
export function instanceClaimReason(claim: InstanceClaim): string {
  if (claim.replacedBy !== undefined) {
    return `instance ${claim.instanceId} was already replaced by ${claim.replacedBy} (execution ${claim.holder}, at ${claim.replacedAt ?? 'an unknown time'}); it is leaving, not to be replaced again`;
  }
  return `instance ${claim.instanceId} is being replaced by execution ${claim.holder} (since ${claim.acquiredAt}; its claim expires by ${new Date(claim.expiresAt * 1000).toISOString()} at the latest): one replacement per instance`;
}

/** Who holds a group's lock, for what, and until when at the latest. */
export function groupBusyReason(lock: GroupLock): string {
  const name = lock.holder.split(':').at(-1) ?? lock.holder;
  return `Auto Scaling group ${lock.group} is being changed by execution ${name} (replacing ${lock.instanceId}) until it has found its replacement; the lock expires by ${new Date(lock.expiresAt * 1000).toISOString()} at the latest`;
}
