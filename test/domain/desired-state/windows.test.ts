import { describe, expect, it } from 'vitest';
import { findWindowOverlaps, parseWindowRange } from '../../../functions/domain/desired-state/windows';
import type { WindowRangeSpec } from '../../../functions/domain/model';

function parsed(text: string): WindowRangeSpec {
  const result = parseWindowRange(text);
  if (!result.ok) throw new Error(`expected "${text}" to parse: ${result.message}`);
  return result.range;
}

describe('parseWindowRange', () => {
  it.each([
    { text: 'Mon-Fri 09:00-17:00', days: [0, 1, 2, 3, 4], start: 9 * 60, end: 17 * 60 },
    { text: 'Sat,Sun 00:00-24:00', days: [5, 6], start: 0, end: 1440 },
    { text: 'Fri-Mon 01:00-05:00', days: [0, 4, 5, 6], start: 60, end: 300 },
    { text: 'Mon-Wed,Fri 10:30-11:45', days: [0, 1, 2, 4], start: 630, end: 705 },
    { text: 'Sun 23:59-24:00', days: [6], start: 1439, end: 1440 },
    { text: 'Fri 22:00-02:00', days: [4], start: 22 * 60, end: 2 * 60 },
    { text: 'Wed 00:00-00:30', days: [2], start: 0, end: 30 },
  ])('reads "$text"', ({ text, days, start, end }) => {
    expect(parseWindowRange(text)).toEqual({
      ok: true,
      range: { text, days, startMinute: start, endMinute: end },
    });
  });

  it.each([
    { text: 'Mon 10:00-10:00', message: '"Mon 10:00-10:00" is empty' },
    { text: 'Mon 00:00-00:00', message: '"Mon 00:00-00:00" is empty' },
    { text: 'Mon,Mon 10:00-11:00', message: 'lists Mon twice' },
    { text: 'Fri-Mon,Sun 10:00-11:00', message: 'lists Sun twice' },
    { text: 'Monday 10:00-11:00', message: 'expected days like "Mon-Fri" or "Sat,Sun"' },
    { text: 'Mon-Tue-Wed 10:00-11:00', message: 'expected days like "Mon-Fri" or "Sat,Sun"' },
    { text: 'Mon 24:00-10:00', message: 'expected 24-hour times from 00:00 to 23:59 (an end may be 24:00)' },
    { text: 'Mon 10:00-24:01', message: 'expected 24-hour times' },
    { text: 'Mon 9:00-10:00', message: 'expected "DAYS HH:MM-HH:MM"' },
    { text: 'Mon', message: 'expected "DAYS HH:MM-HH:MM"' },
    { text: 'Mon 10:00-11:00 UTC', message: 'expected "DAYS HH:MM-HH:MM"' },
  ])('refuses "$text"', ({ text, message }) => {
    const result = parseWindowRange(text);

    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.message).toContain(message);
  });
});

describe('findWindowOverlaps', () => {
  it.each([
    { ranges: ['Mon-Fri 09:00-12:00', 'Mon-Fri 12:00-17:00'], why: 'ranges that touch' },
    {
      ranges: ['Mon 22:00-02:00', 'Tue 02:00-04:00'],
      why: 'an overnight range and the next morning after it ends',
    },
    { ranges: ['Sun 22:00-24:00', 'Mon 00:00-01:00'], why: 'the end of the week and the start of the next' },
    { ranges: ['Mon,Wed 10:00-11:00', 'Tue,Thu 10:00-11:00'], why: 'the same hours on other days' },
  ])('finds none between $why', ({ ranges }) => {
    expect(findWindowOverlaps(ranges.map(parsed))).toEqual([]);
  });

  it.each([
    {
      ranges: ['Mon-Fri 09:00-17:00', 'Fri 16:00-18:00'],
      overlap: { earlier: 0, later: 1, during: 'Fri 16:00 to Fri 17:00' },
    },
    {
      ranges: ['Fri 22:00-02:00', 'Sat 01:00-03:00'],
      overlap: { earlier: 0, later: 1, during: 'Sat 01:00 to Sat 02:00' },
    },
    {
      ranges: ['Sun 23:00-01:00', 'Mon 00:00-00:30'],
      overlap: { earlier: 0, later: 1, during: 'Mon 00:00 to Mon 00:30' },
    },
    {
      ranges: ['Sat,Sun 00:00-24:00', 'Tue 08:00-09:00', 'Sun 12:00-13:00'],
      overlap: { earlier: 0, later: 2, during: 'Sun 12:00 to Sun 13:00' },
    },
    {
      ranges: ['Wed 20:00-24:00', 'Wed 18:00-22:00'],
      overlap: { earlier: 0, later: 1, during: 'Wed 20:00 to Wed 22:00' },
    },
    {
      ranges: ['Thu 12:00-24:00', 'Thu 23:00-24:00'],
      overlap: { earlier: 0, later: 1, during: 'Thu 23:00 to Thu 24:00' },
    },
  ])('reports $ranges.0 and $ranges.1 (or the later one that overlaps)', ({ ranges, overlap }) => {
    expect(findWindowOverlaps(ranges.map(parsed))).toEqual([overlap]);
  });

  it('reports every overlapping pair once, and skips ranges that did not parse', () => {
    const ranges = [
      parsed('Mon 09:00-12:00'),
      undefined,
      parsed('Mon 11:00-13:00'),
      parsed('Mon 10:00-10:30'),
    ];

    expect(findWindowOverlaps(ranges)).toEqual([
      { earlier: 0, later: 2, during: 'Mon 11:00 to Mon 12:00' },
      { earlier: 0, later: 3, during: 'Mon 10:00 to Mon 10:30' },
    ]);
  });
});
