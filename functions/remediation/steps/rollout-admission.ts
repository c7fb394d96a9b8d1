/**
 * The rollout's admission at the lease step (issue 15,
 * docs/adr/0031-rollout-admission-on-the-lease.md): the fleet's alarms gate every execution;
 * a member of the fleet's rollout begins it if absent, moves it on (the stage written with a
 * condition, the winner notifying), and is admitted only while the stage admits it now. What
 * is admitted is counted in the lease's own transaction (the store's `rollout` request).
 *
 * Waits that end by themselves (the canary in flight, the bake) throw {@link RolloutWaitError},
 * retried like a denied lease; waits only a human or another fleet ends (halted, awaiting
 * approval, waiting for promotion, an alarm in ALARM or missing) throw {@link RolloutHeldError}:
 * the execution ends skipped (`held`) and the next detection starts it again.
 */
import { listFleetInstances } from '../../aws/inventory';
import { type RolloutView, readRolloutView } from '../../aws/rollout-view';
import type { RolloutAdmission } from '../../aws/state-table/remediation/rollout-admission';
import { estimatedSeconds } from '../../domain/estimate';
import { alarmFiringSentence } from '../../domain/gate/messages';
import type { CompiledFleet } from '../../domain/model';
import { governsRollout, isRolloutMember, wavesOf } from '../../domain/rollout/membership';
import {
  admitsNow,
  alarmsMissing,
  canarySize,
  firstStage,
  haltText,
  missingAlarmsText,
  type RolloutStage,
} from '../../domain/rollout/stage';
import { RolloutHeldError, RolloutWaitError, StepInputError } from '../errors';
import type { MachineData } from '../input';
import type { StepContext, StepDeps } from './deps';
import { logStage, notifyRollout, summaryOf } from './rollout-notify';

/** Stages whose wait ends by itself: the execution retries at the lease. */
const TIME_BOUND: ReadonlySet<RolloutStage> = new Set(['canary', 'baking', 'rolling']);

/** Re-reads after another process moved the rollout first. */
const ATTEMPTS = 4;

/** The rollout facts the admission needs. */
export function rolloutDepsOf(deps: StepDeps, fleet: CompiledFleet) {
  const { cloudwatch, rollouts } = deps;
  if (cloudwatch === undefined || rollouts === undefined)
    throw new StepInputError(
      `fleet ${fleet.name} has rollout stages or alarms, but the steps were built without CloudWatch or the rollout store`,
    );
  return { cloudwatch, rollouts };
}

/** The source of the execution's pinned version: the rollout it belongs to. */
export function sourceOfExecution(data: MachineData): {
  templateId: string;
  version: number;
  imageId?: string;
} {
  const imageId = data.recheck?.snapshot?.source?.imageId;
  const source = { templateId: data.launchTemplate.id, version: data.launchTemplate.version };
  return imageId === undefined ? source : { ...source, imageId };
}

/**
 * Decides the execution's admission under its fleet's rollout and alarms. Undefined: nothing
 * to count (a fleet without rollout stages, a single drift, a completed rollout); the lease is
 * asked for as always. Otherwise the admission to count with the lease.
 *
 * @param budget the fleet's `maxConcurrent` now: the waves `rollout.started` announces.
 */
export async function admitUnderRollout(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  fleet: CompiledFleet,
  budget: number,
): Promise<RolloutAdmission | undefined> {
  if (!governsRollout(fleet.rollout)) return undefined;
  const { cloudwatch, rollouts } = rolloutDepsOf(deps, fleet);
  const source = sourceOfExecution(data);
  const member = data.recheck?.snapshot?.source?.member === true;
  const viewDeps = {
    rollouts,
    cloudwatch,
    ec2: deps.ec2,
    fleets: deps.desiredState.fleets,
    now: deps.clock(),
  };

  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    viewDeps.now = deps.clock();
    const view = await readRolloutView(viewDeps, fleet, source);
    if (!member || view.rollout?.stage === 'completed') {
      holdOnAlarms(view);
      return undefined;
    }
    if (view.rollout === undefined) {
      // An alarm in ALARM (or missing) holds a rollout that has not begun: it does not begin.
      holdOnAlarms(view);
      await begin(deps, data, ctx, fleet, view, budget);
      continue;
    }
    const step = view.step;
    if (step === undefined) throw new StepInputError('a rollout view without its step');
    let rollout = view.rollout;
    if (step.changed) {
      const written = await rollouts.recordStep(rollout, step, { exact: true });
      if (!written.written) continue;
      rollout = written.rollout;
      logStage(deps, rollout);
      if (step.halted !== undefined)
        await notifyRollout(deps, data, ctx, 'rollout.halted', rollout, {
          ...summaryOf(rollout, { replaced: rollout.replaced, failed: rollout.rolledBack }),
          halt: haltText(step.halted),
        });
    }
    if (admitsNow(step) > 0 && (rollout.stage === 'canary' || rollout.stage === 'rolling')) {
      holdOnAlarms(view);
      return {
        fleet: fleet.name,
        source: { templateId: source.templateId, version: source.version },
        stage: rollout.stage,
        admitted: rollout.admitted,
        rolledBack: rollout.rolledBack,
        ended: rollout.ended,
      };
    }
    if (rollout.stage === 'rolling' && step.holds !== true && rollout.admitted >= rollout.members) {
      // A member the rollout did not count when it began (drifted since): it joins.
      await rollouts.count(fleet.name, source, { members: 1 });
      continue;
    }
    const why = step.waitsFor ?? `the rollout of fleet ${fleet.name} is ${rollout.stage}`;
    if (step.holds === true || !TIME_BOUND.has(rollout.stage)) throw new RolloutHeldError(why);
    throw new RolloutWaitError(
      rollout.stage === 'canary'
        ? `the canary of fleet ${fleet.name} is in flight (${rollout.replaced} of ${rollout.canary} replaced): nothing else starts until it has baked`
        : why,
    );
  }
  throw new RolloutWaitError(
    `the rollout of fleet ${fleet.name} kept moving while this member asked to join`,
  );
}

/** Alarms gate everything in the fleet: one in ALARM, or declared and missing, holds it. */
function holdOnAlarms(view: RolloutView): void {
  if (view.firing.length > 0) throw new RolloutHeldError(alarmFiringSentence(view.fleet, view.firing));
  const missing = alarmsMissing(view.alarms);
  if (missing.length > 0) throw new RolloutHeldError(missingAlarmsText(missing));
}

/** Begins the rollout of the source (once: the creator tells the team). */
async function begin(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  fleet: CompiledFleet,
  view: RolloutView,
  budget: number,
): Promise<void> {
  const { rollouts } = rolloutDepsOf(deps, fleet);
  const running = (await listFleetInstances(deps.ec2, fleet)).filter((i) => i.state === 'running');
  const members = Math.max(1, running.filter((i) => isRolloutMember(i, view.source)).length);
  const policy = fleet.rollout;
  const created = await rollouts.create({
    fleet: fleet.name,
    source: view.source,
    stage: firstStage(policy, view.promotion),
    members,
    canary: canarySize(policy, running.length, members),
    bakeMinutes: policy.bakeMinutes,
    maxFailures: policy.maxFailures,
  });
  if (!created.created) return;
  logStage(deps, created.rollout);
  const waves = wavesOf(members, budget);
  await notifyRollout(
    deps,
    data,
    ctx,
    'rollout.started',
    created.rollout,
    summaryOf(created.rollout, {
      waves,
      // A group's surges go in the same waves (one raise each); any fleet's launches, EC2's token bucket.
      estimateSeconds: estimatedSeconds(waves, { replacements: members }),
    }),
  );
}
