/**
 * The fleet's queue as the table keeps it (schema/waiter.ts): parking a waiter, reading each
 * zone's head, and the three conditional writes that make a grant happen once whoever grants
 * (marked granted or failed, then removed, each only for the token parked).
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { queryAll, type StateTableHandle } from '../handle';
import {
  epochSeconds,
  num,
  queueGranterKey,
  queueZonesKey,
  STATE_TABLE,
  type Waiter,
  waiterFromItem,
  waiterItem,
  waiterKey,
  waiterPk,
} from '../schema';
import { failedCondition } from './conditional';

/** What parking a waiter did: parked (or parked again, in its place), or another execution waits for the same instance. */
export type ParkResult = { parked: true } | { parked: false; heldBy: Pick<Waiter, 'holder' | 'parkedAt'> };

/** Attempts at parking while a waiter of the same execution comes and goes (each a write that lost a race). */
const PARK_ATTEMPTS = 5;

/**
 * Parks `waiter` and counts it in its fleet's queue (one transaction). The same execution
 * parking again (its heartbeat lapsed: a new token) keeps its place and its count, its old
 * answer, if any, forgotten. Another execution waiting for the same instance (two runs that
 * saw the same drift) is never overwritten: its waiter is returned, and the caller stands
 * down, as it would for another's claim on the instance.
 */
export async function parkWaiter(table: StateTableHandle, waiter: Waiter): Promise<ParkResult> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await table.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: table.name,
                Item: waiterItem(waiter),
                ConditionExpression: `attribute_not_exists(${STATE_TABLE.partitionKey.name})`,
              },
            },
            {
              Update: {
                TableName: table.name,
                Key: queueZonesKey(waiter.fleet),
                UpdateExpression: 'ADD zones :zone, waiting :one',
                ExpressionAttributeValues: { ':zone': { SS: [waiter.az] }, ':one': { N: '1' } },
              },
            },
          ],
        }),
      );
      return { parked: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException && failedCondition(error.CancellationReasons?.[0])))
        throw error;
    }
    try {
      // Its own waiter: parked again in place (counted once, when first parked).
      await table.dynamodb.send(
        new UpdateItemCommand({
          TableName: table.name,
          Key: waiterKey(waiter),
          ConditionExpression: `attribute_exists(${STATE_TABLE.partitionKey.name}) AND holder = :holder`,
          UpdateExpression:
            'SET taskToken = :token, #data = :data, heartbeatAt = :at REMOVE granted, failed, answeredAt, sentAt',
          ExpressionAttributeNames: { '#data': 'data' },
          ExpressionAttributeValues: {
            ':token': { S: waiter.token },
            ':holder': { S: waiter.holder },
            ':data': { S: waiter.data },
            ':at': { S: waiter.heartbeatAt },
          },
        }),
      );
      return { parked: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const other = await getWaiter(table, waiter);
    if (other !== undefined && other.holder !== waiter.holder)
      return { parked: false, heldBy: { holder: other.holder, parkedAt: other.parkedAt } };
    // Gone between the two writes (answered and removed): park afresh.
    if (attempt >= PARK_ATTEMPTS)
      throw new Error(
        `could not park ${waiter.instanceId} in fleet ${waiter.fleet}'s queue: it changed under ${PARK_ATTEMPTS} attempts`,
      );
  }
}

/** A waiter a granter read: where it is parked, and the token it was parked with. */
export type PendingWaiter = Pick<Waiter, 'fleet' | 'az' | 'launchTime' | 'instanceId' | 'token'>;

/** A condition, for a transaction: the waiter is still parked with its token, unanswered. */
export function waiterPending(table: StateTableHandle, waiter: PendingWaiter) {
  return {
    TableName: table.name,
    Key: waiterKey(waiter),
    ConditionExpression:
      'taskToken = :token AND attribute_not_exists(granted) AND attribute_not_exists(failed)',
    ExpressionAttributeValues: { ':token': { S: waiter.token } },
  };
}

/** Whether the waiter is still parked with its token, unanswered (a consistent read). */
export async function isWaiterPending(table: StateTableHandle, waiter: PendingWaiter): Promise<boolean> {
  const found = await getWaiter(table, waiter);
  return (
    found !== undefined &&
    found.token === waiter.token &&
    found.granted === undefined &&
    found.failed === undefined
  );
}

/**
 * One admission at a time serves a fleet's queue (two at once would each read the zones'
 * counts before the other's grant, and both serve the same zone). Takes the fleet's granter
 * item for `id` if nobody holds it (or its holder's `ttlSeconds` ran out); false if another
 * admission holds it.
 */
export async function takeGranter(
  table: StateTableHandle,
  fleet: string,
  id: string,
  ttlSeconds: number,
): Promise<boolean> {
  const nowSeconds = epochSeconds(table.clock());
  try {
    await table.dynamodb.send(
      new PutItemCommand({
        TableName: table.name,
        Item: {
          ...queueGranterKey(fleet),
          holder: { S: id },
          expiresAt: { N: String(nowSeconds + ttlSeconds) },
        },
        ConditionExpression: `attribute_not_exists(${STATE_TABLE.partitionKey.name}) OR expiresAt < :now`,
        ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Asks the admission serving the fleet now to pass once more (what freed capacity since it
 * read the queue is then served): true if one holds the granter item and will see it; false if
 * none does any longer (the caller takes it itself).
 */
export async function askGranterAgain(table: StateTableHandle, fleet: string): Promise<boolean> {
  const nowSeconds = epochSeconds(table.clock());
  try {
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: queueGranterKey(fleet),
        UpdateExpression: 'SET again = :yes',
        ConditionExpression: `attribute_exists(${STATE_TABLE.partitionKey.name}) AND expiresAt >= :now`,
        ExpressionAttributeValues: { ':yes': { BOOL: true }, ':now': { N: String(nowSeconds) } },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * The admission `id` is done: it gives the granter item back unless it was asked to pass
 * again meanwhile. `left`: given back (or no longer its own); `again`: asked, and the request
 * taken off, so it passes once more still holding it. `force` gives it back whatever was asked.
 */
export async function leaveGranter(
  table: StateTableHandle,
  fleet: string,
  id: string,
  options: { force?: boolean } = {},
): Promise<'left' | 'again'> {
  try {
    await table.dynamodb.send(
      new DeleteItemCommand({
        TableName: table.name,
        Key: queueGranterKey(fleet),
        ConditionExpression:
          options.force === true ? 'holder = :me' : 'holder = :me AND attribute_not_exists(again)',
        ExpressionAttributeValues: { ':me': { S: id } },
      }),
    );
    return 'left';
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  if (options.force === true) return 'left';
  try {
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: queueGranterKey(fleet),
        UpdateExpression: 'REMOVE again',
        ConditionExpression: 'holder = :me',
        ExpressionAttributeValues: { ':me': { S: id } },
      }),
    );
    return 'again';
  } catch (error) {
    // Its time ran out and another admission holds it now: that one serves.
    if (error instanceof ConditionalCheckFailedException) return 'left';
    throw error;
  }
}

/** A fleet's queue: the zones that ever had a waiter, and how many wait now. */
export async function queueState(
  table: StateTableHandle,
  fleet: string,
): Promise<{ zones: string[]; waiting: number }> {
  const found = await table.dynamodb.send(
    new GetItemCommand({ TableName: table.name, Key: queueZonesKey(fleet), ConsistentRead: true }),
  );
  const zones = found.Item?.zones;
  return {
    zones: zones !== undefined && 'SS' in zones ? [...(zones.SS ?? [])].sort() : [],
    waiting: num(found.Item, 'waiting') ?? 0,
  };
}

/** The zones of a fleet's queue (those that ever had a waiter). */
export async function queueZones(table: StateTableHandle, fleet: string): Promise<string[]> {
  return (await queueState(table, fleet)).zones;
}

/** A condition, for a transaction: nobody waits in the fleet's queue. */
export function queueIsEmpty(table: StateTableHandle, fleet: string) {
  return {
    TableName: table.name,
    Key: queueZonesKey(fleet),
    ConditionExpression: 'attribute_not_exists(waiting) OR waiting < :one',
    ExpressionAttributeValues: { ':one': { N: '1' } },
  };
}

/** The first `limit` waiters of one zone, oldest launch time first (one Query, whatever the queue's length). */
export async function zoneHeads(
  table: StateTableHandle,
  fleet: string,
  az: string,
  limit: number,
): Promise<Waiter[]> {
  const { partitionKey } = STATE_TABLE;
  const page = await table.dynamodb.send(
    new QueryCommand({
      TableName: table.name,
      ConsistentRead: true,
      KeyConditionExpression: `${partitionKey.name} = :pk`,
      ExpressionAttributeValues: { ':pk': { S: waiterPk(fleet, az) } },
      Limit: limit,
    }),
  );
  return (page.Items ?? []).map(waiterFromItem);
}

/** Every waiter of one zone (the sweep's read). */
export async function listWaiters(table: StateTableHandle, fleet: string, az: string): Promise<Waiter[]> {
  return (await queryAll(table, waiterPk(fleet, az))).map(waiterFromItem);
}

/** One waiter, as it is now (undefined once removed). */
export async function getWaiter(
  table: StateTableHandle,
  key: Pick<Waiter, 'fleet' | 'az' | 'launchTime' | 'instanceId'>,
): Promise<Waiter | undefined> {
  const found = await table.dynamodb.send(
    new GetItemCommand({ TableName: table.name, Key: waiterKey(key), ConsistentRead: true }),
  );
  return found.Item === undefined ? undefined : waiterFromItem(found.Item);
}

/**
 * Writes the answer on the waiter before it is sent (`granted`: the lease result; `failed`:
 * the task failure), only if the waiter is still parked with `token` and unanswered: of two
 * granters, one answers. False when another did, or the execution parked again since.
 */
export async function answerWaiter(
  table: StateTableHandle,
  waiter: Waiter,
  answer: { granted: string } | { failed: string },
  at: string,
): Promise<boolean> {
  const [attribute, value] = 'granted' in answer ? ['granted', answer.granted] : ['failed', answer.failed];
  try {
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: waiterKey(waiter),
        UpdateExpression: `SET ${attribute} = :answer, answeredAt = :at`,
        ConditionExpression:
          'taskToken = :token AND attribute_not_exists(granted) AND attribute_not_exists(failed)',
        ExpressionAttributeValues: {
          ':answer': { S: value },
          ':token': { S: waiter.token },
          ':at': { S: at },
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** Removes the waiter parked with `token` (not a later place of the same execution), and its count. */
export async function removeWaiter(table: StateTableHandle, waiter: Waiter): Promise<void> {
  try {
    await table.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Delete: {
              TableName: table.name,
              Key: waiterKey(waiter),
              ConditionExpression: 'taskToken = :token',
              ExpressionAttributeValues: { ':token': { S: waiter.token } },
            },
          },
          {
            Update: {
              TableName: table.name,
              Key: queueZonesKey(waiter.fleet),
              UpdateExpression: 'ADD waiting :minus',
              ExpressionAttributeValues: { ':minus': { N: '-1' } },
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
  }
}

/**
 * Records that the answer on the waiter parked with `token` was sent to a token its granter
 * could not deliver itself (another process's): that process takes the answer from the table.
 */
export function markWaiterSent(table: StateTableHandle, waiter: Waiter, at: string): Promise<void> {
  return stampWaiter(table, waiter, 'sentAt', at, 'attribute_exists(answeredAt)');
}

/** Records a sign of life of the waiter parked with `token` (a heartbeat sent, or a local waiter still polling). */
export function touchWaiter(table: StateTableHandle, waiter: Waiter, at: string): Promise<void> {
  return stampWaiter(table, waiter, 'heartbeatAt', at);
}

/** Sets `attribute` to `at` on the waiter parked with its token (and meeting `also`); nothing once it parked again or left. */
async function stampWaiter(
  table: StateTableHandle,
  waiter: Waiter,
  attribute: 'sentAt' | 'heartbeatAt',
  at: string,
  also?: string,
): Promise<void> {
  try {
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: waiterKey(waiter),
        UpdateExpression: `SET ${attribute} = :at`,
        ConditionExpression: also === undefined ? 'taskToken = :token' : `taskToken = :token AND ${also}`,
        ExpressionAttributeValues: { ':at': { S: at }, ':token': { S: waiter.token } },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
