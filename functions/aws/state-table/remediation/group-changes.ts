/**
 * What the holder of a group's lock does to the group, recorded on the lock before it does it
 * (a retried step or a rollback knows what was, or may have been, done), and a wave's raise
 * marked once made (docs/adr/0034-waves.md).
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import {
  epochSeconds,
  GROUP_CHANGE_ATTRIBUTE,
  type GroupChange,
  type GroupLock,
  groupChangeValue,
  groupLockFromItem,
  groupLockKey,
  LOCK_CONDITIONS,
  lockMembers,
} from '../schema';
import { failedCondition } from './conditional';
import { type SpendForm, spendUpdate } from './launch-tokens';

/** What {@link recordGroupChange} found. */
export type RecordOutcome =
  | { outcome: 'recorded' }
  /** A change was recorded already (a retried step, another member): this is it, untouched, with the lock as found. */
  | { outcome: 'already-recorded'; change: GroupChange; lock: GroupLock }
  /** The holder does not hold the lock (never took it, or it expired). */
  | { outcome: 'not-held' }
  /** A wave's members are not the ones given (one joined or left, or a guess): these are they. */
  | { outcome: 'members-changed'; members: string[] };

/**
 * Records what the holder is about to do to the group, before doing it, unless a change is
 * recorded already (a retried step, or another member of the wave: this one gets that one
 * back, untouched). A wave's change is recorded only while its members are the ones it names
 * (`members-changed` when one joined or left since they were read: read again). `not-held`
 * when the holder is not a member (never took it, or it expired and someone else took it): do
 * nothing to the group then.
 */
export async function recordGroupChange(
  table: StateTableHandle,
  group: string,
  holder: string,
  change: GroupChange,
  options: { launches?: number; form?: SpendForm } = {},
): Promise<RecordOutcome> {
  const nowSeconds = epochSeconds(table.clock());
  const members = change.wave?.members;
  const record = {
    TableName: table.name,
    Key: groupLockKey(group),
    UpdateExpression: 'SET #change = :change',
    ConditionExpression: `${LOCK_CONDITIONS.memberLive} AND attribute_not_exists(#change)${
      members === undefined ? '' : ' AND size(holders) = :size'
    }`,
    ExpressionAttributeNames: { '#change': GROUP_CHANGE_ATTRIBUTE },
    ExpressionAttributeValues: {
      ':change': groupChangeValue(change),
      ':holder': { S: holder },
      ':now': { N: String(nowSeconds) },
      ...(members === undefined ? {} : { ':size': { N: String(members.length) } }),
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
  const refused = (item: Record<string, AttributeValue> | undefined): RecordOutcome => {
    const current = groupLockFromItem(group, item);
    if (current === undefined || !lockMembers(current).includes(holder) || current.expiresAt < nowSeconds)
      return { outcome: 'not-held' };
    if (current.change !== undefined)
      return { outcome: 'already-recorded', change: current.change, lock: current };
    return { outcome: 'members-changed', members: [...lockMembers(current)].sort() };
  };
  const launches = options.launches ?? 0;
  // The raise's launches are taken off the count of EC2's tokens with the record, in one
  // request; a conflict on that busy item is asked again, then the record goes alone.
  let form: SpendForm = options.form ?? 'refilling';
  for (let tries = 0; launches > 0 && tries < 3; tries += 1) {
    try {
      await table.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [{ Update: record }, { Update: spendUpdate(table, launches, form) }],
        }),
      );
      return { outcome: 'recorded' };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [reason, spendReason] = error.CancellationReasons ?? [];
      if (failedCondition(reason)) return refused(reason?.Item);
      // The count's form was guessed wrong (the bucket full, or refilling): the other one.
      if (failedCondition(spendReason)) form = form === 'refilling' ? 'full' : 'refilling';
    }
  }
  try {
    await table.dynamodb.send(new UpdateItemCommand(record));
    return { outcome: 'recorded' };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return refused(error.Item);
  }
}

/**
 * The wave's raise was made: a retried step of a member will not make it again. Or, with
 * `failed`, EC2 refused it for its launch: the other members fail as its closer did.
 */
export async function markGroupRaised(
  table: StateTableHandle,
  group: string,
  holder: string,
  failed?: { code: string; message: string },
): Promise<void> {
  try {
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: table.name,
        Key: groupLockKey(group),
        UpdateExpression: failed === undefined ? 'SET raiseMade = :yes' : 'SET raiseFailed = :failed',
        ConditionExpression: LOCK_CONDITIONS.member,
        ExpressionAttributeValues: {
          ...(failed === undefined
            ? { ':yes': { BOOL: true } }
            : { ':failed': { S: JSON.stringify(failed) } }),
          ':holder': { S: holder },
        },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
