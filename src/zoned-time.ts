// Wall-clock time in an IANA time zone, with nothing but Node's Intl: the zone's offset at an
// instant comes from Intl.DateTimeFormat, and a wall-clock time is turned back into an instant
// by trying the offsets in force a day either side of it. Used by the configuration (a
// schedule's handoff and overrides) and by the on-call schedules (shift arithmetic that keeps a
// weekly handoff at 09:00 local time across a daylight-saving change).

const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    // Only zones that exist reach here (isTimeZone), so the cache holds the configured few.
    formatters.set(zone, f);
  }
  return f;
}

/** Whether Node knows `zone` as an IANA time zone (`Asia/Shanghai`, `Europe/Berlin`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(zone)) return false;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/**
 * Offsets already read, per zone and quarter hour. Zones change offset on a quarter hour of UTC
 * (their offsets are multiples of 15 minutes and the changes happen on the local hour or half
 * hour), so a quarter hour whose first and last second have one offset has it throughout.
 * Who is on duty reads a few offsets per question; the cache makes the repeated ones a lookup.
 */
const QUARTER_MS = 15 * 60_000;
const MAX_CACHED = 20_000;
const offsets = new Map<string, Map<number, number>>();

/** The zone's offset from UTC at an instant, in milliseconds (east of Greenwich positive). */
export function zoneOffsetMs(zone: string, instant: number): number {
  const quarter = Math.floor(instant / QUARTER_MS);
  let cache = offsets.get(zone);
  const hit = cache?.get(quarter);
  if (hit !== undefined) return hit;
  const first = readOffsetMs(zone, quarter * QUARTER_MS);
  if (first !== readOffsetMs(zone, (quarter + 1) * QUARTER_MS - 1000)) return readOffsetMs(zone, instant);
  if (!cache) offsets.set(zone, (cache = new Map()));
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(quarter, first);
  return first;
}

/** The offset at an instant as Intl reads it. */
function readOffsetMs(zone: string, instant: number): number {
  const seconds = Math.floor(instant / 1000) * 1000;
  const p: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(seconds))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour, p.minute, p.second);
  return wall - seconds;
}

/**
 * The wall-clock reading of an instant in a zone, as the milliseconds since 1970-01-01T00:00
 * of that wall clock (read as if it were UTC). Wall-clock milliseconds have no daylight-saving
 * jumps: adding 7 days to them is "the same time next week".
 */
export function wallClock(zone: string, instant: number): number {
  return instant + zoneOffsetMs(zone, instant);
}

/**
 * The instant a wall-clock reading names in a zone. A reading that happens twice (the hour a
 * clock is turned back) is its earlier instant; one that never happens (the hour a clock is
 * turned forward) is moved forward by the length of the gap: 02:30 on the night Berlin goes
 * from 02:00 to 03:00 is 03:30. These are RFC 5545's and Temporal's "compatible" rules.
 */
export function instantOf(zone: string, wall: number): number {
  // Zones change offset at most once within a day either side of any instant.
  const before = wall - zoneOffsetMs(zone, wall - DAY_MS);
  const after = wall - zoneOffsetMs(zone, wall + DAY_MS);
  const valid = [before, after].filter((t) => wallClock(zone, t) === wall);
  if (valid.length) return Math.min(...valid);
  // In a gap: the offset before the change, which lands after the gap.
  return before;
}

/** A wall-clock time without offset: `2026-03-23T09:00`, seconds optional, `T` or a space. */
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;
/** An RFC 3339 time with `Z` or an offset. */
const ABSOLUTE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Wall-clock milliseconds of `2026-03-23T09:00`, or undefined when it is not a valid one. */
export function parseWallClock(text: string): number | undefined {
  const m = LOCAL.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((v) => Number(v ?? 0)) as number[];
  const wall = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
  const back = new Date(wall);
  // 2026-02-30 or 25:00 would roll over: refused rather than guessed.
  if (back.getUTCMonth() !== (mo as number) - 1 || back.getUTCDate() !== d || (h as number) > 23)
    return undefined;
  return wall;
}

/**
 * A time as people write it for a schedule: wall-clock time in the schedule's zone
 * (`2026-03-23T09:00`), or an RFC 3339 time with `Z` or an offset, which is that instant.
 */
export function parseZonedTime(text: string, zone: string): number | undefined {
  const t = text.trim();
  const wall = parseWallClock(t);
  if (wall !== undefined) return instantOf(zone, wall);
  if (!ABSOLUTE.test(t)) return undefined;
  const ms = Date.parse(t.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** An instant as RFC 3339 in the zone's local time: `2026-03-23T09:00:00+01:00`. */
export function zonedIso(instant: number, zone: string): string {
  const offset = zoneOffsetMs(zone, instant);
  const w = new Date(Math.floor(instant / 1000) * 1000 + offset);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / 60_000;
  return (
    `${w.getUTCFullYear()}-${pad(w.getUTCMonth() + 1)}-${pad(w.getUTCDate())}` +
    `T${pad(w.getUTCHours())}:${pad(w.getUTCMinutes())}:${pad(w.getUTCSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}
