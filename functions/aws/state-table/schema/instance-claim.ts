/**
 * Instance claims: `instance#<id>` / `replacement`, the execution replacing an instance now
 * (taken with its lease), or, once it succeeded, the one that replaced it, kept a while as the
 * record of it (docs/adr/0021-one-replacement-per-instance.md).
 */
import { InvalidInputError } from '../../../domain/errors';
import { expiresAtOf, expiry, type Item, itemKey, STATE_TABLE, str } from './table';

/** Who replaces an instance now (a live lease), or who replaced it (kept after the replacement). */
export interface InstanceClaim {
  instanceId: string;
  /** The execution ARN. */
  holder: string;
  acquiredAt: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** Set once the holder's replacement succeeded: the instance that took over. */
  replacedBy?: string;
  replacedAt?: string;
}

/**
 * How long the claim of a replaced instance is kept: the old instance stays visible, running
 * and drifted, until it is gone, and no one may replace it meanwhile. A group member handed
 * back to its group is drained first (a deregistration delay: at most an hour) and waits for
 * its termination lifecycle hooks (by default at most two hours, extended by heartbeats up to
 * 48 hours); a standalone one is shutting down at once.
 */
export const REPLACED_CLAIM_TTL_SECONDS = 48 * 3600;

/** The claim's key. */
export function instanceClaimKey(instanceId: string): Item {
  if (instanceId === '') throw new InvalidInputError('an instance claim needs an instance id');
  return itemKey(`instance#${instanceId}`, 'replacement');
}

/**
 * A claim taken, as an item. It also names the fleet, for whoever reads the table; no reader
 * of the claim needs it.
 */
export function instanceClaimItem(claim: InstanceClaim & { fleet: string }): Item {
  const item: Item = {
    ...instanceClaimKey(claim.instanceId),
    holder: { S: claim.holder },
    fleet: { S: claim.fleet },
    acquiredAt: { S: claim.acquiredAt },
    ...expiry(claim.expiresAt),
  };
  if (claim.replacedBy !== undefined) item.replacedBy = { S: claim.replacedBy };
  if (claim.replacedAt !== undefined) item.replacedAt = { S: claim.replacedAt };
  return item;
}

/**
 * The update that keeps a claim as the record of its replacement, with its placeholders'
 * values (the condition on who may make it is the caller's).
 */
export function instanceClaimReplaced(replaced: {
  holder: string;
  replacedBy: string;
  replacedAt: string;
  expiresAt: number;
}): { update: string; values: Item } {
  return {
    update: `SET holder = :holder, replacedBy = :replacedBy, replacedAt = :at, ${STATE_TABLE.timeToLiveAttribute} = :expiresAt`,
    values: {
      ':holder': { S: replaced.holder },
      ':replacedBy': { S: replaced.replacedBy },
      ':at': { S: replaced.replacedAt },
      ':expiresAt': { N: String(replaced.expiresAt) },
    },
  };
}

/** The claim an item describes, expired or not; undefined for no item. */
export function instanceClaimFromItem(instanceId: string, item: Item | undefined): InstanceClaim | undefined {
  const holder = str(item, 'holder');
  if (item === undefined || holder === undefined) return undefined;
  const claim: InstanceClaim = {
    instanceId,
    holder,
    acquiredAt: str(item, 'acquiredAt') ?? '',
    expiresAt: expiresAtOf(item),
  };
  const replacedBy = str(item, 'replacedBy');
  const replacedAt = str(item, 'replacedAt');
  if (replacedBy !== undefined) claim.replacedBy = replacedBy;
  if (replacedAt !== undefined) claim.replacedAt = replacedAt;
  return claim;
}
