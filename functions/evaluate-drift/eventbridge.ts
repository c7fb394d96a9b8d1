/**
 * EventBridge events: CloudTrail calls and EC2 state changes about instances (each judged
 * again from current facts), and a launch template's new default or latest version (every
 * instance of every fleet using that template).
 */
import type { CompiledFleet } from '../domain/model';
import { actAll, actOnCurrent, isActionable, type Trigger } from './act';
import { METRIC } from './deps';
import type { Invocation } from './invocation';

export async function instanceActivity(
  inv: Invocation,
  instanceIds: string[],
  trigger: Trigger,
): Promise<void> {
  await actOnCurrent(inv, instanceIds, trigger);
}

/** A new default or latest version: every instance of every fleet using that template. */
export async function launchTemplateChange(
  inv: Invocation,
  template: { id?: string; name?: string },
  trigger: Trigger,
): Promise<void> {
  const fleets: CompiledFleet[] = [];
  for (const fleet of inv.deps.desiredState.fleets) {
    if (await usesTemplate(inv, fleet, template)) fleets.push(fleet);
  }
  if (fleets.length === 0) {
    inv.count(METRIC.ignoredEvents, 1);
    inv.deps.logger.info('Launch template change concerns no declared fleet', { template });
    return;
  }
  inv.deps.logger.info('Launch template changed: judging its fleets', {
    template,
    fleets: fleets.map((f) => f.name),
  });
  const judgements = await inv.judgeAll(await inv.fleetInstances(fleets));
  await actAll(inv, judgements.filter(isActionable), trigger);
}

async function usesTemplate(
  inv: Invocation,
  fleet: CompiledFleet,
  template: { id?: string; name?: string },
): Promise<boolean> {
  const spec = fleet.launchTemplate;
  if (template.id !== undefined && spec.id === template.id) return true;
  if (template.name !== undefined && spec.name === template.name) return true;
  // Declared by name, changed by id (or the other way round): ask the resolved template.
  const lookup = await inv.judge.template(fleet);
  if (!lookup.ok) return false;
  return lookup.facts.id === template.id || lookup.facts.name === template.name;
}
