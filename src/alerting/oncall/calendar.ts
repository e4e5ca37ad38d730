import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Person } from './roster.js';
import type { Duty } from './schedule.js';

// A schedule as an iCalendar feed (RFC 5545): one VEVENT per duty, times in UTC so that no
// VTIMEZONE is needed and every calendar shows them in its own zone. A calendar app subscribes
// with a read-only link whose token is an HMAC of the schedule name.

/** RFC 5545 §3.3.5 UTC form: 20260105T010000Z. */
function utc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]/g, '').replace('.000', '');
}

/** RFC 5545 §3.3.11 TEXT: backslash, semicolon, comma and newline escaped; other controls dropped. */
export function icalText(s: string): string {
  return (
    s
      .replace(/\\/g, '\\\\')
      .replace(/;/g, '\\;')
      .replace(/,/g, '\\,')
      .replace(/\r?\n/g, '\\n')
      // eslint-disable-next-line no-control-regex -- control characters are what is removed
      .replace(/[\u0000-\u001f\u007f]/g, '')
  );
}

/**
 * RFC 5545 §3.1: lines longer than 75 octets are folded (CRLF and a space), never inside a
 * UTF-8 character, so names in Chinese arrive whole.
 */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const n = Buffer.byteLength(ch);
    // The first line holds 75 octets; continuation lines 74 after their leading space.
    if (octets + n > (out.length ? 74 : 75)) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += n;
  }
  out.push(current);
  return out.join('\r\n ');
}

export interface CalendarInput {
  schedule: string;
  timeZone: string;
  duties: readonly Duty[];
  person: (id: string) => Person | undefined;
  /** DTSTAMP: when the feed was made. */
  now: number;
  /** Host part of the events' UIDs. */
  domain: string;
}

/** The schedule's duties as a VCALENDAR. */
export function calendarFeed(c: CalendarInput): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//stackwatch//on-call schedule//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${icalText(`On call: ${c.schedule}`)}`,
    `X-WR-TIMEZONE:${icalText(c.timeZone)}`,
    'REFRESH-INTERVAL;VALUE=DURATION:PT1H',
    'X-PUBLISHED-TTL:PT1H',
  ];
  for (const d of c.duties) {
    const p = c.person(d.person);
    const name = p?.name ?? d.person;
    const description = [
      `${name} is on call for ${c.schedule}.`,
      p?.phone ? `Phone: ${p.phone}` : '',
      p?.email ? `Email: ${p.email}` : '',
    ].filter(Boolean);
    lines.push(
      'BEGIN:VEVENT',
      `UID:${icalText(`${c.schedule}-${d.person}-${utc(d.start)}@${c.domain}`)}`,
      `DTSTAMP:${utc(c.now)}`,
      `DTSTART:${utc(d.start)}`,
      `DTEND:${utc(d.end)}`,
      `SUMMARY:${icalText(`On call: ${name} (${c.schedule})`)}`,
      `DESCRIPTION:${icalText(description.join('\n'))}`,
      'TRANSP:TRANSPARENT',
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR');
  return lines.map(foldLine).join('\r\n') + '\r\n';
}

const mac = (secret: string, schedule: string) =>
  createHmac('sha256', secret).update(`stackwatch-calendar-v1\0${schedule}`).digest();

/** The token of a schedule's read-only calendar link (changes with the signing key). */
export function calendarToken(secret: string, schedule: string): string {
  return mac(secret, schedule).toString('base64url');
}

export function calendarTokenOk(secret: string, schedule: string, token: unknown): boolean {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
  const given = Buffer.from(token, 'base64url');
  const expected = mac(secret, schedule);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
