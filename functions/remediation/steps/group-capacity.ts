/**
 * Making room for the replacement in an Auto Scaling group, under the group lock: one more
 * instance of desired capacity (a surge), or, at MaxSize, the old instance into Standby first.
 */
import { EnterStandbyCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import type { GroupChange } from '../../aws/state-store';
import { launchErrorOf } from '../aws-errors';
import { GroupBusyError, InstanceGoneError } from '../errors';
import type { GroupChangeRecord, MachineData } from '../input';
import { describeGroup, groupInstanceIds, type StepContext, type StepDeps, sourceOf } from './deps';
import { changeRecord, lockGroup, requireAsg } from './group-lock';

/**
 * Launch before terminate: the group grows by one. Under the group lock, so the desired
 * capacity raised is the group's CURRENT one (other replacements' surges included), and the
 * lock is kept until the health check has found and claimed the instance the group launched
 * for it: no other execution's raise can launch an instance this one would mistake for its own.
 * The lock normally comes with the lease; a retry after waiting for headroom takes it again.
 * A retry finds the change it recorded and raises only if the first attempt did not.
 */
export async function raiseDesiredCapacity(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<GroupChangeRecord> {
  const asg = requireAsg(data, 'raiseDesiredCapacity');
  let recorded: GroupChange | undefined;
  let lockedHere = false;
  if (data.lease?.groupLocked !== true) {
    recorded = (await lockGroup(deps, data, ctx, asg.name, 'surge')).change;
    lockedHere = true;
  }
  for (;;) {
    const group = await describeGroup(deps, asg.name);
    const desired = group.DesiredCapacity ?? 0;
    let change = recorded?.mode === 'surge' ? recorded : undefined;
    if (change === undefined && desired >= (group.MaxSize ?? 0)) {
      // At MaxSize: others' surges use the headroom, or this execution's own raise, recorded
      // by an attempt that did not return.
      const lock = await deps.store.getGroupLock(asg.name);
      const mine = lock?.holder === ctx.executionId;
      if (mine && lock?.change?.mode === 'surge') {
        change = lock.change;
      } else {
        if (mine) await deps.store.releaseGroupLock(asg.name, ctx.executionId);
        throw new GroupBusyError(
          `Auto Scaling group ${asg.name} is at MaxSize ${group.MaxSize ?? 0} (desired ${desired}): waiting for replacements in flight to give their headroom back`,
        );
      }
    }
    if (change === undefined) {
      const candidate: GroupChange = {
        mode: 'surge',
        desiredBefore: desired,
        raisedTo: desired + 1,
        instancesBefore: groupInstanceIds(group),
      };
      // Recorded first: whatever happens next, a retry or the rollback knows what was intended.
      // The record is conditional on holding the lock, which proves the reading above was
      // made under it.
      const outcome = await deps.store.recordGroupChange(asg.name, ctx.executionId, candidate);
      if (outcome.outcome === 'not-held') {
        if (lockedHere)
          throw new GroupBusyError(`lost the lock on Auto Scaling group ${asg.name} before changing it`);
        recorded = (await lockGroup(deps, data, ctx, asg.name, 'surge')).change;
        lockedHere = true;
        continue;
      }
      change = outcome.outcome === 'recorded' ? candidate : outcome.change;
    }
    const raisedTo = change.raisedTo ?? change.desiredBefore + 1;
    const at = deps.clock().toISOString();
    if (desired < raisedTo) {
      await groupLaunching(data, () =>
        deps.autoScaling.send(
          new SetDesiredCapacityCommand({
            AutoScalingGroupName: asg.name,
            DesiredCapacity: raisedTo,
            HonorCooldown: false,
          }),
        ),
      );
    }
    return { ...changeRecord(change), at };
  }
}

/**
 * A group call that makes the group launch. On AWS the launch is asynchronous: a launch EC2
 * refuses fails a scaling activity, which the health check reads. A group that launches
 * synchronously (moto) fails the call itself with EC2's code: told apart the same way, so the
 * version is quarantined there too instead of being retried on every detection.
 */
async function groupLaunching<T>(data: MachineData, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw launchErrorOf(error, sourceOf(data), { direct: false }) ?? error;
  }
}

/**
 * No MaxSize headroom and the budget allows the dip: the old instance goes to Standby without
 * lowering the group's desired capacity, so the group launches the replacement at once; the
 * old one keeps running (out of the group's target groups) until the replacement is healthy,
 * and stays a member of its group, with its `aws:autoscaling:groupName` tag, which is what
 * Phoenix's roles may terminate by (docs/adr/0013-standby-first-at-max-size.md). Under the
 * group lock for the same reason as a surge: the instance the group launches must be told
 * apart from others'.
 */
export async function standbyOldFirst(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<GroupChangeRecord> {
  const asg = requireAsg(data, 'standbyOldFirst');
  const lock = await lockGroup(deps, data, ctx, asg.name, 'surge');
  let change = lock.change?.mode === 'standby-first' ? lock.change : undefined;
  const group = await describeGroup(deps, asg.name);
  if (change === undefined) {
    change = {
      mode: 'standby-first',
      desiredBefore: group.DesiredCapacity ?? 0,
      instancesBefore: groupInstanceIds(group),
    };
    const outcome = await deps.store.recordGroupChange(asg.name, ctx.executionId, change);
    if (outcome.outcome === 'not-held')
      throw new GroupBusyError(`lost the lock on Auto Scaling group ${asg.name} before changing it`);
    if (outcome.outcome === 'already-recorded') change = outcome.change;
  }
  const member = group.Instances?.find((i) => i.InstanceId === data.instanceId);
  if (member === undefined) {
    throw new InstanceGoneError(
      `instance ${data.instanceId} left Auto Scaling group ${asg.name} before Phoenix changed anything`,
    );
  }
  const at = deps.clock().toISOString();
  if (member.LifecycleState === 'InService') {
    await groupLaunching(data, () =>
      deps.autoScaling.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: asg.name,
          InstanceIds: [data.instanceId],
          ShouldDecrementDesiredCapacity: false,
        }),
      ),
    );
  }
  return { ...changeRecord(change), at };
}
