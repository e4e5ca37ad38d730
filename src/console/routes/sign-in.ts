import { safeEqual } from '../../webconfig.js';
import * as P from '../pages.js';
import { clearedSessionCookie, newSession, sessionCookie } from '../session.js';

import { str, type ConsoleKit } from '../kit.js';

/** Sign in and out with the API token (basic auth, when configured, guards every page instead). */
export function signInRoutes(kit: ConsoleKit): void {
  const { router, form, count, R, send, viewerOf, guarded, deps } = kit;
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
    // No form body (another content type, or none): express 5 leaves req.body undefined.
    const b = (req.body ?? {}) as Record<string, unknown>;
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
}
