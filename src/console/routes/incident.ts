import { incidentPage } from '../incident-pages.js';
import { CONTENT_SECURITY_POLICY } from '../html.js';

import { str, type ConsoleKit } from '../kit.js';
import { incidentId } from './now.js';

/** One incident's timeline, and its postmortem draft in Markdown. */
export function incidentRoutes(kit: ConsoleKit): void {
  const { router, send, message, guarded, ctx } = kit;
  const notFound = (what: unknown) =>
    `No incident #${str(what, 20)} is kept (incidents are kept for receiver.retention).`;
  router.get(
    '/incidents/:id',
    guarded(async (req, res, viewer, r) => {
      const id = incidentId(req.params.id);
      const incident = id ? await r.incidents.timeline(id) : undefined;
      if (!incident) return message(res, 404, 'Not found', notFound(req.params.id), viewer);
      const onCall = incident.status === 'firing' ? await r.incidents.onCall() : undefined;
      send(
        res,
        200,
        ctx(viewer, `Incident #${incident.id}: ${incident.alertname}`, '/', req),
        incidentPage(incident, {
          now: Date.now(),
          next: onCall?.nextEscalation(incident.groupKey),
          onDuty: onCall?.onDutyFor(incident.groupKey),
          csrf: viewer.csrf,
          acknowledged: Boolean(r.acknowledgements.of(incident.groupKey)),
        }),
      );
    }),
  );
  router.get(
    '/incidents/:id/postmortem.md',
    guarded(async (req, res, viewer, r) => {
      const id = incidentId(req.params.id);
      const markdown = id ? await r.incidents.postmortem(id) : undefined;
      if (!markdown) return message(res, 404, 'Not found', notFound(req.params.id), viewer);
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Disposition', `attachment; filename="incident-${id}.md"`);
      res.type('text/markdown; charset=utf-8').send(markdown);
    }),
  );
}
