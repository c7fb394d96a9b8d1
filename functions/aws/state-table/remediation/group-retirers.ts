/**
 * Retirements first: a retirement (an old member handed back, a rollback) refused the group's
 * lock registers as waiting in the group's `retirers` item, and no surge takes the lock while
 * one waits (docs/adr/0009-asg-surge-without-races.md). Finishing replacements is never starved
 * by starting new ones.
 */
import { type CancellationReason, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import { type GroupLock, groupRetirersKey } from '../schema';

/** How long a waiting retirement's registration holds surges off without being renewed (each of its tries renews it). */
export const RETIRER_WAIT_SECONDS = 300;

/**
 * What a surge is told when retirements wait for the group's lock (the `retirers` item's
 * cancellation reason, from {@link noRetirerWaits}): no holder to name, and how many wait.
 */
export function retirersRefusal(
  group: string,
  reason: CancellationReason | undefined,
  nowSeconds: number,
): { heldBy: GroupLock; retirersFirst: number } {
  return {
    heldBy: {
      group,
      holder: 'retirements waiting for it',
      instanceId: 'unknown',
      acquiredAt: new Date(nowSeconds * 1000).toISOString(),
      expiresAt: nowSeconds,
    },
    retirersFirst: reason?.Item?.holders?.SS?.length ?? 1,
  };
}

/** A condition, for a transaction: no retirement waits for the group's lock (or their registration lapsed). */
export function noRetirerWaits(table: StateTableHandle, group: string, nowSeconds: number) {
  return {
    TableName: table.name,
    Key: groupRetirersKey(group),
    ConditionExpression: 'attribute_not_exists(holders) OR expiresAt < :now',
    ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/** Registers `holder` as a retirement waiting for the lock, and holds surges off for {@link RETIRER_WAIT_SECONDS} more. */
export async function retirerWaits(
  table: StateTableHandle,
  group: string,
  holder: string,
  nowSeconds: number,
) {
  await table.dynamodb.send(
    new UpdateItemCommand({
      TableName: table.name,
      Key: groupRetirersKey(group),
      UpdateExpression: 'ADD holders :me SET expiresAt = :until',
      ExpressionAttributeValues: {
        ':me': { SS: [holder] },
        ':until': { N: String(nowSeconds + RETIRER_WAIT_SECONDS) },
      },
    }),
  );
}

/**
 * `holder` ended without the lock it waited for (a rollback that ran out of retries): it no
 * longer holds surges off. Every other registration leaves with its lock or lapses.
 */
export async function forgetRetirer(table: StateTableHandle, group: string, holder: string): Promise<void> {
  await table.dynamodb.send(new UpdateItemCommand(retirerServed(table, group, holder)));
}

/** `holder` has the lock: no longer waiting for it (the set's last member gone, surges may go). */
export function retirerServed(table: StateTableHandle, group: string, holder: string) {
  return {
    TableName: table.name,
    Key: groupRetirersKey(group),
    UpdateExpression: 'DELETE holders :me',
    ExpressionAttributeValues: { ':me': { SS: [holder] } },
  };
}
