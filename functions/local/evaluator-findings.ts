/**
 * What the evaluator said about each instance in one sweep, as the report's records: which
 * instances it judged drifted and why, which drifted ones it did not replace and why, which it
 * left alone because they are not running. The ONE place the local account learns this; the
 * reconciler and the report read {@link SweepFindings}, never the evaluator's log.
 *
 * Today the evaluator says it only in its structured log (the lines an operator reads in
 * CloudWatch: `Instance drifted`, `Drifted instance not replaced`, `Drifted instance is not
 * running…`, `Remediation started`), so {@link EvaluatorFindings} keeps that log and reads
 * those lines. When the evaluator's summary carries its typed per-instance decisions (issue
 * 12, item 2), {@link EvaluatorFindings.ofSweep} reads them from the summary instead: a change
 * in this module alone.
 */
import type { DriftReason } from '../domain/model';
import type { DetectionLogger, DetectionSummary } from '../evaluate-drift/core';
import type { HeldInstance, LeftDrifted } from './report';

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

interface LogEntry {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function fieldString(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
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
    const entries = this.#entries.slice(from);
    const drifted = new Map<string, { fleet: string; reasons: DriftReason[] }>();
    for (const entry of entries) {
      if (entry.message !== 'Instance drifted') continue;
      const instanceId = fieldString(entry.fields, 'instanceId');
      if (instanceId === undefined) continue;
      const reasons = Array.isArray(entry.fields.reasons) ? (entry.fields.reasons as DriftReason[]) : [];
      drifted.set(instanceId, { fleet: fieldString(entry.fields, 'fleet') ?? '', reasons });
    }
    const held: Array<Omit<HeldInstance, 'round'>> = [];
    const notRunning = new Map<string, string>();
    for (const entry of entries) {
      const instanceId = fieldString(entry.fields, 'instanceId') ?? '';
      if (entry.message === 'Drifted instance not replaced') {
        if (held.some((h) => h.instanceId === instanceId)) continue;
        held.push({
          instanceId,
          fleet: fieldString(entry.fields, 'fleet') ?? '',
          why: fieldString(entry.fields, 'why') ?? 'not replaced',
          reasons: drifted.get(instanceId)?.reasons ?? [],
        });
      } else if (entry.message.startsWith('Drifted instance is not running') && !notRunning.has(instanceId)) {
        notRunning.set(instanceId, fieldString(entry.fields, 'state') ?? 'not running');
      }
    }
    return {
      started:
        summary?.remediationsStarted ?? entries.filter((e) => e.message === 'Remediation started').length,
      drifted: [...drifted].map(([instanceId, { fleet, reasons }]) => ({ instanceId, fleet, reasons })),
      held,
      notRunning,
    };
  }

  #keep(level: string, message: string, extra: Record<string, unknown>[]): void {
    this.#entries.push({ level, message, fields: Object.assign({}, ...extra) });
  }
}
