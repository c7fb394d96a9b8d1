/**
 * Whether an Auto Scaling group leaves a replacement any way to happen, in words.
 *
 * A replacement launches first when the group is below its MaxSize (a surge). At MaxSize the
 * old instance must go out first (standby-first: into Standby, the group launches its successor), which dips healthy capacity by one: the
 * fleet's `minHealthyPercent` decides whether that dip is ever allowed. When it is not, or
 * when the group is pinned at MinSize = MaxSize, no budget will ever be granted while the
 * group stays as it is: retrying only repeats the refusal. `phoenix plan` and the
 * remediation's plan step read the same answer, so the plan promises only what can happen.
 * The sentences are the gate's (`gate/messages.ts`), so a refusal reads the same everywhere.
 */
import { noHeadroomSentence, pinnedSentence } from './gate/messages';

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
  | { kind: 'none'; code: 'pinned'; why: string }
  /** `floor`: the fewest healthy instances `minHealthyPercent` allows out of `desired`. */
  | { kind: 'none'; code: 'no-headroom'; why: string; floor: number };

/** What room the group leaves a replacement, for a fleet with this `minHealthyPercent`. */
export function headroomOf(group: GroupCapacity, minHealthyPercent: number): Headroom {
  const { name, desired, min, max } = group;
  if (desired < max) return { kind: 'surge' };
  if (desired - 1 < min) {
    return { kind: 'none', code: 'pinned', why: pinnedSentence(group) };
  }
  const floor = healthyFloor(desired, minHealthyPercent);
  const dips = desired - floor;
  if (dips < 1) {
    return {
      kind: 'none',
      code: 'no-headroom',
      why: noHeadroomSentence({ name, desired, max, floor, minHealthyPercent }),
      floor,
    };
  }
  return { kind: 'standby-first', dips };
}
