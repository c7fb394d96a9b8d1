import { RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  InsufficientCapacityError,
  LaunchRejectedError,
  ReplacementFailedError,
  ReplacementUnhealthyError,
} from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { checkHealthy } from '../../../functions/remediation/steps';
import { CTX, EXECUTION, FakeAccount, type FakeStore, fakeDeps, fakeStore } from './fakes';
import {
  asgPlan,
  HAND_TG,
  input,
  launchedByGroup,
  lease,
  OLD,
  REPLACEMENT,
  SUCCESSOR,
  seedApiInstance,
  seedWebGroup,
  standalonePlan,
  surged,
  WEB_TG,
} from './state';

/** The state of a surge's health check `attempt` (1-based), the previous ones recorded. */
function checking(attempt: number, over: Partial<MachineData> = {}): MachineData {
  return {
    ...input(),
    plan: asgPlan('surge'),
    lease: lease(true),
    surge: surged(3),
    ...(attempt > 1 ? { health: { attempt: attempt - 1, healthy: false } } : {}),
    ...over,
  };
}

/** A store whose claims succeed for every instance but `taken`. */
function claiming(taken: string[] = []): FakeStore {
  // The wave's lock, read while nothing was found: raised without a refusal.
  return fakeStore({
    claimReplacement: async (id) => !taken.includes(id),
    getGroupLock: async () => undefined,
  });
}

const LAST = 5;

describe('checkHealthy', () => {
  let account: FakeAccount;
  beforeEach(() => {
    account = new FakeAccount();
    seedWebGroup(account, { desired: 4, max: 4 });
  });

  describe('finding the instance the group launched', () => {
    it("claims the new member and keeps its place in the wave's lock until it hands its old instance back", async () => {
      launchedByGroup(account, REPLACEMENT, 'Pending');
      const store = claiming();

      const health = await checkHealthy(fakeDeps(account, store), checking(1), CTX);

      expect(health).toEqual({
        attempt: 1,
        healthy: false,
        replacementId: REPLACEMENT,
        detail: 'lifecycle Pending; target group web-tg: unregistered',
      });
      expect(store.calls).toEqual([{ method: 'claimReplacement', args: [REPLACEMENT, EXECUTION, 3600, {}] }]);
    });

    it('Standby first: claims the new member, giving the group lock back in the same request', async () => {
      launchedByGroup(account, REPLACEMENT, 'Pending');
      const store = claiming();
      const standby = checking(1, {
        plan: asgPlan('standby-first'),
        surge: { ...surged(3), mode: 'standby-first' },
      });

      await checkHealthy(fakeDeps(account, store), standby, CTX);

      expect(store.calls).toEqual([
        { method: 'claimReplacement', args: [REPLACEMENT, EXECUTION, 3600, { releaseGroupLock: 'web-asg' }] },
      ]);
    });

    it('skips a new member another execution claimed, and members on their way out', async () => {
      launchedByGroup(account, 'i-0000000000000004', 'Terminating');
      launchedByGroup(account, REPLACEMENT);
      launchedByGroup(account, SUCCESSOR);
      const store = claiming([REPLACEMENT]);

      const health = await checkHealthy(fakeDeps(account, store), checking(1), CTX);

      expect(health.replacementId).toBe(SUCCESSOR);
      expect(store.calls.map((c) => c.args[0])).toEqual([REPLACEMENT, SUCCESSOR]);
    });

    it('asks no claim for a replacement already known', async () => {
      launchedByGroup(account, REPLACEMENT);
      account.targetGroups.get(WEB_TG)?.targets.push({ id: REPLACEMENT, port: 80, state: 'healthy' });

      const health = await checkHealthy(
        fakeDeps(account, fakeStore()),
        checking(2, { health: { attempt: 1, healthy: false, replacementId: REPLACEMENT } }),
        CTX,
      );

      expect(health).toEqual({
        attempt: 2,
        healthy: true,
        replacementId: REPLACEMENT,
        detail: 'running, status checks ok, in service, healthy in every target group',
      });
    });
  });

  describe('not launched yet', () => {
    it('says so, and checks again', async () => {
      const health = await checkHealthy(fakeDeps(account, claiming()), checking(1), CTX);
      expect(health).toEqual({
        attempt: 1,
        healthy: false,
        detail: 'Auto Scaling group web-asg has not launched the replacement yet',
      });
    });

    it('gives up on the last attempt, saying how long it waited', async () => {
      await expect(checkHealthy(fakeDeps(account, claiming()), checking(LAST), CTX)).rejects.toThrow(
        new ReplacementUnhealthyError(
          `replacement (never launched) of ${OLD} was not healthy after 5 checks over 60s: Auto Scaling group web-asg has not launched the replacement yet`,
        ),
      );
    });

    const activity = (statusMessage: string, minutesAfterSurge = 1, status = 'Failed') => ({
      ActivityId: 'a-1',
      AutoScalingGroupName: 'web-asg',
      Cause: 'a user request',
      Description: 'Launching a new EC2 instance.  Status Reason: …',
      StartTime: new Date(Date.parse('2025-06-15T12:02:00.000Z') + minutesAfterSurge * 60_000),
      StatusCode: status as 'Failed',
      StatusMessage: statusMessage,
    });

    it('ends at once on a launch the group reports refused: the template is at fault', async () => {
      account.activities = [activity('The image id ami-new does not exist. Launching EC2 instance failed.')];
      await expect(checkHealthy(fakeDeps(account, claiming()), checking(1), CTX)).rejects.toThrow(
        LaunchRejectedError,
      );
    });

    it("ends at once when its wave's closer recorded EC2's refusal of the raise (a group that launches synchronously)", async () => {
      const store = fakeStore({
        claimReplacement: async () => true,
        getGroupLock: async () => ({
          group: 'web-asg',
          holder: 'closer',
          instanceId: 'i-x',
          acquiredAt: '2025-06-15T12:00:00.000Z',
          expiresAt: 1_750_000_000,
          members: ['closer', EXECUTION],
          wave: true,
          raiseFailed: { code: 'InvalidAMIID.NotFound', message: "The image id '[ami-new]' does not exist" },
        }),
      });
      await expect(checkHealthy(fakeDeps(account, store), checking(1), CTX)).rejects.toThrow(
        LaunchRejectedError,
      );
    });

    it('waits out a shortage, and ends on it (not unhealthy: nothing to quarantine) on the last attempt', async () => {
      account.activities = [
        activity(
          'We currently do not have sufficient t3.micro capacity in the Availability Zone you requested.',
        ),
      ];
      expect(await checkHealthy(fakeDeps(account, claiming()), checking(1), CTX)).toMatchObject({
        healthy: false,
      });
      await expect(checkHealthy(fakeDeps(account, claiming()), checking(LAST), CTX)).rejects.toThrow(
        InsufficientCapacityError,
      );
    });

    it.each([
      {
        what: 'a failure older than the surge (with a minute for the clocks)',
        a: activity('The image id is bad', -2),
      },
      {
        what: 'a failure that passes by itself',
        a: activity('An internal error occurred. Please try again.'),
      },
      {
        what: 'a failure the group has retried since',
        list: [activity('in progress', 2, 'InProgress'), activity('The image id is bad', 1)],
      },
    ])('ignores $what', async ({ a, list }) => {
      account.activities = list ?? (a === undefined ? [] : [a]);
      expect(await checkHealthy(fakeDeps(account, claiming()), checking(1), CTX)).toMatchObject({
        healthy: false,
        detail: 'Auto Scaling group web-asg has not launched the replacement yet',
      });
    });
  });

  describe('the replacement', () => {
    beforeEach(() => launchedByGroup(account, REPLACEMENT));

    it.each(['terminated', 'shutting-down', 'stopped', 'stopping'])(
      'has failed at once when it is %s, whatever the attempt',
      async (state) => {
        account.setState(REPLACEMENT, state);
        await expect(checkHealthy(fakeDeps(account, claiming()), checking(1), CTX)).rejects.toThrow(
          new ReplacementFailedError(`replacement ${REPLACEMENT} of ${OLD} is ${state}`),
        );
      },
    );

    it('is not visible yet right after launch (EC2 is eventually consistent)', async () => {
      account.instances.delete(REPLACEMENT);
      expect(await checkHealthy(fakeDeps(account, claiming()), checking(1), CTX)).toMatchObject({
        healthy: false,
        replacementId: REPLACEMENT,
        detail: `replacement ${REPLACEMENT} is not visible yet`,
      });
    });

    it.each([
      {
        what: 'still pending',
        arrange: (a: FakeAccount) => a.setState(REPLACEMENT, 'pending'),
        detail: `replacement ${REPLACEMENT} is pending`,
      },
      {
        what: 'booting, unhealthy to its group, and unhealthy in its target group',
        arrange: (a: FakeAccount) => {
          const instance = a.instances.get(REPLACEMENT);
          if (instance) instance.checks = 'initializing';
          const member = a.member('web-asg', REPLACEMENT);
          if (member) member.health = 'Unhealthy';
          a.targetGroups.get(WEB_TG)?.targets.push({ id: REPLACEMENT, port: 80, state: 'unhealthy' });
        },
        detail:
          'status checks instance=initializing system=initializing; group health Unhealthy; target group web-tg: unhealthy',
      },
    ])(
      'is not healthy while $what, and is declared unhealthy on the last attempt',
      async ({ arrange, detail }) => {
        arrange(account);
        expect(await checkHealthy(fakeDeps(account, claiming()), checking(2), CTX)).toEqual({
          attempt: 2,
          healthy: false,
          replacementId: REPLACEMENT,
          detail,
        });
        await expect(checkHealthy(fakeDeps(account, claiming()), checking(LAST), CTX)).rejects.toThrow(
          new ReplacementUnhealthyError(
            `replacement ${REPLACEMENT} of ${OLD} was not healthy after 5 checks over 60s: ${detail}`,
          ),
        );
      },
    );

    it("is left to the group to register: Phoenix registers no group member in its group's target groups", async () => {
      const health = await checkHealthy(fakeDeps(account, claiming()), checking(1), CTX);
      expect(health.detail).toBe('target group web-tg: unregistered');
      expect(account.changes()).toEqual([]);
    });
  });

  describe('a standalone replacement', () => {
    let api: FakeAccount;
    const data = (attempt: number): MachineData => ({
      ...input('api'),
      plan: standalonePlan(),
      lease: lease(),
      replacement: { instanceId: REPLACEMENT },
      ...(attempt > 1
        ? { health: { attempt: attempt - 1, healthy: false, replacementId: REPLACEMENT } }
        : {}),
    });
    beforeEach(() => {
      api = new FakeAccount();
      seedApiInstance(api);
      api.addInstance({ id: REPLACEMENT, state: 'running', tags: { App: 'api' } });
    });

    it("is registered where the old one is, on the old one's ports, once it runs", async () => {
      const health = await checkHealthy(fakeDeps(api, fakeStore()), data(1), CTX);

      expect(api.elbv2.inputsOf(RegisterTargetsCommand)).toEqual([
        { TargetGroupArn: HAND_TG, Targets: [{ Id: REPLACEMENT, Port: 8080 }] },
      ]);
      expect(health).toMatchObject({ healthy: false, detail: 'target group by-hand: initial' });
    });

    it('is healthy once healthy in every target group, and registered only once', async () => {
      api.registeredState = 'healthy';
      await checkHealthy(fakeDeps(api, fakeStore()), data(1), CTX);
      const health = await checkHealthy(fakeDeps(api, fakeStore()), data(2), CTX);
      expect(health).toMatchObject({ attempt: 2, healthy: true, replacementId: REPLACEMENT });
      expect(api.elbv2.inputsOf(RegisterTargetsCommand)).toHaveLength(1);
      // No group to read, no activity to ask about.
      expect(api.autoScaling.calls).toEqual([]);
    });

    it('is not registered before it runs', async () => {
      api.setState(REPLACEMENT, 'pending');
      await checkHealthy(fakeDeps(api, fakeStore()), data(1), CTX);
      expect(api.changes()).toEqual([]);
    });
  });

  it('claims nothing in a group this execution never changed: nothing was launched for it', async () => {
    launchedByGroup(account, REPLACEMENT);
    const store = claiming();
    const { surge: _, ...unchanged } = checking(1);

    const health = await checkHealthy(fakeDeps(account, store), unchanged, CTX);

    expect(health.replacementId).toBeUndefined();
    expect(store.calls).toEqual([]);
  });
});
