import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../bench/cold-start';
import { medianInterval, pairedRatios, pairedVerdict } from '../../bench/lib/paired';

describe('pairedRatios', () => {
  it('divides each value by the baseline taken beside it', () => {
    expect(pairedRatios([110, 240, 90], [100, 200, 100])).toEqual([1.1, 1.2, 0.9]);
  });

  it('refuses unpaired samples and a baseline of zero', () => {
    expect(() => pairedRatios([1, 2], [1])).toThrow(RangeError);
    expect(() => pairedRatios([1], [0])).toThrow(RangeError);
  });
});

describe('medianInterval', () => {
  const ranks = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it.each([
    // Order-statistic ranks of the 95% interval for the median, from the binomial table.
    { n: 6, low: 1, high: 6 },
    { n: 15, low: 4, high: 12 },
    { n: 20, low: 6, high: 15 },
    { n: 45, low: 16, high: 30 },
  ])('for $n samples is [x($low), x($high)]', ({ n, low, high }) => {
    const interval = medianInterval(ranks(n).reverse());

    expect([interval.low, interval.high]).toEqual([low, high]);
    expect(interval.confidence).toBeGreaterThanOrEqual(0.95);
  });

  it('has no confidence when the samples are too few for any interval', () => {
    expect(medianInterval([3, 1, 2, 5, 4])).toEqual({ low: 1, high: 5, confidence: 0 });
  });
});

describe('pairedVerdict', () => {
  /** Both sides of each pair slowed alike by a load that varies from 1× to 2.4×, the values a factor above. */
  function underLoad(factor: number, n: number): { values: number[]; baselines: number[] } {
    const load = Array.from({ length: n }, (_, i) => 1 + ((i * 7) % n) / 10);
    const baselines = load.map((l) => 400 * l);
    return { values: baselines.map((b, i) => b * factor * (i % 2 === 0 ? 1.02 : 0.98)), baselines };
  }

  it('sees through load that moves both sides of every pair', () => {
    const { values, baselines } = underLoad(1.1, 15);

    const verdict = pairedVerdict(values, baselines, 1.2);

    expect(verdict.ratio).toBeGreaterThanOrEqual(1.1 * 0.98);
    expect(verdict.ratio).toBeLessThanOrEqual(1.1 * 1.02);
    expect(verdict.settled).toBe(true);
  });

  it('settles a ratio clearly above the budget as well', () => {
    const { values, baselines } = underLoad(1.4, 15);

    expect(pairedVerdict(values, baselines, 1.2)).toMatchObject({ settled: true });
    expect(pairedVerdict(values, baselines, 1.2).interval.low).toBeGreaterThan(1.2);
  });

  it('is not settled while the interval straddles the budget', () => {
    const baselines = Array.from({ length: 15 }, () => 100);
    const values = [100, 130, 105, 125, 110, 120, 115, 118, 112, 122, 108, 128, 102, 135, 119];

    const verdict = pairedVerdict(values, baselines, 1.2);

    expect(verdict.interval.low).toBeLessThanOrEqual(1.2);
    expect(verdict.interval.high).toBeGreaterThan(1.2);
    expect(verdict.settled).toBe(false);
  });
});

describe('roundOrder', () => {
  it('times ours between the other two, which swap sides from one round to the next', () => {
    expect(roundOrder(0)).toEqual(['baseline', 'ours', 'untrimmed']);
    expect(roundOrder(1)).toEqual(['untrimmed', 'ours', 'baseline']);
    expect(roundOrder(2)).toEqual(roundOrder(0));
  });
});
