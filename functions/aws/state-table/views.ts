/**
 * Read-only views the evaluator's store and the remediation's coordination share. GetItem
 * only: the evaluator bundles this module (see handle.ts).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from './handle';
import { epochSeconds, type GroupLock, groupLockFromItem, groupLockKey } from './schema';

/** The live lock on a group, if any (an expired one is reported as none). */
export async function liveGroupLock(table: StateTableHandle, group: string): Promise<GroupLock | undefined> {
  const { Item } = await table.dynamodb.send(
    new GetItemCommand({ TableName: table.name, Key: groupLockKey(group), ConsistentRead: true }),
  );
  const lock = groupLockFromItem(group, Item);
  if (lock === undefined || lock.expiresAt < epochSeconds(table.clock())) return undefined;
  return lock;
}
