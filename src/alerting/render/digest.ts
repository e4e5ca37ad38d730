import { escapeHtml, escapeSlack, headerSafe, safeUrl } from './escape.js';
import { severityOf, subjectOf } from './text.js';
import { SLACK_MAX_BLOCKS, SLACK_MAX_TEXT, type SlackBlock, type SlackMessage } from './slack.js';
import type { NotificationContent } from '../model/notification.js';
import type { ResponsibleContact } from '../ingest/contacts.js';
import { mentionsOf } from './mentions.js';

/** One notification carried by a digest. */
export interface DigestItem {
  id: number;
  content: NotificationContent;
  lane: string;
  /** Lane rank: lower is more important. */
  rank: number;
}

export interface DigestOptions {
  /** The digest's id, recorded on every notification it carries. */
  id: string;
  items: readonly DigestItem[];
  /** Urgent notifications sharing a digest because too many arrived for the budget: every one is named. */
  urgent: boolean;
  /** Where the full list is (the notifications API filtered by this digest); omitted when unknown. */
  listUrl?: string;
  now?: number;
}

export interface RenderedDigest {
  /** The digest's id and how many notifications it carries. */
  id: string;
  count: number;
  subject: string;
  text: string;
  html: string;
  slack: SlackMessage;
  /** Items named in the Slack message; the rest are counted in "+N more". */
  slackShown: number;
  /** The people the paging notifications it carries mention (chat robots @mention them). */
  mentions: ResponsibleContact[];
}

/** Everyone the carried notifications mention, each person once (by role). */
function digestMentions(items: readonly DigestItem[]): ResponsibleContact[] {
  const out = new Map<string, ResponsibleContact>();
  for (const it of items) for (const p of mentionsOf(it.content)) if (!out.has(p.role)) out.set(p.role, p);
  return [...out.values()];
}

/** Lines a Slack digest names at most: each at most LINE_MAX characters keeps it inside Slack's limits. */
export const SLACK_DIGEST_MAX_LINES = 200;
const LINE_MAX = 150;
/** Slack cuts a message's text at 40,000 characters; stay well inside it. */
const SLACK_MESSAGE_BUDGET = 36_000;

/** Most important first: lane, firing before resolved, then the order they were recorded in. */
export function digestOrder(items: readonly DigestItem[]): DigestItem[] {
  return [...items].sort(
    (a, b) =>
      a.rank - b.rank ||
      (a.content.status === 'firing' ? 0 : 1) - (b.content.status === 'firing' ? 0 : 1) ||
      a.id - b.id,
  );
}

function counts(items: readonly DigestItem[]): {
  firing: number;
  resolved: number;
  lanes: Map<string, number>;
} {
  let firing = 0;
  const lanes = new Map<string, number>();
  for (const it of items) {
    if (it.content.status === 'firing') firing++;
    lanes.set(it.lane, (lanes.get(it.lane) ?? 0) + 1);
  }
  return { firing, resolved: items.length - firing, lanes };
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** `[DIGEST] 37 notifications: 30 firing, 7 resolved` (`[CRITICAL DIGEST]` when urgent ones share it). */
export function digestSubject(items: readonly DigestItem[], urgent: boolean): string {
  const c = counts(items);
  const parts = [c.firing ? `${c.firing} firing` : '', c.resolved ? `${c.resolved} resolved` : ''].filter(
    Boolean,
  );
  const head = urgent ? '[CRITICAL DIGEST]' : '[DIGEST]';
  return headerSafe(
    `${head} ${items.length} notification${items.length === 1 ? '' : 's'}: ${parts.join(', ')}`,
  );
}

function itemLine(it: DigestItem, now: number): string {
  const c = it.content;
  const summary = c.commonAnnotations.summary ?? c.alerts[0]?.annotations.summary ?? '';
  const line = `${subjectOf(c, now)}${summary ? ` — ${headerSafe(summary, LINE_MAX)}` : ''}`;
  return clip(line, LINE_MAX);
}

/**
 * Renders one digest for Slack (Block Kit inside Slack's block, section and message limits,
 * "+N more" past them) and for email (multipart text and HTML naming every notification).
 */
export function renderDigest(o: DigestOptions): RenderedDigest {
  const now = o.now ?? Date.now();
  const items = digestOrder(o.items);
  const subject = digestSubject(items, o.urgent);
  const c = counts(items);
  const laneText = [...c.lanes].map(([lane, n]) => `${n} ${lane}`).join(', ');
  const intro = o.urgent
    ? 'More critical notifications arrived than this destination accepts at once; they share this message, and every one is listed.'
    : 'Many notifications arrived at once; the less urgent ones are collected here, most important first. Critical ones are sent on their own.';
  const link = safeUrl(o.listUrl);

  // Email: every notification, most important first.
  const lines = items.map((it) => itemLine(it, now));
  const text = [
    subject,
    '',
    intro,
    `By lane: ${laneText}.`,
    '',
    ...lines.map((l) => `- ${l}`),
    '',
    ...(link ? [`Full list: ${link}`] : []),
    `Digest: ${o.id}`,
  ].join('\n');
  const e = escapeHtml;
  const html = [
    '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${e(subject)}</title></head><body style="font-family:sans-serif;font-size:14px;color:#222">`,
    `<h2 style="margin:0 0 8px;padding:8px;color:#fff;background:${o.urgent ? '#d00000' : '#daa038'}">${e(subject)}</h2>`,
    `<p>${e(intro)}</p><p>By lane: ${e(laneText)}.</p>`,
    `<ol>${lines.map((l) => `<li>${e(l)}</li>`).join('')}</ol>`,
    link ? `<p><a href="${e(link)}">Full list</a></p>` : '',
    `<p style="color:#888;font-size:12px">Digest: ${e(o.id)}</p>`,
    '</body></html>',
  ].join('\n');

  // Slack: sections of whole lines, each under the section limit, inside the block and message budgets.
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(subject, 150), emoji: false } },
    { type: 'section', text: { type: 'mrkdwn', text: escapeSlack(`${intro}\nBy lane: ${laneText}.`) } },
    { type: 'divider' },
  ];
  const tailBlocks = 2; // "+N more" and the footer
  let used = blocks.reduce((n, b) => n + JSON.stringify(b).length, 0);
  let shown = 0;
  let section: string[] = [];
  let sectionLength = 0;
  const flush = () => {
    if (!section.length) return;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: section.join('\n') } });
    section = [];
    sectionLength = 0;
  };
  for (const it of items) {
    if (shown >= SLACK_DIGEST_MAX_LINES) break;
    const icon = it.content.status === 'firing' ? ':red_circle:' : ':large_green_circle:';
    const line = `${icon} ${escapeSlack(itemLine(it, now))}`;
    if (sectionLength + line.length + 1 > SLACK_MAX_TEXT) flush();
    if (blocks.length + (section.length ? 1 : 0) + tailBlocks >= SLACK_MAX_BLOCKS && !section.length) break;
    if (used + line.length + 1 > SLACK_MESSAGE_BUDGET) break;
    section.push(line);
    sectionLength += line.length + 1;
    used += line.length + 1;
    shown++;
  }
  flush();
  const hidden = items.length - shown;
  if (hidden > 0)
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `+${hidden} more notification${hidden === 1 ? '' : 's'}` }],
    });
  const footer = [
    link ? `<${escapeSlack(link).replace(/\|/g, '%7C')}|Full list>` : '',
    `digest ${escapeSlack(o.id)}`,
  ]
    .filter(Boolean)
    .join(' · ');
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footer }] });
  const colour =
    o.urgent || (items[0] && severityOf(items[0].content) === 'critical') ? '#d00000' : '#daa038';
  return {
    id: o.id,
    count: items.length,
    subject,
    text,
    html,
    slack: {
      text: escapeSlack(subject),
      attachments: [{ color: colour, fallback: escapeSlack(subject), blocks }],
    },
    slackShown: shown,
    mentions: digestMentions(items),
  };
}
