/**
 * How Phoenix's records sit in the state table: keys, attribute readers, and the records
 * both stores read. Shared by {@link StateStore} and {@link RemediationStore}; not for use
 * elsewhere.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../domain/errors';
import type { GroupChange, GroupLock, PauseState, Quarantine, QuarantineKey } from './state-store';

export const CONTROL_PK = 'control';
export const PAUSE_SK = 'pause';
export const QUARANTINE_PK = 'quarantine';
const GROUP_LOCK_SK = 'lock';
const INSTANCE_CLAIM_SK = 'replacement';

export function attemptKey(instanceId: string, fingerprint: string): Record<string, AttributeValue> {
  if (instanceId === '' || fingerprint === '')
    throw new InvalidInputError('an attempt needs an instance id and a fingerprint');
  return { pk: { S: `attempt#${instanceId}` }, sk: { S: fingerprint } };
}

export function groupLockKey(group: string): Record<string, AttributeValue> {
  return { pk: { S: `group#${group}` }, sk: { S: GROUP_LOCK_SK } };
}

/** The claim on replacing one instance: who replaces it, or who replaced it. */
export function instanceClaimKey(instanceId: string): Record<string, AttributeValue> {
  if (instanceId === '') throw new InvalidInputError('an instance claim needs an instance id');
  return { pk: { S: `instance#${instanceId}` }, sk: { S: INSTANCE_CLAIM_SK } };
}

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export function quarantineSk(key: QuarantineKey): string {
  return `${key.fleet}#${key.templateId}#${key.version}`;
}

export function str(item: Record<string, AttributeValue> | undefined, name: string): string | undefined {
  const value = item?.[name];
  return value !== undefined && 'S' in value ? value.S : undefined;
}

export function num(item: Record<string, AttributeValue> | undefined, name: string): number | undefined {
  const value = item?.[name];
  if (value === undefined || !('N' in value) || value.N === undefined) return undefined;
  return Number(value.N);
}

export function nonNegativeInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidInputError(`${name} must be a whole number ≥ 0, got ${value}`);
  }
}

export function pauseFromItem(item: Record<string, AttributeValue> | undefined): PauseState {
  if (item === undefined) return { paused: false };
  const state: PauseState = { paused: item.paused?.BOOL === true };
  const by = str(item, 'by');
  const at = str(item, 'at');
  if (by !== undefined) state.by = by;
  if (at !== undefined) state.at = at;
  return state;
}

export function quarantineFromItem(item: Record<string, AttributeValue>): Quarantine {
  return {
    fleet: str(item, 'fleet') ?? '',
    templateId: str(item, 'templateId') ?? '',
    version: num(item, 'version') ?? 0,
    cause: str(item, 'cause') ?? '',
    execution: str(item, 'execution') ?? '',
    at: str(item, 'at') ?? '',
  };
}

/** The lock an item describes, expired or not; undefined for no item. */
export function groupLockFromItem(
  group: string,
  item: Record<string, AttributeValue> | undefined,
): GroupLock | undefined {
  if (item === undefined || str(item, 'holder') === undefined) return undefined;
  const lock: GroupLock = {
    group,
    holder: str(item, 'holder') ?? '',
    instanceId: str(item, 'instanceId') ?? '',
    acquiredAt: str(item, 'acquiredAt') ?? '',
    expiresAt: num(item, 'expiresAt') ?? 0,
  };
  const change = str(item, 'change');
  if (change !== undefined) lock.change = JSON.parse(change) as GroupChange;
  return lock;
}
