/**
 * Why an instance may not be replaced now: a stable code and the facts its sentence needs.
 * The gate's rules (`rules.ts`) find them; `messages.ts` renders them; the evaluator's
 * decisions, the remediation's skip reasons and `phoenix plan`'s `blockedBy` are mapped from
 * the codes, which therefore never change meaning.
 */
import type { DriftReason } from '../model';
import type { RolloutStage } from '../rollout/stage';
import type { AttemptHoldFact, ClaimFact, PauseFact, QuarantineFact } from './facts';

export type Blocker =
  /** The instance no longer exists, or is shutting down: nothing to replace. */
  | { code: 'instance-gone'; instanceId: string; state?: string }
  /** No declared fleet selects it (or several do): Phoenix never acts on it. */
  | { code: 'outside'; why: string }
  /** Its fleet selects it, but it carries one of the fleet's exclusion tags. */
  | { code: 'excluded'; why: string }
  /** It belongs to another fleet now than the one the execution was started for. */
  | { code: 'moved-fleet'; instanceId: string; fleet: string; expected: string }
  /** The fleet only records compliance. */
  | { code: 'mode-observe'; fleet: string }
  /** Acting needs a running instance: a pending one is judged again once it runs. */
  | { code: 'not-running'; instanceId: string; state: string }
  /** The fleet notifies its team but never replaces. */
  | { code: 'mode-notify'; fleet: string }
  /** The fleet's template resolves to another version than the execution was pinned to. */
  | {
      code: 'template-changed';
      fleet: string;
      current: { id: string; version: number };
      pinned: { id: string; version: number };
    }
  /** The fleet's launch template (or its version) cannot be resolved. */
  | { code: 'template-unresolved'; why: string }
  /** The instance is no longer drifted. */
  | { code: 'in-sync'; instanceId: string }
  /** The drift engine cannot judge it any more (its verdict says why). */
  | { code: 'not-applicable'; why: string }
  /** It is drifted differently now than the execution was started for. */
  | { code: 'drift-changed'; instanceId: string; expected: string; actual: string }
  /** Another execution replaced it already: it is leaving. */
  | { code: 'already-replaced'; claim: ClaimFact }
  /** Another execution is replacing it now: one replacement per instance. */
  | { code: 'in-flight-elsewhere'; claim: ClaimFact }
  /** The fleet's group launches from a launch configuration, not from what Git declares. */
  | { code: 'launch-configuration'; group: string }
  /** The source could not be checked (no such group, its template cannot be resolved…). */
  | { code: 'source-unchecked'; why: string }
  /** A fresh instance from the source would itself be drifted: replacing would loop. */
  | {
      code: 'source-drift';
      template: { id: string; name: string; version: number };
      reasons: DriftReason[];
    }
  /** The fleet's launch template version failed a replacement before. `templateName` when known. */
  | { code: 'quarantined'; quarantine: QuarantineFact; templateName?: string }
  /** An operator paused remediation. */
  | { code: 'paused'; pause: PauseFact }
  /** The drift's last execution asked a human to act, and its hold still runs. */
  | { code: 'manual-hold'; hold: AttemptHoldFact }
  /**
   * The member is not InService in its group (`lifecycle` says what it is instead), or no
   * longer in it at all (`lifecycle` absent): someone else is managing it.
   */
  | { code: 'not-in-service'; instanceId: string; group: string; lifecycle?: string }
  /** A standalone instance without a subnet: its replacement has nowhere to go. */
  | { code: 'no-subnet'; instanceId: string }
  /** A standalone instance not launched from a launch template: nothing to rebuild it from. */
  | { code: 'no-launch-template'; instanceId: string }
  /** The group is at MinSize = MaxSize = desired: no room to launch first, no safe way back. */
  | { code: 'pinned'; group: string; desired: number; min: number; max: number }
  /** The group is at MaxSize and the fleet's `minHealthyPercent` forbids the dip. */
  | {
      code: 'no-headroom';
      group: string;
      desired: number;
      max: number;
      /** The fewest healthy instances `minHealthyPercent` allows out of `desired`. */
      floor: number;
      minHealthyPercent: number;
    }
  /** A declared alarm of the fleet is in ALARM: no replacement of the fleet starts (issue 15). */
  | { code: 'alarm-firing'; fleet: string; alarms: string[] }
  /**
   * The instance is a member of its fleet's rollout, which waits for what only a human or
   * another fleet ends: halted, awaiting approval, waiting for its promotion (`why` says so).
   */
  | { code: 'rollout-waiting'; fleet: string; stage: RolloutStage; why: string }
  /** Outside the fleet's maintenance window: the replacement waits until it opens (`opensAt`, ISO). */
  | { code: 'window-closed'; fleet: string; timezone: string; opensAt: string };

export type BlockerCode = Blocker['code'];
