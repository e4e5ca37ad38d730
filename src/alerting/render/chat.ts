// What the chat robots (DingTalk, WeCom, Feishu) show: the Slack message's content — status,
// severity, summary, the responsible and on-duty people with their phones, the Acknowledge
// link, the alerts — as lines of one markdown dialect, cut to the service's size limit, and
// the people a critical notification @mentions.

import type { Alert } from '../ingest/payload.js';
import type { NotificationContent } from '../model/notification.js';
import type { RenderedDigest } from './digest.js';
import { safeUrl } from './escape.js';
import { contactLine, introText, labelText, subjectOf } from './text.js';

/** How one service writes markdown. Every text from an alert goes through `escape`. */
export interface Dialect {
  escape(s: string): string;
  bold(s: string): string;
  /** A link; undefined URLs (not http(s)) are left out by the caller. */
  link(text: string, url: string): string;
  /** Label sets: as code, so a value cannot become a link or a mention. */
  code(s: string): string;
  heading(s: string): string;
  /** Between two blocks. */
  separator: string;
}

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** `s` cut to at most `max` UTF-8 bytes, on a character boundary, with `…` when cut. */
export function clipBytes(s: string, max: number): string {
  if (utf8Bytes(s) <= max) return s;
  let out = '';
  let used = 0;
  const room = Math.max(0, max - 3);
  for (const ch of s) {
    const n = utf8Bytes(ch);
    if (used + n > room) break;
    out += ch;
    used += n;
  }
  return `${out}…`;
}

/** A chat message: its title (notification preview) and markdown body within the byte budget. */
export interface ChatText {
  title: string;
  text: string;
}

const ALERT_MAX_BYTES = 1200;

/**
 * The markdown of one notification in `dialect`, at most `maxBytes`: the head (what, who,
 * Acknowledge) always; then the alerts while they fit, the rest counted in "+N more";
 * the footer last. `extraHead` (the mention line) goes right under the head.
 */
export function chatText(
  c: NotificationContent,
  d: Dialect,
  o: { maxBytes: number; extraHead?: string; ackLink?: boolean; now?: number },
): ChatText {
  const now = o.now ?? Date.now();
  const title = subjectOf(c, now);
  const e = d.escape;
  const head: string[] = [d.heading(e(title))];
  const intro = introText(c, now);
  if (intro) head.push(d.bold(e(intro)));
  const ack = c.acknowledgement;
  if (ack?.note) head.push(`✅ ${d.bold(e(`${ack.note}.`))}`);
  if (c.commonAnnotations.summary) head.push(`${d.bold('Summary:')} ${e(c.commonAnnotations.summary)}`);
  if (c.commonAnnotations.description)
    head.push(`${d.bold('Description:')} ${e(clipBytes(c.commonAnnotations.description, 1500))}`);
  const ackUrl = safeUrl(ack?.link);
  if (ackUrl && o.ackLink !== false) head.push(d.link('Acknowledge', ackUrl));
  if (c.contacts.length)
    head.push(`${d.bold('Responsible:')}\n${c.contacts.map((p) => `- ${e(contactLine(p))}`).join('\n')}`);
  if (o.extraHead) head.push(o.extraHead);

  const footerParts: string[] = [];
  const am = safeUrl(c.externalURL);
  if (am) footerParts.push(d.link('Alertmanager', am));
  if (c.kind !== 'test') footerParts.push(`receiver ${e(c.receiver)}`);
  const footer = footerParts.join(' · ');

  const alertText = (a: Alert): string => {
    const lines = [
      `${a.status === 'firing' ? '🔴' : '🟢'} ${d.bold(e(clipBytes(a.annotations.summary ?? a.labels.alertname ?? 'alert', 300)))}`,
      d.code(clipBytes(labelText(a.labels), 600)),
    ];
    const links = [
      [safeUrl(a.annotations.runbook_url), 'Runbook'],
      [safeUrl(a.generatorURL), 'Source'],
    ].flatMap(([u, t]) => (u ? [d.link(t as string, u)] : []));
    if (links.length) lines.push(links.join(' · '));
    if (a.annotations.description) lines.push(e(a.annotations.description));
    return clipBytes(lines.join('\n'), ALERT_MAX_BYTES);
  };

  const sep = d.separator;
  let text = clipBytes(head.join(sep), Math.floor(o.maxBytes / 2));
  const tail = footer ? `${sep}${footer}` : '';
  const more = (n: number) => `${sep}+${n} more alert${n === 1 ? '' : 's'}`;
  let shown = 0;
  for (const a of c.alerts) {
    const block = `${sep}${alertText(a)}`;
    const hidden = c.alerts.length - shown - 1 + c.truncatedAlerts;
    const reserve = utf8Bytes(tail) + (hidden > 0 ? utf8Bytes(more(hidden + 1)) : 0);
    if (utf8Bytes(text) + utf8Bytes(block) + reserve > o.maxBytes) break;
    text += block;
    shown++;
  }
  const hidden = c.alerts.length - shown + c.truncatedAlerts;
  if (hidden > 0) text += more(hidden);
  text += tail;
  return { title, text: clipBytes(text, o.maxBytes) };
}

/**
 * A digest in `dialect`: its subject, what it is, and one line per notification while they fit
 * in `maxBytes`, the rest counted; the full list is in the console (the email's text names all).
 */
export function chatDigestText(
  r: RenderedDigest,
  d: Dialect,
  o: { maxBytes: number; extraHead?: string },
): ChatText {
  const lines = r.text.split('\n');
  const items = lines.filter((l) => l.startsWith('- ')).map((l) => l.slice(2));
  const about = lines.slice(1).filter((l) => l && !l.startsWith('- ') && !l.startsWith('Full list: '));
  const link = /^Full list: (\S+)$/m.exec(r.text)?.[1];
  const sep = d.separator;
  let text = [
    d.heading(d.escape(r.subject)),
    ...about.map(d.escape),
    ...(o.extraHead ? [o.extraHead] : []),
  ].join(sep);
  const listUrl = safeUrl(link);
  const tail = listUrl ? `${sep}${d.link('Full list', listUrl)}` : '';
  let shown = 0;
  for (const it of items) {
    const line = `\n- ${d.escape(it)}`;
    if (utf8Bytes(text) + utf8Bytes(line) + utf8Bytes(tail) + 40 > o.maxBytes) break;
    text += line;
    shown++;
  }
  if (items.length > shown)
    text += `\n+${items.length - shown} more notification${items.length - shown === 1 ? '' : 's'}`;
  text += tail;
  return { title: r.subject, text: clipBytes(text, o.maxBytes) };
}
