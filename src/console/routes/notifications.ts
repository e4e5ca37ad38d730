import { CHANNELS, type ChannelName } from '../../config/receiver.js';
import * as P from '../pages.js';
import type { JobStatus } from '../../alerting/index.js';

import { str, type ConsoleKit } from '../kit.js';

const STATUSES: JobStatus[] = ['pending', 'sent', 'dead', 'muted'];
const LIST_LIMIT = 200;

/** Notifications and dead letters: lists with filters, one notification, re-drive. */
export function notificationRoutes(kit: ConsoleKit): void {
  const { router, form, count, send, message, guarded, ctx, deps } = kit;
  const listPage = (title: string, active: string, fixed?: JobStatus) =>
    guarded(async (req, res, viewer, r) => {
      const q = req.query;
      const filter: P.NotificationFilter = {
        status: fixed ?? (STATUSES.includes(str(q.status, 10) as JobStatus) ? str(q.status, 10) : undefined),
        channel: CHANNELS.includes(str(q.channel, 10) as ChannelName) ? str(q.channel, 10) : undefined,
        receiver: r.config.receivers.some((x) => x.name === q.receiver) ? str(q.receiver, 200) : undefined,
        alertname: str(q.alertname, 200).trim() || undefined,
        digest: str(q.digest, 100) || undefined,
      };
      const jobs = await r.findNotifications(
        {
          status: filter.status as JobStatus | undefined,
          channel: filter.channel as ChannelName | undefined,
          receiver: filter.receiver,
          alertname: filter.alertname,
          digest: filter.digest,
        },
        LIST_LIMIT,
      );
      send(
        res,
        200,
        ctx(viewer, title, active, req),
        P.notificationsPage({
          jobs,
          filter,
          receivers: [...r.config.receivers.map((x) => x.name), 'escalation'],
          csrf: viewer.csrf,
          ackOf: (g) => r.acknowledgements.of(g),
          action: active,
          showFilters: !fixed,
        }),
      );
    });
  router.get('/notifications', listPage('Notifications', '/notifications'));
  router.get('/dead-letters', listPage('Dead letters', '/dead-letters', 'dead'));
  router.get(
    '/notifications/:id',
    guarded(async (req, res, viewer, r) => {
      const id = Number(req.params.id);
      const job = Number.isSafeInteger(id) ? await r.getNotification(id) : undefined;
      if (!job) return message(res, 404, 'Not found', `No notification #${str(req.params.id, 20)}.`, viewer);
      send(
        res,
        200,
        ctx(viewer, `Notification #${job.id}`, '/notifications', req),
        P.notificationPage(job, viewer.csrf, r.acknowledgements.of(job.groupKey), {
          durations: r.config.acknowledgement.silence_durations,
          alertmanager: Boolean(r.config.alertmanager_url),
        }),
      );
    }),
  );
  router.post(
    '/notifications/:id/redrive',
    form,
    guarded(async (req, res, viewer, r) => {
      const id = Number(req.params.id);
      const job = Number.isSafeInteger(id) ? await r.retry(id) : undefined;
      if (!job)
        return message(
          res,
          409,
          'Not re-driven',
          `Notification #${str(req.params.id, 20)} is not a dead letter.`,
          viewer,
        );
      count('redrive');
      deps.logger.info({ id, by: viewer.user }, 'dead letter re-driven from the console');
      res.redirect(303, `/notifications/${id}?done=redriven`);
    }),
  );
}
