/**
 * Where failed deliveries wait for a human: encrypted, TLS-only SQS queues that keep a
 * message for the longest time SQS allows. Each has a depth alarm (see monitoring.ts).
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

export function deadLetterQueue(
  scope: Construct,
  id: string,
  props: {
    holds: string;
    removalPolicy: RemovalPolicy;
    /** A Lambda function's DeadLetterConfig targets it: cdk-nag then sees it as a dead-letter queue itself. */
    lambdaDeadLetterTarget?: boolean;
  },
): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: props.removalPolicy,
  });
  const why = `This queue is itself a dead-letter queue (${props.holds}); a queue behind it would only move the problem. Its depth is alarmed.`;
  if (props.lambdaDeadLetterTarget !== true) acknowledge(queue, 'AwsSolutions-SQS3', why);
  acknowledge(queue, 'Serverless-SQSRedrivePolicy', why);
  return queue;
}
