/**
 * How a team receives Phoenix's notifications: the SNS topic, and per team an SQS queue
 * subscribed with a filter policy on the `team` message attribute (the subscription a
 * team sets up in its own account; see the README's notification section).
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { PhoenixError } from '../functions/domain/errors';
import type { PhoenixNotification } from '../functions/domain/notification';

/** A notification as a team's queue received it. */
export interface ReceivedNotification {
  subject: string;
  body: PhoenixNotification;
  /** The message attributes (`event`, `fleet`, `team`, `severity`). */
  attributes: Record<string, string>;
}

export interface TeamInboxes {
  topicArn: string;
  /** Queue URL per team. */
  queues: Record<string, string>;
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new PhoenixError(`the emulated account returned no ${what}`);
  return value;
}

/** The topic, and one queue per team subscribed with `{"team": [team]}` as filter policy. */
export async function createTeamInboxes(
  clients: { sns: Pick<SNSClient, 'send'>; sqs: Pick<SQSClient, 'send'> },
  options: { topicName: string; teams: readonly string[]; queuePrefix?: string },
): Promise<TeamInboxes> {
  const topic = await clients.sns.send(new CreateTopicCommand({ Name: options.topicName }));
  const topicArn = required(topic.TopicArn, 'topic ARN');
  const queues: Record<string, string> = {};
  for (const team of options.teams) {
    const created = await clients.sqs.send(
      new CreateQueueCommand({ QueueName: `${options.queuePrefix ?? 'phoenix'}-${team}-inbox` }),
    );
    const queueUrl = required(created.QueueUrl, 'queue URL');
    const attributes = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: required(attributes.Attributes?.QueueArn, 'queue ARN'),
        // Not raw: the SNS envelope keeps the subject a person would read in their email.
        Attributes: {
          FilterPolicy: JSON.stringify({ team: [team] }),
          FilterPolicyScope: 'MessageAttributes',
        },
      }),
    );
    queues[team] = queueUrl;
  }
  return { topicArn, queues };
}

/** Reads and deletes every message now in the queue, oldest first as SQS hands them out. */
export async function drainInbox(
  sqs: Pick<SQSClient, 'send'>,
  queueUrl: string,
): Promise<ReceivedNotification[]> {
  const received: ReceivedNotification[] = [];
  for (;;) {
    const page = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = page.Messages ?? [];
    if (messages.length === 0) return received;
    for (const message of messages) {
      const envelope = JSON.parse(message.Body ?? '{}') as {
        Message?: string;
        Subject?: string;
        MessageAttributes?: Record<string, { Value?: string }>;
      };
      received.push({
        subject: envelope.Subject ?? '',
        body: JSON.parse(envelope.Message ?? '{}') as PhoenixNotification,
        attributes: Object.fromEntries(
          Object.entries(envelope.MessageAttributes ?? {}).map(([name, value]) => [name, value.Value ?? '']),
        ),
      });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

/** Every team's inbox, drained. */
export async function drainInboxes(
  sqs: Pick<SQSClient, 'send'>,
  inboxes: TeamInboxes,
): Promise<Record<string, ReceivedNotification[]>> {
  const all: Record<string, ReceivedNotification[]> = {};
  for (const [team, queueUrl] of Object.entries(inboxes.queues)) all[team] = await drainInbox(sqs, queueUrl);
  return all;
}
