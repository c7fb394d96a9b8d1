import { describe, expect, it } from 'vitest';
import {
  type BenchResult,
  brokenBudgets,
  compared,
  formatNumber,
  formatTable,
  withinBudget,
} from '../../bench/lib/results';

const size = (value: number, budget: number | null): BenchResult => ({
  name: 'cold-start.x.size',
  value,
  unit: 'bytes',
  budget,
});

describe('withinBudget', () => {
  it.each([
    { value: 99, budget: 100, within: true },
    { value: 100, budget: 100, within: true },
    { value: 101, budget: 100, within: false },
  ])(
    'judges the value $value against a budget of $budget when there is no ratio',
    ({ value, budget, within }) => {
      expect(withinBudget(size(value, budget))).toBe(within);
    },
  );

  it('judges the ratio, not the value, when there is a baseline', () => {
    const slowMachine = compared({ name: 't', value: 900, unit: 'ms', budget: 1.2, baseline: 800 });
    const brokenOnFastMachine = compared({ name: 't', value: 13, unit: 'ms', budget: 1.2, baseline: 10 });
    expect(withinBudget(slowMachine)).toBe(true);
    expect(withinBudget(brokenOnFastMachine)).toBe(false);
  });

  it('never breaks a figure reported without a budget', () => {
    expect(withinBudget(size(Number.MAX_SAFE_INTEGER, null))).toBe(true);
  });
});

describe('brokenBudgets', () => {
  it('lists exactly the results over budget, in order', () => {
    const results = [
      size(1, 10),
      { ...size(20, 10), name: 'a' },
      size(5, null),
      { ...size(30, 10), name: 'b' },
    ];
    expect(brokenBudgets(results).map((r) => r.name)).toEqual(['a', 'b']);
  });
});

describe('compared', () => {
  it('adds the ratio of value to baseline', () => {
    expect(compared({ name: 'n', value: 3, unit: 'ms', budget: 2, baseline: 2 })).toEqual({
      name: 'n',
      value: 3,
      unit: 'ms',
      budget: 2,
      baseline: 2,
      ratio: 1.5,
    });
  });

  it('refuses a baseline of zero with the figure’s name', () => {
    expect(() => compared({ name: 'sweep.wall', value: 3, unit: 'ms', budget: 2, baseline: 0 })).toThrow(
      /sweep\.wall/,
    );
  });
});

describe('formatNumber', () => {
  it.each([
    { value: 1234567, text: '1,234,567' },
    { value: 123.456, text: '123' },
    { value: 12.345, text: '12.3' },
    { value: 1.2345, text: '1.23' },
    { value: 0.12345, text: '0.123' },
  ])('shows $value as $text', ({ value, text }) => {
    expect(formatNumber(value)).toBe(text);
  });
});

describe('formatTable', () => {
  it('aligns one row per result under a header and marks broken budgets', () => {
    const table = formatTable([
      compared({
        name: 'cold-start.evaluate-drift.size',
        value: 1100,
        unit: 'bytes',
        budget: 1.15,
        baseline: 1000,
      }),
      { name: 'sweep.put-evaluations', value: 101, unit: 'calls', budget: 100 },
      { name: 'engine.verdicts-per-second', value: 250000, unit: 'verdicts/s', budget: null },
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^benchmark\s+value\s+baseline\s+ratio\s+budget$/);
    expect(lines[2]).toMatch(
      /^cold-start\.evaluate-drift\.size\s+1,100 bytes\s+1,000 bytes\s+1\.10x\s+<= 1\.15x\s+ok$/,
    );
    expect(lines[3]).toMatch(/<= 100 calls\s+BROKEN$/);
    expect(lines[4]).toMatch(/250,000 verdicts\/s\s+-$/);
  });
});
