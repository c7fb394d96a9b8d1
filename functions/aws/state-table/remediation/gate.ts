/**
 * The gate read before a remediation starts: the pause switch, one launch template version's
 * quarantine and, when asked, the instance's claim, in one strongly consistent batch read.
 */
import { batchGetAll, type StateTableHandle } from '../handle';
import {
  epochSeconds,
  hasKey,
  type InstanceClaim,
  instanceClaimFromItem,
  instanceClaimKey,
  LAUNCH_TOKENS_KEY,
  launchTokensFromItem,
  PAUSE_KEY,
  type PauseState,
  pauseFromItem,
  type Quarantine,
  type QuarantineKey,
  quarantineFromItem,
  quarantineKey,
} from '../schema';

/** The pause switch and one version's quarantine, read together before a remediation starts. */
export interface RemediationGate {
  pause: PauseState;
  quarantine?: Quarantine;
  /** The instance's live claim, when asked for the instance and someone holds it. */
  instanceClaim?: InstanceClaim;
  /** When EC2's RunInstances bucket is full again, by Phoenix's count (`launch-tokens.ts`); none counted: absent. */
  launchTokensFullAtMs?: number;
}

/**
 * The pause switch and the quarantine of one launch template version for one fleet: what a
 * remediation must know before it may start. With `instanceId`, the instance's claim too, when
 * someone holds it (replacing it, or having replaced it).
 */
export async function remediationGate(
  table: StateTableHandle,
  key: QuarantineKey,
  instanceId?: string,
): Promise<RemediationGate> {
  // The launch tokens' count comes along for nothing: a raise's record guesses its form by it.
  const keys = [PAUSE_KEY, quarantineKey(key), LAUNCH_TOKENS_KEY];
  const claimKey = instanceId === undefined ? undefined : instanceClaimKey(instanceId);
  if (claimKey !== undefined) keys.push(claimKey);
  const found = await batchGetAll(table, keys, 'the pause and quarantine reads');
  const itemOf = (wanted: (typeof keys)[number]) => found.find((item) => hasKey(item, wanted));
  const quarantineItem = itemOf(quarantineKey(key));
  const gate: RemediationGate = { pause: pauseFromItem(itemOf(PAUSE_KEY)) };
  if (quarantineItem !== undefined) gate.quarantine = quarantineFromItem(quarantineItem);
  const fullAt = launchTokensFromItem(itemOf(LAUNCH_TOKENS_KEY));
  if (fullAt !== undefined) gate.launchTokensFullAtMs = fullAt;
  if (instanceId !== undefined && claimKey !== undefined) {
    const claim = instanceClaimFromItem(instanceId, itemOf(claimKey));
    if (claim !== undefined && claim.expiresAt >= epochSeconds(table.clock())) gate.instanceClaim = claim;
  }
  return gate;
}
