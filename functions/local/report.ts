/**
 * What `phoenix reconcile` reports: the records of every execution, every drifted instance
 * not replaced and every one left drifted, and the whole report built from them. Its JSON is
 * the `--format json` output, documented in docs/cli/reconcile.md and versioned
 * (`schemaVersion`); its text is `render-report.ts`.
 */
import type { CompiledDesiredState, DriftReason } from '../domain/model';
import type { SentNotification } from './notifier';

/** Version of the JSON report; bumped only on a breaking change. */
export const RECONCILE_SCHEMA_VERSION = 1;

/** How one remediation ended; `error` when the local run itself broke. */
export type RemediationOutcome =
  | 'succeeded'
  | 'skipped'
  | 'blocked'
  | 'manual-action-required'
  | 'rolled-back'
  | 'failed'
  | 'error';

/** One execution of the state machine, as the report shows it. */
export interface RemediationRecord {
  instanceId: string;
  fleet: string;
  team: string;
  execution: string;
  /**
   * The execution's ARN: its identity in the state table (lease, group lock, claim on the
   * instance). Unique per execution even where names repeat (two runs at once).
   */
  executionArn: string;
  /** 0: started by an event handled before reconcile; n: started by the sweep of round n. */
  round: number;
  outcome: RemediationOutcome;
  /** Short and stable: `replaced`, `paused`, `in-sync`, `budget`, `rolled-back`, … */
  reason: string;
  detail: string;
  replacementId: string | null;
  error: string | null;
  cause: string | null;
  reasons: DriftReason[];
  trigger: string;
  principal: string | null;
  launchTemplate: { id: string; name: string; version: number };
  transitions: number;
  apiCalls: number;
  durationMs: number;
}

/** A drifted instance no execution was started for, and why. */
export interface HeldInstance {
  instanceId: string;
  fleet: string;
  round: number;
  why: string;
  reasons: DriftReason[];
}

/** What one round's sweep found and did. */
export interface RoundRecord {
  round: number;
  judged: number;
  inSync: number;
  drifted: number;
  notApplicable: number;
  started: number;
  alreadyStarted: number;
  held: number;
}

/** A drifted instance the final sweep still found. */
export interface LeftDrifted {
  instanceId: string;
  fleet: string;
  reasons: DriftReason[];
  /** Why it is still drifted: the last execution's end, the evaluator's reason, the fleet's mode. */
  why: string;
}

/** The whole report; `JSON.stringify` of this is the `--format json` output. */
export interface ReconcileReport {
  schemaVersion: typeof RECONCILE_SCHEMA_VERSION;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  desiredState: { file: string | null; revision: string; commit: string };
  target: {
    region: string;
    endpoint: string | null;
    table: string;
    topicArn: string | null;
    waits: 'zero' | 'real';
  };
  converged: boolean;
  /** `nothing-new`: the last sweep started nothing; `round-limit`: work was left after the last round. */
  stoppedBecause: 'nothing-new' | 'round-limit';
  rounds: RoundRecord[];
  summary: {
    fleets: number;
    instancesJudged: number;
    driftFound: number;
    replaced: number;
    skipped: number;
    blocked: number;
    rolledBack: number;
    failed: number;
    manualActionRequired: number;
    held: number;
    leftDrifted: number;
    notifications: number;
  };
  remediations: RemediationRecord[];
  held: HeldInstance[];
  leftDrifted: LeftDrifted[];
  notifications: Array<Omit<SentNotification, 'body'>>;
  errors: string[];
}

/** What a reconcile run gathered, from which its report is built. */
export interface ReportParts {
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  desiredState: CompiledDesiredState;
  file: string | undefined;
  target: ReconcileReport['target'];
  stoppedBecause: ReconcileReport['stoppedBecause'];
  rounds: readonly RoundRecord[];
  remediations: readonly RemediationRecord[];
  held: readonly HeldInstance[];
  leftDrifted: LeftDrifted[];
  notifications: readonly SentNotification[];
  errors: readonly string[];
}

/** The ends a person has to read: the instance is not replaced and will not be by itself. */
const UNRESOLVED: readonly RemediationOutcome[] = [
  'rolled-back',
  'failed',
  'manual-action-required',
  'error',
];

/** The report of a run: counts, whether it converged, and every record. */
export function buildReport(parts: ReportParts): ReconcileReport {
  const remediations = [...parts.remediations];
  const { leftDrifted, stoppedBecause } = parts;
  const count = (outcome: RemediationOutcome) => remediations.filter((r) => r.outcome === outcome).length;
  // Each instance by its last remediation: one blocked in a round and replaced in a later
  // one (its next attempt) is resolved. A blocked one changed nothing: if the last sweep no
  // longer finds it drifted (another run, the deployed stack or a person replaced or fixed
  // it), it is resolved too; if it does, it is left drifted. The other ends need reading.
  const last = new Map(remediations.map((r) => [r.instanceId, r]));
  const unresolved = [...last.values()].some((r) => UNRESOLVED.includes(r.outcome));
  const driftFound = new Set([
    ...remediations.map((r) => r.instanceId),
    ...parts.held.map((h) => h.instanceId),
    ...leftDrifted.map((l) => l.instanceId),
  ]).size;
  return {
    schemaVersion: RECONCILE_SCHEMA_VERSION,
    startedAt: parts.startedAt.toISOString(),
    finishedAt: parts.finishedAt.toISOString(),
    durationMs: parts.durationMs,
    desiredState: {
      file: parts.file ?? null,
      revision: parts.desiredState.revision,
      commit: parts.desiredState.provenance.commit,
    },
    target: parts.target,
    converged:
      parts.errors.length === 0 &&
      stoppedBecause === 'nothing-new' &&
      leftDrifted.length === 0 &&
      !unresolved,
    stoppedBecause,
    rounds: [...parts.rounds],
    summary: {
      fleets: parts.desiredState.fleets.length,
      instancesJudged: parts.rounds.at(-1)?.judged ?? 0,
      driftFound,
      replaced: count('succeeded'),
      skipped: count('skipped'),
      blocked: count('blocked'),
      rolledBack: count('rolled-back'),
      failed: count('failed') + count('error'),
      manualActionRequired: count('manual-action-required'),
      held: parts.held.length,
      leftDrifted: leftDrifted.length,
      notifications: parts.notifications.length,
    },
    remediations,
    held: [...parts.held],
    leftDrifted,
    notifications: parts.notifications.map(({ body: _body, ...rest }) => rest),
    errors: [...parts.errors],
  };
}
