import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// Console sessions and CSRF tokens. A session is a signed cookie (name, expiry, nonce, MAC),
// so replicas sharing the signing key accept each other's sessions and nothing is kept in
// memory. The CSRF token of a form is a MAC over the session it belongs to: a page on
// another site can make the browser send the cookie, never read the token.

export const SESSION_COOKIE = 'stackwatch_session';
export const SESSION_TTL_MS = 12 * 3_600_000;
const MAX_COOKIE = 1024;

function mac(key: string, purpose: string, value: string): string {
  return createHmac('sha256', key).update(`${purpose}\0${value}`).digest('base64url');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface Session {
  user: string;
  expiresAt: number;
  /** The cookie value; CSRF tokens are bound to it. */
  id: string;
}

export function newSession(key: string, user: string, now: number): Session {
  const expiresAt = now + SESSION_TTL_MS;
  const body = `${Buffer.from(user).toString('base64url')}.${expiresAt}.${randomBytes(12).toString('base64url')}`;
  return { user, expiresAt, id: `${body}.${mac(key, 'session', body)}` };
}

export function readSession(key: string, cookie: string | undefined, now: number): Session | undefined {
  if (!cookie || cookie.length > MAX_COOKIE) return undefined;
  const m = /^([A-Za-z0-9_-]+)\.(\d{1,15})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(cookie);
  if (!m) return undefined;
  const body = `${m[1]}.${m[2]}.${m[3]}`;
  if (!equal(m[4] as string, mac(key, 'session', body))) return undefined;
  const expiresAt = Number(m[2]);
  if (now >= expiresAt) return undefined;
  return { user: Buffer.from(m[1] as string, 'base64url').toString('utf8'), expiresAt, id: cookie };
}

/** The CSRF token of forms shown within one session (or to one basic-auth user, or for one link). */
export function csrfToken(key: string, boundTo: string): string {
  return mac(key, 'csrf', boundTo);
}

export function csrfOk(key: string, boundTo: string, given: unknown): boolean {
  return typeof given === 'string' && given.length < 100 && equal(given, csrfToken(key, boundTo));
}

/** Reads one cookie from a Cookie header (bounded; the first occurrence wins). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(s: Session, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor((s.expiresAt - Date.now()) / 1000));
  return `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
