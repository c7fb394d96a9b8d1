/**
 * Phoenix's operational state in one DynamoDB table, as the evaluator and the CLI use it: the
 * pause switch, notification de-duplication, quarantines, attempt generations, and read-only
 * views of budget leases and group locks.
 *
 * Where each item sits, its record type and its codec are the table's schema,
 * functions/aws/state-table/schema/ (its index.ts has the table of every item kind); this
 * module only decides when to read and write them.
 *
 * Taking and releasing leases, locks and claims is `RemediationStore` (remediation-store.ts),
 * so the evaluator's bundle carries none of it and its role is granted none of it.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../domain/errors';
import { type Clock, nonNegativeInteger, queryAll, type StateTableHandle } from './state-table/handle';
import {
  ATTEMPT_TTL_SECONDS,
  attemptFromItem,
  attemptItem,
  attemptKey,
  CONDITIONS,
  epochSeconds,
  fleetQuarantinesPrefix,
  type GroupLock,
  isLive,
  type LeaseItem,
  leaseFromItem,
  leasePk,
  notificationClaimItem,
  notificationClaimKey,
  PAUSE_KEY,
  type PauseState,
  pauseFromItem,
  pauseItem,
  QUARANTINE_PK,
  type Quarantine,
  type QuarantineKey,
  quarantineFromItem,
  quarantineItem,
  quarantineKey,
} from './state-table/schema';
import { liveGroupLock } from './state-table/views';

/** The healthy floor of a fleet: the fewest healthy instances `minHealthyPercent` allows. */
export { healthyFloor } from '../domain/headroom';
export type { Clock } from './state-table/handle';
export type { GroupChange, GroupLock, PauseState, Quarantine, QuarantineKey } from './state-table/schema';
export { ATTEMPT_TTL_SECONDS, lockMembers } from './state-table/schema';

/** A drift's attempt generation (see {@link StateStore.driftAttempt}). */
export interface DriftAttempt {
  attempt: number;
  /** Set while the last execution's hold lasts: start nothing for this drift until `until`. */
  held?: { until: string; why: string };
}

/**
 * Typed access to Phoenix's DynamoDB table: what the evaluator, the CLI and the steps all
 * read and write. The remediation's own coordination (leases, group locks, claims) is
 * `RemediationStore`, so the evaluator's bundle carries (and its role is granted) only this.
 */
export class StateStore {
  /** The table, for the stores composed over this one. */
  protected readonly state: StateTableHandle;

  constructor(dynamodb: Pick<DynamoDBClient, 'send'>, tableName: string, clock: Clock = () => new Date()) {
    if (tableName === '') throw new InvalidInputError('the state table name is empty');
    this.state = { dynamodb, name: tableName, clock };
  }

  get tableName(): string {
    return this.state.name;
  }

  /** The switch as last set; never set means not paused. Strongly consistent read. */
  async pauseState(): Promise<PauseState> {
    const { Item } = await this.state.dynamodb.send(
      new GetItemCommand({ TableName: this.state.name, Key: PAUSE_KEY, ConsistentRead: true }),
    );
    return pauseFromItem(Item);
  }

  /** True while an operator has paused new remediations. */
  async isPaused(): Promise<boolean> {
    return (await this.pauseState()).paused;
  }

  /** Sets the switch; `by` is recorded so the next operator knows whom to ask. */
  async setPaused(paused: boolean, by: string): Promise<PauseState> {
    const at = this.state.clock().toISOString();
    await this.state.dynamodb.send(
      new PutItemCommand({ TableName: this.state.name, Item: pauseItem({ paused, by, at }) }),
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
    const now = this.state.clock();
    try {
      await this.state.dynamodb.send(
        new PutItemCommand({
          TableName: this.state.name,
          Item: notificationClaimItem({
            key,
            claimedAt: now.toISOString(),
            expiresAt: epochSeconds(now) + ttlSeconds,
          }),
          ConditionExpression: CONDITIONS.free,
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
    await this.state.dynamodb.send(
      new DeleteItemCommand({ TableName: this.state.name, Key: notificationClaimKey(key) }),
    );
  }

  /** The quarantine of one launch template version for one fleet, if any. */
  async getQuarantine(fleet: string, templateId: string, version: number): Promise<Quarantine | undefined> {
    const { Item } = await this.state.dynamodb.send(
      new GetItemCommand({
        TableName: this.state.name,
        Key: quarantineKey({ fleet, templateId, version }),
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
    const record: Quarantine = { ...entry, at: this.state.clock().toISOString() };
    await this.state.dynamodb.send(
      new PutItemCommand({ TableName: this.state.name, Item: quarantineItem(record) }),
    );
    return record;
  }

  /** Lifts a quarantine; true if there was one. */
  async liftQuarantine(fleet: string, templateId: string, version: number): Promise<boolean> {
    const { Attributes } = await this.state.dynamodb.send(
      new DeleteItemCommand({
        TableName: this.state.name,
        Key: quarantineKey({ fleet, templateId, version }),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }

  /** Every quarantine, or those of one fleet. */
  async listQuarantines(fleet?: string): Promise<Quarantine[]> {
    const prefix = fleet === undefined ? undefined : fleetQuarantinesPrefix(fleet);
    return (await queryAll(this.state, QUARANTINE_PK, prefix)).map(quarantineFromItem);
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
    const { Item } = await this.state.dynamodb.send(
      new GetItemCommand({
        TableName: this.state.name,
        Key: attemptKey(instanceId, fingerprint),
        ConsistentRead: true,
      }),
    );
    const now = this.state.clock();
    if (Item === undefined || !isLive(Item, epochSeconds(now))) return { attempt: 0 };
    const record = attemptFromItem(Item);
    const drift: DriftAttempt = { attempt: record.generation };
    if (record.hold !== undefined && Date.parse(record.hold.until) > now.getTime()) drift.held = record.hold;
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
    const now = this.state.clock();
    const nowSeconds = epochSeconds(now);
    const item = attemptItem({
      instanceId,
      fingerprint,
      generation: attempt + 1,
      at: now.toISOString(),
      expiresAt: nowSeconds + ttlSeconds,
      ...(hold === undefined ? {} : { hold: { until: hold.until.toISOString(), why: hold.why } }),
    });
    try {
      await this.state.dynamodb.send(
        new PutItemCommand({
          TableName: this.state.name,
          Item: item,
          ConditionExpression: `${CONDITIONS.free} OR generation = :attempt`,
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
  getGroupLock(group: string): Promise<GroupLock | undefined> {
    return liveGroupLock(this.state, group);
  }

  /** The live leases of a fleet (for operators, and for tests checking the budget). */
  async listLeases(
    fleet: string,
  ): Promise<Array<Pick<LeaseItem, 'sk' | 'holder' | 'instanceId' | 'expiresAt' | 'az'>>> {
    const nowSeconds = epochSeconds(this.state.clock());
    return (await queryAll(this.state, leasePk(fleet)))
      .filter((item) => isLive(item, nowSeconds))
      .map(leaseFromItem)
      .map(({ sk, holder, instanceId, expiresAt, az }) => ({
        sk,
        holder,
        instanceId,
        expiresAt,
        ...(az === undefined ? {} : { az }),
      }));
  }
}
