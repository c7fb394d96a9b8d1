/**
 * Phoenix's estimate of EC2's RunInstances resource tokens in this account and Region
 * (`account#ec2` / `run-instances-tokens`): what its own launches left of the bucket, refilled
 * at EC2's documented rate. The granter sizes waves by it (docs/adr/0034-waves.md), so that a
 * replacement is granted only when its launch can happen about now, instead of holding a slot
 * and polling its health check while EC2 throttles the launch. An estimate: launches by anyone
 * else in the account are not counted (EC2 then throttles, and the group retries, as before).
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { RUN_INSTANCES_BURST, RUN_INSTANCES_REFILL_PER_SECOND } from '../../../domain/estimate';
import type { StateTableHandle } from '../handle';
import { launchTokensFromItem, launchTokensItem, LAUNCH_TOKENS_KEY as TOKENS_KEY } from '../schema';

/** The bucket's level now, from a level and when it was read (refilled, at most the burst). */
export function refilled(level: number, atMs: number, nowMs: number): number {
  const elapsed = Math.max(0, nowMs - atMs) / 1000;
  return Math.min(RUN_INSTANCES_BURST, level + elapsed * RUN_INSTANCES_REFILL_PER_SECOND);
}

/**
 * The tokens Phoenix estimates EC2 has for launches now (a full bucket when none were
 * counted). Written back at its refilled level, conditional on nobody spending in between (a
 * spend then simply counts from the older reading): the item's level never drifts from its time.
 */
export async function launchTokens(table: StateTableHandle): Promise<number> {
  const nowMs = table.clock().getTime();
  const { Item } = await table.dynamodb.send(
    new GetItemCommand({ TableName: table.name, Key: TOKENS_KEY, ConsistentRead: true }),
  );
  const stored = launchTokensFromItem(Item);
  if (stored === undefined) return RUN_INSTANCES_BURST;
  const { level, atMs: at } = stored;
  const now = refilled(level, at, nowMs);
  try {
    await table.dynamodb.send(
      new PutItemCommand({
        TableName: table.name,
        Item: launchTokensItem({ level: now, atMs: nowMs }),
        ConditionExpression: '#level = :level AND atMs = :at',
        ExpressionAttributeNames: { '#level': 'level' },
        ExpressionAttributeValues: { ':level': { N: String(level) }, ':at': { N: String(at) } },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  return now;
}

/** `count` launches asked of EC2 just now: taken off the estimate (one atomic update). */
export async function spendLaunchTokens(table: StateTableHandle, count: number): Promise<void> {
  if (!(count > 0)) return;
  const nowMs = table.clock().getTime();
  await table.dynamodb.send(
    new UpdateItemCommand({
      TableName: table.name,
      Key: TOKENS_KEY,
      // A first spend starts the count from a full bucket, now.
      UpdateExpression:
        'SET #level = if_not_exists(#level, :full) - :count, atMs = if_not_exists(atMs, :now)',
      ExpressionAttributeNames: { '#level': 'level' },
      ExpressionAttributeValues: {
        ':full': { N: String(RUN_INSTANCES_BURST) },
        ':count': { N: String(count) },
        ':now': { N: String(nowMs) },
      },
    }),
  );
}
