/**
 * How long a fleet's replacements take on AWS, estimated for `phoenix plan`: the figure a
 * reviewer reads on the pull request, not a promise.
 *
 * One wave holds its budget slots about 75 s (launch, running after ~25 s, first status
 * check ~30 s later, the health gate's polls and the steps around them: the convergence
 * model's figure, docs/performance.md, "Convergence"); the last wave's old instances then
 * drain from their target groups (the deregistration delay, 300 s by default) before they
 * are gone. Waves of one fleet follow each other; the model measured 31 min for 100
 * instances five at a time, this estimate says 29. An Auto Scaling group's replacements go in
 * the same waves, one capacity raise each under the group's lock (docs/adr/0034-waves.md);
 * any fleet's launches are paced by EC2's token bucket: whichever is slower. The model put
 * 100, 1,000 and 10,000 instances, 10 % at once, at 950 s, 950 s and 4,871 s; this estimate
 * says 1,050 s, 1,050 s and 4,800 s.
 */

/** Seconds one wave holds its budget slots on AWS (the convergence model's median). */
export const WAVE_SECONDS = 75;
/** Seconds the last old instances drain (an ELB target group's default deregistration delay). */
export const FINAL_DRAIN_SECONDS = 300;
/**
 * EC2's resource token bucket for RunInstances: 1,000 launches at once, then 2 a second
 * ("Request throttling for the Amazon EC2 API", resource token bucket sizes and refill rates).
 */
export const RUN_INSTANCES_BURST = 1000;
export const RUN_INSTANCES_REFILL_PER_SECOND = 2;

/** What else bounds a fleet's pace besides its waves: how many launch. */
export interface Pace {
  /** Replacements to launch. */
  replacements: number;
}

/**
 * Estimated seconds for `waves` waves one after another, or longer when EC2's launch token
 * bucket is slower than the waves (`pace`); 0 when there is nothing to replace.
 */
export function estimatedSeconds(waves: number, pace?: Pace): number {
  if (!Number.isInteger(waves) || waves < 0)
    throw new RangeError(`waves must be a whole number ≥ 0, got ${waves}`);
  if (waves === 0) return 0;
  let busy = waves * WAVE_SECONDS;
  if (pace !== undefined) busy = Math.max(busy, launchSeconds(pace.replacements));
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
  /** The canary's and the rest's replacements (see {@link Pace}). */
  pace?: { canary: number; rest: number };
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
    shape.pace === undefined || replacements === undefined ? undefined : { replacements };
  const canary = estimatedSeconds(shape.canaryWaves, pace(shape.pace?.canary));
  const bake = shape.canaryWaves > 0 ? shape.bakeMinutes * 60 : 0;
  return canary + bake + estimatedSeconds(shape.waves, pace(shape.pace?.rest));
}
