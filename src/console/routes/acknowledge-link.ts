import { type NextFunction, type Request, type Response } from 'express';
import * as P from '../pages.js';
import { csrfOk, csrfToken } from '../session.js';
import {
  StoreUnavailableError,
  verifyAckToken,
  type AckVerdict,
  type AlertReceiver,
} from '../../alerting/index.js';

import { str, silenceChoice, type ConsoleKit } from '../kit.js';

/** Acknowledge links: the token in the path is the authorisation, no sign-in. */
export function acknowledgeLinkRoutes(kit: ConsoleKit): void {
  const { router, form, count, R, send, message, refuse } = kit;
  const REFUSED: Record<Exclude<AckVerdict, { ok: true }>['reason'], [number, string]> = {
    malformed: [
      400,
      'This is not an Acknowledge link stackwatch made. Open the link from the notification again.',
    ],
    forged: [
      403,
      'This Acknowledge link is not valid: it was not signed by this stackwatch, or it was altered.',
    ],
    expired: [410, 'This Acknowledge link has expired. Acknowledge the group from the console instead.'],
  };
  const withToken =
    (
      fn: (
        req: Request,
        res: Response,
        r: AlertReceiver,
        token: string,
        v: Extract<AckVerdict, { ok: true }>,
      ) => Promise<void> | void,
    ) =>
    async (req: Request, res: Response, next: NextFunction) => {
      const r = R();
      if (!r) return message(res, 503, 'Unavailable', 'The alert receiver is disabled in the configuration.');
      const token = String(req.params.token);
      const v = verifyAckToken(token, r.signingKey, Date.now());
      if (!v.ok) {
        count('refused');
        const [code, text] = REFUSED[v.reason];
        return message(res, code, 'Link refused', text);
      }
      if (req.method === 'POST') {
        if (!csrfOk(r.signingKey, `ack\0${token}`, (req.body as Record<string, unknown> | undefined)?.csrf))
          return refuse(res, 'The form had no valid CSRF token. Open the link again.');
      }
      try {
        await fn(req, res, r, token, v);
      } catch (err) {
        if (err instanceof StoreUnavailableError) return message(res, 503, 'Outbox unavailable', err.message);
        next(err);
      }
    };
  router.get(
    '/acknowledge/:token',
    withToken(async (_req, res, r, token, v) => {
      const latest = (await r.findNotifications({ groupKey: v.claims.groupKey }, 1))[0];
      send(
        res,
        200,
        { title: 'Acknowledge' },
        P.ackConfirmPage({
          latest,
          groupKey: v.claims.groupKey,
          recipient: v.claims.recipient,
          action: `/acknowledge/${token}`,
          csrf: csrfToken(r.signingKey, `ack\0${token}`),
          current: r.acknowledgements.of(v.claims.groupKey),
          silenceDurations: r.config.acknowledgement.silence_durations,
          alertmanager: Boolean(r.config.alertmanager_url),
        }),
      );
    }),
  );
  router.post(
    '/acknowledge/:token',
    form,
    withToken(async (req, res, r, token, v) => {
      const b = req.body as Record<string, unknown>;
      const by = str(b.by, 100).trim() || v.claims.recipient;
      const { ack, silenceError } = await r.acknowledgements.acknowledge({
        groupKey: v.claims.groupKey,
        by,
        via: v.claims.recipient,
        comment: str(b.comment, 500),
        silenceForMs: silenceChoice(r, b.silence),
      });
      count('acknowledge');
      send(
        res,
        200,
        { title: 'Acknowledged' },
        P.ackDonePage({
          ack,
          silenceError,
          undoAction: `/acknowledge/${token}/undo`,
          csrf: csrfToken(r.signingKey, `ack\0${token}`),
        }),
      );
    }),
  );
  router.post(
    '/acknowledge/:token/undo',
    form,
    withToken(async (_req, res, r, _token, v) => {
      const ended = await r.acknowledgements.unacknowledge(v.claims.groupKey, v.claims.recipient);
      if (ended) count('unacknowledge');
      message(
        res,
        200,
        ended ? 'Unacknowledged' : 'Not acknowledged',
        ended
          ? 'The acknowledgement has ended: the group may escalate again.'
          : 'The group has no active acknowledgement.',
      );
    }),
  );
}
