/**
 * Claims: on the instance a remediation replaces (taken with its lease, settled with its
 * release: one replacement per instance, docs/adr/0021-one-replacement-per-instance.md), and
 * on the new Auto Scaling instance that is its replacement.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../../domain/errors';
import { nonNegativeInteger, type StateTableHandle } from '../handle';
import {
  CONDITIONS,
  epochSeconds,
  type InstanceClaim,
  instanceClaimFromItem,
  instanceClaimItem,
  instanceClaimKey,
  instanceClaimReplaced,
  REPLACED_CLAIM_TTL_SECONDS,
  replacementClaimItem,
} from '../schema';
import { failedCondition } from './conditional';
import { leaveGroupLock } from './group-locks';
import { queueIsEmpty } from './queue';

/** Who claims which instance, for which fleet. */
export interface ClaimRequest {
  instanceId: string;
  /** The execution ARN. */
  holder: string;
  fleet: string;
}

/** The put of the holder's claim on the instance: free, expired, or its own already (a retried step). */
export function instanceClaimPut(
  table: StateTableHandle,
  request: ClaimRequest,
  acquiredAt: string,
  expiresAt: number,
  nowSeconds: number,
) {
  return {
    TableName: table.name,
    Item: instanceClaimItem({ ...request, acquiredAt, expiresAt }),
    ConditionExpression: CONDITIONS.freeOrHeld,
    ExpressionAttributeValues: { ':now': { N: String(nowSeconds) }, ':holder': { S: request.holder } },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

/**
 * Claims `request.instanceId` for the holder with one conditional put. `taken`: this request
 * took it (it was not the holder's already); `heldBy`: refused, the claim of the one who
 * holds it.
 */
export async function claimInstance(
  table: StateTableHandle,
  request: ClaimRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<{ taken: boolean; heldBy?: InstanceClaim }> {
  const acquiredAt = new Date(nowSeconds * 1000).toISOString();
  try {
    const { Attributes } = await table.dynamodb.send(
      new PutItemCommand({
        ...instanceClaimPut(table, request, acquiredAt, expiresAt, nowSeconds),
        ReturnValues: 'ALL_OLD',
      }),
    );
    const before = instanceClaimFromItem(request.instanceId, Attributes);
    const wasMine =
      before !== undefined && before.holder === request.holder && before.expiresAt >= nowSeconds;
    return { taken: !wasMine };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return {
      taken: false,
      heldBy: instanceClaimFromItem(request.instanceId, error.Item) ?? {
        instanceId: request.instanceId,
        holder: 'unknown',
        acquiredAt,
        expiresAt,
      },
    };
  }
}

/**
 * Ends `holder`'s claim on replacing `instanceId`: given back when nothing was replaced (the
 * drift's next attempt may replace it), or, with `replacedBy`, kept for
 * {@link REPLACED_CLAIM_TTL_SECONDS} as the record that it was replaced, so no one replaces
 * it again while it is leaving. A free claim (absent, expired) counts as the holder's: an
 * execution started before claims existed, a claim that outlived its TTL. False when the
 * claim is another holder's live one (this one's expired and was taken): it is left alone.
 */
export async function settleInstanceClaim(
  table: StateTableHandle,
  instanceId: string,
  holder: string,
  replacedBy?: string,
): Promise<boolean> {
  try {
    await table.dynamodb.send(
      replacedBy === undefined
        ? new DeleteItemCommand(claimGivenBack(table, instanceId, holder))
        : new UpdateItemCommand(claimKeptAsReplaced(table, instanceId, holder, replacedBy)),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** The claim's settlement as a transaction item (see {@link settleInstanceClaim}). */
export function settleClaimItem(
  table: StateTableHandle,
  instanceId: string,
  holder: string,
  replacedBy: string | undefined,
): TransactWriteItem {
  return replacedBy === undefined
    ? { Delete: claimGivenBack(table, instanceId, holder) }
    : { Update: claimKeptAsReplaced(table, instanceId, holder, replacedBy) };
}

/**
 * Who may settle an instance's claim: its holder, or anyone once it is free (absent: an
 * execution started before claims existed, or removed by DynamoDB's TTL; or expired). Never
 * another holder's live claim.
 */
function claimGivenBack(table: StateTableHandle, instanceId: string, holder: string) {
  return {
    TableName: table.name,
    Key: instanceClaimKey(instanceId),
    ConditionExpression: CONDITIONS.freeOrHeld,
    ExpressionAttributeValues: {
      ':holder': { S: holder },
      ':now': { N: String(epochSeconds(table.clock())) },
    },
  };
}

/** The claim kept as the record of the replacement: over no claim, or the holder's own, never another's. */
function claimKeptAsReplaced(
  table: StateTableHandle,
  instanceId: string,
  holder: string,
  replacedBy: string,
) {
  const now = table.clock();
  const replaced = instanceClaimReplaced({
    holder,
    replacedBy,
    replacedAt: now.toISOString(),
    expiresAt: epochSeconds(now) + REPLACED_CLAIM_TTL_SECONDS,
  });
  return {
    TableName: table.name,
    Key: instanceClaimKey(instanceId),
    UpdateExpression: replaced.update,
    ConditionExpression: CONDITIONS.absentOrHeld,
    ExpressionAttributeValues: replaced.values,
  };
}

/**
 * Claims a freshly launched Auto Scaling instance as `holder`'s replacement. Several
 * replacements of one group may be in flight, and the group's new instances carry nothing
 * that says which execution asked for them: the first to claim one owns it. True when
 * `holder` owns it (now or already). With `releaseGroupLock`, the holder's lock on that group
 * is given back in the same transaction.
 */
export async function claimReplacement(
  table: StateTableHandle,
  instanceId: string,
  holder: string,
  ttlSeconds: number,
  options: { releaseGroupLock?: string } = {},
): Promise<boolean> {
  return (await claimReplacementSeeingQueue(table, instanceId, holder, ttlSeconds, options)).claimed;
}

/**
 * {@link claimReplacement}; with `seeQueueOf` and a group lock given back, also whether anyone
 * waits in that fleet's queue (a condition in the same transaction: nothing to read when
 * nobody does; when someone does, the claim is sent again without it).
 */
export async function claimReplacementSeeingQueue(
  table: StateTableHandle,
  instanceId: string,
  holder: string,
  ttlSeconds: number,
  options: { releaseGroupLock?: string; seeQueueOf?: string } = {},
): Promise<{ claimed: boolean; waiters: boolean }> {
  if (instanceId === '' || holder === '')
    throw new InvalidInputError('a replacement claim needs an instance and a holder');
  nonNegativeInteger('ttlSeconds', ttlSeconds);
  const nowSeconds = epochSeconds(table.clock());
  const claim = {
    TableName: table.name,
    Item: replacementClaimItem({ instanceId, holder, expiresAt: nowSeconds + ttlSeconds }),
    ConditionExpression: CONDITIONS.freeOrHeld,
    ExpressionAttributeValues: { ':holder': { S: holder }, ':now': { N: String(nowSeconds) } },
  };
  const group = options.releaseGroupLock;
  const fleet = options.seeQueueOf;
  if (group !== undefined) {
    // Found and claimed is when the holder lets the next execution change the group: both at once.
    try {
      await table.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: claim },
            { Update: leaveGroupLock(table, group, holder) },
            ...(fleet === undefined ? [] : [{ ConditionCheck: queueIsEmpty(table, fleet) }]),
          ],
        }),
      );
      return { claimed: true, waiters: false };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (failedCondition(reasons[0])) return { claimed: false, waiters: false };
      if (fleet !== undefined && failedCondition(reasons[2]) && !failedCondition(reasons[1])) {
        const claimed = await claimReplacementSeeingQueue(table, instanceId, holder, ttlSeconds, {
          releaseGroupLock: group,
        });
        return { claimed: claimed.claimed, waiters: true };
      }
      if (!failedCondition(reasons[1])) throw error;
      // The lock is no longer the holder's (it expired): the claim alone.
    }
  }
  try {
    await table.dynamodb.send(new PutItemCommand(claim));
    return { claimed: true, waiters: false };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { claimed: false, waiters: false };
    throw error;
  }
}
