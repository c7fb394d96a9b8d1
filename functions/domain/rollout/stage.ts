/**
 * A rollout: one source change of one fleet (its launch template version, and the image that
 * version launches) rolling through the fleet's drifted instances. This module decides, from
 * the rollout as recorded and the facts of the moment, which stage it is in, what made it
 * move, and how many more replacements it admits now. Pure: no clock, no AWS, no table.
 *
 * Stages, in order:
 *
 * - `waiting`: promotion (`after: F`): fleet F does not run this image yet, converged and
 *   baked, with its alarms OK. Nothing starts.
 * - `canary`: the first `canary` instances are replaced; nothing else starts.
 * - `baking`: the canary is healthy; wait `bakeMinutes` with every alarm OK.
 * - `awaiting-approval`: `approval: manual`, after the bake: wait for `phoenix rollout approve`.
 * - `rolling`: the rest, under the fleet's budget.
 * - `completed`: every member ended.
 * - `halted`: an alarm fired, more than `maxFailures` rollbacks, or an operator halted it.
 *   Nothing starts until `phoenix rollout resume` (or a new source supersedes it).
 *
 * An alarm in ALARM holds a rollout that has not begun (`waiting`) and halts one that has
 * (`canary`, `baking`, `awaiting-approval`, `rolling`). A declared alarm that does not exist
 * (`MISSING`) holds any of them where it is, without halting: nothing can be known about the
 * new source from it, and a typo must not turn the gate off
 * (docs/adr/0028-rollouts-in-the-state-table.md).
 */
import { concurrencyLimit } from '../budget';
import type { RolloutPolicy } from '../model';

export const ROLLOUT_STAGES = [
  'waiting',
  'canary',
  'baking',
  'awaiting-approval',
  'rolling',
  'completed',
  'halted',
] as const;
export type RolloutStage = (typeof ROLLOUT_STAGES)[number];

/** The stages in which replacements are in service from the new source: an alarm halts them. */
const LIVE_STAGES: ReadonlySet<RolloutStage> = new Set(['canary', 'baking', 'awaiting-approval', 'rolling']);

/** Why a rollout halted: what the team is told in `rollout.halted`. */
export type HaltCause =
  | { kind: 'alarm'; alarms: string[] }
  | { kind: 'failures'; failures: number; maxFailures: number }
  | { kind: 'operator'; by: string; reason?: string };

/** A rollout as the state table records it. */
export interface Rollout {
  fleet: string;
  source: { templateId: string; version: number; imageId?: string };
  stage: RolloutStage;
  /** ISO-8601. */
  startedAt: string;
  /** Drifted members that joined (their executions entered the queue). */
  members: number;
  /** Members admitted so far (each got a budget slot). */
  admitted: number;
  /** Admitted members whose replacement succeeded. */
  replaced: number;
  /** Admitted members that rolled back (counted against `maxFailures`). */
  rolledBack: number;
  /** Members that ended without replacing and without a rollback (skipped, gone, manual action). */
  ended: number;
  /** The canary's size, fixed when the rollout began. */
  canary: number;
  /** ISO-8601: when the bake ends (set on entering `baking`). */
  bakeUntil?: string;
  /** Who approved (`awaiting-approval` → `rolling`). */
  approvedBy?: string;
  /** Set while `halted`: why, and the stage it halted in (resume goes back there). */
  halt?: { cause: HaltCause; at: string; from: RolloutStage };
  /** Rollbacks before the last resume: a resume gives the rollout its failure budget back. */
  rolledBackBeforeResume?: number;
}

/** An alarm's state as CloudWatch reports it. */
export interface AlarmReading {
  name: string;
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | 'MISSING';
}

/** Whether the fleet this one is promoted from runs this image, converged and baked. */
export type Promotion = { ready: true } | { ready: false; why: string };

/** What is true now, besides the rollout itself. */
export interface RolloutFacts {
  now: Date;
  policy: RolloutPolicy;
  /** The fleet's declared alarms as read now (an alarm that does not exist reads `MISSING`). */
  alarms: readonly AlarmReading[];
  /** Only with `policy.after`. */
  promotion?: Promotion;
  /** An operator's `phoenix rollout approve` is on record. */
  approved?: { by: string };
}

/** What moving the rollout on did: its next record and what to tell the team. */
export interface RolloutStep {
  rollout: Rollout;
  /** The stage changed (the caller writes it with a condition on the stage it read). */
  changed: boolean;
  /** Set when the rollout halted now: `rollout.halted` carries it. */
  halted?: HaltCause;
  /** The rollout completed now: `rollout.completed`. */
  completed?: boolean;
  /** Why it waits, for `phoenix rollout list`, `plan` and `reconcile` (undefined while it admits). */
  waitsFor?: string;
  /**
   * Held where it is, whatever its stage admits: a declared alarm does not exist. The
   * admission grants {@link admitsNow} of the step, not {@link admits} of its rollout.
   */
  holds?: boolean;
}

/** The alarms of the fleet in ALARM now. */
export function alarmsFiring(alarms: readonly AlarmReading[]): string[] {
  return alarms.filter((a) => a.state === 'ALARM').map((a) => a.name);
}

/** The fleet's declared alarms CloudWatch does not know (in this account and region). */
export function alarmsMissing(alarms: readonly AlarmReading[]): string[] {
  return alarms.filter((a) => a.state === 'MISSING').map((a) => a.name);
}

/** One line for alarms that do not exist: what holds the fleet and how to end it. */
export function missingAlarmsText(missing: readonly string[]): string {
  const one = missing.length === 1;
  return `alarm${one ? '' : 's'} ${missing.join(', ')} ${one ? 'does' : 'do'} not exist in this account and region: held until ${one ? 'it exists' : 'they exist'} or the desired state stops naming ${one ? 'it' : 'them'}`;
}

/** The stage a new rollout begins in (before any member is admitted). */
export function firstStage(policy: RolloutPolicy, promotion: Promotion | undefined): RolloutStage {
  if (policy.after !== undefined && promotion?.ready !== true) return 'waiting';
  return policy.canary !== undefined ? 'canary' : 'rolling';
}

/** The canary's size for a fleet of `fleetSize` instances, never more than the members. */
export function canarySize(policy: RolloutPolicy, fleetSize: number, members: number): number {
  if (policy.canary === undefined) return 0;
  return Math.min(Math.max(members, 1), concurrencyLimit(policy.canary, fleetSize));
}

function inFlight(rollout: Rollout): number {
  return rollout.admitted - rollout.replaced - rollout.rolledBack - Math.min(rollout.ended, rollout.admitted);
}

/** Rollbacks counted against the failure budget: those since the last resume. */
export function failuresCounted(rollout: Rollout): number {
  return rollout.rolledBack - (rollout.rolledBackBeforeResume ?? 0);
}

function halt(rollout: Rollout, cause: HaltCause, now: Date): RolloutStep {
  return {
    rollout: { ...rollout, stage: 'halted', halt: { cause, at: now.toISOString(), from: rollout.stage } },
    changed: true,
    halted: cause,
    waitsFor: haltText(cause),
  };
}

/** One line for a halt: `phoenix rollout list`, the notification, the plan. */
export function haltText(cause: HaltCause): string {
  switch (cause.kind) {
    case 'alarm':
      return `halted: alarm ${cause.alarms.join(', ')} in ALARM`;
    case 'failures':
      return `halted: ${cause.failures} rollbacks, more than maxFailures ${cause.maxFailures}`;
    case 'operator':
      return `halted by ${cause.by}${cause.reason === undefined ? '' : `: ${cause.reason}`}`;
  }
}

const APPROVAL_TEXT = 'waiting for `phoenix rollout approve`';

function bakingText(until: number): string {
  return `baking the canary until ${new Date(until).toISOString()}`;
}

/**
 * Why a rollout waits as far as its record says, without reading alarms or the fleet it is
 * promoted from (`phoenix rollout list`): the halt's cause, the approval, the bake's end, the
 * promotion, the canary's progress; undefined for a rollout admitting under the budget, or
 * done. The same words as {@link advance}'s where both say it.
 */
export function recordedWait(rollout: Rollout, now: Date): string | undefined {
  switch (rollout.stage) {
    case 'halted':
      return haltText(rollout.halt?.cause ?? { kind: 'operator', by: 'unknown' });
    case 'awaiting-approval':
      return APPROVAL_TEXT;
    case 'baking': {
      const until = Date.parse(rollout.bakeUntil ?? '');
      return Number.isFinite(until) && now.getTime() < until
        ? bakingText(until)
        : 'the bake has ended: the rollout moves on at its next admission';
    }
    case 'waiting':
      return 'waiting for its promotion: the fleet it follows must run this image, converged and baked, with its alarms OK';
    case 'canary':
      return `the canary first: ${rollout.replaced} of ${rollout.canary} replaced, nothing else starts until it has baked`;
    default:
      return undefined;
  }
}

/**
 * Moves the rollout on as far as the facts allow, in one call (a canary replaced with a zero
 * bake and automatic approval goes straight to `rolling`). Halting wins over everything; an
 * alarm halts a live rollout and holds one that has not begun.
 */
export function advance(rollout: Rollout, facts: RolloutFacts): RolloutStep {
  const { policy, now } = facts;
  const firing = alarmsFiring(facts.alarms);
  const missing = alarmsMissing(facts.alarms);
  let current = rollout;
  let changed = false;
  const to = (stage: RolloutStage, extra: Partial<Rollout> = {}): void => {
    current = { ...current, ...extra, stage };
    changed = true;
  };
  for (let guard = 0; guard < ROLLOUT_STAGES.length + 1; guard += 1) {
    const stage = current.stage;
    if (stage === 'halted')
      return {
        rollout: current,
        changed,
        waitsFor: haltText(current.halt?.cause ?? { kind: 'operator', by: 'unknown' }),
      };
    if (stage === 'completed') return { rollout: current, changed };
    if (LIVE_STAGES.has(stage)) {
      if (firing.length > 0) return halt(current, { kind: 'alarm', alarms: firing }, now);
      const failures = failuresCounted(current);
      if (failures > policy.maxFailures)
        return halt(current, { kind: 'failures', failures, maxFailures: policy.maxFailures }, now);
      if (missing.length > 0)
        return { rollout: current, changed, waitsFor: missingAlarmsText(missing), holds: true };
    }
    const settled = current.replaced + current.rolledBack + current.ended;
    switch (stage) {
      case 'waiting': {
        if (facts.promotion !== undefined && !facts.promotion.ready)
          return { rollout: current, changed, waitsFor: facts.promotion.why };
        if (firing.length > 0)
          return {
            rollout: current,
            changed,
            waitsFor: `alarm ${firing.join(', ')} in ALARM: the rollout has not begun`,
          };
        if (missing.length > 0)
          return { rollout: current, changed, waitsFor: missingAlarmsText(missing), holds: true };
        to(policy.canary !== undefined && current.canary > 0 ? 'canary' : 'rolling');
        continue;
      }
      case 'canary': {
        // Done when the canary is replaced, or when no member is left to try (some ended
        // without a replacement: instance gone, skipped).
        const exhausted = current.admitted >= current.members && inFlight(current) <= 0;
        if (current.replaced < current.canary && !exhausted) {
          return { rollout: current, changed };
        }
        if (current.replaced === 0) {
          to('rolling');
          continue;
        }
        if (policy.bakeMinutes > 0) {
          to('baking', { bakeUntil: new Date(now.getTime() + policy.bakeMinutes * 60_000).toISOString() });
        } else {
          to(policy.approval === 'manual' ? 'awaiting-approval' : 'rolling');
        }
        continue;
      }
      case 'baking': {
        const until = Date.parse(current.bakeUntil ?? '');
        if (Number.isFinite(until) && now.getTime() < until) {
          return {
            rollout: current,
            changed,
            waitsFor: bakingText(until),
          };
        }
        to(policy.approval === 'manual' ? 'awaiting-approval' : 'rolling');
        continue;
      }
      case 'awaiting-approval': {
        if (facts.approved === undefined) {
          return { rollout: current, changed, waitsFor: APPROVAL_TEXT };
        }
        to('rolling', { approvedBy: facts.approved.by });
        continue;
      }
      case 'rolling': {
        if (settled >= current.members && inFlight(current) <= 0) {
          to('completed');
          return { rollout: current, changed, completed: true };
        }
        return { rollout: current, changed };
      }
    }
  }
  return { rollout: current, changed };
}

/**
 * How many more members the rollout admits now, besides what the fleet's budget allows: the
 * canary's remainder during `canary`, none while it waits, bakes, awaits approval or is
 * halted, every remaining member while rolling.
 */
export function admits(rollout: Rollout): number {
  switch (rollout.stage) {
    case 'canary':
      // Replaced and in flight count; a canary member that rolled back is replaced by another.
      return Math.max(0, rollout.canary - rollout.replaced - inFlight(rollout));
    case 'rolling':
      return Math.max(0, rollout.members - rollout.admitted);
    default:
      return 0;
  }
}

/** What the admission grants for this step: nothing while it {@link RolloutStep.holds}, else {@link admits}. */
export function admitsNow(step: RolloutStep): number {
  return step.holds === true ? 0 : admits(step.rollout);
}

/**
 * `phoenix rollout approve`: `awaiting-approval` → `rolling`, recording who approved. Any
 * other stage is left as it is (`changed: false`): an approval is for the bake just ended,
 * never one given in advance.
 */
export function approve(rollout: Rollout, by: string): RolloutStep {
  if (rollout.stage !== 'awaiting-approval') return { rollout, changed: false };
  return { rollout: { ...rollout, stage: 'rolling', approvedBy: by }, changed: true };
}

/** `phoenix rollout halt`: from any stage but completed. */
export function haltByOperator(
  rollout: Rollout,
  by: string,
  reason: string | undefined,
  now: Date,
): RolloutStep {
  if (rollout.stage === 'completed' || rollout.stage === 'halted') return { rollout, changed: false };
  return halt(
    rollout,
    reason === undefined ? { kind: 'operator', by } : { kind: 'operator', by, reason },
    now,
  );
}

/**
 * `phoenix rollout resume`: back to the stage it halted in (a bake starts over), its failure
 * budget given back. The caller lifts the version's quarantine with it.
 */
export function resume(rollout: Rollout, now: Date, policy: RolloutPolicy): RolloutStep {
  if (rollout.stage !== 'halted') return { rollout, changed: false };
  const from = rollout.halt?.from ?? 'rolling';
  const { halt: _halt, ...rest } = rollout;
  const next: Rollout = { ...rest, stage: from, rolledBackBeforeResume: rollout.rolledBack };
  if (from === 'baking') next.bakeUntil = new Date(now.getTime() + policy.bakeMinutes * 60_000).toISOString();
  return { rollout: next, changed: true };
}
