/**
 * The domain's vocabulary: what the drift engine reads and what it returns.
 *
 * Everything here is plain data (JSON-serialisable), so it can cross a Lambda boundary,
 * sit in a Step Functions execution input, or be compiled into a bundle unchanged.
 * Nothing in `functions/domain/` imports an AWS SDK client or reads the clock.
 */
import type { ModeName } from './desired-state/schema';

export type Tags = Record<string, string>;

/** Monday = 0 … Sunday = 6 (ISO order, so "Mon-Fri" is 0..4). */
export type Weekday = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** One allowed range of a maintenance window; `endMinute` ≤ `startMinute` means it runs past midnight. */
export interface WindowRangeSpec {
  /** The range as written, for messages. */
  text: string;
  /** Days on which the range starts. */
  days: Weekday[];
  /** Minutes after local midnight, 0..1439. */
  startMinute: number;
  /** Minutes after local midnight, 1..1440. */
  endMinute: number;
}

export interface MaintenanceWindow {
  timezone: string;
  allow: WindowRangeSpec[];
}

export type FleetSelector =
  | { kind: 'autoScalingGroup'; autoScalingGroup: string }
  | { kind: 'tags'; tags: Tags };

export interface LaunchTemplateSpec {
  id?: string;
  name?: string;
  /** As declared: resolved to a number before any execution starts. */
  version: '$Default' | '$Latest' | number;
}

export interface FleetChecks {
  image: boolean;
  instanceType: boolean;
  securityGroups: boolean;
  maxAgeDays?: number;
  strictTags?: { prefix: string };
}

/**
 * How many replacements a budget or a canary allows: a number of instances, or a share of the
 * fleet's size at the moment it is applied (`concurrencyLimit` in budget.ts resolves it).
 */
export type Concurrency = { count: number } | { percent: number };

/** A fleet's rollout of a source change (launch template version, image), every default resolved. */
export interface RolloutPolicy {
  /** Replaced first when the source changes; absent: no canary stage. */
  canary?: Concurrency;
  /** After the canary is healthy, wait this long with every alarm OK (0: no bake). */
  bakeMinutes: number;
  /** CloudWatch alarm names gating the fleet (none: no alarm gate). */
  alarms: string[];
  /** Rollbacks tolerated in one rollout; one more halts it (0: the first rollback halts). */
  maxFailures: number;
  /** `manual`: after the bake, wait for `phoenix rollout approve`. */
  approval: 'manual' | 'automatic';
  /** Promotion: replace only to an image this fleet runs, converged and baked. */
  after?: string;
}

/** A fleet with every default resolved: what the engine and the remediation read. */
export interface CompiledFleet {
  name: string;
  mode: ModeName;
  match: FleetSelector;
  launchTemplate: LaunchTemplateSpec;
  tags: Tags;
  checks: FleetChecks;
  team: string;
  exclude: { tags: Tags };
  budget: { maxConcurrent: Concurrency; minHealthyPercent: number };
  rollout: RolloutPolicy;
  window?: MaintenanceWindow;
}

export interface Provenance {
  /** Git commit the file was read at (or "uncommitted" / "unknown"). */
  commit: string;
  /** Path of the file inside the repository. */
  path: string;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
}

/** The normalised desired state compiled into every bundle. */
export interface CompiledDesiredState {
  formatVersion: 1;
  /** Short, stable identifier of this revision: the first 12 hex digits of the sha256. */
  revision: string;
  provenance: Provenance;
  fleets: CompiledFleet[];
}

/** What is known about one instance, whatever the source (Config item, DescribeInstances, CloudTrail). */
export interface InstanceFacts {
  instanceId: string;
  /** EC2 state name: pending | running | stopping | stopped | shutting-down | terminated. */
  state: string;
  tags: Tags;
  imageId?: string;
  instanceType?: string;
  securityGroupIds: string[];
  subnetId?: string;
  vpcId?: string;
  availabilityZone?: string;
  /** ISO-8601. */
  launchTime?: string;
  /** From the `aws:ec2launchtemplate:id` / `:version` tags or the instance's LaunchTemplate data. */
  launchTemplate?: { id: string; version: string };
  /** From the `aws:autoscaling:groupName` tag. */
  autoScalingGroup?: string;
}

/** A launch template version resolved to a number: the source a fresh instance is built from. */
export interface LaunchTemplateFacts {
  id: string;
  name: string;
  version: number;
  imageId?: string;
  instanceType?: string;
  securityGroupIds: string[];
  /** Tags the template applies to instances it launches (TagSpecifications, resource type instance). */
  instanceTags: Tags;
  /**
   * The template defines network interfaces: a launch from it must place the instance through
   * its primary interface, not with an instance-level subnet (absent when it defines none).
   */
  definesNetworkInterfaces?: true;
}

export type DriftKind =
  | 'tag-missing'
  | 'tag-value'
  | 'tag-undeclared'
  | 'launch-template-id'
  | 'launch-template-version'
  | 'image'
  | 'instance-type'
  | 'security-groups'
  | 'max-age';

/** Where an expectation comes from. */
export type ExpectationSource = 'desired-state' | 'launch-template';

export interface DriftReason {
  kind: DriftKind;
  /** What is compared: `tags.Owner`, `imageId`, `securityGroupIds`, … */
  field: string;
  expected: string | null;
  actual: string | null;
  source: ExpectationSource;
}

export type Verdict =
  | { status: 'in-sync'; fleet: string }
  | { status: 'drifted'; fleet: string; reasons: DriftReason[]; fingerprint: string }
  | { status: 'not-applicable'; fleet?: string; why: string };
