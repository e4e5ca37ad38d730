import { timeMs } from '../ingest/payload.js';
import type { Labels } from '../../matchers.js';
import type { NotificationContent } from '../model/notification.js';
import type { ResponsibleContact } from '../ingest/contacts.js';
import { mentionsOf } from './mentions.js';
import { escapeHtml, escapeSlack, headerSafe, safeUrl } from './escape.js';
import { SLACK_MAX_BLOCKS, SLACK_MAX_TEXT, type SlackBlock, type SlackMessage } from './slack.js';
import { alertNameOf, durationText, severityOf } from './text.js';

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
  /** The console's list of what the digest carried (with `external_url`); omitted when unknown. */
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
  /** Groups named in the Slack message; the rest are counted in "+N more". */
  slackShown: number;
  /** The people the paging notifications it carries mention (chat robots @mention them). */
  mentions: ResponsibleContact[];
  /** What the digest is (its intro and lanes), one sentence a line, for the chat robots. */
  about: string[];
  /** The email's lines naming the groups (headings, shared summaries, groups), for the chat robots. */
  lines: DigestLine[];
  /** The full list's link (with `external_url`), or where to find it in words. */
  listUrl?: string;
  listText: string;
}

/** One line of a digest's list of groups. */
export interface DigestLine {
  text: string;
  /** A group's own line (counted in "+N more" when left out), not a heading or a summary. */
  group: boolean;
  /** Under a heading. */
  nested: boolean;
}

/** Everyone the carried notifications mention, each person once (by role). */
function digestMentions(items: readonly DigestItem[]): ResponsibleContact[] {
  const out = new Map<string, ResponsibleContact>();
  for (const it of items) for (const p of mentionsOf(it.content)) if (!out.has(p.role)) out.set(p.role, p);
  return [...out.values()];
}

/** Groups a Slack digest names at most: each line at most LINE_MAX characters keeps it inside Slack's limits. */
export const SLACK_DIGEST_MAX_LINES = 200;
const LINE_MAX = 100;
/** Slack cuts a message's text at 40,000 characters; stay well inside it. */
const SLACK_MESSAGE_BUDGET = 36_000;
/** Alert names the subject and the "+N more" line count by name at most. */
const NAMES_SHOWN = 3;

/** The console page listing what a digest carried, relative to stackwatch's URL. */
export function digestListPath(id: string): string {
  return `/notifications?digest=${encodeURIComponent(id)}`;
}

/** The same list from the API. */
export function digestApiPath(id: string): string {
  return `/api/v1/notifications?digest=${encodeURIComponent(id)}`;
}

/** One group of a digest, as a person tells it from the others. */
export interface DigestEntry {
  item: DigestItem;
  /** The labels that tell it apart from the digest's other groups (`service=api`). */
  labels: string;
  /** `firing since 10:41 UTC (12m)`, `resolved 10:51 UTC`, with its alert count. */
  state: string;
  summary: string;
}

/** The groups of one alert name. */
export interface DigestSection {
  name: string;
  severity: string;
  rank: number;
  firing: number;
  resolved: number;
  /** The summary every group of the section shares (then not repeated per group). */
  summary: string;
  entries: DigestEntry[];
}

const isFiring = (it: DigestItem) => it.content.status === 'firing';

/** Most important first: lane, firing before resolved, then the order they were recorded in. */
export function digestOrder(items: readonly DigestItem[]): DigestItem[] {
  return [...items].sort(
    (a, b) => a.rank - b.rank || Number(isFiring(b)) - Number(isFiring(a)) || a.id - b.id,
  );
}

/** The labels a group is known by: Alertmanager's group labels, or the common labels without them. */
function groupLabelsOf(c: NotificationContent): Labels {
  return Object.keys(c.groupLabels).length ? c.groupLabels : c.commonLabels;
}

/** The label pairs every one of `sets` has. */
function sharedPairs(sets: readonly Labels[]): Map<string, string> {
  const shared = new Map(Object.entries(sets[0] ?? {}));
  for (const s of sets.slice(1)) for (const [k, v] of shared) if (s[k] !== v) shared.delete(k);
  return shared;
}

/** `k=v k=v` of the pairs of `labels` not in `shared`, the alert name (the section's) left out. */
function apart(labels: Labels, shared: ReadonlyMap<string, string>): string {
  return Object.entries(labels)
    .filter(([k, v]) => k !== 'alertname' && shared.get(k) !== v)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** `10:41 UTC` on the day `today` (YYYY-MM-DD) names, `2026-11-21 10:41 UTC` another day. */
function clockText(ms: number, today: string): string {
  const iso = new Date(ms).toISOString();
  return `${iso.startsWith(today) ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 16)} UTC`;
}

function stateOf(c: NotificationContent, now: number, today: string): string {
  const firing = c.alerts.filter((a) => a.status === 'firing');
  const n = c.status === 'firing' ? firing.length : c.alerts.length;
  const count = n > 1 ? `, ${n} alerts` : '';
  if (c.status === 'firing') {
    const starts = firing.map((a) => timeMs(a.startsAt)).filter((t): t is number => t !== undefined);
    if (!starts.length) return `firing${count}`;
    const since = Math.min(...starts);
    return `firing since ${clockText(since, today)} (${durationText(now - since)})${count}`;
  }
  const ends = c.alerts.map((a) => timeMs(a.endsAt)).filter((t): t is number => t !== undefined && t > 0);
  return ends.length ? `resolved ${clockText(Math.max(...ends), today)}${count}` : `resolved${count}`;
}

function summaryOf(c: NotificationContent): string {
  return headerSafe(c.commonAnnotations.summary ?? c.alerts[0]?.annotations.summary ?? '', 300);
}

/**
 * The digest's groups aggregated by alert name, most important first. Each group is shown by
 * the labels that tell it apart: its group labels minus those every group of the digest
 * shares; when that leaves two groups of a section alike, their common labels tell them apart.
 */
export function digestSections(items: readonly DigestItem[], now: number): DigestSection[] {
  const today = new Date(now).toISOString().slice(0, 10);
  const shared = sharedPairs(items.map((it) => groupLabelsOf(it.content)));
  const byName = new Map<string, DigestItem[]>();
  for (const it of digestOrder(items)) {
    const name = alertNameOf(it.content);
    const list = byName.get(name);
    if (list) list.push(it);
    else byName.set(name, [it]);
  }
  return [...byName].map(([name, list]) => {
    let labels = list.map((it) => apart(groupLabelsOf(it.content), shared));
    if (list.length > 1 && new Set(labels).size < list.length) {
      const sectionShared = sharedPairs(list.map((it) => it.content.commonLabels));
      labels = list.map((it, i) =>
        [labels[i], apart(it.content.commonLabels, sectionShared)].filter(Boolean).join(' '),
      );
    }
    const summaries = list.map((it) => summaryOf(it.content));
    const common = summaries.every((s) => s === summaries[0]) ? (summaries[0] ?? '') : '';
    const firing = list.filter(isFiring).length;
    return {
      name,
      severity: severityOf((list[0] as DigestItem).content),
      rank: Math.min(...list.map((it) => it.rank)),
      firing,
      resolved: list.length - firing,
      summary: common,
      entries: list.map((item, i) => ({
        item,
        labels: headerSafe(labels[i] ?? '', 200),
        state: stateOf(item.content, now, today),
        summary: common ? '' : (summaries[i] ?? ''),
      })),
    };
  });
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function countsText(firing: number, resolved: number): string {
  return [firing ? `${firing} firing` : '', resolved ? `${resolved} resolved` : '']
    .filter(Boolean)
    .join(', ');
}

/** `DurBars 240, Load 10, +3 other names`: the most frequent alert names of some entries. */
function namesText(counts: ReadonlyMap<string, number>): string {
  const top = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = top.slice(0, NAMES_SHOWN).map(([name, n]) => `${name} ${n}`);
  const other = top.length - shown.length;
  return [...shown, ...(other > 0 ? [`+${plural(other, 'other name')}`] : [])].join(', ');
}

/** `[DIGEST] 37 notifications: 30 firing, 7 resolved — DurBars 30, Load 7` (`[CRITICAL DIGEST]` when urgent). */
export function digestSubject(items: readonly DigestItem[], urgent: boolean): string {
  const firing = items.filter(isFiring).length;
  const names = new Map<string, number>();
  for (const it of items) names.set(alertNameOf(it.content), (names.get(alertNameOf(it.content)) ?? 0) + 1);
  const head = urgent ? '[CRITICAL DIGEST]' : '[DIGEST]';
  return headerSafe(
    `${head} ${plural(items.length, 'notification')}: ${countsText(firing, items.length - firing)} — ${namesText(names)}`,
  );
}

/** `DurBars warning — 300 groups: 290 firing, 10 resolved`. */
function headingOf(s: DigestSection): string {
  return headerSafe(
    `${s.name}${s.severity ? ` ${s.severity}` : ''} — ${plural(s.entries.length, 'group')}: ${countsText(s.firing, s.resolved)}`,
  );
}

/** One group's line: `service=api: firing since 10:41 UTC (12m) — its summary`. */
function entryLine(e: DigestEntry): string {
  const summary = e.summary ? ` — ${e.summary}` : '';
  return `${e.labels ? `${e.labels}: ` : ''}${e.state}${summary}`;
}

/** A section of one group is one line: `Storm0001 info — firing since 10:41 UTC (12m) — its summary`. */
function loneLine(s: DigestSection, e: DigestEntry): string {
  const summary = s.summary || e.summary;
  return headerSafe(
    `${s.name}${s.severity ? ` ${s.severity}` : ''}${e.labels ? ` ${e.labels}` : ''} — ${e.state}${summary ? ` — ${summary}` : ''}`,
  );
}

/**
 * Renders one digest for Slack (Block Kit inside Slack's block, section and message limits,
 * "+N more" past them) and for email (multipart text and HTML naming every group).
 */
export function renderDigest(o: DigestOptions): RenderedDigest {
  const now = o.now ?? Date.now();
  const items = digestOrder(o.items);
  const sections = digestSections(items, now);
  const subject = digestSubject(items, o.urgent);
  const lanes = new Map<string, number>();
  for (const it of items) lanes.set(it.lane, (lanes.get(it.lane) ?? 0) + 1);
  const laneText = [...lanes].map(([lane, n]) => `${n} ${lane}`).join(', ');
  const intro = o.urgent
    ? 'More critical notifications arrived than this destination accepts at once; they share this message, and every one is listed.'
    : 'Many notifications arrived at once; the less urgent ones are collected here by alert name, most important first. Critical ones are sent on their own.';
  const link = safeUrl(o.listUrl);
  // With stackwatch's URL a link; without it, where to look.
  const listText = link
    ? `Full list: ${link}`
    : `Full list: ${digestListPath(o.id)} in stackwatch's console, or GET ${digestApiPath(o.id)}`;

  // Email: every group, by alert name.
  const about = [intro, `By lane: ${laneText}.`];
  const text: string[] = [subject, '', ...about, ''];
  const lines: DigestLine[] = [];
  const html: string[] = [];
  const e = escapeHtml;
  for (const s of sections) {
    const lone = s.entries.length === 1 ? (s.entries[0] as DigestEntry) : undefined;
    if (lone) {
      text.push(loneLine(s, lone));
      lines.push({ text: loneLine(s, lone), group: true, nested: false });
      html.push(`<p style="margin:4px 0">${e(loneLine(s, lone))}</p>`);
      continue;
    }
    text.push(headingOf(s));
    lines.push({ text: headingOf(s), group: false, nested: false });
    if (s.summary) {
      text.push(`  ${s.summary}`);
      lines.push({ text: s.summary, group: false, nested: true });
    }
    text.push(...s.entries.map((x) => `  - ${entryLine(x)}`));
    lines.push(...s.entries.map((x) => ({ text: entryLine(x), group: true, nested: true })));
    html.push(
      `<h3 style="margin:12px 0 4px;font-size:15px">${e(headingOf(s))}</h3>`,
      s.summary ? `<p style="margin:0 0 4px">${e(s.summary)}</p>` : '',
      `<ul style="margin:0">${s.entries.map((x) => `<li>${e(entryLine(x))}</li>`).join('')}</ul>`,
    );
  }
  text.push('', listText, `Digest: ${o.id}`);
  const htmlDoc = [
    '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${e(subject)}</title></head><body style="font-family:sans-serif;font-size:14px;color:#222">`,
    `<h2 style="margin:0 0 8px;padding:8px;color:#fff;background:${o.urgent ? '#d00000' : '#daa038'}">${e(subject)}</h2>`,
    `<p>${e(intro)}</p><p>By lane: ${e(laneText)}.</p>`,
    ...html.filter(Boolean),
    link
      ? `<p><a href="${e(link)}">Full list</a></p>`
      : `<p>Full list: <code>${e(digestListPath(o.id))}</code> in stackwatch's console, or <code>GET ${e(digestApiPath(o.id))}</code></p>`,
    `<p style="color:#888;font-size:12px">Digest: ${e(o.id)}</p>`,
    '</body></html>',
  ].join('\n');

  const slack = renderSlackDigest(o, { subject, intro, laneText, sections, items, link });
  return {
    id: o.id,
    count: items.length,
    subject,
    text: text.join('\n'),
    html: htmlDoc,
    ...slack,
    mentions: digestMentions(items),
    about,
    lines,
    ...(link ? { listUrl: link } : {}),
    listText,
  };
}

/** Slack: sections of whole lines, each under the section limit, inside the block and message budgets. */
function renderSlackDigest(
  o: DigestOptions,
  r: {
    subject: string;
    intro: string;
    laneText: string;
    sections: readonly DigestSection[];
    items: readonly DigestItem[];
    link?: string;
  },
): { slack: SlackMessage; slackShown: number } {
  const s = escapeSlack;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(r.subject, 150), emoji: false } },
    { type: 'section', text: { type: 'mrkdwn', text: s(`${r.intro}\nBy lane: ${r.laneText}.`) } },
    { type: 'divider' },
  ];
  const tailBlocks = 2; // "+N more" and the footer
  let used = blocks.reduce((n, b) => n + JSON.stringify(b).length, 0);
  let shown = 0;
  let section: string[] = [];
  let sectionLength = 0;
  const hidden = new Map<string, number>();
  const flush = () => {
    if (!section.length) return;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: section.join('\n') } });
    section = [];
    sectionLength = 0;
  };
  /** Whether `length` more characters fit in the message (in a new section block if need be). */
  const fits = (length: number) =>
    used + length + 1 <= SLACK_MESSAGE_BUDGET &&
    (sectionLength + length + 1 <= SLACK_MAX_TEXT || blocks.length + 2 + tailBlocks <= SLACK_MAX_BLOCKS);
  const add = (line: string) => {
    if (sectionLength + line.length + 1 > SLACK_MAX_TEXT) flush();
    section.push(line);
    sectionLength += line.length + 1;
    used += line.length + 1;
  };
  const icon = (e: DigestEntry) =>
    e.item.content.status === 'firing' ? ':red_circle:' : ':large_green_circle:';
  const lineOf = (line: string, e: DigestEntry) => `${icon(e)} ${s(clip(line, LINE_MAX))}`;
  let full = false;
  /** Names the entry if it fits; otherwise it is counted under "+N more" (and so is every later one). */
  const name = (sec: DigestSection, line: string) => {
    full ||= shown >= SLACK_DIGEST_MAX_LINES || !fits(line.length);
    if (full) hidden.set(sec.name, (hidden.get(sec.name) ?? 0) + 1);
    else {
      add(line);
      shown++;
    }
  };
  for (const sec of r.sections) {
    const lone = sec.entries.length === 1 ? (sec.entries[0] as DigestEntry) : undefined;
    if (lone) {
      name(sec, lineOf(loneLine(sec, lone), lone));
      continue;
    }
    const head = `*${s(clip(headingOf(sec), LINE_MAX))}*${sec.summary ? `\n${s(clip(sec.summary, LINE_MAX))}` : ''}`;
    // A heading only with room for it and a first group under it.
    if (!full && fits(head.length + LINE_MAX + 20)) add(head);
    else full = true;
    for (const x of sec.entries) name(sec, lineOf(entryLine(x), x));
  }
  flush();
  const hiddenCount = r.items.length - shown;
  if (hiddenCount > 0)
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: s(`+${plural(hiddenCount, 'more group')}: ${namesText(hidden)}`),
        },
      ],
    });
  const footer = [
    r.link
      ? `<${s(r.link).replace(/\|/g, '%7C')}|Full list>`
      : s(`Full list: ${digestListPath(o.id)} in stackwatch's console, or GET ${digestApiPath(o.id)}`),
    `digest ${s(o.id)}`,
  ].join(' · ');
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footer }] });
  const first = r.items[0];
  const colour = o.urgent || (first && severityOf(first.content) === 'critical') ? '#d00000' : '#daa038';
  return {
    slack: { text: s(r.subject), attachments: [{ color: colour, fallback: s(r.subject), blocks }] },
    slackShown: shown,
  };
}
