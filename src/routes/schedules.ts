import type { Request, RequestHandler, Response, Router } from 'express';
import { zonedIso } from '../zoned-time.js';
import {
  overrideInput,
  type AlertReceiver,
  type Person,
  type ScheduleOverride,
  type ScheduleStatus,
} from '../alerting/index.js';
import { bearerOk } from './alerts.js';

// Who is on call, under /api/v1/schedules: each schedule now (on duty, next handoff, overrides,
// the shifts ahead), overrides made at run time, and a read-only iCalendar feed a calendar app
// subscribes to with the link's token instead of the API's bearer token.

export interface ScheduleRouteHelpers {
  /** The API's bearer-token check. */
  auth: RequestHandler;
  /** Runs a handler, answering 503 while the outbox is closed and 500 on anything unexpected. */
  handle: (fn: (req: Request, res: Response) => Promise<void> | void) => RequestHandler;
  json: RequestHandler;
  receiver: () => AlertReceiver | undefined;
}

/** Weeks of shifts: the API shows 4 by default, the calendar feed 8; at most 26. */
const MAX_WEEKS = 26;

function weeksOf(req: Request, fallback: number): number | string {
  if (req.query.weeks === undefined) return fallback;
  const n = Number(req.query.weeks);
  return Number.isInteger(n) && n >= 1 && n <= MAX_WEEKS
    ? n
    : `weeks: expected an integer from 1 to ${MAX_WEEKS}`;
}

const iso = (ms: number) => new Date(ms).toISOString();
const personView = (p: Person) => ({ id: p.id, name: p.name, email: p.email, phone: p.phone });

function overrideView(o: ScheduleOverride, zone: string, name: (id: string) => string) {
  return {
    id: o.id,
    person: o.person,
    name: name(o.person),
    start: iso(o.start),
    end: iso(o.end),
    start_local: zonedIso(o.start, zone),
    end_local: zonedIso(o.end, zone),
    comment: o.comment,
    created_by: o.createdBy,
    source: o.source,
  };
}

/** The schedule as the API answers it; `calendar` is its read-only feed link. */
export function scheduleView(s: ScheduleStatus, calendar: string) {
  const names = new Map(
    [...s.onDuty, ...s.shifts.map((d) => ({ id: d.person, name: d.name }))].map((p) => [p.id, p.name]),
  );
  const name = (id: string) => names.get(id) ?? id;
  return {
    name: s.name,
    time_zone: s.timeZone,
    on_duty: s.onDuty.map(personView),
    next_handoff: s.nextHandoff
      ? {
          at: iso(s.nextHandoff.at),
          at_local: zonedIso(s.nextHandoff.at, s.timeZone),
          on_duty: s.nextHandoff.onDuty.map(personView),
        }
      : null,
    rotations: s.rotations,
    overrides: s.overrides.map((o) => overrideView(o, s.timeZone, name)),
    shifts: s.shifts.map((d) => ({
      person: d.person,
      name: d.name,
      start: iso(d.start),
      end: iso(d.end),
      start_local: zonedIso(d.start, s.timeZone),
      end_local: zonedIso(d.end, s.timeZone),
    })),
    calendar_url: calendar,
  };
}

/** The read-only calendar link of a schedule: absolute with `external_url`, else a path. */
export function calendarLink(r: AlertReceiver, name: string): string {
  const path = `/api/v1/schedules/${encodeURIComponent(name)}/calendar.ics?token=${r.calendarToken(name)}`;
  return `${r.config.external_url ?? ''}${path}`;
}

export function scheduleRoutes(router: Router, h: ScheduleRouteHelpers): void {
  const R = () => h.receiver() as AlertReceiver;
  const notFound = (res: Response, name: string) =>
    res.status(404).json({ error: `no schedule ${JSON.stringify(name.slice(0, 64))}` });

  // The feed: the link's token (what a calendar app can carry) or the API's bearer token.
  router.get(
    '/api/v1/schedules/:name/calendar.ics',
    (req, res, next) => {
      const r = h.receiver();
      if (!r) return void res.status(503).json({ error: 'the alert receiver is not running' });
      if (req.query.token === undefined) return h.auth(req, res, next);
      const token = r.config.api_token ?? r.config.webhook_token;
      if (bearerOk(req, token ?? '') || r.calendarTokenOk(String(req.params.name), req.query.token))
        return next();
      res.status(403).json({ error: 'this calendar link is not valid (or the signing key changed)' });
    },
    h.handle((req, res) => {
      const weeks = weeksOf(req, 8);
      if (typeof weeks === 'string') return void res.status(400).json({ error: weeks });
      const feed = R().calendar(String(req.params.name), weeks);
      if (feed === undefined) return void notFound(res, String(req.params.name));
      res.setHeader('Cache-Control', 'no-store');
      res.type('text/calendar; charset=utf-8').send(feed);
    }),
  );

  router.get(
    '/api/v1/schedules',
    h.auth,
    h.handle((req, res) => {
      const weeks = weeksOf(req, 4);
      if (typeof weeks === 'string') return void res.status(400).json({ error: weeks });
      const r = R();
      res.json({ schedules: r.schedules(weeks).map((s) => scheduleView(s, calendarLink(r, s.name))) });
    }),
  );

  router.get(
    '/api/v1/schedules/:name',
    h.auth,
    h.handle((req, res) => {
      const weeks = weeksOf(req, 4);
      if (typeof weeks === 'string') return void res.status(400).json({ error: weeks });
      const r = R();
      const s = r.schedule(String(req.params.name), weeks);
      if (!s) return void notFound(res, String(req.params.name));
      res.json({ schedule: scheduleView(s, calendarLink(r, s.name)) });
    }),
  );

  router.post(
    '/api/v1/schedules/:name/overrides',
    h.auth,
    h.json,
    h.handle(async (req, res) => {
      const r = R();
      const s = r.schedule(String(req.params.name), 1);
      if (!s) return void notFound(res, String(req.params.name));
      const input = overrideInput((req.body ?? {}) as Record<string, unknown>, {
        people: r.people(),
        timeZone: s.timeZone,
        now: Date.now(),
      });
      if (typeof input === 'string') return void res.status(400).json({ error: input });
      const b = (req.body ?? {}) as Record<string, unknown>;
      const o = await r.addOverride({
        schedule: s.name,
        ...input,
        createdBy: typeof b.createdBy === 'string' ? b.createdBy.slice(0, 200) : 'api',
      });
      res.status(201).json({
        override: overrideView(o, s.timeZone, (id) => r.people().find((p) => p.id === id)?.name ?? id),
      });
    }),
  );

  router.delete(
    '/api/v1/schedules/:name/overrides/:id',
    h.auth,
    h.handle(async (req, res) => {
      const name = String(req.params.name);
      if (await R().deleteOverride(name, String(req.params.id), 'api'))
        return void res.json({ status: 'deleted' });
      res.status(404).json({
        error: `no override ${JSON.stringify(String(req.params.id).slice(0, 80))} of schedule ${JSON.stringify(name.slice(0, 64))} made through the API (the configuration's cannot be deleted here)`,
      });
    }),
  );
}
