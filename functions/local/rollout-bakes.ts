/**
 * `phoenix reconcile` and the rollouts it meets (issue 15): while a fleet's rollout bakes its
 * canary, the next round waits for the bake on the clock with the fleet's alarms polled,
 * instead of starting executions that would only wait at their lease. An alarm firing ends
 * the wait at once (the next sweep halts the rollout). Tests pass `waitForBake` to move their
 * clock instead.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { readAlarmStates } from '../aws/alarms';
import { type Ec2, resolveLaunchTemplate } from '../aws/inventory';
import type { RolloutStore } from '../aws/rollout-store';
import { readRolloutView } from '../aws/rollout-view';
import type { CompiledFleet } from '../domain/model';
import { governsRollout } from '../domain/rollout/membership';

/** How often the alarms are read while waiting for a bake on the wall clock. */
const ALARM_POLL_MS = 60_000;

export interface BakeDeps {
  ec2: Ec2;
  cloudwatch: Pick<CloudWatchClient, 'send'>;
  rollouts: Pick<RolloutStore, 'get' | 'list'>;
  fleets: readonly CompiledFleet[];
  clock: () => Date;
  /** Test hook: the bake's end reached (the test moves its clock). */
  waitForBake?: (until: Date) => Promise<void>;
  /** One progress line. */
  say: (line: string) => void;
}

/** The bakes running now: fleet, until when, with their alarms OK. Unreadable fleets are left to the sweep. */
export async function bakesNow(deps: BakeDeps): Promise<{ fleet: CompiledFleet; until: Date }[]> {
  const bakes: { fleet: CompiledFleet; until: Date }[] = [];
  for (const fleet of deps.fleets) {
    if (fleet.mode !== 'enforce' || !governsRollout(fleet.rollout)) continue;
    try {
      const template = await resolveLaunchTemplate(deps.ec2, fleet.launchTemplate);
      const source = { templateId: template.id, version: template.version };
      const view = await readRolloutView(
        { ...deps, now: deps.clock() },
        fleet,
        template.imageId === undefined ? source : { ...source, imageId: template.imageId },
      );
      const until = Date.parse(view.rollout?.bakeUntil ?? '');
      if (
        view.rollout?.stage === 'baking' &&
        Number.isFinite(until) &&
        until > deps.clock().getTime() &&
        view.firing.length === 0
      )
        bakes.push({ fleet, until: new Date(until) });
    } catch {
      // The sweep reads the same and reports what it cannot read.
    }
  }
  return bakes;
}

/** Waits for the bakes running now, the earliest first; returns whether it waited. */
export async function waitForBakes(deps: BakeDeps): Promise<boolean> {
  const bakes = await bakesNow(deps);
  if (bakes.length === 0) return false;
  const next = bakes.reduce((a, b) => (b.until < a.until ? b : a));
  for (const bake of bakes)
    deps.say(`fleet ${bake.fleet.name}: baking the canary until ${bake.until.toISOString()}, alarms OK`);
  if (deps.waitForBake !== undefined) {
    await deps.waitForBake(next.until);
    return true;
  }
  // On the wall clock: poll the alarms, stop at the bake's end or at the first alarm firing.
  while (deps.clock().getTime() < next.until.getTime()) {
    const left = next.until.getTime() - deps.clock().getTime();
    await new Promise((resolve) => setTimeout(resolve, Math.min(ALARM_POLL_MS, left)));
    const states = await readAlarmStates(deps.cloudwatch, next.fleet.rollout.alarms).catch(() => undefined);
    if (states?.alarms.some((a) => a.state === 'ALARM')) {
      deps.say(`fleet ${next.fleet.name}: an alarm fired during the bake`);
      return true;
    }
  }
  return true;
}
