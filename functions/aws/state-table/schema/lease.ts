/**
 * Budget leases: `lease#<fleet>` / `slot#<i>`, one of the fleet's `maxConcurrent` replacement
 * slots, and `lease#<fleet>` / `dip#<i>`, one unit of the fleet's healthy-capacity headroom,
 * taken only by a replacement that takes an instance out before its successor is healthy.
 * Each held by one execution until it releases it or it expires.
 */
import { expiresAtOf, expiry, type Item, itemKey, pkOf, skOf, str } from './table';

/** A slot limits replacements in flight; a dip, instances out of service before their successor is healthy. */
export type LeaseItemKind = 'slot' | 'dip';

/** One lease item as the table holds it. */
export interface LeaseItem {
  fleet: string;
  /** `slot#<i>` or `dip#<i>`. */
  sk: string;
  /** The execution ARN. */
  holder: string;
  /** The instance the holder replaces. */
  instanceId: string;
  /** ISO-8601. */
  acquiredAt: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** The Availability Zone of the instance replaced: the queue spreads grants across zones by it. */
  az?: string;
}

const LEASE_PREFIX = 'lease#';

/** The partition of one fleet's lease items. */
export function leasePk(fleet: string): string {
  return `${LEASE_PREFIX}${fleet}`;
}

/** The `i`-th item of a kind: `slot#0`, `dip#1`… */
export function leaseSk(kind: LeaseItemKind, i: number): string {
  return `${kind}#${i}`;
}

/** Whether a lease item's sort key is of `kind`. */
export function isLeaseSk(sk: string, kind: LeaseItemKind): boolean {
  return sk.startsWith(`${kind}#`);
}

/** A lease item's key. */
export function leaseKey(fleet: string, sk: string): Item {
  return itemKey(leasePk(fleet), sk);
}

export function leaseItem(lease: LeaseItem): Item {
  return {
    ...leaseKey(lease.fleet, lease.sk),
    holder: { S: lease.holder },
    instanceId: { S: lease.instanceId },
    acquiredAt: { S: lease.acquiredAt },
    ...expiry(lease.expiresAt),
    ...(lease.az === undefined ? {} : { az: { S: lease.az } }),
  };
}

export function leaseFromItem(item: Item): LeaseItem {
  const az = str(item, 'az');
  return {
    ...(az === undefined ? {} : { az }),
    fleet: (pkOf(item) ?? '').slice(LEASE_PREFIX.length),
    sk: skOf(item) ?? '',
    holder: str(item, 'holder') ?? '',
    instanceId: str(item, 'instanceId') ?? '',
    acquiredAt: str(item, 'acquiredAt') ?? '',
    expiresAt: expiresAtOf(item),
  };
}
