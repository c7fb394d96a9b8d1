/**
 * How long a fleet's replacements take on AWS, estimated for `phoenix plan`: the figure a
 * reviewer reads on the pull request, not a promise.
 *
 * One wave holds its budget slots about 75 s (launch, running after ~25 s, first status
 * check ~30 s later, the health gate's polls and the steps around them: the convergence
 * model's figure, docs/performance.md, "Convergence"); the last wave's old instances then
 * drain from their target groups (the deregistration delay, 300 s by default) before they
 * are gone. Waves of one fleet follow each other; the model measured 31 min for 100
 * instances five at a time, this estimate says 29. An Auto Scaling group's replacements are
 * also paced by its lock, and any fleet's launches by EC2's token bucket: whichever is slowest.
 */

/** Seconds one wave holds its budget slots on AWS (the convergence model's median). */
export const WAVE_SECONDS = 75;
/** Seconds the last old instances drain (an ELB target group's default deregistration delay). */
export const FINAL_DRAIN_SECONDS = 300;
/**
 * Seconds each replacement of an Auto Scaling group adds however wide its budget: its surge
 * holds the group's lock from its lease to the claim of its new member, and a retirement takes
 * it after (docs/adr/0033). The convergence model measured 23.3, 23.2 and 23.2 s an instance at
 * 100, 1,000 and 10,000 instances with `maxConcurrent: 10%` (docs/performance.md).
 */
export const GROUP_SURGE_SECONDS = 23;
/**
 * EC2's resource token bucket for RunInstances: 1,000 launches at once, then 2 a second
 * ("Request throttling for the Amazon EC2 API", resource token bucket sizes and refill rates).
 */
export const RUN_INSTANCES_BURST = 1000;
export const RUN_INSTANCES_REFILL_PER_SECOND = 2;

/** What else bounds a fleet's pace besides its waves: how many launch, and whether its group's lock takes them in turn. */
export interface Pace {
  /** Replacements to launch. */
  replacements: number;
  /** An Auto Scaling group: its surges take the group's lock one at a time. */
  groupLock: boolean;
}

/**
 * Estimated seconds for `waves` waves one after another, or longer when the group's lock or
 * EC2's launch token bucket is slower than the waves (`pace`); 0 when there is nothing to
 * replace.
 */
export function estimatedSeconds(waves: number, pace?: Pace): number {
  if (!Number.isInteger(waves) || waves < 0)
    throw new RangeError(`waves must be a whole number ≥ 0, got ${waves}`);
  if (waves === 0) return 0;
  let busy = waves * WAVE_SECONDS;
  if (pace !== undefined) {
    if (pace.groupLock) busy = Math.max(busy, pace.replacements * GROUP_SURGE_SECONDS);
    busy = Math.max(busy, launchSeconds(pace.replacements));
  }
  return busy + FINAL_DRAIN_SECONDS;
}

/** Seconds EC2's token bucket takes to allow `launches` RunInstances from a full bucket. */
export function launchSeconds(launches: number): number {
  return launches <= RUN_INSTANCES_BURST
    ? 0
    : (launches - RUN_INSTANCES_BURST) / RUN_INSTANCES_REFILL_PER_SECOND;
}

/** `≈ 12 min`, `≈ 1.5 h`: a duration as a reviewer reads it. */
export function durationText(seconds: number): string {
  if (seconds < 60) return `≈ ${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `≈ ${minutes} min`;
  return `≈ ${(seconds / 3600).toFixed(1)} h`;
}

/** A fleet's rollout as the estimate counts it (issue 15): the canary's waves, the bake, the rest. */
export interface RolloutShape {
  /** Waves of canary replacements still to go (0: no canary, or it is done). */
  canaryWaves: number;
  /** The bake after the canary, in minutes (counted only when a canary wave is still to go). */
  bakeMinutes: number;
  /** Waves of the rest, under the budget, after the bake. */
  waves: number;
  /** The canary's and the rest's replacements, and whether a group's lock paces them (see {@link Pace}). */
  pace?: { canary: number; rest: number; groupLock: boolean };
}

/**
 * Estimated seconds for a rollout: the canary's waves and their drain (the canary counts as
 * replaced once its old instances are gone), then the bake, then the rest in waves and their
 * drain. Without a canary wave it is {@link estimatedSeconds} of the rest alone.
 */
export function estimatedRolloutSeconds(shape: RolloutShape): number {
  if (!Number.isFinite(shape.bakeMinutes) || shape.bakeMinutes < 0)
    throw new RangeError(`bakeMinutes must be ≥ 0, got ${shape.bakeMinutes}`);
  const pace = (replacements: number | undefined): Pace | undefined =>
    shape.pace === undefined || replacements === undefined
      ? undefined
      : { replacements, groupLock: shape.pace.groupLock };
  const canary = estimatedSeconds(shape.canaryWaves, pace(shape.pace?.canary));
  const bake = shape.canaryWaves > 0 ? shape.bakeMinutes * 60 : 0;
  return canary + bake + estimatedSeconds(shape.waves, pace(shape.pace?.rest));
}
