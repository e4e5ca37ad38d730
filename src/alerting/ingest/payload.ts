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

/** Validates a decoded JSON value; the error names the first bad field. */
export function parseWebhook(body: unknown): ParseResult {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return {
      ok: false,
      error: `body: expected a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`,
    };
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

/** Decodes a request body: strict UTF-8, then JSON. */
export function decodeJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
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
