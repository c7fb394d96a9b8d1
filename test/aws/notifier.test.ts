import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { Notifier } from '../../functions/aws/notifier';
import { buildNotification, type PhoenixNotification } from '../../functions/domain/notification';
import { testClients } from '../helpers/emulator';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:phoenix';

function notification(overrides: Partial<PhoenixNotification> = {}): PhoenixNotification {
  return {
    ...buildNotification({
      event: 'remediation.failed',
      fleet: 'web',
      team: 'team-web',
      instanceId: 'i-0123456789abcdef0',
      replacementId: 'i-0fedcba9876543210',
      reasons: [
        {
          kind: 'image',
          field: 'imageId',
          expected: 'ami-new',
          actual: 'ami-old',
          source: 'launch-template',
        },
      ],
      desiredState: { revision: 'abcdef012345', commit: '3f2a1c9' },
      message: 'The replacement never became healthy; the old instance is back in service.',
    }),
    ...overrides,
  };
}

describe('Notifier.publish (mocked SNS)', () => {
  // Mock one client instance, not the class: the emulated-account tests below use real ones.
  const client = new SNSClient({ region: 'us-east-1' });
  const sns = mockClient(client);
  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('sends one message to the topic with subject, JSON body and string attributes', async () => {
    const n = notification();

    await new Notifier(client, TOPIC).publish(n);

    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent?.TopicArn).toBe(TOPIC);
    expect(sent?.Subject).toBe('[Phoenix] web: replacement of i-0123456789abcdef0 FAILED (image)');
    expect(JSON.parse(sent?.Message ?? '')).toEqual(n);
    expect(sent?.MessageAttributes).toEqual({
      event: { DataType: 'String', StringValue: 'remediation.failed' },
      fleet: { DataType: 'String', StringValue: 'web' },
      team: { DataType: 'String', StringValue: 'team-web' },
      severity: { DataType: 'String', StringValue: 'critical' },
    });
  });

  it('lets an SNS error reach the caller under its own name', async () => {
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));

    await expect(new Notifier(client, TOPIC).publish(notification())).rejects.toMatchObject({
      name: 'NotFoundException',
    });
  });
});

describe('Notifier.publish (emulated account)', () => {
  it('delivers to a queue subscribed with a team filter policy, and not to another team', async () => {
    const { sns, sqs } = testClients();
    const topic = await sns.send(new CreateTopicCommand({ Name: 'phoenix-notifier-test' }));
    const topicArn = topic.TopicArn ?? '';

    async function subscribedQueue(name: string, team: string): Promise<string> {
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      const url = queue.QueueUrl ?? '';
      const attrs = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
      );
      await sns.send(
        new SubscribeCommand({
          TopicArn: topicArn,
          Protocol: 'sqs',
          Endpoint: attrs.Attributes?.QueueArn ?? '',
          Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ team: [team] }) },
        }),
      );
      return url;
    }
    const webQueue = await subscribedQueue('team-web', 'team-web');
    const dbQueue = await subscribedQueue('team-db', 'team-db');

    const n = notification();
    await new Notifier(sns, topicArn).publish(n);

    const web = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: webQueue,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    const db = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dbQueue, MaxNumberOfMessages: 10 }));
    expect(web.Messages).toHaveLength(1);
    expect(JSON.parse(web.Messages?.[0]?.Body ?? '')).toEqual(n);
    expect(web.Messages?.[0]?.MessageAttributes?.event?.StringValue).toBe('remediation.failed');
    expect(db.Messages ?? []).toHaveLength(0);
  });
});
