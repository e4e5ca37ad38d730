import ICAL from 'ical.js';

/** One event of an iCalendar feed as a calendar app reads it (ical.js, Mozilla's parser). */
export interface CalendarEvent {
  uid: string;
  summary: string;
  description: string;
  start: string;
  end: string;
}

/** Parses a feed with ical.js, as Thunderbird does; throws on anything RFC 5545 refuses. */
export function parseCalendar(text: string): { name: string; events: CalendarEvent[] } {
  const cal = new ICAL.Component(ICAL.parse(text));
  const events = cal.getAllSubcomponents('vevent').map((v) => {
    const e = new ICAL.Event(v);
    return {
      uid: e.uid,
      summary: e.summary,
      description: e.description,
      start: e.startDate.toJSDate().toISOString(),
      end: e.endDate.toJSDate().toISOString(),
    };
  });
  return { name: String(cal.getFirstPropertyValue('x-wr-calname')), events };
}
