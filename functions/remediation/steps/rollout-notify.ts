/**
 * What the rollout steps tell (one conversation per rollout, issue 14.4): `rollout.started`,
 * `rollout.halted`, `rollout.completed`, each sent by the one execution whose write won, with
 * the fleet's team like every other event; and the `rollout.stage` log line at every stage
 * written. Best effort, like every notification: a publish that fails never stops a step.
 */
import type { RolloutRecord } from '../../aws/rollout-store';
import {
  buildNotification,
  executionConsoleUrl,
  type NotificationEvent,
  type RolloutSummary,
} from '../../domain/notification';
import { haltText } from '../../domain/rollout/stage';
import type { MachineData } from '../input';
import { executionNameOf, fleetNamed, type StepContext, type StepDeps } from './deps';

/** `{ event: 'rollout.stage', fleet, stage, source }`: one line per stage written (the dashboard's widget reads it). */
export function logStage(deps: StepDeps, rollout: Pick<RolloutRecord, 'fleet' | 'stage' | 'source'>): void {
  deps.logger?.info('rollout.stage', {
    event: 'rollout.stage',
    fleet: rollout.fleet,
    stage: rollout.stage,
    source: `${rollout.source.templateId}#${rollout.source.version}`,
  });
}

/** The summary a `rollout.*` message carries. */
export function summaryOf(rollout: RolloutRecord, extra: Partial<RolloutSummary> = {}): RolloutSummary {
  return {
    source: { ...rollout.source },
    stage: rollout.stage,
    members: rollout.members,
    ...extra,
  };
}

/** The sentence of a `rollout.*` message. */
function messageOf(event: NotificationEvent, rollout: RolloutRecord, summary: RolloutSummary): string {
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

/** Publishes a `rollout.*` event; returns whether it went out. */
export async function notifyRollout(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  event: 'rollout.started' | 'rollout.halted' | 'rollout.completed',
  rollout: RolloutRecord,
  summary: RolloutSummary,
): Promise<boolean> {
  const fleet = fleetNamed(deps, data.fleet);
  const region = deps.consoleRegion ?? (ctx.executionId.split(':')[3] || 'us-east-1');
  try {
    await deps.notifier.publish(
      buildNotification({
        event,
        fleet: data.fleet,
        team: fleet?.team ?? 'default',
        instanceId: data.instanceId,
        reasons: [],
        desiredState: data.desiredState,
        execution: {
          name: executionNameOf(ctx.executionId),
          arn: ctx.executionId,
          consoleUrl: executionConsoleUrl(region, ctx.executionId),
        },
        message: messageOf(event, rollout, summary),
        rollout: summary,
      }),
    );
    return true;
  } catch {
    return false;
  }
}
