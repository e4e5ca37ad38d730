import { describe, expect, it } from 'vitest';
import { receiverSection } from '../../../src/config/receiver.js';
import { Roster } from '../../../src/alerting/oncall/roster.js';
import { duties, nextHandoff, onDutyAt, shiftAt, timeline } from '../../../src/alerting/oncall/schedule.js';
import type { ScheduleOverride } from '../../../src/alerting/oncall/schedule.js';
import { zonedIso } from '../../../src/zoned-time.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utc = (s: string) => Date.parse(s);

const people = ['alice', 'bob', 'carol', 'dave'].map((id) => ({
  id,
  name: id[0]!.toUpperCase() + id.slice(1),
  email: `${id}@company.com`,
  phone: `1380013801${id.length}`,
}));

/** A roster of one schedule, configured as a user writes it. */
function rosterOf(
  schedule: { time_zone: string; rotations: unknown[]; overrides?: unknown[] },
  api: ScheduleOverride[] = [],
) {
  const cfg = receiverSection.parse({ people, schedules: [{ name: 'primary', ...schedule }] });
  const roster = new Roster(cfg, () => api);
  return { roster, schedule: roster.schedule('primary')!, overrides: () => roster.overridesOf('primary') };
}

const weekly = (time_zone: string, handoff: string) =>
  rosterOf({ time_zone, rotations: [{ participants: ['alice', 'bob', 'carol'], shift: '1w', handoff }] });

describe('schedules: shift arithmetic in the schedule’s zone', () => {
  it('keeps a weekly Berlin handoff at Monday 09:00 local across both daylight-saving changes', () => {
    const { schedule } = weekly('Europe/Berlin', '2026-03-02T09:00');
    const rot = schedule.rotations[0]!;
    const at = (t: string) => shiftAt(rot, 'Europe/Berlin', utc(t));
    // The week in which the clocks go forward (Sunday 2026-03-29) is an hour short.
    const spring = at('2026-03-28T12:00:00Z');
    expect(zonedIso(spring.start, 'Europe/Berlin')).toBe('2026-03-23T09:00:00+01:00');
    expect(zonedIso(spring.end, 'Europe/Berlin')).toBe('2026-03-30T09:00:00+02:00');
    expect(new Date(spring.end).toISOString()).toBe('2026-03-30T07:00:00.000Z');
    expect(spring.end - spring.start).toBe(167 * HOUR);
    // …and the one in which they go back (Sunday 2026-10-25) an hour long.
    const autumn = at('2026-10-25T12:00:00Z');
    expect(zonedIso(autumn.start, 'Europe/Berlin')).toBe('2026-10-19T09:00:00+02:00');
    expect(zonedIso(autumn.end, 'Europe/Berlin')).toBe('2026-10-26T09:00:00+01:00');
    expect(autumn.end - autumn.start).toBe(169 * HOUR);
    // The duty passes alice → bob → carol → alice, one week each, counted from the handoff.
    expect(spring.index).toBe(3);
    expect(spring.person).toBe('alice');
    expect(at('2026-03-30T06:59:59Z').person).toBe('alice');
    expect(at('2026-03-30T07:00:00Z').person).toBe('bob');
    // Shifts repeat before the handoff too: the week before it was carol's.
    expect(at('2026-02-25T12:00:00Z')).toMatchObject({ index: -1, person: 'carol' });
  });

  it('hands over a weekly Shanghai rotation every Monday at 09:00 +08:00, 168 hours apart', () => {
    const { schedule, overrides } = weekly('Asia/Shanghai', '2026-03-02T09:00');
    const segments = timeline(
      schedule,
      overrides(),
      utc('2026-03-01T00:00:00Z'),
      utc('2026-04-06T00:00:00Z'),
    );
    expect(segments.map((s) => [new Date(s.start).toISOString(), s.people.join()])).toEqual([
      ['2026-03-01T00:00:00.000Z', 'carol'],
      ['2026-03-02T01:00:00.000Z', 'alice'],
      ['2026-03-09T01:00:00.000Z', 'bob'],
      ['2026-03-16T01:00:00.000Z', 'carol'],
      ['2026-03-23T01:00:00.000Z', 'alice'],
      ['2026-03-30T01:00:00.000Z', 'bob'],
    ]);
  });

  it('counts an hours shift in elapsed time: a 12h Berlin rotation moves from 09:00 to 10:00 local in summer', () => {
    const { schedule } = rosterOf({
      time_zone: 'Europe/Berlin',
      rotations: [{ participants: ['alice', 'bob'], shift: '12h', handoff: '2026-03-27T09:00' }],
    });
    const rot = schedule.rotations[0]!;
    const local = (t: string) => zonedIso(shiftAt(rot, 'Europe/Berlin', utc(t)).start, 'Europe/Berlin');
    expect(local('2026-03-27T10:00:00Z')).toBe('2026-03-27T09:00:00+01:00');
    expect(local('2026-03-30T10:00:00Z')).toBe('2026-03-30T10:00:00+02:00');
  });

  it('puts an override’s person on duty for its window, from the configuration and the API', () => {
    const start = utc('2026-03-11T01:00:00Z');
    const api: ScheduleOverride = {
      id: 'o1',
      schedule: 'primary',
      person: 'carol',
      start: utc('2026-03-12T01:00:00Z'),
      end: utc('2026-03-12T13:00:00Z'),
      comment: 'covering the afternoon',
      createdBy: 'alice',
      createdAt: start,
      source: 'api',
    };
    const { roster, schedule, overrides } = rosterOf(
      {
        time_zone: 'Asia/Shanghai',
        rotations: [{ participants: ['alice', 'bob', 'carol'], shift: '1w', handoff: '2026-03-02T09:00' }],
        // Wall-clock time in Shanghai: bob's Wednesday 09:00 to Thursday 09:00 is dave's.
        overrides: [{ person: 'dave', start: '2026-03-11T09:00', end: '2026-03-12T09:00', comment: 'swap' }],
      },
      [api],
    );
    expect(onDutyAt(schedule, overrides(), start - 1)).toEqual(['bob']);
    expect(onDutyAt(schedule, overrides(), start)).toEqual(['dave']);
    expect(roster.onDuty('primary', utc('2026-03-12T05:00:00Z')).map((p) => p.id)).toEqual(['carol']);
    expect(roster.onDuty('primary', utc('2026-03-12T13:00:00Z')).map((p) => p.id)).toEqual(['bob']);
    expect(nextHandoff(schedule, overrides(), start - 1)).toEqual({ at: start, people: ['dave'] });
    // Bob's week is cut in three; the duties name each stretch with its true start and end.
    const week = duties(schedule, overrides(), utc('2026-03-10T00:00:00Z'), utc('2026-03-15T00:00:00Z'));
    expect(
      week.map((d) => [d.person, new Date(d.start).toISOString(), new Date(d.end).toISOString()]),
    ).toEqual([
      ['bob', '2026-03-09T01:00:00.000Z', '2026-03-11T01:00:00.000Z'],
      ['dave', '2026-03-11T01:00:00.000Z', '2026-03-12T01:00:00.000Z'],
      ['carol', '2026-03-12T01:00:00.000Z', '2026-03-12T13:00:00.000Z'],
      ['bob', '2026-03-12T13:00:00.000Z', '2026-03-16T01:00:00.000Z'],
    ]);
  });

  it('puts each rotation’s participant on duty when a schedule has two (a primary and a shadow)', () => {
    const { roster } = rosterOf({
      time_zone: 'UTC',
      rotations: [
        { participants: ['alice', 'bob'], shift: '1d', handoff: '2026-03-02T09:00' },
        { participants: ['carol', 'dave'], shift: '1w', handoff: '2026-03-02T09:00' },
      ],
    });
    expect(roster.onDuty('primary', utc('2026-03-03T10:00:00Z')).map((p) => p.id)).toEqual(['bob', 'carol']);
    const status = roster.status('primary', utc('2026-03-03T10:00:00Z'), 1)!;
    expect(status.nextHandoff!.onDuty.map((p) => p.id)).toEqual(['alice', 'carol']);
    expect(new Date(status.nextHandoff!.at).toISOString()).toBe('2026-03-04T09:00:00.000Z');
    // One week ahead: carol's week and dave's start, and the daily shifts between.
    expect(status.shifts.filter((d) => d.person === 'carol')).toHaveLength(1);
    expect(status.shifts.filter((d) => d.person === 'alice' || d.person === 'bob')).toHaveLength(8);
  });

  it('finds the next handoff of a one-person rotation only at an override', () => {
    const { schedule } = rosterOf({
      time_zone: 'UTC',
      rotations: [{ participants: ['alice'], shift: '1w', handoff: '2026-03-02T09:00' }],
    });
    expect(nextHandoff(schedule, [], utc('2026-03-03T00:00:00Z'))).toBeUndefined();
    expect(
      duties(schedule, [], utc('2026-03-03T00:00:00Z'), utc('2026-03-03T00:00:00Z') + 2 * 7 * DAY),
    ).toHaveLength(1);
  });
});
