import { beforeEach, describe, expect, it } from 'vitest';
import type { LeaseDecision, LeaseRequest } from '../../../functions/aws/remediation-store';
import {
  AlreadyReplacedError,
  GateClosedError,
  GroupBusyError,
  LeaseDeniedError,
  ReplacingElsewhereError,
  StepInputError,
} from '../../../functions/remediation/errors';
import type { MachineData } from '../../../functions/remediation/input';
import { acquireLease, releaseLease } from '../../../functions/remediation/steps';
import { CTX, EXECUTION, FakeAccount, fakeDeps, fakeStore, NOW, OTHER_EXECUTION } from './fakes';
import {
  asgPlan,
  caught,
  input,
  lease,
  OLD,
  PEERS,
  REPLACEMENT,
  seedApiInstance,
  seedWebGroup,
  standalonePlan,
  TIMINGS,
  WEB_LT,
} from './state';

const GRANTED: LeaseDecision = {
  granted: true,
  lease: {
    fleet: 'web',
    holder: EXECUTION,
    instanceId: OLD,
    items: ['slot#0'],
    expiresAt: 1_750_000_000,
    groupLocked: true,
  },
};

const CLAIM = {
  instanceId: OLD,
  holder: OTHER_EXECUTION,
  acquiredAt: '2025-06-15T12:00:00.000Z',
  expiresAt: 1_750_000_000,
};
const LOCK = { ...CLAIM, group: 'web-asg' };

/** The lease step over a store that answers `decision` and records the request. */
function leasing(decision: LeaseDecision) {
  const requests: LeaseRequest[] = [];
  const store = fakeStore({
    acquireLease: async (request) => {
      requests.push(request);
      return decision;
    },
  });
  return { store, requests };
}

describe('acquireLease', () => {
  let account: FakeAccount;
  beforeEach(() => {
    account = new FakeAccount();
    seedWebGroup(account);
  });

  it('asks for a slot and, for a surge, the group lock in one request, with the gate checked again', async () => {
    const { store, requests } = leasing(GRANTED);
    account.group('web-asg').members[2] = { id: PEERS[1] ?? '', lifecycle: 'InService', health: 'Unhealthy' };

    const result = await acquireLease(fakeDeps(account, store), { ...input(), plan: asgPlan('surge') }, CTX);

    expect(result).toEqual({
      holder: EXECUTION,
      items: ['slot#0'],
      expiresAt: 1_750_000_000,
      healthy: 2,
      desired: 3,
      groupLocked: true,
    });
    expect(requests).toEqual([
      {
        fleet: 'web',
        holder: EXECUTION,
        instanceId: OLD,
        maxConcurrent: 2,
        minHealthyPercent: 50,
        healthy: 2,
        desired: 3,
        disruption: 0,
        ttlSeconds: 3600,
        // Five checks 15 s apart, plus five minutes.
        groupLock: { group: 'web-asg', ttlSeconds: 375 },
        gate: { fleet: 'web', templateId: WEB_LT, version: 2 },
      },
    ]);
  });

  it('takes no group lock for Standby first (the step takes it) and counts its dip', async () => {
    const { store, requests } = leasing(GRANTED);
    await acquireLease(fakeDeps(account, store), { ...input(), plan: asgPlan('standby-first') }, CTX);
    expect(requests[0]?.groupLock).toBeUndefined();
    expect(requests[0]?.disruption).toBe(1);
  });

  it.each([
    { what: 'seconds old: used as is', age: 5_000, reads: 0, healthy: 1 },
    { what: 'older than 30 s: read again', age: 31_000, reads: 1, healthy: 3 },
    { what: 'from the future (clock skew): read again', age: -1_000, reads: 1, healthy: 3 },
  ])("measures the group from the recheck's snapshot when it is $what", async ({ age, reads, healthy }) => {
    const { store, requests } = leasing(GRANTED);
    const data: MachineData = {
      ...input(),
      plan: asgPlan('surge'),
      recheck: {
        decision: 'proceed',
        reason: 'drifted',
        detail: '',
        notify: false,
        timings: TIMINGS,
        checkedAt: new Date(NOW.getTime() - age).toISOString(),
        snapshot: {
          instance: { launchedFromTemplate: true, autoScalingGroup: 'web-asg' },
          group: {
            name: 'web-asg',
            desired: 3,
            min: 1,
            max: 4,
            targetGroupArns: [],
            members: [
              { id: OLD, lifecycle: 'InService', healthy: true },
              { id: PEERS[0] ?? '', lifecycle: 'Pending', healthy: false },
            ],
          },
        },
      },
    };

    await acquireLease(fakeDeps(account, store), data, CTX);

    expect(account.autoScaling.calls).toHaveLength(reads);
    expect(requests[0]?.healthy).toBe(healthy);
  });

  it('measures a tag fleet by its running members, the excluded ones not counted', async () => {
    const api = new FakeAccount();
    seedApiInstance(api);
    api.addInstance({ id: REPLACEMENT, state: 'stopped', tags: { App: 'api' } });
    api.addInstance({ id: PEERS[0] ?? '', state: 'running', tags: { App: 'api', 'phoenix:skip': 'true' } });
    const { store, requests } = leasing(GRANTED);

    await acquireLease(fakeDeps(api, store), { ...input('api'), plan: standalonePlan() }, CTX);

    expect(requests[0]).toMatchObject({ healthy: 1, desired: 2, disruption: 0 });
    expect(requests[0]?.groupLock).toBeUndefined();
  });

  const denied = (over: Partial<Extract<LeaseDecision, { granted: false }>>): LeaseDecision => ({
    granted: false,
    reason: 'the store says why',
    ...over,
  });

  it.each([
    {
      what: 'another execution replacing the instance',
      decision: denied({ instanceClaimedBy: CLAIM }),
      error: ReplacingElsewhereError,
    },
    {
      what: 'another execution that replaced it',
      decision: denied({ instanceClaimedBy: { ...CLAIM, replacedBy: REPLACEMENT } }),
      error: AlreadyReplacedError,
    },
    {
      what: 'a pause or a quarantine since the recheck',
      decision: denied({ gateClosed: { pause: { paused: true } } }),
      error: GateClosedError,
    },
    { what: 'a group lock held by another', decision: denied({ groupHeldBy: LOCK }), error: GroupBusyError },
    { what: 'no room in the budget', decision: denied({}), error: LeaseDeniedError },
    {
      what: 'a claim, a closed gate and a busy group at once: the claim',
      decision: denied({
        instanceClaimedBy: CLAIM,
        gateClosed: { pause: { paused: true } },
        groupHeldBy: LOCK,
      }),
      error: ReplacingElsewhereError,
    },
    {
      what: 'a closed gate and a busy group at once: the gate',
      decision: denied({ gateClosed: { pause: { paused: true } }, groupHeldBy: LOCK }),
      error: GateClosedError,
    },
  ])("refuses for $what, with the store's reason", async ({ decision, error }) => {
    const { store } = leasing(decision);
    const promise = acquireLease(fakeDeps(account, store), { ...input(), plan: asgPlan('surge') }, CTX);
    await expect(promise).rejects.toThrow(error);
    await expect(promise).rejects.toThrow(/^the store says why$/);
  });

  it('says what to change when Standby first finds no room: raise MaxSize to launch first', async () => {
    const { store } = leasing(denied({}));
    const data = { ...input(), plan: asgPlan('standby-first', { maxSize: 3 }) };
    await expect(acquireLease(fakeDeps(account, store), data, CTX)).rejects.toThrow(
      new LeaseDeniedError(
        'the store says why; no headroom to launch first: Auto Scaling group web-asg is at MaxSize 3, so the old instance must go out first (raise MaxSize by 1 to launch first instead)',
      ),
    );
  });

  it('needs a plan', async () => {
    await expect(acquireLease(fakeDeps(account, fakeStore()), input(), CTX)).rejects.toThrow(
      new StepInputError('step acquireLease needs a plan, which earlier states did not provide'),
    );
  });
});

describe('releaseLease', () => {
  const account = new FakeAccount();
  const healthy = { attempt: 2, healthy: true, replacementId: REPLACEMENT };

  it.each([
    {
      what: 'after a success: kept, naming the replacement',
      data: { health: healthy },
      replacedBy: REPLACEMENT,
    },
    {
      what: 'after a failure: given back',
      data: { health: healthy, error: caught('States.Timeout') },
      replacedBy: undefined,
    },
    {
      what: 'after a rollback: given back',
      data: {
        health: healthy,
        rollback: { error: 'X', cause: 'y', quarantine: false, actions: [], at: NOW.toISOString() },
      },
      replacedBy: undefined,
    },
    {
      what: 'before the replacement was healthy: given back',
      data: { health: { attempt: 1, healthy: false, replacementId: REPLACEMENT } },
      replacedBy: undefined,
    },
  ])('releases lease, lock and claim in one request; the claim $what', async ({ data, replacedBy }) => {
    const store = fakeStore({ releaseAll: async () => 1 });

    const result = await releaseLease(
      fakeDeps(account, store),
      { ...input(), plan: asgPlan('surge'), lease: lease(true), ...data },
      CTX,
    );

    expect(result).toEqual({ released: 1 });
    expect(store.calls.map((c) => c.args[0])).toEqual([
      {
        holder: EXECUTION,
        fleet: 'web',
        items: ['slot#0'],
        group: 'web-asg',
        instance: replacedBy === undefined ? { id: OLD } : { id: OLD, replacedBy },
      },
    ]);
  });

  it.each([
    { what: 'the lease step did not return', lease: undefined },
    { what: "the lease in the state is another execution's", lease: { ...lease(), holder: OTHER_EXECUTION } },
  ])('finds what this execution holds by reading when $what', async ({ lease: held }) => {
    const store = fakeStore({
      releaseGroupLock: async () => true,
      settleInstanceClaim: async () => true,
      releaseLease: async () => 1,
    });

    const result = await releaseLease(
      fakeDeps(account, store),
      { ...input(), plan: asgPlan('surge'), ...(held === undefined ? {} : { lease: held }) },
      CTX,
    );

    expect(result).toEqual({ released: 1 });
    expect(store.calls).toEqual([
      { method: 'releaseGroupLock', args: ['web-asg', EXECUTION] },
      { method: 'settleInstanceClaim', args: [OLD, EXECUTION, undefined] },
      { method: 'releaseLease', args: ['web', EXECUTION] },
    ]);
  });

  it('asks nothing when RetireOld released everything already', async () => {
    const result = await releaseLease(
      fakeDeps(account, fakeStore()),
      { ...input(), lease: lease(), retired: { terminating: true, released: 1, leaseReleased: true } },
      CTX,
    );
    expect(result).toEqual({ released: 1 });
  });
});
