/**
 * The remediation's coordination in the state table: the gate read before a remediation
 * starts, budget leases, the Auto Scaling group locks and replacement claims, and their
 * release. Only the remediation steps (and tools that run them) need it; the evaluator
 * uses {@link StateStore}.
 *
 * A remediation's happy path is counted in calls (bench: remediation overhead), so the
 * common cases take one request each: the pause switch and the quarantine are read in one
 * batch, a launch-before-terminate lease and its group lock are one transaction (which also
 * checks the pause switch and the quarantine again, and claims the instance), a claim and the
 * lock's release are one transaction, and so is the final release of everything.
 *
 * Every lease is its own item taken with a conditional put, so two executions can never
 * hold the same slot: the concurrency limit holds without a lock or a read-modify-write.
 * Every lease also claims the instance it replaces (`instance#<id>`), so two executions
 * (two processes that named them alike, a local run beside the deployed stack) can never
 * replace one instance twice; the claim of a replaced instance is kept a while as the record
 * of it (docs/adr/0021-one-replacement-per-instance.md).
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  type CancellationReason,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../domain/errors';
import {
  belowFloorSentence,
  budgetFullSentence,
  groupBusySentence,
  instanceClaimSentence,
  pausedSentence,
  quarantinedAtLeaseSentence,
} from '../domain/gate/messages';
import {
  CONTROL_PK,
  epochSeconds,
  groupLockFromItem,
  groupLockKey,
  instanceClaimKey,
  nonNegativeInteger,
  num,
  PAUSE_SK,
  pauseFromItem,
  QUARANTINE_PK,
  quarantineFromItem,
  quarantineSk,
  str,
} from './state-items';
import {
  type GroupChange,
  type GroupLock,
  healthyFloor,
  type PauseState,
  type Quarantine,
  type QuarantineKey,
  StateStore,
} from './state-store';

export interface LeaseRequest {
  fleet: string;
  /** Unique per remediation (the execution ARN): only the holder releases its lease. */
  holder: string;
  /** The instance replaced: claimed with the lease, so no other holder replaces it meanwhile. */
  instanceId: string;
  /** Replacements in flight per fleet, this one included. */
  maxConcurrent: number;
  /** Healthy capacity may never fall below this share of `desired`. */
  minHealthyPercent: number;
  /** Healthy instances in the fleet right now, as measured by the caller. */
  healthy: number;
  /** The capacity the fleet is meant to have (ASG desired capacity, or the fleet size). */
  desired: number;
  /**
   * Instances this replacement takes out of service before its successor is healthy:
   * 0 for launch-before-terminate, 1 for standby-replace without MaxSize headroom.
   */
  disruption: number;
  /** The lease frees itself after this long, so a dead execution cannot block the fleet. */
  ttlSeconds: number;
  /**
   * Also take the lock on this Auto Scaling group's capacity, in the same transaction: a
   * surge changes the group next, and a lease without the lock (or the lock without a slot)
   * would only make the other wait for nothing.
   */
  groupLock?: { group: string; ttlSeconds: number };
  /**
   * Grant only while remediation is not paused and this launch template version is not
   * quarantined for the fleet, checked in the same transaction: a pause or a quarantine
   * written after the caller's own check still stops it.
   */
  gate?: QuarantineKey;
}

export interface Lease {
  fleet: string;
  holder: string;
  instanceId: string;
  /** Sort keys of the items held: one `slot#<i>` and, for a disruptive replacement, one `dip#<i>`. */
  items: string[];
  /** Epoch seconds. */
  expiresAt: number;
}

export type LeaseDecision =
  | { granted: true; lease: Lease & { groupLocked: boolean } }
  | {
      granted: false;
      reason: string;
      /** Set when the budget allowed it but the group lock is held by another execution. */
      groupHeldBy?: GroupLock;
      /** Set when remediation is paused or the version quarantined (see `LeaseRequest.gate`). */
      gateClosed?: RemediationGate;
      /** Set when another execution replaces the instance now, or replaced it. */
      instanceClaimedBy?: InstanceClaim;
    };

/** The pause switch and one version's quarantine, read together before a remediation starts. */
export interface RemediationGate {
  pause: PauseState;
  quarantine?: Quarantine;
  /** The instance's live claim, when asked for the instance and someone holds it. */
  instanceClaim?: InstanceClaim;
}

/** Who replaces an instance now (a live lease), or who replaced it (kept after the replacement). */
export interface InstanceClaim {
  instanceId: string;
  /** The execution ARN. */
  holder: string;
  acquiredAt: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** Set once the holder's replacement succeeded: the instance that took over. */
  replacedBy?: string;
  replacedAt?: string;
}

/** What {@link StateStore.recordGroupChange} found. */
export type RecordOutcome =
  | { outcome: 'recorded' }
  /** The holder had already recorded a change (a retried step): this is it, untouched. */
  | { outcome: 'already-recorded'; change: GroupChange }
  /** The holder does not hold the lock (never took it, or it expired). */
  | { outcome: 'not-held' };

export type GroupLockDecision =
  /** `reentered`: the holder had the lock already (a retried step); `lock` then carries what it recorded. */
  { acquired: true; lock: GroupLock; reentered: boolean } | { acquired: false; heldBy: GroupLock };

/**
 * How long an attempt generation is kept after it last moved. Step Functions refuses the name
 * of an ended Standard execution for 90 days; the generation must outlive that, plus the
 * longest execution (a week's wait for a maintenance window), or a drift could fall back onto
 * a name that is still refused.
 */
export const ATTEMPT_TTL_SECONDS = 120 * 24 * 3600;

/**
 * How long the claim of a replaced instance is kept: the old instance stays visible, running
 * and drifted, until it is gone, and no one may replace it meanwhile. A group member handed
 * back to its group is drained first (a deregistration delay: at most an hour) and waits for
 * its termination lifecycle hooks (by default at most two hours, extended by heartbeats up to
 * 48 hours); a standalone one is shutting down at once.
 */
export const REPLACED_CLAIM_TTL_SECONDS = 48 * 3600;

/** {@link StateStore} and the remediation's coordination. */
export class RemediationStore extends StateStore {
  /**
   * The pause switch and the quarantine of one launch template version for one fleet, in one
   * strongly consistent batch read: what a remediation must know before it may start. With
   * `instanceId`, the instance's claim too, when someone holds it (replacing it, or having
   * replaced it).
   */
  async remediationGate(key: QuarantineKey, instanceId?: string): Promise<RemediationGate> {
    const pauseKey = { pk: { S: CONTROL_PK }, sk: { S: PAUSE_SK } };
    const quarantineKey = { pk: { S: QUARANTINE_PK }, sk: { S: quarantineSk(key) } };
    const found: Record<string, AttributeValue>[] = [];
    let keys: Record<string, AttributeValue>[] | undefined = [pauseKey, quarantineKey];
    if (instanceId !== undefined) keys.push(instanceClaimKey(instanceId));
    // DynamoDB may leave keys unprocessed under load: ask again for those only.
    for (let round = 0; keys !== undefined && keys.length > 0; round += 1) {
      if (round === 5) throw new Error('DynamoDB left the pause and quarantine reads unprocessed five times');
      const page: BatchGetItemCommandOutput = await this.dynamodb.send(
        new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
      );
      found.push(...(page.Responses?.[this.table] ?? []));
      keys = page.UnprocessedKeys?.[this.table]?.Keys;
    }
    const pauseItem = found.find((item) => str(item, 'pk') === CONTROL_PK);
    const quarantineItem = found.find((item) => str(item, 'pk') === QUARANTINE_PK);
    const gate: RemediationGate = { pause: pauseFromItem(pauseItem) };
    if (quarantineItem !== undefined) gate.quarantine = quarantineFromItem(quarantineItem);
    if (instanceId !== undefined) {
      const claimItem = found.find((item) => str(item, 'pk') === str(instanceClaimKey(instanceId), 'pk'));
      const claim = instanceClaimFromItem(instanceId, claimItem);
      if (claim !== undefined && claim.expiresAt >= epochSeconds(this.clock())) gate.instanceClaim = claim;
    }
    return gate;
  }

  /**
   * Takes a replacement lease for `request.fleet`, or says why not.
   *
   * Granted only when fewer than `maxConcurrent` live leases exist for the fleet and the
   * healthy floor holds: `healthy - disruption` (and, for a disruptive replacement, minus
   * the disruptions other live leases may already cause) stays ≥ the floor. Counting other
   * leases' disruption even when `healthy` already reflects it errs on the side of safety.
   * And only when no other holder claims `request.instanceId`: the lease claims it, and a
   * refusal says who replaces it now or replaced it (`instanceClaimedBy`).
   *
   * Idempotent per holder: a Step Functions retry of the same execution gets its lease back.
   */
  async acquireLease(request: LeaseRequest): Promise<LeaseDecision> {
    validateLeaseRequest(request);
    const now = this.clock();
    const nowSeconds = epochSeconds(now);
    const expiresAt = nowSeconds + request.ttlSeconds;
    const pk = `lease#${request.fleet}`;

    const floor = healthyFloor(request.desired, request.minHealthyPercent);
    const belowFloor = request.healthy - request.disruption < floor;
    // Launch before terminate takes one slot and nothing else: one transaction, no read.
    if (request.disruption === 0 && request.maxConcurrent + ITEMS_BESIDE_SLOTS <= MAX_TRANSACTION_ITEMS) {
      if (belowFloor) return { granted: false, reason: floorReason(request, floor) };
      return this.#leaseInOneTransaction(request, pk, expiresAt, nowSeconds);
    }

    if (request.gate !== undefined) {
      // Not in one transaction with the slot-by-slot path: read just before it.
      const gate = await this.remediationGate(request.gate);
      if (gate.pause.paused || gate.quarantine !== undefined)
        return { granted: false, reason: gateReason(gate), gateClosed: gate };
    }
    // The instance first, given back if the lease is refused after all (unless it was the
    // holder's already: a retried step).
    const claim = await this.#claimInstance(request, expiresAt, nowSeconds);
    if (claim.heldBy !== undefined)
      return { granted: false, reason: instanceClaimReason(claim.heldBy), instanceClaimedBy: claim.heldBy };
    const decision = await this.#leaseReadingFirst(request, pk, expiresAt, nowSeconds, floor, belowFloor);
    if (!decision.granted && claim.taken) await this.settleInstanceClaim(request.instanceId, request.holder);
    return decision;
  }

  /**
   * The slow path (a disruptive or very wide lease): the fleet's live leases read first, then
   * one conditional put per slot or dip tried, then the group lock. What the holder holds
   * already (a retried step) is renewed to the new expiry, not taken again, so everything it
   * is told it holds lives as long as it is told; a refusal gives back only what this request
   * took.
   */
  async #leaseReadingFirst(
    request: LeaseRequest,
    pk: string,
    expiresAt: number,
    nowSeconds: number,
    floor: number,
    belowFloor: boolean,
  ): Promise<LeaseDecision> {
    const live = (await this.queryAll(pk)).filter((item) => (num(item, 'expiresAt') ?? 0) >= nowSeconds);
    const mine: string[] = [];
    for (const item of live) {
      const sk = str(item, 'sk') ?? '';
      if (str(item, 'holder') !== request.holder) continue;
      if (await this.#putLeaseItem(pk, sk, request, expiresAt, nowSeconds)) mine.push(sk);
    }
    const taken: string[] = [];
    const refuse = async (refusal: Extract<LeaseDecision, { granted: false }>): Promise<LeaseDecision> => {
      await Promise.all(taken.map((sk) => this.#releaseItem(pk, sk, request.holder)));
      return refusal;
    };
    let slot = mine.find((sk) => sk.startsWith('slot#'));
    const dips = mine.filter((sk) => sk.startsWith('dip#'));
    if ((slot === undefined || dips.length < request.disruption) && belowFloor)
      return refuse({ granted: false, reason: floorReason(request, floor) });
    if (slot === undefined) {
      slot = await this.#takeOne(pk, 'slot', request.maxConcurrent, request, expiresAt, nowSeconds);
      if (slot === undefined) return refuse({ granted: false, reason: concurrencyReason(request) });
      taken.push(slot);
    }
    // Headroom for disruptive replacements: one dip slot per instance the floor can spare.
    const dipsAllowed = request.healthy - floor;
    while (dips.length < request.disruption) {
      const dip = await this.#takeOne(pk, 'dip', dipsAllowed, request, expiresAt, nowSeconds);
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
    if (request.groupLock === undefined) return { granted: true, lease: { ...lease, groupLocked: false } };
    const lock = await this.acquireGroupLock({
      group: request.groupLock.group,
      holder: request.holder,
      instanceId: request.instanceId,
      ttlSeconds: request.groupLock.ttlSeconds,
    });
    if (lock.acquired) return { granted: true, lease: { ...lease, groupLocked: true } };
    return refuse({ granted: false, reason: groupBusyReason(lock.heldBy), groupHeldBy: lock.heldBy });
  }

  /**
   * Slot `i` for the holder in one transaction that also proves it holds no other live slot
   * (a condition check per other slot), and takes the group lock if asked. A slot of its own
   * found by a check (a retried step) is taken again instead; a slot held by another moves
   * on to the next.
   */
  async #leaseInOneTransaction(
    request: LeaseRequest,
    pk: string,
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
    while (slot < request.maxConcurrent) {
      const items: TransactWriteItem[] = [];
      for (let i = 0; i < request.maxConcurrent; i += 1) {
        const Key = { pk: { S: pk }, sk: { S: `slot#${i}` } };
        items.push(
          i === slot
            ? {
                Put: {
                  TableName: this.table,
                  Item: {
                    ...Key,
                    holder: { S: request.holder },
                    instanceId: { S: request.instanceId },
                    acquiredAt: { S: acquiredAt },
                    expiresAt: { N: String(expiresAt) },
                  },
                  ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR holder = :holder',
                  ExpressionAttributeValues: values,
                },
              }
            : {
                ConditionCheck: {
                  TableName: this.table,
                  Key,
                  ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR holder <> :holder',
                  ExpressionAttributeValues: values,
                },
              },
        );
      }
      if (request.groupLock !== undefined) {
        items.push({
          Put: {
            TableName: this.table,
            Item: groupLockItem({
              group: request.groupLock.group,
              holder: request.holder,
              instanceId: request.instanceId,
              acquiredAt,
              expiresAt: nowSeconds + request.groupLock.ttlSeconds,
            }),
            // A lock of its own is taken again (a retried step); the lease step comes before
            // any change to the group, so there is no recorded change to keep.
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR holder = :holder',
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        });
      }
      if (request.gate !== undefined) {
        items.push(
          {
            ConditionCheck: {
              TableName: this.table,
              Key: { pk: { S: CONTROL_PK }, sk: { S: PAUSE_SK } },
              ConditionExpression: 'attribute_not_exists(pk) OR paused = :running',
              ExpressionAttributeValues: { ':running': { BOOL: false } },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            ConditionCheck: {
              TableName: this.table,
              Key: { pk: { S: QUARANTINE_PK }, sk: { S: quarantineSk(request.gate) } },
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        );
      }
      items.push({ Put: this.#instanceClaimPut(request, acquiredAt, expiresAt, nowSeconds) });
      try {
        await this.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: items }));
        return {
          granted: true,
          lease: {
            ...leaseBase(request),
            items: [`slot#${slot}`],
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
        const pauseReason = reasons[gateIndex];
        const quarantineReason = reasons[gateIndex + 1];
        if (
          request.gate !== undefined &&
          (failedCondition(pauseReason) || failedCondition(quarantineReason))
        ) {
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
          };
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
    return { granted: false, reason: concurrencyReason(request) };
  }

  /**
   * Claims a freshly launched Auto Scaling instance as `holder`'s replacement. Several
   * replacements of one group may be in flight, and the group's new instances carry nothing
   * that says which execution asked for them: the first to claim one owns it. True when
   * `holder` owns it (now or already).
   */
  async claimReplacement(
    instanceId: string,
    holder: string,
    ttlSeconds: number,
    options: { releaseGroupLock?: string } = {},
  ): Promise<boolean> {
    if (instanceId === '' || holder === '')
      throw new InvalidInputError('a replacement claim needs an instance and a holder');
    nonNegativeInteger('ttlSeconds', ttlSeconds);
    const nowSeconds = epochSeconds(this.clock());
    const claim = {
      TableName: this.table,
      Item: {
        pk: { S: `replacement#${instanceId}` },
        sk: { S: 'claim' },
        holder: { S: holder },
        expiresAt: { N: String(nowSeconds + ttlSeconds) },
      },
      ConditionExpression: 'attribute_not_exists(pk) OR holder = :holder OR expiresAt < :now',
      ExpressionAttributeValues: { ':holder': { S: holder }, ':now': { N: String(nowSeconds) } },
    };
    const group = options.releaseGroupLock;
    if (group !== undefined) {
      // Found and claimed is when the holder lets the next execution change the group: both at once.
      try {
        await this.dynamodb.send(
          new TransactWriteItemsCommand({
            TransactItems: [{ Put: claim }, { Delete: this.#deleteIfHeld(groupLockKey(group), holder) }],
          }),
        );
        return true;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        if (failedCondition(error.CancellationReasons?.[0])) return false;
        if (!failedCondition(error.CancellationReasons?.[1])) throw error;
        // The lock is no longer the holder's (it expired): the claim alone.
      }
    }
    try {
      await this.dynamodb.send(new PutItemCommand(claim));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Takes the lock on an Auto Scaling group's capacity for `holder`, or says who holds it.
   *
   * Phoenix changes a group's desired capacity only under this lock: a surge reads the
   * CURRENT desired capacity and raises it by one, and keeps the lock until it has found and
   * claimed the instance the group launched; finishing (detach with decrement) and rollback
   * take it for their own changes. So no two executions ever compute a desired capacity from
   * the same reading, and no one's increment or decrement is lost in between.
   *
   * Re-entrant: the holder gets its lock back, with the change it recorded, and its expiry
   * renewed. A lock whose `expiresAt` has passed is free (its holder died).
   */
  async acquireGroupLock(request: {
    group: string;
    holder: string;
    instanceId: string;
    ttlSeconds: number;
  }): Promise<GroupLockDecision> {
    if (request.group === '' || request.holder === '')
      throw new InvalidInputError('a group lock needs a group and a holder');
    nonNegativeInteger('ttlSeconds', request.ttlSeconds);
    const now = this.clock();
    const nowSeconds = epochSeconds(now);
    const lock: GroupLock = {
      group: request.group,
      holder: request.holder,
      instanceId: request.instanceId,
      acquiredAt: now.toISOString(),
      expiresAt: nowSeconds + request.ttlSeconds,
    };
    let held: Record<string, AttributeValue> | undefined;
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: groupLockItem(lock),
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { acquired: true, lock, reentered: false };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      held = error.Item;
    }
    const current = groupLockFromItem(request.group, held) ?? (await this.getGroupLock(request.group));
    if (current?.holder === request.holder) {
      // Its own lock (a retried step): renewed, with the change it recorded kept.
      try {
        const { Attributes } = await this.dynamodb.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: groupLockKey(request.group),
            UpdateExpression: 'SET expiresAt = :expiresAt',
            ConditionExpression: 'holder = :holder',
            ExpressionAttributeValues: {
              ':expiresAt': { N: String(lock.expiresAt) },
              ':holder': { S: request.holder },
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        const renewed = groupLockFromItem(request.group, Attributes);
        if (renewed !== undefined) return { acquired: true, lock: renewed, reentered: true };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    // Released between the two requests: the caller simply asks again (a retry).
    return {
      acquired: false,
      heldBy: current ?? { ...lock, holder: 'unknown', acquiredAt: now.toISOString() },
    };
  }

  /**
   * Records what the holder is about to do to the group, before doing it, unless it already
   * recorded a change (a retried step gets that one back, untouched). `not-held` when the
   * holder does not hold the lock (never took it, or it expired and someone else took it):
   * do nothing to the group then.
   */
  async recordGroupChange(group: string, holder: string, change: GroupChange): Promise<RecordOutcome> {
    const nowSeconds = epochSeconds(this.clock());
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: groupLockKey(group),
          UpdateExpression: 'SET #change = :change',
          ConditionExpression: 'holder = :holder AND expiresAt >= :now AND attribute_not_exists(#change)',
          ExpressionAttributeNames: { '#change': 'change' },
          ExpressionAttributeValues: {
            ':change': { S: JSON.stringify(change) },
            ':holder': { S: holder },
            ':now': { N: String(nowSeconds) },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'recorded' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = groupLockFromItem(group, error.Item);
      if (current === undefined || current.holder !== holder || current.expiresAt < nowSeconds)
        return { outcome: 'not-held' };
      if (current.change !== undefined) return { outcome: 'already-recorded', change: current.change };
      return { outcome: 'not-held' };
    }
  }

  /** Releases the group lock if `holder` holds it; true if it did. Releasing twice is fine. */
  async releaseGroupLock(group: string, holder: string): Promise<boolean> {
    try {
      await this.dynamodb.send(new DeleteItemCommand(this.#deleteIfHeld(groupLockKey(group), holder)));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Releases the lease items `holder` holds for `fleet`; returns how many it released. With
   * `items` (the lease as granted) they are deleted directly; without, the fleet's leases are
   * read first to find them.
   */
  async releaseLease(fleet: string, holder: string, items?: readonly string[]): Promise<number> {
    const pk = `lease#${fleet}`;
    const sks =
      items ??
      (await this.queryAll(pk))
        .filter((item) => str(item, 'holder') === holder)
        .map((item) => str(item, 'sk') ?? '');
    const released = await Promise.all(sks.map((sk) => this.#releaseItem(pk, sk, holder)));
    return released.filter(Boolean).length;
  }

  /**
   * The end of a remediation: its group lock (if any), its lease items and its claim on the
   * instance (if given: given back, or kept as replaced by `instance.replacedBy`), settled in
   * one transaction. Anything no longer the holder's (expired and taken) is left alone: then
   * each is released on its own. Returns how many lease items were released.
   */
  async releaseAll(release: {
    holder: string;
    fleet: string;
    items: readonly string[];
    group?: string;
    instance?: { id: string; replacedBy?: string };
  }): Promise<number> {
    const pk = `lease#${release.fleet}`;
    const deletes: TransactWriteItem[] = release.items.map((sk) => ({
      Delete: this.#deleteIfHeld({ pk: { S: pk }, sk: { S: sk } }, release.holder),
    }));
    if (release.group !== undefined)
      deletes.push({ Delete: this.#deleteIfHeld(groupLockKey(release.group), release.holder) });
    const instance = release.instance;
    if (instance !== undefined)
      deletes.push(this.#settleClaimItem(instance.id, release.holder, instance.replacedBy));
    if (deletes.length === 0) return 0;
    try {
      await this.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: deletes }));
      return release.items.length;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
    }
    if (release.group !== undefined) await this.releaseGroupLock(release.group, release.holder);
    if (instance !== undefined)
      await this.settleInstanceClaim(instance.id, release.holder, instance.replacedBy);
    return this.releaseLease(release.fleet, release.holder, release.items);
  }

  /**
   * Ends `holder`'s claim on replacing `instanceId`: given back when nothing was replaced (the
   * drift's next attempt may replace it), or, with `replacedBy`, kept for
   * {@link REPLACED_CLAIM_TTL_SECONDS} as the record that it was replaced, so no one replaces
   * it again while it is leaving. A free claim (absent, expired) counts as the holder's: an
   * execution started before claims existed, a claim that outlived its TTL. False when the
   * claim is another holder's live one (this one's expired and was taken): it is left alone.
   */
  async settleInstanceClaim(instanceId: string, holder: string, replacedBy?: string): Promise<boolean> {
    try {
      await this.dynamodb.send(
        replacedBy === undefined
          ? new DeleteItemCommand(this.#claimGivenBack(instanceId, holder))
          : new UpdateItemCommand(this.#claimKeptAsReplaced(instanceId, holder, replacedBy)),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The claim's settlement as a transaction item (see {@link settleInstanceClaim}). */
  #settleClaimItem(instanceId: string, holder: string, replacedBy: string | undefined): TransactWriteItem {
    return replacedBy === undefined
      ? { Delete: this.#claimGivenBack(instanceId, holder) }
      : { Update: this.#claimKeptAsReplaced(instanceId, holder, replacedBy) };
  }

  #claimGivenBack(instanceId: string, holder: string) {
    return {
      TableName: this.table,
      Key: instanceClaimKey(instanceId),
      ConditionExpression: CLAIM_SETTLED_BY,
      ExpressionAttributeValues: {
        ':holder': { S: holder },
        ':now': { N: String(epochSeconds(this.clock())) },
      },
    };
  }

  #claimKeptAsReplaced(instanceId: string, holder: string, replacedBy: string) {
    const now = this.clock();
    return {
      TableName: this.table,
      Key: instanceClaimKey(instanceId),
      UpdateExpression:
        'SET holder = :holder, replacedBy = :replacedBy, replacedAt = :at, expiresAt = :expiresAt',
      ConditionExpression: 'attribute_not_exists(pk) OR holder = :holder',
      ExpressionAttributeValues: {
        ':holder': { S: holder },
        ':replacedBy': { S: replacedBy },
        ':at': { S: now.toISOString() },
        ':expiresAt': { N: String(epochSeconds(now) + REPLACED_CLAIM_TTL_SECONDS) },
      },
    };
  }

  /**
   * Claims `request.instanceId` for the holder with one conditional put. `taken`: this request
   * took it (it was not the holder's already); `heldBy`: refused, the claim of the one who
   * holds it.
   */
  async #claimInstance(
    request: LeaseRequest,
    expiresAt: number,
    nowSeconds: number,
  ): Promise<{ taken: boolean; heldBy?: InstanceClaim }> {
    const acquiredAt = new Date(nowSeconds * 1000).toISOString();
    try {
      const { Attributes } = await this.dynamodb.send(
        new PutItemCommand({
          ...this.#instanceClaimPut(request, acquiredAt, expiresAt, nowSeconds),
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

  /** The put of the holder's claim on the instance: free, expired, or its own already (a retried step). */
  #instanceClaimPut(request: LeaseRequest, acquiredAt: string, expiresAt: number, nowSeconds: number) {
    return {
      TableName: this.table,
      Item: {
        ...instanceClaimKey(request.instanceId),
        holder: { S: request.holder },
        fleet: { S: request.fleet },
        acquiredAt: { S: acquiredAt },
        expiresAt: { N: String(expiresAt) },
      },
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR holder = :holder',
      ExpressionAttributeValues: { ':now': { N: String(nowSeconds) }, ':holder': { S: request.holder } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  /** Tries `<kind>#0` … `<kind>#<count-1>` in turn; the sort key taken, or undefined if all are held. */
  async #takeOne(
    pk: string,
    kind: 'slot' | 'dip',
    count: number,
    request: LeaseRequest,
    expiresAt: number,
    nowSeconds: number,
  ): Promise<string | undefined> {
    for (let i = 0; i < count; i += 1) {
      const sk = `${kind}#${i}`;
      if (await this.#putLeaseItem(pk, sk, request, expiresAt, nowSeconds)) return sk;
    }
    return undefined;
  }

  /** Puts one lease item for the holder if it is free, expired or its own already (renewed); false if held by another. */
  async #putLeaseItem(
    pk: string,
    sk: string,
    request: LeaseRequest,
    expiresAt: number,
    nowSeconds: number,
  ): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: { S: pk },
            sk: { S: sk },
            holder: { S: request.holder },
            instanceId: { S: request.instanceId },
            acquiredAt: { S: new Date(nowSeconds * 1000).toISOString() },
            expiresAt: { N: String(expiresAt) },
          },
          // A slot is free when nobody holds it or its holder's lease has run out.
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR holder = :holder',
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

  /** Deletes one lease item if `holder` still holds it; false if it had moved on. */
  async #releaseItem(pk: string, sk: string, holder: string): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new DeleteItemCommand(this.#deleteIfHeld({ pk: { S: pk }, sk: { S: sk } }, holder)),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** A delete of an item that takes effect only while `holder` holds it (a lease item, a lock). */
  #deleteIfHeld(key: Record<string, AttributeValue>, holder: string) {
    return {
      TableName: this.table,
      Key: key,
      ConditionExpression: 'holder = :holder',
      ExpressionAttributeValues: { ':holder': { S: holder } },
    };
  }
}

/**
 * Who may settle an instance's claim: its holder, or anyone once it is free (absent: an
 * execution started before claims existed, or removed by DynamoDB's TTL; or expired). Never
 * another holder's live claim.
 */
const CLAIM_SETTLED_BY = 'attribute_not_exists(pk) OR holder = :holder OR expiresAt < :now';

/** A transaction has room for this many items. */
const MAX_TRANSACTION_ITEMS = 100;
/** Items of a one-transaction lease besides its slots: the group lock, the pause switch, the quarantine, the instance's claim. */
const ITEMS_BESIDE_SLOTS = 4;

/** Transaction conflicts a lease request sits out before it is denied (and backs off in the state machine). */
const MAX_CONFLICTS = 4;

function leaseBase(request: LeaseRequest): Pick<Lease, 'fleet' | 'holder' | 'instanceId'> {
  return { fleet: request.fleet, holder: request.holder, instanceId: request.instanceId };
}

function validateLeaseRequest(request: LeaseRequest): void {
  if (request.fleet === '') throw new InvalidInputError('a lease needs a fleet name');
  if (request.holder === '') throw new InvalidInputError('a lease needs a holder');
  if (!Number.isInteger(request.maxConcurrent) || request.maxConcurrent < 1) {
    throw new InvalidInputError(`maxConcurrent must be a whole number ≥ 1, got ${request.maxConcurrent}`);
  }
  if (!(request.minHealthyPercent >= 0 && request.minHealthyPercent <= 100)) {
    throw new InvalidInputError(
      `minHealthyPercent must be between 0 and 100, got ${request.minHealthyPercent}`,
    );
  }
  nonNegativeInteger('healthy', request.healthy);
  nonNegativeInteger('desired', request.desired);
  nonNegativeInteger('disruption', request.disruption);
  nonNegativeInteger('ttlSeconds', request.ttlSeconds);
}

function failedCondition(reason: CancellationReason | undefined): boolean {
  return reason?.Code === 'ConditionalCheckFailed';
}

function floorReason(request: LeaseRequest, floor: number): string {
  return belowFloorSentence({ ...request, floor });
}

/** Why nothing may start while the switch is on: who paused it, when, and how to resume. */
export function pausedReason(pause: PauseState): string {
  return pausedSentence(pause);
}

function gateReason(gate: RemediationGate): string {
  if (gate.pause.paused) return pausedReason(gate.pause);
  return gate.quarantine === undefined
    ? 'the remediation gate is closed'
    : quarantinedAtLeaseSentence(gate.quarantine);
}

function concurrencyReason(request: LeaseRequest): string {
  return budgetFullSentence(request);
}

/**
 * Why an instance is not replaced by this execution: who replaced it, or who is replacing it
 * and until when its claim holds at the latest. The holder is named by its whole ARN: two
 * executions may carry the same name (two local runs, a local run beside the deployed stack).
 */
export function instanceClaimReason(claim: InstanceClaim): string {
  return instanceClaimSentence(claim);
}

function instanceClaimFromItem(
  instanceId: string,
  item: Record<string, AttributeValue> | undefined,
): InstanceClaim | undefined {
  const holder = str(item, 'holder');
  if (item === undefined || holder === undefined) return undefined;
  const claim: InstanceClaim = {
    instanceId,
    holder,
    acquiredAt: str(item, 'acquiredAt') ?? '',
    expiresAt: num(item, 'expiresAt') ?? 0,
  };
  const replacedBy = str(item, 'replacedBy');
  const replacedAt = str(item, 'replacedAt');
  if (replacedBy !== undefined) claim.replacedBy = replacedBy;
  if (replacedAt !== undefined) claim.replacedAt = replacedAt;
  return claim;
}

/** Who holds a group's lock, for what, and until when at the latest. */
export function groupBusyReason(lock: GroupLock): string {
  return groupBusySentence(lock);
}

function groupLockItem(lock: GroupLock): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    ...groupLockKey(lock.group),
    holder: { S: lock.holder },
    instanceId: { S: lock.instanceId === '' ? 'unknown' : lock.instanceId },
    acquiredAt: { S: lock.acquiredAt },
    expiresAt: { N: String(lock.expiresAt) },
  };
  if (lock.change !== undefined) item.change = { S: JSON.stringify(lock.change) };
  return item;
}
