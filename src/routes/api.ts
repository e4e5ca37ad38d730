import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { parseMatcher } from '../matchers.js';
import { parseDuration } from '../config/common.js';
import { errorText, type Logger } from '../logger.js';
import { bearerOk } from './alerts.js';
import { scheduleRoutes } from './schedules.js';
import {
  StoreUnavailableError,
  subjectOf,
  type AlertReceiver,
  type Job,
  type JobStatus,
} from '../alerting/index.js';

export interface ApiDeps {
  receiver: () => AlertReceiver | undefined;
  logger: Logger;
}

const STATUSES: JobStatus[] = ['pending', 'sent', 'dead', 'muted'];

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function jobSummary(j: Job) {
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    alert_status: j.alertStatus,
    channel: j.channel,
    receiver: j.receiver,
    recipients: j.recipients,
    slack_webhook: j.channel === 'slack' ? j.slackWebhook : undefined,
    subject: subjectOf(j.content, j.createdAt),
    group_key: j.groupKey,
    alerts: j.content.alerts.length,
    contacts: j.content.contacts.map((c) => c.role),
    attempts: j.attempts,
    last_error: j.lastError,
    created_at: iso(j.createdAt),
    updated_at: iso(j.updatedAt),
    next_attempt_at: j.status === 'pending' ? iso(j.nextAttemptAt) : null,
    sent_at: iso(j.sentAt),
    message_id: j.messageId,
    in_reply_to: j.inReplyTo,
    lane: j.lane || null,
    digest: j.digest,
    escalation: escalationOf(j),
  };
}

/** Why an escalation was sent: its policy (`escalation` for the escalation section), step and repeat. */
function escalationOf(j: Job) {
  const s = j.content.escalation?.step;
  return s
    ? {
        policy: s.policy,
        step: s.step,
        steps: s.steps,
        repeat: s.repeat,
        repeats: s.repeats,
        notify: s.notify,
      }
    : null;
}

/** Labels from a route-test request: query parameters, or a JSON object (optionally under `labels`). */
function labelsFrom(src: unknown): Record<string, string> | string {
  const obj = src && typeof src === 'object' && 'labels' in src ? (src as { labels: unknown }).labels : src;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    return 'labels: expected an object of label name to value';
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      return `labels: invalid label name ${JSON.stringify(k).slice(0, 80)}`;
    if (typeof v !== 'string') return `labels.${k}: expected a string`;
    out[k] = v;
  }
  return out;
}

/** The API's bearer token check (receiver.api_token, else webhook_token), as a middleware. */
export function apiAuth(deps: ApiDeps): (req: Request, res: Response, next: NextFunction) => void {
  let hinted = false;
  return (req, res, next) => {
    const r = deps.receiver();
    if (!r) return void res.status(503).json({ error: 'the alert receiver is not running' });
    const token = r.config.api_token ?? r.config.webhook_token;
    if (!token) {
      if (!hinted) {
        hinted = true;
        deps.logger.warn(
          'API request refused: set receiver.api_token (or STACKWATCH_WEBHOOK_TOKEN) to enable /api/v1',
        );
      }
      return void res
        .status(403)
        .json({ error: 'the API is disabled: set receiver.api_token in the configuration' });
    }
    if (!bearerOk(req, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="stackwatch"');
      return void res.status(401).json({ error: 'missing or invalid bearer token' });
    }
    next();
  };
}

/**
 * The read/operate API under /api/v1 (bearer token: receiver.api_token, else webhook_token):
 * notifications, re-drive of dead letters, route test, contacts, maintenance windows.
 */
export function apiRouter(deps: ApiDeps): Router {
  const router = Router();
  const json = express.json({ limit: '64kb' });
  const auth = apiAuth(deps);
  const R = () => deps.receiver() as AlertReceiver;
  const handle =
    (fn: (req: Request, res: Response) => Promise<void> | void) => async (req: Request, res: Response) => {
      try {
        await fn(req, res);
      } catch (err) {
        if (err instanceof StoreUnavailableError) return void res.status(503).json({ error: err.message });
        deps.logger.error({ err: errorText(err), path: req.path }, 'API request failed');
        res.status(500).json({ error: 'internal error' });
      }
    };

  const paths = [
    '/api/v1/notifications',
    '/api/v1/route-test',
    '/api/v1/contacts',
    '/api/v1/silences',
    '/api/v1/schedules',
  ];
  // Before the bearer check: a calendar app reads its feed with the link's token instead.
  scheduleRoutes(router, { auth, handle, json, receiver: deps.receiver });
  for (const p of paths) router.use(p, auth);

  router.get(
    '/api/v1/notifications',
    handle(async (req, res) => {
      const status = typeof req.query.status === 'string' && req.query.status ? req.query.status : undefined;
      if (status !== undefined && !STATUSES.includes(status as JobStatus))
        return void res.status(400).json({ error: `status: expected one of ${STATUSES.join(', ')}` });
      const limitText = typeof req.query.limit === 'string' ? req.query.limit : '100';
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        return void res.status(400).json({ error: 'limit: expected an integer from 1 to 1000' });
      const digest = typeof req.query.digest === 'string' && req.query.digest ? req.query.digest : undefined;
      if (digest !== undefined && !/^d\d+-\d+$/.test(digest))
        return void res.status(400).json({
          error: `digest: expected a digest id like d42-17, got ${JSON.stringify(digest.slice(0, 40))}`,
        });
      const jobs = await R().listNotifications(status as JobStatus | undefined, limit, digest);
      res.json({ notifications: jobs.map(jobSummary) });
    }),
  );

  router.get(
    '/api/v1/notifications/:id',
    handle(async (req, res) => {
      const id = Number(req.params.id);
      const job = Number.isSafeInteger(id) ? await R().getNotification(id) : undefined;
      if (!job)
        return void res
          .status(404)
          .json({ error: `no notification with id ${JSON.stringify(req.params.id)}` });
      res.json({ notification: { ...jobSummary(job), content: job.content } });
    }),
  );

  router.post(
    '/api/v1/notifications/:id/retry',
    handle(async (req, res) => {
      const id = Number(req.params.id);
      if (!Number.isSafeInteger(id)) return void res.status(400).json({ error: 'id: expected an integer' });
      const job = await R().retry(id);
      if (job) return void res.json({ notification: jobSummary(job) });
      const existing = await R().getNotification(id);
      if (!existing) return void res.status(404).json({ error: `no notification with id ${id}` });
      res.status(409).json({ error: `notification ${id} is ${existing.status}, not a dead letter` });
    }),
  );

  const routeTest = (src: unknown, res: Response) => {
    const labels = labelsFrom(src);
    if (typeof labels === 'string') return void res.status(400).json({ error: labels });
    res.json(R().routeTest(labels));
  };
  router.get(
    '/api/v1/route-test',
    handle((req, res) => routeTest(req.query, res)),
  );
  router.post(
    '/api/v1/route-test',
    json,
    // A body that is not JSON is no labels, as when express 4 gave it as {}.
    handle((req, res) => routeTest(req.body ?? {}, res)),
  );

  router.get(
    '/api/v1/contacts',
    handle((_req, res) => void res.json({ contacts: R().contacts() })),
  );

  const silenceView = (s: ReturnType<AlertReceiver['listSilences']>[number]) => ({
    ...s,
    startsAt: iso(s.startsAt),
    endsAt: iso(s.endsAt),
  });
  router.get(
    '/api/v1/silences',
    handle((_req, res) => void res.json({ silences: R().listSilences().map(silenceView) })),
  );
  router.post(
    '/api/v1/silences',
    json,
    handle(async (req, res) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      if (
        !Array.isArray(b.matchers) ||
        b.matchers.length === 0 ||
        !b.matchers.every((m) => typeof m === 'string')
      )
        return void res
          .status(400)
          .json({ error: 'matchers: expected a non-empty list like ["service=\\"postgres\\""]' });
      const matchers: string[] = [];
      for (const m of b.matchers as string[]) {
        try {
          const pm = parseMatcher(m);
          matchers.push(`${pm.label}${pm.op}${JSON.stringify(pm.value)}`);
        } catch (err) {
          return void res.status(400).json({ error: `matchers: ${(err as Error).message}` });
        }
      }
      const now = Date.now();
      const startsAt = b.startsAt === undefined ? now : Date.parse(String(b.startsAt));
      let endsAt = b.endsAt === undefined ? NaN : Date.parse(String(b.endsAt));
      if (b.endsAt === undefined && typeof b.duration === 'string') {
        const d = parseDuration(b.duration);
        if (d !== undefined) endsAt = startsAt + d;
      }
      if (Number.isNaN(startsAt))
        return void res.status(400).json({ error: 'startsAt: expected an RFC 3339 time' });
      if (Number.isNaN(endsAt))
        return void res
          .status(400)
          .json({ error: 'endsAt: expected an RFC 3339 time (or give duration, e.g. "2h")' });
      if (endsAt <= startsAt) return void res.status(400).json({ error: 'endsAt: must be after startsAt' });
      const s = await R().addSilence({
        matchers,
        startsAt,
        endsAt,
        comment: typeof b.comment === 'string' ? b.comment.slice(0, 1000) : '',
        createdBy: typeof b.createdBy === 'string' ? b.createdBy.slice(0, 200) : 'api',
      });
      res.status(201).json({ silence: silenceView(s) });
    }),
  );
  router.delete(
    '/api/v1/silences/:id',
    handle(async (req, res) => {
      if (await R().deleteSilence(String(req.params.id))) return void res.json({ status: 'deleted' });
      res.status(404).json({
        error: `no API maintenance window with id ${JSON.stringify(String(req.params.id)).slice(0, 80)}`,
      });
    }),
  );

  router.use(paths, (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string };
    if (e.type === 'entity.too.large') return void res.status(413).json({ error: 'body too large' });
    res.status(400).json({ error: `invalid JSON body (${e.type ?? 'error'})` });
  });
  return router;
}
