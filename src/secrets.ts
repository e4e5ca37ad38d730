import { statSync } from 'node:fs';

// Secrets in text meant for people (logs, error bodies, check-config): found and hidden in one place.

/** The password in a connection URL (userinfo or `?password=`), so error text can be scrubbed of it. */
export function urlPassword(url: string): string | undefined {
  try {
    const u = new URL(url);
    return (
      (u.password ? decodeURIComponent(u.password) : undefined) ?? u.searchParams.get('password') ?? undefined
    );
  } catch {
    return /password=([^\s&]+)/.exec(url)?.[1];
  }
}

/** Removes the password from a connection URL so it can be logged or shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@\s]+):[^@\s]*@/, '//$1:***@');
  }
}

/** `text` with every occurrence of each secret replaced by `***`; empty and missing secrets are skipped. */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/** `text` with the userinfo password of any URL in it replaced by `***` (linear: no backtracking across `@`). */
export function scrubUrlPasswords(text: string): string {
  return text.replace(/(\b[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[^\s:/@"']{0,256}:)[^\s@/"']{1,256}@/g, '$1***@');
}

/**
 * A warning when a file holding a secret can be read by other users (its group or anyone),
 * else undefined. `what` names the setting that points at the file.
 */
export function secretFileWarning(what: string, path: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o044) === 0) return undefined;
  const who = mode & 0o004 ? 'any user' : 'its group';
  return `${what}: secret file ${JSON.stringify(path)} can be read by ${who} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`;
}
