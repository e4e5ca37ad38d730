import { describe, expect, it } from 'vitest';
import { receiverSection } from '../../../src/config/receiver.js';
import {
  calendarFeed,
  calendarToken,
  calendarTokenOk,
  foldLine,
} from '../../../src/alerting/oncall/calendar.js';
import { Roster } from '../../../src/alerting/oncall/roster.js';
import { parseCalendar } from '../../support/ical.js';

const now = Date.parse('2026-03-18T12:00:00Z');
const cfg = receiverSection.parse({
  people: [
    {
      id: 'wang',
      name: '王伟, 值班工程师; 第一响应人 \\ 数据库与基础设施',
      phone: '13800138010',
      email: 'wang@company.com',
    },
    { id: 'li', name: 'Li Na', phone: '13800138011', email: 'li@company.com' },
    { id: 'zhang', name: 'Zhang Min', email: 'zhang@company.com' },
  ],
  schedules: [
    {
      name: 'primary',
      time_zone: 'Europe/Berlin',
      rotations: [{ participants: ['wang', 'li', 'zhang'], shift: '1w', handoff: '2026-03-02T09:00' }],
      overrides: [{ person: 'zhang', start: '2026-03-24T18:00', end: '2026-03-25T09:00' }],
    },
  ],
});
const roster = new Roster(cfg);

describe('the iCalendar feed (RFC 5545), read by ical.js', () => {
  it('has one event per shift, the same shifts as the schedule, across the change to summer time', () => {
    const status = roster.status('primary', now, 4)!;
    const feed = calendarFeed({
      schedule: 'primary',
      timeZone: status.timeZone,
      duties: status.shifts,
      person: (id) => roster.person(id),
      now,
      domain: 'stackwatch.test',
    });
    expect(feed.endsWith('\r\n')).toBe(true);
    expect(feed.split('\r\n').every((l) => Buffer.byteLength(l) <= 75)).toBe(true);
    const cal = parseCalendar(feed);
    expect(cal.name).toBe('On call: primary');
    expect(cal.events.map((e) => [e.start, e.end])).toEqual(
      status.shifts.map((d) => [new Date(d.start).toISOString(), new Date(d.end).toISOString()]),
    );
    // Zhang's week, Wang's cut by Zhang's override for the night of 24 March, Li's, and on.
    const wang = '王伟, 值班工程师; 第一响应人 \\ 数据库与基础设施';
    expect(cal.events.map((e) => e.summary.replace(/^On call: (.*) \(primary\)$/, '$1'))).toEqual([
      'Zhang Min',
      wang,
      'Zhang Min',
      wang,
      'Li Na',
      'Zhang Min',
      wang,
    ]);
    expect(cal.events[2]).toMatchObject({
      start: '2026-03-24T17:00:00.000Z',
      end: '2026-03-25T08:00:00.000Z',
    });
    // Monday 09:00 in Berlin: 08:00Z in winter, 07:00Z from 2026-03-30 on.
    expect(cal.events[0]!.start).toBe('2026-03-16T08:00:00.000Z');
    expect(cal.events[4]!.start).toBe('2026-03-30T07:00:00.000Z');
    expect(cal.events[1]!.description).toBe(
      '王伟, 值班工程师; 第一响应人 \\ 数据库与基础设施 is on call for primary.\nPhone: 13800138010\nEmail: wang@company.com',
    );
    expect(new Set(cal.events.map((e) => e.uid)).size).toBe(cal.events.length);
  });

  it('folds long lines at 75 octets without splitting a UTF-8 character', () => {
    const line = `SUMMARY:${'值班'.repeat(40)}`;
    const folded = foldLine(line);
    const parts = folded.split('\r\n');
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p, i) => Buffer.byteLength(p) <= 75 && (i === 0 || p.startsWith(' ')))).toBe(true);
    expect(parts.map((p, i) => (i ? p.slice(1) : p)).join('')).toBe(line);
  });

  it('signs the read-only link per schedule', () => {
    const token = calendarToken('secret-one', 'primary');
    expect(calendarTokenOk('secret-one', 'primary', token)).toBe(true);
    expect(calendarTokenOk('secret-one', 'secondary', token)).toBe(false);
    expect(calendarTokenOk('secret-two', 'primary', token)).toBe(false);
    expect(calendarTokenOk('secret-one', 'primary', `${token.slice(0, -1)}A`)).toBe(token.endsWith('A'));
    expect(calendarTokenOk('secret-one', 'primary', ['array'])).toBe(false);
  });
});
