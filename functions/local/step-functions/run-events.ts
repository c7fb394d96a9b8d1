/**
 * What a local run tells about itself: its event log, as Step Functions would write the
 * execution's history (one {@link RunEvent} per state entered, exited, retried, caught…), and
 * what a Task state did ({@link AfterStateEvent}).
 */

/** One entry of the event log. */
export interface RunEvent {
  type:
    | 'ExecutionStarted'
    | 'ExecutionSucceeded'
    | 'ExecutionFailed'
    | 'StateEntered'
    | 'StateExited'
    | 'StateFailed'
    | 'StateRetried'
    | 'StateCaught'
    | 'Other';
  /** The state, for state events. */
  state?: string;
  instanceId: string;
  /** Epoch milliseconds. */
  at: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** The error name, for failures, retries and catches. */
  error?: string;
  /** Retry attempt number, for `StateRetried`. */
  attempt?: number;
  /** Map iteration index, for states inside a Map. */
  index?: number;
}

/** One Task state as it ended (Tasks are the only states that change anything). */
export interface AfterStateEvent {
  state: string;
  resource: 'lambda' | `${string}:${string}`;
  /** The instance the execution replaces, and its fleet. */
  instanceId: string;
  fleet: string;
  input: unknown;
  output?: unknown;
  /** The error name as the state machine sees it, when the task failed. */
  error?: string;
}

/** An event of aws-local-stepfunctions' event log, as far as it is read here. */
export interface RawEvent {
  type: string;
  timestamp: number;
  state?: { name: string };
  index?: number;
  Error?: string;
  retry?: { attempt: number };
}

const KNOWN_TYPES: ReadonlySet<string> = new Set([
  'ExecutionStarted',
  'ExecutionSucceeded',
  'ExecutionFailed',
  'StateEntered',
  'StateExited',
  'StateFailed',
  'StateRetried',
  'StateCaught',
]);

/** The interpreter's event as a {@link RunEvent} of the execution replacing `instanceId`. */
export function toRunEvent(raw: RawEvent, instanceId: string, started: number): RunEvent {
  const event: RunEvent = {
    type: KNOWN_TYPES.has(raw.type) ? (raw.type as RunEvent['type']) : 'Other',
    instanceId,
    at: raw.timestamp,
    elapsedMs: raw.timestamp - started,
  };
  if (raw.state !== undefined) event.state = raw.state.name;
  if (raw.index !== undefined) event.index = raw.index;
  if (raw.Error !== undefined) event.error = raw.Error;
  if (raw.retry !== undefined) event.attempt = raw.retry.attempt;
  return event;
}
