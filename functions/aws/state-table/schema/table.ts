/**
 * The state table itself: its key attributes, its TTL attribute, and what every item kind
 * shares (keys, attribute readers, the rule that an expired item counts as absent).
 *
 * Infra creates the table from {@link STATE_TABLE} (infra/parts/state-table.ts), the tests'
 * tables are created from it too, and every key in the code is built by {@link itemKey}: so
 * the table and the code cannot disagree about the layout.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** The key schema and TTL attribute of the one state table. */
export const STATE_TABLE = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  /** Epoch seconds. DynamoDB deletes an expired item lazily (up to days later). */
  timeToLiveAttribute: 'expiresAt',
} as const;

const PK = STATE_TABLE.partitionKey.name;
const SK = STATE_TABLE.sortKey.name;
const TTL = STATE_TABLE.timeToLiveAttribute;

/** An item as DynamoDB holds it. */
export type Item = Record<string, AttributeValue>;

/** The key of an item: `{ pk: { S }, sk: { S } }`. */
export function itemKey(pk: string, sk: string): Item {
  return { [PK]: { S: pk }, [SK]: { S: sk } };
}

/** The partition key of an item (or of a key). */
export function pkOf(item: Item | undefined): string | undefined {
  return str(item, PK);
}

/** The sort key of an item (or of a key). */
export function skOf(item: Item | undefined): string | undefined {
  return str(item, SK);
}

/** True when `item` has the key `key`. */
export function hasKey(item: Item, key: Item): boolean {
  return pkOf(item) === pkOf(key) && skOf(item) === skOf(key);
}

/** The TTL attribute's value, for an item's expiry. */
export function expiry(expiresAt: number): Item {
  return { [TTL]: { N: String(expiresAt) } };
}

/** When an item expires (epoch seconds); 0 for an item without expiry. */
export function expiresAtOf(item: Item | undefined): number {
  return num(item, TTL) ?? 0;
}

/** Whether an item is still there for Phoenix: not expired at `nowSeconds` (an expired item counts as absent). */
export function isLive(item: Item, nowSeconds: number): boolean {
  return expiresAtOf(item) >= nowSeconds;
}

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** A string attribute value. */
export function s(value: string): AttributeValue {
  return { S: value };
}

/** A number attribute value. */
export function n(value: number): AttributeValue {
  return { N: String(value) };
}

/** A string attribute, if the item has it. */
export function str(item: Item | undefined, name: string): string | undefined {
  const value = item?.[name];
  return value !== undefined && 'S' in value ? value.S : undefined;
}

/** A number attribute, if the item has it. */
export function num(item: Item | undefined, name: string): number | undefined {
  const value = item?.[name];
  if (value === undefined || !('N' in value) || value.N === undefined) return undefined;
  return Number(value.N);
}

/**
 * Conditions every item kind with a holder and an expiry shares. Their placeholders: `:now`
 * (epoch seconds) and `:holder`.
 */
export const CONDITIONS = {
  /** No such item. */
  absent: `attribute_not_exists(${PK})`,
  /** The item exists (expired or not). */
  present: `attribute_exists(${PK})`,
  /** No such item, or it expired: expired counts as absent. */
  free: `attribute_not_exists(${PK}) OR ${TTL} < :now`,
  /** Free, or already the holder's (a retried step takes its own item again). */
  freeOrHeld: `attribute_not_exists(${PK}) OR ${TTL} < :now OR holder = :holder`,
  /** Free, or another holder's: whatever it is, the holder does not hold it now. */
  notHeld: `attribute_not_exists(${PK}) OR ${TTL} < :now OR holder <> :holder`,
  /** No such item, or the holder's (expired or not): never over another holder's. */
  absentOrHeld: `attribute_not_exists(${PK}) OR holder = :holder`,
  /** The holder's, expired or not. */
  held: 'holder = :holder',
  /** The holder's and not expired. */
  heldLive: `holder = :holder AND ${TTL} >= :now`,
} as const;

/** The update of an item's expiry (`:expiresAt`). */
export const RENEW = `SET ${TTL} = :expiresAt`;
