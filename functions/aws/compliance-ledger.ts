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
 * Layout: `reported#<generation>` / `shard#<nn>`, {@link LEDGER_SHARDS} items holding a map
 * `entries` of instance id → digest of what was reported (the caller's digest of the
 * evaluation as Config records it), a `version` for optimistic
 * writes, and `expiresAt` (TTL). Reading a generation is one BatchGetItem whatever the
 * estate's size; a sweep writes back only the shards whose entries changed. Losing a write
 * (a concurrent sweep, an error) costs at most one repeated evaluation per instance later.
 */
import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { epochSeconds, num } from './state-items';

/** Shards of one generation: 32 items of at most ~400 KB hold far more instances than one account runs. */
export const LEDGER_SHARDS = 32;
/** A generation no sweep has written for this long is gone (sweeps run at least daily). */
export const LEDGER_TTL_SECONDS = 14 * 24 * 3600;
/** Bumped when the digest or the layout changes: a new format starts a new generation. */
const LEDGER_FORMAT = 1;

/** Which ledger a reading belongs to. */
export interface LedgerGeneration {
  /** The Config rule's ARN (or name): a re-created rule starts empty. */
  rule: string;
  /** The desired-state revision compiled into the evaluator. */
  revision: string;
  /** Changes with every deploy of the evaluator, when the deployment says so. */
  deployment?: string;
}

/** The shard an instance's entry lives in. */
export function shardOf(resourceId: string): number {
  return createHash('sha256').update(resourceId).digest().readUInt32BE(0) % LEDGER_SHARDS;
}

function generationKey(generation: LedgerGeneration): string {
  const identity = [LEDGER_FORMAT, generation.rule, generation.revision, generation.deployment ?? ''].join(
    '\n',
  );
  return createHash('sha256').update(identity).digest('hex').slice(0, 24);
}

function shardSk(shard: number): string {
  return `shard#${String(shard).padStart(2, '0')}`;
}

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
  constructor(
    private readonly dynamodb: Pick<DynamoDBClient, 'send'>,
    private readonly table: string,
    private readonly clock: () => Date,
  ) {}

  /** Every shard of a generation, in one strongly consistent batch read (retrying unprocessed keys). */
  async read(generation: LedgerGeneration): Promise<LedgerReading> {
    const pk = `reported#${generationKey(generation)}`;
    const entries = new Map<string, string>();
    const versions = new Map<number, number>();
    let keys: Record<string, AttributeValue>[] | undefined = Array.from(
      { length: LEDGER_SHARDS },
      (_, i) => ({
        pk: { S: pk },
        sk: { S: shardSk(i) },
      }),
    );
    for (let round = 0; keys !== undefined && keys.length > 0; round += 1) {
      if (round === 5) throw new Error('DynamoDB left ledger shards unprocessed five times');
      const page: BatchGetItemCommandOutput = await this.dynamodb.send(
        new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of page.Responses?.[this.table] ?? []) {
        const shard = Number((item.sk?.S ?? '').slice('shard#'.length));
        versions.set(shard, num(item, 'version') ?? 0);
        for (const [id, value] of Object.entries(item.entries?.M ?? {})) {
          if (value.S !== undefined) entries.set(id, value.S);
        }
      }
      keys = page.UnprocessedKeys?.[this.table]?.Keys;
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
    const pk = `reported#${generationKey(reading.generation)}`;
    const expiresAt = epochSeconds(this.clock()) + LEDGER_TTL_SECONDS;
    const write: LedgerWrite = { shardsWritten: 0, shardsConflicted: 0 };
    for (let shard = 0; shard < LEDGER_SHARDS; shard += 1) {
      const next = wanted.get(shard) ?? new Map<string, string>();
      const version = reading.versionOf(shard);
      if (version !== undefined && sameEntries(reading.entriesOf(shard), next)) continue;
      if (version === undefined && next.size === 0) continue;
      try {
        await this.dynamodb.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              pk: { S: pk },
              sk: { S: shardSk(shard) },
              entries: { M: Object.fromEntries([...next].map(([id, digest]) => [id, { S: digest }])) },
              version: { N: String((version ?? 0) + 1) },
              expiresAt: { N: String(expiresAt) },
            },
            ConditionExpression: version === undefined ? 'attribute_not_exists(pk)' : 'version = :version',
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
    const shard = shardOf(resourceId);
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: `reported#${generationKey(generation)}` }, sk: { S: shardSk(shard) } },
          UpdateExpression: 'SET entries.#id = :digest ADD version :one',
          ConditionExpression: 'attribute_exists(pk)',
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
