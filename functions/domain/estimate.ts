/**
 * How long a fleet's replacements take on AWS, estimated for `phoenix plan`: the figure a
 * reviewer reads on the pull request, not a promise.
 *
 * One wave holds its budget slots about 75 s (launch, running after ~25 s, first status
 * check ~30 s later, the health gate's polls and the steps around them: the convergence
 * model's figure, docs/performance.md, "Convergence"); the last wave's old instances then
 * drain from their target groups (the deregistration delay, 300 s by default) before they
 * are gone. Waves of one fleet follow each other; the model measured 31 min for 100
 * instances five at a time, this estimate says 29.
 */

/** Seconds one wave holds its budget slots on AWS (the convergence model's median). */
export const WAVE_SECONDS = 75;
/** Seconds the last old instances drain (an ELB target group's default deregistration delay). */
export const FINAL_DRAIN_SECONDS = 300;

/** Estimated seconds for `waves` waves one after another; 0 when there is nothing to replace. */
export function estimatedSeconds(waves: number): number {
  if (!Number.isInteger(waves) || waves < 0)
    throw new RangeError(`waves must be a whole number ≥ 0, got ${waves}`);
  return waves === 0 ? 0 : waves * WAVE_SECONDS + FINAL_DRAIN_SECONDS;
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
}

/**
 * Estimated seconds for a rollout: the canary's waves and their drain (the canary counts as
 * replaced once its old instances are gone), then the bake, then the rest in waves and their
 * drain. Without a canary wave it is {@link estimatedSeconds} of the rest alone.
 */
export function estimatedRolloutSeconds(shape: RolloutShape): number {
  if (!Number.isFinite(shape.bakeMinutes) || shape.bakeMinutes < 0)
    throw new RangeError(`bakeMinutes must be ≥ 0, got ${shape.bakeMinutes}`);
  const canary = estimatedSeconds(shape.canaryWaves);
  const bake = shape.canaryWaves > 0 ? shape.bakeMinutes * 60 : 0;
  return canary + bake + estimatedSeconds(shape.waves);
}
