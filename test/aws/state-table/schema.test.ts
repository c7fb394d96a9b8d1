/**
 * The state table's schema: where every item kind sits (the layout deployed tables already
 * hold, so a change here orphans live items), that no two kinds can share a key, that every
 * codec reads back what it writes, and that the item table of the module doc names every kind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attemptFromItem,
  attemptItem,
  attemptKey,
  type GroupLock,
  groupLockFromItem,
  groupLockItem,
  groupLockKey,
  type Item,
  instanceClaimFromItem,
  instanceClaimItem,
  instanceClaimKey,
  LAUNCH_TOKENS_KEY,
  launchTokensFromItem,
  launchTokensItem,
  leaseFromItem,
  leaseItem,
  leaseKey,
  leaseSk,
  ledgerShardFromItem,
  ledgerShardItem,
  ledgerShardKey,
  notificationClaimItem,
  notificationClaimKey,
  PAUSE_KEY,
  pauseFromItem,
  pauseItem,
  quarantineFromItem,
  quarantineItem,
  quarantineKey,
  replacementClaimItem,
  replacementClaimKey,
  STATE_TABLE,
  tokensLeft,
} from '../../../functions/aws/state-table/schema';
import { InvalidInputError } from '../../../functions/domain/errors';

const SCHEMA_DIR = path.resolve(import.meta.dirname, '../../../functions/aws/state-table/schema');

const keyOf = (item: Item) => [item.pk?.S, item.sk?.S];
const GENERATION = {
  rule: 'arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc',
  revision: 'aaaaaaaaaaaa',
};

describe('the state table schema', () => {
  it('keys the table by pk and sk (strings) and expires items by expiresAt', () => {
    expect(STATE_TABLE).toEqual({
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      timeToLiveAttribute: 'expiresAt',
    });
  });

  it.each<[string, Item, [string, string]]>([
    ['pause switch', PAUSE_KEY, ['control', 'pause']],
    [
      'notification claim',
      notificationClaimKey('i-1#v1-abc#drift.detected'),
      ['notification#i-1#v1-abc#drift.detected', 'claim'],
    ],
    [
      'quarantine',
      quarantineKey({ fleet: 'web', templateId: 'lt-0abc', version: 12 }),
      ['quarantine', 'web#lt-0abc#12'],
    ],
    ['attempt generation', attemptKey('i-1', 'v1-abc'), ['attempt#i-1', 'v1-abc']],
    ['lease slot', leaseKey('web', leaseSk('slot', 0)), ['lease#web', 'slot#0']],
    ['lease dip', leaseKey('web', leaseSk('dip', 3)), ['lease#web', 'dip#3']],
    ['group lock', groupLockKey('web-asg'), ['group#web-asg', 'lock']],
    ['launch tokens', LAUNCH_TOKENS_KEY, ['account#ec2', 'run-instances-tokens']],
    ['instance claim', instanceClaimKey('i-1'), ['instance#i-1', 'replacement']],
    ['replacement claim', replacementClaimKey('i-2'), ['replacement#i-2', 'claim']],
    // The generation is hashed with the ledger's format: a change of either starts every ledger afresh.
    ['ledger shard', ledgerShardKey(GENERATION, 7), ['reported#8e9dd6fbc3df251b39ee4a97', 'shard#07']],
  ])('puts a %s where deployed tables hold it', (_kind, key, expected) => {
    expect(key).toEqual({ pk: { S: expected[0] }, sk: { S: expected[1] } });
  });

  it('never gives two item kinds the same key, whatever the names and ids', () => {
    const name = fc.string({ minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(name, name, fc.nat(50), (a, b, n) => {
        const keys = [
          PAUSE_KEY,
          notificationClaimKey(a),
          quarantineKey({ fleet: a, templateId: b, version: n }),
          attemptKey(a, b),
          leaseKey(a, leaseSk('slot', n)),
          leaseKey(a, leaseSk('dip', n)),
          groupLockKey(a),
          instanceClaimKey(a),
          replacementClaimKey(a),
          ledgerShardKey({ rule: a, revision: b }, n % 32),
        ].map((key) => JSON.stringify(keyOf(key)));
        expect(new Set(keys).size).toBe(keys.length);
      }),
    );
  });

  it('refuses keys without the ids that tell items apart', () => {
    expect(() => attemptKey('', 'v1-abc')).toThrow(InvalidInputError);
    expect(() => attemptKey('i-1', '')).toThrow(InvalidInputError);
    expect(() => instanceClaimKey('')).toThrow(InvalidInputError);
  });
});

describe('the item codecs', () => {
  const text = fc.string({ minLength: 1, maxLength: 20 });
  const iso = fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => new Date(s * 1000).toISOString());
  const seconds = fc.integer({ min: 0, max: 4_000_000_000 });

  it('read back the pause switch they write, and take no item for never paused', () => {
    fc.assert(
      fc.property(fc.boolean(), text, iso, (paused, by, at) => {
        expect(pauseFromItem(pauseItem({ paused, by, at }))).toEqual({ paused, by, at });
      }),
    );
    expect(pauseFromItem(undefined)).toEqual({ paused: false });
    expect(pauseItem({ paused: true, by: '', at: 'now' }).by).toEqual({ S: 'unknown' });
  });

  it('read back a quarantine, its version a number', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.nat(),
        text,
        text,
        iso,
        (fleet, templateId, version, cause, execution, at) => {
          const quarantine = { fleet, templateId, version, cause, execution, at };
          const item = quarantineItem(quarantine);
          expect(item.version).toEqual({ N: String(version) });
          expect(quarantineFromItem(item)).toEqual(quarantine);
        },
      ),
    );
  });

  it('read back an attempt generation, with and without a hold', () => {
    const hold = fc.option(fc.record({ until: iso, why: text }), { nil: undefined });
    fc.assert(
      fc.property(
        text,
        text,
        fc.nat(),
        iso,
        seconds,
        hold,
        (instanceId, fingerprint, generation, at, expiresAt, held) => {
          const record = {
            instanceId,
            fingerprint,
            generation,
            at,
            expiresAt,
            ...(held ? { hold: held } : {}),
          };
          expect(attemptFromItem(attemptItem(record))).toEqual(record);
        },
      ),
    );
  });

  it('read back a lease item', () => {
    fc.assert(
      fc.property(
        text,
        fc.constantFrom('slot', 'dip' as const),
        fc.nat(99),
        text,
        text,
        iso,
        seconds,
        (fleet, kind, i, holder, instanceId, acquiredAt, expiresAt) => {
          const lease = { fleet, sk: leaseSk(kind, i), holder, instanceId, acquiredAt, expiresAt };
          expect(leaseFromItem(leaseItem(lease))).toEqual(lease);
        },
      ),
    );
  });

  it('read back the launch tokens count: the moment the bucket is full again, and what is left before it', () => {
    fc.assert(
      fc.property(seconds, (fullAtMs) => {
        expect(launchTokensFromItem(launchTokensItem(fullAtMs))).toBe(fullAtMs);
      }),
    );
    expect(launchTokensFromItem(undefined)).toBeUndefined();
    expect(tokensLeft(undefined, 0)).toBe(1000);
    // Full again in 10 s: 20 tokens short of the burst; past it, full.
    expect(tokensLeft(20_000, 10_000)).toBe(980);
    expect(tokensLeft(20_000, 30_000)).toBe(1000);
  });

  it('read back a group lock and the change its holder recorded', () => {
    const change = fc.option(
      fc.record({
        mode: fc.constantFrom('surge', 'standby-first' as const),
        desiredBefore: fc.nat(),
        raisedTo: fc.nat(),
        instancesBefore: fc.array(text, { maxLength: 4 }),
      }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        text,
        text,
        text,
        iso,
        seconds,
        change,
        fc.uniqueArray(text, { maxLength: 4 }),
        fc.boolean(),
        (group, holder, instanceId, acquiredAt, expiresAt, recorded, others, wave) => {
          const members = [...new Set([holder, ...others])].sort();
          const lock: GroupLock = {
            group,
            holder,
            instanceId,
            acquiredAt,
            expiresAt,
            members,
            ...(wave ? { wave: true, retiring: [holder], raised: true } : {}),
            ...(recorded ? { change: recorded } : {}),
          };
          expect(groupLockFromItem(group, groupLockItem(lock))).toEqual(lock);
          // A lock whose members all left is free: read as none.
          const emptied = groupLockItem(lock);
          delete emptied.holders;
          expect(groupLockFromItem(group, emptied)).toBeUndefined();
        },
      ),
    );
    expect(groupLockFromItem('web-asg', undefined)).toBeUndefined();
  });

  it('read back an instance claim, taken or kept as replaced', () => {
    const replaced = fc.option(fc.record({ replacedBy: text, replacedAt: iso }), { nil: undefined });
    fc.assert(
      fc.property(
        text,
        text,
        text,
        iso,
        seconds,
        replaced,
        (instanceId, holder, fleet, acquiredAt, expiresAt, by) => {
          const claim = { instanceId, holder, acquiredAt, expiresAt, ...(by ?? {}) };
          expect(instanceClaimFromItem(instanceId, instanceClaimItem({ ...claim, fleet }))).toEqual(claim);
        },
      ),
    );
    expect(instanceClaimFromItem('i-1', undefined)).toBeUndefined();
  });

  it('read back a ledger shard', () => {
    fc.assert(
      fc.property(
        fc.nat(31),
        fc.dictionary(text, text),
        fc.nat(),
        seconds,
        (shard, digests, version, expiresAt) => {
          const written = { shard, entries: new Map(Object.entries(digests)), version, expiresAt };
          expect(ledgerShardFromItem(ledgerShardItem(GENERATION, written))).toEqual(written);
        },
      ),
    );
  });

  it('write the claims they have no reader for with their expiry', () => {
    expect(notificationClaimItem({ key: 'k', claimedAt: 'then', expiresAt: 99 })).toEqual({
      pk: { S: 'notification#k' },
      sk: { S: 'claim' },
      claimedAt: { S: 'then' },
      expiresAt: { N: '99' },
    });
    expect(replacementClaimItem({ instanceId: 'i-2', holder: 'arn:exec', expiresAt: 99 })).toEqual({
      pk: { S: 'replacement#i-2' },
      sk: { S: 'claim' },
      holder: { S: 'arn:exec' },
      expiresAt: { N: '99' },
    });
  });
});

describe("the schema's module doc", () => {
  it('has a row for every item module, and every row names a module that exists', () => {
    const doc = readFileSync(path.join(SCHEMA_DIR, 'index.ts'), 'utf8');
    const named = new Set([...doc.matchAll(/^ \* \|[^\n]*\| ([a-z-]+\.ts) \|$/gm)].map((m) => m[1]));
    const modules = readdirSync(SCHEMA_DIR).filter((f) => f !== 'index.ts' && f !== 'table.ts');
    expect([...named].sort()).toEqual(modules.sort());
  });
});
