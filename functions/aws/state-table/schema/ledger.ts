/**
 * The compliance ledger: `reported#<generation>` / `shard#<nn>`, {@link LEDGER_SHARDS} items per
 * generation, each holding a map `entries` of instance id → digest of what was last reported
 * to AWS Config, a `version` for optimistic writes, and an expiry (functions/aws/compliance-ledger.ts).
 */
import { createHash } from 'node:crypto';
import { CONDITIONS, expiresAtOf, expiry, type Item, itemKey, num, skOf } from './table';

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

/** One shard as the table holds it. */
export interface LedgerShard {
  shard: number;
  /** Instance id → digest of what was reported. */
  entries: ReadonlyMap<string, string>;
  version: number;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The shard an instance's entry lives in. */
export function shardOf(resourceId: string): number {
  return createHash('sha256').update(resourceId).digest().readUInt32BE(0) % LEDGER_SHARDS;
}

function generationPk(generation: LedgerGeneration): string {
  const identity = [LEDGER_FORMAT, generation.rule, generation.revision, generation.deployment ?? ''].join(
    '\n',
  );
  return `reported#${createHash('sha256').update(identity).digest('hex').slice(0, 24)}`;
}

const SHARD_PREFIX = 'shard#';

/** The key of one shard of a generation. */
export function ledgerShardKey(generation: LedgerGeneration, shard: number): Item {
  return itemKey(generationPk(generation), `${SHARD_PREFIX}${String(shard).padStart(2, '0')}`);
}

export function ledgerShardItem(generation: LedgerGeneration, shard: LedgerShard): Item {
  return {
    ...ledgerShardKey(generation, shard.shard),
    entries: { M: Object.fromEntries([...shard.entries].map(([id, digest]) => [id, { S: digest }])) },
    version: { N: String(shard.version) },
    ...expiry(shard.expiresAt),
  };
}

export function ledgerShardFromItem(item: Item): LedgerShard {
  const entries = new Map<string, string>();
  for (const [id, value] of Object.entries(item.entries?.M ?? {})) {
    if (value.S !== undefined) entries.set(id, value.S);
  }
  return {
    shard: Number((skOf(item) ?? '').slice(SHARD_PREFIX.length)),
    entries,
    version: num(item, 'version') ?? 0,
    expiresAt: expiresAtOf(item),
  };
}

/**
 * The update that records one instance's digest into a shard a sweep already wrote (`#id`
 * the instance, `:digest`, `:one`), moving its version on.
 */
export const LEDGER_NOTE = {
  update: 'SET entries.#id = :digest ADD version :one',
  condition: CONDITIONS.present,
} as const;
