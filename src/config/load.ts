import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { secretFileWarning, scrubSecrets, scrubUrlPasswords } from '../secrets.js';
import { configSchema, type Config } from './schema.js';
import { parseYaml, yamlErrorPosition } from './yaml.js';

/** A configuration problem, already phrased as the one line an operator needs. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Env = Record<string, string | undefined>;

function pathText(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let cur = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

function shortValue(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

/**
 * Values under these keys never appear in error messages: the key's last word (after `_`, `-`
 * or a case change) names a secret, or the value is an HTTP header, which often carries one.
 */
const SECRET_WORD = /^(password|passwd|secret|token|dsn|url|key|apikey|credentials|authorization|cookie)$/i;
const HEADER_KEYS = new Set(['headers']);

function isSecretPath(path: readonly (string | number)[]): boolean {
  if (path.slice(0, -1).some((p) => typeof p === 'string' && HEADER_KEYS.has(p))) return true;
  const last = String(path.at(-1) ?? '');
  const lastWord =
    last
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .split(/[_-]/)
      .at(-1) ?? '';
  return SECRET_WORD.test(lastWord);
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string value; `$$` is a literal `$`. */
function interpolate(node: Json, env: Env, path: (string | number)[]): Json {
  if (typeof node === 'string') {
    return node.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (m, name?: string, def?: string) => {
        if (m === '$$') return '$';
        const v = env[name as string];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        throw new ConfigError(`config: ${pathText(path)}: environment variable ${name} is not set`);
      },
    );
  }
  if (Array.isArray(node)) return node.map((n, i) => interpolate(n, env, [...path, i]));
  if (node && typeof node === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolate(v, env, [...path, k]);
    return out;
  }
  return node;
}

/** Any string field `x` may be given as `x_file: /path`; the file's content (trailing newline trimmed) is used. */
function resolveFiles(node: Json, path: (string | number)[], opts: LoadOptions): Json {
  if (Array.isArray(node)) return node.map((n, i) => resolveFiles(n, [...path, i], opts));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.endsWith('_file') && typeof v === 'string') {
      const key = k.slice(0, -'_file'.length);
      if (key in node)
        throw new ConfigError(`config: ${pathText([...path, k])}: give either ${key} or ${k}, not both`);
      try {
        out[key] = readFileSync(v, 'utf8').replace(/\r?\n$/, '');
        // Only files that hold a secret: a CA certificate (`ca_file`) may be readable by anyone.
        const warning = isSecretPath([...path, key])
          ? secretFileWarning(`config: ${pathText([...path, k])}`, v)
          : undefined;
        if (warning) opts.onWarning?.(warning);
      } catch (err) {
        throw new ConfigError(
          `config: ${pathText([...path, k])}: cannot read secret file ${JSON.stringify(v)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    } else {
      out[k] = resolveFiles(v, [...path, k], opts);
    }
  }
  return out;
}

function obj(parent: Record<string, Json>, key: string): Record<string, Json> {
  const cur = parent[key];
  if (cur && typeof cur === 'object' && !Array.isArray(cur)) return cur;
  const fresh: Record<string, Json> = {};
  parent[key] = fresh;
  return fresh;
}

/**
 * The manuals' environment names as shortcuts. A value in the file wins; env fills only
 * what the file leaves unset, so one config can serve several hosts.
 */
export function applyEnvShortcuts(raw: Record<string, Json>, env: Env): void {
  const collectors = obj(raw, 'collectors');
  if (env.DATABASE_URL) {
    const pg = obj(collectors, 'postgres');
    if (!Array.isArray(pg.targets) || pg.targets.length === 0)
      pg.targets = [{ name: 'default', dsn: env.DATABASE_URL }];
  }
  if (env.REDIS_URL) {
    const redis = obj(collectors, 'redis');
    if (!Array.isArray(redis.targets) || redis.targets.length === 0)
      redis.targets = [{ name: 'default', url: env.REDIS_URL }];
  }
  if (env.DOCKER_HOST) {
    const docker = obj(collectors, 'docker');
    if (docker.host === undefined) docker.host = env.DOCKER_HOST;
  }
  if (env.STACKWATCH_DATA_DIR && raw.data_dir === undefined) raw.data_dir = env.STACKWATCH_DATA_DIR;
  if (env.LOG_LEVEL && raw.log_level === undefined) raw.log_level = env.LOG_LEVEL.toLowerCase();
  const receiver = obj(raw, 'receiver');
  if (env.STACKWATCH_WEBHOOK_TOKEN && receiver.webhook_token === undefined)
    receiver.webhook_token = env.STACKWATCH_WEBHOOK_TOKEN;
  if (env.SMTP_URL) {
    const email = obj(receiver, 'email');
    if (email.smtp_url === undefined) email.smtp_url = env.SMTP_URL;
  }
  if (env.SLACK_WEBHOOK_URL) {
    const slack = obj(receiver, 'slack');
    if (slack.webhook_url === undefined) slack.webhook_url = env.SLACK_WEBHOOK_URL;
  }
}

function describeIssueText(issue: z.ZodIssue, input: unknown): string {
  const path = pathText(issue.path);
  const value = valueAt(input, issue.path);
  const shown = isSecretPath(issue.path) ? '[redacted]' : shortValue(value);
  switch (issue.code) {
    case z.ZodIssueCode.unrecognized_keys:
      return `config: ${path === '(root)' ? '' : path + '.'}${issue.keys.join(', ')}: unknown key${issue.keys.length > 1 ? 's' : ''}`;
    case z.ZodIssueCode.invalid_type:
      return `config: ${path}: expected ${issue.expected}, got ${issue.received}${value === undefined ? '' : ` (${shown})`}`;
    case z.ZodIssueCode.invalid_union: {
      // Report the most specific message among the union's branches.
      const inner = issue.unionErrors.flatMap((e) => e.issues).find((i) => i.code === z.ZodIssueCode.custom);
      if (inner) return describeIssueText(inner, input);
      if (value === undefined) return `config: ${path}: is required`;
      return `config: ${path}: invalid value ${shown}`;
    }
    case z.ZodIssueCode.custom:
      // Custom checks (durations, regexes) already quote the value they refused.
      return `config: ${path}: ${isSecretPath(issue.path) && typeof value === 'string' ? scrubSecrets(issue.message, [value, JSON.stringify(value)]) : issue.message}`;
    default:
      return `config: ${path}: ${issue.message} (value: ${shown})`;
  }
}

/** One issue as an operator reads it, without secret values or URL passwords. */
function describeIssue(issue: z.ZodIssue, input: unknown): string {
  return scrubUrlPasswords(describeIssueText(issue, input));
}

/** Validates an already-parsed object (after interpolation and `_file` resolution). */
export function validateConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => describeIssue(i, raw)).join('\n'));
  }
  return result.data;
}

/** Parses YAML text into a validated Config. `source` names the file in error messages. */
export interface LoadOptions {
  /** Told about problems that do not stop the load, such as a secret file others can read. */
  onWarning?: (message: string) => void;
}

export function parseConfigText(
  text: string,
  env: Env = process.env,
  source = 'config',
  opts: LoadOptions = {},
): Config {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    const pos = yamlErrorPosition(err);
    const where = pos ? ` line ${pos.line} column ${pos.col}` : '';
    const msg = (err as Error).message.split('\n')[0];
    throw new ConfigError(`config: ${source}${where}: invalid YAML: ${msg}`);
  }
  return configFromDocument(doc, env, source, opts);
}

/** Validates a parsed document: interpolation, `*_file` secrets, environment shortcuts, schema. */
function configFromDocument(doc: unknown, env: Env, source: string, opts: LoadOptions): Config {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(
      `config: ${source}: the top level must be a mapping, got ${Array.isArray(doc) ? 'a list' : typeof doc}`,
    );
  }
  const interpolated = interpolate(doc as Json, env, []) as Record<string, Json>;
  const resolved = resolveFiles(interpolated, [], opts) as Record<string, Json>;
  applyEnvShortcuts(resolved, env);
  return validateConfig(resolved);
}

/** Loads the config file, or the defaults plus environment shortcuts when `file` is undefined. */
export function loadConfig(file: string | undefined, env: Env = process.env, opts: LoadOptions = {}): Config {
  if (file === undefined) return configFromDocument({}, env, '(defaults)', opts);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseConfigText(text, env, file, opts);
}
