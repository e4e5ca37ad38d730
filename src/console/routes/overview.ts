import * as P from '../pages.js';

import { type ConsoleKit } from '../kit.js';

/** The overview: the last scrape, the outbox, the heartbeats, the backlog, acknowledgements and windows in force. */
export function overviewRoutes(kit: ConsoleKit): void {
  const { router, send, guarded, ctx, deps } = kit;
  router.get(
    '/overview',
    guarded(async (_req, res, viewer, r) => {
      const counts = await r.counts().catch(() => undefined);
      const backlog = counts ? await r.backlog() : [];
      const acks = counts ? await r.acknowledgements.list({ active: true, limit: 10_000 }) : [];
      const heartbeats = counts ? await r.heartbeats.list() : undefined;
      const now = Date.now();
      send(
        res,
        200,
        ctx(viewer, 'Overview', '/overview'),
        P.overviewPage({
          scrape: deps.lastScrape(),
          counts,
          backlog,
          now: Date.now(),
          lastReload: deps.lastReload(),
          activeAcks: acks.length,
          activeWindows: r.listSilences().filter((s) => s.startsAt <= now && now < s.endsAt).length,
          receiverEnabled: true,
          heartbeats,
        }),
      );
    }),
  );
}
