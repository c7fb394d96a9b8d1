/**
 * Every end of an admitted rollout member is counted on its rollout, once (the member's
 * marker, docs/adr/0031-rollout-admission-on-the-lease.md): a success as `replaced`, a
 * rollback as `rolledBack`, any other end as `ended`. Then the rollout moves on from what it
 * now counts, the stage written with a condition, the winner telling the team: more than
 * `maxFailures` rollbacks halt it (its version quarantined in the same transaction), every
 * member settled completes it.
 */
import { readRolloutView } from '../../aws/rollout-view';
import type { MemberEnd } from '../../aws/state-table/remediation/rollout-admission';
import type { NotificationEvent } from '../../domain/notification';
import { haltText } from '../../domain/rollout/stage';
import type { MachineData } from '../input';
import { requireFleet, type StepContext, type StepDeps } from './deps';
import { rolloutDepsOf } from './rollout-admission';
import { logStage, notifyRollout, summaryOf } from './rollout-notify';

const END_OF: Partial<Record<NotificationEvent, MemberEnd>> = {
  'remediation.succeeded': 'replaced',
  'remediation.rolled-back': 'rolledBack',
  'remediation.failed': 'ended',
  'remediation.blocked': 'ended',
  'remediation.skipped': 'ended',
  'manual-action-required': 'ended',
};

/** Re-reads after another process moved the rollout first. */
const ATTEMPTS = 3;

/**
 * Counts this execution's end on its rollout when it was admitted as a member, and moves the
 * rollout on. Returns whether it was counted now (false: not a member, or counted before).
 */
export async function settleRolloutMember(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  event: NotificationEvent,
): Promise<boolean> {
  const source = data.lease?.rollout;
  const end = END_OF[event];
  if (source === undefined || end === undefined || data.lease?.holder !== ctx.executionId) return false;
  const fleet = requireFleet(deps, data.fleet);
  const { cloudwatch, rollouts } = rolloutDepsOf(deps, fleet);
  const settled = await rollouts.settle(fleet.name, source, ctx.executionId, end);
  if (!settled.settled) return false;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    const view = await readRolloutView(
      { rollouts, cloudwatch, ec2: deps.ec2, fleets: deps.desiredState.fleets, now: deps.clock() },
      fleet,
      source,
    );
    const step = view.step;
    const read = view.rollout;
    if (step === undefined || read === undefined || !step.changed) return true;
    const written = await rollouts.recordStep(read, step, { exact: true });
    if (!written.written) continue;
    const rollout = written.rollout;
    logStage(deps, rollout);
    if (step.halted !== undefined) {
      await notifyRollout(deps, data, ctx, 'rollout.halted', rollout, {
        ...summaryOf(rollout, { replaced: rollout.replaced, failed: rollout.rolledBack }),
        halt: haltText(step.halted),
      });
    } else if (step.completed === true) {
      const took = Math.max(0, Math.round((deps.clock().getTime() - Date.parse(rollout.startedAt)) / 1000));
      await notifyRollout(
        deps,
        data,
        ctx,
        'rollout.completed',
        rollout,
        summaryOf(rollout, { replaced: rollout.replaced, failed: rollout.rolledBack, tookSeconds: took }),
      );
    }
    return true;
  }
  return true;
}
