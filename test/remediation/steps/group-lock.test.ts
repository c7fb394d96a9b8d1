import { describe, expect, it } from 'vitest';
import type { GroupLockDecision } from '../../../functions/aws/remediation-store';
import type { GroupChange } from '../../../functions/aws/state-store';
import { GroupBusyError, StepInputError } from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { groupLockTtlSeconds } from '../../../functions/remediation/steps';
import { changeRecord, lockGroup, requireAsg } from '../../../functions/remediation/steps/group-lock';
import { CTX, EXECUTION, FakeAccount, fakeDeps, fakeStore, OTHER_EXECUTION } from './fakes';
import { asgPlan, input, OLD, PEERS, TIMINGS } from './state';

/** The lock step over a store answering `decision`, recording what was asked. */
function locking(decision: GroupLockDecision) {
  const requests: unknown[] = [];
  const store = fakeStore({
    acquireGroupLock: async (request) => {
      requests.push(request);
      return decision;
    },
  });
  return { deps: fakeDeps(new FakeAccount(), store), requests };
}

const HELD = {
  group: 'web-asg',
  holder: EXECUTION,
  instanceId: OLD,
  acquiredAt: '2025-06-15T12:02:00.000Z',
  expiresAt: 1_750_000_000,
};

describe('groupLockTtlSeconds', () => {
  it.each([
    // Five checks 15 s apart: the holder keeps the lock 75 s at most, plus five minutes.
    { timings: TIMINGS, ttl: 375 },
    // The production defaults: 40 checks 15 s apart.
    { timings: { ...TIMINGS, healthCheckMaxAttempts: 40 }, ttl: 900 },
    { timings: { ...TIMINGS, healthCheckIntervalSeconds: 0 }, ttl: 300 },
  ])('outlives the longest hold by five minutes: $ttl s', ({ timings, ttl }) => {
    expect(groupLockTtlSeconds(timings)).toBe(ttl);
  });
});

describe('lockGroup', () => {
  it("asks for the lock as this execution, for the instance it replaces, for the execution's health bound", async () => {
    const { deps, requests } = locking({ acquired: true, lock: HELD, reentered: false });

    expect(await lockGroup(deps, input(), CTX, 'web-asg', 'surge')).toEqual(HELD);
    expect(requests).toEqual([
      { purpose: 'surge', group: 'web-asg', holder: EXECUTION, instanceId: OLD, ttlSeconds: 375 },
    ]);
  });

  it("uses the recheck's timings over the input's, and the defaults when there are neither", async () => {
    const { deps, requests } = locking({ acquired: true, lock: HELD, reentered: true });
    const { timings: _, ...bare } = input();
    const rechecked: MachineData = {
      ...input(),
      recheck: {
        decision: 'proceed',
        reason: 'drifted',
        detail: '',
        notify: false,
        timings: { ...TIMINGS, healthCheckMaxAttempts: 10 },
        checkedAt: '2025-06-15T12:01:00.000Z',
      },
    };

    await lockGroup(deps, bare, CTX, 'web-asg', 'surge');
    await lockGroup(deps, rechecked, CTX, 'web-asg', 'surge');

    expect(requests).toEqual([
      expect.objectContaining({ ttlSeconds: 15 * 40 + 300 }),
      expect.objectContaining({ ttlSeconds: 15 * 10 + 300 }),
    ]);
  });

  it('refuses with GroupBusyError naming the holder, the instance it replaces and when its lock expires', async () => {
    const { deps } = locking({
      acquired: false,
      heldBy: { ...HELD, holder: OTHER_EXECUTION, instanceId: PEERS[0] ?? '' },
    });

    await expect(lockGroup(deps, input(), CTX, 'web-asg', 'surge')).rejects.toThrow(
      new GroupBusyError(
        `Auto Scaling group web-asg is being changed by execution run-2 (replacing ${PEERS[0]}) until it has found its replacement; the lock expires by 2025-06-15T15:06:40.000Z at the latest`,
      ),
    );
  });
});

describe('changeRecord', () => {
  it('carries a surge as the state keeps it, its members copied', () => {
    const change: GroupChange = { mode: 'surge', desiredBefore: 3, raisedTo: 4, instancesBefore: [OLD] };
    const record = changeRecord(change);
    expect(record).toEqual({ mode: 'surge', desiredBefore: 3, raisedTo: 4, instancesBefore: [OLD] });
    expect(record.instancesBefore).not.toBe(change.instancesBefore);
  });

  it('has no raisedTo for Standby first (the state schema refuses an undefined one)', () => {
    const record = changeRecord({
      mode: 'standby-first',
      desiredBefore: 4,
      instancesBefore: [OLD, ...PEERS],
    });
    expect(record).toEqual({ mode: 'standby-first', desiredBefore: 4, instancesBefore: [OLD, ...PEERS] });
    expect(Object.keys(record)).not.toContain('raisedTo');
  });
});

describe('requireAsg', () => {
  it("returns the plan's Auto Scaling part", () => {
    expect(requireAsg({ ...input(), plan: asgPlan('surge') }, 'retireOld')).toMatchObject({
      name: 'web-asg',
      mode: 'surge',
    });
  });

  it('refuses a state without one, naming the step', () => {
    expect(() => requireAsg(input(), 'raiseDesiredCapacity')).toThrow(
      new StepInputError(
        'step raiseDesiredCapacity needs an Auto Scaling plan, which earlier states did not provide',
      ),
    );
  });
});
