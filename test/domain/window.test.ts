import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/domain/errors';
import type { MaintenanceWindow, Weekday, WindowRangeSpec } from '../../functions/domain/model';
import { isWindowOpen, nextWindowOpening, windowClosesAt } from '../../functions/domain/window';
import { EVERY_DAY, maintenanceWindow, WEEKDAYS, windowRange } from '../helpers/builders';

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';

const at = (iso: string) => new Date(iso);

const berlinOffice = maintenanceWindow(BERLIN, windowRange(WEEKDAYS, '09:00', '17:00'));
const newYorkOffice = maintenanceWindow(NEW_YORK, windowRange(WEEKDAYS, '09:00', '17:00'));

type OpenCase = [story: string, window: MaintenanceWindow, instant: string, open: boolean];

function expectOpenness(cases: OpenCase[]): void {
  for (const [story, window, instant, open] of cases) {
    it(`is ${open ? 'open' : 'closed'} ${story}`, () => {
      expect(isWindowOpen(window, at(instant))).toBe(open);
    });
  }
}

describe('isWindowOpen', () => {
  it('is always open when the fleet has no window', () => {
    expect(isWindowOpen(undefined, at('2025-01-11T03:00:00Z'))).toBe(true);
  });

  describe('office hours, Mon-Fri 09:00-17:00', () => {
    expectOpenness([
      ['a second before 09:00 on a winter Monday in Berlin', berlinOffice, '2025-01-06T07:59:59Z', false],
      ['from 09:00 CET (08:00 UTC)', berlinOffice, '2025-01-06T08:00:00Z', true],
      ['a second before 17:00', berlinOffice, '2025-01-06T15:59:59Z', true],
      ['at 17:00: the end is not inside', berlinOffice, '2025-01-06T16:00:00Z', false],
      ['from 09:00 CEST in summer (07:00 UTC)', berlinOffice, '2025-07-07T07:00:00Z', true],
      ['at 08:59 CEST, though 09:59 by winter time', berlinOffice, '2025-07-07T06:59:00Z', false],
      ['on a Saturday', berlinOffice, '2025-01-11T10:00:00Z', false],
      ['on a Sunday', berlinOffice, '2025-01-12T10:00:00Z', false],
      ['from 09:00 EST in New York (14:00 UTC)', newYorkOffice, '2025-01-06T14:00:00Z', true],
      ['at 08:59 EST in New York', newYorkOffice, '2025-01-06T13:59:00Z', false],
      ['from 09:00 EDT in New York in summer (13:00 UTC)', newYorkOffice, '2025-07-07T13:00:00Z', true],
      [
        'in New York at 09:00 EDT between the American and European changes (Berlin still on CET)',
        newYorkOffice,
        '2025-03-17T13:00:00Z',
        true,
      ],
      ['in Berlin at that instant (14:00 CET)', berlinOffice, '2025-03-17T13:00:00Z', true],
      ['in Berlin at 08:30 CET that Monday', berlinOffice, '2025-03-17T07:30:00Z', false],
    ]);
  });

  describe('overnight, Fri 22:00-06:00 (Berlin, winter)', () => {
    const overnight = maintenanceWindow(BERLIN, windowRange(['Fri'], '22:00', '06:00'));
    expectOpenness([
      ['on Friday at 21:59', overnight, '2025-01-10T20:59:00Z', false],
      ['on Friday from 22:00', overnight, '2025-01-10T21:00:00Z', true],
      ['past midnight, Saturday 03:00', overnight, '2025-01-11T02:00:00Z', true],
      ['on Saturday at 06:00', overnight, '2025-01-11T05:00:00Z', false],
      ['on Saturday from 22:00: the range starts on Fridays only', overnight, '2025-01-11T21:00:00Z', false],
      ['in the small hours of Friday: Thursday starts no range', overnight, '2025-01-09T23:30:00Z', false],
    ]);
  });

  describe('weekends, Sat,Sun 00:00-24:00 (Berlin, winter)', () => {
    const weekend = maintenanceWindow(BERLIN, windowRange(['Sat', 'Sun'], '00:00', '24:00'));
    expectOpenness([
      ['on Friday at 23:59', weekend, '2025-01-10T22:59:00Z', false],
      ['from Saturday 00:00', weekend, '2025-01-10T23:00:00Z', true],
      ['on Sunday at 23:59', weekend, '2025-01-12T22:59:00Z', true],
      ['from Monday 00:00', weekend, '2025-01-12T23:00:00Z', false],
    ]);
  });

  describe('spring forward in Berlin (Sunday 30 March 2025, 02:00 CET → 03:00 CEST)', () => {
    const intoGap = maintenanceWindow(BERLIN, windowRange(['Sun'], '02:30', '04:00'));
    const insideGap = maintenanceWindow(BERLIN, windowRange(['Sun'], '02:00', '02:45'));
    expectOpenness([
      ['at 01:59 CET, before the gap', intoGap, '2025-03-30T00:59:00Z', false],
      ['at 03:00 CEST when it starts at the skipped 02:30', intoGap, '2025-03-30T01:00:00Z', true],
      ['at 03:59 CEST', intoGap, '2025-03-30T01:59:00Z', true],
      ['at 04:00 CEST', intoGap, '2025-03-30T02:00:00Z', false],
      ['at any time that day when the whole range was skipped', insideGap, '2025-03-30T01:00:00Z', false],
      ['a week later, when 02:00-02:45 exists again', insideGap, '2025-04-06T00:30:00Z', true],
    ]);
  });

  describe('fall back in Berlin (Sunday 26 October 2025, 03:00 CEST → 02:00 CET)', () => {
    const acrossRepeat = maintenanceWindow(BERLIN, windowRange(['Sun'], '02:30', '05:00'));
    const withinRepeat = maintenanceWindow(BERLIN, windowRange(['Sun'], '02:15', '02:45'));
    expectOpenness([
      ['at 02:29 CEST', acrossRepeat, '2025-10-26T00:29:00Z', false],
      ['from the first 02:30 (CEST)', acrossRepeat, '2025-10-26T00:30:00Z', true],
      ['at the second 02:30 (CET)', acrossRepeat, '2025-10-26T01:30:00Z', true],
      ['until 05:00 CET', acrossRepeat, '2025-10-26T03:59:00Z', true],
      ['at 05:00 CET', acrossRepeat, '2025-10-26T04:00:00Z', false],
      ['during the first 02:15-02:45 (CEST)', withinRepeat, '2025-10-26T00:20:00Z', true],
      ['at the first 02:45', withinRepeat, '2025-10-26T00:45:00Z', false],
      [
        'when 02:15-02:45 comes round again in CET: a range opens once a day',
        withinRepeat,
        '2025-10-26T01:20:00Z',
        false,
      ],
    ]);
  });

  describe('New York (spring 9 March, fall 2 November 2025)', () => {
    const intoGap = maintenanceWindow(NEW_YORK, windowRange(['Sun'], '02:30', '03:30'));
    const repeated = maintenanceWindow(NEW_YORK, windowRange(['Sun'], '01:00', '01:30'));
    expectOpenness([
      ['at 01:59 EST before the gap', intoGap, '2025-03-09T06:59:00Z', false],
      ['at 03:00 EDT when it starts at the skipped 02:30', intoGap, '2025-03-09T07:00:00Z', true],
      ['at 03:30 EDT', intoGap, '2025-03-09T07:30:00Z', false],
      ['at the first 01:15 (EDT)', repeated, '2025-11-02T05:15:00Z', true],
      ['at the second 01:15 (EST)', repeated, '2025-11-02T06:15:00Z', false],
    ]);
  });
});

describe('nextWindowOpening', () => {
  it('returns now when there is no window', () => {
    const now = at('2025-01-11T10:00:00Z');

    expect(nextWindowOpening(undefined, now)).toBe(now);
  });

  it('returns now when the window is open', () => {
    const now = at('2025-01-06T10:00:00Z');

    expect(nextWindowOpening(berlinOffice, now)).toBe(now);
  });

  const twoRanges = maintenanceWindow(
    BERLIN,
    windowRange(['Mon'], '09:00', '10:00'),
    windowRange(['Wed'], '14:00', '15:00'),
  );
  const sundayNights = maintenanceWindow(BERLIN, windowRange(['Sun'], '03:00', '04:00'));

  it.each([
    ['early on a Monday: 09:00 the same day', berlinOffice, '2025-01-06T06:00:00Z', '2025-01-06T08:00:00Z'],
    ['at 17:00 on a Friday: Monday 09:00', berlinOffice, '2025-01-10T16:00:00Z', '2025-01-13T08:00:00Z'],
    ['on a Saturday: Monday 09:00', berlinOffice, '2025-01-11T12:00:00Z', '2025-01-13T08:00:00Z'],
    ['after Monday’s range: Wednesday’s', twoRanges, '2025-01-06T10:00:00Z', '2025-01-08T13:00:00Z'],
    ['after Wednesday’s range: next Monday’s', twoRanges, '2025-01-08T14:00:00Z', '2025-01-13T08:00:00Z'],
    [
      'on a Monday for a Sunday-only range: six days on',
      sundayNights,
      '2025-01-06T08:00:00Z',
      '2025-01-12T02:00:00Z',
    ],
    [
      'from Friday 17:00 CET over the spring change: Monday 09:00 CEST',
      berlinOffice,
      '2025-03-28T16:00:00Z',
      '2025-03-31T07:00:00Z',
    ],
    [
      'from Friday 17:00 CEST over the autumn change: Monday 09:00 CET',
      berlinOffice,
      '2025-10-24T15:00:00Z',
      '2025-10-27T08:00:00Z',
    ],
    [
      'in New York from Friday 17:00 EST over the spring change: Monday 09:00 EDT',
      newYorkOffice,
      '2025-03-07T22:00:00Z',
      '2025-03-10T13:00:00Z',
    ],
    [
      'at the start of a skipped local time: the end of the gap',
      maintenanceWindow(BERLIN, windowRange(['Sun'], '02:30', '04:00')),
      '2025-03-29T12:00:00Z',
      '2025-03-30T01:00:00Z',
    ],
    [
      'past a day whose whole range was skipped: the next week',
      maintenanceWindow(BERLIN, windowRange(['Sun'], '02:00', '02:45')),
      '2025-03-29T12:00:00Z',
      '2025-04-06T00:00:00Z',
    ],
    [
      'at a repeated local time: its first occurrence',
      maintenanceWindow(BERLIN, windowRange(['Sun'], '02:30', '05:00')),
      '2025-10-25T12:00:00Z',
      '2025-10-26T00:30:00Z',
    ],
    [
      'in New York at the skipped 02:30: 03:00 EDT',
      maintenanceWindow(NEW_YORK, windowRange(['Sun'], '02:30', '03:30')),
      '2025-03-08T12:00:00Z',
      '2025-03-09T07:00:00Z',
    ],
    [
      'in New York after the repeated 01:00-01:30 closed: the next Sunday, in EST',
      maintenanceWindow(NEW_YORK, windowRange(['Sun'], '01:00', '01:30')),
      '2025-11-02T05:30:00Z',
      '2025-11-09T06:00:00Z',
    ],
  ])('when closed %s', (_story, window, now, expected) => {
    expect(nextWindowOpening(window, at(now)).toISOString()).toBe(at(expected).toISOString());
  });
});

describe('windowClosesAt', () => {
  it('never closes without a window', () => {
    expect(windowClosesAt(undefined, at('2025-01-06T10:00:00Z'))).toBeUndefined();
  });

  it('never closes when open around the clock', () => {
    const always = maintenanceWindow(NEW_YORK, windowRange(EVERY_DAY, '00:00', '24:00'));

    expect(windowClosesAt(always, at('2025-03-09T07:00:00Z'))).toBeUndefined();
  });

  it('is now when the window is closed', () => {
    const now = at('2025-01-11T10:00:00Z');

    expect(windowClosesAt(berlinOffice, now)).toBe(now);
  });

  it.each([
    ['at the end of the current range', berlinOffice, '2025-01-06T10:00:00Z', '2025-01-06T16:00:00Z'],
    [
      'at the end of ranges that follow each other without a gap',
      maintenanceWindow(
        BERLIN,
        windowRange(WEEKDAYS, '09:00', '12:00'),
        windowRange(WEEKDAYS, '12:00', '17:00'),
      ),
      '2025-01-06T09:00:00Z',
      '2025-01-06T16:00:00Z',
    ],
    [
      'at the end of overlapping ranges',
      maintenanceWindow(
        BERLIN,
        windowRange(['Mon'], '09:00', '12:00'),
        windowRange(['Mon'], '11:00', '14:00'),
      ),
      '2025-01-06T09:00:00Z',
      '2025-01-06T13:00:00Z',
    ],
    [
      'on Monday at midnight for a whole weekend',
      maintenanceWindow(BERLIN, windowRange(['Sat', 'Sun'], '00:00', '24:00')),
      '2025-01-11T12:00:00Z',
      '2025-01-12T23:00:00Z',
    ],
    [
      'an hour early overnight into spring forward (7 hours, not 8)',
      maintenanceWindow(BERLIN, windowRange(['Sat'], '22:00', '06:00')),
      '2025-03-29T21:00:00Z',
      '2025-03-30T04:00:00Z',
    ],
    [
      'after 23 hours on the spring-forward day',
      maintenanceWindow(BERLIN, windowRange(['Sun'], '00:00', '24:00')),
      '2025-03-29T23:00:00Z',
      '2025-03-30T22:00:00Z',
    ],
    [
      'after 25 hours on the fall-back day',
      maintenanceWindow(BERLIN, windowRange(['Sun'], '00:00', '24:00')),
      '2025-10-25T22:00:00Z',
      '2025-10-26T23:00:00Z',
    ],
    [
      'at the first 02:30 for an overnight range ending at a repeated time',
      maintenanceWindow(BERLIN, windowRange(['Sat'], '22:00', '02:30')),
      '2025-10-25T20:00:00Z',
      '2025-10-26T00:30:00Z',
    ],
    [
      'after both ranges when one ends in the gap and the next starts there (no gap in between)',
      maintenanceWindow(
        BERLIN,
        windowRange(['Sun'], '00:00', '02:30'),
        windowRange(['Sun'], '03:00', '05:00'),
      ),
      '2025-03-29T23:30:00Z',
      '2025-03-30T03:00:00Z',
    ],
  ])('closes %s', (_story, window, now, expected) => {
    expect(windowClosesAt(window, at(now))?.toISOString()).toBe(at(expected).toISOString());
  });
});

describe('bad windows', () => {
  it('names an unknown time zone', () => {
    const nowhere = maintenanceWindow('Europe/Atlantis', windowRange(WEEKDAYS, '09:00', '17:00'));

    expect(() => isWindowOpen(nowhere, at('2025-01-06T10:00:00Z'))).toThrow(InvalidInputError);
    expect(() => nextWindowOpening(nowhere, at('2025-01-06T10:00:00Z'))).toThrow(/Europe\/Atlantis/);
  });

  it('says a window with no range never opens', () => {
    const never = maintenanceWindow(BERLIN);

    expect(isWindowOpen(never, at('2025-01-06T10:00:00Z'))).toBe(false);
    expect(() => nextWindowOpening(never, at('2025-01-06T10:00:00Z'))).toThrow(/never opens/);
  });
});

describe('window properties (any zone, any ranges, any instant)', () => {
  // Zones with unusual rules: half-hour DST (Lord Howe), DST at midnight (Santiago), none (Kolkata).
  const zones = [BERLIN, NEW_YORK, 'Australia/Lord_Howe', 'America/Santiago', 'Asia/Kolkata', 'UTC'];
  const range: fc.Arbitrary<WindowRangeSpec> = fc
    .record({
      days: fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 7 }),
      startMinute: fc.integer({ min: 0, max: 1439 }),
      endMinute: fc.integer({ min: 1, max: 1440 }),
    })
    .filter((r) => r.startMinute !== r.endMinute)
    .map((r) => ({ ...r, days: r.days as Weekday[], text: 'generated' }));
  const window = fc.record({
    timezone: fc.constantFrom(...zones),
    allow: fc.array(range, { minLength: 1, maxLength: 3 }),
  });
  const instant = fc.date({
    min: at('2024-01-01T00:00:00Z'),
    max: at('2026-12-31T00:00:00Z'),
    noInvalidDate: true,
  });

  it('next opening is now or later, open, and nothing between is open', () => {
    fc.assert(
      fc.property(
        window,
        instant,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (w, now, f) => {
          const next = nextWindowOpening(w, now);
          const gap = next.getTime() - now.getTime();

          expect(gap).toBeGreaterThanOrEqual(0);
          expect(isWindowOpen(w, next)).toBe(true);
          if (gap > 0) {
            expect(isWindowOpen(w, new Date(next.getTime() - 1))).toBe(false);
            expect(isWindowOpen(w, new Date(now.getTime() + Math.floor(f * gap)))).toBe(false);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('an open window closes later, open until then and closed at that instant', () => {
    fc.assert(
      fc.property(window, instant, (w, now) => {
        const opening = nextWindowOpening(w, now);
        const closes = windowClosesAt(w, opening);
        if (closes === undefined) return;

        expect(closes.getTime()).toBeGreaterThan(opening.getTime());
        expect(isWindowOpen(w, new Date(closes.getTime() - 1))).toBe(true);
        expect(isWindowOpen(w, closes)).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});
