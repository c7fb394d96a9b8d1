/**
 * Test-data builders for the domain's inputs.
 *
 * The defaults describe one consistent world: fleet `web` (Auto Scaling group `web-prod`,
 * launch template `web-lt` resolved to version 3) and an instance launched from it that is
 * IN SYNC at {@link NOW}. A test overrides only what its case is about, so the override is
 * the story. Overrides are shallow (`tags` replaces the whole map); spread the exported
 * defaults to extend one: `instanceFacts({ tags: { ...DEFAULT_INSTANCE_TAGS, Owner: 'x' } })`.
 */
import type {
  CompiledDesiredState,
  CompiledFleet,
  DriftReason,
  FleetChecks,
  InstanceFacts,
  LaunchTemplateFacts,
  MaintenanceWindow,
  Tags,
  Weekday,
  WindowRangeSpec,
} from '../../functions/domain/model';

/** The instant tests evaluate at unless they say otherwise. */
export const NOW = new Date('2025-06-15T12:00:00.000Z');

export const TEMPLATE_ID = 'lt-0a1b2c3d4e5f60718';
export const TEMPLATE_NAME = 'web-lt';
export const TEMPLATE_VERSION = 3;
export const IMAGE_ID = 'ami-0123456789abcdef0';
export const OTHER_IMAGE_ID = 'ami-0fedcba9876543210';
export const INSTANCE_TYPE = 't3.micro';
export const SECURITY_GROUP_IDS = ['sg-0aaaaaaaaaaaaaaa1', 'sg-0bbbbbbbbbbbbbbb2'];
export const ASG_NAME = 'web-prod';
export const INSTANCE_ID = 'i-0123456789abcdef0';

/** Tags the template puts on every instance it launches. */
export const DEFAULT_TEMPLATE_TAGS: Tags = { Name: 'web' };

/** Tags the fleet declares in Git. */
export const DEFAULT_DECLARED_TAGS: Tags = { Owner: 'team-web', Environment: 'prod' };

/** What a member of the default fleet carries: template + declared + the tags AWS adds. */
export const DEFAULT_INSTANCE_TAGS: Tags = {
  ...DEFAULT_TEMPLATE_TAGS,
  ...DEFAULT_DECLARED_TAGS,
  'aws:autoscaling:groupName': ASG_NAME,
  'aws:ec2launchtemplate:id': TEMPLATE_ID,
  'aws:ec2launchtemplate:version': String(TEMPLATE_VERSION),
};

export const DEFAULT_CHECKS: FleetChecks = { image: true, instanceType: true, securityGroups: true };

export function templateFacts(overrides: Partial<LaunchTemplateFacts> = {}): LaunchTemplateFacts {
  return {
    id: TEMPLATE_ID,
    name: TEMPLATE_NAME,
    version: TEMPLATE_VERSION,
    imageId: IMAGE_ID,
    instanceType: INSTANCE_TYPE,
    securityGroupIds: [...SECURITY_GROUP_IDS],
    instanceTags: { ...DEFAULT_TEMPLATE_TAGS },
    ...overrides,
  };
}

/** A fleet with every default resolved, as `compileDesiredState` produces it. */
export function fleet(overrides: Partial<CompiledFleet> = {}): CompiledFleet {
  return {
    name: 'web',
    mode: 'enforce',
    match: { kind: 'autoScalingGroup', autoScalingGroup: ASG_NAME },
    launchTemplate: { name: TEMPLATE_NAME, version: '$Default' },
    tags: { ...DEFAULT_DECLARED_TAGS },
    checks: { ...DEFAULT_CHECKS },
    team: 'web',
    exclude: { tags: {} },
    budget: { maxConcurrent: { count: 1 }, minHealthyPercent: 90 },
    rollout: { bakeMinutes: 0, alarms: [], maxFailures: 0, approval: 'automatic' },
    ...overrides,
  };
}

/** A standalone fleet selected by tags (`App=<name>` unless `selector` says otherwise). */
export function tagFleet(overrides: Partial<CompiledFleet> & { selector?: Tags } = {}): CompiledFleet {
  const { selector, ...rest } = overrides;
  const name = rest.name ?? 'batch';
  return fleet({ name, team: name, match: { kind: 'tags', tags: selector ?? { App: name } }, ...rest });
}

/** A running member of the default fleet, launched ten days before {@link NOW}, in sync. */
export function instanceFacts(overrides: Partial<InstanceFacts> = {}): InstanceFacts {
  return {
    instanceId: INSTANCE_ID,
    state: 'running',
    tags: { ...DEFAULT_INSTANCE_TAGS },
    imageId: IMAGE_ID,
    instanceType: INSTANCE_TYPE,
    securityGroupIds: [...SECURITY_GROUP_IDS],
    subnetId: 'subnet-0123456789abcdef0',
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZone: 'us-east-1a',
    launchTime: new Date(NOW.getTime() - 10 * 24 * 60 * 60 * 1000).toISOString(),
    launchTemplate: { id: TEMPLATE_ID, version: String(TEMPLATE_VERSION) },
    autoScalingGroup: ASG_NAME,
    ...overrides,
  };
}

/**
 * A standalone instance (in no Auto Scaling group) launched from the default template and
 * carrying `tags` on top of the template's and the declared ones.
 */
export function standaloneInstance(tags: Tags = {}, overrides: Partial<InstanceFacts> = {}): InstanceFacts {
  const { 'aws:autoscaling:groupName': _group, ...inherited } = DEFAULT_INSTANCE_TAGS;
  const facts = instanceFacts({ tags: { ...inherited, ...tags }, ...overrides });
  if (!('autoScalingGroup' in overrides)) delete facts.autoScalingGroup;
  return facts;
}

export function reason(overrides: Partial<DriftReason> = {}): DriftReason {
  return {
    kind: 'tag-value',
    field: 'tags.Owner',
    expected: 'team-web',
    actual: 'someone-else',
    source: 'desired-state',
    ...overrides,
  };
}

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

function minutesOf(time: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(time);
  if (match === null) throw new Error(`builder: time "${time}" is not HH:MM`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * One window range from explicit parts, the way the compiler stores it:
 * `windowRange(['Sat', 'Sun'], '22:00', '02:00')`.
 */
export function windowRange(
  days: readonly (typeof DAY_NAMES)[number][],
  start: string,
  end: string,
): WindowRangeSpec {
  return {
    text: `${days.join(',')} ${start}-${end}`,
    days: days.map((day) => DAY_NAMES.indexOf(day) as Weekday),
    startMinute: minutesOf(start),
    endMinute: minutesOf(end),
  };
}

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'] as const;
export const EVERY_DAY = DAY_NAMES;

export function maintenanceWindow(timezone: string, ...allow: WindowRangeSpec[]): MaintenanceWindow {
  return { timezone, allow };
}

/** A compiled desired state holding `fleets`. */
export function desiredState(fleets: CompiledFleet[] = [fleet()]): CompiledDesiredState {
  return {
    formatVersion: 1,
    revision: '0123456789ab',
    provenance: {
      commit: '0123456789abcdef0123456789abcdef01234567',
      path: 'phoenix.yaml',
      sha256: '0'.repeat(64),
    },
    fleets,
  };
}
