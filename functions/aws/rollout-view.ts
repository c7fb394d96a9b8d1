/**
 * What a fleet's rollout is now, read but not written: the rollout of the fleet's current
 * source as recorded, its declared alarms as CloudWatch reports them, the promotion from the
 * fleet it follows (`after:`), and the stages' decision from all of it
 * (functions/domain/rollout/stage.ts `advance`). The admission (the lease step) writes the
 * step it decides from this; the evaluator, `phoenix plan` and `phoenix reconcile` only read
 * it, to say why a fleet waits.
 *
 * Reads, constant in the fleet's size: one GetItem (the rollout), one DescribeAlarms per 100
 * declared names, and with `after:` one Query of the followed fleet's rollouts, one
 * DescribeAlarms of its alarms and one listing of its instances.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CompiledFleet } from '../domain/model';
import {
  type AlarmReading,
  advance,
  alarmsFiring,
  type Promotion,
  type RolloutStep,
} from '../domain/rollout/stage';
import { alarmReadings, readAlarmStates } from './alarms';
import { type Ec2, listFleetInstances } from './inventory';
import type { RolloutRecord, RolloutSource, RolloutStore } from './rollout-store';

/** The readers a view needs. */
export interface RolloutViewDeps {
  rollouts: Pick<RolloutStore, 'get' | 'list'>;
  cloudwatch: Pick<CloudWatchClient, 'send'>;
  /** Only for a fleet promoted from another (`after:`): its instances are listed. */
  ec2: Ec2;
  /** Every declared fleet: the one `after:` names is found here. */
  fleets: readonly CompiledFleet[];
  now: Date;
}

/** A fleet's rollout as it stands now. */
export interface RolloutView {
  fleet: string;
  /** The fleet's current source: the rollout a drifted member of it belongs to. */
  source: RolloutSource;
  /** The rollout of that source as recorded; absent when it has not begun. */
  rollout?: RolloutRecord;
  /** The fleet's declared alarms, read now (`MISSING` when CloudWatch does not know one). */
  alarms: AlarmReading[];
  /** The declared alarms in ALARM now: while any is, no replacement of the fleet starts. */
  firing: string[];
  /** With `after:` only: whether the followed fleet runs this image, converged and baked. */
  promotion?: Promotion;
  /**
   * The stages' decision from the record and the facts above (`advance`), not written; absent
   * when the rollout has not begun.
   */
  step?: RolloutStep;
}

/** Alarm readings of `names`; none declared, no call. */
async function readings(
  cloudwatch: Pick<CloudWatchClient, 'send'>,
  names: readonly string[],
): Promise<AlarmReading[]> {
  if (names.length === 0) return [];
  return alarmReadings(await readAlarmStates(cloudwatch, names));
}

/**
 * Whether fleet `after` runs `imageId`, converged and baked, with its alarms OK: every one of
 * its running instances runs the image, none of its alarms is in ALARM (nor missing), and a
 * rollout of that image through it, if it had one, completed (so it baked). A fleet that
 * always ran the image (no rollout of it on record) is converged and baked by its age.
 */
export async function readPromotion(
  deps: RolloutViewDeps,
  after: string,
  imageId: string | undefined,
): Promise<Promotion> {
  const followed = deps.fleets.find((f) => f.name === after);
  if (followed === undefined)
    return { ready: false, why: `fleet ${after} (followed by after:) is not declared` };
  if (imageId === undefined)
    return {
      ready: false,
      why: `the image of this source is not known, so fleet ${after} cannot vouch for it`,
    };
  const alarms = await readings(deps.cloudwatch, followed.rollout.alarms);
  const firing = alarmsFiring(alarms);
  if (firing.length > 0)
    return { ready: false, why: `waiting for fleet ${after}: its alarm ${firing.join(', ')} is in ALARM` };
  const missing = alarms.filter((a) => a.state === 'MISSING').map((a) => a.name);
  if (missing.length > 0)
    return {
      ready: false,
      why: `waiting for fleet ${after}: its alarm ${missing.join(', ')} does not exist`,
    };
  const running = (await listFleetInstances(deps.ec2, followed)).filter((i) => i.state === 'running');
  const behind = running.filter((i) => i.imageId !== imageId).length;
  if (running.length === 0)
    return { ready: false, why: `waiting for fleet ${after}: it runs no instance of ${imageId}` };
  if (behind > 0)
    return {
      ready: false,
      why: `waiting for fleet ${after} to run ${imageId}: ${running.length - behind} of ${running.length} instances do`,
    };
  const rollouts = (await deps.rollouts.list(after)).filter((r) => r.source.imageId === imageId);
  const live = rollouts.find((r) => r.stage !== 'completed');
  if (live !== undefined && !rollouts.some((r) => r.stage === 'completed'))
    return {
      ready: false,
      why: `waiting for fleet ${after}'s rollout of ${imageId} to bake and complete (${live.stage})`,
    };
  return { ready: true };
}

/**
 * The view of `fleet`'s rollout of `source` now. Throws what the readers throw (the alarm
 * reader's typed errors: a caller holds on them, it never proceeds without its alarms).
 */
export async function readRolloutView(
  deps: RolloutViewDeps,
  fleet: CompiledFleet,
  source: RolloutSource,
): Promise<RolloutView> {
  const policy = fleet.rollout;
  const [rollout, alarms] = await Promise.all([
    deps.rollouts.get(fleet.name, source),
    readings(deps.cloudwatch, policy.alarms),
  ]);
  const view: RolloutView = { fleet: fleet.name, source, alarms, firing: alarmsFiring(alarms) };
  if (rollout !== undefined) view.rollout = rollout;
  if (policy.after !== undefined) view.promotion = await readPromotion(deps, policy.after, source.imageId);
  if (rollout !== undefined) {
    view.step = advance(rollout, {
      now: deps.now,
      policy,
      alarms,
      ...(view.promotion === undefined ? {} : { promotion: view.promotion }),
      ...(rollout.approvedBy === undefined ? {} : { approved: { by: rollout.approvedBy } }),
    });
  }
  return view;
}
