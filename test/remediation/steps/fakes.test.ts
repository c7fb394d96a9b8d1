/**
 * The fakes the step specs stand on: they must refuse what nobody scripted (or a step could
 * make a call no spec sees), and behave as AWS does where a step's arithmetic depends on it.
 * Where they did not, every capacity assertion of the step specs would prove nothing.
 */
import {
  DescribeAutoScalingGroupsCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import {
  EXECUTION,
  FakeAccount,
  fakeStore,
  groupLockModel,
  OTHER_EXECUTION,
  takeUnexpectedCalls,
} from './fakes';
import { OLD, PEERS, seedWebGroup } from './state';

describe('the fakes refuse what no spec scripted', () => {
  it('a command no answer is registered for throws, and is remembered for the end of the test', async () => {
    const account = new FakeAccount();
    await expect(account.ec2.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1 }))).rejects.toThrow(
      'unexpected call: EC2.RunInstancesCommand {"MinCount":1,"MaxCount":1}',
    );
    // Swallowing the error does not hide it: the afterEach hook fails the test.
    expect(takeUnexpectedCalls()).toEqual(['EC2.RunInstancesCommand {"MinCount":1,"MaxCount":1}']);
    expect(account.journal).toEqual([]);
  });

  it('an answer taken off is refused again', async () => {
    const account = new FakeAccount();
    account.autoScaling.off(DescribeAutoScalingGroupsCommand);
    await expect(account.autoScaling.send(new DescribeAutoScalingGroupsCommand({}))).rejects.toThrow(
      /^unexpected call: AutoScaling\.DescribeAutoScalingGroupsCommand/,
    );
    expect(takeUnexpectedCalls()).toHaveLength(1);
  });

  it('a store method the spec did not script throws; a scripted one is recorded with its arguments', async () => {
    const store = fakeStore({ releaseLease: async () => 2 });
    await expect(store.releaseLease('web', EXECUTION)).resolves.toBe(2);
    const call = `store.releaseAll [{"holder":"${EXECUTION}","fleet":"web","items":[]}]`;
    await expect(store.releaseAll({ holder: EXECUTION, fleet: 'web', items: [] })).rejects.toThrow(
      `unexpected call: ${call}`,
    );
    expect(takeUnexpectedCalls()).toEqual([call]);
    expect(store.calls).toEqual([{ method: 'releaseLease', args: ['web', EXECUTION] }]);
  });
});

describe('the fake account changes capacity as AWS does', () => {
  const setDesired = (account: FakeAccount, desired: number) =>
    account.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: 'web-asg', DesiredCapacity: desired }),
    );

  it.each([
    { desired: 5, ok: false },
    { desired: 0, ok: false },
    { desired: 4, ok: true },
    { desired: 1, ok: true },
  ])('SetDesiredCapacity $desired within 1..4: $ok', async ({ desired, ok }) => {
    const account = new FakeAccount();
    seedWebGroup(account);
    const call = setDesired(account, desired);
    if (ok) await call;
    else await expect(call).rejects.toMatchObject({ name: 'ValidationError' });
    expect(account.group('web-asg').desired).toBe(ok ? desired : 3);
  });

  it('a termination with decrement lowers the capacity by one, and is refused below MinSize', async () => {
    const account = new FakeAccount();
    seedWebGroup(account, { desired: 3, min: 2 });
    const terminate = (id: string) =>
      account.autoScaling.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: id,
          ShouldDecrementDesiredCapacity: true,
        }),
      );
    await terminate(OLD);
    expect(account.group('web-asg').desired).toBe(2);
    expect(account.state(OLD)).toBe('shutting-down');
    await expect(terminate(PEERS[0] ?? '')).rejects.toMatchObject({ name: 'ValidationError' });
    expect(account.group('web-asg').desired).toBe(2);
    expect(account.member('web-asg', PEERS[0] ?? '')?.lifecycle).toBe('InService');
    // Already on its way out: refused, as AWS does.
    await expect(terminate(OLD)).rejects.toThrow(/already terminating/);
  });

  it('Standby without decrement keeps the capacity; leaving Standby adds one, refused above MaxSize', async () => {
    const account = new FakeAccount();
    seedWebGroup(account, { desired: 4, max: 4 });
    await account.autoScaling.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: 'web-asg',
        InstanceIds: [OLD],
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    expect(account.group('web-asg').desired).toBe(4);
    const exit = () =>
      account.autoScaling.send(
        new ExitStandbyCommand({ AutoScalingGroupName: 'web-asg', InstanceIds: [OLD] }),
      );
    await expect(exit()).rejects.toThrow('leaving Standby would exceed MaxSize 4');
    account.group('web-asg').desired = 3;
    await exit();
    expect(account.group('web-asg').desired).toBe(4);
    expect(account.member('web-asg', OLD)?.lifecycle).toBe('InService');
  });
});

describe('the group lock model', () => {
  const change = { mode: 'surge' as const, desiredBefore: 3, raisedTo: 4, instancesBefore: [OLD] };
  const request = (holder: string) => ({
    purpose: 'surge' as const,
    group: 'web-asg',
    holder,
    instanceId: OLD,
    ttlSeconds: 375,
  });

  it('is re-entered by its holder with the change it recorded, refused to another, freed only by its holder', async () => {
    const lock = groupLockModel();
    expect(await lock.acquireGroupLock(request(EXECUTION))).toMatchObject({
      acquired: true,
      reentered: false,
    });
    expect(await lock.recordGroupChange('web-asg', EXECUTION, change)).toEqual({ outcome: 'recorded' });
    expect(await lock.recordGroupChange('web-asg', EXECUTION, { ...change, raisedTo: 5 })).toMatchObject({
      outcome: 'already-recorded',
      change,
      lock: { change },
    });
    expect(await lock.recordGroupChange('web-asg', OTHER_EXECUTION, change)).toEqual({ outcome: 'not-held' });
    expect(await lock.acquireGroupLock(request(EXECUTION))).toMatchObject({
      acquired: true,
      reentered: true,
      lock: { holder: EXECUTION, change },
    });
    expect(await lock.acquireGroupLock(request(OTHER_EXECUTION))).toMatchObject({
      acquired: false,
      heldBy: { holder: EXECUTION },
    });
    expect(await lock.releaseGroupLock('web-asg', OTHER_EXECUTION)).toBe(false);
    expect(await lock.releaseGroupLock('web-asg', EXECUTION)).toBe(true);
    expect(lock.held()).toBeUndefined();
  });
});
