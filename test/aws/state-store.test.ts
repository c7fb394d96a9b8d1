import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { atomicDynamoDB, createStateTable } from '../../emulator/table';
import {
  type LeaseRequest,
  REPLACED_CLAIM_TTL_SECONDS,
  RETIRER_WAIT_SECONDS,
  RemediationStore,
} from '../../functions/aws/remediation-store';
import { ATTEMPT_TTL_SECONDS, healthyFloor } from '../../functions/aws/state-store';
import { InvalidInputError } from '../../functions/domain/errors';
import { testClients } from '../helpers/emulator';

const clients = testClients();
let tableCount = 0;

/** A fresh table per test and a clock the test moves by hand. */
async function freshStore(start = new Date('2025-03-03T10:00:00Z')) {
  tableCount += 1;
  const table = await createStateTable(clients.dynamodb, `phoenix-state-${tableCount}`);
  const clock = { now: start };
  const store = new RemediationStore(atomicDynamoDB(clients.dynamodb), table, () => clock.now);
  const advance = (seconds: number) => {
    clock.now = new Date(clock.now.getTime() + seconds * 1000);
  };
  return { store, advance };
}

/** A lease request; each holder replaces an instance of its own (`i-<holder>`) unless told otherwise. */
function lease(overrides: Partial<LeaseRequest> = {}): LeaseRequest {
  const holder = overrides.holder ?? 'exec-1';
  return {
    fleet: 'web',
    holder,
    instanceId: `i-${holder}`,
    maxConcurrent: 1,
    minHealthyPercent: 50,
    healthy: 4,
    desired: 4,
    disruption: 0,
    ttlSeconds: 3600,
    ...overrides,
  };
}

describe('StateStore', () => {
  beforeAll(async () => {
    // The store must work on a table with exactly the deployed key schema: nothing else.
    await createStateTable(clients.dynamodb, 'phoenix-state-smoke');
  });

  describe('pause switch', () => {
    it('is off until someone sets it, and remembers who did', async () => {
      const { store } = await freshStore();
      expect(await store.isPaused()).toBe(false);

      await store.setPaused(true, 'alice');
      expect(await store.isPaused()).toBe(true);
      expect(await store.pauseState()).toMatchObject({
        paused: true,
        by: 'alice',
        at: '2025-03-03T10:00:00.000Z',
      });

      await store.setPaused(false, 'bob');
      expect(await store.pauseState()).toMatchObject({ paused: false, by: 'bob' });
    });
  });

  describe('remediationGate', () => {
    it("reads the pause switch and one version's quarantine together", async () => {
      const { store } = await freshStore();
      const key = { fleet: 'web', templateId: 'lt-0abc', version: 3 };
      expect(await store.remediationGate(key)).toEqual({ pause: { paused: false } });

      await store.setPaused(true, 'alice');
      await store.quarantine({ ...key, cause: 'unhealthy', execution: 'exec-9' });
      await store.quarantine({ ...key, version: 4, cause: 'other version', execution: 'exec-8' });
      const gate = await store.remediationGate(key);
      expect(gate.pause).toMatchObject({ paused: true, by: 'alice' });
      expect(gate.quarantine).toMatchObject({ ...key, cause: 'unhealthy', execution: 'exec-9' });
      expect((await store.remediationGate({ ...key, fleet: 'api' })).quarantine).toBeUndefined();
    });
  });

  describe('claimNotification', () => {
    it('answers true only to the first claim of a key', async () => {
      const { store } = await freshStore();
      expect(await store.claimNotification('i-1#fp#drift.detected', 600)).toBe(true);
      expect(await store.claimNotification('i-1#fp#drift.detected', 600)).toBe(false);
      expect(await store.claimNotification('i-2#fp#drift.detected', 600)).toBe(true);
    });

    it('lets a key be claimed again once its claim has expired, before DynamoDB deletes it', async () => {
      const { store, advance } = await freshStore();
      expect(await store.claimNotification('k', 60)).toBe(true);
      advance(59);
      expect(await store.claimNotification('k', 60)).toBe(false);
      advance(2);
      expect(await store.claimNotification('k', 60)).toBe(true);
    });

    it('grants exactly one of many simultaneous claims', async () => {
      const { store } = await freshStore();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => store.claimNotification('race', 600)),
      );
      expect(answers.filter(Boolean)).toHaveLength(1);
    });

    it('rejects an empty key', async () => {
      const { store } = await freshStore();
      await expect(store.claimNotification('', 60)).rejects.toBeInstanceOf(InvalidInputError);
    });
  });

  describe('quarantines', () => {
    it('records, reads, lists and lifts a quarantine per fleet and template version', async () => {
      const { store } = await freshStore();
      await store.quarantine({
        fleet: 'web',
        templateId: 'lt-0a',
        version: 3,
        cause: 'never healthy',
        execution: 'e1',
      });
      await store.quarantine({
        fleet: 'api',
        templateId: 'lt-0b',
        version: 7,
        cause: 'boot loop',
        execution: 'e2',
      });

      expect(await store.getQuarantine('web', 'lt-0a', 3)).toMatchObject({
        cause: 'never healthy',
        execution: 'e1',
      });
      expect(await store.getQuarantine('web', 'lt-0a', 4)).toBeUndefined();
      expect(await store.getQuarantine('api', 'lt-0a', 3)).toBeUndefined();
      expect((await store.listQuarantines()).map((q) => q.fleet).sort()).toEqual(['api', 'web']);
      expect(await store.listQuarantines('web')).toEqual([
        {
          fleet: 'web',
          templateId: 'lt-0a',
          version: 3,
          cause: 'never healthy',
          execution: 'e1',
          at: '2025-03-03T10:00:00.000Z',
        },
      ]);

      expect(await store.liftQuarantine('web', 'lt-0a', 3)).toBe(true);
      expect(await store.liftQuarantine('web', 'lt-0a', 3)).toBe(false);
      expect(await store.getQuarantine('web', 'lt-0a', 3)).toBeUndefined();
    });

    it('does not confuse a fleet with another whose name it prefixes', async () => {
      const { store } = await freshStore();
      await store.quarantine({
        fleet: 'web-canary',
        templateId: 'lt-0a',
        version: 1,
        cause: 'x',
        execution: 'e',
      });
      expect(await store.listQuarantines('web')).toEqual([]);
    });
  });

  describe('acquireLease', () => {
    it('grants up to maxConcurrent leases per fleet and refuses the next, saying why', async () => {
      const { store } = await freshStore();
      const first = await store.acquireLease(lease({ holder: 'a', maxConcurrent: 2 }));
      const second = await store.acquireLease(lease({ holder: 'b', maxConcurrent: 2 }));
      const third = await store.acquireLease(lease({ holder: 'c', maxConcurrent: 2 }));
      const otherFleet = await store.acquireLease(lease({ holder: 'd', fleet: 'api', maxConcurrent: 2 }));

      expect(first.granted && second.granted && otherFleet.granted).toBe(true);
      expect(third).toEqual({ granted: false, reason: expect.stringContaining('maxConcurrent 2') });
      expect(await store.listLeases('web')).toHaveLength(2);
    });

    it('gives a holder its own lease back when it asks again (a retried step)', async () => {
      const { store } = await freshStore();
      const first = await store.acquireLease(lease({ holder: 'a' }));
      const again = await store.acquireLease(lease({ holder: 'a' }));
      expect(first.granted && again.granted).toBe(true);
      expect(await store.listLeases('web')).toHaveLength(1);
    });

    it('frees a slot only when its holder releases it', async () => {
      const { store } = await freshStore();
      await store.acquireLease(lease({ holder: 'a' }));

      expect(await store.releaseLease('web', 'b')).toBe(0);
      expect((await store.acquireLease(lease({ holder: 'b' }))).granted).toBe(false);

      expect(await store.releaseLease('web', 'a')).toBe(1);
      expect((await store.acquireLease(lease({ holder: 'b' }))).granted).toBe(true);
    });

    it('lets a lease of a dead execution expire, and its late release not free the new holder', async () => {
      const { store, advance } = await freshStore();
      await store.acquireLease(lease({ holder: 'dead', ttlSeconds: 600 }));
      advance(601);

      expect((await store.acquireLease(lease({ holder: 'alive' }))).granted).toBe(true);
      expect(await store.releaseLease('web', 'dead')).toBe(0);
      expect((await store.listLeases('web')).map((l) => l.holder)).toEqual(['alive']);
    });

    it.each([
      { healthy: 4, desired: 4, minHealthyPercent: 75, disruption: 1, granted: true },
      { healthy: 3, desired: 4, minHealthyPercent: 75, disruption: 1, granted: false },
      { healthy: 3, desired: 4, minHealthyPercent: 75, disruption: 0, granted: true },
      { healthy: 2, desired: 4, minHealthyPercent: 75, disruption: 0, granted: false },
      { healthy: 1, desired: 1, minHealthyPercent: 100, disruption: 1, granted: false },
      { healthy: 1, desired: 1, minHealthyPercent: 100, disruption: 0, granted: true },
      { healthy: 0, desired: 0, minHealthyPercent: 90, disruption: 0, granted: true },
    ])(
      'healthy $healthy of $desired, floor $minHealthyPercent%, disruption $disruption → granted $granted',
      async ({ healthy, desired, minHealthyPercent, disruption, granted }) => {
        const { store } = await freshStore();
        const decision = await store.acquireLease(lease({ healthy, desired, minHealthyPercent, disruption }));
        expect(decision.granted).toBe(granted);
        if (!decision.granted) expect(decision.reason).toContain('floor');
      },
    );

    it("below the floor only while others' replacements are in flight: busy (it waits in the queue), not `floor`; alone: `floor`", async () => {
      const { store } = await freshStore();
      // A surge raised the desired capacity to 5; its new instance is not healthy yet.
      const surge = { maxConcurrent: 2, minHealthyPercent: 100, desired: 5, healthy: 4, disruption: 0 };
      expect(
        (
          await store.acquireLease(
            lease({ holder: 'a', desired: 4, healthy: 4, maxConcurrent: 2, minHealthyPercent: 100 }),
          )
        ).granted,
      ).toBe(true);
      for (const disruption of [0, 1]) {
        const busy = await store.acquireLease(lease({ ...surge, holder: 'b', disruption }));
        expect(busy).toMatchObject({
          granted: false,
          reason: expect.stringContaining('while 1 other replacement(s) are in flight'),
        });
        expect(busy).not.toHaveProperty('limit');
      }
      await store.releaseLease('web', 'a');
      expect(await store.acquireLease(lease({ ...surge, holder: 'b' }))).toMatchObject({
        granted: false,
        limit: 'floor',
      });
      expect(await store.listLeases('web')).toEqual([]);
    });

    it('shares the headroom above the floor between disruptive replacements', async () => {
      const { store } = await freshStore();
      // 10 desired, 80% → floor 8: two instances may be out at once.
      const ask = (holder: string) =>
        store.acquireLease(
          lease({ holder, maxConcurrent: 5, healthy: 10, desired: 10, minHealthyPercent: 80, disruption: 1 }),
        );
      expect((await ask('a')).granted).toBe(true);
      expect((await ask('b')).granted).toBe(true);
      const third = await ask('c');
      expect(third.granted).toBe(false);
      // The refused request gave back the concurrency slot it had taken.
      expect((await store.listLeases('web')).map((l) => l.holder).sort()).toEqual(['a', 'a', 'b', 'b']);
    });

    it('takes the group lock with the slot for a surge: a wave until it raises, then neither for another', async () => {
      const { store } = await freshStore();
      const groupLock = { group: 'web-asg', ttlSeconds: 600 };
      const first = await store.acquireLease(
        lease({ holder: 'a', instanceId: 'i-1', maxConcurrent: 3, groupLock }),
      );
      expect(first).toMatchObject({ granted: true, lease: { items: ['slot#0'], groupLocked: true } });
      expect(await store.getGroupLock('web-asg')).toMatchObject({
        holder: 'a',
        instanceId: 'i-1',
        wave: true,
      });

      // The wave has not raised: another surge of the group joins it, in its lease's transaction.
      const second = await store.acquireLease(
        lease({ holder: 'b', instanceId: 'i-2', maxConcurrent: 3, groupLock }),
      );
      expect(second).toMatchObject({ granted: true, lease: { items: ['slot#1'], groupLocked: true } });
      expect((await store.getGroupLock('web-asg'))?.members).toEqual(['a', 'b']);

      // A member closes the wave by recording its raise: a third is refused as a whole.
      const change = {
        mode: 'surge' as const,
        desiredBefore: 4,
        raisedTo: 6,
        instancesBefore: ['i-1', 'i-2'],
        wave: { members: ['a', 'b'], closedBy: 'b' },
      };
      expect(await store.recordGroupChange('web-asg', 'b', change)).toEqual({ outcome: 'recorded' });
      const third = await store.acquireLease(
        lease({ holder: 'c', instanceId: 'i-3', maxConcurrent: 3, groupLock }),
      );
      expect(third).toMatchObject({
        granted: false,
        reason: expect.stringContaining('web-asg is being changed by execution a (replacing i-1)'),
        groupHeldBy: { holder: 'a', members: ['a', 'b'] },
      });
      expect((await store.listLeases('web')).map((l) => l.holder).sort()).toEqual(['a', 'b']);

      // Held until its last member leaves.
      await store.releaseGroupLock('web-asg', 'a');
      expect(await store.acquireLease(lease({ holder: 'c', maxConcurrent: 3, groupLock }))).toMatchObject({
        granted: false,
        groupHeldBy: { members: ['b'] },
      });
      await store.releaseGroupLock('web-asg', 'b');
      expect(await store.getGroupLock('web-asg')).toBeUndefined();
      expect(await store.acquireLease(lease({ holder: 'c', maxConcurrent: 3, groupLock }))).toMatchObject({
        granted: true,
        lease: { items: ['slot#2'], groupLocked: true },
      });
      expect((await store.getGroupLock('web-asg'))?.members).toEqual(['c']);
    });

    it.each([
      { path: 'one transaction', disruption: 0 },
      { path: 'slot by slot', disruption: 1 },
    ])(
      'refuses while paused or the version is quarantined, taking nothing ($path)',
      async ({ disruption }) => {
        const { store } = await freshStore();
        const gate = { fleet: 'web', templateId: 'lt-0abc', version: 2 };
        const ask = () => store.acquireLease(lease({ holder: 'a', disruption, gate }));

        await store.setPaused(true, 'alice');
        expect(await ask()).toMatchObject({
          granted: false,
          reason: expect.stringContaining('remediation is paused (by alice'),
          gateClosed: { pause: { paused: true, by: 'alice' } },
        });
        await store.setPaused(false, 'alice');
        await store.quarantine({ ...gate, cause: 'unhealthy', execution: 'exec-9' });
        expect(await ask()).toMatchObject({
          granted: false,
          reason: expect.stringContaining('lt-0abc version 2 is quarantined for fleet web'),
          gateClosed: { quarantine: { execution: 'exec-9' } },
        });
        expect(await store.listLeases('web')).toEqual([]);

        await store.liftQuarantine('web', 'lt-0abc', 2);
        expect((await ask()).granted).toBe(true);
      },
    );

    it('gives a retried request its own slot back even when a lower slot has come free meanwhile', async () => {
      const { store } = await freshStore();
      await store.acquireLease(lease({ holder: 'a', maxConcurrent: 3 }));
      expect(await store.acquireLease(lease({ holder: 'b', maxConcurrent: 3 }))).toMatchObject({
        lease: { items: ['slot#1'] },
      });
      await store.releaseLease('web', 'a');
      // b's step is retried (its first answer was lost): it must not take slot#0 as well.
      expect(await store.acquireLease(lease({ holder: 'b', maxConcurrent: 3 }))).toMatchObject({
        granted: true,
        lease: { items: ['slot#1'] },
      });
      expect((await store.listLeases('web')).map((l) => `${l.holder}:${l.sk}`)).toEqual(['b:slot#1']);
    });

    it('renews what a retried disruptive request holds, and a refusal gives back only what it took', async () => {
      const { store, advance } = await freshStore();
      const disruptive = (holder: string, healthy = 10) =>
        lease({
          holder,
          maxConcurrent: 2,
          healthy,
          desired: 10,
          minHealthyPercent: 80,
          disruption: 1,
          ttlSeconds: 600,
        });
      expect((await store.acquireLease(disruptive('a'))).granted).toBe(true);
      advance(500);
      // Its step retried late: it keeps its slot and dip, renewed, for another 600 s.
      expect(await store.acquireLease(disruptive('a'))).toMatchObject({
        granted: true,
        lease: { items: ['dip#0', 'slot#0'] },
      });
      advance(200);
      expect((await store.listLeases('web')).map((l) => `${l.holder}:${l.sk}`).sort()).toEqual([
        'a:dip#0',
        'a:slot#0',
      ]);
      // Refused (the floor, measured lower now): a keeps what it had; b was given nothing.
      expect(
        (
          await store.acquireLease(
            lease({
              holder: 'a',
              instanceId: 'i-a',
              maxConcurrent: 2,
              healthy: 8,
              desired: 10,
              minHealthyPercent: 80,
              disruption: 2,
              ttlSeconds: 600,
            }),
          )
        ).granted,
      ).toBe(false);
      expect((await store.acquireLease(disruptive('b', 8))).granted).toBe(false);
      expect((await store.listLeases('web')).map((l) => `${l.holder}:${l.sk}`).sort()).toEqual([
        'a:dip#0',
        'a:slot#0',
      ]);
    });

    it('rejects nonsensical requests', async () => {
      const { store } = await freshStore();
      await expect(store.acquireLease(lease({ maxConcurrent: 0 }))).rejects.toBeInstanceOf(InvalidInputError);
      await expect(store.acquireLease(lease({ holder: '' }))).rejects.toBeInstanceOf(InvalidInputError);
      await expect(store.acquireLease(lease({ minHealthyPercent: 120 }))).rejects.toBeInstanceOf(
        InvalidInputError,
      );
    });

    it('never lets more than maxConcurrent holders in at once, whatever the interleaving', async () => {
      const { store } = await freshStore();
      let fleetNo = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 2, max: 7 }),
          async (max, contenders) => {
            fleetNo += 1;
            const fleet = `f${fleetNo}`;
            const decisions = await Promise.all(
              Array.from({ length: contenders }, (_, i) =>
                store.acquireLease(lease({ fleet, holder: `h${i}`, maxConcurrent: max })),
              ),
            );
            const granted = decisions.filter((d) => d.granted).length;
            expect(granted).toBe(Math.min(max, contenders));
            expect(await store.listLeases(fleet)).toHaveLength(granted);
          },
        ),
        { numRuns: 15 },
      );
    });
  });

  describe('instance claims (one replacement per instance)', () => {
    const claimOf = async (store: RemediationStore, instanceId: string) =>
      (await store.remediationGate({ fleet: 'web', templateId: 'lt-1', version: 1 }, instanceId))
        .instanceClaim;

    it.each([
      { path: 'one transaction', disruption: 0 },
      { path: 'slot by slot', disruption: 1 },
    ])(
      'claims the instance with the lease: another holder of the same instance is refused, told who has it, and holds nothing ($path)',
      async ({ disruption }) => {
        const { store } = await freshStore();
        const ask = (holder: string) =>
          store.acquireLease(lease({ holder, instanceId: 'i-x', maxConcurrent: 3, disruption }));
        expect((await ask('a')).granted).toBe(true);
        expect(await claimOf(store, 'i-x')).toMatchObject({ instanceId: 'i-x', holder: 'a' });

        expect(await ask('b')).toMatchObject({
          granted: false,
          reason: expect.stringContaining('instance i-x is being replaced by execution a'),
          instanceClaimedBy: { holder: 'a' },
        });
        expect((await store.listLeases('web')).map((l) => l.holder)).toEqual(
          disruption === 0 ? ['a'] : ['a', 'a'],
        );
        // Its own claim again (a retried step).
        expect((await ask('a')).granted).toBe(true);
      },
    );

    it('takes no claim when the lease is refused, on either path', async () => {
      const { store } = await freshStore();
      await store.acquireLease(lease({ holder: 'a', maxConcurrent: 1 }));
      expect((await store.acquireLease(lease({ holder: 'b', maxConcurrent: 1 }))).granted).toBe(false);
      expect(
        (await store.acquireLease(lease({ holder: 'c', healthy: 2, desired: 4, disruption: 1 }))).granted,
      ).toBe(false);
      expect(await claimOf(store, 'i-b')).toBeUndefined();
      expect(await claimOf(store, 'i-c')).toBeUndefined();
    });

    it('gives the claim back with the lease when nothing was replaced: another execution may replace the instance', async () => {
      const { store } = await freshStore();
      const granted = await store.acquireLease(lease({ holder: 'a', instanceId: 'i-x' }));
      if (!granted.granted) throw new Error('lease refused');

      await store.releaseAll({
        holder: 'a',
        fleet: 'web',
        items: granted.lease.items,
        instance: { id: 'i-x' },
      });

      expect(await claimOf(store, 'i-x')).toBeUndefined();
      expect((await store.acquireLease(lease({ holder: 'b', instanceId: 'i-x' }))).granted).toBe(true);
    });

    it('keeps the claim of a replaced instance for 48 hours, naming the replacement, then lets it go', async () => {
      const { store, advance } = await freshStore();
      const granted = await store.acquireLease(lease({ holder: 'a', instanceId: 'i-x' }));
      if (!granted.granted) throw new Error('lease refused');

      await store.releaseAll({
        holder: 'a',
        fleet: 'web',
        items: granted.lease.items,
        instance: { id: 'i-x', replacedBy: 'i-new' },
      });

      expect(await store.listLeases('web')).toEqual([]);
      expect(await store.acquireLease(lease({ holder: 'b', instanceId: 'i-x' }))).toMatchObject({
        granted: false,
        reason: expect.stringContaining('instance i-x was already replaced by i-new (execution a'),
        instanceClaimedBy: { holder: 'a', replacedBy: 'i-new' },
      });
      advance(REPLACED_CLAIM_TTL_SECONDS - 1);
      expect((await store.acquireLease(lease({ holder: 'b', instanceId: 'i-x' }))).granted).toBe(false);
      advance(2);
      expect((await store.acquireLease(lease({ holder: 'b', instanceId: 'i-x' }))).granted).toBe(true);
    });

    it("frees a dead holder's claim with its lease; its late release leaves the new holder's claim alone", async () => {
      const { store, advance } = await freshStore();
      await store.acquireLease(lease({ holder: 'dead', instanceId: 'i-x', ttlSeconds: 600 }));
      advance(601);
      expect((await store.acquireLease(lease({ holder: 'alive', instanceId: 'i-x' }))).granted).toBe(true);

      await store.releaseAll({ holder: 'dead', fleet: 'web', items: ['slot#0'], instance: { id: 'i-x' } });
      expect(await store.settleInstanceClaim('i-x', 'dead', 'i-late')).toBe(false);

      expect(await claimOf(store, 'i-x')).toMatchObject({ holder: 'alive' });
      expect((await store.listLeases('web')).map((l) => l.holder)).toEqual(['alive']);
    });

    it("records an instance replaced by an execution that holds no claim (started before claims existed), but never over another's", async () => {
      const { store } = await freshStore();
      expect(await store.settleInstanceClaim('i-old', 'exec-old', 'i-new')).toBe(true);
      expect(await claimOf(store, 'i-old')).toMatchObject({ holder: 'exec-old', replacedBy: 'i-new' });

      await store.acquireLease(lease({ holder: 'a', instanceId: 'i-x' }));
      expect(await store.settleInstanceClaim('i-x', 'b', 'i-other')).toBe(false);
      expect(await store.settleInstanceClaim('i-x', 'b')).toBe(false);
      expect(await claimOf(store, 'i-x')).toMatchObject({ holder: 'a' });
      expect((await claimOf(store, 'i-x'))?.replacedBy).toBeUndefined();
    });
  });

  describe('claimReplacement', () => {
    it('gives a new instance to the first execution that claims it, and again to that one only', async () => {
      const { store, advance } = await freshStore();
      expect(await store.claimReplacement('i-new', 'exec-a', 600)).toBe(true);
      expect(await store.claimReplacement('i-new', 'exec-b', 600)).toBe(false);
      expect(await store.claimReplacement('i-new', 'exec-a', 600)).toBe(true);
      advance(601);
      expect(await store.claimReplacement('i-new', 'exec-b', 600)).toBe(true);
    });
  });

  describe('claimReplacement with the group lock', () => {
    const lockOf = (holder: string) => ({
      purpose: 'surge' as const,
      group: 'web-asg',
      holder,
      instanceId: 'i-old',
      ttlSeconds: 600,
    });

    it('claims the instance and gives the group lock back in one step', async () => {
      const { store } = await freshStore();
      await store.acquireGroupLock(lockOf('exec-a'));
      expect(await store.claimReplacement('i-new', 'exec-a', 600, { releaseGroupLock: 'web-asg' })).toBe(
        true,
      );
      expect(await store.getGroupLock('web-asg')).toBeUndefined();
    });

    it("keeps the lock when the instance is someone else's, and still claims when the lock has moved on", async () => {
      const { store, advance } = await freshStore();
      await store.claimReplacement('i-theirs', 'exec-b', 6000);
      await store.acquireGroupLock(lockOf('exec-a'));
      expect(await store.claimReplacement('i-theirs', 'exec-a', 600, { releaseGroupLock: 'web-asg' })).toBe(
        false,
      );
      expect(await store.getGroupLock('web-asg')).toMatchObject({ holder: 'exec-a' });

      advance(601);
      await store.acquireGroupLock(lockOf('exec-c'));
      expect(await store.claimReplacement('i-mine', 'exec-a', 600, { releaseGroupLock: 'web-asg' })).toBe(
        true,
      );
      expect(await store.getGroupLock('web-asg')).toMatchObject({ holder: 'exec-c' });
    });
  });

  describe('releaseAll', () => {
    it('releases the lease items and the group lock together', async () => {
      const { store } = await freshStore();
      const granted = await store.acquireLease(
        lease({ holder: 'a', groupLock: { group: 'web-asg', ttlSeconds: 600 } }),
      );
      if (!granted.granted) throw new Error('lease refused');
      expect(
        await store.releaseAll({ holder: 'a', fleet: 'web', items: granted.lease.items, group: 'web-asg' }),
      ).toBe(1);
      expect(await store.listLeases('web')).toEqual([]);
      expect(await store.getGroupLock('web-asg')).toBeUndefined();
      // Twice is fine.
      expect(
        await store.releaseAll({ holder: 'a', fleet: 'web', items: granted.lease.items, group: 'web-asg' }),
      ).toBe(0);
    });

    it('leaves alone what expired and now belongs to another execution, and releases the rest', async () => {
      const { store, advance } = await freshStore();
      await store.acquireLease(lease({ holder: 'dead', ttlSeconds: 600 }));
      await store.acquireGroupLock({
        purpose: 'surge',
        group: 'web-asg',
        holder: 'dead',
        instanceId: 'i-1',
        ttlSeconds: 6000,
      });
      advance(601);
      await store.acquireLease(lease({ holder: 'alive' }));

      expect(
        await store.releaseAll({ holder: 'dead', fleet: 'web', items: ['slot#0'], group: 'web-asg' }),
      ).toBe(0);
      expect((await store.listLeases('web')).map((l) => l.holder)).toEqual(['alive']);
      expect(await store.getGroupLock('web-asg')).toBeUndefined();
    });
  });

  describe('attempt generations', () => {
    const FP = 'v1-0123456789abcdef01234567';

    it('start at 0 and move on once per ended attempt, whatever the retries of the step that moves them', async () => {
      const { store } = await freshStore();
      expect(await store.attemptOf('i-1', FP)).toBe(0);
      expect(await store.nextAttempt('i-1', FP, 0)).toBe(1);
      expect(await store.nextAttempt('i-1', FP, 0)).toBe(1);
      expect(await store.attemptOf('i-1', FP)).toBe(1);
      expect(await store.nextAttempt('i-1', FP, 1)).toBe(2);
      expect(await store.attemptOf('i-1', FP)).toBe(2);
    });

    it('are kept per instance and fingerprint', async () => {
      const { store } = await freshStore();
      await store.nextAttempt('i-1', FP, 0);
      expect(await store.attemptOf('i-1', 'v1-ffffffffffffffffffffffff')).toBe(0);
      expect(await store.attemptOf('i-2', FP)).toBe(0);
    });

    it('outlive the 90 days Step Functions refuses an ended name, then start over', async () => {
      const { store, advance } = await freshStore();
      await store.nextAttempt('i-1', FP, 0);
      advance(ATTEMPT_TTL_SECONDS - 1);
      expect(ATTEMPT_TTL_SECONDS).toBeGreaterThan(90 * 24 * 3600);
      expect(await store.attemptOf('i-1', FP)).toBe(1);
      advance(2);
      expect(await store.attemptOf('i-1', FP)).toBe(0);
    });

    it('carries a hold with the next attempt until it runs out', async () => {
      const { store, advance } = await freshStore();
      const until = new Date('2025-03-04T10:00:00Z');
      await store.nextAttempt('i-1', FP, 0, ATTEMPT_TTL_SECONDS, { until, why: 'raise MaxSize by one' });
      expect(await store.driftAttempt('i-1', FP)).toEqual({
        attempt: 1,
        held: { until: until.toISOString(), why: 'raise MaxSize by one' },
      });
      advance(24 * 3600 + 1);
      expect(await store.driftAttempt('i-1', FP)).toEqual({ attempt: 1 });
    });

    it('rejects an attempt without an instance or a fingerprint, or a negative attempt', async () => {
      const { store } = await freshStore();
      await expect(store.attemptOf('', FP)).rejects.toThrow(InvalidInputError);
      await expect(store.nextAttempt('i-1', '', 0)).rejects.toThrow(InvalidInputError);
      await expect(store.nextAttempt('i-1', FP, -1)).rejects.toThrow(InvalidInputError);
    });
  });

  describe('group locks', () => {
    const lockOf = (holder: string, instanceId = 'i-old', purpose: 'surge' | 'retire' = 'surge') => ({
      purpose,
      group: 'web-asg',
      holder,
      instanceId,
      ttlSeconds: 600,
    });
    const surge = { mode: 'surge' as const, desiredBefore: 4, raisedTo: 5, instancesBefore: ['i-1', 'i-2'] };

    it('lets one execution change a group at a time, and tells the others who has it', async () => {
      const { store } = await freshStore();
      expect(await store.acquireGroupLock(lockOf('exec-a', 'i-1'))).toMatchObject({
        acquired: true,
        reentered: false,
        lock: { group: 'web-asg', holder: 'exec-a', instanceId: 'i-1' },
      });
      expect(await store.acquireGroupLock(lockOf('exec-b', 'i-2'))).toMatchObject({
        acquired: false,
        heldBy: { holder: 'exec-a', instanceId: 'i-1' },
      });
      expect(await store.releaseGroupLock('web-asg', 'exec-b')).toBe(false);
      expect(await store.releaseGroupLock('web-asg', 'exec-a')).toBe(true);
      expect(await store.acquireGroupLock(lockOf('exec-b', 'i-2'))).toMatchObject({ acquired: true });
    });

    it('gives the holder its lock back with the change it recorded (a retried step, a rollback)', async () => {
      const { store } = await freshStore();
      await store.acquireGroupLock(lockOf('exec-a'));
      expect(await store.recordGroupChange('web-asg', 'exec-a', surge)).toEqual({ outcome: 'recorded' });
      expect(await store.acquireGroupLock(lockOf('exec-a'))).toMatchObject({
        acquired: true,
        reentered: true,
        lock: { holder: 'exec-a', change: surge },
      });
      // A retried step gets the first record back instead of overwriting it.
      expect(
        await store.recordGroupChange('web-asg', 'exec-a', { ...surge, desiredBefore: 5, raisedTo: 6 }),
      ).toMatchObject({
        outcome: 'already-recorded',
        change: surge,
        lock: { holder: 'exec-a', change: surge },
      });
      expect(await store.recordGroupChange('web-asg', 'exec-b', surge)).toEqual({ outcome: 'not-held' });
      expect((await store.getGroupLock('web-asg'))?.change).toEqual(surge);
    });

    it('frees the lock of a dead holder once it expires, and its late record or release changes nothing', async () => {
      const { store, advance } = await freshStore();
      await store.acquireGroupLock(lockOf('exec-dead'));
      advance(601);
      expect(await store.getGroupLock('web-asg')).toBeUndefined();
      expect(await store.acquireGroupLock(lockOf('exec-b'))).toMatchObject({ acquired: true });
      expect(await store.recordGroupChange('web-asg', 'exec-dead', surge)).toEqual({ outcome: 'not-held' });
      expect(await store.releaseGroupLock('web-asg', 'exec-dead')).toBe(false);
      expect(await store.getGroupLock('web-asg')).toMatchObject({ holder: 'exec-b' });
      expect((await store.getGroupLock('web-asg'))?.change).toBeUndefined();
    });

    it('keeps locks of different groups apart', async () => {
      const { store } = await freshStore();
      expect(await store.acquireGroupLock(lockOf('exec-a'))).toMatchObject({ acquired: true });
      expect(await store.acquireGroupLock({ ...lockOf('exec-b'), group: 'web-asg-canary' })).toMatchObject({
        acquired: true,
      });
    });

    it('grants exactly one of many simultaneous requests', async () => {
      const { store } = await freshStore();
      const decisions = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.acquireGroupLock(lockOf(`exec-${i}`, `i-${i}`))),
      );
      expect(decisions.filter((d) => d.acquired)).toHaveLength(1);
    });

    it('lets retirements go first: one refused holds every surge off the lock, lease or not, until it has had it, or its wait lapses', async () => {
      const { store, advance } = await freshStore();
      await store.acquireGroupLock(lockOf('exec-a'));
      // A replacement done with its surge waits to hand its old member back.
      expect(await store.acquireGroupLock(lockOf('exec-r', 'i-r', 'retire'))).toMatchObject({
        acquired: false,
        heldBy: { holder: 'exec-a' },
      });
      await store.releaseGroupLock('web-asg', 'exec-a');
      // The lock is free, yet no new surge takes it: not alone, not with a lease (either path).
      expect(await store.acquireGroupLock(lockOf('exec-s', 'i-s'))).toMatchObject({
        acquired: false,
        retirersFirst: 1,
      });
      const surgeLease = (disruption: number) =>
        lease({
          holder: 'exec-s',
          maxConcurrent: 2,
          disruption,
          groupLock: { group: 'web-asg', ttlSeconds: 600 },
        });
      for (const disruption of [0, 1]) {
        const refused = await store.acquireLease(surgeLease(disruption));
        expect(refused).toMatchObject({
          granted: false,
          reason: expect.stringContaining('wait to hand their old member back first'),
          groupHeldBy: { group: 'web-asg' },
        });
        expect(await store.listLeases('web')).toEqual([]);
      }
      // The retirement has it, gives it back: surges go again.
      expect(await store.acquireGroupLock(lockOf('exec-r', 'i-r', 'retire'))).toMatchObject({
        acquired: true,
      });
      await store.releaseGroupLock('web-asg', 'exec-r');
      expect(await store.acquireLease(surgeLease(0))).toMatchObject({ granted: true });
      // One that ends without the lock (its rollback ran out of retries) is forgotten at its end.
      expect(await store.acquireGroupLock(lockOf('exec-gone', 'i-g', 'retire'))).toMatchObject({
        acquired: false,
      });
      await store.forgetRetirer('web-asg', 'exec-gone');
      await store.releaseAll({
        holder: 'exec-s',
        fleet: 'web',
        items: ['slot#0'],
        group: 'web-asg',
        instance: { id: 'i-exec-s' },
      });
      expect(await store.acquireGroupLock(lockOf('exec-t', 'i-t'))).toMatchObject({ acquired: true });
      // One that dies waiting (stopped by a human) holds surges off for five minutes at most.
      expect(await store.acquireGroupLock(lockOf('exec-dead', 'i-d', 'retire'))).toMatchObject({
        acquired: false,
      });
      await store.releaseGroupLock('web-asg', 'exec-t');
      expect(await store.acquireGroupLock(lockOf('exec-u', 'i-u'))).toMatchObject({ retirersFirst: 1 });
      advance(RETIRER_WAIT_SECONDS + 1);
      expect(await store.acquireGroupLock(lockOf('exec-u', 'i-u'))).toMatchObject({ acquired: true });
    });

    it('rejects a lock without a group or a holder', async () => {
      const { store } = await freshStore();
      await expect(store.acquireGroupLock({ ...lockOf('exec-a'), group: '' })).rejects.toThrow(
        InvalidInputError,
      );
      await expect(store.acquireGroupLock(lockOf(''))).rejects.toThrow(InvalidInputError);
    });
  });

  it.each([
    { desired: 10, percent: 90, floor: 9 },
    { desired: 3, percent: 90, floor: 3 },
    { desired: 3, percent: 50, floor: 2 },
    { desired: 5, percent: 0, floor: 0 },
  ])('healthyFloor($desired, $percent) = $floor', ({ desired, percent, floor }) => {
    expect(healthyFloor(desired, percent)).toBe(floor);
  });
});
