/**
 * What `phoenix plan` reports: the plan's shape (its JSON output, documented in
 * docs/cli/plan.md and versioned by `schemaVersion`) and what building it needs.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { RolloutStore } from '../../aws/rollout-store';
import type { QuarantineFact } from '../../domain/gate/facts';
import type { PlanBlockerCode } from '../../domain/gate/messages';
import type { CompiledFleet, DriftReason } from '../../domain/model';
import type { RolloutStage } from '../../domain/rollout/stage';

/** Version of the JSON output; bumped only on a breaking change. */
export const PLAN_SCHEMA_VERSION = 1;

/** One instance a fleet selects, as the plan shows it. */
export interface PlannedInstance {
  instanceId: string;
  state: string;
  verdict: 'in-sync' | 'drifted' | 'excluded' | 'not-applicable' | 'outside';
  fingerprint: string | null;
  reasons: DriftReason[];
  /** Why the verdict is excluded / not-applicable / outside; null otherwise. */
  why: string | null;
  /**
   * For a drifted running member enforcement cannot replace, why not (null otherwise): it is
   * not InService in its group, it has no launch template or subnet to rebuild it from, or
   * its group leaves no headroom under the fleet's budget.
   */
  notReplaceable: NotReplaceable | null;
  /**
   * Other fleets whose selector matches the instance too, each with why it does not govern
   * it. The instance is listed once, under the fleet that governs it (the one `findFleet`
   * picks, as the evaluator and the remediation do), or for an ambiguous match under the
   * first fleet that selects it.
   */
  alsoSelectedBy: { fleet: string; why: string }[];
}

/** Why a drifted instance cannot be replaced, and what would let it be. */
export interface NotReplaceable {
  code: 'not-in-service' | 'no-launch-template' | 'no-subnet' | 'no-headroom' | 'pinned';
  why: string;
}

/**
 * What holds a fleet's rollout (issue 15): a declared alarm in ALARM (`alarm-firing`), or a
 * rollout that waits — halted, awaiting approval, waiting for its promotion, baking, held by a
 * declared alarm that does not exist (`rollout-waiting`). The gate's blocker codes of the same
 * names map onto these.
 */
export type RolloutBlockerCode = 'alarm-firing' | 'rollout-waiting';

/** What blocks replacements in a whole fleet (docs/cli/plan.md lists each). */
export type Blocker = PlanBlockerCode | RolloutBlockerCode;

/** A fleet's rollout of its current source, as read now (`functions/aws/rollout-view.ts`). */
export interface FleetRollout {
  /**
   * The stage recorded for the fleet's current source; `none` when no rollout of it has begun
   * (the next replacement begins one), `unknown` when the state table was not read (no
   * `--table`) or the source is not known (the template is unresolved).
   */
  stage: RolloutStage | 'none' | 'unknown';
  /** The fleet's current source: the rollout a drifted member belongs to; null when unresolved. */
  source: { templateId: string; version: number; imageId: string | null } | null;
  /** Why it waits, in the stages' words (`advance`'s, with the alarms read now); null when it does not. */
  waitsFor: string | null;
  /** The declared alarms in ALARM now (read without `--table` too); [] when none fire or none are declared. */
  firingAlarms: string[];
  /** Why the declared alarms could not be read (throttled, refused); null when they were, or none are declared. */
  alarmsProblem: string | null;
  /** The rollout's counters when one is on record; null otherwise. */
  progress: {
    members: number;
    replaced: number;
    /** Rollbacks counted against the failure budget (those since the last resume). */
    rolledBack: number;
    maxFailures: number;
    /** The canary's size, fixed when the rollout began. */
    canary: number;
  } | null;
  /** The declared rollout: the canary's size now, the bake, the approval, the promotion. */
  policy: {
    /** The fleet declares stages (a canary, a bake, alarms, a failure budget, approval or `after`); false: it replaces under its budget alone. */
    staged: boolean;
    canary: number;
    bakeMinutes: number;
    approval: 'manual' | 'automatic';
    after: string | null;
  };
}

/** What enforcement would do for one fleet, now. */
export interface FleetEnforcement {
  /** Members judged drifted (any state). */
  drifted: number;
  /** Drifted members that would be replaced now: running, replaceable, and nothing blocks the fleet. */
  replacements: number;
  /** Drifted running members that cannot be replaced (each says why: `notReplaceable`). */
  notReplaceable: number;
  /**
   * `ceil(replacements / maxConcurrent)`; for a group at MaxSize, whose replacements each take
   * their old instance out first, `ceil(replacements / min(maxConcurrent, dips the budget allows))`.
   */
  waves: number;
  /**
   * How an Auto Scaling fleet's group makes room: `surge` (below MaxSize: launch first),
   * `standby-first` (at MaxSize: the old instance goes out first), `none` (no replacement can
   * happen); null for a tag fleet or a group that could not be read.
   */
  headroom: 'surge' | 'standby-first' | 'none' | null;
  /** Replacements in flight at most now: the budget resolved against the fleet's size. */
  maxConcurrent: number;
  /** The budget as declared: `3`, or a share of the fleet such as `10%`. */
  maxConcurrentDeclared: string;
  minHealthyPercent: number;
  window: { declared: boolean; timezone: string | null; openNow: boolean; nextOpening: string | null };
  sourceDrift: { checked: boolean; drifted: boolean; reasons: DriftReason[]; problem: string | null };
  /** `unknown` when the state table was not read (no `--table`). */
  quarantine: 'none' | 'quarantined' | 'unknown';
  /** Why and since when, as the rollback that quarantined the version recorded it; null when not quarantined. */
  quarantineCause: string | null;
  paused: boolean | null;
  blockedBy: Blocker[];
  /**
   * Seconds the fleet's replacements would take on AWS (`functions/domain/estimate.ts`): the
   * canary's waves, the bake and the rest in waves for a fleet whose rollout has its canary
   * still to go, else the waves alone; 0 when nothing would be replaced now.
   */
  estimatedSeconds: number;
}

export interface FleetPlan {
  name: string;
  mode: CompiledFleet['mode'];
  team: string;
  launchTemplate: { id: string; name: string; version: number } | null;
  launchTemplateProblem: string | null;
  instances: PlannedInstance[];
  enforcement: FleetEnforcement;
  rollout: FleetRollout;
}

/** The whole plan; `JSON.stringify` of this is the `--format json` output. */
export interface Plan {
  schemaVersion: typeof PLAN_SCHEMA_VERSION;
  generatedAt: string;
  desiredState: { file: string; path: string; revision: string; commit: string; sha256: string };
  summary: {
    fleets: number;
    instances: number;
    inSync: number;
    drifted: number;
    excluded: number;
    notApplicable: number;
    outside: number;
    replacements: number;
    notReplaceable: number;
  };
  fleets: FleetPlan[];
}

/** Read-only access to the state table, when the operator named it. */
export interface PlanStateReader {
  isPaused(): Promise<boolean>;
  getQuarantine(fleet: string, templateId: string, version: number): Promise<QuarantineFact | undefined>;
}

/** What reading the fleets' rollouts needs: CloudWatch for the alarms, the table for the records. */
export interface PlanRolloutReader {
  cloudwatch: Pick<CloudWatchClient, 'send'>;
  /** The rollout records (GetItem; a Query of a followed fleet's with `after:`); absent without `--table`. */
  rollouts?: Pick<RolloutStore, 'get' | 'list'>;
}

export interface PlanDeps {
  ec2: Pick<EC2Client, 'send'>;
  autoScaling: Pick<AutoScalingClient, 'send'>;
  state?: PlanStateReader;
  /** Absent: no alarm and no rollout is read (every fleet's rollout `unknown`). */
  rollout?: PlanRolloutReader;
  now: Date;
}
