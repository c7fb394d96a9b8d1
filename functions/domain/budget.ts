/**
 * Budgets in the form users write them: `maxConcurrent: 3` or `maxConcurrent: "10%"` (of the
 * fleet's current size, rounded down, at least 1). Pure; every caller resolves the share the
 * same way, at the moment it applies it.
 */
import type { Concurrency } from './model';

/**
 * The number of instances a count or a share allows for a fleet of `fleetSize` instances:
 * a count as it is; a percentage rounded down, never below 1 (a fleet of 5 at 10% still
 * replaces one at a time rather than none).
 */
export function concurrencyLimit(concurrency: Concurrency, fleetSize: number): number {
  if ('count' in concurrency) return concurrency.count;
  const size = Math.max(0, Math.floor(fleetSize));
  return Math.max(1, Math.floor((size * concurrency.percent) / 100 + 1e-9));
}

/** `3` or `10%`, as a person wrote it (messages, the plan). */
export function concurrencyText(concurrency: Concurrency): string {
  return 'count' in concurrency ? String(concurrency.count) : `${concurrency.percent}%`;
}
