/**
 * A fleet's rollout as `phoenix plan` shows it (issue 15, issue 16 "rollout stage"): read with
 * the one reader the admission, the evaluator and `reconcile` read it with
 * (`functions/aws/rollout-view.ts`), never written. From it the plan learns the stage, why it
 * waits, the alarms in ALARM, and how many replacements the rollout lets start now (its
 * canary's remainder, none while it waits), so what the plan promises is what the lease
 * would grant.
 *
 * Without `--table` the records are not read: the stage is `unknown`, the alarms are read all
 * the same (they are the account's, not the table's), and an alarm in ALARM still holds the
 * fleet. Alarms that cannot be read (throttled, refused) hold the fleet too, as they hold the
 * admission (docs/adr/0028-rollouts-in-the-state-table.md): the plan says so, it does not fail.
 */

import {
  AlarmsUnavailableError,
  AlarmsUnreadableError,
  alarmReadings,
  readAlarmStates,
} from '../../aws/alarms';
import { readRolloutView } from '../../aws/rollout-view';
import type { CompiledDesiredState, CompiledFleet, LaunchTemplateFacts } from '../../domain/model';
import { governsRollout } from '../../domain/rollout/membership';
import {
  admitsNow,
  alarmsFiring,
  alarmsMissing,
  canarySize,
  failuresCounted,
  firstStage,
  missingAlarmsText,
  recordedWait,
} from '../../domain/rollout/stage';
import type { Blocker, FleetPlan, FleetRollout, PlanDeps, RolloutBlockerCode } from './model';

/** A fleet's rollout read for the plan, and what it lets start now. */
export interface RolloutReading {
  rollout: FleetRollout;
  /** What holds the fleet's replacements, besides the gate's blockers. */
  blockers: RolloutBlockerCode[];
  /** How many replacements the rollout lets start now; undefined: as many as the budget allows. */
  admits: number | undefined;
}

function policyOf(fleet: CompiledFleet, fleetSize: number, drifted: number): FleetRollout['policy'] {
  const policy = fleet.rollout;
  return {
    staged: governsRollout(policy),
    canary: canarySize(policy, fleetSize, drifted),
    bakeMinutes: policy.bakeMinutes,
    approval: policy.approval,
    after: policy.after ?? null,
  };
}

function alarmsText(firing: readonly string[]): string {
  return `alarm${firing.length === 1 ? '' : 's'} ${firing.join(', ')} in ALARM: no replacement of the fleet starts`;
}

/** The reading when the records cannot be read (no `--table`, no source): the alarms alone. */
async function alarmsOnly(
  fleet: CompiledFleet,
  base: FleetRollout,
  deps: NonNullable<PlanDeps['rollout']>,
): Promise<RolloutReading> {
  if (fleet.rollout.alarms.length === 0) return { rollout: base, blockers: [], admits: undefined };
  try {
    const readings = alarmReadings(await readAlarmStates(deps.cloudwatch, fleet.rollout.alarms));
    const firing = alarmsFiring(readings);
    const missing = alarmsMissing(readings);
    const rollout: FleetRollout = { ...base, firingAlarms: firing };
    if (firing.length > 0) {
      rollout.waitsFor = alarmsText(firing);
      return { rollout, blockers: ['alarm-firing'], admits: 0 };
    }
    if (missing.length > 0) {
      rollout.waitsFor = missingAlarmsText(missing);
      return { rollout, blockers: ['rollout-waiting'], admits: 0 };
    }
    return { rollout, blockers: [], admits: undefined };
  } catch (error) {
    return unreadAlarms(base, error);
  }
}

/** The alarms could not be read: held, as the admission holds (ADR 28), and said why. */
function unreadAlarms(base: FleetRollout, error: unknown): RolloutReading {
  if (!(error instanceof AlarmsUnavailableError || error instanceof AlarmsUnreadableError)) throw error;
  return {
    rollout: {
      ...base,
      alarmsProblem: error.message,
      waitsFor: `the declared alarms could not be read (${error.message}): held until they can be`,
    },
    blockers: ['rollout-waiting'],
    admits: 0,
  };
}

/**
 * The fleet's rollout of `template` (its current source) now: the stage on record and the
 * stages' decision with the alarms and the promotion read now, or, when none has begun, what
 * the next replacement would begin.
 */
export async function readFleetRollout(
  desired: CompiledDesiredState,
  fleet: CompiledFleet,
  template: LaunchTemplateFacts | undefined,
  counts: { fleetSize: number; drifted: number },
  deps: PlanDeps,
): Promise<RolloutReading> {
  const base: FleetRollout = {
    stage: 'unknown',
    source:
      template === undefined
        ? null
        : { templateId: template.id, version: template.version, imageId: template.imageId ?? null },
    waitsFor: null,
    firingAlarms: [],
    alarmsProblem: null,
    progress: null,
    policy: policyOf(fleet, counts.fleetSize, counts.drifted),
  };
  const reader = deps.rollout;
  if (reader === undefined) return { rollout: base, blockers: [], admits: undefined };
  const rollouts = reader.rollouts;
  if (rollouts === undefined || template === undefined) return alarmsOnly(fleet, base, reader);

  const source = {
    templateId: template.id,
    version: template.version,
    ...(template.imageId === undefined ? {} : { imageId: template.imageId }),
  };
  let view: Awaited<ReturnType<typeof readRolloutView>>;
  try {
    view = await readRolloutView(
      { rollouts, cloudwatch: reader.cloudwatch, ec2: deps.ec2, fleets: desired.fleets, now: deps.now },
      fleet,
      source,
    );
  } catch (error) {
    const reading = unreadAlarms(base, error);
    const record = await rollouts.get(fleet.name, source);
    if (record !== undefined) {
      reading.rollout.stage = record.stage;
      reading.rollout.progress = {
        members: record.members,
        replaced: record.replaced,
        rolledBack: failuresCounted(record),
        maxFailures: record.maxFailures,
        canary: record.canary,
      };
    } else {
      reading.rollout.stage = 'none';
    }
    return reading;
  }

  const rollout: FleetRollout = { ...base, firingAlarms: view.firing };
  const blockers: RolloutBlockerCode[] = view.firing.length > 0 ? ['alarm-firing'] : [];
  const step = view.step;
  if (view.rollout === undefined || step === undefined) {
    // None has begun: the next replacement of the fleet begins one, in its first stage.
    rollout.stage = 'none';
    const missing = alarmsMissing(view.alarms);
    if (view.firing.length > 0) {
      rollout.waitsFor = alarmsText(view.firing);
      return { rollout, blockers, admits: 0 };
    }
    if (missing.length > 0) {
      rollout.waitsFor = missingAlarmsText(missing);
      return { rollout, blockers: ['rollout-waiting'], admits: 0 };
    }
    if (firstStage(fleet.rollout, view.promotion) === 'waiting') {
      rollout.waitsFor = view.promotion?.ready === false ? view.promotion.why : 'waiting for its promotion';
      return { rollout, blockers: ['rollout-waiting'], admits: 0 };
    }
    return {
      rollout,
      blockers,
      admits: fleet.rollout.canary === undefined ? undefined : rollout.policy.canary,
    };
  }

  const record = view.rollout;
  const now = step.rollout;
  rollout.stage = now.stage;
  rollout.progress = {
    members: now.members,
    replaced: now.replaced,
    rolledBack: failuresCounted(now),
    maxFailures: record.maxFailures,
    canary: now.canary,
  };
  // A rollout rolling or completed lets the budget decide (a drift found later joins it); a
  // canary lets its remainder start; any other stage (or a hold) lets nothing start.
  const admits =
    step.holds !== true && (now.stage === 'rolling' || now.stage === 'completed')
      ? undefined
      : admitsNow(step);
  const waits = step.waitsFor ?? (admits === 0 ? recordedWait(now, deps.now) : undefined);
  if (waits !== undefined) rollout.waitsFor = waits;
  if (admits === 0 && now.stage !== 'completed' && !blockers.includes('alarm-firing'))
    blockers.push('rollout-waiting');
  return { rollout, blockers, admits };
}

/** The rollout's line for a fleet blocker: what the text and the markdown say after "not replacing:". */
export function rolloutBlockerText(fleet: FleetPlan, blocker: Blocker): string | undefined {
  const r = fleet.rollout;
  if (blocker === 'alarm-firing')
    return r.firingAlarms.length === 0
      ? 'a declared alarm is in ALARM: no replacement of the fleet starts'
      : alarmsText(r.firingAlarms);
  if (blocker === 'rollout-waiting') {
    const stage = r.stage === 'none' || r.stage === 'unknown' ? 'not begun' : r.stage;
    // A halt's own words begin with "halted": said once.
    if (stage === 'halted' && r.waitsFor?.startsWith('halted') === true) return `rollout stage ${r.waitsFor}`;
    return `rollout stage ${stage}${r.waitsFor === null ? '' : `: ${r.waitsFor}`}`;
  }
  return undefined;
}
