/**
 * What the rollout steps tell (one conversation per rollout, issue 14.4): `rollout.started`,
 * `rollout.halted`, `rollout.completed`, each sent by the one execution whose write won, with
 * the fleet's team like every other event; and the `rollout.stage` log line at every stage
 * written. Best effort, like every notification: a publish that fails never stops a step.
 */
import type { RolloutRecord } from '../../aws/rollout-store';
import { buildNotification, executionConsoleUrl, type RolloutSummary } from '../../domain/notification';
import { ROLLOUT_STAGE_EVENT, rolloutMessage, stageLogFields } from '../../domain/rollout/messages';
import type { MachineData } from '../input';
import { executionNameOf, fleetNamed, type StepContext, type StepDeps } from './deps';

/** `{ event: 'rollout.stage', fleet, stage, source }`: one line per stage written (the dashboard's widget reads it). */
export function logStage(deps: StepDeps, rollout: Pick<RolloutRecord, 'fleet' | 'stage' | 'source'>): void {
  deps.logger?.info(ROLLOUT_STAGE_EVENT, stageLogFields(rollout));
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
        message: rolloutMessage(event, rollout, summary),
        rollout: summary,
      }),
    );
    return true;
  } catch {
    return false;
  }
}
