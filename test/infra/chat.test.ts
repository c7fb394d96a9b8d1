/**
 * Chat channels through AWS Chatbot: per channel a topic fed by the chat relay through an
 * alias subscribed with the channel's filter policy, a Slack or Microsoft Teams
 * configuration on that topic, and a role and guardrail that can read but never act.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { ManagedPolicy } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChatChannelError } from '../../infra/errors';
import type { ChatChannel } from '../../infra/parts/chat';
import { allowedActions, decide, resolve, resolvedForAccount, statementsOfRole } from './helpers/iam';
import { logicalIdOf, resourcesOfType, type Synthesized, synthesize } from './helpers/synth';

const CHANNELS: ChatChannel[] = [
  { platform: 'slack', name: 'web', workspaceId: 'T0123ABCD', channelId: 'C0WEB0001', teams: ['web'] },
  {
    platform: 'microsoft-teams',
    name: 'payments-critical',
    tenantId: '11111111-2222-3333-4444-555555555555',
    teamId: '66666666-7777-8888-9999-000000000000',
    channelId: '19:abc@thread.tacv2',
    teams: ['payments'],
    events: ['remediation.failed', 'manual-action-required'],
  },
  { platform: 'slack', name: 'operators', workspaceId: 'T0123ABCD', channelId: 'C0OPS0001' },
];

let s: Synthesized;
beforeAll(async () => {
  s = await synthesize({ props: { chatChannels: CHANNELS } });
});

const chat = () => {
  if (s.remediator.chat === undefined) throw new Error('no chat');
  return s.remediator.chat;
};
const topicOf = (name: string) => {
  const topic = chat().channels.topics.get(name);
  if (topic === undefined) throw new Error(`no topic for ${name}`);
  return { Ref: logicalIdOf(s.stack, topic) };
};

describe('chat channels', () => {
  it('are absent unless asked for', async () => {
    const plain = await synthesize();
    expect(plain.remediator.chat).toBeUndefined();
    plain.template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
  });

  it('each have a KMS-encrypted, TLS-only topic of their own, delivered to Slack or Microsoft Teams', () => {
    s.template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      ConfigurationName: 'phoenix-web',
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0WEB0001',
      SnsTopicArns: [topicOf('web')],
      LoggingLevel: 'ERROR',
      UserRoleRequired: false,
    });
    s.template.hasResourceProperties('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', {
      ConfigurationName: 'phoenix-payments-critical',
      TeamsTenantId: '11111111-2222-3333-4444-555555555555',
      TeamId: '66666666-7777-8888-9999-000000000000',
      // Given decoded, encoded as in the channel's link (CloudFormation requires %3A and %40).
      TeamsChannelId: '19%3Aabc%40thread.tacv2',
      SnsTopicArns: [topicOf('payments-critical')],
    });
    s.template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 2);
    for (const name of ['web', 'payments-critical', 'operators']) {
      s.template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: {
          'Fn::GetAtt': [logicalIdOf(s.stack, s.remediator.topic.masterKey as never), 'Arn'],
        },
        DisplayName: `Phoenix chat: ${name}`,
      });
      s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [topicOf(name)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it("get their messages through the relay, subscribed to Phoenix's topic once per channel with the channel's filter policy", () => {
    const source = { Ref: logicalIdOf(s.stack, s.remediator.topic) };
    const aliasArn = (name: string) => {
      const alias = resourcesOfType(s.json, 'AWS::Lambda::Alias').find(
        ([, r]) => r.Properties?.Name === `chat-${name}`,
      );
      if (alias === undefined) throw new Error(`no alias chat-${name}`);
      return { Ref: alias[0] };
    };
    // The subscription names the alias by its ARN (the function's, qualified), and waits for it.
    const endpointOf = (name: string) => ({
      'Fn::Join': [
        '',
        [{ 'Fn::GetAtt': [logicalIdOf(s.stack, chat().relay.function), 'Arn'] }, `:chat-${name}`],
      ],
    });
    const redrive = { deadLetterTargetArn: Match.anyValue() };
    s.template.hasResource('AWS::SNS::Subscription', {
      DependsOn: Match.arrayWith([aliasArn('web').Ref]),
      Properties: Match.objectLike({ Endpoint: endpointOf('web') }),
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: source,
      Protocol: 'lambda',
      Endpoint: endpointOf('web'),
      FilterPolicy: { team: ['web'] },
      RedrivePolicy: redrive,
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      Endpoint: endpointOf('payments-critical'),
      FilterPolicy: { team: ['payments'], event: ['remediation.failed', 'manual-action-required'] },
    });
    // No filter: every team's notifications and the alarms.
    const operators = resourcesOfType(s.json, 'AWS::SNS::Subscription').find(
      ([, r]) => JSON.stringify(r.Properties?.Endpoint) === JSON.stringify(endpointOf('operators')),
    );
    expect(operators?.[1].Properties?.FilterPolicy).toBeUndefined();
    for (const name of ['web', 'payments-critical', 'operators']) {
      s.template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: aliasArn(name),
        Principal: 'sns.amazonaws.com',
        SourceArn: source,
      });
    }
  });

  it('route each alias to its own topic, and the relay may publish to those topics only', async () => {
    const relay = chat().relay;
    const [, fn] =
      resourcesOfType(s.json, 'AWS::Lambda::Function').find(
        ([id]) => id === logicalIdOf(s.stack, relay.function),
      ) ?? [];
    const environment = fn?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined;
    const variables = environment?.Variables ?? {};
    const routes = JSON.parse(resolve(variables.PHOENIX_CHAT_ROUTES)) as Record<string, string>;
    expect(routes).toEqual({
      'chat-web': resolve(topicOf('web')),
      'chat-payments-critical': resolve(topicOf('payments-critical')),
      'chat-operators': resolve(topicOf('operators')),
    });
    const statements = statementsOfRole(s.json, logicalIdOf(s.stack, relay.role));
    const publish = statements.filter((st) => st.Action.includes('sns:Publish'));
    expect(publish.flatMap((st) => st.Resource).sort()).toEqual(Object.values(routes).sort());
    expect(
      await decide(s.json, logicalIdOf(s.stack, relay.role), {
        action: 'sns:Publish',
        resource: String(resolvedForAccount(s.json, { Ref: logicalIdOf(s.stack, s.remediator.topic) })),
      }),
    ).toBe('implicitly denied');
    expect(allowedActions(statements).filter((a) => !/^(logs|xray|sqs):/.test(a))).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sns:Publish',
    ]);
  });

  it("send what cannot be relayed to the notifications' dead-letter queue, which is alarmed, and alarm on relay errors", () => {
    const configs = resourcesOfType(s.json, 'AWS::Lambda::EventInvokeConfig').filter(
      ([, r]) =>
        JSON.stringify(r.Properties?.FunctionName) ===
        JSON.stringify({ Ref: logicalIdOf(s.stack, chat().relay.function) }),
    );
    // The relay's live alias and one per channel.
    expect(configs).toHaveLength(4);
    const destinations = new Set(configs.map(([, r]) => JSON.stringify(r.Properties?.DestinationConfig)));
    expect(destinations.size).toBe(1);
    const destination = configs[0]?.[1].Properties?.DestinationConfig as
      | { OnFailure: { Destination: { 'Fn::GetAtt': [string, string] } } }
      | undefined;
    const queueId = destination?.OnFailure.Destination['Fn::GetAtt'][0];
    for (const [, config] of configs) expect(config.Properties?.MaximumRetryAttempts).toBe(2);
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: Match.arrayWith([
        Match.objectLike({ Value: { Ref: logicalIdOf(s.stack, chat().relay.function) } }),
      ]),
    });
  });
});

describe('what a channel may do', () => {
  const WRITES: Array<[string, string]> = [
    ['ec2:TerminateInstances', 'arn:aws:ec2:eu-central-1:123456789012:instance/i-0123456789abcdef0'],
    ['ec2:RunInstances', 'arn:aws:ec2:eu-central-1:123456789012:instance/*'],
    [
      'autoscaling:SetDesiredCapacity',
      'arn:aws:autoscaling:eu-central-1:123456789012:autoScalingGroup:*:autoScalingGroupName/web-prod',
    ],
    ['states:StartExecution', 'arn:aws:states:eu-central-1:123456789012:stateMachine:any'],
    ['states:StopExecution', 'arn:aws:states:eu-central-1:123456789012:execution:any:run'],
    ['dynamodb:PutItem', 'arn:aws:dynamodb:eu-central-1:123456789012:table/any'],
    ['lambda:InvokeFunction', 'arn:aws:lambda:eu-central-1:123456789012:function:any'],
    ['sns:Publish', 'arn:aws:sns:eu-central-1:123456789012:any'],
    ['iam:PassRole', 'arn:aws:iam::123456789012:role/any'],
    ['s3:GetObject', 'arn:aws:s3:::any/key'],
  ];

  it('is only to read: the channel role holds describe, alarm and execution reads', async () => {
    const statements = statementsOfRole(s.json, logicalIdOf(s.stack, chat().channels.role));
    expect(allowedActions(statements)).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'cloudwatch:DescribeAlarms',
      'cloudwatch:GetMetricData',
      'ec2:DescribeInstances',
      'states:DescribeExecution',
    ]);
    const role = logicalIdOf(s.stack, chat().channels.role);
    for (const [action, resource] of WRITES)
      expect(await decide(s.json, role, { action, resource }), action).toBe('implicitly denied');
    s.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({ Principal: { Service: 'chatbot.amazonaws.com' }, Action: 'sts:AssumeRole' }),
        ],
      },
    });
  });

  it('is capped by a read-only guardrail holding the same actions, on every channel', () => {
    const guardrailId = logicalIdOf(s.stack, chat().channels.guardrail);
    const guardrail = s.json.Resources[guardrailId];
    const document = guardrail?.Properties?.PolicyDocument as {
      Statement: Array<{ Action: string | string[] }>;
    };
    const actions = document.Statement.flatMap((st) =>
      Array.isArray(st.Action) ? st.Action : [st.Action],
    ).sort();
    expect(actions).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'cloudwatch:DescribeAlarms',
      'cloudwatch:GetMetricData',
      'ec2:DescribeInstances',
      'states:DescribeExecution',
    ]);
    for (const type of [
      'AWS::Chatbot::SlackChannelConfiguration',
      'AWS::Chatbot::MicrosoftTeamsChannelConfiguration',
    ]) {
      s.template.allResourcesProperties(type, {
        GuardrailPolicies: [{ Ref: guardrailId }],
        IamRoleArn: { 'Fn::GetAtt': [logicalIdOf(s.stack, chat().channels.role), 'Arn'] },
      });
    }
  });

  it('may be capped by guardrails the platform chooses', async () => {
    const custom = await synthesize({
      props: {
        chatChannels: [
          {
            ...CHANNELS[0],
            guardrailPolicies: [ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
          } as ChatChannel,
        ],
      },
    });
    custom.template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      GuardrailPolicies: [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] },
      ],
    });
  });
});

describe('chat channel names', () => {
  it.each([
    [[{ ...CHANNELS[0], name: 'web team' }], /a name is 1 to 60 letters/],
    [[CHANNELS[0], { ...CHANNELS[2], name: 'web' }], /chat channel web is declared twice/],
  ])('are checked at synth (%#)', async (channels, message) => {
    const attempt = () => synthesize({ props: { chatChannels: channels as ChatChannel[] } });
    await expect(attempt()).rejects.toThrow(ChatChannelError);
    await expect(attempt()).rejects.toThrow(message);
  });
});
