/**
 * Every event the evaluator accepts, validated with zod and classified into one
 * {@link DetectionEvent}: what to judge, and whether a Config result token comes with it.
 *
 * Schemas accept unknown keys (AWS adds fields to its events over time) but insist on the
 * fields Phoenix reads. Classification never throws: a malformed event comes back as
 * `{ ok: false }` with a message that names the problem and where the event came from, so
 * the core can choose between dropping it loudly (Config) and failing it to the
 * dead-letter destination (EventBridge) — see `core.ts`.
 */
import * as z from 'zod';

/** `i-` plus 8 or 17 hex digits: anything else in an instance position is not an EC2 instance. */
export const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

const InstanceId = z.string().regex(INSTANCE_ID_PATTERN, 'an EC2 instance id looks like i-0123456789abcdef0');
const IsoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO-8601 time');

// ---- AWS Config custom rule invocations -------------------------------------------------

/** The Lambda event AWS Config sends a custom rule; `invokingEvent` is a JSON string inside it. */
export const ConfigRuleInvocationSchema = z.looseObject({
  version: z.string().optional(),
  invokingEvent: z.string().min(1),
  ruleParameters: z.string().optional(),
  resultToken: z.string().min(1),
  eventLeftScope: z.boolean().default(false),
  executionRoleArn: z.string().optional(),
  configRuleArn: z.string().optional(),
  configRuleName: z.string().min(1),
  configRuleId: z.string().optional(),
  accountId: z.string().optional(),
  evaluationMode: z.string().optional(),
});

/** Statuses of a configuration item; the two `Deleted` ones mean the resource is gone. */
export const CONFIG_ITEM_STATUSES = [
  'OK',
  'ResourceDiscovered',
  'ResourceNotRecorded',
  'ResourceDeleted',
  'ResourceDeletedNotRecorded',
] as const;
export type ConfigItemStatus = (typeof CONFIG_ITEM_STATUSES)[number];

export function isDeletedStatus(status: ConfigItemStatus): boolean {
  return status === 'ResourceDeleted' || status === 'ResourceDeletedNotRecorded';
}

/** A configuration item as Config embeds it in a change notification (configuration is an object). */
export const ConfigurationItemSchema = z.looseObject({
  configurationItemCaptureTime: IsoTime,
  configurationItemStatus: z.enum(CONFIG_ITEM_STATUSES),
  resourceType: z.string().min(1),
  resourceId: z.string().min(1),
  awsAccountId: z.string().optional(),
  ARN: z.string().optional(),
  awsRegion: z.string().optional(),
  availabilityZone: z.string().nullish(),
  tags: z.record(z.string(), z.string()).nullish(),
  configuration: z.unknown().optional(),
});
export type ConfigurationItem = z.infer<typeof ConfigurationItemSchema>;

const ItemChangeInvokingEvent = z.looseObject({
  messageType: z.literal('ConfigurationItemChangeNotification'),
  configurationItem: ConfigurationItemSchema,
  notificationCreationTime: IsoTime.optional(),
  recordVersion: z.string().optional(),
});

const OversizedInvokingEvent = z.looseObject({
  messageType: z.literal('OversizedConfigurationItemChangeNotification'),
  configurationItemSummary: z.looseObject({
    configurationItemCaptureTime: IsoTime,
    configurationItemStatus: z.enum(CONFIG_ITEM_STATUSES),
    resourceType: z.string().min(1),
    resourceId: z.string().min(1),
  }),
  notificationCreationTime: IsoTime.optional(),
});

const ScheduledInvokingEvent = z.looseObject({
  messageType: z.literal('ScheduledNotification'),
  notificationCreationTime: IsoTime,
  awsAccountId: z.string().optional(),
});

const InvokingEventSchema = z.discriminatedUnion('messageType', [
  ItemChangeInvokingEvent,
  OversizedInvokingEvent,
  ScheduledInvokingEvent,
]);

// ---- EventBridge ------------------------------------------------------------------------

const EventBridgeEnvelope = z.looseObject({
  version: z.string().optional(),
  id: z.string().optional(),
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string().optional(),
  time: IsoTime,
  region: z.string().optional(),
  resources: z.array(z.string()).optional(),
  detail: z.record(z.string(), z.unknown()),
});

const UserIdentity = z.looseObject({
  type: z.string().optional(),
  arn: z.string().optional(),
  principalId: z.string().optional(),
  invokedBy: z.string().optional(),
});

const CloudTrailDetail = z.looseObject({
  eventSource: z.string().min(1),
  eventName: z.string().min(1),
  eventTime: IsoTime.optional(),
  eventID: z.string().optional(),
  userIdentity: UserIdentity.optional(),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  requestParameters: z.unknown().optional(),
  responseElements: z.unknown().optional(),
});

const ItemsOf = <T extends z.ZodType>(item: T) => z.looseObject({ items: z.array(item).default([]) });

const TagsRequest = z.looseObject({
  resourcesSet: ItemsOf(z.looseObject({ resourceId: z.string() })),
});

const ModifyInstanceAttributeRequest = z.looseObject({ instanceId: InstanceId });

const RunInstancesResponse = z.looseObject({
  instancesSet: ItemsOf(z.looseObject({ instanceId: InstanceId })),
});

const LaunchTemplateRefFields = {
  LaunchTemplateId: z.string().optional(),
  LaunchTemplateName: z.string().optional(),
};

const CreateLaunchTemplateVersionRequest = z.looseObject({
  CreateLaunchTemplateVersionRequest: z.looseObject(LaunchTemplateRefFields),
});
const CreateLaunchTemplateVersionResponse = z.looseObject({
  CreateLaunchTemplateVersionResponse: z.looseObject({
    launchTemplateVersion: z.looseObject({
      launchTemplateId: z.string().optional(),
      launchTemplateName: z.string().optional(),
      versionNumber: z.coerce.number().int().optional(),
    }),
  }),
});

const ModifyLaunchTemplateRequest = z.looseObject({
  ModifyLaunchTemplateRequest: z.looseObject(LaunchTemplateRefFields),
});
const ModifyLaunchTemplateResponse = z.looseObject({
  ModifyLaunchTemplateResponse: z.looseObject({
    launchTemplate: z.looseObject({
      launchTemplateId: z.string().optional(),
      launchTemplateName: z.string().optional(),
      defaultVersionNumber: z.coerce.number().int().optional(),
    }),
  }),
});

const StateChangeDetail = z.looseObject({
  'instance-id': InstanceId,
  state: z.string().min(1),
});

// ---- classification ---------------------------------------------------------------------

/** What the Config rule told us about itself: needed to write evaluations back. */
export interface ConfigRuleContext {
  ruleName: string;
  ruleArn?: string;
  resultToken: string;
  /** The resource left the rule's scope: it is evaluated NOT_APPLICABLE, whatever it looks like. */
  eventLeftScope: boolean;
}

/** The API calls whose CloudTrail record sends instances through the fast path. */
export const INSTANCE_API_CALLS = [
  'CreateTags',
  'DeleteTags',
  'ModifyInstanceAttribute',
  'RunInstances',
] as const;
/** The API calls that change which launch template version fleets must run. */
export const LAUNCH_TEMPLATE_API_CALLS = ['CreateLaunchTemplateVersion', 'ModifyLaunchTemplate'] as const;

export type InstanceTrigger = (typeof INSTANCE_API_CALLS)[number] | 'StateChange';
export type LaunchTemplateTrigger = (typeof LAUNCH_TEMPLATE_API_CALLS)[number];

export type DetectionEvent =
  | { kind: 'config-item-change'; rule: ConfigRuleContext; item: ConfigurationItem }
  | {
      kind: 'config-oversized-item-change';
      rule: ConfigRuleContext;
      resourceType: string;
      resourceId: string;
      captureTime: string;
      status: ConfigItemStatus;
    }
  | { kind: 'config-scheduled'; rule: ConfigRuleContext; notificationTime: string }
  | {
      kind: 'instance-activity';
      trigger: InstanceTrigger;
      instanceIds: string[];
      /** Who made the call (CloudTrail `userIdentity.arn`, else the service that invoked it). */
      principal?: string;
      eventTime: string;
    }
  | {
      kind: 'launch-template-change';
      trigger: LaunchTemplateTrigger;
      template: { id?: string; name?: string };
      /** The version created, or the new default version. */
      version?: number;
      principal?: string;
      eventTime: string;
    }
  /** Well-formed, but nothing for Phoenix to judge (a failed API call, a stopping instance…). */
  | { kind: 'ignored'; why: string };

/** Where a malformed event came from decides what happens to it (see `core.ts`). */
export type EventOrigin = 'config-rule' | 'eventbridge' | 'unknown';

export type Classification =
  | { ok: true; event: DetectionEvent }
  | { ok: false; origin: EventOrigin; problem: string };

function problemOf(error: z.ZodError): string {
  return z.prettifyError(error).replace(/\n+/g, '; ');
}

function fail(origin: EventOrigin, problem: string): Classification {
  return { ok: false, origin, problem };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Config invocation is recognised by its Config-only fields, whatever else is wrong with it. */
function looksLikeConfigInvocation(raw: Record<string, unknown>): boolean {
  return 'invokingEvent' in raw || 'resultToken' in raw || 'configRuleName' in raw;
}

function looksLikeEventBridge(raw: Record<string, unknown>): boolean {
  return 'detail-type' in raw || ('source' in raw && 'detail' in raw);
}

/**
 * Classifies any event the evaluator may be invoked with. Total: never throws.
 */
export function classifyEvent(raw: unknown): Classification {
  if (!isRecord(raw)) return fail('unknown', `expected an event object, got ${describeValue(raw)}`);
  if (looksLikeConfigInvocation(raw)) return classifyConfigInvocation(raw);
  if (looksLikeEventBridge(raw)) return classifyEventBridge(raw);
  return fail(
    'unknown',
    `neither an AWS Config rule invocation nor an EventBridge event (keys: ${Object.keys(raw).slice(0, 10).join(', ') || 'none'})`,
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function classifyConfigInvocation(raw: Record<string, unknown>): Classification {
  const parsed = ConfigRuleInvocationSchema.safeParse(raw);
  if (!parsed.success) return fail('config-rule', `Config rule invocation: ${problemOf(parsed.error)}`);
  const invocation = parsed.data;

  let invokingJson: unknown;
  try {
    invokingJson = JSON.parse(invocation.invokingEvent);
  } catch (error) {
    return fail(
      'config-rule',
      `Config rule invocation: invokingEvent is not JSON (${(error as Error).message})`,
    );
  }
  const invoking = InvokingEventSchema.safeParse(invokingJson);
  if (!invoking.success) {
    return fail('config-rule', `Config rule invocation: invokingEvent: ${problemOf(invoking.error)}`);
  }

  const rule: ConfigRuleContext = {
    ruleName: invocation.configRuleName,
    resultToken: invocation.resultToken,
    eventLeftScope: invocation.eventLeftScope,
  };
  if (invocation.configRuleArn !== undefined) rule.ruleArn = invocation.configRuleArn;

  const body = invoking.data;
  switch (body.messageType) {
    case 'ConfigurationItemChangeNotification':
      return { ok: true, event: { kind: 'config-item-change', rule, item: body.configurationItem } };
    case 'OversizedConfigurationItemChangeNotification': {
      const summary = body.configurationItemSummary;
      return {
        ok: true,
        event: {
          kind: 'config-oversized-item-change',
          rule,
          resourceType: summary.resourceType,
          resourceId: summary.resourceId,
          captureTime: summary.configurationItemCaptureTime,
          status: summary.configurationItemStatus,
        },
      };
    }
    case 'ScheduledNotification':
      return {
        ok: true,
        event: { kind: 'config-scheduled', rule, notificationTime: body.notificationCreationTime },
      };
  }
}

function principalOf(identity: z.infer<typeof UserIdentity> | undefined): string | undefined {
  return identity?.arn ?? identity?.invokedBy ?? identity?.principalId;
}

function withPrincipal<T extends object>(
  event: T,
  principal: string | undefined,
): T & { principal?: string } {
  return principal === undefined ? event : { ...event, principal };
}

function classifyEventBridge(raw: Record<string, unknown>): Classification {
  const envelope = EventBridgeEnvelope.safeParse(raw);
  if (!envelope.success) return fail('eventbridge', `EventBridge event: ${problemOf(envelope.error)}`);
  const { source, time, detail } = envelope.data;
  const detailType = envelope.data['detail-type'];

  if (source === 'aws.ec2' && detailType === 'EC2 Instance State-change Notification') {
    const parsed = StateChangeDetail.safeParse(detail);
    if (!parsed.success) return fail('eventbridge', `EC2 state-change event: ${problemOf(parsed.error)}`);
    if (parsed.data.state !== 'running') {
      return ignored(
        `instance ${parsed.data['instance-id']} is ${parsed.data.state}, only running instances are judged`,
      );
    }
    return {
      ok: true,
      event: {
        kind: 'instance-activity',
        trigger: 'StateChange',
        instanceIds: [parsed.data['instance-id']],
        eventTime: time,
      },
    };
  }

  if (detailType === 'AWS API Call via CloudTrail') return classifyCloudTrail(detail, time);

  return ignored(`EventBridge event "${detailType}" from ${source} is not one Phoenix handles`);
}

function ignored(why: string): Classification {
  return { ok: true, event: { kind: 'ignored', why } };
}

function classifyCloudTrail(rawDetail: Record<string, unknown>, envelopeTime: string): Classification {
  const parsed = CloudTrailDetail.safeParse(rawDetail);
  if (!parsed.success) return fail('eventbridge', `CloudTrail event: ${problemOf(parsed.error)}`);
  const detail = parsed.data;
  const name = detail.eventName;
  const where = `CloudTrail ${name}`;
  if (detail.eventSource !== 'ec2.amazonaws.com') {
    return ignored(`${where} from ${detail.eventSource} is not an EC2 call`);
  }
  if (detail.errorCode !== undefined) {
    return ignored(`${where} failed (${detail.errorCode}): nothing changed`);
  }
  const eventTime = detail.eventTime ?? envelopeTime;
  const principal = principalOf(detail.userIdentity);

  const instances = (trigger: InstanceTrigger, ids: string[]): Classification => {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return ignored(`${where} names no EC2 instance`);
    return {
      ok: true,
      event: withPrincipal({ kind: 'instance-activity', trigger, instanceIds: unique, eventTime }, principal),
    };
  };

  switch (name) {
    case 'CreateTags':
    case 'DeleteTags': {
      const request = TagsRequest.safeParse(detail.requestParameters);
      if (!request.success)
        return fail('eventbridge', `${where}: requestParameters: ${problemOf(request.error)}`);
      // Tags on volumes, AMIs, security groups… arrive here too; only instances matter.
      const ids = request.data.resourcesSet.items
        .map((i) => i.resourceId)
        .filter((id) => INSTANCE_ID_PATTERN.test(id));
      return instances(name, ids);
    }
    case 'ModifyInstanceAttribute': {
      const request = ModifyInstanceAttributeRequest.safeParse(detail.requestParameters);
      if (!request.success)
        return fail('eventbridge', `${where}: requestParameters: ${problemOf(request.error)}`);
      return instances(name, [request.data.instanceId]);
    }
    case 'RunInstances': {
      const response = RunInstancesResponse.safeParse(detail.responseElements);
      if (!response.success)
        return fail('eventbridge', `${where}: responseElements: ${problemOf(response.error)}`);
      return instances(
        name,
        response.data.instancesSet.items.map((i) => i.instanceId),
      );
    }
    case 'CreateLaunchTemplateVersion': {
      const request = CreateLaunchTemplateVersionRequest.safeParse(detail.requestParameters);
      const response = CreateLaunchTemplateVersionResponse.safeParse(detail.responseElements);
      const created = response.success
        ? response.data.CreateLaunchTemplateVersionResponse.launchTemplateVersion
        : undefined;
      const asked = request.success ? request.data.CreateLaunchTemplateVersionRequest : undefined;
      return launchTemplate(
        name,
        created?.launchTemplateId ?? asked?.LaunchTemplateId,
        created?.launchTemplateName ?? asked?.LaunchTemplateName,
        created?.versionNumber,
        eventTime,
        principal,
      );
    }
    case 'ModifyLaunchTemplate': {
      const request = ModifyLaunchTemplateRequest.safeParse(detail.requestParameters);
      const response = ModifyLaunchTemplateResponse.safeParse(detail.responseElements);
      const modified = response.success
        ? response.data.ModifyLaunchTemplateResponse.launchTemplate
        : undefined;
      const asked = request.success ? request.data.ModifyLaunchTemplateRequest : undefined;
      return launchTemplate(
        name,
        modified?.launchTemplateId ?? asked?.LaunchTemplateId,
        modified?.launchTemplateName ?? asked?.LaunchTemplateName,
        modified?.defaultVersionNumber,
        eventTime,
        principal,
      );
    }
    default:
      return ignored(`${where} is not a call Phoenix handles`);
  }
}

function launchTemplate(
  trigger: LaunchTemplateTrigger,
  id: string | undefined,
  name: string | undefined,
  version: number | undefined,
  eventTime: string,
  principal: string | undefined,
): Classification {
  if (id === undefined && name === undefined) {
    return fail('eventbridge', `CloudTrail ${trigger}: names no launch template (neither id nor name)`);
  }
  const template: { id?: string; name?: string } = {};
  if (id !== undefined) template.id = id;
  if (name !== undefined) template.name = name;
  const event: DetectionEvent = { kind: 'launch-template-change', trigger, template, eventTime };
  if (version !== undefined) event.version = version;
  return { ok: true, event: withPrincipal(event, principal) };
}
