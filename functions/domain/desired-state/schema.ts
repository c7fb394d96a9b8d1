/**
 * The desired-state file (`phoenix.yaml`): one zod schema is the truth.
 *
 * Types come from `z.infer`; the JSON Schema shipped for editors is generated from
 * {@link DesiredStateFileSchema}. Cross-field rules that zod cannot express on one node
 * (duplicate selectors, overlapping windows, valid time zones) live in `validate.ts`,
 * which reports every problem at once with file:line:col.
 */
import { z } from 'zod';

/** AWS tag limits: keys up to 128 characters, values up to 256; `aws:` is reserved. */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;

export const TagKey = z
  .string()
  .min(1, 'a tag key cannot be empty')
  .max(TAG_KEY_MAX, `a tag key has at most ${TAG_KEY_MAX} characters`)
  .refine((key) => !key.toLowerCase().startsWith('aws:'), {
    message: 'tag keys starting with "aws:" are reserved by AWS and cannot be declared',
  });

export const TagValue = z.string().max(TAG_VALUE_MAX, `a tag value has at most ${TAG_VALUE_MAX} characters`);

export const Tags = z.record(TagKey, TagValue).describe('Tag key → value.');

export const Mode = z
  .enum(['observe', 'notify', 'enforce'])
  .describe('observe: record compliance only; notify: also notify once per drift; enforce: also replace.');

export const Budget = z
  .strictObject({
    maxConcurrent: z
      .number()
      .int('maxConcurrent must be a whole number')
      .min(1, 'maxConcurrent must be at least 1')
      .describe('At most this many replacements in flight per fleet.'),
    minHealthyPercent: z
      .number()
      .min(0, 'minHealthyPercent must be between 0 and 100')
      .max(100, 'minHealthyPercent must be between 0 and 100')
      .describe('Never let healthy capacity fall below this share of the fleet.'),
  })
  .partial()
  .describe('Disruption budget.');

/** `Mon-Fri 09:00-17:00`, `Sat,Sun 00:00-24:00`, `Fri 22:00-02:00` (overnight). */
export const WINDOW_RANGE_PATTERN =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?(,(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(-(Mon|Tue|Wed|Thu|Fri|Sat|Sun))?)* ([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

export const WindowRange = z
  .string()
  .regex(
    WINDOW_RANGE_PATTERN,
    'a window range looks like "Mon-Fri 09:00-17:00" (days Mon..Sun, comma-separated or ranged; 24-hour times)',
  );

export const Window = z
  .strictObject({
    timezone: z.string().min(1).describe('IANA time zone, e.g. Europe/Berlin.'),
    allow: z.array(WindowRange).min(1, 'a window needs at least one allowed range').describe('When replacements may start.'),
  })
  .describe('Maintenance window: replacements start only inside it (deny outside).');

export const LaunchTemplateVersion = z
  .union([z.literal('$Default'), z.literal('$Latest'), z.number().int().min(1)])
  .describe('$Default, $Latest or a version number.');

export const LaunchTemplateRef = z
  .strictObject({
    name: z.string().min(1).optional().describe('Launch template name.'),
    id: z
      .string()
      .regex(/^lt-[0-9a-f]+$/, 'a launch template id looks like lt-0123456789abcdef0')
      .optional()
      .describe('Launch template id.'),
    version: LaunchTemplateVersion.default('$Default'),
  })
  .describe('The launch template replacements are built from: by name or by id.');

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
  .describe('Which properties are compared. Declared tags and the launch template version are always checked.');

export const Match = z
  .strictObject({
    autoScalingGroup: z.string().min(1).optional().describe('Members of this Auto Scaling group.'),
    tags: Tags.optional().describe('Standalone instances carrying all of these tags.'),
  })
  .describe('Which instances belong to the fleet: exactly one selector.');

export const Exclude = z
  .strictObject({
    tags: Tags.describe('Instances carrying any of these tags are left alone.'),
  })
  .describe('Instances Phoenix never touches.');

export const Notifications = z
  .strictObject({
    team: z.string().min(1).describe('Team that receives notifications (SNS message attribute `team`).'),
  })
  .partial()
  .describe('Notification routing.');

export const Fleet = z.strictObject({
  match: Match,
  launchTemplate: LaunchTemplateRef,
  tags: Tags.default({}).describe('Tags every instance of the fleet must carry.'),
  checks: Checks.optional(),
  team: z.string().min(1).optional().describe('Team that owns the fleet (overrides defaults.notifications.team).'),
  exclude: Exclude.optional(),
  mode: Mode.optional(),
  budget: Budget.optional(),
  window: Window.optional(),
});

export const Defaults = z
  .strictObject({
    mode: Mode,
    budget: Budget,
    window: Window,
    checks: Checks,
    notifications: Notifications,
  })
  .partial()
  .describe('Inherited by every fleet; a fleet may override each.');

export const FLEET_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const DesiredStateFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1).describe('Format version.'),
    defaults: Defaults.optional(),
    fleets: z
      .record(
        z.string().regex(FLEET_NAME_PATTERN, 'fleet names are lowercase letters, digits and dashes (at most 63)'),
        Fleet,
      )
      .refine((fleets) => Object.keys(fleets).length > 0, { message: 'declare at least one fleet' }),
  })
  .describe('Phoenix desired state: the EC2 fleets Git declares.');

export type DesiredStateFile = z.infer<typeof DesiredStateFileSchema>;
export type FleetDeclaration = z.infer<typeof Fleet>;
export type ModeName = z.infer<typeof Mode>;
export type TagMap = z.infer<typeof Tags>;
export type LaunchTemplateVersionSpec = z.infer<typeof LaunchTemplateVersion>;

/** The built-in defaults applied beneath `defaults:`. */
export const BUILT_IN_DEFAULTS = {
  mode: 'observe',
  budget: { maxConcurrent: 1, minHealthyPercent: 90 },
  checks: { image: true, instanceType: true, securityGroups: true },
  team: 'default',
} as const satisfies {
  mode: ModeName;
  budget: { maxConcurrent: number; minHealthyPercent: number };
  checks: { image: boolean; instanceType: boolean; securityGroups: boolean };
  team: string;
};
