/**
 * Benchmark results: the shape written to `bench/results.json`, the budget check and the
 * table `npm run bench` prints.
 *
 * A budget is an upper bound. It applies to `ratio` when the result has one (figures that
 * depend on this machine's speed are only ever judged against a baseline measured in the
 * same run) and to `value` otherwise (counts, sizes that do not depend on speed). A result
 * with `budget: null` is reported, not judged.
 */

export interface BenchResult {
  /** `benchmark.subject.figure`, e.g. `cold-start.evaluate-drift.init-time`. */
  name: string;
  value: number;
  unit: string;
  /** Upper bound on `ratio` if present, else on `value`; `null` when the figure has no budget. */
  budget: number | null;
  /** The same figure for the baseline, in `unit`. */
  baseline?: number;
  /** `value / baseline`. */
  ratio?: number;
}

/** The figure a budget is judged on. */
export function judgedFigure(result: BenchResult): number {
  return result.ratio ?? result.value;
}

/** Whether the result keeps its budget (a result without one always does). */
export function withinBudget(result: BenchResult): boolean {
  if (result.budget === null) return true;
  return judgedFigure(result) <= result.budget;
}

/** The results that break their budget, in order. */
export function brokenBudgets(results: readonly BenchResult[]): BenchResult[] {
  return results.filter((r) => !withinBudget(r));
}

/** A result built from a value and its baseline, with the ratio computed. */
export function compared(
  fields: Omit<BenchResult, 'ratio' | 'baseline'> & { baseline: number },
): BenchResult {
  if (!(fields.baseline > 0)) {
    throw new RangeError(`${fields.name}: the baseline must be positive, got ${fields.baseline}`);
  }
  return { ...fields, ratio: fields.value / fields.baseline };
}

/** A number as people read it: integers grouped, others with at most three significant decimals. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits });
}

function withUnit(value: number, unit: string): string {
  return unit === '' ? formatNumber(value) : `${formatNumber(value)} ${unit}`;
}

function budgetText(result: BenchResult): string {
  if (result.budget === null) return '-';
  return result.ratio === undefined
    ? `<= ${withUnit(result.budget, result.unit)}`
    : `<= ${formatNumber(result.budget)}x`;
}

function statusText(result: BenchResult): string {
  if (result.budget === null) return '';
  return withinBudget(result) ? 'ok' : 'BROKEN';
}

const HEADERS = ['benchmark', 'value', 'baseline', 'ratio', 'budget', ''] as const;

/** The results as an aligned plain-text table (no colour: it is also pasted into docs). */
export function formatTable(results: readonly BenchResult[]): string {
  const rows = results.map((r) => [
    r.name,
    withUnit(r.value, r.unit),
    r.baseline === undefined ? '' : withUnit(r.baseline, r.unit),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
    budgetText(r),
    statusText(r),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(HEADERS), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
