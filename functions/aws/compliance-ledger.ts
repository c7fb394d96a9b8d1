/**
 * What Phoenix last reported to AWS Config, per instance: the sweep reports only the
 * evaluations whose compliance or annotation changed since, so an unchanged estate costs
 * (almost) no rule evaluations. AWS Config bills every evaluation it records, and an
 * evaluation stands until another replaces it, so repeating an unchanged one buys nothing.
 *
 * The ledger is kept per generation: the Config rule (a re-created rule has lost every
 * evaluation), the desired-state revision (a deploy that changes what is declared reports
 * every instance again) and the deployment (any deploy of the evaluator does the same). A
 * generation with no ledger yet is empty: its first sweep reports everything.
 *
 * Layout (functions/aws/state-table/schema/ledger.ts): `reported#<generation>` / `shard#<nn>`,
 * {@link LEDGER_SHARDS} items holding a map `entries` of instance id → digest of what was
 * reported (the caller's digest of the evaluation as Config records it), a `version` for
 * optimistic writes, and `expiresAt` (TTL). Reading a generation is one BatchGetItem whatever the
 * estate's size; a sweep writes back only the shards whose entries changed. Losing a write
 * (a concurrent sweep, an error) costs at most one repeated evaluation per instance later.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { batchGetAll, type StateTableHandle } from './state-table/handle';
import {
  CONDITIONS,
  epochSeconds,
  LEDGER_NOTE,
  LEDGER_SHARDS,
  LEDGER_TTL_SECONDS,
  type LedgerGeneration,
  ledgerShardFromItem,
  ledgerShardItem,
  ledgerShardKey,
  shardOf,
} from './state-table/schema';

export { LEDGER_SHARDS, LEDGER_TTL_SECONDS, type LedgerGeneration, shardOf } from './state-table/schema';

/** One generation as read: the entries and each shard's version. */
export class LedgerReading {
  readonly generation: LedgerGeneration;
  readonly #entries: ReadonlyMap<string, string>;
  readonly #versions: ReadonlyMap<number, number>;

  constructor(
    generation: LedgerGeneration,
    entries: ReadonlyMap<string, string>,
    versions: ReadonlyMap<number, number>,
  ) {
    this.generation = generation;
    this.#entries = entries;
    this.#versions = versions;
  }

  /** Instances with an entry. */
  get size(): number {
    return this.#entries.size;
  }

  /** The digest of what was last reported for an instance, if anything. */
  digestOf(resourceId: string): string | undefined {
    return this.#entries.get(resourceId);
  }

  /** @internal */
  entriesOf(shard: number): Map<string, string> {
    const entries = new Map<string, string>();
    for (const [id, digest] of this.#entries) if (shardOf(id) === shard) entries.set(id, digest);
    return entries;
  }

  /** @internal */
  versionOf(shard: number): number | undefined {
    return this.#versions.get(shard);
  }
}

/** What {@link ComplianceLedger.replace} wrote. */
export interface LedgerWrite {
  shardsWritten: number;
  /** Shards another writer changed meanwhile: left as they are (their entries may repeat once). */
  shardsConflicted: number;
}

/** The ledger in the state table. */
export class ComplianceLedger {
  readonly #table: StateTableHandle;

  constructor(dynamodb: Pick<DynamoDBClient, 'send'>, table: string, clock: () => Date) {
    this.#table = { dynamodb, name: table, clock };
  }

  /** Every shard of a generation, in one strongly consistent batch read (retrying unprocessed keys). */
  async read(generation: LedgerGeneration): Promise<LedgerReading> {
    const keys = Array.from({ length: LEDGER_SHARDS }, (_, i) => ledgerShardKey(generation, i));
    const entries = new Map<string, string>();
    const versions = new Map<number, number>();
    for (const item of await batchGetAll(this.#table, keys, 'ledger shards')) {
      const shard = ledgerShardFromItem(item);
      versions.set(shard.shard, shard.version);
      for (const [id, digest] of shard.entries) entries.set(id, digest);
    }
    return new LedgerReading(generation, entries, versions);
  }

  /**
   * Makes the generation's ledger exactly `digests` (a sweep's whole estate: instances
   * no longer swept drop out), writing only shards whose entries changed. Each write is
   * conditional on the version read, so two sweeps at once never interleave within a shard.
   */
  async replace(reading: LedgerReading, digests: ReadonlyMap<string, string>): Promise<LedgerWrite> {
    const wanted = new Map<number, Map<string, string>>();
    for (const [resourceId, digest] of digests) {
      const shard = shardOf(resourceId);
      let entries = wanted.get(shard);
      if (entries === undefined) {
        entries = new Map();
        wanted.set(shard, entries);
      }
      entries.set(resourceId, digest);
    }
    const expiresAt = epochSeconds(this.#table.clock()) + LEDGER_TTL_SECONDS;
    const write: LedgerWrite = { shardsWritten: 0, shardsConflicted: 0 };
    for (let shard = 0; shard < LEDGER_SHARDS; shard += 1) {
      const next = wanted.get(shard) ?? new Map<string, string>();
      const version = reading.versionOf(shard);
      if (version !== undefined && sameEntries(reading.entriesOf(shard), next)) continue;
      if (version === undefined && next.size === 0) continue;
      try {
        await this.#table.dynamodb.send(
          new PutItemCommand({
            TableName: this.#table.name,
            Item: ledgerShardItem(reading.generation, {
              shard,
              entries: next,
              version: (version ?? 0) + 1,
              expiresAt,
            }),
            ConditionExpression: version === undefined ? CONDITIONS.absent : 'version = :version',
            ...(version === undefined
              ? {}
              : { ExpressionAttributeValues: { ':version': { N: String(version) } } }),
          }),
        );
        write.shardsWritten += 1;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        write.shardsConflicted += 1;
      }
    }
    return write;
  }

  /**
   * Records one evaluation a change notification reported, so the next sweep does not
   * report it again. Only into a shard a sweep already wrote: before the generation's first
   * sweep there is nothing to keep in step (that sweep reports everything anyway).
   */
  async note(generation: LedgerGeneration, resourceId: string, digest: string): Promise<boolean> {
    try {
      await this.#table.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.#table.name,
          Key: ledgerShardKey(generation, shardOf(resourceId)),
          UpdateExpression: LEDGER_NOTE.update,
          ConditionExpression: LEDGER_NOTE.condition,
          ExpressionAttributeNames: { '#id': resourceId },
          ExpressionAttributeValues: {
            ':digest': { S: digest },
            ':one': { N: '1' },
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, digest] of a) if (b.get(id) !== digest) return false;
  return true;
}
