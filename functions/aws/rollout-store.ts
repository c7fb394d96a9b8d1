/**
 * Rollouts in the state table: one item per source change of a fleet (issue 15,
 * docs/adr/0028-rollouts-in-the-state-table.md).
 *
 * `rollout#<fleet>` / `<templateId>#<version>`: the rollout of that launch template version
 * through the fleet. Its layout is {@link ROLLOUT_ITEM}, one codec, so it can move into the
 * state table's schema module with the other layouts.
 *
 * What is decided is decided by the pure stages (functions/domain/rollout/stage.ts); this
 * store only writes what they decided, each write conditional on what the decision read:
 *
 * - a rollout is created once per source (a conditional put: the second creator gets the
 *   first one's item back);
 * - a stage transition is an update conditional on the stage read (and, for a transition the
 *   counters decided, on the counters read): of two processes deciding from the same reading,
 *   exactly one write lands, and the loser reads again;
 * - halting quarantines the version in the same transaction (keeping an existing quarantine's
 *   cause and execution: `phoenix quarantine lift` needs the execution that rolled back), and
 *   resuming lifts it in the same transaction: a rollout is never halted with its version
 *   free, nor live with it quarantined by its halt;
 * - the counters (members, admitted, replaced, rolled back, ended) move by `ADD`, never by a
 *   read-modify-write, so counting never loses an update and never conflicts with a stage.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidInputError, PhoenixError } from '../domain/errors';
import {
  approve as approveStage,
  haltByOperator,
  haltText,
  type Rollout,
  type RolloutStep,
  resume as resumeStage,
} from '../domain/rollout/stage';
import { RolloutNotFoundError, RolloutStageError } from './errors';
import { type MemberEnd, memberSettlement } from './state-table/remediation/rollout-admission';
import { quarantineKey as quarantineKeyOf } from './state-table/schema/quarantine';
import {
  type Clock,
  type NewRollout,
  ROLLOUT_COUNTERS,
  ROLLOUT_ITEM,
  type RolloutCounts,
  type RolloutRecord,
  type StepWrite,
  sourceText,
} from './state-table/schema/rollout';
import { n, s } from './state-table/schema/table';

export { RolloutNotFoundError, RolloutStageError } from './errors';
export {
  type Clock,
  type NewRollout,
  ROLLOUT_ITEM,
  type RolloutCounts,
  type RolloutRecord,
  type RolloutSource,
  type StepWrite,
  sourceText,
} from './state-table/schema/rollout';

function failedCondition(reason: { Code?: string } | undefined): boolean {
  return reason?.Code === 'ConditionalCheckFailed';
}

/** The newest of a fleet's rollouts: the latest start (a later source supersedes an earlier one). */
function newest(records: readonly RolloutRecord[]): RolloutRecord | undefined {
  let best: RolloutRecord | undefined;
  for (const record of records) {
    if (best === undefined || record.startedAt > best.startedAt) best = record;
  }
  return best;
}

/** How many times an operator's action re-reads after another process moved the rollout first. */
const OPERATOR_ATTEMPTS = 3;

/**
 * Typed access to the rollout items of Phoenix's state table. Every write is conditional on
 * what it was decided from (see the module notes).
 */
export class RolloutStore {
  private readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  private readonly table: string;
  private readonly clock: Clock;

  constructor(dynamodb: Pick<DynamoDBClient, 'send'>, tableName: string, clock: Clock = () => new Date()) {
    if (tableName === '') throw new InvalidInputError('the state table name is empty');
    this.dynamodb = dynamodb;
    this.table = tableName;
    this.clock = clock;
  }

  /** The rollout of `source` through `fleet`, if one began. Strongly consistent (one GetItem: the admission knows the fleet's source). */
  async get(
    fleet: string,
    source: { templateId: string; version: number },
  ): Promise<RolloutRecord | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.table,
        Key: ROLLOUT_ITEM.key(fleet, source),
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : ROLLOUT_ITEM.decode(Item);
  }

  /**
   * The fleet's current rollout: the one that began last (a new source supersedes the one
   * before, whatever its stage). For operators, who name a fleet and not a source.
   */
  async current(fleet: string): Promise<RolloutRecord | undefined> {
    return newest(await this.list(fleet));
  }

  /**
   * Rollouts, newest first within each fleet, fleets by name: one fleet's by a Query of its
   * partition, every fleet's by a Scan filtered on the `rollout#` partitions. The Scan reads
   * the whole table (it is for an operator's `phoenix rollout list`, not for the admission).
   */
  async list(fleet?: string): Promise<RolloutRecord[]> {
    const items = fleet === undefined ? await this.everyFleet() : await this.queryFleet(fleet);
    return items
      .map((item) => ROLLOUT_ITEM.decode(item))
      .sort((a, b) =>
        a.fleet === b.fleet ? b.startedAt.localeCompare(a.startedAt) : a.fleet.localeCompare(b.fleet),
      );
  }

  /**
   * Begins the rollout of `input.source` through `input.fleet`, once: `created` is false when
   * it had begun already (another process, an earlier detection), with that rollout.
   */
  async create(input: NewRollout): Promise<{ created: boolean; rollout: RolloutRecord }> {
    for (const [name, value] of [
      ['members', input.members],
      ['canary', input.canary],
      ['bakeMinutes', input.bakeMinutes],
      ['maxFailures', input.maxFailures],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0)
        throw new InvalidInputError(`a rollout's ${name} must be a whole number ≥ 0, got ${value}`);
    }
    if (input.stage === 'halted' || input.stage === 'completed')
      throw new InvalidInputError(`a rollout cannot begin ${input.stage}`);
    const now = this.clock().toISOString();
    const record: RolloutRecord = {
      fleet: input.fleet,
      source: { ...input.source },
      stage: input.stage,
      startedAt: now,
      stageChangedAt: now,
      members: input.members,
      admitted: 0,
      replaced: 0,
      rolledBack: 0,
      ended: 0,
      canary: input.canary,
      bakeMinutes: input.bakeMinutes,
      maxFailures: input.maxFailures,
    };
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.table,
          Item: ROLLOUT_ITEM.encode(record),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { created: true, rollout: record };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.get(input.fleet, input.source);
      if (existing === undefined) throw error;
      return { created: false, rollout: existing };
    }
  }

  /**
   * Moves counters by `ADD` (never a read-modify-write): members joining, admitted, replaced,
   * rolled back, ended. Returns the item as it now is; {@link RolloutNotFoundError} when the
   * rollout does not exist (a counter never creates one).
   */
  async count(
    fleet: string,
    source: { templateId: string; version: number },
    counts: RolloutCounts,
  ): Promise<RolloutRecord> {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    const adds: string[] = [];
    for (const counter of ROLLOUT_COUNTERS) {
      const delta = counts[counter];
      if (delta === undefined || delta === 0) continue;
      if (!Number.isSafeInteger(delta))
        throw new InvalidInputError(`${counter} must move by a whole number, got ${delta}`);
      names[`#${counter}`] = counter;
      values[`:${counter}`] = n(delta);
      adds.push(`#${counter} :${counter}`);
    }
    if (adds.length === 0) {
      const record = await this.get(fleet, source);
      if (record === undefined) throw this.notFound(fleet, source);
      return record;
    }
    try {
      const { Attributes } = await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: ROLLOUT_ITEM.key(fleet, source),
          UpdateExpression: `ADD ${adds.join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (Attributes === undefined) throw this.notFound(fleet, source);
      return ROLLOUT_ITEM.decode(Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw this.notFound(fleet, source);
      throw error;
    }
  }

  /**
   * Writes a step the stages decided from `read` (`advance`, `haltByOperator`, `resume`,
   * `approve`), only if the rollout is still as read: its stage, and with `exact` its
   * counters too (a step `advance` decided from them: the canary done, the rollout complete,
   * the failure budget spent). Exactly one of several processes writing from the same reading
   * wins; the others get `conflict` and the rollout as it now is.
   *
   * Entering `halted` quarantines the version in the same transaction (an existing quarantine
   * is kept as it is); leaving `halted` lifts it in the same transaction. A resume's
   * `rolledBackBeforeResume` is set from the item's own `rolledBack` at the write, so a
   * rollback counted after the read is given back too, not held against the resumed rollout.
   */
  async recordStep(read: Rollout, step: RolloutStep, options: { exact?: boolean } = {}): Promise<StepWrite> {
    if (!step.changed)
      return { written: false, reason: 'unchanged', rollout: await this.get(read.fleet, read.source) };
    const next = step.rollout;
    if (
      next.fleet !== read.fleet ||
      next.source.templateId !== read.source.templateId ||
      next.source.version !== read.source.version
    )
      throw new InvalidInputError('a step must move the rollout it was decided from');
    const now = this.clock().toISOString();
    const names: Record<string, string> = { '#stage': 'stage' };
    const values: Record<string, AttributeValue> = { ':read': s(read.stage), ':now': s(now) };
    const sets: string[] = ['stageChangedAt = :now'];
    const removes: string[] = [];
    const owned = ROLLOUT_ITEM.stageAttributes(next);
    const resumed = read.stage === 'halted' && next.stage !== 'halted';
    for (const attribute of ROLLOUT_ITEM.STAGE_OWNED) {
      const name = `#${attribute}`;
      names[name] = attribute;
      if (attribute === 'rolledBackBeforeResume' && resumed) {
        names['#rolledBack'] = 'rolledBack';
        sets.push(`${name} = #rolledBack`);
        continue;
      }
      const value = owned[attribute];
      if (value === undefined) removes.push(name);
      else {
        values[`:${attribute}`] = value;
        sets.push(`${name} = :${attribute}`);
      }
    }
    const conditions = ['attribute_exists(pk)', '#stage = :read'];
    if (options.exact === true) {
      for (const counter of ROLLOUT_COUNTERS) {
        names[`#${counter}`] = counter;
        values[`:read_${counter}`] = n(read[counter]);
        conditions.push(`#${counter} = :read_${counter}`);
      }
    }
    const update = {
      TableName: this.table,
      Key: ROLLOUT_ITEM.key(read.fleet, read.source),
      UpdateExpression: `SET ${sets.join(', ')}${removes.length === 0 ? '' : ` REMOVE ${removes.join(', ')}`}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    const halting = next.stage === 'halted' && read.stage !== 'halted';
    if (!halting && !resumed) {
      try {
        const { Attributes } = await this.dynamodb.send(
          new UpdateItemCommand({ ...update, ReturnValues: 'ALL_NEW' }),
        );
        if (Attributes === undefined)
          throw new PhoenixError('DynamoDB returned no item for an update that took effect');
        return { written: true, rollout: ROLLOUT_ITEM.decode(Attributes) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return { written: false, reason: 'conflict', rollout: await this.get(read.fleet, read.source) };
      }
    }
    const quarantineKey = quarantineKeyOf({
      fleet: read.fleet,
      templateId: read.source.templateId,
      version: read.source.version,
    });
    const quarantine: TransactWriteItem = halting
      ? {
          // Kept if it exists: a rollback's quarantine names the execution `quarantine lift` moves on.
          Update: {
            TableName: this.table,
            Key: quarantineKey,
            UpdateExpression:
              'SET fleet = if_not_exists(fleet, :fleet), templateId = if_not_exists(templateId, :templateId), #version = if_not_exists(#version, :version), cause = if_not_exists(cause, :cause), execution = if_not_exists(execution, :execution), #at = if_not_exists(#at, :at)',
            ExpressionAttributeNames: { '#version': 'version', '#at': 'at' },
            ExpressionAttributeValues: {
              ':fleet': s(read.fleet),
              ':templateId': s(read.source.templateId),
              ':version': n(read.source.version),
              ':cause': s(`rollout ${haltText(next.halt?.cause ?? { kind: 'operator', by: 'unknown' })}`),
              ':execution': s(`rollout#${read.fleet}#${sourceText(read.source)}`),
              ':at': s(now),
            },
          },
        }
      : { Delete: { TableName: this.table, Key: quarantineKey } };
    try {
      await this.dynamodb.send(
        new TransactWriteItemsCommand({ TransactItems: [{ Update: update }, quarantine] }),
      );
    } catch (error) {
      if (
        !(error instanceof TransactionCanceledException) ||
        !failedCondition(error.CancellationReasons?.[0])
      )
        throw error;
      return { written: false, reason: 'conflict', rollout: await this.get(read.fleet, read.source) };
    }
    const written = await this.get(read.fleet, read.source);
    if (written === undefined) throw this.notFound(read.fleet, read.source);
    return { written: true, rollout: written };
  }

  /**
   * Counts the end of member `holder` (admitted with its lease) on its rollout, once: a second
   * call for the same holder counts nothing and returns `settled: false`. The rollout as it
   * now is comes back either way (undefined if it no longer exists).
   */
  async settle(
    fleet: string,
    source: { templateId: string; version: number },
    holder: string,
    end: MemberEnd,
  ): Promise<{ settled: boolean; rollout: RolloutRecord | undefined }> {
    let settled = true;
    try {
      await this.dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: memberSettlement({ name: this.table }, fleet, source, holder, end),
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      settled = false;
    }
    return { settled, rollout: await this.get(fleet, source) };
  }

  /** `phoenix rollout approve`: the fleet's current rollout, awaiting approval, goes on rolling. */
  approve(fleet: string, by: string): Promise<RolloutRecord> {
    return this.operate(fleet, 'approve', (rollout) => approveStage(rollout, by), 'awaiting approval');
  }

  /** `phoenix rollout halt`: the fleet's current rollout halts (any stage but completed), recording who and why, and its version is quarantined. */
  halt(fleet: string, by: string, reason?: string): Promise<RolloutRecord> {
    return this.operate(
      fleet,
      'halt',
      (rollout) => haltByOperator(rollout, by, reason, this.clock()),
      'live (waiting, canary, baking, awaiting approval or rolling)',
    );
  }

  /**
   * `phoenix rollout resume`: the fleet's current rollout, halted, goes back to the stage it
   * halted in (a bake starts over), its failure budget given back, and its version's
   * quarantine is lifted. Moving a rolled-back drift to its next attempt is the caller's
   * (the CLI does it as `quarantine lift` does, before this).
   */
  resume(fleet: string): Promise<RolloutRecord> {
    return this.operate(
      fleet,
      'resume',
      (rollout) =>
        resumeStage(rollout, this.clock(), {
          bakeMinutes: rollout.bakeMinutes,
          alarms: [],
          maxFailures: rollout.maxFailures,
          approval: 'automatic',
        }),
      'halted',
    );
  }

  /** Reads the current rollout, decides, writes on the stage read; reads again when another process moved it first. */
  private async operate(
    fleet: string,
    action: string,
    decide: (rollout: RolloutRecord) => RolloutStep,
    expected: string,
  ): Promise<RolloutRecord> {
    for (let attempt = 1; ; attempt += 1) {
      const rollout = await this.current(fleet);
      if (rollout === undefined) throw new RolloutNotFoundError(`fleet ${fleet} has no rollout to ${action}`);
      const step = decide(rollout);
      if (!step.changed) {
        throw new RolloutStageError(
          `the rollout of ${sourceText(rollout.source)} through fleet ${fleet} is ${rollout.stage}, not ${expected}: nothing to ${action}`,
          rollout.stage,
        );
      }
      const written = await this.recordStep(rollout, step);
      if (written.written) return written.rollout;
      if (attempt >= OPERATOR_ATTEMPTS) {
        throw new RolloutStageError(
          `the rollout of ${sourceText(rollout.source)} through fleet ${fleet} kept changing while it was being ${action === 'halt' ? 'halted' : `${action}d`}: try again`,
          written.rollout?.stage ?? rollout.stage,
        );
      }
    }
  }

  /**
   * Every fleet's rollout items: a Scan, which only {@link RolloutCatalog} (functions/aws/rollout-catalog.ts,
   * the operator's `phoenix rollout list`) makes. Kept out of this module so the Lambdas that
   * bundle the store neither import nor need `dynamodb:Scan`.
   */
  protected everyFleet(): Promise<Record<string, AttributeValue>[]> {
    return Promise.reject(
      new InvalidInputError("listing every fleet's rollouts needs a RolloutCatalog (a Scan); name a fleet"),
    );
  }

  /** The client and table, for {@link RolloutCatalog}. */
  protected get access(): { dynamodb: Pick<DynamoDBClient, 'send'>; table: string } {
    return { dynamodb: this.dynamodb, table: this.table };
  }

  private notFound(fleet: string, source: { templateId: string; version: number }): RolloutNotFoundError {
    return new RolloutNotFoundError(`fleet ${fleet} has no rollout of ${sourceText(source)}`);
  }

  private async queryFleet(fleet: string): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.table,
          ConsistentRead: true,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': s(ROLLOUT_ITEM.pk(fleet)) },
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }
}
