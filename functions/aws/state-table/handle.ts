/**
 * The state table as the stores reach it: the client, the table's name and the clock every
 * expiry is measured by, and the two multi-request reads they share. Read commands only
 * (Query, BatchGetItem): the evaluator bundles this module, and its role is granted what its
 * bundle imports.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../domain/errors';
import { type Item, STATE_TABLE } from './schema/table';

/** The stores read the time through this, so tests and the local runner control it. */
export type Clock = () => Date;

/** One state table, as every store over it holds it. */
export interface StateTableHandle {
  readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  /** The table's name. */
  readonly name: string;
  readonly clock: Clock;
}

/** Rounds of unprocessed keys a batch read asks again for before it gives up. */
const BATCH_ROUNDS = 5;

/**
 * Every item of a partition (or those whose sort key starts with `skPrefix`), strongly
 * consistent, page after page.
 */
export async function queryAll(table: StateTableHandle, pk: string, skPrefix?: string): Promise<Item[]> {
  const { partitionKey, sortKey } = STATE_TABLE;
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page: QueryCommandOutput = await table.dynamodb.send(
      new QueryCommand({
        TableName: table.name,
        ConsistentRead: true,
        KeyConditionExpression:
          skPrefix === undefined
            ? `${partitionKey.name} = :pk`
            : `${partitionKey.name} = :pk AND begins_with(${sortKey.name}, :prefix)`,
        ExpressionAttributeValues:
          skPrefix === undefined ? { ':pk': { S: pk } } : { ':pk': { S: pk }, ':prefix': { S: skPrefix } },
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/**
 * The items of `keys` that exist, in one strongly consistent batch read: DynamoDB may leave
 * keys unprocessed under load, and those only are asked for again. `what` names the reads in
 * the error when DynamoDB leaves them unprocessed {@link BATCH_ROUNDS} times.
 */
export async function batchGetAll(table: StateTableHandle, keys: Item[], what: string): Promise<Item[]> {
  const found: Item[] = [];
  let pending: Item[] | undefined = keys;
  for (let round = 0; pending !== undefined && pending.length > 0; round += 1) {
    if (round === BATCH_ROUNDS) throw new Error(`DynamoDB left ${what} unprocessed five times`);
    const page: BatchGetItemCommandOutput = await table.dynamodb.send(
      new BatchGetItemCommand({ RequestItems: { [table.name]: { Keys: pending, ConsistentRead: true } } }),
    );
    found.push(...(page.Responses?.[table.name] ?? []));
    pending = page.UnprocessedKeys?.[table.name]?.Keys;
  }
  return found;
}

/** @throws InvalidInputError unless `value` is a whole number ≥ 0. */
export function nonNegativeInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidInputError(`${name} must be a whole number ≥ 0, got ${value}`);
  }
}
