import * as P from '../pages.js';

import { str, silenceChoice, type ConsoleKit } from '../kit.js';

const LIST_LIMIT = 200;

/** Acknowledgements: list, acknowledge a group, end an acknowledgement. */
export function acknowledgementRoutes(kit: ConsoleKit): void {
  const { router, form, count, send, message, guarded, ctx } = kit;
  router.get(
    '/acknowledgements',
    guarded(async (req, res, viewer, r) =>
      send(
        res,
        200,
        ctx(viewer, 'Acknowledgements', '/acknowledgements', req),
        P.acknowledgementsPage(await r.acknowledgements.list({ limit: LIST_LIMIT }), viewer.csrf),
      ),
    ),
  );
  router.post(
    '/acknowledgements',
    form,
    guarded(async (req, res, viewer, r) => {
      const b = req.body as Record<string, unknown>;
      const group = str(b.group, 4000);
      if (!group || !(await r.findNotifications({ groupKey: group }, 1)).length)
        return message(res, 404, 'Not found', 'No notification of that group is kept.', viewer);
      const { silenceError } = await r.acknowledgements.acknowledge({
        groupKey: group,
        by: viewer.user,
        via: 'console',
        comment: str(b.comment, 500),
        silenceForMs: silenceChoice(r, b.silence),
      });
      count('acknowledge');
      if (silenceError)
        return message(
          res,
          502,
          'Acknowledged, no silence',
          `Acknowledged; no silence was made: ${silenceError}`,
          viewer,
        );
      res.redirect(303, '/acknowledgements?done=acknowledged');
    }),
  );
  router.post(
    '/acknowledgements/end',
    form,
    guarded(async (req, res, viewer, r) => {
      const group = str((req.body as Record<string, unknown>).group, 4000);
      if (!(await r.acknowledgements.unacknowledge(group, viewer.user)))
        return message(res, 404, 'Not acknowledged', 'That group has no active acknowledgement.', viewer);
      count('unacknowledge');
      res.redirect(303, '/acknowledgements?done=unacknowledged');
    }),
  );
}
