/**
 * CloudTrail records as EventBridge delivers them ("AWS API Call via CloudTrail"), and the
 * EC2 state-change notification, built for the API calls that make instances drift.
 *
 * The emulated account has no CloudTrail: the demo and the end-to-end tests make a change
 * with the real API and then hand the evaluator the event AWS would have delivered for it,
 * with the same shape as the recorded fixtures in test/fixtures/events/.
 */
import { randomUUID } from 'node:crypto';

/** The account of every event (the local runner's account). */
export const EVENT_ACCOUNT = '123456789012';

/** Who made a call: an IAM ARN, as CloudTrail's `userIdentity.arn`. */
export function userArn(name: string): string {
  return `arn:aws:iam::${EVENT_ACCOUNT}:user/${name}`;
}

export interface CallContext {
  /** `userIdentity.arn`: who made the call. */
  principal: string;
  /** When the call was made (also the EventBridge `time`). Default now. */
  at?: Date;
  region?: string;
  /** `detail.eventID`; a duplicate delivery reuses the same event object instead. */
  eventId?: string;
}

/** An EventBridge event, as the evaluator's handler receives it. */
export type EventBridgeEvent = {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
};

function cloudTrail(
  eventName: string,
  context: CallContext,
  requestParameters: unknown,
  responseElements: unknown,
): EventBridgeEvent {
  const at = (context.at ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const region = context.region ?? 'us-east-1';
  const requestId = randomUUID();
  const userName = context.principal.split('/').at(-1) ?? context.principal;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.ec2',
    account: EVENT_ACCOUNT,
    time: at,
    region,
    resources: [],
    detail: {
      eventVersion: '1.10',
      userIdentity: {
        type: 'IAMUser',
        principalId: `AIDAEXAMPLE${userName.toUpperCase().replace(/[^A-Z0-9]/g, '')}`,
        arn: context.principal,
        accountId: EVENT_ACCOUNT,
        userName,
      },
      eventTime: at,
      eventSource: 'ec2.amazonaws.com',
      eventName,
      awsRegion: region,
      sourceIPAddress: '198.51.100.7',
      userAgent: 'aws-cli/2.17.0',
      requestParameters,
      responseElements,
      requestID: requestId,
      eventID: context.eventId ?? randomUUID(),
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: EVENT_ACCOUNT,
      eventCategory: 'Management',
    },
  };
}

function tagItems(tags: Readonly<Record<string, string>>) {
  return { items: Object.entries(tags).map(([key, value]) => ({ key, value })) };
}

/** `CreateTags` on some resources (instances, and whatever else the call named). */
export function createTagsEvent(
  resourceIds: readonly string[],
  tags: Readonly<Record<string, string>>,
  context: CallContext,
): EventBridgeEvent {
  return cloudTrail(
    'CreateTags',
    context,
    { resourcesSet: { items: resourceIds.map((resourceId) => ({ resourceId })) }, tagSet: tagItems(tags) },
    { _return: true },
  );
}

/** `DeleteTags` of some keys. */
export function deleteTagsEvent(
  resourceIds: readonly string[],
  keys: readonly string[],
  context: CallContext,
): EventBridgeEvent {
  return cloudTrail(
    'DeleteTags',
    context,
    {
      resourcesSet: { items: resourceIds.map((resourceId) => ({ resourceId })) },
      tagSet: { items: keys.map((key) => ({ key })) },
    },
    { _return: true },
  );
}

/** `ModifyInstanceAttribute` changing the instance type (the instance was stopped for it). */
export function modifyInstanceTypeEvent(
  instanceId: string,
  instanceType: string,
  context: CallContext,
): EventBridgeEvent {
  return cloudTrail(
    'ModifyInstanceAttribute',
    context,
    { instanceId, instanceType: { value: instanceType } },
    { _return: true },
  );
}

/** `CreateLaunchTemplateVersion`: a new version exists (not yet the default). */
export function createLaunchTemplateVersionEvent(
  template: { id: string; name: string },
  version: number,
  context: CallContext,
): EventBridgeEvent {
  return cloudTrail(
    'CreateLaunchTemplateVersion',
    context,
    { CreateLaunchTemplateVersionRequest: { LaunchTemplateId: template.id } },
    {
      CreateLaunchTemplateVersionResponse: {
        launchTemplateVersion: {
          launchTemplateId: template.id,
          launchTemplateName: template.name,
          versionNumber: version,
          defaultVersion: false,
        },
      },
    },
  );
}

/** `ModifyLaunchTemplate` making `version` the default. */
export function modifyLaunchTemplateEvent(
  template: { id: string; name: string },
  defaultVersion: number,
  context: CallContext,
): EventBridgeEvent {
  return cloudTrail(
    'ModifyLaunchTemplate',
    context,
    {
      ModifyLaunchTemplateRequest: {
        LaunchTemplateId: template.id,
        SetDefaultVersion: String(defaultVersion),
      },
    },
    {
      ModifyLaunchTemplateResponse: {
        launchTemplate: {
          launchTemplateId: template.id,
          launchTemplateName: template.name,
          defaultVersionNumber: defaultVersion,
        },
      },
    },
  );
}

/** "EC2 Instance State-change Notification" (EventBridge, no CloudTrail). */
export function instanceStateChangeEvent(
  instanceId: string,
  state: string,
  options: { at?: Date; region?: string } = {},
): EventBridgeEvent {
  const region = options.region ?? 'us-east-1';
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: EVENT_ACCOUNT,
    time: (options.at ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:ec2:${region}:${EVENT_ACCOUNT}:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, state },
  };
}
