import { EnterStandbyCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GroupLock } from '../../../functions/aws/state-store';
import {
  GroupBusyError,
  InstanceGoneError,
  InsufficientCapacityError,
  LaunchRejectedError,
  StepInputError,
} from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { raiseDesiredCapacity, standbyOldFirst } from '../../../functions/remediation/steps';
import {
  awsError,
  CTX,
  EXECUTION,
  FakeAccount,
  fakeDeps,
  fakeStore,
  groupLockModel,
  NOW,
  OTHER_EXECUTION,
} from './fakes';
import { asgPlan, input, lease, OLD, PEERS, seedWebGroup } from './state';

const heldBy = (holder: string, change?: GroupLock['change']): GroupLock => ({
  group: 'web-asg',
  holder,
  instanceId: holder === EXECUTION ? OLD : (PEERS[0] ?? ''),
  acquiredAt: '2025-06-15T12:00:00.000Z',
  expiresAt: 1_750_000_000,
  ...(change === undefined ? {} : { change }),
});

const surgeData = (groupLocked: boolean): MachineData => ({
  ...input(),
  plan: asgPlan('surge'),
  lease: lease(groupLocked),
});

describe('raiseDesiredCapacity', () => {
  let account: FakeAccount;
  beforeEach(() => {
    account = new FakeAccount();
    seedWebGroup(account);
  });

  it('records the surge under the lock taken with the lease, then raises the CURRENT capacity by one', async () => {
    // Another replacement surged meanwhile: the plan saw 3, the group is at 4 now.
    account.group('web-asg').desired = 4;
    account.group('web-asg').max = 6;
    const lock = groupLockModel(heldBy(EXECUTION));
    const store = fakeStore(lock);

    const result = await raiseDesiredCapacity(fakeDeps(account, store), surgeData(true), CTX);

    expect(result).toEqual({
      mode: 'surge',
      desiredBefore: 4,
      raisedTo: 5,
      instancesBefore: [OLD, ...PEERS],
      at: NOW.toISOString(),
    });
    expect(account.group('web-asg').desired).toBe(5);
    expect(lock.held()?.change).toEqual({
      mode: 'surge',
      desiredBefore: 4,
      raisedTo: 5,
      instancesBefore: [OLD, ...PEERS],
      wave: { members: [EXECUTION], closedBy: EXECUTION },
    });
    // Recorded before the group was changed (a wave of one: nobody else to keep from raising
    // again, so not marked); the lock is kept until the old instance is handed back.
    expect(store.calls.map((c) => c.method)).toEqual(['recordGroupChange']);
    expect(account.autoScaling.inputsOf(SetDesiredCapacityCommand)).toEqual([
      { AutoScalingGroupName: 'web-asg', DesiredCapacity: 5, HonorCooldown: false },
    ]);
  });

  it('takes the lock itself after a retry that waited for headroom', async () => {
    const lock = groupLockModel();
    const result = await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(false), CTX);
    expect(result).toMatchObject({ desiredBefore: 3, raisedTo: 4 });
    expect(lock.held()?.holder).toBe(EXECUTION);
  });

  it('raises nothing twice: a retry finds its recorded raise done, even at MaxSize', async () => {
    // The first attempt recorded 3 → 4 and raised, then its answer was lost.
    const change = {
      mode: 'surge' as const,
      desiredBefore: 3,
      raisedTo: 4,
      instancesBefore: [OLD, ...PEERS],
    };
    account.group('web-asg').desired = 4;
    const store = fakeStore(groupLockModel(heldBy(EXECUTION, change)));

    const result = await raiseDesiredCapacity(fakeDeps(account, store), surgeData(true), CTX);

    expect(result).toMatchObject({ desiredBefore: 3, raisedTo: 4 });
    expect(account.changes()).toEqual([]);
  });

  it('raises a recorded change whose raise did not happen (the attempt failed between the two)', async () => {
    const change = {
      mode: 'surge' as const,
      desiredBefore: 3,
      raisedTo: 4,
      instancesBefore: [OLD, ...PEERS],
    };
    const store = fakeStore(groupLockModel(heldBy(EXECUTION, change)));

    await raiseDesiredCapacity(fakeDeps(account, store), surgeData(false), CTX);

    expect(account.group('web-asg').desired).toBe(4);
    expect(store.calls.map((c) => c.method)).toEqual(['acquireGroupLock', 'recordGroupChange']);
  });

  it("at MaxSize by others' surges, waits for their headroom and lets go of the lock meanwhile", async () => {
    account.group('web-asg').max = 3;
    const lock = groupLockModel(heldBy(EXECUTION));

    const promise = raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), CTX);

    await expect(promise).rejects.toThrow(
      new GroupBusyError(
        'Auto Scaling group web-asg is at MaxSize 3 (desired 3): waiting for replacements in flight to give their headroom back',
      ),
    );
    expect(lock.held()).toBeUndefined();
    expect(account.changes()).toEqual([]);
  });

  it("at MaxSize, leaves another execution's lock alone", async () => {
    account.group('web-asg').max = 3;
    const lock = groupLockModel(heldBy(OTHER_EXECUTION));
    const store = fakeStore(lock);
    await expect(raiseDesiredCapacity(fakeDeps(account, store), surgeData(true), CTX)).rejects.toThrow(
      GroupBusyError,
    );
    expect(store.calls.map((c) => c.method)).toEqual(['getGroupLock', 'releaseGroupLock']);
    expect(lock.held()).toMatchObject({ holder: OTHER_EXECUTION });
  });

  describe('a wave (docs/adr/0034-waves.md)', () => {
    const THIRD = `${EXECUTION}-third`;
    const wave = (...members: string[]): GroupLock => ({
      ...heldBy(EXECUTION),
      members: [...members].sort(),
      wave: true,
    });

    it('the first member here raises the group once for every member, and no other member raises it again', async () => {
      account.group('web-asg').max = 10;
      const lock = groupLockModel(wave(EXECUTION, OTHER_EXECUTION, THIRD));
      const first = await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), {
        ...CTX,
        executionId: OTHER_EXECUTION,
      });
      expect(first).toMatchObject({ desiredBefore: 3, raisedTo: 6 });
      expect(lock.held()?.change?.wave).toEqual({
        members: [EXECUTION, OTHER_EXECUTION, THIRD].sort(),
        closedBy: OTHER_EXECUTION,
      });
      // The others find it recorded: the same change, and the group is not changed again,
      // even when the capacity reads lower (a member already handed its old instance back).
      account.group('web-asg').desired = 5;
      const second = await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), CTX);
      const third = await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), {
        ...CTX,
        executionId: THIRD,
      });
      expect(second).toEqual({ ...first, at: second.at });
      expect(third).toEqual({ ...first, at: third.at });
      expect(account.autoScaling.inputsOf(SetDesiredCapacityCommand)).toEqual([
        { AutoScalingGroupName: 'web-asg', DesiredCapacity: 6, HonorCooldown: false },
      ]);
      // Each keeps its place in the lock until it hands its old instance back.
      expect(lock.held()?.members).toHaveLength(3);
    });

    it('the closer retried after its raise was made does not raise again', async () => {
      account.group('web-asg').max = 10;
      const lock = groupLockModel(wave(EXECUTION, OTHER_EXECUTION));
      await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), CTX);
      // A member handed its old instance back (a decrement), then the closer's step is retried.
      account.group('web-asg').desired = 4;
      await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), CTX);
      expect(account.autoScaling.inputsOf(SetDesiredCapacityCommand)).toEqual([
        { AutoScalingGroupName: 'web-asg', DesiredCapacity: 5, HonorCooldown: false },
      ]);
    });

    it('counts a member that joined between its reading and its record: it reads again', async () => {
      account.group('web-asg').max = 10;
      const lock = groupLockModel(wave(EXECUTION));
      let joined = false;
      const store = fakeStore({
        ...lock,
        recordGroupChange: async (...args) => {
          if (!joined) {
            joined = true;
            await lock.acquireGroupLock({
              purpose: 'surge',
              wave: true,
              group: 'web-asg',
              holder: OTHER_EXECUTION,
              instanceId: PEERS[0] ?? '',
              ttlSeconds: 600,
            });
          }
          return lock.recordGroupChange(...args);
        },
      });
      const result = await raiseDesiredCapacity(fakeDeps(account, store), surgeData(true), CTX);
      expect(result).toMatchObject({ desiredBefore: 3, raisedTo: 5 });
      expect(lock.held()?.change?.wave?.members).toEqual([EXECUTION, OTHER_EXECUTION].sort());
    });

    it('a member fails for the launch as its closer did, and does not wait for instances that never come', async () => {
      account.group('web-asg').max = 10;
      const lock = groupLockModel({
        ...wave(EXECUTION, OTHER_EXECUTION),
        change: {
          mode: 'surge',
          desiredBefore: 3,
          raisedTo: 5,
          instancesBefore: [OLD, ...PEERS],
          wave: { members: [EXECUTION, OTHER_EXECUTION].sort(), closedBy: OTHER_EXECUTION },
        },
        raiseFailed: { code: 'InvalidAMIID.NotFound', message: "The image id '[ami-0gone]' does not exist" },
      });
      await expect(
        raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), CTX),
      ).rejects.toBeInstanceOf(LaunchRejectedError);
      expect(account.changes()).toEqual([]);
    });

    it('short of MaxSize headroom, raises for the members it has room for; the rest leave the lock and wait for the next wave', async () => {
      account.group('web-asg').max = 4;
      const lock = groupLockModel(wave(EXECUTION, OTHER_EXECUTION));
      const members = [EXECUTION, OTHER_EXECUTION].sort();
      const seated = members[0] ?? '';
      const unseated = members[1] ?? '';
      const ok = await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), {
        ...CTX,
        executionId: unseated,
      }).catch((error: unknown) => error);
      expect(ok).toBeInstanceOf(GroupBusyError);
      expect(String(ok)).toContain(
        'raised it for 1 of its 2 replacements (MaxSize 4): waiting for the next wave',
      );
      expect(account.group('web-asg').desired).toBe(4);
      expect(lock.held()?.members).toEqual([seated]);
      const result = await raiseDesiredCapacity(fakeDeps(account, fakeStore(lock)), surgeData(true), {
        ...CTX,
        executionId: seated,
      });
      expect(result).toMatchObject({ desiredBefore: 3, raisedTo: 4 });
    });
  });

  it('takes the lock again when the one taken with the lease expired, and raises under it', async () => {
    // The lease's lock expired before the step read it: the step takes it again.
    const lock = groupLockModel();
    const store = fakeStore(lock);

    const result = await raiseDesiredCapacity(fakeDeps(account, store), surgeData(true), CTX);

    expect(result).toMatchObject({ desiredBefore: 3, raisedTo: 4 });
    expect(store.calls.map((c) => c.method)).toEqual([
      'recordGroupChange',
      'acquireGroupLock',
      'recordGroupChange',
    ]);
    expect(account.group('web-asg').desired).toBe(4);
  });

  it('changes nothing when it loses the lock it took itself', async () => {
    const store = fakeStore({
      ...groupLockModel(),
      recordGroupChange: async () => ({ outcome: 'not-held' }),
    });
    await expect(raiseDesiredCapacity(fakeDeps(account, store), surgeData(false), CTX)).rejects.toThrow(
      new GroupBusyError('lost the lock on Auto Scaling group web-asg before changing it'),
    );
    expect(account.changes()).toEqual([]);
  });

  it('waits while another execution holds the lock, naming it', async () => {
    const store = fakeStore(groupLockModel(heldBy(OTHER_EXECUTION)));
    await expect(raiseDesiredCapacity(fakeDeps(account, store), surgeData(false), CTX)).rejects.toThrow(
      /^Auto Scaling group web-asg is being changed by execution run-2 \(replacing i-00000000000000a1\)/,
    );
  });

  it.each([
    {
      what: 'a refusal EC2 named (a group launching synchronously)',
      code: 'InvalidParameterValue',
      error: LaunchRejectedError,
    },
    { what: 'no capacity', code: 'InsufficientInstanceCapacity', error: InsufficientCapacityError },
  ])('tells $what apart by its code', async ({ code, error }) => {
    account.autoScaling.on(SetDesiredCapacityCommand, () => {
      throw awsError(code);
    });
    await expect(
      raiseDesiredCapacity(
        fakeDeps(account, fakeStore(groupLockModel(heldBy(EXECUTION)))),
        surgeData(true),
        CTX,
      ),
    ).rejects.toThrow(error);
  });

  it("keeps an error about the group's own limits as it is (not the launch's fault)", async () => {
    account.autoScaling.on(SetDesiredCapacityCommand, () => {
      throw awsError('ValidationError', 'New SetDesiredCapacity value 4 is above max value 3');
    });
    await expect(
      raiseDesiredCapacity(
        fakeDeps(account, fakeStore(groupLockModel(heldBy(EXECUTION)))),
        surgeData(true),
        CTX,
      ),
    ).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('needs an Auto Scaling plan', async () => {
    await expect(raiseDesiredCapacity(fakeDeps(account, fakeStore()), input(), CTX)).rejects.toThrow(
      new StepInputError(
        'step raiseDesiredCapacity needs an Auto Scaling plan, which earlier states did not provide',
      ),
    );
  });
});

describe('standbyOldFirst', () => {
  let account: FakeAccount;
  const data: MachineData = { ...input(), plan: asgPlan('standby-first'), lease: lease() };
  beforeEach(() => {
    account = new FakeAccount();
    seedWebGroup(account, { desired: 3, max: 3 });
  });

  it('records the change under the lock, then puts the old instance in Standby without lowering the capacity', async () => {
    const lock = groupLockModel();

    const result = await standbyOldFirst(fakeDeps(account, fakeStore(lock)), data, CTX);

    expect(result).toEqual({
      mode: 'standby-first',
      desiredBefore: 3,
      instancesBefore: [OLD, ...PEERS],
      at: NOW.toISOString(),
    });
    expect(account.autoScaling.inputsOf(EnterStandbyCommand)).toEqual([
      { AutoScalingGroupName: 'web-asg', InstanceIds: [OLD], ShouldDecrementDesiredCapacity: false },
    ]);
    expect(account.member('web-asg', OLD)?.lifecycle).toBe('Standby');
    expect(account.group('web-asg').desired).toBe(3);
    // Kept until the health check has found the instance the group launches.
    expect(lock.held()?.change).toMatchObject({ mode: 'standby-first', desiredBefore: 3 });
  });

  it('on retry, keeps the change it recorded and does not enter Standby twice', async () => {
    const change = { mode: 'standby-first' as const, desiredBefore: 3, instancesBefore: [OLD] };
    const member = account.member('web-asg', OLD);
    if (member) member.lifecycle = 'Standby';
    const store = fakeStore(groupLockModel(heldBy(EXECUTION, change)));

    const result = await standbyOldFirst(fakeDeps(account, store), data, CTX);

    expect(result).toMatchObject({ desiredBefore: 3, instancesBefore: [OLD] });
    expect(account.changes()).toEqual([]);
    expect(store.calls.map((c) => c.method)).toEqual(['acquireGroupLock']);
  });

  it('changes nothing for an old instance that left the group before Phoenix touched it', async () => {
    account.group('web-asg').members.shift();
    await expect(standbyOldFirst(fakeDeps(account, fakeStore(groupLockModel())), data, CTX)).rejects.toThrow(
      new InstanceGoneError(
        `instance ${OLD} left Auto Scaling group web-asg before Phoenix changed anything`,
      ),
    );
    expect(account.changes()).toEqual([]);
  });

  it('waits, changing nothing, while another execution holds the lock', async () => {
    const store = fakeStore(groupLockModel(heldBy(OTHER_EXECUTION)));
    await expect(standbyOldFirst(fakeDeps(account, store), data, CTX)).rejects.toThrow(GroupBusyError);
    expect(account.changes()).toEqual([]);
  });

  it('changes nothing when the lock expired before the change was recorded', async () => {
    const store = fakeStore({
      ...groupLockModel(),
      recordGroupChange: async () => ({ outcome: 'not-held' }),
    });
    await expect(standbyOldFirst(fakeDeps(account, store), data, CTX)).rejects.toThrow(
      'lost the lock on Auto Scaling group web-asg before changing it',
    );
    expect(account.changes()).toEqual([]);
  });
});
