/**
 * Which declared fleet, if any, an instance belongs to.
 *
 * Phoenix never acts outside declared fleets, whatever an event says: every path that
 * judges or replaces an instance asks this first, and anything but `member` stops there.
 */
import type { CompiledFleet, InstanceFacts, Tags } from '../model';

export type FleetMatch =
  | { kind: 'member'; fleet: CompiledFleet }
  | { kind: 'excluded'; fleet: CompiledFleet; why: string }
  | { kind: 'outside'; why: string };

const ASG_NAME_TAG = 'aws:autoscaling:groupName';

/** The Auto Scaling group an instance belongs to: from its facts, else from the tag Auto Scaling sets. */
export function autoScalingGroupOf(instance: InstanceFacts): string | undefined {
  return instance.autoScalingGroup ?? instance.tags[ASG_NAME_TAG];
}

function carries(tags: Tags, key: string, value: string): boolean {
  return Object.hasOwn(tags, key) && tags[key] === value;
}

/**
 * Whether the fleet's selector picks the instance. Tag fleets hold standalone instances
 * only: an instance in an Auto Scaling group is its group's to replace, and replacing it
 * by hand would fight the group. An empty tag selector selects nothing rather than
 * every standalone instance in the account.
 */
export function selects(fleet: CompiledFleet, instance: InstanceFacts): boolean {
  const group = autoScalingGroupOf(instance);
  if (fleet.match.kind === 'autoScalingGroup') return group === fleet.match.autoScalingGroup;
  const selector = Object.entries(fleet.match.tags);
  return (
    group === undefined &&
    selector.length > 0 &&
    selector.every(([key, value]) => carries(instance.tags, key, value))
  );
}

/** The first exclusion tag the instance carries (key and value both), if any. */
export function exclusionOf(fleet: CompiledFleet, instance: InstanceFacts): [string, string] | undefined {
  return Object.entries(fleet.exclude.tags).find(([key, value]) => carries(instance.tags, key, value));
}

function describeInstance(instance: InstanceFacts): string {
  const group = autoScalingGroupOf(instance);
  return group === undefined
    ? `standalone instance ${instance.instanceId}`
    : `instance ${instance.instanceId} of Auto Scaling group ${group}`;
}

/**
 * The fleet the instance belongs to.
 *
 * - `member`: exactly one fleet selects it and it carries none of that fleet's exclusion tags.
 * - `excluded`: exactly one fleet selects it, but it carries one of the fleet's
 *   `exclude.tags` (key and value); Phoenix leaves it alone.
 * - `outside`: no fleet selects it, or several do. Validation forbids overlapping selectors,
 *   but if several still match, which fleet's rules apply is a guess — and Phoenix never acts
 *   on a guess.
 */
export function findFleet(instance: InstanceFacts, fleets: readonly CompiledFleet[]): FleetMatch {
  const matches = fleets.filter((fleet) => selects(fleet, instance));
  const [only, ...others] = matches;
  if (only === undefined) {
    return { kind: 'outside', why: `no declared fleet selects the ${describeInstance(instance)}` };
  }
  if (others.length > 0) {
    const names = matches.map((fleet) => fleet.name).join(', ');
    return {
      kind: 'outside',
      why: `ambiguous: fleets ${names} all select the ${describeInstance(instance)}; Phoenix does not act until only one does`,
    };
  }
  const exclusion = exclusionOf(only, instance);
  if (exclusion !== undefined) {
    const [key, value] = exclusion;
    return {
      kind: 'excluded',
      fleet: only,
      why: `instance ${instance.instanceId} carries the exclusion tag ${key}=${value} of fleet ${only.name}`,
    };
  }
  return { kind: 'member', fleet: only };
}
