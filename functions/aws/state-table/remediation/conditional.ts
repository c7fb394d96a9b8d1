/** The conditional writes the remediation's coordination shares. */
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import { CONDITIONS, type Item } from '../schema';

/** A delete of an item that takes effect only while `holder` holds it (a lease item, a lock). */
export function deleteIfHeld(table: StateTableHandle, key: Item, holder: string) {
  return {
    TableName: table.name,
    Key: key,
    ConditionExpression: CONDITIONS.held,
    ExpressionAttributeValues: { ':holder': { S: holder } },
  };
}

/** Whether a transaction item was cancelled because its condition failed. */
export function failedCondition(reason: CancellationReason | undefined): boolean {
  return reason?.Code === 'ConditionalCheckFailed';
}
