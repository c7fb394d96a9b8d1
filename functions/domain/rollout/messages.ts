/**
 * The sentences of the `rollout.*` notifications (one conversation per rollout), whoever sends
 * them: the lease step, a member's end, the evaluator. Pure.
 */
import type { NotificationEvent, RolloutSummary } from '../notification';
import { haltText, type Rollout } from './stage';

/** The sentence of a `rollout.*` message. */
export function rolloutMessage(event: NotificationEvent, rollout: Rollout, summary: RolloutSummary): string {
  const source = `${rollout.source.templateId} version ${rollout.source.version}${rollout.source.imageId === undefined ? '' : ` (${rollout.source.imageId})`}`;
  switch (event) {
    case 'rollout.started':
      return `Rolling ${source} through fleet ${rollout.fleet}: ${rollout.members} instance(s), ${summary.waves ?? '?'} wave(s), about ${Math.round((summary.estimateSeconds ?? 0) / 60)} min${rollout.canary > 0 ? `, canary of ${rollout.canary} first` : ''}.`;
    case 'rollout.halted':
      return `The rollout of ${source} through fleet ${rollout.fleet} ${summary.halt ?? haltText(rollout.halt?.cause ?? { kind: 'operator', by: 'unknown' })}. The version is quarantined; the fleet's other instances are left as they are. Run \`phoenix rollout resume --fleet ${rollout.fleet}\` once fixed, or publish a new version.`;
    default:
      return `The rollout of ${source} through fleet ${rollout.fleet} completed: ${summary.replaced ?? rollout.replaced} replaced, ${summary.failed ?? rollout.rolledBack} failed, in ${Math.round((summary.tookSeconds ?? 0) / 60)} min.`;
  }
}

/** The event of the log line written at every stage change (the dashboard's widget filters on it). */
export const ROLLOUT_STAGE_EVENT = 'rollout.stage';

/**
 * The log line's fields, `{ event: 'rollout.stage', fleet, stage, source }`, the source as
 * one string (`<templateId>#<version>`) so Logs Insights reads it as one field: whoever
 * writes a stage (the lease step, a member's end, the evaluator) logs exactly this.
 */
export function stageLogFields(rollout: Pick<Rollout, 'fleet' | 'stage' | 'source'>): {
  event: typeof ROLLOUT_STAGE_EVENT;
  fleet: string;
  stage: string;
  source: string;
} {
  return {
    event: ROLLOUT_STAGE_EVENT,
    fleet: rollout.fleet,
    stage: rollout.stage,
    source: `${rollout.source.templateId}#${rollout.source.version}`,
  };
}
