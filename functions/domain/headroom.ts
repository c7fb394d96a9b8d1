/**
 * Whether an Auto Scaling group leaves a replacement any way to happen, in words.
 *
 * A replacement launches first when the group is below its MaxSize (a surge). At MaxSize the
 * old instance must go out first (standby-first: into Standby, the group launches its successor), which dips healthy capacity by one: the
 * fleet's `minHealthyPercent` decides whether that dip is ever allowed. When it is not, or
 * when the group is pinned at MinSize = MaxSize, no budget will ever be granted while the
 * group stays as it is: retrying only repeats the refusal. `phoenix plan` and the
 * remediation's plan step read the same answer, so the plan promises only what can happen.
 */

/** The fewest healthy instances `minHealthyPercent` allows out of `desired`. */
export function healthyFloor(desired: number, minHealthyPercent: number): number {
  return Math.ceil((desired * minHealthyPercent) / 100);
}

/** A group's sizes, as DescribeAutoScalingGroups reports them. */
export interface GroupCapacity {
  name: string;
  desired: number;
  min: number;
  max: number;
}

export type Headroom =
  /** Below MaxSize: the replacement launches first, capacity never dips. */
  | { kind: 'surge' }
  /** At MaxSize, and the budget allows `dips` instances out at once. */
  | { kind: 'standby-first'; dips: number }
  /** No replacement can happen while the group stays as it is; `why` says what to change. */
  | { kind: 'none'; code: 'pinned' | 'no-headroom'; why: string };

/** What room the group leaves a replacement, for a fleet with this `minHealthyPercent`. */
export function headroomOf(group: GroupCapacity, minHealthyPercent: number): Headroom {
  const { name, desired, min, max } = group;
  if (desired < max) return { kind: 'surge' };
  if (desired - 1 < min) {
    return {
      kind: 'none',
      code: 'pinned',
      why: `Auto Scaling group ${name} is pinned at min ${min} = max ${max} = desired ${desired}: no room to launch first and no safe way back; raise MaxSize by one`,
    };
  }
  const floor = healthyFloor(desired, minHealthyPercent);
  const dips = desired - floor;
  if (dips < 1) {
    return {
      kind: 'none',
      code: 'no-headroom',
      why: `no headroom: Auto Scaling group ${name} is at MaxSize ${max} and minHealthyPercent ${minHealthyPercent} forbids taking one out first (${floor} of ${desired} must stay healthy); raise MaxSize by 1`,
    };
  }
  return { kind: 'standby-first', dips };
}
