/**
 * Paired timing comparisons for a shared, noisy machine.
 *
 * Two bundles timed in separate batches meet different moments: when another process takes
 * a core for half a minute, every sample of one batch is slow and the ratio of the two
 * medians swings (cold start read 0.98× and 1.42× on two runs of the same code). Timed in
 * pairs, one right after the other, both sides of a pair meet the same moment, and the
 * median of the per-pair ratios cancels what the moment added. The interval around that
 * median says whether there were enough pairs to tell the figure from its budget.
 */
import { median, ratio } from './stats';

/** `values[i] / baselines[i]` for every pair, in order. */
export function pairedRatios(values: readonly number[], baselines: readonly number[]): number[] {
  if (values.length !== baselines.length) {
    throw new RangeError(
      `pairs need as many values as baselines, got ${values.length} and ${baselines.length}`,
    );
  }
  return values.map((value, i) => ratio(value, baselines[i] as number));
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(k: number, n: number): number {
  let term = 0.5 ** n; // P(X = 0)
  let sum = 0;
  for (let i = 0; i <= k; i += 1) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/** A distribution-free interval around a median, with the confidence it actually has. */
export interface MedianInterval {
  low: number;
  high: number;
  /** At least the confidence asked for; 0 when too few samples allow any interval. */
  confidence: number;
}

/**
 * The order-statistic interval for the median: `[x(k), x(n+1-k)]` of the sorted samples,
 * with `k` the largest rank such that the median lies outside with probability at most
 * `1 - confidence`, whatever the samples' distribution (the count of samples below the
 * median is Binomial(n, 1/2)). With too few samples for that confidence, the whole range,
 * and confidence 0.
 */
export function medianInterval(samples: readonly number[], confidence = 0.95): MedianInterval {
  if (samples.length === 0) throw new RangeError('an interval needs samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const tail = (1 - confidence) / 2;
  // The largest k with P(X ≤ k - 1) ≤ tail: then [x(k), x(n+1-k)] (1-based) misses the
  // median only when k or more samples fall on one side of it.
  let k = 0;
  while (k + 1 <= n / 2 && binomialHalfCdf(k, n) <= tail) k += 1;
  if (k === 0) return { low: sorted[0] as number, high: sorted[n - 1] as number, confidence: 0 };
  return {
    low: sorted[k - 1] as number,
    high: sorted[n - k] as number,
    confidence: 1 - 2 * binomialHalfCdf(k - 1, n),
  };
}

/** What the pairs say about a budget on their ratio. */
export interface PairedVerdict {
  /** Median of the per-pair ratios: the figure judged. */
  ratio: number;
  interval: MedianInterval;
  /** The whole interval is on one side of the budget: more pairs would not change the verdict. */
  settled: boolean;
}

/** The median per-pair ratio, its interval, and whether the interval is clear of `budget`. */
export function pairedVerdict(
  values: readonly number[],
  baselines: readonly number[],
  budget: number,
  confidence = 0.95,
): PairedVerdict {
  const ratios = pairedRatios(values, baselines);
  const interval = medianInterval(ratios, confidence);
  const settled = interval.confidence > 0 && (interval.high <= budget || interval.low > budget);
  return { ratio: median(ratios), interval, settled };
}
