/**
 * Group locks: `group#<name>` / `lock`, the one execution allowed to change an Auto Scaling
 * group's desired capacity right now, and what it is doing to it
 * (docs/adr/0009-asg-surge-without-races.md).
 */
import { expiresAtOf, expiry, type Item, itemKey, str } from './table';

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

/** The lock on one Auto Scaling group's capacity (see `RemediationStore.acquireGroupLock`). */
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

/** The attribute the change is recorded in (a JSON string). */
export const GROUP_CHANGE_ATTRIBUTE = 'change';

/** The lock's key. */
export function groupLockKey(group: string): Item {
  return itemKey(`group#${group}`, 'lock');
}

/**
 * Retirements waiting for the lock: `group#<name>` / `retirers`, `holders` (a string set) and
 * `expiresAt` (renewed by each waiting retirement's every try; a retirement that died lapses).
 * While it lives, no surge takes the lock: handing old members back goes before launching more.
 */
export function groupRetirersKey(group: string): Item {
  return itemKey(`group#${group}`, 'retirers');
}

/** The lock as an item; an unknown instance is written as `unknown`. */
export function groupLockItem(lock: GroupLock): Item {
  const item: Item = {
    ...groupLockKey(lock.group),
    holder: { S: lock.holder },
    instanceId: { S: lock.instanceId === '' ? 'unknown' : lock.instanceId },
    acquiredAt: { S: lock.acquiredAt },
    ...expiry(lock.expiresAt),
  };
  if (lock.change !== undefined) item[GROUP_CHANGE_ATTRIBUTE] = groupChangeValue(lock.change);
  return item;
}

/** The recorded change as an attribute value. */
export function groupChangeValue(change: GroupChange): { S: string } {
  return { S: JSON.stringify(change) };
}

/** The lock an item describes, expired or not; undefined for no item. */
export function groupLockFromItem(group: string, item: Item | undefined): GroupLock | undefined {
  if (item === undefined || str(item, 'holder') === undefined) return undefined;
  const lock: GroupLock = {
    group,
    holder: str(item, 'holder') ?? '',
    instanceId: str(item, 'instanceId') ?? '',
    acquiredAt: str(item, 'acquiredAt') ?? '',
    expiresAt: expiresAtOf(item),
  };
  const change = str(item, GROUP_CHANGE_ATTRIBUTE);
  if (change !== undefined) lock.change = JSON.parse(change) as GroupChange;
  return lock;
}
