/**
 * The lock on an Auto Scaling group's capacity, as the steps take it: every change Phoenix
 * makes to a group's desired capacity is read and made under it
 * (docs/adr/0009-asg-surge-without-races.md).
 */
import { type GroupLockPurpose, groupRefusalReason } from '../../aws/remediation-store';
import type { GroupChange, GroupLock } from '../../aws/state-store';
import { GroupBusyError } from '../errors';
import type { GroupChangeRecord, MachineData, Plan, Timings } from '../input';
import { requirePart, type StepContext, type StepDeps, timingsOf } from './deps';

/**
 * How long a group lock may outlive its holder: the longest a holder keeps it (until the
 * health checks have found its replacement) plus a margin. Past it, the holder is dead.
 */
export function groupLockTtlSeconds(timings: Timings): number {
  return timings.healthCheckIntervalSeconds * timings.healthCheckMaxAttempts + 300;
}

/** The plan's Auto Scaling part, or StepInputError naming the step that needs it. */
export function requireAsg(data: MachineData, step: string): NonNullable<Plan['asg']> {
  return requirePart(data.plan?.asg, 'an Auto Scaling plan', step);
}

/** This execution's lock on the group, or GroupBusyError naming who has it. */
export async function lockGroup(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
  group: string,
  purpose: GroupLockPurpose,
  options: { wave?: boolean } = {},
): Promise<GroupLock> {
  const decision = await deps.store.acquireGroupLock({
    purpose,
    ...(options.wave === true ? { wave: true } : {}),
    group,
    holder: ctx.executionId,
    instanceId: data.instanceId,
    ttlSeconds: groupLockTtlSeconds(timingsOf(data)),
  });
  if (decision.acquired) return decision.lock;
  throw new GroupBusyError(groupRefusalReason(decision));
}

/** A change recorded under the lock, as the state carries it (`$.surge`). */
export function changeRecord(change: GroupChange): GroupChangeRecord {
  const record: GroupChangeRecord = {
    mode: change.mode,
    desiredBefore: change.desiredBefore,
    instancesBefore: [...change.instancesBefore],
  };
  if (change.raisedTo !== undefined) record.raisedTo = change.raisedTo;
  return record;
}
