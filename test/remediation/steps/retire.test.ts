import {
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GroupLock } from '../../../functions/aws/state-store';
import { GroupBusyError } from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { retireOld } from '../../../functions/remediation/steps';
import {
  awsError,
  CTX,
  EXECUTION,
  FakeAccount,
  type FakeStore,
  fakeDeps,
  fakeStore,
  groupLockModel,
  OTHER_EXECUTION,
} from './fakes';
import {
  asgPlan,
  input,
  lease,
  OLD,
  PEERS,
  REPLACEMENT,
  seedApiInstance,
  seedWebGroup,
  standalonePlan,
  surged,
} from './state';

const HEALTHY = { attempt: 3, healthy: true, replacementId: REPLACEMENT };

/** A store with the group's lock (free unless `held`) and a release of everything that goes through. */
function retiring(held?: GroupLock): FakeStore {
  return fakeStore({ ...groupLockModel(held), releaseAll: async (release) => release.items.length });
}

const surgeDone = (): MachineData => ({
  ...input(),
  plan: asgPlan('surge'),
  lease: lease(true),
  surge: surged(3),
  health: HEALTHY,
});

describe('retireOld', () => {
  let account: FakeAccount;
  beforeEach(() => {
    account = new FakeAccount();
    seedWebGroup(account, { desired: 4, max: 4 });
  });

  it('hands a surged old member back to its group with the +1 given back, then releases everything at once', async () => {
    const store = retiring();

    const retired = await retireOld(fakeDeps(account, store), surgeDone(), CTX);

    expect(retired).toEqual({ terminating: true, released: 1, leaseReleased: true });
    expect(account.autoScaling.inputsOf(TerminateInstanceInAutoScalingGroupCommand)).toEqual([
      { InstanceId: OLD, ShouldDecrementDesiredCapacity: true },
    ]);
    expect(account.group('web-asg').desired).toBe(3);
    expect(store.calls.map((c) => c.method)).toEqual(['acquireGroupLock', 'releaseAll']);
    expect(store.calls[1]?.args[0]).toEqual({
      holder: EXECUTION,
      fleet: 'web',
      items: ['slot#0'],
      group: 'web-asg',
      // Kept, naming the replacement, while the old instance drains.
      instance: { id: OLD, replacedBy: REPLACEMENT },
    });
  });

  it('hands an old member in Standby (standby-first) back without lowering the capacity', async () => {
    const member = account.member('web-asg', OLD);
    if (member) member.lifecycle = 'Standby';
    const data: MachineData = {
      ...input(),
      plan: asgPlan('standby-first'),
      lease: lease(),
      health: HEALTHY,
    };

    const retired = await retireOld(fakeDeps(account, retiring()), data, CTX);

    expect(retired).toMatchObject({ terminating: true });
    expect(retired.detail).toBeUndefined();
    expect(account.autoScaling.inputsOf(TerminateInstanceInAutoScalingGroupCommand)).toEqual([
      { InstanceId: OLD, ShouldDecrementDesiredCapacity: false },
    ]);
    expect(account.group('web-asg').desired).toBe(4);
  });

  describe("someone else's hand during the replacement", () => {
    const detach = (a: FakeAccount, tags: 'kept' | 'dropped') => {
      a.group('web-asg').members = a.group('web-asg').members.filter((m) => m.id !== OLD);
      const old = a.instances.get(OLD);
      if (old && tags === 'dropped') delete old.tags['aws:autoscaling:groupName'];
    };

    it.each([
      {
        what: 'terminated the old instance',
        arrange: (a: FakeAccount) => {
          detach(a, 'kept');
          a.setState(OLD, 'terminated');
        },
        detail: `${OLD} was terminated by someone else during the replacement; Phoenix gave back the capacity this replacement added: desired capacity 4 → 3.`,
      },
      {
        what: 'detached it, its group tag gone',
        arrange: (a: FakeAccount) => detach(a, 'dropped'),
        detail: `${OLD} left Auto Scaling group web-asg during the replacement (detached by someone else); Phoenix did not terminate it: it belongs to no declared fleet now; Phoenix gave back the capacity this replacement added: desired capacity 4 → 3.`,
      },
      {
        what: 'detached it, its group tag still on',
        arrange: (a: FakeAccount) => detach(a, 'kept'),
        detail: `${OLD} left Auto Scaling group web-asg during the replacement (detached by someone else); Phoenix did not terminate it: it is no longer a member of that group; Phoenix gave back the capacity this replacement added: desired capacity 4 → 3.`,
      },
      {
        what: 'had the group terminate it',
        arrange: (a: FakeAccount) => {
          const member = a.member('web-asg', OLD);
          if (member) member.lifecycle = 'Terminating:Wait';
        },
        detail: `${OLD} was being terminated by its group during the replacement (Terminating:Wait); Phoenix gave back the capacity this replacement added: desired capacity 4 → 3.`,
      },
    ])(
      'leaves the old instance alone when someone $what, and gives back the +1 relatively',
      async ({ arrange, detail }) => {
        arrange(account);

        const retired = await retireOld(fakeDeps(account, retiring()), surgeDone(), CTX);

        expect(retired).toEqual({ terminating: false, detail, released: 1, leaseReleased: true });
        expect(account.changes()).toEqual(['AutoScaling.SetDesiredCapacity']);
        expect(account.state(OLD)).not.toBe('shutting-down');
      },
    );

    it('gives back the +1 from the capacity now, not from the plan: other surges keep theirs', async () => {
      // Two other replacements surged since: 4 → 6.
      Object.assign(account.group('web-asg'), { desired: 6, max: 6 });
      detach(account, 'dropped');

      const retired = await retireOld(fakeDeps(account, retiring()), surgeDone(), CTX);

      expect(retired.detail).toMatch(/desired capacity 6 → 5\.$/);
      expect(account.autoScaling.inputsOf(SetDesiredCapacityCommand)).toEqual([
        { AutoScalingGroupName: 'web-asg', DesiredCapacity: 5, HonorCooldown: false },
      ]);
    });

    it('keeps the capacity at MinSize, and says so', async () => {
      account.group('web-asg').min = 4;
      detach(account, 'dropped');
      const retired = await retireOld(fakeDeps(account, retiring()), surgeDone(), CTX);
      expect(retired.detail).toMatch(
        /; the group is at its MinSize 4, so the capacity this replacement added stays\.$/,
      );
      expect(account.changes()).toEqual([]);
    });

    it('owes nothing for Standby first: says what happened, changes nothing', async () => {
      detach(account, 'kept');
      account.setState(OLD, 'terminated');
      const data: MachineData = {
        ...input(),
        plan: asgPlan('standby-first'),
        lease: lease(),
        health: HEALTHY,
      };

      const retired = await retireOld(fakeDeps(account, retiring()), data, CTX);

      expect(retired).toMatchObject({
        terminating: false,
        detail: `${OLD} was terminated by someone else during the replacement.`,
      });
      expect(account.changes()).toEqual([]);
    });

    it('terminates an old member someone put in Standby during a surge, and gives back the +1 it still owes', async () => {
      const member = account.member('web-asg', OLD);
      if (member) member.lifecycle = 'Standby';

      const retired = await retireOld(fakeDeps(account, retiring()), surgeDone(), CTX);

      expect(retired).toMatchObject({
        terminating: true,
        detail: `${OLD} was put in Standby by someone else; Phoenix gave back the capacity this replacement added: desired capacity 4 → 3.`,
      });
      // A member in Standby does not count in the desired capacity: no decrement with it.
      expect(account.autoScaling.inputsOf(TerminateInstanceInAutoScalingGroupCommand)).toEqual([
        { InstanceId: OLD, ShouldDecrementDesiredCapacity: false },
      ]);
      expect(account.group('web-asg').desired).toBe(3);
    });

    it('reads the group again when the termination is refused: taken out between reading and call', async () => {
      account.autoScaling.on(TerminateInstanceInAutoScalingGroupCommand, () => {
        detach(account, 'dropped');
        throw awsError(
          'ValidationError',
          `Instance Id not found - No managed instance found for instance ID ${OLD}`,
        );
      });

      const retired = await retireOld(fakeDeps(account, retiring()), surgeDone(), CTX);

      expect(retired).toMatchObject({
        terminating: false,
        detail: expect.stringContaining('detached by someone else'),
      });
      expect(account.group('web-asg').desired).toBe(3);
    });

    it('fails, for a retry, when the termination is refused and the old instance is still a member', async () => {
      account.autoScaling.on(TerminateInstanceInAutoScalingGroupCommand, () => {
        throw awsError('ScalingActivityInProgressFault');
      });
      await expect(retireOld(fakeDeps(account, retiring()), surgeDone(), CTX)).rejects.toMatchObject({
        name: 'ScalingActivityInProgressFault',
      });
    });
  });

  it("takes an old member already leaving, under this execution's re-entered lock, for its own earlier attempt's doing", async () => {
    const member = account.member('web-asg', OLD);
    if (member) member.lifecycle = 'Terminating';
    account.group('web-asg').desired = 3;
    const held: GroupLock = {
      group: 'web-asg',
      holder: EXECUTION,
      instanceId: OLD,
      acquiredAt: '2025-06-15T12:04:00.000Z',
      expiresAt: 1_750_000_000,
      // Its earlier attempt marked itself as handing back before it terminated.
      retiring: [EXECUTION],
    };

    const retired = await retireOld(fakeDeps(account, retiring(held)), surgeDone(), CTX);

    expect(retired).toEqual({ terminating: true, released: 1, leaseReleased: true });
    expect(account.changes()).toEqual([]);
  });

  it("a wave member whose old instance is leaving before it began handing back: someone else's hand, and the capacity it added goes back", async () => {
    const member = account.member('web-asg', OLD);
    if (member) member.lifecycle = 'Terminating';
    account.group('web-asg').desired = 3;
    // In the wave's lock since its lease, but never began handing back.
    const held: GroupLock = {
      group: 'web-asg',
      holder: OTHER_EXECUTION,
      instanceId: OLD,
      acquiredAt: '2025-06-15T12:04:00.000Z',
      expiresAt: 1_750_000_000,
      members: [EXECUTION, OTHER_EXECUTION].sort(),
      wave: true,
    };

    const retired = await retireOld(fakeDeps(account, retiring(held)), surgeDone(), CTX);

    expect(retired).toMatchObject({ terminating: false });
    expect(retired.detail).toContain(
      'was being terminated by its group during the replacement (Terminating)',
    );
    expect(account.group('web-asg').desired).toBe(2);
  });

  it('waits, changing nothing, while another execution holds the group lock', async () => {
    const held: GroupLock = {
      group: 'web-asg',
      holder: OTHER_EXECUTION,
      instanceId: PEERS[0] ?? '',
      acquiredAt: '2025-06-15T12:04:00.000Z',
      expiresAt: 1_750_000_000,
    };
    await expect(retireOld(fakeDeps(account, retiring(held)), surgeDone(), CTX)).rejects.toThrow(
      GroupBusyError,
    );
    expect(account.changes()).toEqual([]);
  });

  describe('a standalone instance', () => {
    let api: FakeAccount;
    const data: MachineData = {
      ...input('api'),
      plan: standalonePlan(),
      lease: lease(),
      replacement: { instanceId: REPLACEMENT },
      health: HEALTHY,
    };
    beforeEach(() => {
      api = new FakeAccount();
      seedApiInstance(api);
    });

    it('is terminated, and the lease and the claim (kept as replaced) released with one request', async () => {
      const store = fakeStore({ releaseAll: async () => 1 });

      const retired = await retireOld(fakeDeps(api, store), data, CTX);

      expect(retired).toEqual({ terminating: true, released: 1, leaseReleased: true });
      expect(api.ec2.inputsOf(TerminateInstancesCommand)).toEqual([{ InstanceIds: [OLD] }]);
      expect(store.calls[0]?.args[0]).toEqual({
        holder: EXECUTION,
        fleet: 'api',
        items: ['slot#0'],
        instance: { id: OLD, replacedBy: REPLACEMENT },
      });
    });

    it('succeeds even when the release fails: the lease step after it releases', async () => {
      const store = fakeStore({
        releaseAll: async () => {
          throw awsError('ProvisionedThroughputExceededException');
        },
      });
      const retired = await retireOld(fakeDeps(api, store), data, CTX);
      expect(retired).toEqual({ terminating: true, released: 0, leaseReleased: false });
    });
  });
});
