/**
 * Rollout items in the emulated account's state table: created once per source, moved by
 * conditional writes keyed on the stage read (two processes deciding from one reading: one
 * wins), the operator's approve / halt / resume, and the quarantine that goes with a halt.
 *
 * The emulator's DynamoDB runs one request at a time (test/helpers/moto-launcher.py,
 * correction 6), as DynamoDB evaluates each conditional write atomically; the two "processes"
 * here are two stores on two clients of their own.
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStateTable } from '../../emulator/table';
import { RolloutCatalog } from '../../functions/aws/rollout-catalog';
import {
  type NewRollout,
  ROLLOUT_ITEM,
  RolloutNotFoundError,
  type RolloutRecord,
  RolloutStageError,
  RolloutStore,
} from '../../functions/aws/rollout-store';
import { StateStore } from '../../functions/aws/state-store';
import { InvalidInputError } from '../../functions/domain/errors';
import type { RolloutPolicy } from '../../functions/domain/model';
import { advance, haltByOperator } from '../../functions/domain/rollout/stage';
import { testClientConfig } from '../helpers/emulator';

const TABLE = 'phoenix-rollout-store';
const T0 = new Date('2026-12-05T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

/** One process: its own client, its own store, its own clock. */
function aProcess(clock: () => Date = () => T0): { store: RolloutStore; state: StateStore } {
  const dynamodb = new DynamoDBClient(testClientConfig());
  return { store: new RolloutStore(dynamodb, TABLE, clock), state: new StateStore(dynamodb, TABLE, clock) };
}

const { store, state } = aProcess();

const POLICY: RolloutPolicy = {
  canary: { count: 1 },
  bakeMinutes: 30,
  alarms: ['web-5xx'],
  maxFailures: 1,
  approval: 'manual',
};

let version = 0;
/** A new rollout of a fresh source through `fleet`. */
async function begin(fleet: string, overrides: Partial<NewRollout> = {}, s: RolloutStore = store) {
  version += 1;
  const { rollout } = await s.create({
    fleet,
    source: { templateId: 'lt-0abc', version, imageId: `ami-0${version}` },
    stage: 'canary',
    members: 10,
    canary: 1,
    bakeMinutes: 30,
    maxFailures: 1,
    ...overrides,
  });
  return rollout;
}

beforeAll(async () => {
  await createStateTable(new DynamoDBClient(testClientConfig()), TABLE);
});

describe('RolloutStore', () => {
  it('begins a rollout once per source, whoever asks first', async () => {
    const source = { templateId: 'lt-0once', version: 4, imageId: 'ami-0new' };
    const input: NewRollout = {
      fleet: 'once',
      source,
      stage: 'canary',
      members: 5,
      canary: 1,
      bakeMinutes: 10,
      maxFailures: 2,
    };
    const results = await Promise.all([aProcess().store.create(input), aProcess().store.create(input)]);
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(results[0]?.rollout).toEqual(results[1]?.rollout);
    expect(await store.get('once', source)).toEqual({
      fleet: 'once',
      source,
      stage: 'canary',
      startedAt: T0.toISOString(),
      stageChangedAt: T0.toISOString(),
      members: 5,
      admitted: 0,
      replaced: 0,
      rolledBack: 0,
      ended: 0,
      canary: 1,
      bakeMinutes: 10,
      maxFailures: 2,
    });
  });

  it("lists a fleet's rollouts newest first, every fleet's by fleet, and the current one is the latest begun", async () => {
    const older = await begin('list-a', {}, aProcess(() => at(-60)).store);
    const newer = await begin('list-a', {}, aProcess(() => at(0)).store);
    const other = await begin('list-b');
    expect((await store.list('list-a')).map((r) => r.source.version)).toEqual([
      newer.source.version,
      older.source.version,
    ]);
    expect((await store.current('list-a'))?.source).toEqual(newer.source);
    expect(await store.current('list-none')).toBeUndefined();
    const all = (await new RolloutCatalog(new DynamoDBClient(testClientConfig()), TABLE).list()).filter((r) =>
      r.fleet.startsWith('list-'),
    );
    expect(all.map((r) => [r.fleet, r.source.version])).toEqual([
      ['list-a', newer.source.version],
      ['list-a', older.source.version],
      ['list-b', other.source.version],
    ]);
  });

  it('counts by ADD, so two processes counting at once lose nothing', async () => {
    const rollout = await begin('count');
    const a = aProcess().store;
    const b = aProcess().store;
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? a : b).count('count', rollout.source, { admitted: 1, replaced: i < 8 ? 1 : 0 }),
      ),
    );
    expect(await store.get('count', rollout.source)).toMatchObject({
      admitted: 12,
      replaced: 8,
      members: 10,
    });
    await expect(
      store.count('count', { templateId: 'lt-0none', version: 1 }, { members: 1 }),
    ).rejects.toThrow(RolloutNotFoundError);
  });

  it('writes a step only while the stage is as read: of two processes deciding from one reading, one wins', async () => {
    const rollout = await begin('race', { members: 4 });
    const read = await store.count('race', rollout.source, { admitted: 1, replaced: 1 });
    // Process A sees the canary healthy and starts the bake; process B reads the alarm in ALARM.
    const baking = advance(read, { now: T0, policy: POLICY, alarms: [{ name: 'web-5xx', state: 'OK' }] });
    const halting = advance(read, { now: T0, policy: POLICY, alarms: [{ name: 'web-5xx', state: 'ALARM' }] });
    expect([baking.rollout.stage, halting.rollout.stage]).toEqual(['baking', 'halted']);
    const [a, b] = await Promise.all([
      aProcess().store.recordStep(read, baking, { exact: true }),
      aProcess().store.recordStep(read, halting, { exact: true }),
    ]);
    const results = [a, b];
    expect(results.filter((r) => r.written)).toHaveLength(1);
    const loser = results.find((r) => !r.written);
    expect(loser).toMatchObject({ written: false, reason: 'conflict' });
    const now = await store.get('race', rollout.source);
    expect(loser?.rollout).toEqual(now);
    // The quarantine goes with the halt, in the same transaction: there iff the halt won.
    const quarantine = await state.getQuarantine('race', 'lt-0abc', rollout.source.version);
    if (now?.stage === 'halted') {
      expect(quarantine?.cause).toBe('rollout halted: alarm web-5xx in ALARM');
      expect(now.halt).toEqual({
        cause: { kind: 'alarm', alarms: ['web-5xx'] },
        at: T0.toISOString(),
        from: 'canary',
      });
    } else {
      expect(now).toMatchObject({ stage: 'baking', bakeUntil: at(30).toISOString() });
      expect(quarantine).toBeUndefined();
    }
  });

  it('lets exactly one of five processes halt the same reading', async () => {
    const rollout = await begin('five');
    const writes = await Promise.all(
      ['ann', 'bob', 'cid', 'dee', 'eve'].map((by) =>
        aProcess().store.recordStep(rollout, haltByOperator(rollout, by, undefined, T0)),
      ),
    );
    expect(writes.filter((w) => w.written)).toHaveLength(1);
    const winner = writes.find((w) => w.written)?.rollout;
    expect((await store.get('five', rollout.source))?.halt?.cause).toEqual(winner?.halt?.cause);
  });

  it('refuses an exact step once a counter moved after the reading', async () => {
    const rollout = await begin('exact', { members: 1 });
    const read = await store.count('exact', rollout.source, { admitted: 1, replaced: 1 });
    const step = advance(read, {
      now: T0,
      policy: { ...POLICY, bakeMinutes: 0, approval: 'automatic' },
      alarms: [],
    });
    expect(step.rollout.stage).toBe('completed');
    await store.count('exact', rollout.source, { members: 1 });
    expect(await store.recordStep(read, step, { exact: true })).toMatchObject({
      written: false,
      reason: 'conflict',
    });
    expect((await store.get('exact', rollout.source))?.stage).toBe('canary');
  });

  it('writes nothing for a step that changed nothing', async () => {
    const rollout = await begin('same');
    const step = advance(rollout, { now: T0, policy: POLICY, alarms: [] });
    expect(step.changed).toBe(false);
    expect(await store.recordStep(rollout, step)).toMatchObject({ written: false, reason: 'unchanged' });
  });
});

describe('the operator on the current rollout', () => {
  it('approves only a rollout awaiting approval, recording who', async () => {
    const rollout = await begin('approve', { stage: 'awaiting-approval' });
    const approved = await store.approve('approve', 'alice');
    expect(approved).toMatchObject({ stage: 'rolling', approvedBy: 'alice' });
    const again = await store.approve('approve', 'bob').catch((e: unknown) => e);
    expect(again).toBeInstanceOf(RolloutStageError);
    expect((again as Error).message).toBe(
      `the rollout of lt-0abc v${rollout.source.version} through fleet approve is rolling, not awaiting approval: nothing to approve`,
    );
    await expect(store.approve('nobody', 'alice')).rejects.toThrow(
      new RolloutNotFoundError('fleet nobody has no rollout to approve'),
    );
  });

  it('halts a live rollout with who and why and quarantines its version, keeping a rollback quarantine as it was', async () => {
    const rollout = await begin('halt', { stage: 'rolling' });
    await state.quarantine({
      fleet: 'halt',
      templateId: 'lt-0abc',
      version: rollout.source.version,
      cause: 'replacement i-0bad never became healthy',
      execution: 'i-0old-v1-abc-0',
    });
    const halted = await store.halt('halt', 'carol', 'p99 doubled on the canary');
    expect(halted).toMatchObject({
      stage: 'halted',
      halt: {
        cause: { kind: 'operator', by: 'carol', reason: 'p99 doubled on the canary' },
        from: 'rolling',
      },
    });
    expect(await state.getQuarantine('halt', 'lt-0abc', rollout.source.version)).toMatchObject({
      cause: 'replacement i-0bad never became healthy',
      execution: 'i-0old-v1-abc-0',
    });
    await expect(store.halt('halt', 'dave')).rejects.toThrow(/is halted, not live/);
  });

  it('does not halt a completed rollout', async () => {
    await begin('done', { stage: 'rolling' });
    const current = await store.current('done');
    if (current === undefined) throw new Error('no rollout');
    await store.recordStep(current, { rollout: { ...current, stage: 'completed' }, changed: true });
    const error = await store.halt('done', 'erin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RolloutStageError);
    expect((error as RolloutStageError).stage).toBe('completed');
  });

  it('resumes a halted rollout where it halted, its failure budget given back and its quarantine lifted', async () => {
    const clock = { now: T0 };
    const { store: s } = aProcess(() => clock.now);
    const rollout = await begin('resume', { stage: 'baking' }, s);
    await s.count('resume', rollout.source, { admitted: 1, replaced: 1 });
    const halted = await s.halt('resume', 'frank');
    expect(await state.getQuarantine('resume', 'lt-0abc', rollout.source.version)).toMatchObject({
      cause: 'rollout halted by frank',
    });
    // A rollback of a member in flight is counted while halted: the resume gives it back too.
    await s.count('resume', rollout.source, { rolledBack: 2 });
    clock.now = at(45);
    const resumed = await s.resume('resume');
    expect(resumed).toMatchObject({
      stage: 'baking',
      bakeUntil: at(75).toISOString(),
      rolledBack: 2,
      rolledBackBeforeResume: 2,
      stageChangedAt: at(45).toISOString(),
    });
    expect(resumed.halt).toBeUndefined();
    expect(halted.halt?.from).toBe('baking');
    expect(await state.getQuarantine('resume', 'lt-0abc', rollout.source.version)).toBeUndefined();
    await expect(s.resume('resume')).rejects.toThrow(/is baking, not halted: nothing to resume/);
  });
});

describe('ROLLOUT_ITEM', () => {
  it('reads back every field it writes', () => {
    const record: RolloutRecord = {
      fleet: 'web',
      source: { templateId: 'lt-0abc', version: 7, imageId: 'ami-0new' },
      stage: 'halted',
      startedAt: T0.toISOString(),
      stageChangedAt: at(5).toISOString(),
      members: 9,
      admitted: 3,
      replaced: 1,
      rolledBack: 2,
      ended: 0,
      canary: 1,
      bakeMinutes: 30,
      maxFailures: 1,
      bakeUntil: at(35).toISOString(),
      approvedBy: 'alice',
      rolledBackBeforeResume: 1,
      halt: {
        cause: { kind: 'failures', failures: 2, maxFailures: 1 },
        at: at(5).toISOString(),
        from: 'rolling',
      },
    };
    const item = ROLLOUT_ITEM.encode(record);
    expect(item.pk).toEqual({ S: 'rollout#web' });
    expect(item.sk).toEqual({ S: 'lt-0abc#7' });
    expect(item.haltWhy).toEqual({ S: 'halted: 2 rollbacks, more than maxFailures 1' });
    expect(ROLLOUT_ITEM.decode(item)).toEqual(record);
  });

  it.each([
    ['an empty fleet', () => ROLLOUT_ITEM.key('', { templateId: 'lt-0abc', version: 1 })],
    ['version 0', () => ROLLOUT_ITEM.key('web', { templateId: 'lt-0abc', version: 0 })],
    [
      'an unknown stage',
      () => ROLLOUT_ITEM.decode({ pk: { S: 'rollout#web' }, sk: { S: 'x' }, stage: { S: 'paused' } }),
    ],
  ])('refuses %s', (_name, act) => {
    expect(act).toThrow(InvalidInputError);
  });

  it('says which item is not a rollout when the table holds a bad one', async () => {
    await new DynamoDBClient(testClientConfig()).send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { pk: { S: 'rollout#bad' }, sk: { S: 'lt-0abc#1' }, stage: { S: 'exploded' } },
      }),
    );
    await expect(store.list('bad')).rejects.toThrow(
      'the state table\'s item rollout#bad / lt-0abc#1 is not a rollout (stage "exploded")',
    );
  });
});
