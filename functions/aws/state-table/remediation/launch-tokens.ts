/**
 * Phoenix's count of EC2's RunInstances resource tokens in this account and Region (see
 * `schema/launch-tokens.ts`). The granter sizes waves by it (docs/adr/0034-waves.md), so that a
 * replacement is granted only when its launch can happen about now, instead of holding a slot
 * and polling its health check while EC2 throttles the launch. A count of Phoenix's own
 * launches: launches by anyone else in the account are not in it (EC2 then throttles, and the
 * group retries, as before).
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  type Update,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import { LAUNCH_TOKENS_KEY, launchTokensFromItem, MS_PER_TOKEN, tokensLeft } from '../schema';

/** The tokens Phoenix counts EC2 has for launches now (a full bucket when none were counted). One read. */
export async function launchTokens(table: StateTableHandle): Promise<number> {
  const { Item } = await table.dynamodb.send(
    new GetItemCommand({ TableName: table.name, Key: LAUNCH_TOKENS_KEY, ConsistentRead: true }),
  );
  return tokensLeft(launchTokensFromItem(Item), table.clock().getTime());
}

/**
 * Which form a spend takes: `refilling` moves the moment the bucket is full again on from
 * where it is (it is later than now); `full` from now (the bucket is full, or was never counted).
 */
export type SpendForm = 'refilling' | 'full';

/** `count` launches asked of EC2 just now: counted (one update, two when the form guessed is wrong). */
export async function spendLaunchTokens(table: StateTableHandle, count: number): Promise<void> {
  if (!(count > 0)) return;
  for (const form of ['refilling', 'full', 'refilling'] as const) {
    try {
      await table.dynamodb.send(new UpdateItemCommand(spendUpdate(table, count, form)));
      return;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

/** The update that counts `count` launches, in the form given (a transaction item: a raise's launches). */
export function spendUpdate(table: StateTableHandle, count: number, form: SpendForm): Update {
  const nowMs = table.clock().getTime();
  const delta = Math.round(count * MS_PER_TOKEN);
  return form === 'refilling'
    ? {
        TableName: table.name,
        Key: LAUNCH_TOKENS_KEY,
        UpdateExpression: 'SET fullAtMs = fullAtMs + :delta',
        ConditionExpression: 'fullAtMs >= :now',
        ExpressionAttributeValues: { ':delta': { N: String(delta) }, ':now': { N: String(nowMs) } },
      }
    : {
        TableName: table.name,
        Key: LAUNCH_TOKENS_KEY,
        UpdateExpression: 'SET fullAtMs = :until',
        ConditionExpression: 'attribute_not_exists(fullAtMs) OR fullAtMs < :now',
        ExpressionAttributeValues: { ':until': { N: String(nowMs + delta) }, ':now': { N: String(nowMs) } },
      };
}
