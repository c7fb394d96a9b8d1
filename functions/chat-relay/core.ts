/**
 * The chat relay: a message of Phoenix's topic, delivered to the alias of one chat channel
 * (its subscription carries that channel's filter policy), rewritten as a Chatbot custom
 * notification and published to the channel's own topic, which AWS Chatbot delivers to
 * Slack or Microsoft Teams. Why a relay at all: docs/adr/0017-chat-through-a-relay.md.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Context, SNSEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { chatNotificationFor } from '../domain/chat-notification';
import { InvalidInputError } from '../domain/errors';
import { validate } from '../runtime/validation';
import { ChatRouteError } from './errors';

export interface RelayDeps {
  sns: Pick<SNSClient, 'send'>;
  /** Channel alias name (`chat-<channel>`) → the channel's topic ARN. */
  routes: Readonly<Record<string, string>>;
  logger?: Pick<Logger, 'info'>;
}

/** The alias a function ARN was invoked through (`…:function:name:alias`), if any. */
export function aliasOf(invokedFunctionArn: string): string | undefined {
  const parts = invokedFunctionArn.split(':');
  return parts.length === 8 ? parts[7] : undefined;
}

/** Relays every record of one SNS delivery; returns how many were published. */
export async function relay(deps: RelayDeps, event: SNSEvent, invokedFunctionArn: string): Promise<number> {
  if (!Array.isArray(event?.Records)) {
    throw new InvalidInputError('the chat relay expects an SNS event (Records[].Sns)');
  }
  const alias = aliasOf(invokedFunctionArn);
  const topicArn = alias === undefined ? undefined : deps.routes[alias];
  if (topicArn === undefined) {
    throw new ChatRouteError(
      `invoked as ${invokedFunctionArn}: no chat channel is routed through ${alias === undefined ? 'an unqualified function' : `alias ${alias}`}`,
    );
  }
  let published = 0;
  for (const record of event.Records) {
    const notification = chatNotificationFor(record.Sns.Message, record.Sns.Subject ?? undefined);
    await deps.sns.send(new PublishCommand({ TopicArn: topicArn, Message: JSON.stringify(notification) }));
    published += 1;
  }
  return published;
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[^:]+:\d{12}:.+$/;
const Routes = z.record(
  z.string().check(z.regex(/^chat-[A-Za-z0-9_-]+$/)),
  z.string().check(z.regex(TOPIC_ARN)),
);

/** `PHOENIX_CHAT_ROUTES`: JSON `{ "chat-<channel>": "<topic ARN>" }`, set by infra. */
export function parseRoutes(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const text = env.PHOENIX_CHAT_ROUTES;
  if (text === undefined) throw new ChatRouteError('chat-relay cannot start: PHOENIX_CHAT_ROUTES is not set');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ChatRouteError('chat-relay cannot start: PHOENIX_CHAT_ROUTES is not JSON');
  }
  const parsed = validate(Routes, json, 'PHOENIX_CHAT_ROUTES');
  if (!parsed.ok) throw new ChatRouteError(`chat-relay cannot start: ${parsed.problem}`);
  return parsed.value;
}

/** The handler function over given dependencies (tests pass their own). */
export function makeHandler(
  deps: RelayDeps,
): (event: SNSEvent, context: Pick<Context, 'invokedFunctionArn'>) => Promise<number> {
  return async (event, context) => {
    const published = await relay(deps, event, context.invokedFunctionArn);
    deps.logger?.info('relayed to chat', { published });
    return published;
  };
}
