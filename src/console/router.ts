import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { matchesAll, matcherText, parseMatcher, type Labels } from '../matchers.js';
import { CHANNELS, type ChannelName } from '../config/receiver.js';
import { parseDuration } from '../config/common.js';
import { errorText, type Logger } from '../logger.js';
import { safeEqual } from '../webconfig.js';
import { CONSOLE_CSS, CONTENT_SECURITY_POLICY, page, type PageContext } from './html.js';
import { consoleActions, type ConsoleAction } from './console-metrics.js';
import type { ScrapeSummary } from './overview.js';
import * as P from './pages.js';
import type { Html } from './html.js';
import {
  SESSION_COOKIE,
  clearedSessionCookie,
  cookieValue,
  csrfOk,
  csrfToken,
  newSession,
  readSession,
  sessionCookie,
} from './session.js';
import {
  StoreUnavailableError,
  verifyAckToken,
  type AckVerdict,
  type AlertReceiver,
  type JobStatus,
} from '../alerting/index.js';

export interface ConsoleDeps {
  receiver: () => AlertReceiver | undefined;
  /** True when the web config's basic auth guards every page (checked before this router). */
  basicAuth: () => boolean;
  lastScrape: () => ScrapeSummary | undefined;
  lastReload: () => { ok: boolean; at: number };
  registry: Registry;
  logger: Logger;
}

/** Who is signed in, and what their forms' CSRF tokens are bound to. */
interface Viewer {
  user: string;
  /** The session (or basic-auth user) the forms' CSRF token is bound to. */
  binding: string;
  csrf: string;
}

const STATUSES: JobStatus[] = ['pending', 'sent', 'dead', 'muted'];
const NOTICES: Record<string, string> = {
  redriven: 'Re-driven: the notification is due again.',
  created: 'Maintenance window created.',
  ended: 'Maintenance window ended.',
  unacknowledged: 'Acknowledgement ended: the group may escalate again.',
  acknowledged: 'Acknowledged: the group will not be escalated.',
};
const LIST_LIMIT = 200;
const PREVIEW_SCAN = 1000;
const MAX_LABEL_LINES = 50;

/** `name=value` (or `name="value"`) per line into labels; an error names the bad line. */
export function parseLabelLines(text: string): Labels | string {
  const out: Labels = {};
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (lines.length > MAX_LABEL_LINES) return `at most ${MAX_LABEL_LINES} labels`;
  for (const line of lines) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$/.exec(line);
    if (!m) return `not a name=value line: ${JSON.stringify(line.slice(0, 80))}`;
    out[m[1] as string] = m[2] !== undefined ? (m[2] as string).replace(/\\(.)/g, '$1') : (m[3] as string);
  }
  return out;
}

type MaintenanceForm = Parameters<typeof P.maintenancePage>[0]['form'];

const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

/** A silence length from a form: only one of the configured choices. */
function silenceChoice(r: AlertReceiver, v: unknown): number | undefined {
  const ms = Number(str(v, 20));
  return r.config.acknowledgement.silence_durations.includes(ms) ? ms : undefined;
}

/**
 * The on-call console at `/` and the Acknowledge-link pages: server-rendered HTML, no script,
 * a strict Content-Security-Policy, CSRF tokens on every form that changes anything.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 });
  const actions = consoleActions(deps.registry);
  const count = (a: ConsoleAction) => actions.inc({ action: a });
  const R = () => deps.receiver();

  const send = (res: Response, code: number, ctx: PageContext, body: Html) => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Acknowledge links carry their token in the path: never hand it on to another site.
    // (Not no-referrer: with it, Chromium sends `Origin: null` on same-site form posts.)
    res.setHeader('Referrer-Policy', 'same-origin');
    res
      .status(code)
      .type('text/html; charset=utf-8')
      .send(page({ ...ctx, signOut: !deps.basicAuth() }, body));
  };
  const message = (res: Response, code: number, title: string, text: string, viewer?: Viewer) =>
    send(res, code, { title, user: viewer?.user, csrf: viewer?.csrf }, P.messageBody(text));

  const key = () => R()?.signingKey;

  const viewerOf = (req: Request): Viewer | undefined => {
    const k = key();
    if (!k) return undefined;
    if (deps.basicAuth()) {
      const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
      const decoded = m ? Buffer.from(m[1] as string, 'base64').toString('utf8') : '';
      const user = decoded.slice(0, Math.max(0, decoded.indexOf(':')));
      const binding = `basic\0${user}`;
      return { user, binding, csrf: csrfToken(k, binding) };
    }
    const s = readSession(k, cookieValue(req.headers.cookie, SESSION_COOKIE), Date.now());
    return s && { user: s.user, binding: s.id, csrf: csrfToken(k, s.id) };
  };

  const refuse = (res: Response, why: string, viewer?: Viewer) => {
    count('refused');
    message(res, 403, 'Request refused', why, viewer);
  };

  type Handler = (req: Request, res: Response, viewer: Viewer, r: AlertReceiver) => Promise<void> | void;
  const guarded = (fn: Handler) => async (req: Request, res: Response) => {
    const r = R();
    if (!r)
      return message(res, 503, 'Console unavailable', 'The alert receiver is disabled in the configuration.');
    const viewer = viewerOf(req);
    if (!viewer) {
      if (req.method !== 'GET') return refuse(res, 'Sign in first.');
      return void res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl.slice(0, 500))}`);
    }
    // Posts a browser marks as cross-site never get here (request-origin.ts refuses them for the
    // whole service); the token also stops same-site pages and clients that send no Origin.
    if (req.method === 'POST') {
      if (!csrfOk(r.signingKey, viewer.binding, (req.body as Record<string, unknown> | undefined)?.csrf))
        return refuse(res, 'The form had no valid CSRF token. Reload the page and try again.', viewer);
    }
    try {
      await fn(req, res, viewer, r);
    } catch (err) {
      if (err instanceof StoreUnavailableError)
        return message(res, 503, 'Outbox unavailable', err.message, viewer);
      deps.logger.error({ err: errorText(err), path: req.path }, 'console request failed');
      message(res, 500, 'Error', 'Something went wrong; the stackwatch log has the details.', viewer);
    }
  };
  const notice = (req: Request): PageContext['notice'] => {
    const text = NOTICES[str(req.query.done, 40)];
    return text ? { kind: 'ok', text } : undefined;
  };
  const ctx = (viewer: Viewer, title: string, active: string, req?: Request): PageContext => ({
    title,
    user: viewer.user,
    csrf: viewer.csrf,
    active,
    notice: req && notice(req),
  });

  router.get('/favicon.ico', (_req, res) => void res.status(204).end());
  router.get('/console.css', (_req, res) => {
    res.setHeader('Cache-Control', 'max-age=300');
    res.type('text/css').send(CONSOLE_CSS);
  });

  // ---- sign in ----
  const loginDisabled = () =>
    R()
      ? R()?.config.api_token || R()?.config.webhook_token
        ? undefined
        : 'The console is disabled: set receiver.api_token (or basic auth in the web config).'
      : 'The alert receiver is disabled in the configuration.';
  router.get('/login', (req, res) => {
    if (viewerOf(req)) return void res.redirect(303, '/');
    send(
      res,
      200,
      { title: 'Sign in' },
      P.loginPage({ disabled: loginDisabled(), next: str(req.query.next, 500) }),
    );
  });
  router.post('/login', form, (req, res) => {
    const r = R();
    const disabled = loginDisabled();
    if (!r || disabled) return send(res, 403, { title: 'Sign in' }, P.loginPage({ disabled }));
    const b = req.body as Record<string, unknown>;
    const user = str(b.user, 100).trim();
    const token = r.config.api_token ?? r.config.webhook_token ?? '';
    const next = str(b.next, 500);
    if (!user || !safeEqual(str(b.token, 1000), token)) {
      count('login_failed');
      deps.logger.warn({ user }, 'console sign-in refused');
      return send(
        res,
        401,
        { title: 'Sign in', notice: { kind: 'error', text: 'Wrong API token.' } },
        P.loginPage({ next }),
      );
    }
    count('login');
    const s = newSession(r.signingKey, user, Date.now());
    res.setHeader('Set-Cookie', sessionCookie(s, req.secure));
    deps.logger.info({ user }, 'console sign-in');
    // Only a path on this site: never an open redirect.
    res.redirect(303, /^\/(?![/\\])/.test(next) ? next : '/');
  });
  router.post(
    '/logout',
    form,
    guarded((req, res) => {
      res.setHeader('Set-Cookie', clearedSessionCookie(req.secure));
      res.redirect(303, deps.basicAuth() ? '/' : '/login');
    }),
  );

  // ---- overview ----
  router.get(
    '/',
    guarded(async (_req, res, viewer, r) => {
      const counts = await r.counts().catch(() => undefined);
      const backlog = counts ? await r.backlog() : [];
      const acks = counts ? await r.acknowledgements.list({ active: true, limit: 10_000 }) : [];
      const now = Date.now();
      send(
        res,
        200,
        ctx(viewer, 'Overview', '/'),
        P.overviewPage({
          scrape: deps.lastScrape(),
          counts,
          backlog,
          now: Date.now(),
          lastReload: deps.lastReload(),
          activeAcks: acks.length,
          activeWindows: r.listSilences().filter((s) => s.startsAt <= now && now < s.endsAt).length,
          receiverEnabled: true,
        }),
      );
    }),
  );

  // ---- notifications and dead letters ----
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

  // ---- maintenance windows ----
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

  // ---- route test, contacts ----
  router.get(
    '/route-test',
    guarded((req, res, viewer, r) => {
      const labelsText = str(req.query.labels, 4000);
      const labels = labelsText ? parseLabelLines(labelsText) : undefined;
      const body =
        typeof labels === 'string'
          ? P.routeTestPage({ labelsText, error: labels })
          : P.routeTestPage({ labelsText, result: labels && r.routeTest(labels) });
      send(res, typeof labels === 'string' ? 400 : 200, ctx(viewer, 'Route test', '/route-test'), body);
    }),
  );
  router.get(
    '/contacts',
    guarded((_req, res, viewer, r) =>
      send(res, 200, ctx(viewer, 'Contacts', '/contacts'), P.contactsPage(r.contacts())),
    ),
  );

  // ---- acknowledgements ----
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

  // ---- Acknowledge links: the token is the authorisation, no sign-in ----
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
  return router;
}
