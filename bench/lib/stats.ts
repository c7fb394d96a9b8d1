/**
 * Small statistics for benchmark samples. Medians rather than means: one sample slowed by
 * another process on a shared machine should not move the figure.
 */

/** Thrown for a statistic asked of no samples (a benchmark that measured nothing is a bug). */
export class NoSamplesError extends Error {
  constructor(what: string) {
    super(`${what} of no samples`);
    this.name = 'NoSamplesError';
  }
}

function sorted(samples: readonly number[], what: string): number[] {
  if (samples.length === 0) throw new NoSamplesError(what);
  if (samples.some((s) => !Number.isFinite(s))) {
    throw new RangeError(`${what}: every sample must be a finite number, got ${samples.join(', ')}`);
  }
  return [...samples].sort((a, b) => a - b);
}

/** The middle sample; the mean of the two middle ones for an even count. */
export function median(samples: readonly number[]): number {
  const s = sorted(samples, 'median');
  const mid = Math.floor(s.length / 2);
  const upper = s[mid] as number;
  return s.length % 2 === 1 ? upper : ((s[mid - 1] as number) + upper) / 2;
}

/** Smallest and largest sample: the spread printed beside a median. */
export function range(samples: readonly number[]): { min: number; max: number } {
  const s = sorted(samples, 'range');
  return { min: s[0] as number, max: s[s.length - 1] as number };
}

/** `value / baseline`, refusing a zero or negative baseline (a ratio to nothing means nothing). */
export function ratio(value: number, baseline: number): number {
  if (!(baseline > 0)) throw new RangeError(`a ratio needs a positive baseline, got ${baseline}`);
  return value / baseline;
}
