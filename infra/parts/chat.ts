/**
 * Chat channels (Slack or Microsoft Teams, through AWS Chatbot) for teams, each receiving
 * only the notifications its filter lets through, rendered for chat, and able to read but
 * never act.
 *
 * AWS Chatbot subscribes itself to the topics of a channel configuration, with no filter
 * policy of its own, and renders only AWS events it knows and its custom-notification
 * schema. So each channel gets its own topic, fed by the chat relay: one Lambda, invoked
 * through one alias per channel, each alias subscribed to Phoenix's topic with the
 * channel's filter policy; the relay rewrites the message for chat and publishes it to the
 * channel's topic (docs/adr/0017-chat-through-a-relay.md).
 *
 * The channel role and the guardrail hold the same read-only actions: describe the fleets'
 * instances and groups, read alarms, read Phoenix's executions. A guardrail caps what any
 * role used from the channel may do, so even a user role cannot act from it.
 */

import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnMicrosoftTeamsChannelConfiguration, CfnSlackChannelConfiguration } from 'aws-cdk-lib/aws-chatbot';
import {
  type IManagedPolicy,
  ManagedPolicy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Alias } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { type ITopic, Subscription, SubscriptionProtocol, Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ChatChannelError } from '../errors';
import type { PhoenixFunction } from './functions';
import { regionalArn } from './iam-scoping';
import { acknowledgeWildcardResources, allow } from './nag';
import { filterPolicyOf, type NotificationFilter } from './topic';

/** What every chat channel has, whatever the platform. */
export interface ChatChannelBase extends NotificationFilter {
  /**
   * The channel's name in Phoenix: letters, digits, `-` and `_`, unique among the channels.
   * It names the Chatbot configuration (`phoenix-<name>`, unique in the account across
   * regions), the channel's topic and the relay alias `chat-<name>`.
   */
  readonly name: string;
  /**
   * Managed policies that cap what anyone may do from the channel.
   * @default - Phoenix's read-only policy (the channel role's own actions)
   */
  readonly guardrailPolicies?: readonly IManagedPolicy[];
  /**
   * What Chatbot logs to CloudWatch Logs about this channel.
   * @default 'ERROR'
   */
  readonly loggingLevel?: 'ERROR' | 'INFO' | 'NONE';
}

/** A Slack channel in a workspace authorised in the AWS Chatbot console. */
export interface SlackChatChannel extends ChatChannelBase {
  readonly platform: 'slack';
  /** The Slack workspace (team) ID shown in the Chatbot console, e.g. `T0123ABCD`. */
  readonly workspaceId: string;
  /** The Slack channel ID, e.g. `C0123ABCD` (a private channel needs the Chatbot app invited). */
  readonly channelId: string;
}

/** A Microsoft Teams channel of a team authorised in the AWS Chatbot console. */
export interface TeamsChatChannel extends ChatChannelBase {
  readonly platform: 'microsoft-teams';
  /** The Microsoft Entra tenant ID. */
  readonly tenantId: string;
  /** The Microsoft Teams team ID (the `groupId` of the team's link). */
  readonly teamId: string;
  /**
   * The channel ID from the channel's link, e.g. `19%3aabc…%40thread.tacv2`; given decoded
   * (`19:abc…@thread.tacv2`), it is encoded as Chatbot expects.
   */
  readonly channelId: string;
}

/** The Teams channel ID as Chatbot's CloudFormation resource takes it: URL-encoded, as in the channel's link. */
export function teamsChannelIdOf(channelId: string): string {
  return channelId.includes('%') ? channelId : encodeURIComponent(channelId);
}

export type ChatChannel = SlackChatChannel | TeamsChatChannel;

const NAME = /^[A-Za-z0-9_-]{1,60}$/;

/** The relay alias of a channel. */
export function chatAliasName(channel: Pick<ChatChannel, 'name'>): string {
  return `chat-${channel.name}`;
}

/** Checks names are usable and unique. @throws ChatChannelError */
export function checkChatChannels(channels: readonly ChatChannel[]): void {
  const seen = new Set<string>();
  for (const channel of channels) {
    if (!NAME.test(channel.name)) {
      throw new ChatChannelError(
        `chat channel ${JSON.stringify(channel.name)}: a name is 1 to 60 letters, digits, - or _`,
      );
    }
    if (seen.has(channel.name)) throw new ChatChannelError(`chat channel ${channel.name} is declared twice`);
    seen.add(channel.name);
  }
}

/** The read-only actions of the channel role and guardrail, with the narrowest resources AWS allows. */
function readOnlyStatements(
  stateMachineName: string,
): Array<{ actions: string[]; resources: string[]; reason?: string }> {
  return [
    {
      actions: [
        'autoscaling:DescribeAutoScalingGroups',
        'cloudwatch:DescribeAlarms',
        'cloudwatch:GetMetricData',
        'ec2:DescribeInstances',
      ],
      resources: ['*'],
      reason:
        'Read-only calls with no resource-level permissions (EC2 and Auto Scaling Describe*, CloudWatch ' +
        'DescribeAlarms and GetMetricData): the Service Authorization Reference lists no resource type for them, ' +
        'so "*" is the only resource IAM accepts; they let a channel show the state of the fleets and alarms.',
    },
    {
      actions: ['states:DescribeExecution'],
      resources: [regionalArn('states', `execution:${stateMachineName}:*`)],
      reason:
        "Execution ARNs end in a name chosen at run time; the prefix pins them to Phoenix's remediate-instance " +
        'state machine, so the channel reads only its executions.',
    },
  ];
}

export interface ChatChannelsProps {
  readonly channels: readonly ChatChannel[];
  /** Phoenix's topic, the source of every channel's messages. */
  readonly source: ITopic;
  /** The key of Phoenix's topic; the channel topics use it too. */
  readonly key: IKey;
  /** Where messages that cannot be relayed go (SNS delivery failures and failed relay invocations). */
  readonly deliveryFailures: IQueue;
  readonly stateMachineName: string;
  readonly removalPolicy: RemovalPolicy;
}

/** Per channel: a topic and a Chatbot configuration; shared: the read-only role and guardrail. */
export class ChatChannels extends Construct {
  /** Each channel's topic, by channel name. */
  readonly topics: ReadonlyMap<string, Topic>;
  /** The role every channel configuration uses: read-only. */
  readonly role: Role;
  /** The default guardrail: the same read-only actions, as a managed policy. */
  readonly guardrail: ManagedPolicy;
  private readonly props: ChatChannelsProps;

  constructor(scope: Construct, id: string, props: ChatChannelsProps) {
    super(scope, id);
    checkChatChannels(props.channels);
    this.props = props;

    this.role = new Role(this, 'ChannelRole', {
      assumedBy: new ServicePrincipal('chatbot.amazonaws.com'),
      description: 'Phoenix chat channels (AWS Chatbot): read-only',
    });
    this.guardrail = new ManagedPolicy(this, 'Guardrail', {
      description: 'Phoenix chat channels: the most anyone may do from a channel (read-only)',
    });
    for (const statement of readOnlyStatements(props.stateMachineName)) {
      allow(this.role, {
        actions: statement.actions,
        resources: statement.resources,
        ...(statement.reason === undefined ? {} : { wildcardReason: statement.reason }),
      });
      this.guardrail.addStatements(
        new PolicyStatement({ actions: statement.actions, resources: statement.resources }),
      );
      if (statement.reason !== undefined) {
        acknowledgeWildcardResources(this.guardrail, statement.resources, statement.reason);
      }
    }

    const topics = new Map<string, Topic>();
    for (const channel of props.channels) {
      const topic = new Topic(this, `${channel.name}Topic`, {
        displayName: `Phoenix chat: ${channel.name}`,
        masterKey: props.key,
        enforceSSL: true,
      });
      topics.set(channel.name, topic);
      const guardrails = (channel.guardrailPolicies ?? [this.guardrail]).map((p) => p.managedPolicyArn);
      const common = {
        configurationName: `phoenix-${channel.name}`,
        iamRoleArn: this.role.roleArn,
        snsTopicArns: [topic.topicArn],
        guardrailPolicies: guardrails,
        loggingLevel: channel.loggingLevel ?? 'ERROR',
        userRoleRequired: false,
      };
      if (channel.platform === 'slack') {
        new CfnSlackChannelConfiguration(this, `${channel.name}Slack`, {
          ...common,
          slackWorkspaceId: channel.workspaceId,
          slackChannelId: channel.channelId,
        });
      } else {
        new CfnMicrosoftTeamsChannelConfiguration(this, `${channel.name}Teams`, {
          ...common,
          teamsTenantId: channel.tenantId,
          teamId: channel.teamId,
          teamsChannelId: teamsChannelIdOf(channel.channelId),
        });
      }
    }
    this.topics = topics;
  }

  /** `PHOENIX_CHAT_ROUTES` for the relay: each channel's alias name → its topic ARN. */
  routesJson(): string {
    return Stack.of(this).toJsonString(
      Object.fromEntries(
        this.props.channels.map((c) => [chatAliasName(c), this.topics.get(c.name)?.topicArn]),
      ),
    );
  }

  /**
   * Subscribes the relay to Phoenix's topic once per channel, through the channel's alias
   * and with the channel's filter policy, and lets it publish to the channel topics.
   */
  connect(relay: PhoenixFunction): void {
    const { source, deliveryFailures, key } = this.props;
    for (const channel of this.props.channels) {
      const alias = new Alias(this, `${channel.name}Route`, {
        aliasName: chatAliasName(channel),
        version: relay.function.currentVersion,
        description: `Phoenix chat channel ${channel.name}`,
        onFailure: new SqsDestination(deliveryFailures),
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
      });
      alias.addPermission('InvokedByTopic', {
        principal: new ServicePrincipal('sns.amazonaws.com'),
        sourceArn: source.topicArn,
      });
      // The alias's ARN written out (function ARN + `:alias`), not a reference to the alias:
      // CloudFormation's validation takes a reference to an alias for a wrong endpoint type.
      const subscription = new Subscription(this, `${channel.name}Subscription`, {
        topic: source,
        protocol: SubscriptionProtocol.LAMBDA,
        endpoint: `${relay.function.functionArn}:${alias.aliasName}`,
        filterPolicy: filterPolicyOf(channel),
        deadLetterQueue: deliveryFailures,
      });
      subscription.node.addDependency(alias);
    }
    allow(relay.role, {
      actions: ['sns:Publish'],
      resources: [...this.topics.values()].map((t) => t.topicArn),
    });
    allow(relay.role, { actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] });
  }
}
