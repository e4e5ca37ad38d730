// Slack's Block Kit message for a notification, within Slack's documented limits.

import type { NotificationContent } from '../model/notification.js';
import type { Alert } from '../ingest/payload.js';
import { escapeSlack, safeUrl, truncate } from './escape.js';
import { contactLine, introText, labelText, severityOf, subjectOf } from './text.js';

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
/** ` <@U012AB3CD>`: a Slack member mention for a person paged, only for a well-formed member id. */
function mention(id: string | undefined): string {
  return id && /^[UW][A-Z0-9]{2,20}$/.test(id) ? ` <@${id}>` : '';
}

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
    blocks.push(
      mrkdwn(
        `*Responsible:*\n${c.contacts.map((p) => `• ${s(contactLine(p))}${mention(p.slack_user_id)}`).join('\n')}`,
      ),
    );

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
