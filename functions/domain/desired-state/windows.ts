/**
 * Maintenance-window ranges as written in `phoenix.yaml` ("Mon-Fri 09:00-17:00"), parsed
 * into {@link WindowRangeSpec}s and checked against each other. Pure; shared by
 * validation (which reports the problems) and compilation (which needs the specs).
 */
import type { Weekday, WindowRangeSpec } from '../model';

/** Day names in the order of {@link Weekday}: Monday = 0 … Sunday = 6. */
export const WEEKDAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

const MINUTES_PER_DAY = 1440;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

export type WindowRangeParse = { ok: true; range: WindowRangeSpec } | { ok: false; message: string };

function weekdayOf(name: string): Weekday | undefined {
  const index = WEEKDAY_NAMES.indexOf(name as (typeof WEEKDAY_NAMES)[number]);
  return index < 0 ? undefined : (index as Weekday);
}

/** "HH:MM" → minutes after midnight; "24:00" only where `allow24` (an end time). */
function minutesOf(text: string, allow24: boolean): number | undefined {
  const parts = /^(\d\d):(\d\d)$/.exec(text);
  if (parts === null) return undefined;
  const hours = Number(parts[1]);
  const minutes = Number(parts[2]);
  if (allow24 && hours === 24 && minutes === 0) return MINUTES_PER_DAY;
  if (hours > 23 || minutes > 59) return undefined;
  return hours * 60 + minutes;
}

/**
 * Days as written: "Mon", "Mon-Fri", "Fri-Mon" (wraps past Sunday), "Sat,Sun", "Mon-Wed,Fri".
 * Returns the days in the order written, repeats included, so the caller can report them.
 */
function parseDays(text: string): Weekday[] | string {
  const days: Weekday[] = [];
  for (const part of text.split(',')) {
    const [from, to, ...extra] = part.split('-');
    const first = weekdayOf(from ?? '');
    const last = to === undefined ? first : weekdayOf(to);
    if (first === undefined || last === undefined || extra.length > 0) {
      return `expected days like "Mon-Fri" or "Sat,Sun" (Mon, Tue, Wed, Thu, Fri, Sat, Sun), got "${part}"`;
    }
    const span = (last - first + 7) % 7;
    for (let offset = 0; offset <= span; offset += 1) days.push(((first + offset) % 7) as Weekday);
  }
  return days;
}

function formatMinute(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/**
 * Parses one range. An end at or before the start means the range runs past midnight into
 * the next day ("Fri 22:00-02:00" ends Saturday 02:00); an end equal to the start is empty
 * and refused (a whole day is "00:00-24:00").
 */
export function parseWindowRange(text: string): WindowRangeParse {
  const [daysText, timesText, ...extra] = text.trim().split(/\s+/);
  const times = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(timesText ?? '');
  if (daysText === undefined || times === null || extra.length > 0) {
    return { ok: false, message: `expected "DAYS HH:MM-HH:MM" like "Mon-Fri 09:00-17:00", got "${text}"` };
  }
  const days = parseDays(daysText);
  if (typeof days === 'string') return { ok: false, message: days };
  const startMinute = minutesOf(times[1] ?? '', false);
  const endMinute = minutesOf(times[2] ?? '', true);
  if (startMinute === undefined || endMinute === undefined) {
    return {
      ok: false,
      message: `expected 24-hour times from 00:00 to 23:59 (an end may be 24:00), got "${timesText}"`,
    };
  }
  if (startMinute === endMinute) {
    return {
      ok: false,
      message: `"${text}" is empty: expected an end time different from the start (a whole day is 00:00-24:00)`,
    };
  }
  const seen = new Set<Weekday>();
  for (const day of days) {
    if (seen.has(day)) {
      return { ok: false, message: `"${text}" lists ${WEEKDAY_NAMES[day]} twice: expected each day once` };
    }
    seen.add(day);
  }
  return {
    ok: true,
    range: { text, days: [...days].sort((a, b) => a - b), startMinute, endMinute },
  };
}

/** Minutes since Monday 00:00 local time: [start, end), end may pass the end of the week. */
type Interval = readonly [number, number];

/** The stretches of the week one range covers, one per day it starts on. */
export function weeklyIntervals(range: WindowRangeSpec): Interval[] {
  const length =
    range.endMinute > range.startMinute
      ? range.endMinute - range.startMinute
      : range.endMinute + MINUTES_PER_DAY - range.startMinute;
  return range.days.map((day) => {
    const start = day * MINUTES_PER_DAY + range.startMinute;
    return [start, start + length] as const;
  });
}

/** The common part of two intervals on the weekly circle, if any. */
function intersect(a: Interval, b: Interval): Interval | undefined {
  for (const shift of [-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK]) {
    const start = Math.max(a[0], b[0] + shift);
    const end = Math.min(a[1], b[1] + shift);
    if (start < end) return [start, end];
  }
  return undefined;
}

/** "Mon 12:00" for a minute of the week (an end exactly at midnight reads "Mon 24:00"). */
function formatWeekMinute(minute: number, isEnd: boolean): string {
  const inWeek = ((minute % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  const atMidnight = isEnd && inWeek % MINUTES_PER_DAY === 0;
  const day = Math.floor((atMidnight ? inWeek - 1 + MINUTES_PER_WEEK : inWeek) / MINUTES_PER_DAY) % 7;
  const time = atMidnight ? MINUTES_PER_DAY : inWeek % MINUTES_PER_DAY;
  return `${WEEKDAY_NAMES[day]} ${formatMinute(time)}`;
}

/** Two ranges of one window that cover the same moment. `later` is the one written second. */
export interface WindowOverlap {
  earlier: number;
  later: number;
  /** "Mon 12:00 to Mon 17:00". */
  during: string;
}

/**
 * Every pair of ranges that overlap (each pair once). Touching ranges ("09:00-12:00" and
 * "12:00-17:00") do not overlap. Indexes refer to `ranges`; `undefined` entries (ranges
 * that did not parse) are skipped so one bad range does not hide the others' problems.
 */
export function findWindowOverlaps(ranges: readonly (WindowRangeSpec | undefined)[]): WindowOverlap[] {
  const overlaps: WindowOverlap[] = [];
  ranges.forEach((later, laterIndex) => {
    if (later === undefined) return;
    for (let earlierIndex = 0; earlierIndex < laterIndex; earlierIndex += 1) {
      const earlier = ranges[earlierIndex];
      if (earlier === undefined) continue;
      const common = firstCommon(weeklyIntervals(earlier), weeklyIntervals(later));
      if (common !== undefined) {
        overlaps.push({
          earlier: earlierIndex,
          later: laterIndex,
          during: `${formatWeekMinute(common[0], false)} to ${formatWeekMinute(common[1], true)}`,
        });
      }
    }
  });
  return overlaps;
}

function firstCommon(a: readonly Interval[], b: readonly Interval[]): Interval | undefined {
  for (const x of a) {
    for (const y of b) {
      const common = intersect(x, y);
      if (common !== undefined) return common;
    }
  }
  return undefined;
}
