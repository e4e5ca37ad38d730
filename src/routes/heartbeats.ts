import { Router, type Request, type Response } from 'express';
import { errorText, type Logger } from '../logger.js';
import { bearerOk } from './alerts.js';
import { apiAuth } from './api.js';
import { StoreUnavailableError, type AlertReceiver, type HeartbeatView } from '../alerting/index.js';

export interface HeartbeatsDeps {
  receiver: () => AlertReceiver | undefined;
  logger: Logger;
}

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** A heartbeat in the API's answers. */
export function heartbeatSummary(v: HeartbeatView) {
  const s = v.state;
  return {
    name: v.name,
    kind: v.kind,
    status: s.status,
    reason: s.incident?.reason ?? null,
    running: s.startedAt !== null,
    period_seconds: v.periodMs / 1000,
    grace_seconds: v.graceMs / 1000,
    receiver: v.receiver ?? null,
    last_seen_at: iso(s.lastSeenAt),
    last_ping_at: iso(s.lastPingAt),
    started_at: iso(s.startedAt),
    due_at: iso(v.dueAt),
    down_since: iso(s.incident?.since),
  };
}

const SIGNAL_PATHS = [
  ['/api/v1/heartbeats/:name', 'ping'],
  ['/api/v1/heartbeats/:name/start', 'start'],
  ['/api/v1/heartbeats/:name/fail', 'fail'],
] as const;

/**
 * Heartbeats: a job signals `POST /api/v1/heartbeats/NAME` (`/start`, `/fail`) with its own
 * token, which is good for nothing else; the API token lists them (`GET /api/v1/heartbeats`).
 */
export function heartbeatsRouter(deps: HeartbeatsDeps): Router {
  const router = Router();
  const fail = (res: Response, code: number, error: string) => void res.status(code).json({ error });
  const answer = async (req: Request, res: Response, fn: (r: AlertReceiver) => Promise<void>) => {
    const r = deps.receiver();
    if (!r) return fail(res, 503, 'the alert receiver is not running');
    try {
      await fn(r);
    } catch (err) {
      if (err instanceof StoreUnavailableError) return fail(res, 503, err.message);
      deps.logger.error({ err: errorText(err), path: req.path }, 'heartbeat request failed');
      fail(res, 500, 'internal error');
    }
  };

  for (const [path, event] of SIGNAL_PATHS)
    router.post(path, (req, res) =>
      answer(req, res, async (r) => {
        const name = String(req.params.name);
        const job = r.heartbeats.job(name);
        if (!job) return fail(res, 404, `no heartbeat named ${JSON.stringify(name).slice(0, 80)}`);
        if (!bearerOk(req, job.token)) {
          res.setHeader('WWW-Authenticate', 'Bearer realm="stackwatch"');
          return fail(res, 401, 'missing or invalid bearer token');
        }
        res.json({ heartbeat: heartbeatSummary(await r.heartbeats.signal(job.subject, event)) });
      }),
    );

  const auth = apiAuth(deps);
  router.get('/api/v1/heartbeats', auth, (req, res) =>
    answer(req, res, async (r) => {
      res.json({ heartbeats: (await r.heartbeats.list()).map(heartbeatSummary) });
    }),
  );
  router.get('/api/v1/heartbeats/:name', auth, (req, res) =>
    answer(req, res, async (r) => {
      const v = (await r.heartbeats.list()).find((x) => x.name === req.params.name);
      if (!v)
        return fail(res, 404, `no heartbeat named ${JSON.stringify(String(req.params.name)).slice(0, 80)}`);
      res.json({ heartbeat: heartbeatSummary(v) });
    }),
  );

  for (const [path] of SIGNAL_PATHS)
    router.all(path, (req, res) => {
      res.setHeader('Allow', path.endsWith(':name') ? 'GET, POST' : 'POST');
      fail(res, 405, `use ${path.endsWith(':name') ? 'GET or POST' : 'POST'}`);
    });
  return router;
}
