import type { Request, Response } from 'express';
import { safeEqual } from '../../webconfig.js';
import * as P from '../pages.js';
import { clearedSessionCookie, newSession, sessionCookie } from '../session.js';
import type { AlertReceiver } from '../../alerting/index.js';

import { str, type ConsoleKit } from '../kit.js';

/** A sign-in link's nonce: base64url, bounded before anything is done with it. */
const NONCE = /^[A-Za-z0-9_-]{20,100}$/;

/**
 * Sign in and out with the API token, or on the first run with the console token or its
 * one-time link (basic auth, when configured, guards every page instead).
 */
export function signInRoutes(kit: ConsoleKit): void {
  const { router, form, count, R, send, viewerOf, guarded, deps } = kit;
  /** What the sign-in form takes: the API token, else the console's first-run token. */
  const secretOf = (r: AlertReceiver) =>
    r.config.api_token ?? r.config.webhook_token ?? r.consoleToken.current();
  const firstRun = (r: AlertReceiver) => !r.config.api_token && !r.config.webhook_token;
  const loginDisabled = () => {
    const r = R();
    if (!r) return 'The alert receiver is disabled in the configuration.';
    if (secretOf(r)) return undefined;
    return 'The console opens once the outbox is available: its console token is kept there. Set receiver.api_token to sign in without it.';
  };
  const loginPage = (res: Response, code: number, next: string, notice?: string) => {
    const r = R();
    send(
      res,
      code,
      { title: 'Sign in', notice: notice ? { kind: 'error', text: notice } : undefined },
      P.loginPage({ disabled: loginDisabled(), next, firstRun: Boolean(r && firstRun(r)) }),
    );
  };
  const signIn = (req: Request, res: Response, r: AlertReceiver, user: string, next: string) => {
    count('login');
    const s = newSession(r.signingKey, user, Date.now());
    res.setHeader('Set-Cookie', sessionCookie(s, req.secure));
    deps.logger.info({ user }, 'console sign-in');
    // Only a path on this site: never an open redirect.
    res.redirect(303, /^\/(?![/\\])/.test(next) ? next : '/');
  };

  router.get('/login', (req, res) => {
    if (viewerOf(req)) return void res.redirect(303, '/');
    loginPage(res, 200, str(req.query.next, 500));
  });
  router.post('/login', form, async (req, res) => {
    const r = R();
    const secret = r && secretOf(r);
    if (!r || !secret) return loginPage(res, 403, '');
    // No form body (another content type, or none): express 5 leaves req.body undefined.
    const b = (req.body ?? {}) as Record<string, unknown>;
    const user = str(b.user, 100).trim();
    const next = str(b.next, 500);
    if (!user || !safeEqual(str(b.token, 1000), secret)) {
      count('login_failed');
      deps.logger.warn({ user }, 'console sign-in refused');
      return loginPage(res, 401, next, firstRun(r) ? 'Wrong console token.' : 'Wrong API token.');
    }
    if (firstRun(r)) await r.consoleToken.signedIn();
    signIn(req, res, r, user, next);
  });

  // The first run's one-time link: opening it (a GET) uses nothing up, so a link preview
  // cannot spend it; the form it shows signs in once.
  const linkUsed = (res: Response) => {
    count('login_failed');
    send(
      res,
      410,
      { title: 'Sign-in link not valid' },
      P.messageBody(
        'This sign-in link was used already or has expired. Run `stackwatch console-token` where stackwatch runs to print the console token, and sign in with it.',
        { href: '/login', label: 'Sign in' },
      ),
    );
  };
  router.get('/login/once/:nonce', async (req, res) => {
    const r = R();
    const nonce = str(req.params.nonce, 200);
    if (viewerOf(req)) return void res.redirect(303, '/');
    if (!r || !firstRun(r) || !NONCE.test(nonce) || !(await r.consoleToken.linkValid(nonce)))
      return linkUsed(res);
    send(res, 200, { title: 'Sign in' }, P.signInLinkPage({ nonce }));
  });
  router.post('/login/once', form, async (req, res) => {
    const r = R();
    const b = (req.body ?? {}) as Record<string, unknown>;
    const nonce = str(b.nonce, 200);
    const user = str(b.user, 100).trim();
    if (!r || !firstRun(r) || !NONCE.test(nonce)) return linkUsed(res);
    if (!user)
      return send(res, 400, { title: 'Sign in' }, P.signInLinkPage({ nonce, error: 'Give your name.' }));
    if (!(await r.consoleToken.takeLink(nonce))) return linkUsed(res);
    signIn(req, res, r, user, '/');
  });
  router.post(
    '/logout',
    form,
    guarded((req, res) => {
      res.setHeader('Set-Cookie', clearedSessionCookie(req.secure));
      res.redirect(303, deps.basicAuth() ? '/' : '/login');
    }),
  );
}
