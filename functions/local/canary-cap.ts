/**
 * How many of a round's executions of a fleet the reconciler runs while its rollout is in the
 * canary (issue 15): the canary's remainder, no more. The lease step is the judge (it admits a
 * member only while the stage does); this only spares the others an instant spin of lease
 * retries ending `held` (waits are zero on the emulated account): they are put back and run
 * in a later round, after the bake the reconciler waits for.
 *
 * A rollout not begun yet has no record: its canary is the policy's share of the fleet's
 * drifted members the round found. Any other stage, or a fleet without a canary, is not
 * capped here (the lease step holds what its stage does not admit, with its reason).
 */
import type { RolloutStore } from '../aws/rollout-store';
import { concurrencyLimit } from '../domain/budget';
import type { CompiledFleet } from '../domain/model';
import { governsRollout } from '../domain/rollout/membership';
import { admits } from '../domain/rollout/stage';
import type { StartedExecution } from './step-functions/start-execution';

/** The most executions of each capped fleet to run now; a fleet not in the map is not capped. */
export async function canaryCaps(
  rollouts: Pick<RolloutStore, 'get'>,
  fleets: readonly CompiledFleet[],
  pending: readonly StartedExecution[],
): Promise<Map<string, number>> {
  const caps = new Map<string, number>();
  for (const fleet of fleets) {
    if (fleet.rollout.canary === undefined || !governsRollout(fleet.rollout)) continue;
    const mine = pending.filter((e) => e.input.fleet === fleet.name);
    const first = mine[0];
    if (first === undefined) continue;
    const { id, version } = first.input.launchTemplate;
    let record: Awaited<ReturnType<typeof rollouts.get>>;
    try {
      record = await rollouts.get(fleet.name, { templateId: id, version });
    } catch {
      continue; // unread: the lease step decides, as it always does
    }
    if (record === undefined) caps.set(fleet.name, concurrencyLimit(fleet.rollout.canary, mine.length));
    else if (record.stage === 'canary') caps.set(fleet.name, admits(record));
  }
  return caps;
}
