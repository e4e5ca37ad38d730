import type { NotificationContent } from '../model/notification.js';
import type { Alert } from '../ingest/payload.js';
import { escapeHtml, headerSafe, safeUrl } from './escape.js';
import { contactLine, introText, labelText, severityOf, subjectOf, timeText } from './text.js';
// Render stage: pure functions from stored (already redacted) notification content to a message.

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

/** The email: multipart text + HTML; threading headers come from the outbox row. */
export function renderEmail(
  c: NotificationContent,
  ids: { messageId?: string | null; inReplyTo?: string | null },
  now = Date.now(),
): RenderedEmail {
  const subject = subjectOf(c, now);
  const firing = c.alerts.filter((a) => a.status === 'firing');
  const resolved = c.alerts.filter((a) => a.status === 'resolved');
  const intro = introText(c, now);

  const ack = c.acknowledgement;
  const t: string[] = [subject, ''];
  if (intro) t.push(intro, '');
  if (ack?.note) t.push(`${ack.note}.`, '');
  if (ack?.link) t.push(`Acknowledge: ${ack.link}`, '');
  if (c.commonAnnotations.summary) t.push(`Summary: ${c.commonAnnotations.summary}`);
  if (c.commonAnnotations.description) t.push(`Description: ${c.commonAnnotations.description}`);
  if (c.contacts.length) {
    t.push('', 'Responsible:');
    for (const p of c.contacts) t.push(`  ${contactLine(p)}`);
  }
  const alertText = (a: Alert) => {
    const lines = [`- ${a.annotations.summary ?? a.labels.alertname ?? 'alert'}`];
    if (a.annotations.description) lines.push(`  Description: ${a.annotations.description}`);
    lines.push(`  Labels: ${labelText(a.labels)}`);
    lines.push(
      `  Started: ${timeText(a.startsAt)}${a.status === 'resolved' ? `  Ended: ${timeText(a.endsAt)}` : ''}`,
    );
    if (a.annotations.runbook_url) lines.push(`  Runbook: ${a.annotations.runbook_url}`);
    if (a.generatorURL) lines.push(`  Source: ${a.generatorURL}`);
    return lines.join('\n');
  };
  if (firing.length) t.push('', `Firing (${firing.length}):`, ...firing.map(alertText));
  if (resolved.length) t.push('', `Resolved (${resolved.length}):`, ...resolved.map(alertText));
  if (c.truncatedAlerts > 0)
    t.push('', `${c.truncatedAlerts} more alerts were left out by Alertmanager (max_alerts).`);
  t.push('');
  if (c.externalURL) t.push(`Alertmanager: ${c.externalURL}`);
  if (c.kind !== 'test') t.push(`Group: ${c.groupKey}`, `Receiver: ${c.receiver}`);

  const e = escapeHtml;
  const link = (u: string | undefined, text: string) => {
    const safe = safeUrl(u);
    return safe ? `<a href="${e(safe)}">${e(text)}</a>` : e(u ?? '');
  };
  const colour = c.status === 'resolved' ? '#2eb886' : severityOf(c) === 'critical' ? '#d00000' : '#daa038';
  const h: string[] = [
    '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${e(subject)}</title></head><body style="font-family:sans-serif;font-size:14px;color:#222">`,
    `<h2 style="margin:0 0 8px;padding:8px;color:#fff;background:${colour}">${e(subject)}</h2>`,
  ];
  if (intro) h.push(`<p><strong>${e(intro)}</strong></p>`);
  if (ack?.note) h.push(`<p style="padding:6px;background:#eef6ee"><strong>${e(ack.note)}.</strong></p>`);
  const ackHref = safeUrl(ack?.link);
  if (ackHref)
    h.push(
      `<p><a href="${e(ackHref)}" style="display:inline-block;padding:8px 14px;background:#1d4ed8;color:#fff;text-decoration:none;border-radius:4px">Acknowledge</a></p>`,
    );
  if (c.commonAnnotations.summary)
    h.push(`<p><strong>Summary:</strong> ${e(c.commonAnnotations.summary)}</p>`);
  if (c.commonAnnotations.description)
    h.push(`<p><strong>Description:</strong> ${e(c.commonAnnotations.description)}</p>`);
  if (c.contacts.length) {
    h.push('<h3>Responsible</h3><table cellpadding="4" style="border-collapse:collapse">');
    h.push(
      '<tr><th align="left">Role</th><th align="left">Name</th><th align="left">Phone</th><th align="left">Email</th><th align="left">Why</th></tr>',
    );
    for (const p of c.contacts)
      h.push(
        `<tr><td>${e(p.title)}</td><td>${e(p.name)}</td><td>${e(p.phone)}</td><td>${p.email ? `<a href="mailto:${e(p.email)}">${e(p.email)}</a>` : ''}</td><td>${e(p.reason)}${p.responsibility ? `: ${e(p.responsibility)}` : ''}</td></tr>`,
      );
    h.push('</table>');
  }
  const alertHtml = (a: Alert) => {
    const parts = [`<li><strong>${e(a.annotations.summary ?? a.labels.alertname ?? 'alert')}</strong>`];
    if (a.annotations.description) parts.push(`<br>${e(a.annotations.description)}`);
    parts.push(`<br><code>${e(labelText(a.labels))}</code>`);
    parts.push(
      `<br>Started ${e(timeText(a.startsAt))}${a.status === 'resolved' ? `, ended ${e(timeText(a.endsAt))}` : ''}`,
    );
    if (a.annotations.runbook_url)
      parts.push(`<br>Runbook: ${link(a.annotations.runbook_url, a.annotations.runbook_url)}`);
    if (a.generatorURL) parts.push(`<br>${link(a.generatorURL, 'Source')}`);
    parts.push('</li>');
    return parts.join('');
  };
  if (firing.length) h.push(`<h3>Firing (${firing.length})</h3><ul>${firing.map(alertHtml).join('')}</ul>`);
  if (resolved.length)
    h.push(`<h3>Resolved (${resolved.length})</h3><ul>${resolved.map(alertHtml).join('')}</ul>`);
  if (c.truncatedAlerts > 0)
    h.push(`<p>${c.truncatedAlerts} more alerts were left out by Alertmanager (max_alerts).</p>`);
  if (c.externalURL) h.push(`<p>${link(c.externalURL, 'Alertmanager')}</p>`);
  if (c.kind !== 'test')
    h.push(`<p style="color:#888;font-size:12px">Group: ${e(c.groupKey)} · Receiver: ${e(c.receiver)}</p>`);
  h.push('</body></html>');

  const headers: Record<string, string> = {};
  if (ids.messageId) headers['Message-ID'] = headerSafe(ids.messageId, 998);
  if (ids.inReplyTo) {
    headers['In-Reply-To'] = headerSafe(ids.inReplyTo, 998);
    headers['References'] = headerSafe(ids.inReplyTo, 998);
  }
  return { subject, text: t.join('\n'), html: h.join('\n'), headers };
}

// ---- Slack ----
