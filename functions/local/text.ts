/** Small text helpers shared by the report and the progress lines. */
import type { DriftReason } from '../domain/model';
import { describeReasons } from '../evaluate-drift/evaluations';

/** Milliseconds as seconds with one decimal: `1.8s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** `1 instance`, `2 instances`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Why an instance differs, in the evaluator's own words. */
export function reasonsText(reasons: readonly DriftReason[]): string {
  return reasons.length === 0 ? '(no reasons recorded)' : describeReasons(reasons);
}
