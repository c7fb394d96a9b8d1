/**
 * What the evaluator said about each instance in one sweep, as the report's records: which
 * instances it judged drifted and why, which drifted ones it did not replace and why, which it
 * left alone because they are not running. The ONE place the local account learns this; the
 * reconciler and the report read {@link SweepFindings}, never the evaluator's log.
 *
 * The seam is {@link sweepFindings}: it builds a sweep's findings from one
 * {@link InstanceResult} per instance, and from nothing else. The results are the evaluator's
 * typed per-instance decisions (`summary.decisions`, `evaluate-drift/decisions.ts`), mapped
 * field by field ({@link resultsOfDecisions}); a sweep that throws
 * (`DetectionIncompleteError`) carries its summary, decisions included, so what it did decide
 * still reaches the report ({@link settleSweep}). Nothing here reads log text.
 */
import type { DriftReason } from '../domain/model';
import type { DetectionSummary } from '../evaluate-drift/core';
import { DetectionIncompleteError } from '../evaluate-drift/core';
import type { InstanceDecision } from '../evaluate-drift/decisions';
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
  // The summary counts what was started; without one (the sweep threw before it had one),
  // what the results say was started.
  return { started: summary?.remediationsStarted ?? started, drifted, held, notRunning };
}

/**
 * One result per instance from the evaluator's decisions, in their order (the order the
 * evaluator last decided on each instance: held instances in the order it held them, which
 * with concurrent acting is not the order it judged them). A `drifted` verdict gives the drift;
 * `started`, and `held` with its sentence, are what they say; `recorded` because the instance
 * is not running (the gate's `not-running`, or `instance-gone` for one shutting down) gives its
 * state; anything else (observed, notified, already started, failed, nothing to do) is `none`.
 */
export function resultsOfDecisions(decisions: readonly InstanceDecision[]): InstanceResult[] {
  return decisions.map((decision): InstanceResult => {
    const base = {
      instanceId: decision.instanceId,
      fleet: decision.fleet ?? '',
      drift: decision.verdict === 'drifted' ? decision.reasons : null,
    };
    switch (decision.action) {
      case 'started':
        return { ...base, action: 'started' };
      case 'held':
        return { ...base, action: 'held', why: decision.why };
      case 'recorded': {
        const code = decision.gate?.blocker.code;
        if ((code === 'not-running' || code === 'instance-gone') && decision.state !== null)
          return { ...base, action: 'not-running', state: decision.state };
        return { ...base, action: 'none' };
      }
      default:
        return { ...base, action: 'none' };
    }
  });
}

/** A sweep's end: its summary (also when it threw {@link DetectionIncompleteError}), and what it threw. */
export interface SettledSweep {
  /** Absent only when the sweep threw before it had one (a malformed event, a bug). */
  summary?: DetectionSummary;
  /** What it threw, if it did. */
  threw?: { error: unknown };
  /** What the sweep said about each instance, from the summary's decisions. */
  findings: SweepFindings;
}

/**
 * Runs a sweep and settles it: a partial failure (one fleet unreadable, one instance's act
 * failed) throws {@link DetectionIncompleteError} with the summary of everything else, whose
 * decisions are this sweep's findings as much as a returned summary's.
 */
export async function settleSweep(sweep: () => Promise<DetectionSummary>): Promise<SettledSweep> {
  let summary: DetectionSummary | undefined;
  let failure: { error: unknown } | undefined;
  try {
    summary = await sweep();
  } catch (error) {
    failure = { error };
    if (error instanceof DetectionIncompleteError) summary = error.summary;
  }
  const findings = sweepFindings(resultsOfDecisions(summary?.decisions ?? []), summary);
  const settled: SettledSweep = { findings };
  if (summary !== undefined) settled.summary = summary;
  if (failure !== undefined) settled.threw = failure;
  return settled;
}
