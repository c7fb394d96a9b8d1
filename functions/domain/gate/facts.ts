/**
 * What the gate decides from: plain facts a caller has read (from AWS, the state table, the
 * desired state), never a client. Every fact but the moment, the time and the fleet match is
 * optional: a fact the caller does not have is simply absent, and the rules that need it do
 * not apply. The evaluator, for example, never reads a group's member lifecycle or headroom
 * (the remediation's plan step does), and `phoenix plan` reads no instance claims.
 *
 * The shapes are structural on purpose: the state table's records (`Quarantine`,
 * `PauseState`, `InstanceClaim`) fit them as they are, and nothing under `functions/domain/`
 * imports an adapter.
 */
import type { FleetMatch } from '../drift/match';
import type { SourceCheck } from '../drift/source-check';
import type { Verdict } from '../model';
import type { RolloutStage } from '../rollout/stage';

/**
 * Who asks, which decides a few things only (documented on the rules that read it):
 *
 * - `detection`: the evaluator, about to start an execution for a drift it just judged;
 * - `recheck`: an execution, about to change anything, asking whether it is still wanted;
 * - `plan`: `phoenix plan`, asking what enforcement would do now (nothing is acted on).
 */
export type GateMoment = 'detection' | 'recheck' | 'plan';

/** The fleet's launch template resolved to a number, or why it could not be. */
export type TemplateFact =
  | { ok: true; facts: { id: string; name: string; version: number } }
  | { ok: false; why: string };

/**
 * What a fresh instance of the fleet would be built from, and whether it would itself be
 * drifted (the anti-loop check, `checkSource`):
 *
 * - `checked`: the check ran; `check.ok: false` is source drift;
 * - `launch-configuration`: the fleet's Auto Scaling group launches from a launch
 *   configuration, so a replacement would not be built from what Git declares;
 * - `unchecked`: the source could not be read (the group does not exist, the template it
 *   names cannot be resolved…), `why` says so.
 */
export type SourceFact =
  | { kind: 'checked'; check: SourceCheck }
  | { kind: 'launch-configuration'; group: string }
  | { kind: 'unchecked'; why: string };

/** A quarantined launch template version (the state table's `Quarantine` fits). */
export interface QuarantineFact {
  fleet: string;
  templateId: string;
  version: number;
  /** Why it was quarantined: the rollback's cause. */
  cause: string;
  /** The execution that failed with it. */
  execution: string;
  /** ISO-8601. */
  at: string;
}

/** The pause switch (the state table's `PauseState` fits). */
export interface PauseFact {
  paused: boolean;
  by?: string;
  at?: string;
}

/** Who holds the instance's claim: replacing it now, or having replaced it (`InstanceClaim` fits). */
export interface ClaimFact {
  instanceId: string;
  /** The holding execution's ARN. */
  holder: string;
  /** ISO-8601. */
  acquiredAt: string;
  /** Epoch seconds: the claim holds until then at the latest. */
  expiresAt: number;
  /** Set once the holder's replacement is in service: the instance is leaving. */
  replacedBy?: string;
  replacedAt?: string;
}

/** The hold an execution put on its drift when it asked for manual action (`DriftAttempt.held` fits). */
export interface AttemptHoldFact {
  /** ISO-8601: nothing is started for this drift before then. */
  until: string;
  why: string;
}

/** The instance the question is about. */
export interface InstanceFact {
  instanceId: string;
  /** EC2 state name; absent when the instance no longer exists. */
  state?: string;
  /** The drift engine's verdict on it now; absent when the caller did not judge it. */
  verdict?: Verdict;
  /**
   * Where it runs, for the checks that decide whether a fresh instance can take its place
   * (a standalone instance needs a subnet and a launch template to be rebuilt from).
   */
  placement?: { subnetId?: string; launchedFromTemplate: boolean; autoScalingGroup?: string };
}

/**
 * The execution asking (`recheck` only): what it was started for. A drift that changed, a
 * template that moved on or an instance now in another fleet is someone else's to replace.
 */
export interface ExecutionFact {
  /** Its ARN: the instance's claim held under it is its own. */
  holder: string;
  fleet: string;
  fingerprint: string;
  template: { id: string; version: number };
}

/** An Auto Scaling group as DescribeAutoScalingGroups shows it now (an Auto Scaling fleet's). */
export interface GroupFact {
  name: string;
  desired: number;
  min: number;
  max: number;
  /** Its members and their lifecycle states (`InService`, `Standby`, …). */
  members: readonly { id: string; lifecycle?: string }[];
  /**
   * Whether another execution is replacing in the fleet or the group now: its surge may be
   * what holds the group at MaxSize, and its end gives the headroom back. Absent: unknown.
   */
  othersInFlight?: boolean;
}

/**
 * The fleet's rollout gate as read now (functions/aws/rollout-view.ts): its declared alarms in
 * ALARM, and for a member of its rollout, the stage and whether what it waits for ends only by
 * a human or another fleet (halted, awaiting approval, waiting for promotion). Read only for a
 * fleet with rollout stages or alarms.
 */
export interface RolloutFact {
  fleet: string;
  /** Declared alarms in ALARM now. */
  firing: readonly string[];
  /** Set for a member whose rollout waits for a human or another fleet. */
  waiting?: { stage: RolloutStage; why: string };
}

/** Everything the gate may decide from. */
export interface GateFacts {
  moment: GateMoment;
  now: Date;
  /**
   * Which fleet governs the instance, as `findFleet` answers. A question about a whole fleet
   * (`phoenix plan`) is asked as `{ kind: 'member', fleet }` without an `instance`.
   */
  match: FleetMatch;
  instance?: InstanceFact;
  execution?: ExecutionFact;
  template?: TemplateFact;
  source?: SourceFact;
  claim?: ClaimFact;
  quarantine?: QuarantineFact;
  pause?: PauseFact;
  attemptHold?: AttemptHoldFact;
  group?: GroupFact;
  rollout?: RolloutFact;
}

/**
 * The facts a caller may read only when the gate asks for them ({@link decideLazily}): each
 * costs a read, and a blocker found earlier makes the later ones moot.
 */
export type LazyFactName = 'source' | 'claim' | 'quarantine' | 'pause' | 'attemptHold' | 'group' | 'rollout';
