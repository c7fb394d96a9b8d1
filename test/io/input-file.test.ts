import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8 } from '../../functions/io/input-file';

const strict = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe('firstInvalidUtf8', () => {
  it('finds a bad byte exactly when the platform decoder refuses the bytes', () => {
    // Bytes biased towards UTF-8's lead and continuation ranges, so both answers are common.
    const byte = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xff }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 24 }), (list) => {
        const bytes = Uint8Array.from(list);
        const bad = firstInvalidUtf8(bytes);
        expect(bad === undefined).toBe(isUtf8(bytes));
        // Everything before the bad byte is valid UTF-8.
        if (bad !== undefined) expect(isUtf8(bytes.subarray(0, bad.offset))).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('accepts any text encoded as UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(firstInvalidUtf8(new TextEncoder().encode(text))).toBeUndefined();
      }),
    );
  });

  it('says the line and the column (in characters) of the bad byte', () => {
    const bytes = Buffer.concat([
      Buffer.from('version: 1\nfleets:\n  né'),
      Buffer.from([0xff]),
      Buffer.from('\n'),
    ]);

    expect(firstInvalidUtf8(bytes)).toEqual({ offset: 24, line: 3, column: 5 });
  });

  it.each([
    ['an overlong slash', [0xc0, 0xaf]],
    ['a surrogate', [0xed, 0xa0, 0x80]],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a sequence cut short', [0x61, 0xe2, 0x82]],
  ])('refuses %s', (_what, list) => {
    expect(firstInvalidUtf8(Uint8Array.from(list))).toBeDefined();
  });
});
