import { describe, expect, it } from 'vitest';
import { median, NoSamplesError, range, ratio } from '../../bench/lib/stats';

describe('median', () => {
  it.each([
    { samples: [7], expected: 7 },
    { samples: [3, 1, 2], expected: 2 },
    { samples: [4, 1, 3, 2], expected: 2.5 },
    { samples: [10, 10, 1000], expected: 10 },
  ])('of $samples is $expected, whatever the order', ({ samples, expected }) => {
    expect(median(samples)).toBe(expected);
    expect(median([...samples].reverse())).toBe(expected);
  });

  it('ignores one outlier that a mean would follow', () => {
    expect(median([5, 5, 5, 5, 500])).toBe(5);
  });

  it('refuses no samples and non-finite ones', () => {
    expect(() => median([])).toThrow(NoSamplesError);
    expect(() => median([1, Number.NaN])).toThrow(RangeError);
  });

  it('does not reorder the caller’s array', () => {
    const samples = [3, 1, 2];
    median(samples);
    expect(samples).toEqual([3, 1, 2]);
  });
});

describe('range', () => {
  it('is the smallest and the largest sample', () => {
    expect(range([4, 9, 1, 7])).toEqual({ min: 1, max: 9 });
  });
});

describe('ratio', () => {
  it('divides by the baseline', () => {
    expect(ratio(150, 100)).toBe(1.5);
  });

  it.each([0, -1])('refuses a baseline of %d', (baseline) => {
    expect(() => ratio(1, baseline)).toThrow(RangeError);
  });
});
