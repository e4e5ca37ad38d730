import type { NextFunction, Request, Response } from 'express';

// Browsers are the one client that can be made to send requests it does not mean: a page on
// another site can post a form to stackwatch (with any basic-auth credentials the browser
// holds), and DNS rebinding can point another name at it. Prometheus, Alertmanager and curl
// send neither Origin nor Sec-Fetch-Site, so refusing what a browser marks as cross-site
// costs them nothing.

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Liveness and readiness answer whatever the Host: container probes use an IP address. */
const ANY_HOST = new Set(['/-/healthy', '/-/ready']);

/** The host name of a Host header (`name:port`, `[v6]:port`), lower case, without the port. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

/** Whether a browser sent this request from another site (or from an opaque origin). */
export function crossSite(req: Pick<Request, 'headers'>): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== (req.headers.host ?? '').toLowerCase();
  } catch {
    return true;
  }
}

export interface RequestOriginOptions {
  /** Host names (without port) the service answers to; empty: any. */
  allowedHosts: () => readonly string[];
}

/** Refuses a state-changing request a browser sent from another site, and a Host not allowed. */
export function requestOrigin(opts: RequestOriginOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const allowed = opts.allowedHosts();
    if (allowed.length && !ANY_HOST.has(req.path)) {
      const name = hostName(req.headers.host ?? '');
      if (!allowed.some((a) => a.toLowerCase() === name))
        return void res.status(421).json({ error: 'this Host is not served here (global.allowed_hosts)' });
    }
    if (!SAFE_METHODS.has(req.method) && crossSite(req))
      return void res.status(403).json({ error: 'cross-site request refused' });
    next();
  };
}
