/**
 * The rollout store as an operator's `phoenix rollout list` needs it: every fleet's rollouts,
 * by a Scan of the `rollout#` partitions (it reads the whole table). Its own module so the
 * Lambdas, which bundle the store, never import the Scan nor need `dynamodb:Scan`.
 */
import { type AttributeValue, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { RolloutStore } from './rollout-store';
import { s } from './state-table/schema/table';

export class RolloutCatalog extends RolloutStore {
  protected override async everyFleet(): Promise<Record<string, AttributeValue>[]> {
    const { dynamodb, table } = this.access;
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: ScanCommandOutput = await dynamodb.send(
        new ScanCommand({
          TableName: table,
          ConsistentRead: true,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': s('rollout#') },
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }
}
