import express, { Router, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { errorText, type Logger } from '../logger.js';
import { CONSOLE_CSS, CONTENT_SECURITY_POLICY, page, type PageContext } from './html.js';
import { consoleActions, type ConsoleAction } from './console-metrics.js';
import type { ScrapeSummary } from './overview.js';
import * as P from './pages.js';
import type { Html } from './html.js';
import { SESSION_COOKIE, cookieValue, csrfOk, csrfToken, readSession } from './session.js';
import { StoreUnavailableError, type AlertReceiver } from '../alerting/index.js';

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
export interface Viewer {
  user: string;
  /** The session (or basic-auth user) the forms' CSRF token is bound to. */
  binding: string;
  csrf: string;
}

const NOTICES: Record<string, string> = {
  redriven: 'Re-driven: the notification is due again.',
  created: 'Maintenance window created.',
  ended: 'Maintenance window ended.',
  unacknowledged: 'Acknowledgement ended: the group may escalate again.',
  acknowledged: 'Acknowledged: the group will not be escalated.',
  override_created: 'Override added: that person is on duty for its window.',
  override_deleted: 'Override deleted: the rotation decides again.',
  silenced: 'Silenced in Alertmanager.',
};

/** A form or query value as a string of at most `max` characters ('' when absent). */
export const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

/** A silence length from a form: only one of the configured choices. */
export function silenceChoice(r: AlertReceiver, v: unknown): number | undefined {
  const ms = Number(str(v, 20));
  return r.config.acknowledgement.silence_durations.includes(ms) ? ms : undefined;
}

export type Handler = (req: Request, res: Response, viewer: Viewer, r: AlertReceiver) => Promise<void> | void;

/**
 * What every console page shares: the router, the form parser, the page sender with its
 * security headers, who is signed in, and the guard that checks sign-in and CSRF tokens.
 */
export function consoleKit(deps: ConsoleDeps) {
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

  return { router, form, count, R, send, message, viewerOf, refuse, guarded, notice, ctx, deps };
}

export type ConsoleKit = ReturnType<typeof consoleKit>;
