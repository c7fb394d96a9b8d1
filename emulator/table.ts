/**
 * Phoenix's state table in the emulated account, with the key schema infra deploys (both from
 * the schema's {@link STATE_TABLE}): `pk` (S) + `sk` (S), on-demand, TTL on `expiresAt`.
 */
import {
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { STATE_TABLE } from '../functions/aws/state-table/schema';

/** Creates the table and turns TTL on; returns its name. */
export async function createStateTable(dynamodb: DynamoDBClient, name: string): Promise<string> {
  const { partitionKey, sortKey, timeToLiveAttribute } = STATE_TABLE;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: partitionKey.name, AttributeType: partitionKey.type },
        { AttributeName: sortKey.name, AttributeType: sortKey.type },
      ],
      KeySchema: [
        { AttributeName: partitionKey.name, KeyType: 'HASH' },
        { AttributeName: sortKey.name, KeyType: 'RANGE' },
      ],
    }),
  );
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30, minDelay: 1 }, { TableName: name });
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: timeToLiveAttribute, Enabled: true },
    }),
  );
  return name;
}

/**
 * The client with its requests sent one at a time.
 *
 * DynamoDB evaluates a conditional write atomically; moto's threaded server does not (two
 * simultaneous conditional puts on one key can both succeed). Serialising the requests
 * restores per-request atomicity in the emulator, so concurrency tests check our logic and
 * not moto's missing lock. Production code uses the client as is.
 */
export function atomicDynamoDB(dynamodb: DynamoDBClient): Pick<DynamoDBClient, 'send'> {
  let queue: Promise<unknown> = Promise.resolve();
  const send = ((command: Parameters<DynamoDBClient['send']>[0]) => {
    const result = queue.then(() => dynamodb.send(command));
    queue = result.catch(() => undefined);
    return result;
  }) as DynamoDBClient['send'];
  return { send };
}
