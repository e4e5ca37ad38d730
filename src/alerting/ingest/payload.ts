import { z } from 'zod';
import type { Labels } from '../../matchers.js';

// Parse stage: the Alertmanager webhook payload, version 4. Unknown extra fields are tolerated
// (and dropped); known fields must have the right types.

const MAX_LABELS = 256;
const MAX_ALERTS = 5000;

const timestamp = z
  .string()
  .max(64)
  .refine((v) => !Number.isNaN(Date.parse(v)), { message: 'must be an RFC 3339 timestamp' });

const labelSet = z
  .record(z.string().max(64 * 1024))
  .refine((r) => Object.keys(r).length <= MAX_LABELS, { message: `at most ${MAX_LABELS} entries` });

export const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp.default('0001-01-01T00:00:00Z'),
  generatorURL: z
    .string()
    .max(16 * 1024)
    .default(''),
  fingerprint: z.string().max(256).default(''),
});

export const webhookSchema = z.object({
  version: z.literal('4'),
  groupKey: z
    .string()
    .min(1)
    .max(64 * 1024),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().max(1024),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z
    .string()
    .max(16 * 1024)
    .default(''),
  alerts: z.array(alertSchema).min(1).max(MAX_ALERTS),
});

export type Alert = z.infer<typeof alertSchema>;
export type Webhook = z.infer<typeof webhookSchema>;

export type ParseResult = { ok: true; webhook: Webhook } | { ok: false; error: string };

function pathText(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

const WEBHOOK_FIELDS = new Set(Object.keys(webhookSchema.shape));
const ALERT_FIELDS = new Set(Object.keys(alertSchema.shape));

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const isText = (v: unknown, max: number, min = 0): v is string =>
  typeof v === 'string' && v.length <= max && v.length >= min;
const isTime = (v: unknown) => isText(v, 64) && !Number.isNaN(Date.parse(v));

/** Only known fields, none named `__proto__` (zod would drop it; an own property here). */
function knownFields(o: Json, fields: ReadonlySet<string>): boolean {
  for (const k in o) if (!fields.has(k)) return false;
  return true;
}

function isLabelSet(v: unknown): v is Labels {
  if (!isObject(v)) return false;
  let n = 0;
  for (const k in v) if (k === '__proto__' || !isText(v[k], 64 * 1024) || ++n > MAX_LABELS) return false;
  return true;
}

/**
 * The webhook as Alertmanager sends it, checked by hand in one pass and returned as decoded,
 * with the schema's defaults filled in: what zod would return, without its copies (zod is
 * most of the CPU a webhook costs). Undefined for anything else (unknown fields, a bad value),
 * which zod then decides, naming the bad field.
 */
function asSent(b: Json): Webhook | undefined {
  if (!knownFields(b, WEBHOOK_FIELDS)) return undefined;
  if (b.version !== '4' || !isText(b.groupKey, 64 * 1024, 1) || !isText(b.receiver, 1024)) return undefined;
  if (b.status !== 'firing' && b.status !== 'resolved') return undefined;
  const t = b.truncatedAlerts;
  if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t >= 0)) return undefined;
  for (const k of ['groupLabels', 'commonLabels', 'commonAnnotations'])
    if (b[k] !== undefined && !isLabelSet(b[k])) return undefined;
  if (b.externalURL !== undefined && !isText(b.externalURL, 16 * 1024)) return undefined;
  const alerts = b.alerts;
  if (!Array.isArray(alerts) || alerts.length < 1 || alerts.length > MAX_ALERTS) return undefined;
  for (const a of alerts as unknown[]) {
    if (!isObject(a) || !knownFields(a, ALERT_FIELDS)) return undefined;
    if ((a.status !== 'firing' && a.status !== 'resolved') || !isLabelSet(a.labels)) return undefined;
    if (a.annotations !== undefined && !isLabelSet(a.annotations)) return undefined;
    if (!isTime(a.startsAt) || (a.endsAt !== undefined && !isTime(a.endsAt))) return undefined;
    if (a.generatorURL !== undefined && !isText(a.generatorURL, 16 * 1024)) return undefined;
    if (a.fingerprint !== undefined && !isText(a.fingerprint, 256)) return undefined;
  }
  for (const a of alerts as Json[]) {
    a.annotations ??= {};
    a.endsAt ??= ZERO_TIME;
    a.generatorURL ??= '';
    a.fingerprint ??= '';
  }
  b.truncatedAlerts ??= 0;
  b.groupLabels ??= {};
  b.commonLabels ??= {};
  b.commonAnnotations ??= {};
  b.externalURL ??= '';
  return b as Webhook;
}

/** Validates a decoded JSON value; the error names the first bad field. */
export function parseWebhook(body: unknown): ParseResult {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return {
      ok: false,
      error: `body: expected a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`,
    };
  const sent = asSent(body as Json);
  if (sent) return { ok: true, webhook: sent };
  const r = webhookSchema.safeParse(body);
  if (r.success) return { ok: true, webhook: r.data };
  const issue = r.error.issues[0] as z.ZodIssue;
  let msg = issue.message;
  if (issue.code === z.ZodIssueCode.invalid_type)
    msg =
      issue.received === 'undefined' ? 'is required' : `expected ${issue.expected}, got ${issue.received}`;
  else if (issue.code === z.ZodIssueCode.invalid_literal) msg = `expected ${JSON.stringify(issue.expected)}`;
  return { ok: false, error: `${pathText(issue.path)}: ${msg}` };
}

/** Strict: invalid UTF-8 throws. One decoder for every body (it keeps no state between calls). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a request body: strict UTF-8, then JSON. */
export function decodeJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = UTF8.decode(buf);
  } catch {
    return { ok: false, error: 'body: not valid UTF-8' };
  }
  if (text.trim() === '') return { ok: false, error: 'body: empty' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: `body: invalid JSON (${(err as Error).message.slice(0, 120)})` };
  }
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Milliseconds since epoch of an Alertmanager time, or undefined for the zero time. */
export function timeMs(ts: string): number | undefined {
  if (ts.startsWith('0001-01-01')) return undefined;
  const v = Date.parse(ts);
  return Number.isNaN(v) ? undefined : v;
}

export function alertName(labels: Labels): string {
  return labels.alertname ?? '';
}
