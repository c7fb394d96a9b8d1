/**
 * How a remediation's end is told: its outcome, its short reason and its sentence for a human,
 * and whether the drift may be remediated again under a new execution name
 * ({@link endsRetryably}). Pure: reads the state, calls nothing.
 */
import type { NotificationEvent } from '../../domain/notification';
import type { MachineData, Outcome, SkipReason } from '../input';
import { causeText, reasonsSummary } from './deps';

/**
 * Skips after which the same drift may come back and must then be remediated: Phoenix's own
 * state at that moment (an operator paused it, switched the fleet out of enforce, excluded
 * the instance, moved it out of the fleet, quarantined the version), a source a human must
 * fix first (source drift), or a drift that ended on its own and can recur identically (a
 * tag fixed by hand and broken the same way again, a drift that changed and changed back, a
 * default template version rolled forward and back to the pinned one). Moving the attempt
 * never starts anything by itself: the evaluator checks the pause switch, the quarantine and
 * the source before it starts an execution. Only a vanished instance keeps its name: an
 * instance id never comes back (docs/adr/0010-execution-attempts.md).
 */
const RETRYABLE_SKIPS: ReadonlySet<string> = new Set<SkipReason>([
  'paused',
  'not-enforcing',
  'excluded',
  'not-in-fleet',
  'in-sync',
  'drift-changed',
  'template-changed',
  'quarantined',
  'source-drift',
  'in-flight-elsewhere',
  'held',
]);

/**
 * The error a failure names when the rollback failed too. No step throws it: the definition's
 * Catch on the rollback records the rollback's own error beside the first, and the end tells
 * both under this name (a team's filter on the notification's error reads it).
 */
export const ROLLBACK_FAILED = 'RollbackFailedError';

/**
 * Whether a remediation that ends with `event` lets the next detection of its drift start a
 * new execution. Step Functions refuses an ended execution's name for 90 days, so an end
 * that may be retried moves the drift to its next attempt (a new name); any other end keeps
 * refusing it. Retried: skips that say nothing about the drift, "blocked" (budget or a busy
 * group, nothing changed), failures before anything changed, and a rollback for a cause that
 * passes by itself (EC2 had no capacity). Never: a success, any other rollback (the version is
 * quarantined, or the cause must be understood first: Phoenix never replaces in a loop), a
 * failed rollback.
 */
export function endsRetryably(data: MachineData, event: NotificationEvent): boolean {
  switch (event) {
    case 'remediation.blocked':
    case 'manual-action-required':
      return true;
    case 'remediation.skipped':
      return RETRYABLE_SKIPS.has(skipOf(data).reason);
    case 'remediation.rolled-back':
      return data.rollback?.retryable === true;
    case 'remediation.failed':
      return (
        data.rollbackError === undefined &&
        data.rollback === undefined &&
        data.surge === undefined &&
        data.replacement === undefined
      );
    default:
      return false;
  }
}

/** A skip decided at the lease, by the error that ended it: another execution holds the instance's claim. */
const LEASE_SKIPS: Readonly<Record<string, SkipReason>> = {
  ReplacingElsewhereError: 'in-flight-elsewhere',
  AlreadyReplacedError: 'already-replaced',
  // The rollout or the fleet's alarms hold it: the next detection starts it again.
  RolloutHeldError: 'held',
  RolloutWaitError: 'held',
  AlarmsUnavailableError: 'held',
  AlarmsUnreadableError: 'held',
};

/**
 * Why a remediation was skipped: the recheck's reason, or the lease's when another execution
 * turned out to hold the instance's claim. Neither of those is worth a notification: the
 * other execution reports the replacement.
 */
function skipOf(data: MachineData): { reason: string; detail: string; notify: boolean } {
  if (data.error?.Error === 'NoLongerWantedError') return noLongerWanted(data.error.Cause ?? '');
  const atLease = LEASE_SKIPS[data.error?.Error ?? ''];
  if (atLease !== undefined) return { reason: atLease, detail: causeText(data.error), notify: false };
  return {
    reason: data.recheck?.reason ?? 'unknown',
    detail: data.recheck?.detail ?? 'no reason recorded',
    notify: data.recheck?.notify ?? true,
  };
}

/** The recheck a waiter's granter made, as its task failure carried it (granter.ts). */
function noLongerWanted(cause: string): { reason: string; detail: string; notify: boolean } {
  let parsed: { errorMessage?: unknown; reason?: unknown; notify?: unknown } = {};
  try {
    parsed = JSON.parse(cause) as typeof parsed;
  } catch {
    // A cause that is not the queue's JSON: said as it is.
  }
  return {
    reason: typeof parsed.reason === 'string' ? parsed.reason : 'drift-changed',
    detail: typeof parsed.errorMessage === 'string' ? parsed.errorMessage : cause,
    notify: parsed.notify === true,
  };
}

/** The short reason of a "blocked" end, by the error that ended it (a denied lease otherwise). */
const BLOCKED_REASONS: Readonly<Record<string, string>> = {
  GroupBusyError: 'group-busy',
  GateClosedError: 'paused-or-quarantined',
};

/** The outcome each notify state reports; the ends make it the execution's output. */
export const OUTCOME_OF: Readonly<Record<NotificationEvent, Outcome | 'in-progress'>> = {
  'drift.detected': 'in-progress',
  'remediation.started': 'in-progress',
  'remediation.succeeded': 'succeeded',
  'remediation.failed': 'failed',
  'remediation.rolled-back': 'rolled-back',
  'remediation.blocked': 'blocked',
  'remediation.skipped': 'skipped',
  'manual-action-required': 'manual-action-required',
  'rollout.started': 'in-progress',
  'rollout.halted': 'in-progress',
  'rollout.completed': 'in-progress',
};

/** What {@link describeOutcome} says of an end: its reason, its sentence, and whether it is published. */
export interface OutcomeWording {
  reason: string;
  detail: string;
  publish: boolean;
  error?: string;
  cause?: string;
}

/** The reason, the sentence and, for a failure, the error and cause of the state `data` reported as `event`. */
export function describeOutcome(data: MachineData, event: NotificationEvent): OutcomeWording {
  switch (event) {
    case 'remediation.started':
      return {
        reason: 'started',
        detail:
          `Replacing ${data.instanceId} of fleet ${data.fleet} (${reasonsSummary(data)}): ${data.plan?.detail ?? ''}`.trim(),
        publish: true,
      };
    case 'remediation.succeeded': {
      const replacement = data.health?.replacementId ?? data.replacement?.instanceId ?? 'its replacement';
      const from = `Replaced ${data.instanceId} with ${replacement} from launch template ${data.launchTemplate.id} version ${data.launchTemplate.version}`;
      const old =
        data.retired?.detail ??
        (data.plan?.asg !== undefined
          ? `the old instance went back to Auto Scaling group ${data.plan.asg.name}, which drains and terminates it.`
          : 'the old instance was drained and terminated.');
      return { reason: 'replaced', detail: `${from}; ${old}`, publish: true };
    }
    case 'remediation.skipped': {
      const skip = skipOf(data);
      return {
        reason: skip.reason,
        detail: `Not replacing ${data.instanceId}: ${skip.detail}.`,
        publish: skip.notify,
      };
    }
    case 'remediation.blocked':
      return {
        reason: BLOCKED_REASONS[data.error?.Error ?? ''] ?? 'budget',
        detail:
          data.error?.Error === 'GateClosedError'
            ? `Not replacing ${data.instanceId} after all: ${causeText(data.error)}. Nothing was changed; the next detection of this drift tries again once that is lifted.`
            : `Could not start replacing ${data.instanceId} within the retry bound: ${causeText(data.error)}. The next detection of this drift tries again.`,
        publish: true,
      };
    case 'manual-action-required':
      return {
        reason: 'manual-action-required',
        detail: `${data.instanceId} is drifted (${reasonsSummary(data)}) but Phoenix cannot replace it: ${data.plan?.detail ?? 'no plan'}.`,
        publish: true,
      };
    case 'remediation.rolled-back': {
      const error = data.rollback?.error ?? data.error?.Error ?? 'Unknown';
      const cause = data.rollback?.cause ?? causeText(data.error);
      return {
        reason: 'rolled-back',
        detail: `Replacing ${data.instanceId} failed and was rolled back. ${cause}`,
        publish: true,
        error,
        cause,
      };
    }
    case 'remediation.failed': {
      const rollbackFailed = data.rollbackError !== undefined;
      const error = rollbackFailed ? ROLLBACK_FAILED : (data.error?.Error ?? 'Unknown');
      const cause = rollbackFailed
        ? `${data.error?.Error ?? 'Unknown'}: ${causeText(data.error)} — and the rollback failed (${data.rollbackError?.Error}: ${causeText(data.rollbackError)}); the lease is kept until it expires: check the fleet by hand`
        : `${error}: ${causeText(data.error)}`;
      return {
        reason: rollbackFailed ? 'rollback-failed' : 'failed',
        detail: `Replacing ${data.instanceId} failed. ${cause}`,
        publish: true,
        error,
        cause,
      };
    }
    case 'drift.detected':
      return {
        reason: 'drifted',
        detail: `${data.instanceId} is drifted: ${reasonsSummary(data)}.`,
        publish: true,
      };
    case 'rollout.started':
    case 'rollout.halted':
    case 'rollout.completed':
      // Sent by the admission and the accounting (functions/remediation/steps/rollout-*.ts),
      // never by a notify state.
      return { reason: event, detail: `${event} of fleet ${data.fleet}`, publish: false };
  }
}
