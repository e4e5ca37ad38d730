import { nowPage } from '../incident-pages.js';
import type { AlertReceiver } from '../../alerting/index.js';

import { silenceChoice, str, type ConsoleKit } from '../kit.js';

/** An incident id from a form or a path; undefined when it is none. */
export function incidentId(v: unknown): number | undefined {
  const id = Number(str(v, 20));
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

/** The console's home: what is on fire and who has it; acknowledge or silence a group in one tap. */
export function nowRoutes(kit: ConsoleKit): void {
  const { router, form, count, send, message, guarded, ctx, deps } = kit;
  const silenceMs = (r: AlertReceiver) =>
    r.config.alertmanager_url ? r.config.acknowledgement.silence_durations[0] : undefined;
  router.get(
    '/',
    guarded(async (req, res, viewer, r) =>
      send(
        res,
        200,
        ctx(viewer, 'Now', '/', req),
        nowPage(await r.incidents.now(), {
          csrf: viewer.csrf,
          silenceMs: silenceMs(r),
          pipeline: (await r.heartbeats.list()).find((h) => h.kind === 'watchdog'),
        }),
      ),
    ),
  );
  router.post(
    '/now/acknowledge',
    form,
    guarded(async (req, res, viewer, r) => {
      const b = req.body as Record<string, unknown>;
      const id = incidentId(b.incident);
      const group = id && (await r.incidents.groupOf(id));
      if (!id || !group) return message(res, 404, 'Not found', 'No such incident is kept.', viewer);
      await r.acknowledgements.acknowledge({ groupKey: group, by: viewer.user, via: 'console', comment: '' });
      count('acknowledge');
      res.redirect(
        303,
        b.back === 'incident' ? `/incidents/${id}?done=acknowledged` : `/?done=acknowledged#g${id}`,
      );
    }),
  );
  router.post(
    '/now/silence',
    form,
    guarded(async (req, res, viewer, r) => {
      const b = req.body as Record<string, unknown>;
      const id = incidentId(b.incident);
      const ms = silenceChoice(r, b.duration);
      if (!id || !(await r.incidents.groupOf(id)))
        return message(res, 404, 'Not found', 'No such incident is kept.', viewer);
      if (!ms || !r.config.alertmanager_url)
        return message(
          res,
          400,
          'Not silenced',
          'Silences need receiver.alertmanager_url and a configured length.',
          viewer,
        );
      let silence: string;
      try {
        silence = await r.incidents.silence(id, ms, viewer.user);
      } catch (err) {
        return message(
          res,
          502,
          'Not silenced',
          `Alertmanager made no silence: ${(err as Error).message}`,
          viewer,
        );
      }
      count('silence');
      deps.logger.info({ incident: id, silence, by: viewer.user }, 'group silenced from the console');
      res.redirect(303, `/?done=silenced#g${id}`);
    }),
  );
}
