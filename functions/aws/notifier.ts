/**
 * Publishes Phoenix notifications to the SNS topic teams subscribe to.
 *
 * Message building is pure (`functions/domain/notification.ts`); this adapter only sends.
 * SDK errors propagate unchanged (their names, e.g. `ThrottlingException`, are what the
 * callers' retries and the state machine's `Retry` clauses match), after the SDK's own
 * retries with backoff.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  notificationAttributes,
  notificationBody,
  notificationSubject,
  type PhoenixNotification,
} from '../domain/notification';

/** Anything that can publish a notification (the SNS notifier, or a fake in tests). */
export interface NotificationPublisher {
  publish(n: PhoenixNotification): Promise<void>;
}

/** Sends each notification as one SNS message with a subject, a JSON body and filterable attributes. */
export class Notifier implements NotificationPublisher {
  constructor(
    private readonly sns: Pick<SNSClient, 'send'>,
    private readonly topicArn: string,
  ) {}

  /** Publishes one notification; resolves once SNS has accepted it. */
  async publish(n: PhoenixNotification): Promise<void> {
    const attributes = notificationAttributes(n);
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: notificationSubject(n),
        Message: notificationBody(n),
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [
            name,
            { DataType: 'String', StringValue: value },
          ]),
        ),
      }),
    );
  }
}
