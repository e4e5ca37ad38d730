import type { ResponsibleContact } from '../ingest/contacts.js';
import type { Labels } from '../../matchers.js';
import { timeMs } from '../ingest/payload.js';
import type { NotificationContent } from '../model/notification.js';
import { headerSafe } from './escape.js';

// The words every rendering shares: a notification's name, severity, subject and the lines
// that describe its contacts, labels and times.

export function alertNameOf(c: NotificationContent): string {
  return c.commonLabels.alertname ?? c.groupLabels.alertname ?? c.alerts[0]?.labels.alertname ?? 'alert';
}

export function severityOf(c: NotificationContent): string {
  return c.commonLabels.severity ?? c.alerts[0]?.labels.severity ?? '';
}

export function firingCount(c: NotificationContent): number {
  return c.alerts.filter((a) => a.status === 'firing').length;
}

export function durationText(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
}

/** `[FIRING:2] DiskSpaceLow critical` / `[RESOLVED] DiskSpaceLow critical`, CR/LF removed. */
export function subjectOf(c: NotificationContent, now = Date.now()): string {
  if (c.kind === 'test') return headerSafe('[TEST] stackwatch test notification');
  const head = c.status === 'firing' ? `[FIRING:${firingCount(c)}]` : '[RESOLVED]';
  let s = `${head} ${alertNameOf(c)} ${severityOf(c)}`;
  if (c.kind === 'escalation' && c.escalation)
    s = `[ESCALATION] ${s} firing for ${durationText(now - c.escalation.firingSinceMs)}`;
  return headerSafe(s);
}

export function contactLine(c: ResponsibleContact): string {
  return [
    `${c.title} ${c.name}`,
    c.phone && `phone ${c.phone}`,
    c.email,
    `(${c.reason}${c.responsibility ? `: ${c.responsibility}` : ''})`,
  ]
    .filter(Boolean)
    .join(' · ');
}

export function labelText(l: Labels): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function timeText(ts: string): string {
  const ms = timeMs(ts);
  return ms === undefined ? '' : new Date(ms).toISOString();
}

export function introText(c: NotificationContent, now: number): string {
  if (c.kind === 'test') return 'This is a test notification from stackwatch. No alert is firing.';
  if (c.kind === 'escalation' && c.escalation)
    return `Critical alerts in this group have been firing for ${durationText(now - c.escalation.firingSinceMs)} (escalation after ${durationText(c.escalation.afterMs)}). Escalated to the Tech Lead.`;
  return '';
}
