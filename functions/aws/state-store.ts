/**
 * Phoenix's operational state in one DynamoDB table: the pause switch, notification
 * de-duplication, quarantines, attempt generations, budget leases and group locks.
 *
 * Table: partition key `pk` (S), sort key `sk` (S), TTL attribute `expiresAt` (epoch
 * seconds). DynamoDB deletes expired items lazily (up to days later), so every read and
 * every condition here treats an item whose `expiresAt` has passed as absent.
 *
 * Item layout:
 * - `control` / `pause`: the pause switch (`paused`, `by`, `at`).
 * - `notification#<key>` / `claim`: one notification already sent (expires).
 * - `quarantine` / `<fleet>#<templateId>#<version>`: a launch template version that failed.
 * - `lease#<fleet>` / `slot#<i>`: one of the fleet's `maxConcurrent` replacement slots.
 * - `lease#<fleet>` / `dip#<i>`: one unit of the fleet's healthy-capacity headroom, taken
 *   only by a replacement that takes an instance out before its successor is healthy.
 * - `replacement#<instance>` / `claim`: the execution an Auto Scaling replacement belongs to.
 * - `group#<name>` / `lock`: the one execution allowed to change an Auto Scaling group's
 *   desired capacity right now (docs/adr/0009-asg-surge-without-races.md).
 * - `attempt#<instance>` / `<fingerprint>`: the drift's attempt generation, part of its
 *   execution name; absent means 0 (functions/evaluate-drift/execution.ts).
 *
 * This module reads and writes what the evaluator and the CLI need (the switch, claims,
 * quarantines, attempts, and read-only views of leases and locks); taking and releasing
 * leases, locks and claims is `RemediationStore` (remediation-store.ts), so the evaluator's
 * bundle carries none of it and its role is granted none of it.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../domain/errors';
import {
  attemptKey,
  CONTROL_PK,
  epochSeconds,
  groupLockFromItem,
  groupLockKey,
  nonNegativeInteger,
  num,
  PAUSE_SK,
  pauseFromItem,
  QUARANTINE_PK,
  quarantineFromItem,
  quarantineSk,
  str,
} from './state-items';

/** A drift's attempt generation (see {@link StateStore.driftAttempt}). */
export interface DriftAttempt {
  attempt: number;
  /** Set while the last execution's hold lasts: start nothing for this drift until `until`. */
  held?: { until: string; why: string };
}

/** The store reads the time through this, so tests and the local runner control it. */
export type Clock = () => Date;

export interface PauseState {
  paused: boolean;
  /** Who set the switch last (operator name, CLI user…), when known. */
  by?: string;
  /** ISO-8601 time the switch was set. */
  at?: string;
}

export interface PauseState {
  paused: boolean;
  /** Who set the switch last (operator name, CLI user…), when known. */
  by?: string;
  /** ISO-8601 time the switch was set. */
  at?: string;
}

export interface QuarantineKey {
  fleet: string;
  templateId: string;
  version: number;
}

export interface Quarantine extends QuarantineKey {
  /** Why the version was quarantined (the rollback's cause). */
  cause: string;
  /** The execution that failed with it (ARN or name). */
  execution: string;
  /** ISO-8601 time of the quarantine. */
  at: string;
}

/**
 * What the holder of a group lock is doing with the group: recorded before the group is
 * changed, so a retried step or a rollback knows what was (or may have been) done.
 */
export interface GroupChange {
  /** `surge`: desired capacity + 1; `standby-first`: the old instance put in Standby, the group replaces it. */
  mode: 'surge' | 'standby-first';
  /** The group's desired capacity when the lock was taken (read under the lock). */
  desiredBefore: number;
  /** For `surge`: the desired capacity set, `desiredBefore + 1`. */
  raisedTo?: number;
  /** Members of the group when the lock was taken: the replacement is none of these. */
  instancesBefore: string[];
}

/** The lock on one Auto Scaling group's capacity (see {@link StateStore.acquireGroupLock}). */
export interface GroupLock {
  group: string;
  holder: string;
  /** The instance the holder replaces. */
  instanceId: string;
  /** ISO-8601. */
  acquiredAt: string;
  /** Epoch seconds. */
  expiresAt: number;
  change?: GroupChange;
}

/**
 * How long an attempt generation is kept after it last moved. Step Functions refuses the name
 * of an ended Standard execution for 90 days; the generation must outlive that, plus the
 * longest execution (a week's wait for a maintenance window), or a drift could fall back onto
 * a name that is still refused.
 */
export const ATTEMPT_TTL_SECONDS = 120 * 24 * 3600;

/** The healthy floor of a fleet: the fewest healthy instances `minHealthyPercent` allows. */
export { healthyFloor } from '../domain/headroom';

/**
 * Typed access to Phoenix's DynamoDB table: what the evaluator, the CLI and the steps all
 * read and write. The remediation's own coordination (leases, group locks, claims) is
 * {@link RemediationStore}, so the evaluator's bundle carries (and its role is granted) only this.
 */
export class StateStore {
  protected readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  protected readonly table: string;
  protected readonly clock: Clock;

  constructor(dynamodb: Pick<DynamoDBClient, 'send'>, tableName: string, clock: Clock = () => new Date()) {
    if (tableName === '') throw new InvalidInputError('the state table name is empty');
    this.dynamodb = dynamodb;
    this.table = tableName;
    this.clock = clock;
  }

  get tableName(): string {
    return this.table;
  }

  /** The switch as last set; never set means not paused. Strongly consistent read. */
  async pauseState(): Promise<PauseState> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: CONTROL_PK }, sk: { S: PAUSE_SK } },
        ConsistentRead: true,
      }),
    );
    return pauseFromItem(Item);
  }

  /** True while an operator has paused new remediations. */
  async isPaused(): Promise<boolean> {
    return (await this.pauseState()).paused;
  }

  /** Sets the switch; `by` is recorded so the next operator knows whom to ask. */
  async setPaused(paused: boolean, by: string): Promise<PauseState> {
    const at = this.clock().toISOString();
    await this.dynamodb.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: CONTROL_PK },
          sk: { S: PAUSE_SK },
          paused: { BOOL: paused },
          by: { S: by === '' ? 'unknown' : by },
          at: { S: at },
        },
      }),
    );
    return { paused, by: by === '' ? 'unknown' : by, at };
  }

  /**
   * Claims the right to send the notification `key` (e.g. instance + fingerprint + event).
   * True only for the first caller until the claim expires after `ttlSeconds`.
   */
  async claimNotification(key: string, ttlSeconds: number): Promise<boolean> {
    if (key === '') throw new InvalidInputError('a notification key cannot be empty');
    nonNegativeInteger('ttlSeconds', ttlSeconds);
    const now = this.clock();
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: { S: `notification#${key}` },
            sk: { S: 'claim' },
            claimedAt: { S: now.toISOString() },
            expiresAt: { N: String(epochSeconds(now) + ttlSeconds) },
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': { N: String(epochSeconds(now)) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Gives a claim back (its notification could not be sent), so a retry can claim it again.
   * Releasing a claim that does not exist is not an error.
   */
  async releaseNotification(key: string): Promise<void> {
    if (key === '') throw new InvalidInputError('a notification key cannot be empty');
    await this.dynamodb.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: { pk: { S: `notification#${key}` }, sk: { S: 'claim' } },
      }),
    );
  }

  /** The quarantine of one launch template version for one fleet, if any. */
  async getQuarantine(fleet: string, templateId: string, version: number): Promise<Quarantine | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: QUARANTINE_PK }, sk: { S: quarantineSk({ fleet, templateId, version }) } },
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : quarantineFromItem(Item);
  }

  /**
   * Records that `version` of the template failed for `fleet`, so no remediation retries it.
   * A later failure of the same version overwrites the cause (the newest is the most useful).
   */
  async quarantine(entry: QuarantineKey & { cause: string; execution: string }): Promise<Quarantine> {
    const record: Quarantine = { ...entry, at: this.clock().toISOString() };
    await this.dynamodb.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: QUARANTINE_PK },
          sk: { S: quarantineSk(record) },
          fleet: { S: record.fleet },
          templateId: { S: record.templateId },
          version: { N: String(record.version) },
          cause: { S: record.cause === '' ? 'unknown' : record.cause },
          execution: { S: record.execution === '' ? 'unknown' : record.execution },
          at: { S: record.at },
        },
      }),
    );
    return record;
  }

  /** Lifts a quarantine; true if there was one. */
  async liftQuarantine(fleet: string, templateId: string, version: number): Promise<boolean> {
    const { Attributes } = await this.dynamodb.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: { pk: { S: QUARANTINE_PK }, sk: { S: quarantineSk({ fleet, templateId, version }) } },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }

  /** Every quarantine, or those of one fleet. */
  async listQuarantines(fleet?: string): Promise<Quarantine[]> {
    const items = await this.queryAll(QUARANTINE_PK, fleet === undefined ? undefined : `${fleet}#`);
    return items.map(quarantineFromItem);
  }

  /** The attempt generation of a drift: 0 until an execution for it ended in a way that may be retried. */
  async attemptOf(instanceId: string, fingerprint: string): Promise<number> {
    return (await this.driftAttempt(instanceId, fingerprint)).attempt;
  }

  /**
   * The drift's attempt generation, and the hold its last execution put on it, if one is still
   * running: after "manual action required" nothing is started again for a while, so a
   * detection every few minutes does not repeat the same execution and its notification.
   */
  async driftAttempt(instanceId: string, fingerprint: string): Promise<DriftAttempt> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.table,
        Key: attemptKey(instanceId, fingerprint),
        ConsistentRead: true,
      }),
    );
    const now = this.clock();
    if (Item === undefined || (num(Item, 'expiresAt') ?? 0) < epochSeconds(now)) return { attempt: 0 };
    const drift: DriftAttempt = { attempt: num(Item, 'generation') ?? 0 };
    const heldUntil = str(Item, 'heldUntil');
    if (heldUntil !== undefined && Date.parse(heldUntil) > now.getTime())
      drift.held = { until: heldUntil, why: str(Item, 'heldBecause') ?? 'held by its last execution' };
    return drift;
  }

  /**
   * Moves the drift from `attempt` to the next attempt: the execution named after `attempt`
   * ended without replacing, for a reason that can pass, and the next detection must be able
   * to start a new one. Only once per attempt (a retried step moves it no further). Returns
   * the generation now current.
   */
  async nextAttempt(
    instanceId: string,
    fingerprint: string,
    attempt: number,
    ttlSeconds: number = ATTEMPT_TTL_SECONDS,
    hold?: { until: Date; why: string },
  ): Promise<number> {
    nonNegativeInteger('attempt', attempt);
    nonNegativeInteger('ttlSeconds', ttlSeconds);
    const now = this.clock();
    const nowSeconds = epochSeconds(now);
    const item: Record<string, AttributeValue> = {
      ...attemptKey(instanceId, fingerprint),
      generation: { N: String(attempt + 1) },
      at: { S: now.toISOString() },
      expiresAt: { N: String(nowSeconds + ttlSeconds) },
    };
    if (hold !== undefined) {
      item.heldUntil = { S: hold.until.toISOString() };
      item.heldBecause = { S: hold.why === '' ? 'held by its last execution' : hold.why };
    }
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR generation = :attempt',
          ExpressionAttributeValues: {
            ':now': { N: String(nowSeconds) },
            ':attempt': { N: String(attempt) },
          },
        }),
      );
      return attempt + 1;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return this.attemptOf(instanceId, fingerprint);
    }
  }

  /** The live lock on a group, if any (an expired one is reported as none). */
  async getGroupLock(group: string): Promise<GroupLock | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.table, Key: groupLockKey(group), ConsistentRead: true }),
    );
    const lock = groupLockFromItem(group, Item);
    if (lock === undefined || lock.expiresAt < epochSeconds(this.clock())) return undefined;
    return lock;
  }

  /** The live leases of a fleet (for operators, and for tests checking the budget). */
  async listLeases(
    fleet: string,
  ): Promise<Array<{ sk: string; holder: string; instanceId: string; expiresAt: number }>> {
    const nowSeconds = epochSeconds(this.clock());
    return (await this.queryAll(`lease#${fleet}`))
      .filter((item) => (num(item, 'expiresAt') ?? 0) >= nowSeconds)
      .map((item) => ({
        sk: str(item, 'sk') ?? '',
        holder: str(item, 'holder') ?? '',
        instanceId: str(item, 'instanceId') ?? '',
        expiresAt: num(item, 'expiresAt') ?? 0,
      }));
  }

  protected async queryAll(pk: string, skPrefix?: string): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.table,
          ConsistentRead: true,
          KeyConditionExpression:
            skPrefix === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues:
            skPrefix === undefined ? { ':pk': { S: pk } } : { ':pk': { S: pk }, ':prefix': { S: skPrefix } },
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }
}
