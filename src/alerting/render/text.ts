import type { ResponsibleContact } from '../ingest/contacts.js';
import type { Labels } from '../../matchers.js';
import { timeMs } from '../ingest/payload.js';
import type { NotificationContent } from '../model/notification.js';
import { headerSafe } from './escape.js';
import { LEGACY_POLICY } from '../../config/oncall.js';

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
    [c.title, c.name].filter(Boolean).join(' '),
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
  const e = c.kind === 'escalation' ? c.escalation : undefined;
  if (!e) return '';
  const paged = c.contacts
    .filter((p) => p.reason === 'escalation')
    .map((p) => [p.title, p.name].filter(Boolean).join(' '));
  const to = paged.length ? ` Paging ${paged.join(', ')}.` : '';
  const since = durationText(now - e.firingSinceMs);
  if (!e.step || e.step.policy === LEGACY_POLICY)
    return `Critical alerts in this group have been firing for ${since} (escalation after ${durationText(e.afterMs)}).${to}`;
  const s = e.step;
  const round = s.repeats ? `, repeat ${s.repeat} of ${s.repeats}` : '';
  return `Firing for ${since}. Escalation policy ${s.policy}, step ${s.step} of ${s.steps}${round} (${durationText(e.afterMs)} after the first notification).${to}`;
}

/** Why an escalation was sent, in a few words (the API and the console show it). */
export function escalationWhy(c: NotificationContent): string {
  const s = c.escalation?.step;
  if (!s) return '';
  if (s.policy === LEGACY_POLICY) return `escalation section: ${s.notify.join(', ')}`;
  return `policy ${s.policy}, step ${s.step} of ${s.steps}${s.repeats ? `, repeat ${s.repeat} of ${s.repeats}` : ''}: ${s.notify.join(', ')}`;
}
