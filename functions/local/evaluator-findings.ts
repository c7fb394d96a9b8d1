/**
 * What the evaluator said about each instance in one sweep, as the report's records: which
 * instances it judged drifted and why, which drifted ones it did not replace and why, which it
 * left alone because they are not running. The ONE place the local account learns this; the
 * reconciler and the report read {@link SweepFindings}, never the evaluator's log.
 *
 * The seam is {@link sweepFindings}: it builds a sweep's findings from one
 * {@link InstanceResult} per instance, and from nothing else. Today the evaluator says what it
 * concluded only in its structured log (the lines an operator reads in CloudWatch: `Instance
 * drifted`, `Drifted instance not replaced`, `Drifted instance is not running…`, `Remediation
 * started`), so {@link EvaluatorFindings} keeps that log and {@link resultsOfLog} turns those
 * lines into the results, the only code here that reads log text. When the evaluator's
 * summary carries its typed per-instance decisions (issue 12, item 2), a decision maps onto a
 * result field by field (verdict `drifted` → `drift`; action `started`, `held` with its `why`,
 * `recorded` for an instance whose state is not `running`, anything else `none`), and
 * {@link EvaluatorFindings.ofSweep} hands those to {@link sweepFindings} instead: a change in
 * this module alone.
 */
import type { DriftReason } from '../domain/model';
import type { DetectionLogger, DetectionSummary } from '../evaluate-drift/core';
import type { HeldInstance, LeftDrifted } from './report';

/**
 * What the evaluator concluded about one instance in a sweep, as much as the report needs:
 * whether it judged it drifted, and what it did about it.
 */
export type InstanceResult = {
  instanceId: string;
  fleet: string;
  /** How it differs, when this sweep judged it drifted; null when it said nothing of drift. */
  drift: DriftReason[] | null;
} & (
  | /** A remediation was started for its drift. */ { action: 'started' }
  | /** Drifted, and not replaced: why (paused, quarantined, source drift, a manual-action hold…). */ {
      action: 'held';
      why: string;
    }
  | /** Drifted, and left alone because it is not running: its state. */ {
      action: 'not-running';
      state: string;
    }
  | /** Nothing the report tells apart (already started, observed, notified). */ { action: 'none' }
);

/** What one sweep said about each instance it judged. */
export interface SweepFindings {
  /** Remediations the sweep started (the summary's count; counted here if the sweep threw). */
  started: number;
  /** Every instance the sweep judged drifted, with why it differs (once each). */
  drifted: ReadonlyArray<Omit<LeftDrifted, 'why'>>;
  /**
   * Drifted instances the evaluator did not start a remediation for, and why (paused,
   * quarantined, source drift, held after a manual-action end…): once each, in the order it
   * decided.
   */
  held: ReadonlyArray<Omit<HeldInstance, 'round'>>;
  /** Drifted instances left alone because they are not running, with their state. */
  notRunning: ReadonlyMap<string, string>;
}

/** Where a sweep's statements begin (see {@link EvaluatorFindings.mark}). */
export type SweepMark = number & { readonly __sweepMark: unique symbol };

/** One line the evaluator wrote, with its structured fields merged. */
export interface LogEntry {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/**
 * The seam: a sweep's findings from one result per instance (in the order the evaluator
 * decided) and the sweep's summary, `undefined` if the sweep threw. Held instances keep that
 * order; they carry the reasons their drift was judged with.
 */
export function sweepFindings(
  results: readonly InstanceResult[],
  summary: DetectionSummary | undefined,
): SweepFindings {
  const drifted: Array<Omit<LeftDrifted, 'why'>> = [];
  const held: Array<Omit<HeldInstance, 'round'>> = [];
  const notRunning = new Map<string, string>();
  let started = 0;
  for (const result of results) {
    const { instanceId, fleet, drift } = result;
    if (drift !== null) drifted.push({ instanceId, fleet, reasons: drift });
    if (result.action === 'started') started += 1;
    else if (result.action === 'held')
      held.push({ instanceId, fleet, why: result.why, reasons: drift ?? [] });
    else if (result.action === 'not-running') notRunning.set(instanceId, result.state);
  }
  // The summary counts what was started even where a line may be missing; without one (the
  // sweep threw), what the results say was started.
  return { started: summary?.remediationsStarted ?? started, drifted, held, notRunning };
}

function fieldString(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * One result per instance from what the evaluator logged in a sweep: its drift from the last
 * `Instance drifted` line, its action from the first line saying what was done (`Remediation
 * started`, `Drifted instance not replaced`, `Drifted instance is not running…`). Results come
 * in the order of those action lines (held instances in the order the evaluator held them,
 * which with concurrent acting is not the order it judged them), then the drifted instances
 * with no action line.
 */
export function resultsOfLog(entries: readonly LogEntry[]): InstanceResult[] {
  const drift = new Map<string, { fleet: string; reasons: DriftReason[] }>();
  const acted = new Map<string, { fleet: string | undefined; action: ActionOfLine }>();
  for (const entry of entries) {
    const instanceId = fieldString(entry.fields, 'instanceId');
    if (instanceId === undefined) continue;
    const fleet = fieldString(entry.fields, 'fleet');
    if (entry.message === 'Instance drifted') {
      const reasons = Array.isArray(entry.fields.reasons) ? (entry.fields.reasons as DriftReason[]) : [];
      drift.set(instanceId, { fleet: fleet ?? '', reasons });
      continue;
    }
    const action = actionOfLine(entry);
    if (action !== undefined && !acted.has(instanceId)) acted.set(instanceId, { fleet, action });
  }
  const results: InstanceResult[] = [];
  for (const [instanceId, { fleet, action }] of acted) {
    const judged = drift.get(instanceId);
    results.push({
      instanceId,
      fleet: fleet ?? judged?.fleet ?? '',
      drift: judged?.reasons ?? null,
      ...action,
    });
  }
  for (const [instanceId, { fleet, reasons }] of drift) {
    if (!acted.has(instanceId)) results.push({ instanceId, fleet, drift: reasons, action: 'none' });
  }
  return results;
}

type ActionOfLine =
  | { action: 'started' }
  | { action: 'held'; why: string }
  | { action: 'not-running'; state: string };

function actionOfLine(entry: LogEntry): ActionOfLine | undefined {
  if (entry.message === 'Remediation started') return { action: 'started' };
  if (entry.message === 'Drifted instance not replaced')
    return { action: 'held', why: fieldString(entry.fields, 'why') ?? 'not replaced' };
  if (entry.message.startsWith('Drifted instance is not running'))
    return { action: 'not-running', state: fieldString(entry.fields, 'state') ?? 'not running' };
  return undefined;
}

/**
 * Listens to the evaluator (give {@link logger} to it as `DetectionDeps.logger`) and says,
 * sweep by sweep, what it found about each instance.
 */
export class EvaluatorFindings {
  readonly #entries: LogEntry[] = [];

  /** The evaluator's logger: keeps every line it writes. */
  readonly logger: DetectionLogger = {
    debug: (message, ...extra) => this.#keep('debug', message, extra),
    info: (message, ...extra) => this.#keep('info', message, extra),
    warn: (message, ...extra) => this.#keep('warn', message, extra),
    error: (message, ...extra) => this.#keep('error', message, extra),
  };

  /** Call just before a sweep: {@link ofSweep} reads what the evaluator said after this. */
  mark(): SweepMark {
    return this.#entries.length as SweepMark;
  }

  /** What the sweep begun at `from` said about each instance; `summary` is its return, if it returned. */
  ofSweep(from: SweepMark, summary: DetectionSummary | undefined): SweepFindings {
    return sweepFindings(resultsOfLog(this.#entries.slice(from)), summary);
  }

  #keep(level: string, message: string, extra: Record<string, unknown>[]): void {
    this.#entries.push({ level, message, fields: Object.assign({}, ...extra) });
  }
}
