/**
 * The lease's slow path (a disruptive or very wide lease): the fleet's live leases read first,
 * then one conditional put per slot or dip tried, then the group lock. Each write is
 * conditional on its own item, so the budget holds however the writes interleave; a refusal
 * gives back what this request took.
 */
import { ConditionalCheckFailedException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { StateTableHandle } from '../handle';
import { CONDITIONS, isLeaseSk, leaseItem, leaseSk } from '../schema';
import { acquireGroupLock } from './group-locks';
import {
  floorRefusal,
  type LeaseDecision,
  type LeaseRequest,
  leaseBase,
  liveLeases,
  othersInFlight,
  type Refusal,
  releaseLeaseItem,
} from './lease-request';
import { isWaiterPending } from './queue';
import { answeredReason, concurrencyReason, groupRefusalReason } from './reasons';

/**
 * The slow path (a disruptive or very wide lease): the fleet's live leases read first, then
 * one conditional put per slot or dip tried, then the group lock. What the holder holds
 * already (a retried step) is renewed to the new expiry, not taken again, so everything it
 * is told it holds lives as long as it is told; a refusal gives back only what this request
 * took.
 */
export async function leaseReadingFirst(
  table: StateTableHandle,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
  floor: number,
  belowFloor: boolean,
): Promise<LeaseDecision> {
  const live = await liveLeases(table, request.fleet, nowSeconds);
  const mine: string[] = [];
  for (const item of live) {
    if (item.holder !== request.holder) continue;
    if (await putLeaseItem(table, item.sk, request, expiresAt, nowSeconds)) mine.push(item.sk);
  }
  const taken: string[] = [];
  const refuse = async (refusal: Refusal): Promise<LeaseDecision> => {
    await Promise.all(taken.map((sk) => releaseLeaseItem(table, request.fleet, sk, request.holder)));
    return refusal;
  };
  let slot = mine.find((sk) => isLeaseSk(sk, 'slot'));
  const dips = mine.filter((sk) => isLeaseSk(sk, 'dip'));
  if ((slot === undefined || dips.length < request.disruption) && belowFloor)
    return refuse(floorRefusal(request, floor, othersInFlight(live, request.holder)));
  if (slot === undefined) {
    slot = await takeOne(table, 'slot', request.maxConcurrent, request, expiresAt, nowSeconds);
    if (slot === undefined)
      return refuse({ granted: false, reason: concurrencyReason(request.fleet, request.maxConcurrent) });
    taken.push(slot);
  }
  // Headroom for disruptive replacements: one dip slot per instance the floor can spare.
  const dipsAllowed = request.healthy - floor;
  while (dips.length < request.disruption) {
    const dip = await takeOne(table, 'dip', dipsAllowed, request, expiresAt, nowSeconds);
    if (dip === undefined) {
      return refuse({
        granted: false,
        reason:
          `fleet ${request.fleet}: other replacements already use the ${dipsAllowed} instance(s) of headroom ` +
          `above its healthy floor of ${floor}`,
      });
    }
    taken.push(dip);
    dips.push(dip);
  }
  const lease = { ...leaseBase(request), items: [...mine, ...taken], expiresAt };
  if (request.waiter !== undefined && !(await isWaiterPending(table, request.waiter)))
    return refuse({ granted: false, reason: answeredReason(request), answered: true });
  if (request.groupLock === undefined) return { granted: true, lease: { ...lease, groupLocked: false } };
  const lock = await acquireGroupLock(table, {
    purpose: 'surge',
    wave: true,
    group: request.groupLock.group,
    holder: request.holder,
    instanceId: request.instanceId,
    ttlSeconds: request.groupLock.ttlSeconds,
  });
  if (lock.acquired) return { granted: true, lease: { ...lease, groupLocked: true } };
  return refuse({ granted: false, reason: groupRefusalReason(lock), groupHeldBy: lock.heldBy });
}

/** Tries `<kind>#0` … `<kind>#<count-1>` in turn; the sort key taken, or undefined if all are held. */
async function takeOne(
  table: StateTableHandle,
  kind: 'slot' | 'dip',
  count: number,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<string | undefined> {
  for (let i = 0; i < count; i += 1) {
    const sk = leaseSk(kind, i);
    if (await putLeaseItem(table, sk, request, expiresAt, nowSeconds)) return sk;
  }
  return undefined;
}

/** Puts one lease item for the holder if it is free, expired or its own already (renewed); false if held by another. */
async function putLeaseItem(
  table: StateTableHandle,
  sk: string,
  request: LeaseRequest,
  expiresAt: number,
  nowSeconds: number,
): Promise<boolean> {
  try {
    await table.dynamodb.send(
      new PutItemCommand({
        TableName: table.name,
        Item: leaseItem({
          ...leaseBase(request),
          sk,
          acquiredAt: new Date(nowSeconds * 1000).toISOString(),
          expiresAt,
        }),
        // A slot is free when nobody holds it or its holder's lease has run out.
        ConditionExpression: CONDITIONS.freeOrHeld,
        ExpressionAttributeValues: {
          ':now': { N: String(nowSeconds) },
          ':holder': { S: request.holder },
        },
      }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}
