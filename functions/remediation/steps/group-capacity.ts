/**
 * Making room for the replacement in an Auto Scaling group, under the group lock: one more
 * instance of desired capacity (a surge), or, at MaxSize, the old instance into Standby first.
 */
import { EnterStandbyCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import type { RecordOutcome } from '../../aws/remediation-store';
import { type GroupChange, type GroupLock, lockMembers } from '../../aws/state-store';
import { launchErrorOf } from '../aws-errors';
import { GroupBusyError, InstanceGoneError } from '../errors';
import type { GroupChangeRecord, MachineData } from '../input';
import { describeGroup, groupInstanceIds, type StepContext, type StepDeps, sourceOf } from './deps';
import { changeRecord, lockGroup, requireAsg } from './group-lock';

/**
 * Launch before terminate, a wave at a time (docs/adr/0034-waves.md): the surges that took
 * the group's lock together (a wave) raise its desired capacity once, by one for each. The
 * first member here closes the wave: under the lock, it reads the group's CURRENT desired
 * capacity and records the raise (conditional on the members being the ones it read, so a
 * member joining meanwhile is counted or reads again), then sets it; the others find it
 * recorded. The members keep the lock until each has handed its old instance back, so no
 * other raise can launch an instance a member would mistake for its wave's.
 *
 * At MaxSize the wave gets the headroom there is: its members past it (in the recorded order)
 * leave the lock and wait for the next wave (GroupBusyError, retried). A retry of the closer
 * sets the capacity only if its raise is not marked made.
 */
export async function raiseDesiredCapacity(
  deps: StepDeps,
  data: MachineData,
  ctx: StepContext,
): Promise<GroupChangeRecord> {
  const asg = requireAsg(data, 'raiseDesiredCapacity');
  const me = ctx.executionId;
  let lockedHere = false;
  if (data.lease?.groupLocked !== true) {
    await lockGroup(deps, data, ctx, asg.name, 'surge', { wave: true });
    lockedHere = true;
  }
  // The members are guessed (this one alone, the common case): a record refused for another
  // count says who they are, in the same request, and the record is made again.
  let members = [me];
  for (;;) {
    const group = await describeGroup(deps, asg.name);
    const desired = group.DesiredCapacity ?? 0;
    const headroom = (group.MaxSize ?? 0) - desired;
    let outcome: RecordOutcome;
    let candidate: GroupChange | undefined;
    if (headroom <= 0) {
      // At MaxSize: its own raise already made (a retried step), or others' surges use the
      // headroom, and this one waits for it, without the lock.
      const lock = await deps.store.getGroupLock(asg.name);
      if (lock === undefined || !lockMembers(lock).includes(me) || lock.change?.mode !== 'surge') {
        await deps.store.releaseGroupLock(asg.name, me);
        throw new GroupBusyError(
          `Auto Scaling group ${asg.name} is at MaxSize ${group.MaxSize ?? 0} (desired ${desired}): waiting for replacements in flight to give their headroom back`,
        );
      }
      outcome = { outcome: 'already-recorded', change: lock.change, lock };
    } else {
      candidate = {
        mode: 'surge',
        desiredBefore: desired,
        raisedTo: desired + Math.min(members.length, headroom),
        instancesBefore: groupInstanceIds(group),
        wave: { members, closedBy: me },
      };
      // Recorded first: whatever happens next, a retry, another member or the rollback knows
      // what was intended. Conditional on holding the lock, with these members.
      // With it, the raise's launches come off the count of EC2's tokens (ADR 34).
      outcome = await deps.store.recordGroupChange(asg.name, me, candidate, {
        launches: (candidate.raisedTo ?? desired) - desired,
        form: spendFormGuess(data, deps.clock(), members.length),
      });
    }
    if (outcome.outcome === 'not-held') {
      if (lockedHere)
        throw new GroupBusyError(`lost the lock on Auto Scaling group ${asg.name} before changing it`);
      await lockGroup(deps, data, ctx, asg.name, 'surge', { wave: true });
      lockedHere = true;
      members = [me];
      continue;
    }
    if (outcome.outcome === 'members-changed') {
      members = outcome.members;
      continue;
    }
    const change =
      outcome.outcome === 'recorded' && candidate !== undefined
        ? candidate
        : outcome.outcome === 'already-recorded'
          ? outcome.change
          : undefined;
    if (change === undefined) throw new Error('unreachable: a recorded change without its record');
    const lock: Pick<GroupLock, 'raised' | 'raiseFailed'> =
      outcome.outcome === 'already-recorded' ? outcome.lock : {};
    const raisedTo = change.raisedTo ?? change.desiredBefore + 1;
    // Only the member that closed the wave sets the capacity, once: whether or not it has a seat.
    const closer = change.wave === undefined || change.wave.closedBy === me;
    if (closer && lock.raised !== true && desired < raisedTo) {
      try {
        await deps.autoScaling.send(
          new SetDesiredCapacityCommand({
            AutoScalingGroupName: asg.name,
            DesiredCapacity: raisedTo,
            HonorCooldown: false,
          }),
        );
      } catch (error) {
        const refused = launchErrorOf(error, sourceOf(data), { direct: false });
        // Its members would only wait for instances that never come: they fail as this one does.
        if (refused !== undefined && change.wave !== undefined && error instanceof Error)
          await deps.store.markGroupRaised(asg.name, me, { code: error.name, message: error.message });
        throw refused ?? error;
      }
    }
    // Marked only when others could raise again after it: a wave of one has no one else.
    if (closer && change.wave !== undefined && change.wave.members.length > 1 && lock.raised !== true) {
      await deps.store.markGroupRaised(asg.name, me);
    }
    if (!closer) await raiseOfTheWave(deps, data, asg.name, lock);
    const seats = change.wave?.members ?? [me];
    const seat = seats.indexOf(me);
    if (seat < 0 || seat >= raisedTo - change.desiredBefore) {
      // No seat in this wave (MaxSize): the next wave, after this one hands its headroom back.
      await deps.store.releaseGroupLock(asg.name, me);
      throw new GroupBusyError(
        `the wave on Auto Scaling group ${asg.name} raised it for ${raisedTo - change.desiredBefore} of its ${seats.length} replacements (MaxSize ${group.MaxSize ?? 0}): waiting for the next wave`,
      );
    }
    const at = deps.clock().toISOString();
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
 * The form of the launch count's update, guessed (a wrong guess costs one more request): by
 * the count the recheck read with the gate (the bucket refilling then, and not about to be
 * full, or full), else by the wave (one of many is most likely part of a roll, while the bucket
 * refills; one alone, most likely with it full).
 */
function spendFormGuess(data: MachineData, now: Date, members: number): 'refilling' | 'full' {
  const fullAt = data.recheck?.launchTokensFullAtMs;
  // The count only ever moves on: read refilling, it still is.
  if (fullAt !== undefined) return fullAt > now.getTime() ? 'refilling' : 'full';
  return members > 1 ? 'refilling' : 'full';
}

/** The error a wave's closer met raising the group for its launch (recorded on the lock), if any. */
export function waveRaiseRefusal(
  data: MachineData,
  lock: Pick<GroupLock, 'raiseFailed'> | undefined,
): Error | undefined {
  if (lock?.raiseFailed === undefined) return undefined;
  const { code, message } = lock.raiseFailed;
  const error = Object.assign(new Error(message), { name: code });
  return launchErrorOf(error, sourceOf(data), { direct: false }) ?? error;
}

/** How long a member waits in its step for the closer's raise to be made or refused (it comes within a second or so). */
const RAISE_WAIT_MS = 5_000;
const RAISE_POLL_MS = 250;

/**
 * A member that did not close its wave waits, briefly, for the closer's raise: refused for its
 * launch (EC2's code, recorded by the closer), it fails the same way, so every member rolls
 * back for the reason the version deserves and none times out on an instance never launched.
 * Not made within {@link RAISE_WAIT_MS}: the health checks take it from there.
 */
async function raiseOfTheWave(
  deps: StepDeps,
  data: MachineData,
  group: string,
  read: Pick<GroupLock, 'raised' | 'raiseFailed'>,
): Promise<void> {
  let lock: Pick<GroupLock, 'raised' | 'raiseFailed'> | undefined = read;
  for (let waited = 0; ; waited += RAISE_POLL_MS) {
    const refused = waveRaiseRefusal(data, lock);
    if (refused !== undefined) throw refused;
    if (lock === undefined || lock.raised === true || waited >= RAISE_WAIT_MS) return;
    await new Promise((resolve) => setTimeout(resolve, RAISE_POLL_MS));
    lock = await deps.store.getGroupLock(group);
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
