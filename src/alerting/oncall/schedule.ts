import { instantOf, wallClock } from '../../zoned-time.js';

// Who is on duty, as pure functions of (schedule, overrides, instant). A rotation hands the
// duty from one participant to the next every shift, counted from its handoff: an `h` shift is
// elapsed time, a `d` or `w` shift is calendar days in the schedule's zone, so a weekly handoff
// stays at 09:00 local time when the clocks change. Shifts repeat both ways from the handoff
// (any Monday 09:00 will do as the reference). An override puts its person on duty instead of
// the rotations for its window.

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const UNIT_DAYS = { d: 1, w: 7 } as const;

export interface Rotation {
  name: string;
  /** Person ids, in the order they take the shifts. */
  participants: string[];
  shift: { count: number; unit: 'h' | 'd' | 'w' };
  /** The handoff as wall-clock milliseconds in the schedule's zone (zoned-time.ts). */
  handoffWall: number;
  /** The handoff instant (what `h` shifts count from). */
  handoffAt: number;
}

export interface Schedule {
  name: string;
  timeZone: string;
  rotations: Rotation[];
}

/** A person on duty instead of the rotations for a window: from the configuration or the API. */
export interface ScheduleOverride {
  id: string;
  schedule: string;
  person: string;
  start: number;
  end: number;
  comment: string;
  createdBy: string;
  createdAt: number;
  source: 'config' | 'api';
}

/** One shift of a rotation: its number counted from the handoff (negative before it). */
export interface Shift {
  index: number;
  person: string;
  start: number;
  end: number;
}

/** A stretch of time in which the same people are on duty. */
export interface Segment {
  start: number;
  end: number;
  people: string[];
}

/** One person's time on duty, as a calendar shows it. */
export interface Duty {
  person: string;
  start: number;
  end: number;
}

const mod = (k: number, n: number) => ((k % n) + n) % n;

/** Nominal length of a rotation's shift (a day or week across a clock change differs by an hour). */
export function shiftLengthMs(r: Rotation): number {
  return r.shift.unit === 'h' ? r.shift.count * HOUR_MS : r.shift.count * UNIT_DAYS[r.shift.unit] * DAY_MS;
}

/** When shift `k` of a rotation begins. */
export function shiftStart(r: Rotation, zone: string, k: number): number {
  if (r.shift.unit === 'h') return r.handoffAt + k * shiftLengthMs(r);
  return instantOf(zone, r.handoffWall + k * shiftLengthMs(r));
}

/** The shift of a rotation that holds instant `t`. */
export function shiftAt(r: Rotation, zone: string, t: number): Shift {
  const len = shiftLengthMs(r);
  let k =
    r.shift.unit === 'h'
      ? Math.floor((t - r.handoffAt) / len)
      : Math.floor((wallClock(zone, t) - r.handoffWall) / len);
  // Near a clock change the wall-clock estimate can be one shift off.
  while (shiftStart(r, zone, k) > t) k--;
  while (shiftStart(r, zone, k + 1) <= t) k++;
  return {
    index: k,
    person: r.participants[mod(k, r.participants.length)] as string,
    start: shiftStart(r, zone, k),
    end: shiftStart(r, zone, k + 1),
  };
}

const overriding = (overrides: readonly ScheduleOverride[], t: number) =>
  overrides.filter((o) => o.start <= t && t < o.end).sort((a, b) => a.start - b.start);

/** Person ids on duty at `t`: the active overrides' people, else each rotation's current participant. */
export function onDutyAt(s: Schedule, overrides: readonly ScheduleOverride[], t: number): string[] {
  const active = overriding(overrides, t);
  const ids = active.length
    ? active.map((o) => o.person)
    : s.rotations.map((r) => shiftAt(r, s.timeZone, t).person);
  return [...new Set(ids)];
}

/** Most changes a timeline computes: a year of hourly shifts, with room for overrides. */
const MAX_BOUNDARIES = 20_000;

/** Instants in (from, to) at which who is on duty may change, ascending. */
function boundaries(s: Schedule, overrides: readonly ScheduleOverride[], from: number, to: number): number[] {
  const out = new Set<number>();
  for (const r of s.rotations) {
    let k = shiftAt(r, s.timeZone, from).index + 1;
    for (
      let t = shiftStart(r, s.timeZone, k);
      t < to && out.size < MAX_BOUNDARIES;
      t = shiftStart(r, s.timeZone, ++k)
    )
      out.add(t);
  }
  for (const o of overrides) for (const t of [o.start, o.end]) if (t > from && t < to) out.add(t);
  return [...out].sort((a, b) => a - b);
}

/** Who is on duty over [from, to), in stretches; consecutive stretches always differ. */
export function timeline(
  s: Schedule,
  overrides: readonly ScheduleOverride[],
  from: number,
  to: number,
): Segment[] {
  const out: Segment[] = [];
  const starts = [from, ...boundaries(s, overrides, from, to)];
  starts.forEach((start, i) => {
    const end = starts[i + 1] ?? to;
    const people = onDutyAt(s, overrides, start);
    const last = out.at(-1);
    if (last && last.people.join('\0') === people.join('\0')) last.end = end;
    else out.push({ start, end, people });
  });
  return out;
}

/** The next change of who is on duty after `t` (looked for up to a year ahead). */
export function nextHandoff(
  s: Schedule,
  overrides: readonly ScheduleOverride[],
  t: number,
): { at: number; people: string[] } | undefined {
  const longest = Math.max(DAY_MS, ...s.rotations.map(shiftLengthMs));
  for (let span = 2 * longest; ; span *= 2) {
    const horizon = Math.min(span, 366 * DAY_MS);
    const next = timeline(s, overrides, t, t + horizon)[1];
    if (next) return { at: next.start, people: next.people };
    if (horizon >= 366 * DAY_MS) return undefined;
  }
}

/**
 * Each person's duties that overlap [from, to), with their true start and end (a duty that
 * began before `from`, or ends after `to`, is not cut), in order of start. The API's shifts
 * and the calendar feed are both this list.
 */
export function duties(
  s: Schedule,
  overrides: readonly ScheduleOverride[],
  from: number,
  to: number,
): Duty[] {
  const longest = Math.max(HOUR_MS, ...s.rotations.map(shiftLengthMs)) + 2 * HOUR_MS;
  const begin = Math.min(
    from,
    ...s.rotations.map((r) => shiftAt(r, s.timeZone, from).start),
    ...overriding(overrides, from).map((o) => o.start),
  );
  const segments = timeline(s, overrides, begin, to + longest);
  const out: Duty[] = [];
  const open = new Map<string, number>();
  for (const seg of segments) {
    for (const [person, start] of open)
      if (!seg.people.includes(person)) {
        out.push({ person, start, end: seg.start });
        open.delete(person);
      }
    for (const person of seg.people) if (!open.has(person)) open.set(person, seg.start);
  }
  // Duties still running at the end of the look-ahead end there.
  const end = segments.at(-1)?.end ?? to;
  for (const [person, start] of open) out.push({ person, start, end });
  return out.filter((d) => d.start < to && d.end > from).sort((a, b) => a.start - b.start);
}
