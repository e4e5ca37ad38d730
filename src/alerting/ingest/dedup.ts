import { createHash } from 'node:crypto';
import type { Alert } from './payload.js';

/**
 * The dedup key: Alertmanager HA replicas and retried posts send the same group again; the same
 * group key, channel, recipients, status and alerts (fingerprint, start, end) give the same key.
 */
export function dedupKey(parts: {
  kind: string;
  groupKey: string;
  channel: string;
  recipients: readonly string[];
  status: string;
  alerts: readonly Pick<Alert, 'fingerprint' | 'startsAt' | 'endsAt' | 'status' | 'labels'>[];
  extra?: string;
}): string {
  const alerts = parts.alerts
    .map((a) =>
      [a.fingerprint || labelsKey(a.labels), a.status, normTime(a.startsAt), normTime(a.endsAt)].join('|'),
    )
    .sort();
  const text = JSON.stringify([
    parts.kind,
    parts.groupKey,
    parts.channel,
    [...parts.recipients].sort(),
    parts.status,
    alerts,
    parts.extra ?? '',
  ]);
  return createHash('sha256').update(text).digest('hex');
}

function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The same instant written with different precision gives the same key. */
function normTime(ts: string): string {
  if (ts.startsWith('0001-01-01')) return '0';
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? ts : String(ms);
}
