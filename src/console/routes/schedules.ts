import type { Request, Response } from 'express';
import { overrideInput, type AlertReceiver } from '../../alerting/index.js';
import * as P from '../pages.js';
import { str, type ConsoleKit, type Viewer } from '../kit.js';

/** Weeks of shifts the page shows ahead. */
const WEEKS = 2;

/** Who is on call: each schedule now, its shifts ahead and overrides; add and delete overrides. */
export function scheduleRoutes(kit: ConsoleKit): void {
  const { router, form, count, send, message, guarded, ctx, deps } = kit;
  const schedules = (
    req: Request,
    res: Response,
    viewer: Viewer,
    r: AlertReceiver,
    failed?: Parameters<typeof P.schedulesPage>[0]['failed'],
  ) =>
    send(
      res,
      failed ? 400 : 200,
      ctx(viewer, 'On call', '/schedules', req),
      P.schedulesPage({
        schedules: r.schedules(WEEKS).map((status) => ({
          status,
          calendarUrl: `/api/v1/schedules/${encodeURIComponent(status.name)}/calendar.ics?token=${r.calendarToken(status.name)}`,
        })),
        people: r.people(),
        now: Date.now(),
        csrf: viewer.csrf,
        failed,
      }),
    );
  router.get(
    '/schedules',
    guarded((req, res, viewer, r) => schedules(req, res, viewer, r)),
  );
  router.post(
    '/schedules/:name/overrides',
    form,
    guarded(async (req, res, viewer, r) => {
      const name = str(req.params.name, 64);
      const s = r.schedule(name, 1);
      if (!s) return message(res, 404, 'Not found', `No schedule ${name}.`, viewer);
      const b = req.body as Record<string, unknown>;
      const typed = {
        person: str(b.person, 64),
        start: str(b.start, 40),
        end: str(b.end, 40),
        comment: str(b.comment, 500),
      };
      const input = overrideInput(typed, { people: r.people(), timeZone: s.timeZone, now: Date.now() });
      if (typeof input === 'string')
        return schedules(req, res, viewer, r, { schedule: name, error: input, form: typed });
      const o = await r.addOverride({ schedule: name, ...input, createdBy: viewer.user });
      count('override_create');
      deps.logger.info(
        { id: o.id, schedule: name, by: viewer.user },
        'schedule override created from the console',
      );
      res.redirect(303, '/schedules?done=override_created');
    }),
  );
  router.post(
    '/schedules/:name/overrides/:id/delete',
    form,
    guarded(async (req, res, viewer, r) => {
      if (!(await r.deleteOverride(str(req.params.name, 64), str(req.params.id, 100), viewer.user)))
        return message(
          res,
          404,
          'Not found',
          'No such override made through the API or the console.',
          viewer,
        );
      count('override_delete');
      res.redirect(303, '/schedules?done=override_deleted');
    }),
  );
}
