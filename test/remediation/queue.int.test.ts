/**
 * The fleet's queue (docs/adr/0032-a-queue-not-a-poll.md) over the emulated account's state
 * table: parking, the granter's order (oldest launch time first, spread across zones), and the
 * hostile cases: two granters at once, a waiter whose execution is gone, a granter that dies
 * between writing a grant and sending it, a refusal for good, a silent local waiter. The
 * tokens are answered by a recording double of Step Functions' task API (the one part the
 * emulator has no callback tasks for); the lease itself is the real store's transaction.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStateTable } from '../../emulator/table';
import { describeInstances, resolveLaunchTemplate } from '../../functions/aws/inventory';
import { RemediationStore, type Waiter } from '../../functions/aws/remediation-store';
import type { Delivery, TaskCallbacks } from '../../functions/aws/task-callbacks';
import { evaluateDrift } from '../../functions/domain/drift/engine';
import type { MachineData } from '../../functions/remediation/input';
import {
  acquireLease,
  admit,
  type LeaseResult,
  nextZone,
  type QueueEntry,
  releaseLease,
  type StepDeps,
  sweepQueues,
} from '../../functions/remediation/steps';
import { testClientConfig } from '../helpers/emulator';
import { FakeAccount, fakeDeps, NOW, STATE } from './steps/fakes';
import { API_LT, input, standalonePlan } from './steps/state';

const TABLE = 'phoenix-queue';

/** Step Functions' task API as the queue sees it: every answer recorded, some tokens gone. */
class RecordingCallbacks implements TaskCallbacks {
  readonly answers: Array<{ token: string; ok: boolean; output?: unknown; error?: string; cause?: string }> =
    [];
  readonly heartbeats: string[] = [];
  readonly gone = new Set<string>();
  /** Tokens whose SendTaskSuccess dies with the granter (a crash between the write and the send). */
  readonly crashOn = new Set<string>();
  /** Tokens of another process (a local run's): sent, not delivered; that process reads its waiter. */
  readonly elsewhere = new Set<string>();

  async succeed(token: string, output: unknown): Promise<Delivery> {
    if (this.crashOn.delete(token)) throw new Error('the granter died here');
    if (this.gone.has(token)) return 'gone';
    if (this.elsewhere.has(token)) return 'elsewhere';
    this.answers.push({ token, ok: true, output });
    return 'delivered';
  }

  async fail(token: string, error: string, cause: string): Promise<Delivery> {
    if (this.gone.has(token)) return 'gone';
    this.answers.push({ token, ok: false, error, cause });
    return 'delivered';
  }

  async heartbeat(token: string): Promise<Delivery> {
    this.heartbeats.push(token);
    return this.gone.has(token) ? 'gone' : 'delivered';
  }

  granted(): string[] {
    return this.answers.filter((a) => a.ok).map((a) => a.token);
  }
}

let fleetCount = 0;
let drift: Pick<MachineData, 'fingerprint' | 'reasons'>;

/** A fresh tag fleet `api` in its own table partition space (each test its own fleet name via the state table prefix). */
async function world(options: { members: number; now?: () => Date } = { members: 6 }) {
  fleetCount += 1;
  const table = `${TABLE}-${fleetCount}`;
  await createStateTable(new DynamoDBClient(testClientConfig()), table);
  const account = new FakeAccount();
  account.addTemplate({ id: API_LT, name: 'api-lt', version: 2, imageId: 'ami-new' });
  for (let i = 0; i < options.members; i += 1) {
    account.addInstance({
      id: instance(i),
      state: 'running',
      tags: { App: 'api', 'aws:ec2launchtemplate:id': API_LT, 'aws:ec2launchtemplate:version': '1' },
      imageId: 'ami-old',
    });
  }
  placeOf = (i, az, launchedAt) => {
    const found = account.instances.get(instance(i));
    if (found !== undefined) Object.assign(found, { availabilityZone: az, launchTime: launchedAt });
  };
  let now = NOW;
  const clock = options.now ?? (() => now);
  // What the evaluator would have started each execution with: the members' actual drift.
  const [facts] = await describeInstances(account.ec2 as never, [instance(0)]);
  const fleet = STATE.fleets.find((f) => f.name === 'api');
  if (facts === undefined || fleet === undefined) throw new Error('the fixture has no api member');
  const verdict = evaluateDrift({
    instance: facts,
    fleet,
    template: await resolveLaunchTemplate(account.ec2 as never, fleet.launchTemplate),
    now: NOW,
  });
  if (verdict.status !== 'drifted') throw new Error(`the fixture's members are ${verdict.status}`);
  drift = { fingerprint: verdict.fingerprint, reasons: verdict.reasons };
  const callbacks = new RecordingCallbacks();
  const process = () => {
    const store = new RemediationStore(new DynamoDBClient(testClientConfig()), table, clock);
    const deps: StepDeps = { ...fakeDeps(account, store as never), store, callbacks, clock };
    return deps;
  };
  return {
    deps: process(),
    process,
    callbacks,
    store: new RemediationStore(new DynamoDBClient(testClientConfig()), table, clock),
    advance(ms: number) {
      now = new Date(now.getTime() + ms);
    },
  };
}

const instance = (i: number) => `i-${String(i).padStart(17, '0')}`;
const holder = (i: number) =>
  `arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:run-${i}`;

/** Where each member is, as EC2 describes it (set by {@link enter}). */
let placeOf: (i: number, az: string, launchedAt: string) => void = () => {};

/** The lease step's state for member `i`: launched `launchedAt`, in `az`. */
function member(i: number, az: string, launchedAt: string): MachineData {
  if (launchedAt !== '') placeOf(i, az, launchedAt);
  return {
    ...input('api', instance(i)),
    ...drift,
    plan: standalonePlan(),
    recheck: {
      decision: 'proceed',
      reason: 'drifted',
      detail: 'drifted',
      notify: false,
      timings: input('api').timings as never,
      checkedAt: '2025-06-15T11:00:00.000Z',
      snapshot: {
        instance: {
          launchedFromTemplate: true,
          subnetId: 'subnet-1',
          availabilityZone: az,
          launchTime: launchedAt,
        },
      },
    },
  } as MachineData;
}

const token = (i: number) => `token-${i}`;
const ctx = (i: number) => ({ executionId: holder(i), taskToken: token(i) });

async function enter(deps: StepDeps, i: number, az: string, launchedAt: string): Promise<QueueEntry> {
  return (await acquireLease(deps, member(i, az, launchedAt), ctx(i))) as QueueEntry;
}

async function waiters(store: RemediationStore): Promise<Waiter[]> {
  const zones = await store.queueZones('api');
  return (await Promise.all(zones.map((zone) => store.listWaiters('api', zone)))).flat();
}

async function slots(store: RemediationStore) {
  return (await store.listLeases('api')).filter((l) => l.sk.startsWith('slot#'));
}

beforeAll(async () => {
  await createStateTable(new DynamoDBClient(testClientConfig()), TABLE);
});

describe('the fleet queue', () => {
  it('grants at once while the budget has room (the token answered, nothing parked), and parks the rest without a lease', async () => {
    const w = await world({ members: 6 });
    const first = await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    const second = await enter(w.deps, 1, 'us-east-1b', '2025-01-02T00:00:00.000Z');
    const third = await enter(w.deps, 2, 'us-east-1a', '2025-01-03T00:00:00.000Z');

    expect(first.queue).toBe('granted');
    expect(second.queue).toBe('granted');
    expect(third).toMatchObject({ queue: 'parked', reason: expect.stringContaining('maxConcurrent 2') });
    expect(w.callbacks.granted()).toEqual([token(0), token(1)]);
    expect((await slots(w.store)).map((s) => s.holder).sort()).toEqual([holder(0), holder(1)].sort());
    expect((await waiters(w.store)).map((x) => x.instanceId)).toEqual([instance(2)]);
  });

  it('hands a released slot to the next waiter: oldest launch time first, then the zone with fewest in flight', async () => {
    const w = await world({ members: 8 });
    // Two in flight, both in zone a.
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    // Waiters: zone a holds the oldest instance of all; zone b's are younger.
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1a', '2025-01-05T00:00:00.000Z');
    await enter(w.deps, 4, 'us-east-1b', '2025-01-04T00:00:00.000Z');
    await enter(w.deps, 5, 'us-east-1b', '2025-01-03T00:00:00.000Z');
    expect(w.callbacks.granted()).toEqual([token(0), token(1)]);

    // A release in zone a: zone a still has one in flight, zone b none: b's oldest goes next,
    // although a's head is older (the spread across zones comes first).
    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });
    expect(w.callbacks.granted().at(-1)).toBe(token(5));
    // Now a and b have one each: the older head of the two zones (a's, launched 01-02) goes.
    await releaseLease(w.deps, member(1, 'us-east-1a', ''), { executionId: holder(1) });
    expect(w.callbacks.granted().at(-1)).toBe(token(2));
    const grant = w.callbacks.answers.at(-1)?.output as LeaseResult;
    expect(grant.queue).toMatchObject({ az: 'us-east-1a', launchTime: '2025-01-02T00:00:00.000Z' });
    expect(grant.holder).toBe(holder(2));
    expect((await waiters(w.store)).map((x) => x.instanceId).sort()).toEqual([instance(3), instance(4)]);
    expect(await slots(w.store)).toHaveLength(2);
  });

  it('never overspends with five granters at once: two free slots, two grants, each waiter answered once', async () => {
    const w = await world({ members: 10 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1b', '2025-01-01T00:00:00.000Z');
    for (let i = 2; i < 8; i += 1)
      await enter(w.deps, i, i % 2 === 0 ? 'us-east-1a' : 'us-east-1b', `2025-01-0${i}T00:00:00.000Z`);
    // Both holders' leases go, behind the queue's back (their TTL ran out, say)...
    await w.store.releaseLease('api', holder(0));
    await w.store.releaseLease('api', holder(1));
    // ...and five processes admit at the same moment.
    const reports = await Promise.all([1, 2, 3, 4, 5].map(() => admit(w.process() as never, 'api')));

    const granted = reports.flatMap((r) => r.granted.map((g) => g.instanceId));
    expect(new Set(granted).size).toBe(granted.length);
    expect(granted).toHaveLength(2);
    expect(w.callbacks.granted()).toHaveLength(4);
    expect(new Set(w.callbacks.granted()).size).toBe(4);
    expect(await slots(w.store)).toHaveLength(2);
    expect(await waiters(w.store)).toHaveLength(4);
  });

  it('gives the slot of a waiter whose execution is gone to the next one, in the same pass', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1a', '2025-01-03T00:00:00.000Z');
    w.callbacks.gone.add(token(2)); // stopped by a human while it waited

    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });

    expect(w.callbacks.granted()).toEqual([token(0), token(1), token(3)]);
    expect((await slots(w.store)).map((s) => s.holder).sort()).toEqual([holder(1), holder(3)].sort());
    expect(await waiters(w.store)).toEqual([]);
  });

  it("leaves a grant sent to another process's token on its waiter, marked sent, for that process to take", async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    w.callbacks.elsewhere.add(token(2)); // parked by a second `phoenix reconcile`

    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });

    const [left] = await waiters(w.store);
    expect(left).toMatchObject({ instanceId: instance(2), sentAt: NOW.toISOString() });
    expect(JSON.parse(left?.granted ?? '{}')).toMatchObject({ holder: holder(2) });
    expect((await slots(w.store)).map((s) => s.holder).sort()).toEqual([holder(1), holder(2)].sort());
  });

  it('recovers a grant whose granter died between writing it and sending it: the sweep sends it, once', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    w.callbacks.crashOn.add(token(2));

    // The release itself is done; the granter's death is the next release's or the sweep's to mend.
    await expect(
      releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) }),
    ).resolves.toEqual({
      released: 1,
    });
    // The grant is durable: the slot is the waiter's, the answer written on it, not yet sent.
    const [written] = await waiters(w.store);
    expect(written?.granted).toBeDefined();
    expect((await slots(w.store)).map((s) => s.holder).sort()).toEqual([holder(1), holder(2)].sort());

    // A sweep right away leaves it to the granter; a minute later it sends it.
    await sweepQueues(w.deps);
    expect(w.callbacks.granted()).not.toContain(token(2));
    w.advance(61_000);
    const report = await sweepQueues(w.deps);
    expect(report.resent).toBe(1);
    expect(w.callbacks.granted().filter((t) => t === token(2))).toHaveLength(1);
    expect(await waiters(w.store)).toEqual([]);
    await sweepQueues(w.deps);
    expect(w.callbacks.granted().filter((t) => t === token(2))).toHaveLength(1);
  });

  it('rechecks a waiter before granting it: taken over meanwhile by another process, its task fails as no longer wanted, and the next is served', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1a', '2025-01-03T00:00:00.000Z');
    // Another process's execution takes instance 2 over while it waits (a second reconcile).
    await w.store.acquireLease({
      fleet: 'api-other',
      holder: 'someone-else',
      instanceId: instance(2),
      maxConcurrent: 1,
      minHealthyPercent: 0,
      healthy: 1,
      desired: 1,
      disruption: 0,
      ttlSeconds: 600,
    });

    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });

    const refused = w.callbacks.answers.find((a) => a.token === token(2));
    expect(refused).toMatchObject({ ok: false, error: 'NoLongerWantedError' });
    expect(JSON.parse(refused?.cause ?? '{}')).toMatchObject({
      reason: 'in-flight-elsewhere',
      notify: false,
    });
    expect((await slots(w.store)).map((s) => s.holder)).not.toContain(holder(2));
    expect(w.callbacks.granted().at(-1)).toBe(token(3));
    expect(await waiters(w.store)).toEqual([]);
  });

  it('heartbeats waiters silent for half an hour, forgets those whose execution is gone and local waiters silent for five minutes', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1b', '2025-01-03T00:00:00.000Z');
    await acquireLease(w.deps, member(4, 'us-east-1b', '2025-01-04T00:00:00.000Z'), {
      executionId: holder(4),
      taskToken: 'local:some-reconcile:1',
    });
    w.callbacks.gone.add(token(3));

    w.advance(10 * 60_000);
    let report = await sweepQueues(w.deps);
    expect(report.heartbeats).toBe(0);
    expect(report.forgotten).toBe(1); // the silent local waiter
    w.advance(25 * 60_000);
    report = await sweepQueues(w.deps);
    expect(w.callbacks.heartbeats.sort()).toEqual([token(2), token(3)]);
    expect(report.forgotten).toBe(1); // the stopped one
    expect((await waiters(w.store)).map((x) => x.instanceId)).toEqual([instance(2)]);
    // Just heartbeaten: not again at the next sweep.
    w.advance(5 * 60_000);
    await sweepQueues(w.deps);
    expect(w.callbacks.heartbeats).toHaveLength(2);
  });

  it('parks again in the same place, with the new token, when a lapsed heartbeat re-enters the lease step', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1a', '2025-01-03T00:00:00.000Z');
    await acquireLease(w.deps, member(2, 'us-east-1a', '2025-01-02T00:00:00.000Z'), {
      executionId: holder(2),
      taskToken: 'token-2-again',
    });
    const queue = await waiters(w.store);
    expect(queue.map((x) => [x.instanceId, x.token])).toEqual([
      [instance(2), 'token-2-again'],
      [instance(3), token(3)],
    ]);
    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });
    expect(w.callbacks.granted().at(-1)).toBe('token-2-again');
  });

  it('never lets a second execution for an instance already waiting take its place: it stands down naming the waiting one, whose token and count stay', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    // Another run saw the same drift and reaches the lease step for the same instance.
    const other = 'arn:aws:states:us-east-1:123456789012:execution:phoenix-remediate-instance:other-run';
    await expect(
      acquireLease(w.deps, member(2, 'us-east-1a', '2025-01-02T00:00:00.000Z'), {
        executionId: other,
        taskToken: 'token-other',
      }),
    ).rejects.toMatchObject({
      name: 'ReplacingElsewhereError',
      message: expect.stringContaining(`to be replaced by execution ${holder(2)}`),
    });
    expect((await waiters(w.store)).map((x) => [x.instanceId, x.holder, x.token])).toEqual([
      [instance(2), holder(2), token(2)],
    ]);
    expect((await w.store.queueState('api')).waiting).toBe(1);
    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });
    expect(w.callbacks.granted().at(-1)).toBe(token(2));
    expect((await slots(w.store)).map((s) => s.holder)).not.toContain(other);
  });

  it('a granter that read a waiter before another answered it takes nothing for it, on the one-transaction path and the slow one', async () => {
    const w = await world({ members: 6 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    const [stale] = await waiters(w.store);
    if (stale === undefined) throw new Error('nothing parked');
    // Another granter answers it, and its execution runs and gives its lease back...
    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });
    expect(w.callbacks.granted().at(-1)).toBe(token(2));
    await releaseLease(w.deps, member(2, 'us-east-1a', ''), { executionId: holder(2) });
    expect((await slots(w.store)).map((s) => s.holder)).toEqual([holder(1)]);
    // ...then the slow granter, done rechecking, asks for the lease it read the waiter for.
    const request = {
      fleet: 'api',
      holder: holder(2),
      instanceId: instance(2),
      az: 'us-east-1a',
      maxConcurrent: 2,
      minHealthyPercent: 0,
      healthy: 6,
      desired: 6,
      ttlSeconds: 600,
      waiter: stale,
    };
    for (const disruption of [0, 1]) {
      const decision = await w.store.acquireLease({ ...request, disruption });
      expect(decision).toMatchObject({ granted: false, answered: true });
      expect((await w.store.listLeases('api')).map((s) => s.holder)).toEqual([holder(1)]);
    }
    // A waiter still waiting is granted as before.
    await enter(w.deps, 3, 'us-east-1a', '2025-01-03T00:00:00.000Z');
    expect(w.callbacks.granted().at(-1)).toBe(token(3));
  });

  it('admits one at a time per fleet: five admissions at once serve the zones as one would, none lost while another holds the fleet', async () => {
    const w = await world({ members: 8 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1b', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1a', '2025-01-03T00:00:00.000Z');
    await enter(w.deps, 4, 'us-east-1b', '2025-01-04T00:00:00.000Z');
    // Both slots freed behind the queue's back; five processes admit at the same moment.
    await w.store.releaseLease('api', holder(0));
    await w.store.releaseLease('api', holder(1));
    await Promise.all([1, 2, 3, 4, 5].map(() => admit(w.process() as never, 'api')));
    // One admission's order: a's oldest (the older head), then b's (a has one in flight now),
    // never a's two (each of two admissions reading zero in flight in both zones).
    expect((await slots(w.store)).map((s) => s.holder).sort()).toEqual([holder(2), holder(4)].sort());

    // An admission held by another: it asks that one to pass again, and nothing is lost.
    await w.store.releaseLease('api', holder(2));
    expect(await w.store.takeGranter('api', 'another-admission', 60)).toBe(true);
    const asked = await admit(w.deps as never, 'api');
    expect(asked).toMatchObject({ granted: [], waiting: expect.stringContaining('passes again') });
    expect(await w.store.leaveGranter('api', 'another-admission')).toBe('again');
    expect(await w.store.leaveGranter('api', 'another-admission')).toBe('left');
    // A holder that died is waited for a minute at most.
    expect(await w.store.takeGranter('api', 'dead-admission', 60)).toBe(true);
    expect((await admit(w.deps as never, 'api')).granted).toEqual([]);
    w.advance(61_000);
    expect((await admit(w.deps as never, 'api')).granted.map((g) => g.instanceId)).toEqual([instance(3)]);
  });

  it("answers first a waiter whose lease was taken and never answered (its granter died between the two), whatever the zones' order", async () => {
    const w = await world({ members: 8 });
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1b', '2025-01-03T00:00:00.000Z');
    // A granter frees holder 0's slot, takes it for waiter 2, and dies before answering it.
    await w.store.releaseLease('api', holder(0));
    const taken = await w.store.acquireLease({
      fleet: 'api',
      holder: holder(2),
      instanceId: instance(2),
      az: 'us-east-1a',
      maxConcurrent: 2,
      minHealthyPercent: 0,
      healthy: 8,
      desired: 8,
      disruption: 0,
      ttlSeconds: 600,
    });
    expect(taken.granted).toBe(true);
    // Zone b has none in flight, so its head would go next; the budget is full, so nothing
    // would be granted, and waiter 2 would hold its slot unanswered for good.
    const report = await admit(w.deps as never, 'api');

    expect(report.granted.map((g) => g.instanceId)).toEqual([instance(2)]);
    expect(w.callbacks.granted().at(-1)).toBe(token(2));
    expect((await slots(w.store)).map((s) => s.holder).sort()).toEqual([holder(1), holder(2)].sort());
    expect((await waiters(w.store)).map((x) => x.instanceId)).toEqual([instance(3)]);
  });
});

describe("EC2's launch tokens, as Phoenix counts them (docs/adr/0034-waves.md)", () => {
  it('starts full, takes each launch off, refills at 2 a second up to the burst, and the granter grants no more than it allows', async () => {
    const w = await world({ members: 6 });
    expect(await w.store.launchTokens()).toBe(1000);
    await w.store.spendLaunchTokens(999);
    expect(await w.store.launchTokens()).toBe(1);
    w.advance(500);
    expect(await w.store.launchTokens()).toBe(2);
    w.advance(3_600_000);
    expect(await w.store.launchTokens()).toBe(1000);
    // A wave's raise takes its launches off with its record, in one request; refused, nothing.
    await w.store.acquireGroupLock({
      purpose: 'surge',
      wave: true,
      group: 'api-asg',
      holder: holder(9),
      instanceId: instance(9),
      ttlSeconds: 600,
    });
    const raise = {
      mode: 'surge' as const,
      desiredBefore: 4,
      raisedTo: 7,
      instancesBefore: [],
      wave: { members: [holder(9)], closedBy: holder(9) },
    };
    expect(await w.store.recordGroupChange('api-asg', holder(9), raise, { launches: 3 })).toEqual({
      outcome: 'recorded',
    });
    expect(await w.store.launchTokens()).toBe(997);
    expect(await w.store.recordGroupChange('api-asg', holder(9), raise, { launches: 3 })).toMatchObject({
      outcome: 'already-recorded',
    });
    expect(await w.store.launchTokens()).toBe(997);
    w.advance(3_600_000);

    // Each grant is taken off, the newcomer's own included.
    await enter(w.deps, 0, 'us-east-1a', '2025-01-01T00:00:00.000Z');
    await enter(w.deps, 1, 'us-east-1a', '2025-01-01T00:00:01.000Z');
    expect(await w.store.launchTokens()).toBe(998);
    await enter(w.deps, 2, 'us-east-1a', '2025-01-02T00:00:00.000Z');
    await enter(w.deps, 3, 'us-east-1b', '2025-01-03T00:00:00.000Z');
    // Someone else's launches (as counted): one token left. Two slots come free.
    await w.store.spendLaunchTokens(997);
    await releaseLease(w.deps, member(0, 'us-east-1a', ''), { executionId: holder(0) });
    await releaseLease(w.deps, member(1, 'us-east-1a', ''), { executionId: holder(1) });
    // The first release's admission granted one waiter with the one token (zone b's: zone a
    // still has one in flight); the second's had none: the other waits for tokens, not the budget.
    expect(w.callbacks.granted()).toEqual([token(0), token(1), token(3)]);
    const report = await admit(w.deps as never, 'api');
    expect(report.granted).toEqual([]);
    expect(report.waiting).toMatch(/RunInstances tokens are spent for now/);
    w.advance(1_000);
    const next = await admit(w.deps as never, 'api');
    expect(next.granted.map((g) => g.instanceId)).toEqual([instance(2)]);
  });
});

describe('nextZone', () => {
  const w = (launchTime: string, instanceId = 'i-1'): Waiter => ({ launchTime, instanceId }) as Waiter;

  it('serves the zone with fewest in flight, then the older head, then the zone name', () => {
    const heads = new Map([
      ['a', [w('2025-01-01')]],
      ['b', [w('2025-01-05')]],
      ['c', [w('2025-01-03')]],
    ]);
    expect(nextZone(heads, new Map([['a', 2]]))).toBe('c');
    expect(nextZone(heads, new Map())).toBe('a');
    expect(
      nextZone(
        new Map([
          ['b', [w('2025-01-01')]],
          ['a', [w('2025-01-01')]],
        ]),
        new Map(),
      ),
    ).toBe('a');
    expect(nextZone(new Map([['a', []]]), new Map())).toBeUndefined();
  });
});
