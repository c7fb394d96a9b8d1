/**
 * The chat path on the emulated account: Phoenix's notifier publishes to its topic; each
 * channel's subscription (with the very filter policy the synthesized stack gives it)
 * decides what reaches the channel; the relay, invoked through the channel's alias, rewrites
 * the message and publishes it to the channel's topic, where a queue stands in for AWS
 * Chatbot. moto cannot invoke Lambda from SNS, so the queue subscribed in the alias's place
 * hands its SNS envelopes to the relay as the Lambda service would.
 */
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SNSEvent, SNSMessageAttributes } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PhoenixClients } from '../../functions/aws/clients';
import { Notifier } from '../../functions/aws/notifier';
import { makeHandler, parseRoutes } from '../../functions/chat-relay/core';
import { ChatRouteError } from '../../functions/chat-relay/errors';
import type { ChatbotNotification } from '../../functions/domain/chat-notification';
import { buildNotification, type NotificationInput } from '../../functions/domain/notification';
import type { ChatChannel } from '../../infra/parts/chat';
import { resetEmulator, testClients } from '../helpers/emulator';
import { resolve } from '../infra/helpers/iam';
import { resourcesOfType, synthesize } from '../infra/helpers/synth';

const CHANNELS: ChatChannel[] = [
  { platform: 'slack', name: 'web', workspaceId: 'T1', channelId: 'C1', teams: ['web'] },
  {
    platform: 'microsoft-teams',
    name: 'payments',
    tenantId: 't',
    teamId: 'g',
    channelId: '19:x@thread.tacv2',
    teams: ['payments'],
    events: ['remediation.failed'],
  },
  { platform: 'slack', name: 'operators', workspaceId: 'T1', channelId: 'C9' },
];

const RELAY_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:phoenix-chat-relay';

async function queue(clients: PhoenixClients, name: string): Promise<{ url: string; arn: string }> {
  const { QueueUrl = '' } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  return { url: QueueUrl, arn: Attributes?.QueueArn ?? '' };
}

async function drain(clients: PhoenixClients, url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    // moto hands each message once per receive without a visibility timeout wait: delete by reading all.
    bodies.push(...Messages.map((m) => m.Body ?? ''));
    if (Messages.length < 10) return bodies;
  }
}

/** What the Lambda service hands the relay for one SNS delivery (from the SNS envelope SQS received). */
function snsEvent(envelope: string): SNSEvent {
  const sns = JSON.parse(envelope) as {
    MessageId: string;
    TopicArn: string;
    Subject?: string;
    Message: string;
    Timestamp: string;
    MessageAttributes?: SNSMessageAttributes;
  };
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${sns.TopicArn}:subscription`,
        Sns: {
          Type: 'Notification',
          MessageId: sns.MessageId,
          TopicArn: sns.TopicArn,
          Subject: sns.Subject ?? '',
          Message: sns.Message,
          Timestamp: sns.Timestamp,
          SignatureVersion: '1',
          Signature: '',
          SigningCertUrl: '',
          UnsubscribeUrl: '',
          MessageAttributes: sns.MessageAttributes ?? {},
        },
      },
    ],
  };
}

const base: NotificationInput = {
  event: 'drift.detected',
  fleet: 'web',
  team: 'web',
  instanceId: 'i-0web',
  reasons: [],
  desiredState: { revision: 'r1', commit: 'c1' },
  message: 'Drift detected.',
};

describe('notifications to chat channels (emulated account)', () => {
  let clients: PhoenixClients;
  let notifier: Notifier;
  const inbound = new Map<string, string>();
  const chatbot = new Map<string, string>();
  let routes: Record<string, string>;

  beforeAll(async () => {
    await resetEmulator();
    clients = testClients();
    const { TopicArn: phoenixTopic = '' } = await clients.sns.send(
      new CreateTopicCommand({ Name: 'phoenix' }),
    );
    notifier = new Notifier(clients.sns, phoenixTopic);

    const synthesized = await synthesize({ props: { chatChannels: CHANNELS } });
    const subscriptions = resourcesOfType(synthesized.json, 'AWS::SNS::Subscription');
    const aliases = resourcesOfType(synthesized.json, 'AWS::Lambda::Alias');
    routes = {};
    for (const channel of CHANNELS) {
      const [aliasId] = aliases.find(([, a]) => a.Properties?.Name === `chat-${channel.name}`) ?? [];
      expect(aliasId).toBeDefined();
      const [, subscription] =
        subscriptions.find(([, r]) => resolve(r.Properties?.Endpoint).endsWith(`:chat-${channel.name}`)) ??
        [];
      expect(subscription).toBeDefined();
      const filterPolicy = subscription?.Properties?.FilterPolicy;

      // In the alias's place: a queue with the same filter policy, envelope kept (as Lambda receives it).
      const toRelay = await queue(clients, `relay-${channel.name}`);
      await clients.sns.send(
        new SubscribeCommand({
          TopicArn: phoenixTopic,
          Protocol: 'sqs',
          Endpoint: toRelay.arn,
          Attributes: filterPolicy === undefined ? {} : { FilterPolicy: JSON.stringify(filterPolicy) },
        }),
      );
      inbound.set(channel.name, toRelay.url);

      // The channel's topic, and a queue where AWS Chatbot would be.
      const { TopicArn: channelTopic = '' } = await clients.sns.send(
        new CreateTopicCommand({ Name: `chat-${channel.name}` }),
      );
      const toChat = await queue(clients, `chatbot-${channel.name}`);
      await clients.sns.send(
        new SubscribeCommand({
          TopicArn: channelTopic,
          Protocol: 'sqs',
          Endpoint: toChat.arn,
          Attributes: { RawMessageDelivery: 'true' },
        }),
      );
      chatbot.set(channel.name, toChat.url);
      routes[`chat-${channel.name}`] = channelTopic;
    }
  });

  /** Publishes, lets every channel's relay alias handle what its subscription received, returns what each channel got. */
  async function deliver(...inputs: NotificationInput[]): Promise<Record<string, ChatbotNotification[]>> {
    for (const input of inputs) await notifier.publish(buildNotification(input));
    const relay = makeHandler({
      sns: clients.sns,
      routes: parseRoutes({ PHOENIX_CHAT_ROUTES: JSON.stringify(routes) }),
    });
    const received: Record<string, ChatbotNotification[]> = {};
    for (const channel of CHANNELS) {
      for (const envelope of await drain(clients, inbound.get(channel.name) ?? '')) {
        await relay(snsEvent(envelope), { invokedFunctionArn: `${RELAY_ARN}:chat-${channel.name}` });
      }
      received[channel.name] = (await drain(clients, chatbot.get(channel.name) ?? '')).map(
        (body) => JSON.parse(body) as ChatbotNotification,
      );
    }
    return received;
  }

  it("gives each team's channel only its team's notifications, and the unfiltered channel all of them", async () => {
    const received = await deliver(
      base,
      { ...base, event: 'remediation.failed', fleet: 'payments-api', team: 'payments', instanceId: 'i-0pay' },
      { ...base, event: 'drift.detected', fleet: 'payments-api', team: 'payments', instanceId: 'i-0pay2' },
    );
    const titles = (name: string) => (received[name] ?? []).map((n) => n.content.title);
    expect(titles('web')).toEqual([':warning: [Phoenix] web: drift detected on i-0web']);
    expect(titles('payments')).toEqual([
      ':rotating_light: [Phoenix] payments-api: replacement of i-0pay FAILED',
    ]);
    expect(titles('operators')).toHaveLength(3);
  });

  it("delivers Chatbot's custom-notification schema, never Phoenix's raw body", async () => {
    const received = await deliver(base);
    const [notification] = received.web ?? [];
    expect(notification).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { textType: 'client-markdown', description: expect.stringContaining('Drift detected.') },
      metadata: { threadId: 'phoenix-web-i-0web', eventType: 'drift.detected' },
    });
    expect(notification).not.toHaveProperty('schemaVersion');
  });

  it('refuses an invocation through an alias no channel is routed through', async () => {
    const relay = makeHandler({ sns: clients.sns, routes });
    const event = snsEvent(
      JSON.stringify({ MessageId: 'm', TopicArn: 't', Message: 'x', Timestamp: '2026-01-01T00:00:00Z' }),
    );
    await expect(relay(event, { invokedFunctionArn: `${RELAY_ARN}:chat-nobody` })).rejects.toThrow(
      ChatRouteError,
    );
    await expect(relay(event, { invokedFunctionArn: RELAY_ARN })).rejects.toThrow(/unqualified function/);
  });
});

describe('parseRoutes', () => {
  it.each([
    [{}, /PHOENIX_CHAT_ROUTES is not set/],
    [{ PHOENIX_CHAT_ROUTES: 'not json' }, /is not JSON/],
    [{ PHOENIX_CHAT_ROUTES: '{"chat-web":"not-an-arn"}' }, /PHOENIX_CHAT_ROUTES/],
    [{ PHOENIX_CHAT_ROUTES: '{"web":"arn:aws:sns:eu-central-1:123456789012:t"}' }, /PHOENIX_CHAT_ROUTES/],
  ])('fails the cold start with one line on %j', (env, message) => {
    expect(() => parseRoutes(env)).toThrow(ChatRouteError);
    expect(() => parseRoutes(env)).toThrow(message);
  });
});
