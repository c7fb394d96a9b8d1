/**
 * The notify step: tells the fleet's team, moves the drift to its next attempt when the end
 * may be retried, and returns the outcome (the execution's output at an end).
 */
import { ATTEMPT_TTL_SECONDS } from '../../aws/state-store';
import {
  buildNotification,
  executionConsoleUrl,
  type NotificationEvent,
  type NotificationInput,
} from '../../domain/notification';
import type { MachineData, Outcome } from '../input';
import { executionNameOf, fleetNamed, type StepContext, type StepDeps } from './deps';
import { describeOutcome, endsRetryably, OUTCOME_OF } from './outcome';
import { settleRolloutMember } from './rollout-accounting';

/** What every notify state returns; the terminal ones make it the execution's output. */
export interface NotifyResult {
  outcome: Outcome | 'in-progress';
  /** Short, stable: `replaced`, `paused`, `instance-gone`, `budget`, … */
  reason: string;
  /** A sentence for a human. */
  detail: string;
  instanceId: string;
  fleet: string;
  replacementId?: string;
  /** Whether the notification went out (publishing is best effort: it never changes the outcome). */
  notified: boolean;
  notifyError?: string;
  /** For failures: the Step Functions error and cause the execution fails with. */
  error?: string;
  cause?: string;
  /** For an end: seconds from the execution's start (the `RemediationDurationSeconds` metric). */
  durationSeconds?: number;
  /**
   * Set when this end may be retried ({@link endsRetryably}): the drift's attempt the next
   * detection starts, under a new execution name.
   */
  nextAttempt?: number;
}

/** How long a "manual action required" end holds its drift: detection starts nothing for it meanwhile. */
export const MANUAL_ACTION_HOLD_SECONDS = 24 * 3600;

/**
 * Tells the fleet's team what happened and returns the outcome of the execution so far.
 * A failed publish is reported in the result, not thrown: a notification is never a reason
 * to stop (or to fail) a replacement that is otherwise right.
 */
export async function notify(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  event: NotificationEvent,
): Promise<NotifyResult> {
  const now = deps.clock();
  const { reason, detail, error, cause, publish: told } = describeOutcome(data, event);
  // One conversation per rollout: a member's start and success are the rollout's to tell.
  const member = data.lease?.rollout !== undefined;
  const publish = told && !(member && (event === 'remediation.started' || event === 'remediation.succeeded'));
  const replacementId =
    data.rollback?.replacementId ?? data.health?.replacementId ?? data.replacement?.instanceId;
  const result: NotifyResult = {
    outcome: OUTCOME_OF[event],
    reason,
    detail,
    instanceId: data.instanceId,
    fleet: data.fleet,
    notified: false,
  };
  if (replacementId !== undefined) result.replacementId = replacementId;
  if (error !== undefined) result.error = error;
  if (cause !== undefined) result.cause = cause;
  const timings = timingsFor(data, ctx, now, event);
  if (timings.durationSeconds !== undefined) result.durationSeconds = timings.durationSeconds;
  // Before publishing: if this throws, the step is retried and nothing was sent twice (a
  // member's end is counted once, whatever the retries).
  if (member) await settleRolloutMember(deps, data, ctx, event);
  if (endsRetryably(data, event)) {
    // A human must act first: the next detections start nothing for a day (and do not repeat
    // this notification); after that, or once fixed, the drift is remediated under a new name.
    const hold =
      event === 'manual-action-required'
        ? { until: new Date(now.getTime() + MANUAL_ACTION_HOLD_SECONDS * 1000), why: detail }
        : undefined;
    result.nextAttempt = await deps.store.nextAttempt(
      data.instanceId,
      data.fingerprint,
      data.attempt ?? 0,
      ATTEMPT_TTL_SECONDS,
      hold,
    );
  }
  if (!publish) return result;

  const fleet = fleetNamed(deps, data.fleet);
  const input: NotificationInput = {
    event,
    fleet: data.fleet,
    team: fleet?.team ?? 'default',
    instanceId: data.instanceId,
    reasons: data.reasons.map((r) => ({
      ...r,
      kind: r.kind as NotificationInput['reasons'][number]['kind'],
    })),
    desiredState: data.desiredState,
    execution: {
      name: executionNameOf(ctx.executionId),
      arn: ctx.executionId,
      consoleUrl: executionConsoleUrl(deps.consoleRegion ?? regionOf(ctx.executionId), ctx.executionId),
    },
    timings,
    message: detail,
  };
  if (replacementId !== undefined) input.replacementId = replacementId;
  if (data.principal !== undefined) input.principal = data.principal;
  try {
    await deps.notifier.publish(buildNotification(input));
    result.notified = true;
  } catch (publishError) {
    result.notifyError =
      publishError instanceof Error ? `${publishError.name}: ${publishError.message}` : String(publishError);
  }
  return result;
}

function regionOf(arn: string): string {
  return arn.split(':')[3] || 'us-east-1';
}

function timingsFor(data: MachineData, ctx: StepContext, now: Date, event: NotificationEvent) {
  const timings: { detectedAt?: string; startedAt?: string; finishedAt?: string; durationSeconds?: number } =
    {
      detectedAt: data.detectedAt,
    };
  if (ctx.startedAt !== undefined) timings.startedAt = ctx.startedAt;
  if (OUTCOME_OF[event] !== 'in-progress') {
    timings.finishedAt = now.toISOString();
    if (ctx.startedAt !== undefined) {
      const started = Date.parse(ctx.startedAt);
      if (Number.isFinite(started))
        timings.durationSeconds = Math.max(0, Math.round((now.getTime() - started) / 1000));
    }
  }
  return timings;
}
