import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { errorText, type Logger } from '../logger.js';
import { safeEqual } from '../webconfig.js';
import { decodeJson, parseWebhook, type AlertReceiver } from '../alerting/index.js';
import { closeAfterAnswer } from './lingering-close.js';

export interface AlertsDeps {
  receiver: () => AlertReceiver | undefined;
  logger: Logger;
}

/** `Authorization: Bearer <token>` checked in constant time; no token configured: open. */
export function bearerOk(req: Request, token: string | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m !== null && safeEqual(m[1] as string, token);
}

function fail(res: Response, code: number, error: string): void {
  if (code === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="stackwatch"');
  res.status(code).json({ error });
}

/**
 * `POST /api/v1/alerts`: the Alertmanager webhook. 2xx only after the notifications are
 * durably recorded; 503 when they cannot be (Alertmanager retries); 400/401/413/415 for bad input.
 */
export function alertsRouter(deps: AlertsDeps): Router {
  const router = Router();
  const path = '/api/v1/alerts';

  router.use(path, (req, res, next) => {
    const r = deps.receiver();
    if (!r) return fail(res, 503, 'the alert receiver is not running');
    res.on('finish', () => r.metrics.webhook.inc({ code: String(res.statusCode) }));
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return fail(res, 405, 'use POST');
    }
    if (!bearerOk(req, r.config.webhook_token)) {
      // Do not process the body of an unauthenticated request (it is only discarded).
      closeAfterAnswer(req, res);
      return fail(res, 401, 'missing or invalid bearer token');
    }
    if (!req.is('application/json')) {
      closeAfterAnswer(req, res);
      return fail(
        res,
        415,
        `expected Content-Type application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`.slice(
          0,
          200,
        ),
      );
    }
    // Refused from its declared length, before a byte of it is parsed.
    const limit = r.config.max_body_bytes;
    if (Number(req.headers['content-length']) > limit) {
      closeAfterAnswer(req, res);
      return fail(res, 413, `body larger than ${limit} bytes`);
    }
    next();
  });

  router.post(
    path,
    (req, res, next) =>
      express.raw({
        type: () => true,
        limit: deps.receiver()?.config.max_body_bytes ?? 1024 * 1024,
        inflate: false,
      })(req, res, next),
    async (req: Request, res: Response) => {
      const r = deps.receiver() as AlertReceiver;
      const buf = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const decoded = decodeJson(buf);
      if (!decoded.ok) return fail(res, 400, decoded.error);
      const parsed = parseWebhook(decoded.value);
      if (!parsed.ok) return fail(res, 400, parsed.error);
      try {
        const outcome = await r.ingest(parsed.webhook);
        res.status(200).json({ status: 'recorded', ...outcome });
      } catch (err) {
        deps.logger.error(
          { err: errorText(err), group: parsed.webhook.groupKey.slice(0, 200) },
          'webhook not recorded',
        );
        fail(res, 503, 'the notification could not be recorded; retry later');
      }
    },
  );

  router.use(path, (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; limit?: number };
    closeAfterAnswer(req, res);
    if (e.type === 'entity.too.large') return fail(res, 413, `body larger than ${e.limit} bytes`);
    if (e.type === 'encoding.unsupported') return fail(res, 415, 'unsupported Content-Encoding');
    return fail(res, 400, `unreadable body (${e.type ?? 'error'})`);
  });
  return router;
}
