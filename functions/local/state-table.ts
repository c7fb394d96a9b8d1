/**
 * The state table a local run uses: a deployed stack's, named, or a local one created with the
 * deployed key schema and TTL.
 */

import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { STATE_TABLE } from '../aws/state-table/schema/table';
import { StateTableMissingError } from './errors';

/** The state table reconcile creates (when missing) if no table is named. */
export const DEFAULT_TABLE_NAME = 'phoenix-state';

/**
 * Makes sure the state table exists. A named table (`--table`, a deployed stack's) must
 * exist; the default local table is created with the deployed key schema and TTL.
 * Returns whether it was created.
 */
export async function ensureStateTable(
  dynamodb: Pick<DynamoDBClient, 'send'>,
  tableName: string,
  options: { create: boolean },
): Promise<boolean> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    return false;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
    if (!options.create) {
      throw new StateTableMissingError(
        `state table ${tableName} does not exist on this endpoint: pass the table of the deployed Phoenix stack (its TableName output), or leave --table out to use a local ${DEFAULT_TABLE_NAME} table`,
      );
    }
  }
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: STATE_TABLE.partitionKey.name, AttributeType: STATE_TABLE.partitionKey.type },
        { AttributeName: STATE_TABLE.sortKey.name, AttributeType: STATE_TABLE.sortKey.type },
      ],
      KeySchema: [
        { AttributeName: STATE_TABLE.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: STATE_TABLE.sortKey.name, KeyType: 'RANGE' },
      ],
    }),
  );
  await waitUntilTableExists(
    { client: dynamodb as DynamoDBClient, maxWaitTime: 120, minDelay: 1 },
    { TableName: tableName },
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: STATE_TABLE.timeToLiveAttribute, Enabled: true },
    }),
  );
  return true;
}
