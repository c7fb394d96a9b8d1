/**
 * The desired-state file (`phoenix.yaml`): one zod schema is the truth.
 *
 * Types come from `z.infer`; the JSON Schema shipped for editors is generated from
 * {@link DesiredStateFileSchema}. Cross-field rules that zod cannot express on one node
 * (exactly one selector, a tag selector not empty, duplicate selectors, overlapping windows, valid
 * time zones) live
 * in `validate.ts`, which reports every problem at once with file:line:col.
 *
 * Message convention: a custom message here says what is expected ("expected …");
 * `validate.ts` adds the path and what was found. Without one, sizes, types and enums get
 * a message generated from the issue ("expected a whole number of at least 1, got 0").
 */
import { z } from 'zod';

/** AWS tag limits: keys up to 128 characters, values up to 256; `aws:` is reserved. */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;

/** A tag key Phoenix may read (selectors, exclusions): `aws:` keys such as `aws:autoscaling:groupName` included. */
export const SelectorTagKey = z.string().min(1).max(TAG_KEY_MAX);

/** A tag key Phoenix declares and sets on instances, so never an `aws:` one (AWS rejects those). */
export const TagKey = SelectorTagKey.refine((key) => !key.toLowerCase().startsWith('aws:'), {
  message: 'expected a key that does not start with "aws:" (reserved by AWS, it cannot be set)',
});

export const TagValue = z.string().max(TAG_VALUE_MAX);

/** Declared tags: every instance of the fleet must carry exactly these values. */
export const Tags = z
  .record(TagKey, TagValue)
  .describe('Tag key → value. Keys starting with "aws:" cannot be declared.');

/** Tags used to find instances (they are only read, so `aws:` keys are allowed). */
export const SelectorTags = z.record(SelectorTagKey, TagValue);

export const Mode = z
  .enum(['observe', 'notify', 'enforce'])
  .describe('observe: record compliance only; notify: also notify once per drift; enforce: also replace.');

/** `10%`: a share of the fleet's current size (more than 0, at most 100, up to two decimals). */
export const PERCENT_PATTERN = /^(100(\.0{1,2})?|[1-9]?\d(\.\d{1,2})?)%$/;

const COUNT_OR_PERCENT_EXPECTED =
  'expected a whole number of at least 1 or a percentage like "10%" (more than 0%, at most 100%)';

/** A number of instances, or a percentage of the fleet's current size: `3` or `"10%"`. */
export const CountOrPercent = z.union(
  [
    z
      .number({ error: COUNT_OR_PERCENT_EXPECTED })
      .int(COUNT_OR_PERCENT_EXPECTED)
      .min(1, COUNT_OR_PERCENT_EXPECTED),
    z
      .string({ error: COUNT_OR_PERCENT_EXPECTED })
      .regex(PERCENT_PATTERN, COUNT_OR_PERCENT_EXPECTED)
      .refine((text) => Number.parseFloat(text) > 0, COUNT_OR_PERCENT_EXPECTED),
  ],
  { error: COUNT_OR_PERCENT_EXPECTED },
);

export const Budget = z
  .strictObject({
    maxConcurrent: CountOrPercent.describe(
      'At most this many replacements in flight per fleet: a number, or a percentage of the fleet\'s current size ("10%", rounded down, at least 1).',
    ),
    minHealthyPercent: z
      .number()
      .min(0)
      .max(100)
      .describe(
        'Never let healthy capacity fall below this share of the fleet (0 to 100; 100 means surge only, never below full capacity).',
      ),
  })
  .partial()
  .describe('Disruption budget. Each field not given here is inherited.');

/** A CloudWatch alarm name (1 to 255 characters). */
export const AlarmName = z.string().min(1).max(255);

export const Rollout = z
  .strictObject({
    canary: CountOrPercent.describe(
      "When the fleet's source changes, replace this many instances (or this share of the fleet) first, then bake.",
    ),
    bakeMinutes: z
      .number()
      .int()
      .min(0)
      .max(10080)
      .describe(
        'After the canary is healthy, wait this long with every alarm OK before going on (0 to 10080, a week).',
      ),
    alarms: z
      .array(AlarmName)
      .min(1)
      .describe(
        'CloudWatch alarm names of this account and region: while any is in ALARM nothing of the fleet starts, and one firing during a rollout halts it.',
      ),
    maxFailures: z
      .number()
      .int()
      .min(0)
      .describe(
        'Rollbacks tolerated in one rollout; one more halts it and quarantines its launch template version.',
      ),
    approval: z
      .enum(['manual', 'automatic'])
      .describe('manual: after the bake, wait for `phoenix rollout approve`; automatic: go on by itself.'),
    after: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected the name of another fleet')
      .describe(
        'Promotion: replace only to an image that this other fleet runs on every instance, has baked, with its alarms OK.',
      ),
  })
  .partial()
  .describe(
    'Progressive rollout of a source change (launch template version, image). Each field not given here is inherited.',
  );

/** `Mon-Fri 09:00-17:00`, `Sat,Sun 00:00-24:00`, `Fri 22:00-02:00` (overnight). */
export const WINDOW_RANGE_PATTERN =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?(,(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?)* ([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

export const WindowRange = z
  .string()
  .regex(
    WINDOW_RANGE_PATTERN,
    'expected days and a time range like "Mon-Fri 09:00-17:00" (days Mon..Sun, ranged or comma-separated; 24-hour times HH:MM, end may be 24:00)',
  )
  .describe(
    '"DAYS HH:MM-HH:MM": "Mon-Fri 09:00-17:00", "Sat,Sun 00:00-24:00", "Fri 22:00-02:00" (overnight).',
  );

export const Window = z
  .strictObject({
    timezone: z.string().min(1).describe('IANA time zone, e.g. Europe/Berlin or UTC.'),
    allow: z
      .array(WindowRange)
      .min(1)
      .describe('When replacements may start; ranges must not overlap. Outside them, nothing starts.'),
  })
  .describe('Maintenance window: replacements start only inside it (deny outside).');

const LAUNCH_TEMPLATE_VERSION_EXPECTED = 'expected $Default, $Latest or a version number (1 or more)';

export const LaunchTemplateVersion = z
  .union(
    [
      z.literal('$Default'),
      z.literal('$Latest'),
      z
        .number({ error: LAUNCH_TEMPLATE_VERSION_EXPECTED })
        .int(LAUNCH_TEMPLATE_VERSION_EXPECTED)
        .min(1, LAUNCH_TEMPLATE_VERSION_EXPECTED),
    ],
    { error: LAUNCH_TEMPLATE_VERSION_EXPECTED },
  )
  .describe('$Default, $Latest or a version number.');

export const LaunchTemplateRef = z
  .strictObject({
    name: z.string().min(1).optional().describe('Launch template name (give name or id).'),
    id: z
      .string()
      .regex(/^lt-[0-9a-f]+$/, 'expected a launch template id like lt-0123456789abcdef0')
      .optional()
      .describe('Launch template id (give name or id).'),
    version: LaunchTemplateVersion.default('$Default'),
  })
  .describe('The launch template replacements are built from: by name or by id, not both.');

export const StrictTags = z
  .strictObject({
    prefix: z.string().min(1).describe('Undeclared tags whose key starts with this prefix are drift.'),
  })
  .describe('Strict mode: undeclared tags under a managed prefix are drift.');

export const Checks = z
  .strictObject({
    image: z.boolean().describe("The instance's image must be the launch template's."),
    instanceType: z.boolean().describe("The instance type must be the launch template's."),
    securityGroups: z.boolean().describe("The security groups must be the launch template's."),
    maxAgeDays: z.number().int().min(1).describe('Instances older than this many days are replaced.'),
    strictTags: StrictTags,
  })
  .partial()
  .describe(
    'Which properties are compared. Declared tags and the launch template are always checked. Each field not given here is inherited.',
  );

export const Match = z
  .strictObject({
    autoScalingGroup: z.string().min(1).optional().describe('Members of this Auto Scaling group.'),
    // At least one tag: checked in validate.ts on the source, not with a refine here. zod
    // drops a `__proto__` key before a refine sees the record, and `__proto__` is a tag key.
    tags: SelectorTags.optional().describe('Standalone instances carrying all of these tags.'),
  })
  .describe('Which instances belong to the fleet: exactly one of autoScalingGroup or tags.');

export const Exclude = z
  .strictObject({
    tags: SelectorTags.describe('Instances carrying any one of these tags (key and value) are left alone.'),
  })
  .describe('Instances Phoenix never touches.');

export const Notifications = z
  .strictObject({
    team: z.string().min(1).describe('Team that receives notifications (SNS message attribute `team`).'),
  })
  .partial()
  .describe('Notification routing.');

export const Fleet = z
  .strictObject({
    match: Match,
    launchTemplate: LaunchTemplateRef,
    tags: Tags.default({}).describe('Tags every instance of the fleet must carry.'),
    checks: Checks.optional(),
    team: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Team that owns the fleet and receives its notifications (overrides defaults.notifications.team).',
      ),
    exclude: Exclude.optional(),
    mode: Mode.optional(),
    budget: Budget.optional(),
    window: Window.optional().describe('Replaces defaults.window for this fleet.'),
    rollout: Rollout.optional(),
  })
  .describe('One fleet: the instances it selects must match its launch template and tags.');

export const Defaults = z
  .strictObject({
    mode: Mode,
    budget: Budget,
    rollout: Rollout.describe(
      'Inherited by every fleet, field by field; `after` applies to every fleet but the one it names.',
    ),
    window: Window,
    checks: Checks,
    notifications: Notifications,
  })
  .partial()
  .describe('Inherited by every fleet; a fleet may override each.');

export const FLEET_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const FleetName = z
  .string()
  .regex(FLEET_NAME_PATTERN, 'expected a fleet name of lowercase letters, digits and dashes (at most 63)');

export const DesiredStateFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('JSON Schema for editors; ignored by Phoenix.'),
    version: z.literal(1).describe('Format version.'),
    defaults: Defaults.optional(),
    fleets: z
      .record(FleetName, Fleet)
      .refine((fleets) => Object.keys(fleets).length > 0, { message: 'expected at least one fleet' })
      .describe('Fleets by name.'),
  })
  .describe('Phoenix desired state: the EC2 fleets Git declares.');

export type DesiredStateFile = z.infer<typeof DesiredStateFileSchema>;
export type FleetDeclaration = z.infer<typeof Fleet>;
export type ModeName = z.infer<typeof Mode>;
export type TagMap = z.infer<typeof Tags>;
export type LaunchTemplateVersionSpec = z.infer<typeof LaunchTemplateVersion>;

/** The built-in defaults applied beneath `defaults:`. Safe by default: observe only, one at a time. */
export const BUILT_IN_DEFAULTS = {
  mode: 'observe',
  budget: { maxConcurrent: 1, minHealthyPercent: 90 },
  rollout: { bakeMinutes: 0, maxFailures: 0, approval: 'automatic' },
  checks: { image: true, instanceType: true, securityGroups: true },
  team: 'default',
} as const satisfies {
  mode: ModeName;
  budget: { maxConcurrent: number; minHealthyPercent: number };
  rollout: { bakeMinutes: number; maxFailures: number; approval: 'manual' | 'automatic' };
  checks: { image: boolean; instanceType: boolean; securityGroups: boolean };
  team: string;
};
