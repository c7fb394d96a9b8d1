import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GroupLock } from '../../../functions/aws/state-store';
import { GroupBusyError } from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { rollback } from '../../../functions/remediation/steps';
import {
  CTX,
  EXECUTION,
  FakeAccount,
  fakeDeps,
  fakeStore,
  groupLockModel,
  NOW,
  OTHER_EXECUTION,
} from './fakes';
import {
  asgPlan,
  caught,
  HAND_TG,
  input,
  launchedByGroup,
  lease,
  OLD,
  PEERS,
  REPLACEMENT,
  SUCCESSOR,
  seedApiInstance,
  seedWebGroup,
  standalonePlan,
  surged,
  WEB_LT,
  WEB_TG,
} from './state';

/** A store with the group lock (free unless `held`) and claims that succeed. */
function rollingBack(held?: GroupLock) {
  const lock = groupLockModel(held);
  return { lock, store: fakeStore({ ...lock, claimReplacement: async () => true }) };
}

const UNHEALTHY = caught('ReplacementUnhealthyError', 'never healthy');

/** A surge of `web-asg` (3 → 4) that failed with `error`, the replacement as the health checks left it. */
function failedSurge(over: Partial<MachineData> = {}): MachineData {
  return {
    ...input(),
    plan: asgPlan('surge'),
    lease: lease(true),
    surge: surged(3),
    error: UNHEALTHY,
    ...over,
  };
}

const unhealthy = { attempt: 5, healthy: false, replacementId: REPLACEMENT };

describe('rollback', () => {
  describe("an Auto Scaling group's capacity, given back relatively", () => {
    let account: FakeAccount;
    beforeEach(() => {
      account = new FakeAccount();
      // After this execution's surge: 3 → 4.
      seedWebGroup(account, { desired: 4, max: 4 });
    });

    it('terminates an unhealthy replacement with a decrement: the group is back at 3, nothing else to give back', async () => {
      launchedByGroup(account, REPLACEMENT, 'InService', 'Unhealthy');
      account.targetGroups.get(WEB_TG)?.targets.push({ id: REPLACEMENT, port: 80, state: 'unhealthy' });
      const { lock, store } = rollingBack();

      const result = await rollback(fakeDeps(account, store), failedSurge({ health: unhealthy }), CTX);

      expect(result).toEqual({
        error: 'ReplacementUnhealthyError',
        cause: `ReplacementUnhealthyError: never healthy — rolled back: terminated replacement ${REPLACEMENT} and lowered the group's desired capacity — launch template ${WEB_LT} version 2 quarantined for fleet web`,
        quarantine: true,
        actions: [`terminated replacement ${REPLACEMENT} and lowered the group's desired capacity`],
        replacementId: REPLACEMENT,
        at: NOW.toISOString(),
      });
      // Out of the load balancer before it is terminated.
      expect(account.changes()).toEqual([
        'ELBv2.DeregisterTargets',
        'AutoScaling.TerminateInstanceInAutoScalingGroup',
      ]);
      expect(account.group('web-asg').desired).toBe(3);
      expect(account.member('web-asg', OLD)?.lifecycle).toBe('InService');
      expect(lock.held()).toBeUndefined();
    });

    it.each([
      { what: 'alone in flight', desired: 4, after: 3 },
      { what: 'with another surge of the group in flight, whose +1 survives', desired: 5, after: 4 },
      { what: 'at MinSize', desired: 4, min: 4, after: 4 },
    ])('gives back a surge whose replacement never showed up: $what', async ({ desired, min, after }) => {
      Object.assign(account.group('web-asg'), { desired, max: 5, min: min ?? 1 });

      const result = await rollback(fakeDeps(account, rollingBack().store), failedSurge(), CTX);

      expect(account.group('web-asg').desired).toBe(after);
      expect(result.actions).toEqual(
        after === desired
          ? []
          : [`gave back this replacement's capacity change: desired capacity ${desired} → ${after}`],
      );
      expect(result.replacementId).toBeUndefined();
    });

    it.each([
      { what: 'the raise went through before the step failed', desired: 4, after: 3 },
      { what: 'the step failed before the raise', desired: 3, after: 3 },
    ])(
      'reads a raise recorded under the lock by a step that did not return: $what',
      async ({ desired, after }) => {
        account.group('web-asg').desired = desired;
        const change = {
          mode: 'surge' as const,
          desiredBefore: 3,
          raisedTo: 4,
          instancesBefore: [OLD, ...PEERS],
        };
        const held: GroupLock = {
          group: 'web-asg',
          holder: EXECUTION,
          instanceId: OLD,
          acquiredAt: '2025-06-15T12:02:00.000Z',
          expiresAt: 1_750_000_000,
          change,
        };
        const { surge: _, ...state } = failedSurge({ error: caught('States.Timeout') });

        await rollback(fakeDeps(account, rollingBack(held).store), state, CTX);

        expect(account.group('web-asg').desired).toBe(after);
      },
    );

    describe("a wave whose closer's raise EC2 refused for the launch (recorded on the lock)", () => {
      // 3 → 5 for two members; the emulated group keeps the capacity it was set to.
      const change = {
        mode: 'surge' as const,
        desiredBefore: 3,
        raisedTo: 5,
        instancesBefore: [OLD, ...PEERS],
        wave: { members: [EXECUTION, OTHER_EXECUTION].sort(), closedBy: OTHER_EXECUTION },
      };
      const held = (): GroupLock => ({
        group: 'web-asg',
        holder: OTHER_EXECUTION,
        instanceId: OLD,
        acquiredAt: '2025-06-15T12:02:00.000Z',
        expiresAt: 1_750_000_000,
        members: [EXECUTION, OTHER_EXECUTION].sort(),
        wave: true,
        change,
        raiseFailed: { code: 'InvalidAMIID.NotFound', message: 'gone' },
      });

      it('a member gives back nothing, even one whose raise step returned before the refusal was known', async () => {
        Object.assign(account.group('web-asg'), { desired: 3, max: 5 });
        await rollback(fakeDeps(account, rollingBack(held()).store), failedSurge(), CTX);
        expect(account.group('web-asg').desired).toBe(3);
      });

      it('the closer gives back what the group kept of the raise, all its seats', async () => {
        Object.assign(account.group('web-asg'), { desired: 5, max: 5 });
        const { surge: _, ...state } = failedSurge({ error: caught('LaunchRejectedError') });
        await rollback(fakeDeps(account, rollingBack(held()).store), state, {
          ...CTX,
          executionId: OTHER_EXECUTION,
        });
        expect(account.group('web-asg').desired).toBe(3);
      });
    });

    it('removes a replacement that died and the successor the group launched for it, not an old healthy member', async () => {
      // The replacement died; the group's health check replaced it with a successor from the same version.
      account.addInstance({ id: REPLACEMENT, state: 'terminated', tags: {} });
      launchedByGroup(account, SUCCESSOR, 'Pending');
      const { store } = rollingBack();

      const result = await rollback(
        fakeDeps(account, store),
        failedSurge({ error: caught('ReplacementFailedError', 'died'), health: unhealthy }),
        CTX,
      );

      expect(result.actions).toEqual([
        `terminated ${REPLACEMENT}'s successor ${SUCCESSOR} and lowered the group's desired capacity`,
      ]);
      expect(account.group('web-asg').desired).toBe(3);
      expect(
        account
          .group('web-asg')
          .members.filter((m) => m.lifecycle === 'InService')
          .map((m) => m.id),
      ).toEqual([OLD, ...PEERS]);
      // Claimed without giving the lock back: the rollback holds it to the end.
      expect(store.calls.find((c) => c.method === 'claimReplacement')?.args).toEqual([
        SUCCESSOR,
        EXECUTION,
        3600,
        {},
      ]);
    });

    it('terminates a replacement out of the group (detached) that still runs', async () => {
      account.addInstance({ id: REPLACEMENT, state: 'running', tags: {} });

      const result = await rollback(
        fakeDeps(account, rollingBack().store),
        failedSurge({ health: unhealthy }),
        CTX,
      );

      expect(account.ec2.inputsOf(TerminateInstancesCommand)).toEqual([{ InstanceIds: [REPLACEMENT] }]);
      expect(result.actions).toEqual([
        `terminated replacement ${REPLACEMENT}`,
        "gave back this replacement's capacity change: desired capacity 4 → 3",
      ]);
    });

    it('keeps a healthy replacement when the old instance is gone, and gives back the +1 its leaving did not take', async () => {
      launchedByGroup(account, REPLACEMENT);
      account.group('web-asg').members = account.group('web-asg').members.filter((m) => m.id !== OLD);
      account.setState(OLD, 'terminated');

      const result = await rollback(
        fakeDeps(account, rollingBack().store),
        failedSurge({
          error: caught('States.Timeout'),
          health: { attempt: 3, healthy: true, replacementId: REPLACEMENT },
        }),
        CTX,
      );

      expect(result.actions).toEqual([
        `kept healthy replacement ${REPLACEMENT}: ${OLD} is already gone`,
        "gave back this replacement's capacity change: desired capacity 4 → 3",
      ]);
      expect(account.member('web-asg', REPLACEMENT)?.lifecycle).toBe('InService');
      expect(result.quarantine).toBe(false);
    });

    it("leaves an old instance someone detached alone: not Phoenix's to put back", async () => {
      launchedByGroup(account, REPLACEMENT, 'InService', 'Unhealthy');
      account.group('web-asg').members = account.group('web-asg').members.filter((m) => m.id !== OLD);
      account.targetGroups.get(WEB_TG)?.targets.splice(0, 1);

      const result = await rollback(
        fakeDeps(account, rollingBack().store),
        failedSurge({ health: unhealthy }),
        CTX,
      );

      expect(result.actions).toContain(
        `left ${OLD} alone: it left web-asg during the replacement (someone detached it) and is not Phoenix's to put back`,
      );
      expect(account.elbv2.inputsOf(RegisterTargetsCommand)).toEqual([]);
    });

    it('changes nothing while another execution holds the group lock', async () => {
      const held: GroupLock = {
        group: 'web-asg',
        holder: OTHER_EXECUTION,
        instanceId: PEERS[0] ?? '',
        acquiredAt: '2025-06-15T12:02:00.000Z',
        expiresAt: 1_750_000_000,
      };
      await expect(rollback(fakeDeps(account, rollingBack(held).store), failedSurge(), CTX)).rejects.toThrow(
        GroupBusyError,
      );
      expect(account.changes()).toEqual([]);
    });
  });

  describe('Standby first, undone', () => {
    let account: FakeAccount;
    const standbyFailed = (over: Partial<MachineData> = {}): MachineData => ({
      ...input(),
      plan: asgPlan('standby-first'),
      lease: lease(),
      surge: {
        mode: 'standby-first',
        desiredBefore: 3,
        instancesBefore: [OLD, ...PEERS],
        at: '2025-06-15T12:02:00.000Z',
      },
      error: UNHEALTHY,
      ...over,
    });
    beforeEach(() => {
      account = new FakeAccount();
      seedWebGroup(account, { desired: 3, max: 3 });
      const old = account.member('web-asg', OLD);
      if (old) old.lifecycle = 'Standby';
      // On AWS an instance in Standby is out of its group's target groups.
      account.targetGroups.get(WEB_TG)?.targets.splice(0, 1);
    });

    it('removes the replacement, brings the old instance out of Standby and back into its target group', async () => {
      launchedByGroup(account, REPLACEMENT, 'InService', 'Unhealthy');

      const result = await rollback(
        fakeDeps(account, rollingBack().store),
        standbyFailed({ health: unhealthy }),
        CTX,
      );

      expect(result.actions).toEqual([
        `terminated replacement ${REPLACEMENT} and lowered the group's desired capacity`,
        `moved ${OLD} out of Standby`,
        `re-registered ${OLD} in web-tg`,
      ]);
      expect(account.group('web-asg').desired).toBe(3);
      expect(account.member('web-asg', OLD)?.lifecycle).toBe('InService');
    });

    it('makes room under MaxSize first when the replacement never came, and ends at the capacity it started from', async () => {
      const result = await rollback(fakeDeps(account, rollingBack().store), standbyFailed(), CTX);

      expect(account.changes()).toEqual([
        'AutoScaling.SetDesiredCapacity',
        'AutoScaling.ExitStandby',
        'ELBv2.RegisterTargets',
      ]);
      expect(account.group('web-asg').desired).toBe(3);
      expect(result.actions).toEqual([`moved ${OLD} out of Standby`, `re-registered ${OLD} in web-tg`]);
    });
  });

  describe('a standalone replacement', () => {
    let account: FakeAccount;
    const standaloneFailed = (over: Partial<MachineData> = {}): MachineData => ({
      ...input('api'),
      plan: standalonePlan(),
      lease: lease(),
      replacement: { instanceId: REPLACEMENT },
      error: UNHEALTHY,
      ...over,
    });
    beforeEach(() => {
      account = new FakeAccount();
      seedApiInstance(account);
      account.addInstance({ id: REPLACEMENT, state: 'running', tags: { App: 'api' } });
      account.targetGroups.get(HAND_TG)?.targets.push({ id: REPLACEMENT, port: 8080, state: 'unhealthy' });
    });

    it('deregisters and terminates the replacement, and registers the drained old instance again', async () => {
      account.targetGroups.get(HAND_TG)?.targets.splice(0, 1);

      const result = await rollback(fakeDeps(account, fakeStore()), standaloneFailed(), CTX);

      expect(result.actions).toEqual([
        `deregistered and terminated replacement ${REPLACEMENT}`,
        `re-registered ${OLD} in by-hand`,
      ]);
      expect(account.state(REPLACEMENT)).toBe('shutting-down');
      expect(account.targetGroups.get(HAND_TG)?.targets.map((t) => t.id)).toEqual([OLD]);
    });

    it('keeps a healthy replacement when the old instance is already gone', async () => {
      account.setState(OLD, 'terminated');
      const result = await rollback(
        fakeDeps(account, fakeStore()),
        standaloneFailed({ health: { attempt: 2, healthy: true, replacementId: REPLACEMENT } }),
        CTX,
      );
      expect(result.actions).toEqual([`kept healthy replacement ${REPLACEMENT}: ${OLD} is already gone`]);
      expect(account.changes()).toEqual([]);
    });

    it('does not terminate a replacement already gone', async () => {
      account.setState(REPLACEMENT, 'terminated');
      account.targetGroups.get(HAND_TG)?.targets.pop();
      const result = await rollback(fakeDeps(account, fakeStore()), standaloneFailed(), CTX);
      expect(result.actions).toEqual([]);
      expect(account.changes()).toEqual([]);
    });
  });

  it.each([
    { error: 'ReplacementUnhealthyError', quarantine: true, retryable: false },
    { error: 'ReplacementFailedError', quarantine: true, retryable: false },
    { error: 'LaunchRejectedError', quarantine: true, retryable: false },
    { error: 'InsufficientCapacityError', quarantine: false, retryable: true },
    { error: 'States.Timeout', quarantine: false, retryable: false },
    { error: 'GroupBusyError', quarantine: false, retryable: false },
  ])(
    'after $error: quarantines the version $quarantine, lets the next detection retry $retryable',
    async ({ error, quarantine, retryable }) => {
      // Failed before any plan: nothing to read, nothing to put back.
      const result = await rollback(
        fakeDeps(new FakeAccount(), fakeStore()),
        { ...input(), error: caught(error, 'it broke') },
        CTX,
      );

      const parts = [`${error}: it broke`, 'rolled back: nothing had changed'];
      if (quarantine) parts.push(`launch template ${WEB_LT} version 2 quarantined for fleet web`);
      if (retryable) parts.push('not the template: the next detection of this drift tries again');
      expect(result).toEqual({
        error,
        cause: parts.join(' — '),
        quarantine,
        actions: [],
        at: NOW.toISOString(),
        ...(retryable ? { retryable: true } : {}),
      });
    },
  );

  it('says when the state machine recorded no error', async () => {
    const result = await rollback(fakeDeps(new FakeAccount(), fakeStore()), input(), CTX);
    expect(result).toMatchObject({
      error: 'Unknown',
      cause: 'Unknown: the state machine did not record the error — rolled back: nothing had changed',
      quarantine: false,
    });
  });
});
