/**
 * Attempt generations: `attempt#<instance>` / `<fingerprint>`, the drift's attempt number, part
 * of its execution name; absent means 0 (functions/evaluate-drift/execution.ts,
 * docs/adr/0010-execution-attempts.md).
 */
import { InvalidInputError } from '../../../domain/errors';
import { expiresAtOf, expiry, type Item, itemKey, num, pkOf, skOf, str } from './table';

/**
 * How long an attempt generation is kept after it last moved. Step Functions refuses the name
 * of an ended Standard execution for 90 days; the generation must outlive that, plus the
 * longest execution (a week's wait for a maintenance window), or a drift could fall back onto
 * a name that is still refused.
 */
export const ATTEMPT_TTL_SECONDS = 120 * 24 * 3600;

const ATTEMPT_PREFIX = 'attempt#';
/** What a hold says when its execution gave no reason. */
const UNSAID_HOLD = 'held by its last execution';

/** One drift's generation as the table holds it. */
export interface AttemptRecord {
  instanceId: string;
  fingerprint: string;
  generation: number;
  /** ISO-8601 time it last moved. */
  at: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** Start nothing for this drift until `until` (ISO-8601): its last execution asked for a human. */
  hold?: { until: string; why: string };
}

/** The generation's key. */
export function attemptKey(instanceId: string, fingerprint: string): Item {
  if (instanceId === '' || fingerprint === '')
    throw new InvalidInputError('an attempt needs an instance id and a fingerprint');
  return itemKey(`${ATTEMPT_PREFIX}${instanceId}`, fingerprint);
}

/** The generation as an item; a hold without a reason says {@link UNSAID_HOLD}. */
export function attemptItem(record: AttemptRecord): Item {
  const item: Item = {
    ...attemptKey(record.instanceId, record.fingerprint),
    generation: { N: String(record.generation) },
    at: { S: record.at },
    ...expiry(record.expiresAt),
  };
  if (record.hold !== undefined) {
    item.heldUntil = { S: record.hold.until };
    item.heldBecause = { S: record.hold.why === '' ? UNSAID_HOLD : record.hold.why };
  }
  return item;
}

export function attemptFromItem(item: Item): AttemptRecord {
  const record: AttemptRecord = {
    instanceId: (pkOf(item) ?? '').slice(ATTEMPT_PREFIX.length),
    fingerprint: skOf(item) ?? '',
    generation: num(item, 'generation') ?? 0,
    at: str(item, 'at') ?? '',
    expiresAt: expiresAtOf(item),
  };
  const until = str(item, 'heldUntil');
  if (until !== undefined) record.hold = { until, why: str(item, 'heldBecause') ?? UNSAID_HOLD };
  return record;
}
