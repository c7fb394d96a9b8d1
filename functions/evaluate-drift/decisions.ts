/**
 * The evaluator's per-instance decisions: for every instance an event concerned, what it was
 * judged and what the evaluator did about it. `handleEvent` returns them in its summary, so
 * a caller that runs the evaluator in-process (`phoenix reconcile`, the demo, tests) reads
 * typed records instead of log lines; the logs stay as they are, for operators.
 *
 * Plain data (JSON-serialisable), like the rest of the domain's answers.
 */
import type { GateDecision, GateRefusal } from '../domain/gate/decide';
import type { DriftReason } from '../domain/model';

/** An execution of the remediation state machine. */
export interface ExecutionRef {
  name: string;
  arn: string;
}

/** What the instance is, as judged (or found gone). */
export interface JudgedInstance {
  instanceId: string;
  /** The fleet that governs it, or excludes it; null when it is outside every fleet or gone. */
  fleet: string | null;
  /** Its EC2 state when judged; null when it no longer exists. */
  state: string | null;
  /**
   * The judgement: the drift engine's verdict for a fleet member (`in-sync`, `drifted`,
   * `not-applicable`), else `excluded` or `outside` (findFleet's answer), or `gone` when the
   * event named an instance that no longer exists.
   */
  verdict: 'in-sync' | 'drifted' | 'not-applicable' | 'excluded' | 'outside' | 'gone';
  /** For `drifted`: the drift's fingerprint (its execution is named after it); else null. */
  fingerprint: string | null;
  /** For `drifted`: what differs; else empty. */
  reasons: DriftReason[];
}

/** What the evaluator did about one instance. */
export type InstanceAction =
  /**
   * Nothing to act on: in sync, not applicable, excluded, outside, gone, or no longer drifted
   * when described again before acting. `why` says which (null for in sync).
   */
  | { action: 'none'; why: string | null }
  /**
   * Drifted, and recorded only: the fleet observes, or the instance is not running (it is
   * judged again once it runs). `gate` is the gate's refusal; absent only when the invocation
   * failed before the evaluator could ask it (the invocation's error says why).
   */
  | { action: 'recorded'; why: string; gate?: GateRefusal }
  /** Drifted in a notify-mode fleet: the team was told (`published` false: told before, de-duplicated). */
  | { action: 'notified'; why: string; gate: GateRefusal; published: boolean }
  /**
   * Drifted in an enforce-mode fleet, and the gate refused to start a replacement: `gate`
   * says which blocker (paused, quarantined, source drift, a drift held for manual action…),
   * `why` is the sentence the evaluator logged and told the team.
   */
  | { action: 'held'; why: string; gate: GateRefusal }
  /** A remediation was started for the drift. */
  | { action: 'started'; execution: ExecutionRef; gate: GateDecision }
  /** The drift's execution exists already (a duplicate or replayed event): nothing new was started. */
  | { action: 'already-started'; execution: ExecutionRef; gate: GateDecision }
  /** Acting failed (`error`); the invocation fails at the end so Lambda retries it. */
  | { action: 'failed'; error: string };

/**
 * One record per instance an event concerned: what it is, and what the evaluator did. An
 * instance judged twice in one invocation (a Config item recorded, then described again
 * before acting) has one record: its last.
 */
export type InstanceDecision = JudgedInstance & InstanceAction;

/** Every action, for specs that check each path yields one. */
export const INSTANCE_ACTIONS = [
  'none',
  'recorded',
  'notified',
  'held',
  'started',
  'already-started',
  'failed',
] as const satisfies readonly InstanceAction['action'][];
