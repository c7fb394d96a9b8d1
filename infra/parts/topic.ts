/**
 * The notification topic: KMS-encrypted with a rotating customer-managed key, TLS enforced,
 * and optional subscriptions, each with a filter policy on the message attributes the
 * notifier sets (`team`, `event`), so every team receives only its own fleets' news.
 */
import { createHash } from 'node:crypto';
import { Aws, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Subscription, SubscriptionFilter, SubscriptionProtocol, Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './dead-letter-queue';

/** One subscriber of Phoenix's notifications. */
export interface NotificationSubscription {
  /** `email` (confirmed by the recipient), `sqs` (a queue ARN) or `https` (an endpoint URL). */
  protocol: 'email' | 'sqs' | 'https';
  /** The address, queue ARN or URL. */
  endpoint: string;
  /** Only notifications of these teams (filter on the `team` attribute). Omit for every team. */
  teams?: readonly string[];
  /** Only these events, e.g. `remediation.failed` (filter on the `event` attribute). Omit for all. */
  events?: readonly string[];
}

const PROTOCOLS = {
  email: SubscriptionProtocol.EMAIL,
  sqs: SubscriptionProtocol.SQS,
  https: SubscriptionProtocol.HTTPS,
} as const;

export interface NotificationTopicProps {
  subscriptions: readonly NotificationSubscription[];
  removalPolicy: RemovalPolicy;
}

export class NotificationTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  /** Messages SNS could not deliver to a subscriber; only exists when there are subscriptions. */
  readonly deliveryFailures?: Queue;

  constructor(scope: Construct, id: string, props: NotificationTopicProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'Phoenix notifications topic encryption',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
      pendingWindow: Duration.days(30),
    });
    // CloudWatch alarms publish to the topic and must encrypt with its key.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    this.topic = new Topic(this, 'Topic', {
      displayName: 'Phoenix drift remediation',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: {
            'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`,
          },
        },
      }),
    );

    if (props.subscriptions.length > 0) {
      const failures = deadLetterQueue(this, 'DeliveryFailures', {
        holds: 'notifications SNS could not deliver to a subscriber',
        removalPolicy: props.removalPolicy,
      });
      this.deliveryFailures = failures;
      for (const subscription of props.subscriptions) {
        const filterPolicy: Record<string, SubscriptionFilter> = {};
        if (subscription.teams !== undefined && subscription.teams.length > 0) {
          filterPolicy.team = SubscriptionFilter.stringFilter({ allowlist: [...subscription.teams] });
        }
        if (subscription.events !== undefined && subscription.events.length > 0) {
          filterPolicy.event = SubscriptionFilter.stringFilter({ allowlist: [...subscription.events] });
        }
        // Id from the endpoint: reordering the list must not replace (and re-confirm) subscriptions.
        const digest = createHash('sha256')
          .update(`${subscription.protocol}:${subscription.endpoint}`)
          .digest('hex')
          .slice(0, 12);
        new Subscription(this, `Subscription${digest}`, {
          topic: this.topic,
          protocol: PROTOCOLS[subscription.protocol],
          endpoint: subscription.endpoint,
          filterPolicy: Object.keys(filterPolicy).length > 0 ? filterPolicy : undefined,
          deadLetterQueue: failures,
          // Queues get the notifier's attributes as SQS message attributes and the JSON body unwrapped.
          rawMessageDelivery: subscription.protocol === 'sqs',
        });
      }
    }
  }
}
