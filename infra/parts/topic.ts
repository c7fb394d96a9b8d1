/**
 * The notification topic: KMS-encrypted with a rotating customer-managed key, TLS enforced,
 * and optional subscriptions, each with a filter policy on the message attributes the
 * notifier sets (`team`, `event`), so every team receives only its own fleets' news.
 *
 * A platform may bring its own topic instead; it must be encrypted with a customer-managed
 * key Phoenix is told about (alarms and the functions publish with it).
 */

import { createHash } from 'node:crypto';
import { Annotations, Aws, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import {
  type ITopic,
  Subscription,
  SubscriptionFilter,
  SubscriptionProtocol,
  Topic,
} from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NotificationTopicError } from '../errors';
import { deadLetterQueue } from './dead-letter-queue';

/** Which notifications a subscriber receives: an SNS filter policy on the message attributes. */
export interface NotificationFilter {
  /**
   * Only notifications of these teams (filter on the `team` attribute). Alarms carry no
   * `team`, so a subscriber with a team filter does not receive them.
   * @default - every team, and the alarms
   */
  readonly teams?: readonly string[];
  /**
   * Only these events, e.g. `remediation.failed` (filter on the `event` attribute).
   * @default - every event
   */
  readonly events?: readonly string[];
}

/** One subscriber of Phoenix's notifications. */
export interface NotificationSubscription extends NotificationFilter {
  /** `email` (confirmed by the recipient), `sqs` (a queue ARN) or `https` (an endpoint URL). */
  readonly protocol: 'email' | 'sqs' | 'https';
  /** The address, queue ARN or URL. */
  readonly endpoint: string;
}

/** The SNS filter policy of a {@link NotificationFilter}; undefined when it lets everything through. */
export function filterPolicyOf(filter: NotificationFilter): Record<string, SubscriptionFilter> | undefined {
  const policy: Record<string, SubscriptionFilter> = {};
  if (filter.teams !== undefined && filter.teams.length > 0) {
    policy.team = SubscriptionFilter.stringFilter({ allowlist: [...filter.teams] });
  }
  if (filter.events !== undefined && filter.events.length > 0) {
    policy.event = SubscriptionFilter.stringFilter({ allowlist: [...filter.events] });
  }
  return Object.keys(policy).length > 0 ? policy : undefined;
}

const PROTOCOLS = {
  email: SubscriptionProtocol.EMAIL,
  sqs: SubscriptionProtocol.SQS,
  https: SubscriptionProtocol.HTTPS,
} as const;

export interface NotificationTopicProps {
  subscriptions: readonly NotificationSubscription[];
  removalPolicy: RemovalPolicy;
  /** A topic to use instead of creating one; it must be encrypted with a customer-managed key. */
  topic?: ITopic;
  /**
   * A Lambda function also delivers the topic's notifications (the chat relay): create the
   * delivery dead-letter queue even without subscriptions, as that function's dead-letter
   * queue too.
   */
  lambdaDelivers?: boolean;
}

export class NotificationTopic extends Construct {
  readonly topic: ITopic;
  /** The topic's encryption key: publishers need GenerateDataKey and Decrypt on it. */
  readonly key: IKey;
  /** Messages SNS could not deliver to a subscriber; only exists when there are subscriptions. */
  readonly deliveryFailures?: Queue;

  constructor(scope: Construct, id: string, props: NotificationTopicProps) {
    super(scope, id);
    if (props.topic === undefined) {
      const created = this.createTopic(props.removalPolicy);
      this.topic = created.topic;
      this.key = created.key;
    } else {
      const key = props.topic.masterKey;
      if (key === undefined) {
        throw new NotificationTopicError(
          `the notification topic ${props.topic.node.path} has no customer-managed key Phoenix knows of: ` +
            'encrypt it with one, and import it with Topic.fromTopicAttributes({ topicArn, keyArn })',
        );
      }
      this.topic = props.topic;
      this.key = key;
      this.allowAlarmsOn(props.topic, key);
    }

    if (props.subscriptions.length > 0 || props.lambdaDelivers === true) {
      this.deliveryFailures = deadLetterQueue(this, 'DeliveryFailures', {
        holds: 'notifications SNS could not deliver to a subscriber',
        removalPolicy: props.removalPolicy,
        lambdaDeadLetterTarget: props.lambdaDelivers === true,
      });
    }
    for (const subscription of props.subscriptions) {
      // Id from the endpoint: reordering the list must not replace (and re-confirm) subscriptions.
      const digest = createHash('sha256')
        .update(`${subscription.protocol}:${subscription.endpoint}`)
        .digest('hex')
        .slice(0, 12);
      new Subscription(this, `Subscription${digest}`, {
        topic: this.topic,
        protocol: PROTOCOLS[subscription.protocol],
        endpoint: subscription.endpoint,
        filterPolicy: filterPolicyOf(subscription),
        deadLetterQueue: this.deliveryFailures,
        // Queues get the notifier's attributes as SQS message attributes and the JSON body unwrapped.
        rawMessageDelivery: subscription.protocol === 'sqs',
      });
    }
  }

  private createTopic(removalPolicy: RemovalPolicy): { topic: Topic; key: Key } {
    const key = new Key(this, 'Key', {
      description: 'Phoenix notifications topic encryption',
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(30),
    });
    // CloudWatch alarms publish to the topic and must encrypt with its key.
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    const topic = new Topic(this, 'Topic', {
      displayName: 'Phoenix drift remediation',
      masterKey: key,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(alarmsMayPublish(topic));
    return { topic, key };
  }

  /**
   * Lets this account's alarms publish to a topic Phoenix was given. A topic or key imported
   * from elsewhere cannot be changed here: synth says so, and docs/deploy.md lists what
   * their policies must allow.
   */
  private allowAlarmsOn(topic: ITopic, key: IKey): void {
    const topicDone = topic.addToResourcePolicy(alarmsMayPublish(topic)).statementAdded;
    const keyDone = key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    ).statementAdded;
    if (!topicDone || !keyDone) {
      Annotations.of(this).addWarningV2(
        'phoenix:importedTopic',
        "Phoenix's alarms publish to the imported notification topic: its topic policy must let " +
          'cloudwatch.amazonaws.com publish (sns:Publish) and its key policy let it use the key ' +
          '(kms:Decrypt, kms:GenerateDataKey), for this account (docs/deploy.md).',
      );
    }
  }
}

function alarmsMayPublish(topic: ITopic): PolicyStatement {
  return new PolicyStatement({
    sid: 'AllowCloudWatchAlarmsToPublish',
    principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: {
        'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`,
      },
    },
  });
}
