/**
 * The app's settings, from CDK context (`cdk.json` or `-c key=value`), validated at once so
 * a typo fails synth with the key's name instead of deploying something unintended.
 */

import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import type { DriftRemediatorFromFileProps, PlanRoleOptions } from './drift-remediator';
import { SettingsError } from './errors';

/** Every context key the app reads (documented in docs/deploy.md). */
export const CONTEXT_KEYS = {
  desiredStatePath: 'phoenix:desiredStatePath',
  stackName: 'phoenix:stackName',
  account: 'phoenix:account',
  region: 'phoenix:region',
  subscriptions: 'phoenix:subscriptions',
  createConfigRecorder: 'phoenix:createConfigRecorder',
  sweepFrequency: 'phoenix:sweepFrequency',
  logRetentionDays: 'phoenix:logRetentionDays',
  removalPolicy: 'phoenix:removalPolicy',
  instanceRoleArns: 'phoenix:instanceRoleArns',
  ebsKmsKeyArns: 'phoenix:ebsKmsKeyArns',
  commit: 'phoenix:commit',
  logLevel: 'phoenix:logLevel',
  planRole: 'phoenix:planRole',
  chatChannels: 'phoenix:chatChannels',
} as const;

export const DEFAULT_DESIRED_STATE_PATH = 'examples/phoenix.yaml';
export const DEFAULT_STACK_NAME = 'Phoenix';

/** `-c key=value` arrives as a string: accept JSON for structured values. */
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }, schema);

/** A list given as a JSON array or as comma-separated text. */
const list = json(
  z.union([
    z.array(z.string().min(1)),
    z.string().transform((text) =>
      text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    ),
  ]),
);

const flag = json(z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]));

const Subscription = z.strictObject({
  protocol: z.enum(['email', 'sqs', 'https']),
  endpoint: z.string().min(1),
  teams: z.array(z.string().min(1)).optional(),
  events: z.array(z.string().min(1)).optional(),
});

const PlanRoleSetting = z.strictObject({
  githubRepository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'a repository is owner/name'),
  subjects: z.array(z.string().min(1)).min(1).optional(),
  oidcProviderArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/.+$/, 'an IAM OIDC provider ARN')
    .optional(),
  roleName: z.string().min(1).max(64).optional(),
});

/** The construct's plan-role options from the context value (absent keys stay absent). */
function planRoleOptions(setting: z.infer<typeof PlanRoleSetting>): PlanRoleOptions {
  return {
    githubRepository: setting.githubRepository,
    ...(setting.subjects === undefined ? {} : { subjects: setting.subjects }),
    ...(setting.oidcProviderArn === undefined ? {} : { oidcProviderArn: setting.oidcProviderArn }),
    ...(setting.roleName === undefined ? {} : { roleName: setting.roleName }),
  };
}

const channelName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,60}$/, 'a channel name is 1 to 60 letters, digits, - or _');
const channelCommon = {
  name: channelName,
  teams: z.array(z.string().min(1)).optional(),
  events: z.array(z.string().min(1)).optional(),
  loggingLevel: z.enum(['ERROR', 'INFO', 'NONE']).optional(),
};
const ChatChannelSetting = z.discriminatedUnion('platform', [
  z.strictObject({
    platform: z.literal('slack'),
    workspaceId: z.string().min(1),
    channelId: z.string().min(1),
    ...channelCommon,
  }),
  z.strictObject({
    platform: z.literal('microsoft-teams'),
    tenantId: z.string().min(1),
    teamId: z.string().min(1),
    channelId: z.string().min(1),
    ...channelCommon,
  }),
]);

const RETENTION_DAYS = Object.values(RetentionDays).filter(
  (value): value is number => typeof value === 'number',
);

const SettingsSchema = z.strictObject({
  desiredStatePath: z.string().min(1).default(DEFAULT_DESIRED_STATE_PATH),
  stackName: z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
      'a stack name is letters, digits and dashes, starting with a letter',
    )
    .default(DEFAULT_STACK_NAME),
  account: z
    .string()
    .regex(/^\d{12}$/, 'an account is 12 digits')
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region looks like eu-central-1')
    .optional(),
  subscriptions: json(z.array(Subscription)).default([]),
  createConfigRecorder: flag.default(false),
  sweepFrequency: z
    .enum(['One_Hour', 'Three_Hours', 'Six_Hours', 'Twelve_Hours', 'TwentyFour_Hours'])
    .optional(),
  logRetentionDays: json(
    z
      .number()
      .refine(
        (days) => RETENTION_DAYS.includes(days),
        `retention must be one of ${RETENTION_DAYS.join(', ')} days`,
      ),
  ).optional(),
  removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
  instanceRoleArns: list.default([]),
  ebsKmsKeyArns: list.default([]),
  commit: z.string().min(1).optional(),
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).optional(),
  planRole: json(PlanRoleSetting).optional(),
  chatChannels: json(z.array(ChatChannelSetting)).default([]),
});

export interface AppSettings {
  stackName: string;
  account?: string;
  region?: string;
  remediator: DriftRemediatorFromFileProps;
}

/** The object without its undefined fields (zod leaves absent optional keys absent; this keeps it so). */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Reads and validates every `phoenix:*` context value through `lookup` (the app's `tryGetContext`). */
export function readSettings(lookup: (key: string) => unknown): AppSettings {
  const raw = Object.fromEntries(
    Object.entries(CONTEXT_KEYS)
      .map(([field, key]) => [field, lookup(key)] as const)
      .filter(([, value]) => value !== undefined),
  );
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      const key = CONTEXT_KEYS[field as keyof typeof CONTEXT_KEYS] ?? field;
      const rest = issue.path.slice(1).join('.');
      return `context ${key}${rest === '' ? '' : ` (${rest})`}: ${issue.message}`;
    });
    throw new SettingsError(lines.join('\n'));
  }
  const s = parsed.data;
  const remediator: DriftRemediatorFromFileProps = {
    desiredStatePath: s.desiredStatePath,
    subscriptions: s.subscriptions,
    createConfigRecorder: s.createConfigRecorder,
    removalPolicy: s.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    instanceRoleArns: s.instanceRoleArns,
    ebsKmsKeyArns: s.ebsKmsKeyArns,
    ...(s.sweepFrequency === undefined ? {} : { sweepFrequency: s.sweepFrequency }),
    ...(s.logRetentionDays === undefined ? {} : { logRetention: s.logRetentionDays as RetentionDays }),
    ...(s.commit === undefined ? {} : { commit: s.commit }),
    ...(s.logLevel === undefined ? {} : { logLevel: s.logLevel }),
    ...(s.planRole === undefined ? {} : { planRole: planRoleOptions(s.planRole) }),
    ...(s.chatChannels.length === 0 ? {} : { chatChannels: s.chatChannels.map(withoutUndefined) }),
  };
  const settings: AppSettings = { stackName: s.stackName, remediator };
  if (s.account !== undefined) settings.account = s.account;
  if (s.region !== undefined) settings.region = s.region;
  return settings;
}
