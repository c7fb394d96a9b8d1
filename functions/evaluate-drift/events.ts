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
import * as z from 'zod/mini';
import { StringMap, validate } from '../runtime/validation';

/** `i-` plus 8 or 17 hex digits: anything else in an instance position is not an EC2 instance. */
export const INSTANCE_ID_PATTERN = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

const NonEmpty = z.string().check(z.minLength(1));
const OptionalString = z.optional(z.string());
const InstanceId = z
  .string()
  .check(z.regex(INSTANCE_ID_PATTERN, 'is not an EC2 instance id (one looks like i-0123456789abcdef0)'));
const IsoTime = z.string().check(z.refine((s) => !Number.isNaN(Date.parse(s)), 'is not an ISO-8601 time'));
/** A whole number, also when CloudTrail records it as a string. */
const WholeNumber = z.coerce.number().check(z.int());

// ---- AWS Config custom rule invocations -------------------------------------------------

/** The Lambda event AWS Config sends a custom rule; `invokingEvent` is a JSON string inside it. */
export const ConfigRuleInvocationSchema = z.looseObject({
  version: OptionalString,
  invokingEvent: NonEmpty,
  ruleParameters: OptionalString,
  resultToken: NonEmpty,
  eventLeftScope: z._default(z.boolean(), false),
  executionRoleArn: OptionalString,
  configRuleArn: OptionalString,
  configRuleName: NonEmpty,
  configRuleId: OptionalString,
  accountId: OptionalString,
  evaluationMode: OptionalString,
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

const ConfigItemStatusSchema = z.enum(CONFIG_ITEM_STATUSES);

/** A configuration item as Config embeds it in a change notification (configuration is an object). */
export const ConfigurationItemSchema = z.looseObject({
  configurationItemCaptureTime: IsoTime,
  configurationItemStatus: ConfigItemStatusSchema,
  resourceType: NonEmpty,
  resourceId: NonEmpty,
  awsAccountId: OptionalString,
  ARN: OptionalString,
  awsRegion: OptionalString,
  availabilityZone: z.nullish(z.string()),
  tags: z.nullish(StringMap),
  configuration: z.optional(z.unknown()),
});
export type ConfigurationItem = z.infer<typeof ConfigurationItemSchema>;

const ItemChangeInvokingEvent = z.looseObject({
  messageType: z.literal('ConfigurationItemChangeNotification'),
  configurationItem: ConfigurationItemSchema,
  notificationCreationTime: z.optional(IsoTime),
  recordVersion: OptionalString,
});

const OversizedInvokingEvent = z.looseObject({
  messageType: z.literal('OversizedConfigurationItemChangeNotification'),
  configurationItemSummary: z.looseObject({
    configurationItemCaptureTime: IsoTime,
    configurationItemStatus: ConfigItemStatusSchema,
    resourceType: NonEmpty,
    resourceId: NonEmpty,
  }),
  notificationCreationTime: z.optional(IsoTime),
});

const ScheduledInvokingEvent = z.looseObject({
  messageType: z.literal('ScheduledNotification'),
  notificationCreationTime: IsoTime,
  awsAccountId: OptionalString,
});

const InvokingEventSchema = z.discriminatedUnion('messageType', [
  ItemChangeInvokingEvent,
  OversizedInvokingEvent,
  ScheduledInvokingEvent,
]);

// ---- EventBridge ------------------------------------------------------------------------

const EventBridgeEnvelope = z.looseObject({
  version: OptionalString,
  id: OptionalString,
  'detail-type': NonEmpty,
  source: NonEmpty,
  account: OptionalString,
  time: IsoTime,
  region: OptionalString,
  resources: z.optional(z.array(z.string())),
  detail: z.record(z.string(), z.unknown()),
});

const UserIdentity = z.looseObject({
  type: OptionalString,
  arn: OptionalString,
  principalId: OptionalString,
  invokedBy: OptionalString,
});

const CloudTrailDetail = z.looseObject({
  eventSource: NonEmpty,
  eventName: NonEmpty,
  eventTime: z.optional(IsoTime),
  eventID: OptionalString,
  userIdentity: z.optional(UserIdentity),
  errorCode: OptionalString,
  errorMessage: OptionalString,
  requestParameters: z.optional(z.unknown()),
  responseElements: z.optional(z.unknown()),
});

const ItemsOf = <T extends z.core.$ZodType>(item: T) =>
  z.looseObject({ items: z._default(z.array(item), []) });

const TagsRequest = z.looseObject({
  resourcesSet: ItemsOf(z.looseObject({ resourceId: z.string() })),
});

const ModifyInstanceAttributeRequest = z.looseObject({ instanceId: InstanceId });

const RunInstancesResponse = z.looseObject({
  instancesSet: ItemsOf(z.looseObject({ instanceId: InstanceId })),
});

/** The template a launch template call asked for (its request parameters, under the call's own key). */
const RequestedTemplate = z.looseObject({
  LaunchTemplateId: OptionalString,
  LaunchTemplateName: OptionalString,
});

/** The template and version a launch template call made (its response, under the call's own keys). */
const RecordedTemplate = z.looseObject({
  launchTemplateId: OptionalString,
  launchTemplateName: OptionalString,
  versionNumber: z.optional(WholeNumber),
  defaultVersionNumber: z.optional(WholeNumber),
});

/**
 * Where each launch template call's CloudTrail record keeps the template: both record the
 * same fields, each under its own keys, and the version that now counts under its own name
 * (the version created; the new default version).
 */
const LAUNCH_TEMPLATE_RECORDS = {
  CreateLaunchTemplateVersion: {
    request: 'CreateLaunchTemplateVersionRequest',
    response: 'CreateLaunchTemplateVersionResponse',
    template: 'launchTemplateVersion',
    version: 'versionNumber',
  },
  ModifyLaunchTemplate: {
    request: 'ModifyLaunchTemplateRequest',
    response: 'ModifyLaunchTemplateResponse',
    template: 'launchTemplate',
    version: 'defaultVersionNumber',
  },
} as const;

const StateChangeDetail = z.looseObject({
  'instance-id': InstanceId,
  state: NonEmpty,
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

function fail(origin: EventOrigin, problem: string): Classification {
  return { ok: false, origin, problem };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value[key]` when `value` is an object, else `undefined`. */
function member(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
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
  const parsed = validate(ConfigRuleInvocationSchema, raw);
  if (!parsed.ok) return fail('config-rule', `Config rule invocation: ${parsed.problem}`);
  const invocation = parsed.value;

  let invokingJson: unknown;
  try {
    invokingJson = JSON.parse(invocation.invokingEvent);
  } catch (error) {
    return fail(
      'config-rule',
      `Config rule invocation: invokingEvent is not JSON (${(error as Error).message})`,
    );
  }
  const invoking = validate(InvokingEventSchema, invokingJson, 'invokingEvent');
  if (!invoking.ok) return fail('config-rule', `Config rule invocation: ${invoking.problem}`);

  const rule: ConfigRuleContext = {
    ruleName: invocation.configRuleName,
    resultToken: invocation.resultToken,
    eventLeftScope: invocation.eventLeftScope,
  };
  if (invocation.configRuleArn !== undefined) rule.ruleArn = invocation.configRuleArn;

  const body = invoking.value;
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
  const envelope = validate(EventBridgeEnvelope, raw);
  if (!envelope.ok) return fail('eventbridge', `EventBridge event: ${envelope.problem}`);
  const { source, time, detail } = envelope.value;
  const detailType = envelope.value['detail-type'];

  if (source === 'aws.ec2' && detailType === 'EC2 Instance State-change Notification') {
    const parsed = validate(StateChangeDetail, detail, 'detail');
    if (!parsed.ok) return fail('eventbridge', `EC2 state-change event: ${parsed.problem}`);
    const stateChange = parsed.value;
    if (stateChange.state !== 'running') {
      return ignored(
        `instance ${stateChange['instance-id']} is ${stateChange.state}, only running instances are judged`,
      );
    }
    return {
      ok: true,
      event: {
        kind: 'instance-activity',
        trigger: 'StateChange',
        instanceIds: [stateChange['instance-id']],
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
  const parsed = validate(CloudTrailDetail, rawDetail, 'detail');
  if (!parsed.ok) return fail('eventbridge', `CloudTrail event: ${parsed.problem}`);
  const detail = parsed.value;
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
      const request = validate(TagsRequest, detail.requestParameters, 'requestParameters');
      if (!request.ok) return fail('eventbridge', `${where}: ${request.problem}`);
      // Tags on volumes, AMIs, security groups… arrive here too; only instances matter.
      const ids = request.value.resourcesSet.items
        .map((i) => i.resourceId)
        .filter((id) => INSTANCE_ID_PATTERN.test(id));
      return instances(name, ids);
    }
    case 'ModifyInstanceAttribute': {
      const request = validate(ModifyInstanceAttributeRequest, detail.requestParameters, 'requestParameters');
      if (!request.ok) return fail('eventbridge', `${where}: ${request.problem}`);
      return instances(name, [request.value.instanceId]);
    }
    case 'RunInstances': {
      const response = validate(RunInstancesResponse, detail.responseElements, 'responseElements');
      if (!response.ok) return fail('eventbridge', `${where}: ${response.problem}`);
      return instances(
        name,
        response.value.instancesSet.items.map((i) => i.instanceId),
      );
    }
    case 'CreateLaunchTemplateVersion':
    case 'ModifyLaunchTemplate': {
      // Either side may be missing or odd (a response CloudTrail left out): use what is there.
      const keys = LAUNCH_TEMPLATE_RECORDS[name];
      const request = validate(RequestedTemplate, member(detail.requestParameters, keys.request));
      const response = validate(
        RecordedTemplate,
        member(member(detail.responseElements, keys.response), keys.template),
      );
      const asked = request.ok ? request.value : undefined;
      const made = response.ok ? response.value : undefined;
      return launchTemplate(
        name,
        made?.launchTemplateId ?? asked?.LaunchTemplateId,
        made?.launchTemplateName ?? asked?.LaunchTemplateName,
        made?.[keys.version],
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
