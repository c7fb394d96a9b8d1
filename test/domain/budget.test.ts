import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concurrencyLimit, concurrencyText } from '../../functions/domain/budget';

describe('concurrencyLimit', () => {
  it.each([
    [{ count: 3 }, 1000, 3],
    [{ count: 3 }, 1, 3],
    [{ percent: 10 }, 1000, 100],
    [{ percent: 10 }, 5, 1],
    [{ percent: 10 }, 0, 1],
    [{ percent: 25 }, 40, 10],
    [{ percent: 25 }, 43, 10],
    [{ percent: 33.33 }, 3, 1],
    [{ percent: 50 }, 3, 1],
    [{ percent: 100 }, 7, 7],
    [{ percent: 0.5 }, 10_000, 50],
  ])('%j of a fleet of %i allows %i at once', (concurrency, size, expected) => {
    expect(concurrencyLimit(concurrency, size)).toBe(expected);
  });

  it('never allows none, and a share never more than the fleet or less than it rounds down to', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (hundredths, size) => {
          const percent = hundredths / 100;
          const limit = concurrencyLimit({ percent }, size);
          expect(limit).toBeGreaterThanOrEqual(1);
          expect(limit).toBeLessThanOrEqual(Math.max(1, size));
          expect(limit).toBe(Math.max(1, Math.floor((size * hundredths) / 10_000)));
        },
      ),
    );
  });
});

describe('concurrencyText', () => {
  it('says a budget as it was written', () => {
    expect(concurrencyText({ count: 2 })).toBe('2');
    expect(concurrencyText({ percent: 12.5 })).toBe('12.5%');
  });
});
