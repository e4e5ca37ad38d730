import { describe, expect, it } from 'vitest';
import {
  instantOf,
  isTimeZone,
  parseWallClock,
  parseZonedTime,
  wallClock,
  zonedIso,
  zoneOffsetMs,
} from '../../src/zoned-time.js';

const HOUR = 3_600_000;
const utc = (s: string) => Date.parse(s);

describe('zoned time (Intl only)', () => {
  it('knows IANA zones and refuses anything else', () => {
    for (const z of ['Asia/Shanghai', 'Europe/Berlin', 'America/New_York', 'UTC'])
      expect(isTimeZone(z)).toBe(true);
    for (const z of ['Mars/Olympus', 'CET CEST', '', '../../etc/passwd', 'Asia/Shanghai\n'])
      expect(isTimeZone(z), z).toBe(false);
  });

  it('gives the offset in force: Berlin +1 in winter, +2 in summer; Shanghai +8 all year', () => {
    expect(zoneOffsetMs('Europe/Berlin', utc('2026-01-15T12:00:00Z'))).toBe(HOUR);
    expect(zoneOffsetMs('Europe/Berlin', utc('2026-07-15T12:00:00Z'))).toBe(2 * HOUR);
    // The change itself: 01:00Z on 2026-03-29 (02:00 CET becomes 03:00 CEST).
    expect(zoneOffsetMs('Europe/Berlin', utc('2026-03-29T00:59:59Z'))).toBe(HOUR);
    expect(zoneOffsetMs('Europe/Berlin', utc('2026-03-29T01:00:00Z'))).toBe(2 * HOUR);
    expect(zoneOffsetMs('Asia/Shanghai', utc('2026-01-15T12:00:00Z'))).toBe(8 * HOUR);
    expect(zoneOffsetMs('Asia/Shanghai', utc('2026-07-15T12:00:00Z'))).toBe(8 * HOUR);
    expect(zoneOffsetMs('America/New_York', utc('2026-01-15T12:00:00Z'))).toBe(-5 * HOUR);
  });

  it('reads a change of offset that is not on a quarter hour (Shanghai’s local mean time until 1901)', () => {
    const lmt = 8 * HOUR + 5 * 60_000 + 43_000;
    for (let i = 0; i < 2; i++) {
      // Twice: the second answers come from what the first read.
      expect(zoneOffsetMs('Asia/Shanghai', utc('1900-12-31T15:54:16Z'))).toBe(lmt);
      expect(zoneOffsetMs('Asia/Shanghai', utc('1900-12-31T15:54:17Z'))).toBe(8 * HOUR);
      expect(zoneOffsetMs('Asia/Shanghai', utc('1900-12-31T15:45:00Z'))).toBe(lmt);
    }
  });

  it('turns wall-clock times into instants, a gap moved forward and an overlap its earlier instant', () => {
    const berlin = (wall: string) => zonedIso(parseZonedTime(wall, 'Europe/Berlin')!, 'Europe/Berlin');
    expect(berlin('2026-03-23T09:00')).toBe('2026-03-23T09:00:00+01:00');
    expect(berlin('2026-03-30T09:00')).toBe('2026-03-30T09:00:00+02:00');
    // 02:30 never happens on 2026-03-29 in Berlin: 03:30 CEST, as RFC 5545 reads it.
    expect(berlin('2026-03-29T02:30')).toBe('2026-03-29T03:30:00+02:00');
    // 02:30 happens twice on 2026-10-25: the first, still summer time.
    expect(parseZonedTime('2026-10-25T02:30', 'Europe/Berlin')).toBe(utc('2026-10-25T00:30:00Z'));
    expect(parseZonedTime('2026-03-23T09:00:00', 'Asia/Shanghai')).toBe(utc('2026-03-23T01:00:00Z'));
  });

  it('takes RFC 3339 times with an offset as they are, and refuses impossible ones', () => {
    expect(parseZonedTime('2026-03-23T09:00:00Z', 'Asia/Shanghai')).toBe(utc('2026-03-23T09:00:00Z'));
    expect(parseZonedTime('2026-03-23T09:00:00+02:00', 'Asia/Shanghai')).toBe(utc('2026-03-23T07:00:00Z'));
    for (const bad of [
      '2026-02-30T09:00',
      '2026-03-23T24:00',
      '2026-03-23',
      'next monday',
      '2026-03-23T09:00+2',
    ])
      expect(parseZonedTime(bad, 'Europe/Berlin'), bad).toBeUndefined();
    expect(parseWallClock('2026-03-23 09:00')).toBe(utc('2026-03-23T09:00:00Z'));
  });

  it('round-trips every hour of a year in Berlin, New York and Shanghai', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York', 'Asia/Shanghai']) {
      let overlaps = 0;
      for (let t = utc('2026-01-01T00:00:00Z'); t < utc('2027-01-01T00:00:00Z'); t += HOUR / 2) {
        const back = instantOf(zone, wallClock(zone, t));
        if (back !== t) {
          // The second pass through the hour the clocks are turned back reads as the first.
          expect(t - back, `${zone} ${new Date(t).toISOString()}`).toBe(HOUR);
          overlaps++;
        }
      }
      expect(overlaps, zone).toBe(zone === 'Asia/Shanghai' ? 0 : 2);
    }
  });
});
