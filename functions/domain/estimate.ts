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
