/**
 * Group locks: `group#<name>` / `lock`, the one execution allowed to change an Auto Scaling
 * group's desired capacity right now, and what it is doing to it
 * (docs/adr/0009-asg-surge-without-races.md).
 */
import { CONDITIONS, expiresAtOf, expiry, type Item, itemKey, str } from './table';

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
  /**
   * A wave's raise (docs/adr/0034-waves.md): the members it raised for, sorted, and the
   * execution that closed the wave and sets the capacity. Absent for a change of one.
   */
  wave?: { members: string[]; closedBy: string };
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
  /**
   * The executions holding the lock together (docs/adr/0034-waves.md): a wave's surges, or
   * the one execution of any other change (then it may be left out: the holder). The lock is
   * free once the last has left it.
   */
  members?: string[];
  /** Members that began handing capacity back (`RetireOld`, a rollback): a retried step knows its own doing. */
  retiring?: string[];
  /** A wave: others' surges may join it until it raises (its change is recorded). */
  wave?: boolean;
  /** The wave's raise was made (set after `SetDesiredCapacity` answered). */
  raised?: boolean;
  /** The wave's raise was refused for its launch (EC2's code and message): every member fails as its closer did. */
  raiseFailed?: { code: string; message: string };
}

/**
 * Conditions on a group lock item, beside {@link CONDITIONS} (`:now`, `:holder`). A lock is
 * held while it has members and has not expired; a lock whose members all left is free (the
 * item stays, its `shared` mark says it is of this format: one without it is held until it
 * expires).
 */
export const LOCK_CONDITIONS = {
  free: `${CONDITIONS.free} OR (attribute_exists(sharedFormat) AND attribute_not_exists(holders))`,
  /** `:holder` is one of its members (expired or not). */
  member: 'contains(holders, :holder)',
  /** `:holder` is one of its members and it has not expired. */
  memberLive: 'contains(holders, :holder) AND expiresAt >= :now',
  /** A wave that has not raised yet, alive: a surge may join it (`#change` names the change). */
  openWave:
    'attribute_exists(joinable) AND attribute_exists(holders) AND attribute_not_exists(#change) AND expiresAt >= :now',
} as const;

/** The lock's attribute names the conditions above use by placeholder. */
export const LOCK_NAMES = { '#change': 'change' } as const;

/** Who holds the lock together: its members, or its one holder. */
export function lockMembers(lock: Pick<GroupLock, 'holder' | 'members'>): string[] {
  return lock.members ?? [lock.holder];
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
    sharedFormat: { BOOL: true },
  };
  const members = lockMembers(lock);
  if (members.length > 0) item.holders = { SS: [...members] };
  if (lock.retiring !== undefined && lock.retiring.length > 0) item.handingBack = { SS: [...lock.retiring] };
  if (lock.wave === true) item.joinable = { BOOL: true };
  if (lock.raised === true) item.raiseMade = { BOOL: true };
  if (lock.raiseFailed !== undefined) item.raiseFailed = { S: JSON.stringify(lock.raiseFailed) };
  if (lock.change !== undefined) item[GROUP_CHANGE_ATTRIBUTE] = groupChangeValue(lock.change);
  return item;
}

/** The recorded change as an attribute value. */
export function groupChangeValue(change: GroupChange): { S: string } {
  return { S: JSON.stringify(change) };
}

/**
 * The lock an item describes, expired or not; undefined for no item, or one whose members all
 * left (free). An item of the format before waves has its holder as its one member.
 */
export function groupLockFromItem(group: string, item: Item | undefined): GroupLock | undefined {
  if (item === undefined || str(item, 'holder') === undefined) return undefined;
  const shared = item.sharedFormat?.BOOL === true;
  const members = item.holders?.SS ?? (shared ? [] : [str(item, 'holder') ?? '']);
  if (members.length === 0) return undefined;
  const lock: GroupLock = {
    group,
    holder: str(item, 'holder') ?? '',
    instanceId: str(item, 'instanceId') ?? '',
    acquiredAt: str(item, 'acquiredAt') ?? '',
    expiresAt: expiresAtOf(item),
    members: [...members].sort(),
  };
  if (item.handingBack?.SS !== undefined) lock.retiring = [...item.handingBack.SS].sort();
  if (item.joinable?.BOOL === true) lock.wave = true;
  if (item.raiseMade?.BOOL === true) lock.raised = true;
  const failed = str(item, 'raiseFailed');
  if (failed !== undefined) lock.raiseFailed = JSON.parse(failed) as { code: string; message: string };
  const change = str(item, GROUP_CHANGE_ATTRIBUTE);
  if (change !== undefined) lock.change = JSON.parse(change) as GroupChange;
  return lock;
}
