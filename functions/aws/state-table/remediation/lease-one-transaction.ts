/**
 * The lease's fast path (launch before terminate, not too wide): one transaction takes a slot,
 * proves the holder holds no other, and checks or takes everything else the lease depends on
 * (the group's wave, the pause switch and quarantine, the instance's claim, the rollout's
 * admission, the queue or the waiter, the retirements waiting). A refusal names the first
 * condition that failed.
 */
import {
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import {
  CONDITIONS,
  groupLockFromItem,
  groupLockItem,
  groupLockKey,
  instanceClaimFromItem,
  LOCK_CONDITIONS,
  leaseItem,
  leaseKey,
  leaseSk,
  NOT_PAUSED,
  PAUSE_KEY,
  pauseFromItem,
  quarantineFromItem,
  quarantineKey,
  RENEW,
} from '../schema';
import { instanceClaimPut } from './claims';
import { failedCondition } from './conditional';
import type { RemediationGate } from './gate';
import { joinWaveUpdate, wayIntoHeldLock } from './group-locks';
import { noRetirerWaits, retirersRefusal } from './group-retirers';
import { type LeaseDecision, type LeaseRequest, leaseBase } from './lease-request';
import { queueIsEmpty, waiterPending } from './queue';
import {
  answeredReason,
  concurrencyReason,
  gateReason,
  groupBusyReason,
  groupRefusalReason,
  instanceClaimReason,
  queuedReason,
} from './reasons';
import { admissionUpdate, memberMarkerPut, rolloutMovedReason } from './rollout-admission';

/** Transaction conflicts a lease request sits out before it is denied (and backs off in the state machine). */
const MAX_CONFLICTS = 4;

/**
 * Slot `i` for the holder in one transaction that also proves it holds no other live slot
 * (a condition check per other slot), and takes the group lock if asked. A slot of its own
 * found by a check (a retried step) is taken again instead; a slot held by another moves
 * on to the next.
 */
export async function leaseInOneTransaction(
  table: StateTableHandle,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<LeaseDecision> {
  const values = { ':now': { N: String(nowSeconds) }, ':holder': { S: request.holder } };
  const acquiredAt = new Date(nowSeconds * 1000).toISOString();
  const lockIndex = request.maxConcurrent;
  const gateIndex = lockIndex + (request.groupLock === undefined ? 0 : 1);
  const claimIndex = gateIndex + (request.gate === undefined ? 0 : 2);
  let slot = 0;
  let conflicts = 0;
  // A surge founds its group's wave, or joins one that has not raised yet
  // (docs/adr/0034-waves.md), or, a retried step, renews its own membership.
  let lockWay: WaveWay = 'found';
  const waysTried = new Set<WaveWay>([lockWay]);
  while (slot < request.maxConcurrent) {
    const items: TransactWriteItem[] = [];
    for (let i = 0; i < request.maxConcurrent; i += 1) {
      const sk = leaseSk('slot', i);
      items.push(
        i === slot
          ? {
              Put: {
                TableName: table.name,
                Item: leaseItem({ ...leaseBase(request), sk, acquiredAt, expiresAt }),
                ConditionExpression: CONDITIONS.freeOrHeld,
                ExpressionAttributeValues: values,
              },
            }
          : {
              ConditionCheck: {
                TableName: table.name,
                Key: leaseKey(request.fleet, sk),
                ConditionExpression: CONDITIONS.notHeld,
                ExpressionAttributeValues: values,
              },
            },
      );
    }
    if (request.groupLock !== undefined)
      items.push(waveItem(table, request, request.groupLock, lockWay, acquiredAt, nowSeconds));
    if (request.gate !== undefined) {
      items.push(
        {
          ConditionCheck: {
            TableName: table.name,
            Key: PAUSE_KEY,
            ConditionExpression: NOT_PAUSED.condition,
            ExpressionAttributeValues: NOT_PAUSED.values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          ConditionCheck: {
            TableName: table.name,
            Key: quarantineKey(request.gate),
            ConditionExpression: CONDITIONS.absent,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      );
    }
    items.push({ Put: instanceClaimPut(table, request, acquiredAt, expiresAt, nowSeconds) });
    const rolloutIndex = items.length;
    if (request.rollout !== undefined)
      items.push(
        { Put: memberMarkerPut(table, request.rollout, request.holder, nowSeconds) },
        { Update: admissionUpdate(table, request.rollout) },
      );
    const queueIndex = items.length;
    if (request.behindQueue === true) items.push({ ConditionCheck: queueIsEmpty(table, request.fleet) });
    const waiterIndex = items.length;
    if (request.waiter !== undefined) items.push({ ConditionCheck: waiterPending(table, request.waiter) });
    // A surge goes after the retirements waiting for the group's lock (group-retirers.ts).
    const retirersIndex = items.length;
    if (request.groupLock !== undefined)
      items.push({ ConditionCheck: noRetirerWaits(table, request.groupLock.group, nowSeconds) });
    try {
      await table.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return {
        granted: true,
        lease: {
          ...leaseBase(request),
          items: [leaseSk('slot', slot)],
          expiresAt,
          groupLocked: request.groupLock !== undefined,
        },
      };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const claimReason = reasons[claimIndex];
      if (failedCondition(claimReason)) {
        const claim = instanceClaimFromItem(request.instanceId, claimReason?.Item) ?? {
          instanceId: request.instanceId,
          holder: 'unknown',
          acquiredAt,
          expiresAt,
        };
        return { granted: false, reason: instanceClaimReason(claim), instanceClaimedBy: claim };
      }
      if (request.behindQueue === true && failedCondition(reasons[queueIndex]))
        return { granted: false, reason: queuedReason(request.fleet), queued: true };
      if (request.waiter !== undefined && failedCondition(reasons[waiterIndex]))
        return { granted: false, reason: answeredReason(request), answered: true };
      if (request.groupLock !== undefined && failedCondition(reasons[retirersIndex])) {
        const refusal = retirersRefusal(request.groupLock.group, reasons[retirersIndex], nowSeconds);
        return { granted: false, reason: groupRefusalReason(refusal), groupHeldBy: refusal.heldBy };
      }
      if (
        request.rollout !== undefined &&
        (failedCondition(reasons[rolloutIndex]) || failedCondition(reasons[rolloutIndex + 1]))
      )
        return { granted: false, reason: rolloutMovedReason(request.rollout), rolloutMoved: true };
      const pauseReason = reasons[gateIndex];
      const quarantineReason = reasons[gateIndex + 1];
      if (request.gate !== undefined && (failedCondition(pauseReason) || failedCondition(quarantineReason))) {
        const gate: RemediationGate = {
          pause: failedCondition(pauseReason) ? pauseFromItem(pauseReason?.Item) : { paused: false },
        };
        if (failedCondition(quarantineReason) && quarantineReason?.Item !== undefined)
          gate.quarantine = quarantineFromItem(quarantineReason.Item);
        return { granted: false, reason: gateReason(gate), gateClosed: gate };
      }
      const lockReason = reasons[lockIndex];
      if (request.groupLock !== undefined && failedCondition(lockReason)) {
        const heldBy = groupLockFromItem(request.groupLock.group, lockReason?.Item) ?? {
          group: request.groupLock.group,
          holder: 'unknown',
          instanceId: 'unknown',
          acquiredAt,
          expiresAt: nowSeconds,
          members: [],
        };
        const next = wayIntoHeldLock(heldBy, request.holder, nowSeconds);
        if (next !== undefined && !waysTried.has(next)) {
          waysTried.add(next);
          lockWay = next;
          continue;
        }
        return { granted: false, reason: groupBusyReason(heldBy), groupHeldBy: heldBy };
      }
      const mine = reasons.findIndex((reason, i) => i !== slot && i < lockIndex && failedCondition(reason));
      if (mine >= 0) {
        slot = mine;
      } else if (failedCondition(reasons[slot])) {
        slot += 1;
      } else if (conflicts < MAX_CONFLICTS) {
        // Another transaction touched the same items at the same moment (many executions
        // start together after a template change): ask again after a short random pause.
        conflicts += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** conflicts));
      } else {
        return {
          granted: false,
          reason: `fleet ${request.fleet}: too many replacements asked for a slot at the same moment; asking again later`,
        };
      }
    }
  }
  return { granted: false, reason: concurrencyReason(request.fleet, request.maxConcurrent) };
}

/** How a surge's lease takes its group's lock: a new wave, another's open wave, or its own again. */
type WaveWay = 'found' | 'join' | 'renew';

/** The lock's part of a surge's one-transaction lease, the way asked. */
function waveItem(
  table: StateTableHandle,
  request: LeaseRequest,
  { group, ttlSeconds }: NonNullable<LeaseRequest['groupLock']>,
  way: WaveWay,
  acquiredAt: string,
  nowSeconds: number,
): TransactWriteItem {
  const expiresAt = nowSeconds + ttlSeconds;
  if (way === 'join') return { Update: joinWaveUpdate(table, group, request.holder, expiresAt, nowSeconds) };
  if (way === 'renew')
    return {
      Update: {
        TableName: table.name,
        Key: groupLockKey(group),
        UpdateExpression: RENEW,
        ConditionExpression: LOCK_CONDITIONS.member,
        ExpressionAttributeValues: {
          ':expiresAt': { N: String(expiresAt) },
          ':holder': { S: request.holder },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  return {
    Put: {
      TableName: table.name,
      Item: groupLockItem({
        group,
        holder: request.holder,
        instanceId: request.instanceId,
        acquiredAt,
        expiresAt,
        members: [request.holder],
        wave: true,
      }),
      ConditionExpression: LOCK_CONDITIONS.free,
      ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}
