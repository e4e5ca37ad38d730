import type { Response } from 'express';
import { matchesAll, matcherText, parseMatcher } from '../../matchers.js';
import { parseDuration } from '../../config/common.js';
import type { PageContext } from '../html.js';
import * as P from '../pages.js';
import type { AlertReceiver } from '../../alerting/index.js';

import { str, type ConsoleKit, type Viewer } from '../kit.js';

const PREVIEW_SCAN = 1000;
type MaintenanceForm = Parameters<typeof P.maintenancePage>[0]['form'];

/** Maintenance windows: list, preview what a window would mute, create, end. */
export function maintenanceRoutes(kit: ConsoleKit): void {
  const { router, form, count, send, message, guarded, notice, ctx, deps } = kit;
  const maintenance = async (
    res: Response,
    viewer: Viewer,
    r: AlertReceiver,
    extra: {
      form?: MaintenanceForm;
      preview?: Parameters<typeof P.maintenancePage>[0]['preview'];
      code?: number;
      notice?: PageContext['notice'];
    } = {},
  ) =>
    send(
      res,
      extra.code ?? 200,
      { ...ctx(viewer, 'Maintenance windows', '/maintenance'), notice: extra.notice },
      P.maintenancePage({
        windows: r.listSilences(),
        now: Date.now(),
        csrf: viewer.csrf,
        form: extra.form ?? { matchers: '', duration: '2h', comment: '' },
        preview: extra.preview,
      }),
    );
  router.get(
    '/maintenance',
    guarded((req, res, viewer, r) => maintenance(res, viewer, r, { notice: notice(req) })),
  );
  router.post(
    '/maintenance',
    form,
    guarded(async (req, res, viewer, r) => {
      const b = req.body as Record<string, unknown>;
      const f = {
        matchers: str(b.matchers, 4000),
        duration: str(b.duration, 40).trim(),
        comment: str(b.comment, 1000),
      };
      const lines = f.matchers
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean);
      const fail = (error: string) =>
        maintenance(res, viewer, r, { form: f, preview: { error, matches: [], scanned: 0 }, code: 400 });
      if (!lines.length || lines.length > 20)
        return fail('Give 1 to 20 matchers, one per line, like service="postgres".');
      let matchers;
      try {
        matchers = lines.map((l) => parseMatcher(l));
      } catch (err) {
        return fail(`Matchers: ${(err as Error).message}`);
      }
      if (b.intent === 'preview') {
        const recent = await r.findNotifications({}, PREVIEW_SCAN);
        const matches = recent.filter((j) => j.content.alerts.some((a) => matchesAll(matchers, a.labels)));
        return maintenance(res, viewer, r, { form: f, preview: { matches, scanned: recent.length } });
      }
      const ms = parseDuration(f.duration);
      if (!ms) return fail(`Duration: ${JSON.stringify(f.duration)} is not a duration like 30m or 2h.`);
      const now = Date.now();
      const s = await r.addSilence({
        matchers: matchers.map(matcherText),
        startsAt: now,
        endsAt: now + ms,
        comment: f.comment,
        createdBy: viewer.user,
      });
      count('maintenance_create');
      deps.logger.info({ id: s.id, by: viewer.user }, 'maintenance window created from the console');
      res.redirect(303, '/maintenance?done=created');
    }),
  );
  router.post(
    '/maintenance/:id/end',
    form,
    guarded(async (req, res, viewer, r) => {
      const id = str(req.params.id, 100);
      if (!(await r.endSilence(id)))
        return message(res, 404, 'Not found', 'No such maintenance window running.', viewer);
      count('maintenance_end');
      deps.logger.info({ id, by: viewer.user }, 'maintenance window ended from the console');
      res.redirect(303, '/maintenance?done=ended');
    }),
  );
}
