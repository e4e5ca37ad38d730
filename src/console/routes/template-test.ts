import { CHANNELS, type ChannelName } from '../../config/receiver.js';
import * as P from '../pages.js';
import { str, type ConsoleKit } from '../kit.js';

/** Template test: each channel's message for a sample or a stored notification, rendered, not sent. */
export function templateTestRoutes(kit: ConsoleKit): void {
  const { router, send, guarded, ctx } = kit;
  router.get(
    '/template-test',
    guarded(async (req, res, viewer, r) => {
      const form = {
        receiver: str(req.query.receiver, 200),
        channel: str(req.query.channel, 20),
        id: str(req.query.id, 20),
      };
      const receivers = r.config.receivers.map((x) => x.name);
      const page = (code: number, d: Omit<Parameters<typeof P.templateTestPage>[0], 'receivers' | 'form'>) =>
        send(
          res,
          code,
          ctx(viewer, 'Template test', '/template-test'),
          P.templateTestPage({ receivers, form, ...d }),
        );
      if (form.receiver && !receivers.includes(form.receiver))
        return page(400, { error: `No receiver ${form.receiver}.` });
      if (form.channel && !(CHANNELS as readonly string[]).includes(form.channel))
        return page(400, { error: `No channel ${form.channel}.` });
      if (form.id && !/^\d{1,15}$/.test(form.id))
        return page(400, { error: 'A notification id is a number.' });
      const result = await r.templateTest({
        receiver: form.receiver || undefined,
        channel: (form.channel || undefined) as ChannelName | undefined,
        id: form.id ? Number(form.id) : undefined,
      });
      if (!result) return page(404, { error: `No notification #${form.id}.` });
      page(200, { result });
    }),
  );
}
