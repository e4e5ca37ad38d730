import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { parseYaml } from './config/yaml.js';
import { z } from 'zod';
import { ConfigError } from './config/load.js';
import { PasswordChecker } from './password-check.js';
import { secretFileWarning } from './secrets.js';

// The exporter-toolkit web-config.yml format that Prometheus users already know.
const webConfigSchema = z
  .object({
    tls_server_config: z
      .object({
        cert_file: z.string().min(1),
        key_file: z.string().min(1),
        client_ca_file: z.string().optional(),
        client_auth_type: z
          .enum([
            'NoClientCert',
            'RequestClientCert',
            'RequireAnyClientCert',
            'VerifyClientCertIfGiven',
            'RequireAndVerifyClientCert',
          ])
          .default('NoClientCert'),
        min_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).default('TLS12'),
        max_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
      })
      .strict()
      .optional(),
    http_server_config: z
      .object({ headers: z.record(z.string()).optional() })
      .strict()
      .optional(),
    basic_auth_users: z.record(z.string().regex(/^\$2[aby]\$\d\d\$/, 'must be a bcrypt hash')).optional(),
  })
  .strict();

export interface TlsOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

export interface WebConfig {
  tls?: TlsOptions;
  headers: Record<string, string>;
  users?: Map<string, string>;
}

const TLS_VERSION = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

export interface LoadWebConfigOptions {
  /** Told about a TLS key file others can read. */
  onWarning?: (message: string) => void;
}

export function loadWebConfig(file: string, opts: LoadWebConfigOptions = {}): WebConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new ConfigError(`web config: ${file}: ${((err as Error).message ?? String(err)).split('\n')[0]}`);
  }
  const parsed = webConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0] as z.ZodIssue;
    const what = i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : i.message;
    throw new ConfigError(`web config: ${file}: ${i.path.join('.') || '(root)'}: ${what}`);
  }
  const base = dirname(file);
  const read = (key: string, p: string): Buffer => {
    try {
      return readFileSync(resolve(base, p));
    } catch (err) {
      throw new ConfigError(
        `web config: ${file}: tls_server_config.${key}: cannot read ${JSON.stringify(p)}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
  };
  const t = parsed.data.tls_server_config;
  const keyWarning =
    t && secretFileWarning(`web config: ${file}: tls_server_config.key_file`, resolve(base, t.key_file));
  if (keyWarning) opts.onWarning?.(keyWarning);
  const tls: TlsOptions | undefined = t && {
    cert: read('cert_file', t.cert_file),
    key: read('key_file', t.key_file),
    ca: t.client_ca_file ? read('client_ca_file', t.client_ca_file) : undefined,
    requestCert: t.client_auth_type !== 'NoClientCert',
    rejectUnauthorized:
      t.client_auth_type === 'RequireAndVerifyClientCert' || t.client_auth_type === 'RequireAnyClientCert',
    minVersion: TLS_VERSION[t.min_version],
    maxVersion: t.max_version ? TLS_VERSION[t.max_version] : undefined,
  };
  const users = parsed.data.basic_auth_users
    ? new Map(Object.entries(parsed.data.basic_auth_users))
    : undefined;
  return { tls, headers: parsed.data.http_server_config?.headers ?? {}, users };
}

// A hash compared against when the user is unknown, so unknown users cost the same time.
// It is a constant (the hash of a random string nobody kept) so that loading this module costs
// neither a bcrypt run on the event loop nor the bcrypt library in the main thread.
const DUMMY_HASH = '$2a$10$Z5ZQNX7VuxiwQkcKQmGmoeYRFec3BIRe5Ym07JJ0sxy9FGxW3tIzm';

export interface BasicAuthOptions {
  users: Map<string, string>;
  /** Requests that need no basic auth (bearer-token routes, liveness). */
  exempt: (req: Request) => boolean;
  checker: PasswordChecker;
  /** How long a verified user/password pair is accepted without bcrypt. */
  cacheTtlMs?: number;
}

const CACHE_SIZE = 1000;

function refuse(res: Response): void {
  res.setHeader('WWW-Authenticate', 'Basic realm="stackwatch"');
  res.status(401).json({ error: 'unauthorized' });
}

/**
 * Basic auth against bcrypt hashes. bcrypt runs on the checker's threads, never on the event
 * loop; a request without credentials is refused before any hashing. Successful checks are
 * cached for a short while by a digest of the credentials (as exporter-toolkit does), so a
 * scrape every 15 s does not pay bcrypt's cost.
 */
export function basicAuth(opts: BasicAuthOptions) {
  const { users, exempt, checker } = opts;
  const ttl = opts.cacheTtlMs ?? 5 * 60_000;
  const verified = new Map<string, number>();
  return (req: Request, res: Response, next: NextFunction): void => {
    if (exempt(req)) return next();
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
    const decoded = m ? Buffer.from(m[1] as string, 'base64').toString('utf8') : '';
    const sep = decoded.indexOf(':');
    if (sep < 0) return refuse(res);
    const user = decoded.slice(0, sep);
    const pass = decoded.slice(sep + 1);
    const hash = users.get(user);
    const digest = createHash('sha256')
      .update(`${user}\0${pass}\0${hash ?? ''}`)
      .digest('hex');
    const until = verified.get(digest);
    if (hash !== undefined && until !== undefined && until > Date.now()) return next();
    checker.check(pass, hash ?? DUMMY_HASH).then(
      (result) => {
        if (result === 'match' && hash !== undefined) {
          if (verified.size >= CACHE_SIZE) verified.clear();
          verified.set(digest, Date.now() + ttl);
          return next();
        }
        if (result === 'busy') {
          res.setHeader('Retry-After', '1');
          return void res.status(429).json({ error: 'too many password checks in progress; retry later' });
        }
        refuse(res);
      },
      () => refuse(res),
    );
  };
}

/** Constant-time string comparison for tokens. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
