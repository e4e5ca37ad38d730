import type { ResponsibleContact } from './contacts.js';
import type { Labels } from '../matchers.js';
import type { Alert } from './payload.js';
import { timeMs } from './payload.js';
import type { NotificationContent } from './types.js';

// Render stage: pure functions from stored (already redacted) notification content to an
// email or a Slack message. Nothing here trusts alert content: HTML is escaped, Slack control
// characters are escaped, header values lose CR/LF, links are only made from http(s) URLs.

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A value safe for a mail header: no CR/LF or other control characters, bounded length. */
export function headerSafe(s: string, max = 250): string {
  // Control characters (CR/LF above all) would let a label value inject mail headers.
  const flat = s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Only http(s) URLs become links (no `javascript:`, no `data:`). */
export function safeUrl(u: string | undefined): string | undefined {
  if (!u) return undefined;
  try {
    const url = new URL(u);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, Math.max(0, max - 1))}…` : s;
}

export function alertNameOf(c: NotificationContent): string {
  return c.commonLabels.alertname ?? c.groupLabels.alertname ?? c.alerts[0]?.labels.alertname ?? 'alert';
}

export function severityOf(c: NotificationContent): string {
  return c.commonLabels.severity ?? c.alerts[0]?.labels.severity ?? '';
}

export function firingCount(c: NotificationContent): number {
  return c.alerts.filter((a) => a.status === 'firing').length;
}

function durationText(ms: number): string {
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

function contactLine(c: ResponsibleContact): string {
  return [
    `${c.title} ${c.name}`,
    c.phone && `phone ${c.phone}`,
    c.email,
    `(${c.reason}${c.responsibility ? `: ${c.responsibility}` : ''})`,
  ]
    .filter(Boolean)
    .join(' · ');
}

function labelText(l: Labels): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function timeText(ts: string): string {
  const ms = timeMs(ts);
  return ms === undefined ? '' : new Date(ms).toISOString();
}

function introText(c: NotificationContent, now: number): string {
  if (c.kind === 'test') return 'This is a test notification from stackwatch. No alert is firing.';
  if (c.kind === 'escalation' && c.escalation)
    return `Critical alerts in this group have been firing for ${durationText(now - c.escalation.firingSinceMs)} (escalation after ${durationText(c.escalation.afterMs)}). Escalated to the Tech Lead.`;
  return '';
}

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

export const SLACK_MAX_BLOCKS = 50;
/** Block Kit's limit on a button's URL. */
const SLACK_MAX_BUTTON_URL = 3000;
export const SLACK_MAX_TEXT = 3000;
const SLACK_MAX_HEADER = 150;

export interface SlackBlock {
  type: string;
  [k: string]: unknown;
}

export interface SlackMessage {
  text: string;
  attachments: { color: string; fallback: string; blocks: SlackBlock[] }[];
}

export function slackColour(c: NotificationContent): string {
  if (c.kind === 'test') return '#439fe0';
  if (c.status === 'resolved') return '#2eb886';
  const sev = severityOf(c);
  if (sev === 'critical') return '#d00000';
  if (sev === 'warning') return '#daa038';
  return '#439fe0';
}

function slackLink(u: string | undefined, text: string): string | undefined {
  const safe = safeUrl(u);
  if (!safe) return undefined;
  return `<${escapeSlack(safe).replace(/\|/g, '%7C')}|${escapeSlack(text).replace(/\|/g, '¦')}>`;
}

const mrkdwn = (text: string): SlackBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(text, SLACK_MAX_TEXT) },
});

/** Block Kit in a coloured attachment; long groups are cut to Slack's limits with a "+N more" line. */
export function renderSlack(c: NotificationContent, now = Date.now()): SlackMessage {
  const subject = subjectOf(c, now);
  const s = escapeSlack;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(subject, SLACK_MAX_HEADER), emoji: false } },
  ];
  const intro = introText(c, now);
  const head: string[] = [];
  if (intro) head.push(`*${s(intro)}*`);
  const ack = c.acknowledgement;
  if (ack?.note) head.push(`:white_check_mark: *${s(ack.note)}.*`);
  if (c.commonAnnotations.summary) head.push(`*Summary:* ${s(c.commonAnnotations.summary)}`);
  if (c.commonAnnotations.description) head.push(`*Description:* ${s(c.commonAnnotations.description)}`);
  if (head.length) blocks.push(mrkdwn(head.join('\n')));
  // A button, right under the summary, that opens the Acknowledge page (a link button: the
  // page asks who acknowledges and for how long, so no Slack app or interactivity is needed).
  const ackUrl = safeUrl(ack?.link);
  if (ackUrl && ackUrl.length <= SLACK_MAX_BUTTON_URL)
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: 'acknowledge',
          style: 'primary',
          text: { type: 'plain_text', text: 'Acknowledge', emoji: false },
          url: ackUrl,
        },
      ],
    });
  if (c.contacts.length)
    blocks.push(mrkdwn(`*Responsible:*\n${c.contacts.map((p) => `• ${s(contactLine(p))}`).join('\n')}`));

  const tail: SlackBlock[] = [];
  const links = [slackLink(c.externalURL, 'Alertmanager')].filter(Boolean) as string[];
  const footer = [...links, c.kind !== 'test' ? `receiver ${s(c.receiver)}` : ''].filter(Boolean).join(' · ');
  if (footer)
    tail.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(footer, SLACK_MAX_TEXT) }] });

  const alertBlock = (a: Alert): SlackBlock => {
    const icon = a.status === 'firing' ? ':red_circle:' : ':large_green_circle:';
    const lines = [`${icon} *${s(truncate(a.annotations.summary ?? a.labels.alertname ?? 'alert', 300))}*`];
    lines.push(`\`${s(truncate(labelText(a.labels), 1200))}\``);
    const l = [slackLink(a.annotations.runbook_url, 'Runbook'), slackLink(a.generatorURL, 'Source')].filter(
      Boolean,
    );
    if (l.length) lines.push(l.join(' · '));
    // The description goes last and takes what room is left, so labels and links survive.
    if (a.annotations.description) {
      const room = SLACK_MAX_TEXT - lines.join('\n').length - 1;
      if (room > 20) lines.push(truncate(s(a.annotations.description), room));
    }
    return mrkdwn(lines.join('\n'));
  };
  // Room for alerts: the limit minus header/contacts, the tail and one "+N more" line.
  const room = SLACK_MAX_BLOCKS - blocks.length - tail.length - 2;
  const shown = c.alerts.slice(0, Math.max(0, room));
  blocks.push({ type: 'divider' }, ...shown.map(alertBlock));
  const hidden = c.alerts.length - shown.length + c.truncatedAlerts;
  if (hidden > 0)
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `+${hidden} more alert${hidden === 1 ? '' : 's'}` }],
    });
  blocks.push(...tail);
  return {
    text: s(subject),
    attachments: [{ color: slackColour(c), fallback: s(subject), blocks }],
  };
}

/** Plain text for the console channel (what would be sent). */
export function renderConsole(c: NotificationContent, now = Date.now()): string {
  return renderEmail(c, {}, now).text;
}
