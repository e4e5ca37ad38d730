import type { Incident } from './timeline.js';

// The postmortem draft of an incident, in Markdown: what stackwatch knows (the facts and the
// timeline) filled in, and headings for what only people know (impact, cause, actions), in the
// order of the manual's incident flow: detect → assess impact → notify → handle → root cause →
// write-up (发现问题 → 评估影响 → 通知相关人员 → 应急处理 → 根因分析 → 总结改进).

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Alert text as Markdown text. Every line of the draft starts with stackwatch's own text, so
 * only inline syntax can matter: emphasis, code, link and image brackets, HTML and entities,
 * strikethrough and table cells are escaped, and line breaks become spaces. A label value can
 * thus neither add a link, an image or markup, nor end a table cell.
 */
export function mdText(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[\\`*_[\]<>|~&]/g, (c) => `\\${c}`);
}

/** Minutes and hours, for "after 5 min". */
function span(ms: number): string {
  if (ms < 59_500) return `${Math.max(0, Math.round(ms / 1000))} s`;
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

function labelsText(l: Record<string, string>): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
}

export interface PostmortemOptions {
  /** When it was exported. */
  now: number;
  /** The incident's page in the console, when stackwatch's address is known. */
  link?: string;
}

/** The postmortem skeleton of an incident, with its timeline filled in. */
export function postmortemMarkdown(i: Incident, o: PostmortemOptions): string {
  const date = iso(i.startedAt).slice(0, 10);
  const after = (t: number | undefined) =>
    t === undefined ? '' : ` (${span(t - i.startedAt)} after it started)`;
  const channels = Object.entries(i.notifications.byChannel)
    .map(([c, n]) => `${n} by ${c}`)
    .join(', ');
  const facts: [string, string][] = [
    ['Group', mdText(labelsText(i.groupLabels))],
    ['Alertmanager group key', mdText(i.groupKey)],
    ['Severity', mdText(i.severity || 'none')],
    ['Status', i.status === 'resolved' ? 'resolved' : `still firing at ${iso(o.now)}`],
    ['Started (oldest alert)', iso(i.startedAt)],
    ['Detected (first webhook)', `${iso(i.detectedAt)}${after(i.detectedAt)}`],
    [
      'First notification delivered',
      i.firstNotifiedAt ? `${iso(i.firstNotifiedAt)}${after(i.firstNotifiedAt)}` : 'none',
    ],
    [
      'Acknowledged',
      i.acknowledged
        ? `by ${mdText(i.acknowledged.by)} at ${iso(i.acknowledged.at)}${after(i.acknowledged.at)}`
        : 'no',
    ],
    ['Escalated', i.escalatedAt ? `${iso(i.escalatedAt)}${after(i.escalatedAt)}` : 'no'],
    ['Resolved', i.resolvedAt ? `${iso(i.resolvedAt)}${after(i.resolvedAt)}` : 'not yet'],
    [
      'Notifications delivered',
      `${i.notifications.sent}${channels ? ` (${channels})` : ''}${i.notifications.notKept ? `; ${i.notifications.notKept} no longer kept` : ''}`,
    ],
  ];
  const rows = i.entries.map((e) => {
    const details = e.lines.map(mdText).join('<br>');
    return `| ${iso(e.at)} | ${mdText(e.title)} | ${details} |`;
  });
  const alerts = i.alerts.map(
    (a) => `- ${mdText(a.summary || i.alertname)} — ${mdText(labelsText(a.labels))}`,
  );
  return [
    `# Incident: ${mdText(i.alertname)}${i.severity ? ` (${mdText(i.severity)})` : ''}, ${date}`,
    '',
    `> Postmortem draft exported by stackwatch at ${iso(o.now)} from incident ${i.id}${o.link ? ` (${o.link})` : ''}.`,
    '> The facts and the timeline are what stackwatch recorded; the sections after them are yours to write.',
    '',
    '| | |',
    '|---|---|',
    ...facts.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '## Summary',
    '',
    '_What happened and what it did to the service, in two or three sentences._',
    '',
    '## Alerts',
    '',
    ...alerts,
    '',
    '## Timeline (UTC)',
    '',
    'Detection and notification (发现问题 · 通知相关人员), as stackwatch recorded them; add what people did.',
    '',
    '| Time | Event | Details |',
    '|---|---|---|',
    ...rows,
    ...(i.truncated
      ? ['', '_The timeline is cut short: the incident has more events than one export holds._']
      : []),
    '',
    '## Impact (评估影响)',
    '',
    '_Who and what was affected — users, requests, data — and for how long._',
    '',
    '## Response (应急处理)',
    '',
    '_What was done to restore service, by whom, and what helped or slowed it._',
    '',
    '## Root cause (根因分析)',
    '',
    '_Why it happened, and why it was not caught earlier._',
    '',
    '## Actions (总结改进)',
    '',
    '| Action | Owner | Due |',
    '|---|---|---|',
    '| | | |',
    '',
  ].join('\n');
}
