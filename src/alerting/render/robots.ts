// The chat robots' messages (DingTalk markdown, WeCom markdown or text, a Feishu card), each
// within its service's documented size limit, with the people a paging notification mentions.
// Signatures are added by the channel as the message is sent (channels/*.ts).

import type { ResponsibleContact } from '../ingest/contacts.js';
import type { NotificationContent } from '../model/notification.js';
import { chatDigestText, chatText, clipBytes, utf8Bytes, type ChatText, type Dialect } from './chat.js';
import type { RenderedDigest } from './digest.js';
import { mentionFeishuIds, mentionMobiles, mentionsOf } from './mentions.js';
import { safeUrl } from './escape.js';
import { severityOf } from './text.js';

/** What a robot message is made from: one notification, or a digest of many. */
export type RobotInput = { content: NotificationContent } | { digest: RenderedDigest };

function chat(
  input: RobotInput,
  d: Dialect,
  maxBytes: number,
  extraHead?: string,
  ackLink?: boolean,
): ChatText {
  return 'content' in input
    ? chatText(input.content, d, { maxBytes, extraHead, ackLink })
    : chatDigestText(input.digest, d, { maxBytes, extraHead });
}

function mentioned(input: RobotInput): ResponsibleContact[] {
  return 'content' in input ? mentionsOf(input.content) : input.digest.mentions;
}

/**
 * The largest rendering whose JSON body fits `limit` bytes: JSON escaping can make a text
 * longer than its own bytes, so the text's budget shrinks until the body fits.
 */
function fitting<T>(limit: number, render: (budget: number) => T): T {
  let budget = limit - 1500;
  let body = render(budget);
  for (let i = 0; i < 8 && utf8Bytes(JSON.stringify(body)) > limit; i++) {
    budget = Math.floor(budget * 0.8);
    body = render(budget);
  }
  return body;
}

// ---- DingTalk ----

/** DingTalk refuses a body over 20,000 bytes (errcode 460101 "message too long, exceed 20000 bytes"). */
export const DINGTALK_MAX_BODY = 20_000;

const dingtalkMarkdown: Dialect = {
  escape: (s) => s,
  bold: (s) => `**${s}**`,
  link: (t, u) => `[${t}](${u})`,
  code: (s) => `\`${s.replace(/`/g, "'")}\``,
  heading: (s) => `### ${s}`,
  separator: '\n\n',
};

export interface DingTalkMessage {
  msgtype: 'markdown';
  markdown: { title: string; text: string };
  /** The mobile numbers mentioned: DingTalk rings them when the text names them as `@mobile`. */
  at: { atMobiles: string[]; isAtAll: false };
}

export function renderDingTalk(input: RobotInput): DingTalkMessage {
  const mobiles = mentionMobiles(mentioned(input));
  const line = mobiles.length ? mobiles.map((m) => `@${m}`).join(' ') : undefined;
  return fitting(DINGTALK_MAX_BODY, (budget) => {
    const t = chat(input, dingtalkMarkdown, budget, line);
    return {
      msgtype: 'markdown',
      markdown: { title: clipBytes(t.title, 200), text: t.text },
      at: { atMobiles: mobiles, isAtAll: false },
    };
  });
}

// ---- WeCom ----

/** WeCom: markdown.content at most 4,096 bytes, text.content at most 2,048 (errcode 40058 past them). */
export const WECOM_MAX_MARKDOWN = 4096;
export const WECOM_MAX_TEXT = 2048;

const wecomMarkdown: Dialect = {
  // WeCom markdown takes <font> and <@userid> tags: an alert's text must not write any.
  escape: (s) => s.replace(/</g, '‹').replace(/>/g, '›'),
  bold: (s) => `**${s}**`,
  link: (t, u) => `[${t}](${u})`,
  code: (s) => `\`${s.replace(/`/g, "'")}\``,
  heading: (s) => `### ${s}`,
  separator: '\n\n',
};

const plainText: Dialect = {
  escape: (s) => s,
  bold: (s) => s,
  link: (t, u) => `${t}: ${u}`,
  code: (s) => s,
  heading: (s) => s,
  separator: '\n\n',
};

export type WeComMessage =
  | { msgtype: 'markdown'; markdown: { content: string } }
  /** Only a text message mentions people by mobile (`mentioned_mobile_list`); markdown cannot. */
  | { msgtype: 'text'; text: { content: string; mentioned_mobile_list: string[] } };

export function renderWeCom(input: RobotInput): WeComMessage {
  const mobiles = mentionMobiles(mentioned(input));
  if (mobiles.length)
    return {
      msgtype: 'text',
      text: { content: chat(input, plainText, WECOM_MAX_TEXT).text, mentioned_mobile_list: mobiles },
    };
  return { msgtype: 'markdown', markdown: { content: chat(input, wecomMarkdown, WECOM_MAX_MARKDOWN).text } };
}

// ---- Feishu ----

/** Feishu refuses a body over 20 KB. */
export const FEISHU_MAX_BODY = 20_000;

const larkMarkdown: Dialect = {
  // lark_md reads <at id=…> as a mention: an alert's text must not write tags.
  escape: (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
  bold: (s) => `**${s}**`,
  link: (t, u) => `[${t}](${u})`,
  code: (s) => `\`${s.replace(/`/g, "'")}\``,
  heading: (s) => `**${s}**`,
  separator: '\n\n',
};

export interface FeishuCard {
  msg_type: 'interactive';
  card: {
    config: { wide_screen_mode: true };
    header: { template: string; title: { tag: 'plain_text'; content: string } };
    elements: Record<string, unknown>[];
  };
}

function feishuColour(input: RobotInput): string {
  if ('digest' in input) return input.digest.mentions.length ? 'red' : 'orange';
  const c = input.content;
  if (c.kind === 'test') return 'blue';
  if (c.status === 'resolved') return 'green';
  const sev = severityOf(c);
  return sev === 'critical' || c.kind === 'escalation' ? 'red' : sev === 'warning' ? 'orange' : 'blue';
}

export function renderFeishu(input: RobotInput): FeishuCard {
  const ids = mentionFeishuIds(mentioned(input));
  const line = ids.length ? ids.map((id) => `<at id=${larkMarkdown.escape(id)}></at>`).join(' ') : undefined;
  const ack = 'content' in input ? safeUrl(input.content.acknowledgement?.link) : undefined;
  return fitting(FEISHU_MAX_BODY, (budget) => {
    const t = chat(input, larkMarkdown, budget, line, false);
    // The title is the card's header; the markdown's own first line repeats it, so it goes.
    const body = t.text.slice(t.text.indexOf('\n\n') + 2);
    const elements: Record<string, unknown>[] = [{ tag: 'div', text: { tag: 'lark_md', content: body } }];
    if (ack)
      elements.push({
        tag: 'action',
        actions: [
          { tag: 'button', text: { tag: 'plain_text', content: 'Acknowledge' }, type: 'primary', url: ack },
        ],
      });
    return {
      msg_type: 'interactive',
      card: {
        config: { wide_screen_mode: true },
        header: {
          template: feishuColour(input),
          title: { tag: 'plain_text', content: clipBytes(t.title, 300) },
        },
        elements,
      },
    };
  });
}
