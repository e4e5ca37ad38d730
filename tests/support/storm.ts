// An alert storm as an on-call team lives it, for the storm tests and bench/storm.ts: hundreds
// of groups without severity, then a few critical ones, posted by a client within seconds;
// then what the Slack fake and the SMTP server received, read back as deliveries per
// destination (a single message, or a digest whose notifications the API lists).
import { pool, postWebhook, webhook } from './webhooks.js';
import type { DingTalkHandle } from './dingtalk.js';
import type { FeishuHandle } from './feishu.js';
import type { SlackHandle } from './slack.js';
import type { WeComHandle } from './wecom.js';
import type { SmtpHandle } from './smtp.js';
import { samples } from './stackwatch.js';
import { waitFor } from './util.js';

export const STORM_TOKEN = 'storm-token';
export const STORM_GROUPS = 300;
export const STORM_CRITICALS = 10;
export const ONCALL = 'oncall@your-company.com';
export const OPS = 'ops@your-company.com';
/** The critical receiver's recipient set, as a destination. */
export const CRITICAL_MAIL = [ONCALL, OPS].sort().join(',');
/** The Slack fake's default webhook path. */
export const TEAM_WEBHOOK = '/services/T000/B000/XXXX';

/** The defaults, with an SMTP server that takes 1 message a second and test-speed retries. */
export const stormConfig = (retryMaxDelay: string, extra = '') => `receiver:
  webhook_token: ${STORM_TOKEN}
  escalation: { enabled: false }
  email: { rate: 1, burst: 2 }
  retry: { base: 200ms, max_delay: ${retryMaxDelay}, max_attempts: 1000 }
${extra}`;

/** Resolves when stackwatch's outbox has nothing pending. */
export async function outboxDrained(url: string, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return samples(text, 'stackwatch_outbox_depth')[0]?.value === 0;
    },
    timeoutMs,
    'the outbox to drain',
    250,
  );
}

/** The keys of `keys` not delivered exactly once, with their count. */
export function notOnce(counts: ReadonlyMap<string, number>, keys: readonly string[]): string[] {
  return keys.filter((k) => counts.get(k) !== 1).map((k) => `${k}: ${counts.get(k)}`);
}

export const stormName = (i: number) => `Storm${String(i).padStart(4, '0')}`;
export const criticalName = (i: number) => `Crit${String(i).padStart(2, '0')}`;

export interface StormOptions {
  groups: number;
  criticals: number;
  status?: 'firing' | 'resolved';
  /** Webhooks in flight at once. */
  concurrency?: number;
}

export interface StormResult {
  /** When each critical group's webhook was answered 2xx (ms since the epoch). */
  criticalAcceptedAt: Map<string, number>;
  codes: number[];
  startedAt: number;
  endedAt: number;
}

/** Posts `groups` groups without severity, then `criticals` critical ones. */
export async function postStorm(url: string, o: StormOptions): Promise<StormResult> {
  const status = o.status ?? 'firing';
  const bodies = [
    ...Array.from({ length: o.groups }, (_, i) => webhook({ alertname: stormName(i), status })),
    ...Array.from({ length: o.criticals }, (_, i) =>
      webhook({ alertname: criticalName(i), severity: 'critical', status }),
    ),
  ];
  const criticalAcceptedAt = new Map<string, number>();
  const startedAt = Date.now();
  const answers = await pool(bodies, o.concurrency ?? 10, async (b) => {
    const r = await postWebhook(url, b, STORM_TOKEN);
    if (r.status === 200 && b.commonLabels.severity === 'critical')
      criticalAcceptedAt.set(b.commonLabels.alertname as string, Date.now());
    return r.status;
  });
  return { criticalAcceptedAt, codes: answers, startedAt, endedAt: Date.now() };
}

/** One notification as a person received it. */
export interface Received {
  /** Slack: the webhook path; email: the sorted recipients; a chat robot: the robot. */
  destination: string;
  channel: string;
  alertname: string;
  status: 'firing' | 'resolved';
  at: number;
  /** Position of its message among all messages of the destination. */
  message: number;
  digest: string | null;
}

export interface Message {
  destination: string;
  channel: string;
  at: number;
  subject: string;
  digest: string | null;
  /** Alert names the message itself shows (all for email digests, up to "+N more" on Slack). */
  text: string;
}

interface Summary {
  subject: string;
  channel: 'slack' | 'email';
  alert_status: 'firing' | 'resolved';
  digest: string | null;
  recipients: string[];
}

const SUBJECT = /^\[(FIRING:\d+|RESOLVED)\] (\S+)/;

/** Every message the humans received, in arrival order. */
export function messages(slack: SlackHandle, smtp: SmtpHandle): Message[] {
  const out: Message[] = [];
  for (const r of slack.delivered()) {
    const body = r.body as { attachments?: { blocks?: { type: string; text?: { text?: string } }[] }[] };
    const blocks = body.attachments?.[0]?.blocks ?? [];
    const subject = blocks[0]?.text?.text ?? '';
    out.push({
      destination: r.path,
      channel: 'slack',
      at: r.at,
      subject,
      digest: /digest (d\d+-\d+)/.exec(r.raw)?.[1] ?? null,
      text: r.raw,
    });
  }
  for (const m of smtp.mails)
    out.push({
      destination: [...m.to].sort().join(','),
      channel: 'email',
      at: m.at,
      subject: m.subject,
      digest: /Digest: (d\d+-\d+)/.exec(m.text)?.[1] ?? null,
      text: m.text,
    });
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Every notification delivered, alone or inside a digest: a digest's notifications come from
 * the API (`?digest=ID`), the list its "Full list" link opens in the console.
 */
export async function received(
  url: string,
  msgs: readonly Message[],
): Promise<{ received: Received[]; digestSizes: Map<string, number> }> {
  const out: Received[] = [];
  const digestSizes = new Map<string, number>();
  const index = new Map<string, number>();
  for (const m of msgs) {
    const k = `${m.channel}\0${m.destination}`;
    const message = index.get(k) ?? 0;
    index.set(k, message + 1);
    const base = { destination: m.destination, channel: m.channel, at: m.at, message, digest: m.digest };
    if (!m.digest) {
      const s = SUBJECT.exec(m.subject);
      if (s)
        out.push({ ...base, alertname: s[2] as string, status: s[1] === 'RESOLVED' ? 'resolved' : 'firing' });
      continue;
    }
    const res = await fetch(`${url}/api/v1/notifications?digest=${m.digest}&limit=1000`, {
      headers: { authorization: `Bearer ${STORM_TOKEN}` },
    });
    const carried = ((await res.json()) as { notifications: Summary[] }).notifications.filter(
      (n) => n.channel === m.channel,
    );
    digestSizes.set(m.digest, carried.length);
    for (const n of carried) {
      const s = SUBJECT.exec(n.subject);
      out.push({ ...base, alertname: s?.[2] ?? n.subject, status: n.alert_status });
    }
  }
  return { received: out, digestSizes };
}

/** Per destination and group: how many times its firing and its resolved were delivered. */
export function deliveryCounts(rs: readonly Received[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rs) {
    const k = `${r.channel} ${r.destination} ${r.alertname} ${r.status}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** Groups whose resolved reached a destination before (or in the same message as) their firing. */
export function resolvedBeforeFiring(rs: readonly Received[]): string[] {
  const firing = new Map<string, number>();
  for (const r of rs)
    if (r.status === 'firing') firing.set(`${r.channel} ${r.destination} ${r.alertname}`, r.message);
  return rs
    .filter((r) => r.status === 'resolved')
    .filter((r) => {
      const f = firing.get(`${r.channel} ${r.destination} ${r.alertname}`);
      return f === undefined || f >= r.message;
    })
    .map((r) => `${r.channel} ${r.destination} ${r.alertname}`);
}

/** Seconds from a critical's 2xx to its firing reaching the destination, per critical. */
export function timeToCritical(
  rs: readonly Received[],
  acceptedAt: ReadonlyMap<string, number>,
  pick: (r: Received) => boolean,
): number[] {
  const out: number[] = [];
  for (const [name, t] of acceptedAt) {
    const r = rs.find((x) => x.alertname === name && x.status === 'firing' && pick(x));
    out.push(r ? (r.at - t) / 1000 : Infinity);
  }
  return out;
}

/** A chat robot's message, with whom it mentions (mobile numbers, or Feishu user ids). */
export interface ChatMessage extends Message {
  mentions: string[];
}

const DIGEST_ID = /Digest: (d\d+-\d+)/;

/** Every message the chat robots showed in their groups, in arrival order. */
export function chatMessages(robots: {
  dingtalk?: DingTalkHandle;
  wecom?: WeComHandle;
  feishu?: FeishuHandle;
}): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const r of robots.dingtalk?.delivered() ?? []) {
    const b = r.body as { markdown: { title: string; text: string }; at: { atMobiles: string[] } };
    out.push({
      destination: r.token,
      channel: 'dingtalk',
      at: r.at,
      subject: b.markdown.title,
      digest: DIGEST_ID.exec(b.markdown.text)?.[1] ?? null,
      text: b.markdown.text,
      mentions: b.at.atMobiles,
    });
  }
  for (const r of robots.wecom?.delivered() ?? []) {
    const b = r.body as
      | { msgtype: 'text'; text: { content: string; mentioned_mobile_list: string[] } }
      | { msgtype: 'markdown'; markdown: { content: string } };
    const text = b.msgtype === 'text' ? b.text.content : b.markdown.content;
    out.push({
      destination: r.key,
      channel: 'wecom',
      at: r.at,
      subject: (text.split('\n')[0] ?? '').replace(/^#+ /, ''),
      digest: DIGEST_ID.exec(text)?.[1] ?? null,
      text,
      mentions: b.msgtype === 'text' ? b.text.mentioned_mobile_list : [],
    });
  }
  for (const r of robots.feishu?.delivered() ?? []) {
    const b = r.body as { card: { header: { title: { content: string } } } };
    out.push({
      destination: r.bot,
      channel: 'feishu',
      at: r.at,
      subject: b.card.header.title.content,
      digest: DIGEST_ID.exec(r.raw)?.[1] ?? null,
      text: r.raw,
      mentions: [...r.raw.matchAll(/<at id=([^>]+)><\/at>/g)].map((m) => m[1] as string),
    });
  }
  return out.sort((a, b) => a.at - b.at);
}
