/**
 * Maintenance windows: is a replacement allowed to start now, and if not, when?
 *
 * Windows are written in local wall-clock time of an IANA time zone ("Mon-Fri 09:00-17:00
 * Europe/Berlin") and judged on instants, so daylight saving time is handled where it bites:
 *
 * - Each range opens once on each day it lists: from the instant its start time occurs that
 *   day to the instant its end time occurs (the next day when it runs past midnight). A range
 *   therefore lasts an hour more or less across a clock change, as the wall clock says.
 * - A local time that does not exist (skipped when clocks spring forward) stands for the first
 *   instant after the gap: "02:30-04:00" on that day opens at 03:00. A range wholly inside the
 *   gap does not open that day.
 * - A local time that occurs twice (clocks fall back) stands for its first occurrence, for the
 *   start and the end alike: "02:15-02:45" opens once, in summer time, and is not reopened when
 *   the clock shows 02:15 again.
 *
 * Pure: `now` is passed in and time zone rules come from `Intl.DateTimeFormat` alone.
 */
import { InvalidInputError } from './errors';
import type { MaintenanceWindow, WindowRangeSpec } from './model';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** How far ahead to look: every weekly range occurs within 8 local days, even if a DST gap swallows one. */
const HORIZON_DAYS = 15;

/** Formatters are costly to build and immutable: one per time zone for the life of the process. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  const cached = formatters.get(timezone);
  if (cached !== undefined) return cached;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (cause) {
    throw new InvalidInputError(
      `unknown time zone "${timezone}" (expected an IANA name such as Europe/Berlin)`,
      {
        cause,
      },
    );
  }
  formatters.set(timezone, formatter);
  return formatter;
}

/**
 * The local wall-clock reading at instant `t`, as milliseconds of a UTC calendar
 * (`Date.UTC(local year, month, day, hour, minute, second)`), to the second.
 */
function wallClockAt(t: number, timezone: string): number {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(t))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const {
    year = Number.NaN,
    month = Number.NaN,
    day = Number.NaN,
    hour = 0,
    minute = 0,
    second = 0,
  } = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** The zone's offset from UTC at instant `t`, in milliseconds (positive east of Greenwich). */
function offsetAt(t: number, timezone: string): number {
  return wallClockAt(t, timezone) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant a local wall-clock time occurs: its first occurrence when it occurs twice,
 * the end of the gap when it does not occur at all.
 */
function instantOf(wall: number, timezone: string): number {
  // A zone changes offset at most once in two days, so the offsets a day either side are
  // the only candidates.
  const offsetBefore = offsetAt(wall - DAY_MS, timezone);
  const offsetAfter = offsetAt(wall + DAY_MS, timezone);
  const occurrences = [...new Set([offsetBefore, offsetAfter])]
    .map((offset) => wall - offset)
    .filter((t) => wallClockAt(t, timezone) === wall);
  if (occurrences.length > 0) return Math.min(...occurrences);
  if (offsetBefore === offsetAfter) return wall - offsetBefore;

  // Skipped time: the clock jumped over `wall`. The first instant after the gap is the
  // transition, somewhere between the two readings; find it by bisection (to the millisecond).
  let lo = wall - Math.max(offsetBefore, offsetAfter);
  let hi = wall - Math.min(offsetBefore, offsetAfter);
  const offsetAfterGap = offsetAt(hi, timezone);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, timezone) === offsetAfterGap) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Days since 1970-01-01 of the local calendar date at instant `t`. */
function localDayAt(t: number, timezone: string): number {
  return Math.floor(wallClockAt(t, timezone) / DAY_MS);
}

/** Monday = 0 … Sunday = 6; 1970-01-01 was a Thursday. */
function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

interface Opening {
  start: number;
  end: number;
  range: WindowRangeSpec;
}

/** Every non-empty opening of the window whose start day lies in [firstDay, lastDay], by start. */
function openingsBetween(window: MaintenanceWindow, firstDay: number, lastDay: number): Opening[] {
  const openings: Opening[] = [];
  for (let day = firstDay; day <= lastDay; day++) {
    const weekday = weekdayOf(day);
    for (const range of window.allow) {
      if (!range.days.some((d) => d === weekday)) continue;
      const endDay = range.endMinute <= range.startMinute ? day + 1 : day;
      const start = instantOf(day * DAY_MS + range.startMinute * MINUTE_MS, window.timezone);
      const end = instantOf(endDay * DAY_MS + range.endMinute * MINUTE_MS, window.timezone);
      if (end > start) openings.push({ start, end, range });
    }
  }
  return openings.sort((a, b) => a.start - b.start);
}

/** Openings that can contain `t` or come after it within the horizon. */
function openingsAround(window: MaintenanceWindow, t: number): Opening[] {
  const today = localDayAt(t, window.timezone);
  // A range that started two local days ago can still be open (overnight, lengthened by DST).
  return openingsBetween(window, today - 2, today + HORIZON_DAYS);
}

/**
 * Whether a replacement may start at `now`. No window means always.
 *
 * @throws InvalidInputError when the time zone is unknown.
 */
export function isWindowOpen(window: MaintenanceWindow | undefined, now: Date): boolean {
  if (window === undefined) return true;
  const t = now.getTime();
  return openingsAround(window, t).some((o) => o.start <= t && t < o.end);
}

/**
 * `now` when the window is open (or there is none); otherwise the exact instant it next opens.
 *
 * @throws InvalidInputError when the time zone is unknown or the window never opens
 *   (no allowed range, or only ranges that cannot occur).
 */
export function nextWindowOpening(window: MaintenanceWindow | undefined, now: Date): Date {
  if (window === undefined) return now;
  const t = now.getTime();
  const openings = openingsAround(window, t);
  if (openings.some((o) => o.start <= t && t < o.end)) return now;
  const next = openings.find((o) => o.start > t);
  if (next === undefined) {
    throw new InvalidInputError(
      `the maintenance window in ${window.timezone} never opens: it has no range that can occur`,
    );
  }
  return new Date(next.start);
}

/**
 * When the window open at `now` closes: the end of the current range, or of the chain of
 * ranges that overlap or follow it without a gap (Sat 00:00-24:00 then Sun 00:00-24:00 closes
 * Monday at midnight). `now` itself when the window is closed; `undefined` when it never
 * closes (no window, or one open around the clock).
 *
 * @throws InvalidInputError when the time zone is unknown.
 */
export function windowClosesAt(window: MaintenanceWindow | undefined, now: Date): Date | undefined {
  if (window === undefined) return undefined;
  const t = now.getTime();
  const openings = openingsAround(window, t);
  const current = openings.filter((o) => o.start <= t && t < o.end);
  if (current.length === 0) return now;
  let closes = Math.max(...current.map((o) => o.end));
  for (;;) {
    const at = closes;
    const continuing = openings.filter((o) => o.start <= at && at < o.end);
    if (continuing.length === 0) break;
    closes = Math.max(...continuing.map((o) => o.end));
  }
  // Still open at the last opening we computed: the window is open around the clock.
  const lastEnd = Math.max(...openings.map((o) => o.end));
  return closes >= lastEnd ? undefined : new Date(closes);
}
