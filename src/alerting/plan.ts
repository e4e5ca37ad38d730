import type { ChannelName } from '../config/receiver.js';
import type { ContactBook } from './contacts.js';
import { dedupKey, shortHash } from './dedup.js';
import type { Alert, Webhook } from './payload.js';
import { timeMs } from './payload.js';
import type { Redactor } from './redact.js';
import type { Router } from './routing.js';
import { mutedBy, type ActiveSilence } from './silences.js';
import type { AlertStatus, GroupUpdate, IngestRecord, JobSpec, NotificationContent } from './types.js';

export interface PlanContext {
  router: Router;
  book: ContactBook;
  redactor: Redactor;
  silences: readonly ActiveSilence[];
  now: number;
  /** Domain for Message-IDs. */
  mailDomain: string;
}

export function slackRecipient(receiver: { name: string; slack_webhook_url?: string }): string {
  return receiver.slack_webhook_url ? `slack:${receiver.name}` : 'slack';
}

/**
 * A Message-ID unique to this notification: the same group repeated after the dedup window
 * (Alertmanager's repeat_interval) is a new message, and mail systems drop a second message
 * with a Message-ID they have seen. Copies of one webhook are deduped before this is stored.
 */
export function messageIdFor(key: string, recordedAt: number, domain: string): string {
  return `<${shortHash(`${key}\0${recordedAt}`, 32)}@${domain}>`;
}

/** Conversation of an email thread: one per group, receiver and recipient set. */
export function threadKey(groupKey: string, receiver: string, recipients: readonly string[]): string {
  return shortHash(JSON.stringify([groupKey, receiver, [...recipients].sort()]), 32);
}

function statusOf(alerts: readonly Alert[]): AlertStatus {
  return alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
}

/**
 * Route, contact and dedup planning for one webhook (pure): each alert is routed by its own
 * labels; alerts that reach the same receiver form one notification per channel and recipient
 * set. Alerts under an active maintenance window go to separate `muted` jobs.
 */
export function planWebhook(raw: Webhook, ctx: PlanContext): IngestRecord {
  const w = ctx.redactor.webhook(raw);
  // receiver name → muted flag → alert indexes
  const buckets = new Map<
    string,
    { receiver: string; muted: boolean; mutedBy: Set<string>; alerts: number[] }
  >();
  raw.alerts.forEach((a, i) => {
    const silencedBy = mutedBy(ctx.silences, a.labels, ctx.now);
    const muted = silencedBy.length > 0;
    for (const m of ctx.router.match(a.labels)) {
      const k = `${m.receiver}\0${muted ? 1 : 0}`;
      let b = buckets.get(k);
      if (!b) buckets.set(k, (b = { receiver: m.receiver, muted, mutedBy: new Set(), alerts: [] }));
      b.alerts.push(i);
      for (const id of silencedBy) b.mutedBy.add(id);
    }
  });

  const jobs: JobSpec[] = [];
  for (const b of buckets.values()) {
    const target = ctx.router.receivers.get(b.receiver);
    if (!target) continue;
    const rawAlerts = b.alerts.map((i) => raw.alerts[i] as Alert);
    const alerts = b.alerts.map((i) => w.alerts[i] as Alert);
    const status = statusOf(alerts);
    const content: NotificationContent = {
      kind: 'alert',
      status,
      groupKey: w.groupKey,
      receiver: b.receiver,
      amReceiver: w.receiver,
      groupLabels: w.groupLabels,
      commonLabels: w.commonLabels,
      commonAnnotations: w.commonAnnotations,
      externalURL: w.externalURL,
      truncatedAlerts: w.truncatedAlerts,
      alerts,
      contacts: ctx.book.responsible(alerts),
    };
    for (const channel of target.channels) {
      const recipients =
        channel === 'email' ? ctx.book.resolveRecipients(target.recipients) : [slackRecipient(target)];
      if (recipients.length === 0) continue;
      const key = dedupKey({
        kind: 'alert',
        groupKey: raw.groupKey,
        channel,
        recipients,
        status,
        alerts: rawAlerts,
        extra: b.muted ? 'muted' : '',
      });
      jobs.push(
        jobSpec({
          dedupKey: key,
          channel,
          recipients,
          content,
          mutedBy: b.muted ? [...b.mutedBy] : undefined,
          mailDomain: ctx.mailDomain,
          now: ctx.now,
        }),
      );
    }
  }
  return { jobs, group: groupUpdate(w, ctx) };
}

interface JobSpecOptions {
  dedupKey: string;
  channel: ChannelName;
  recipients: string[];
  content: NotificationContent;
  /** The maintenance windows muting the job; absent when it is delivered. */
  mutedBy?: string[];
  mailDomain: string;
  now: number;
}

function jobSpec(o: JobSpecOptions): JobSpec {
  const muted = o.mutedBy !== undefined;
  const spec: JobSpec = {
    dedupKey: o.dedupKey,
    channel: o.channel,
    recipients: o.recipients,
    status: muted ? 'muted' : 'pending',
    content: o.content,
  };
  if (o.mutedBy) spec.mutedBy = o.mutedBy;
  if (o.channel === 'email') {
    spec.threadKey = threadKey(o.content.groupKey, o.content.receiver, o.recipients);
    spec.messageId = messageIdFor(o.dedupKey, o.now, o.mailDomain);
  }
  return spec;
}

/** Escalation bookkeeping: the oldest firing critical alert of the group, or null when none fires. */
function groupUpdate(w: Webhook, ctx: PlanContext): GroupUpdate {
  const critical = w.alerts.filter((a) => a.status === 'firing' && a.labels.severity === 'critical');
  if (critical.length === 0) return { groupKey: w.groupKey, criticalSinceMs: null, content: null };
  const since = Math.min(...critical.map((a) => timeMs(a.startsAt) ?? ctx.now));
  return {
    groupKey: w.groupKey,
    criticalSinceMs: since,
    content: {
      kind: 'escalation',
      status: 'firing',
      groupKey: w.groupKey,
      receiver: 'escalation',
      amReceiver: w.receiver,
      groupLabels: w.groupLabels,
      commonLabels: w.commonLabels,
      commonAnnotations: w.commonAnnotations,
      externalURL: w.externalURL,
      truncatedAlerts: w.truncatedAlerts,
      alerts: critical,
      contacts: ctx.book.responsible(critical),
    },
  };
}

/** Escalation jobs for one group: to the escalation role over the configured channels. */
export function planEscalation(
  group: { groupKey: string; criticalSinceMs: number; content: NotificationContent },
  ctx: {
    book: ContactBook;
    silences: readonly ActiveSilence[];
    now: number;
    role: string;
    channels: readonly ChannelName[];
    afterMs: number;
    mailDomain: string;
  },
): JobSpec[] {
  const lead = ctx.book.role(ctx.role);
  const contacts = [...group.content.contacts.filter((c) => c.role !== lead?.role)];
  if (lead) contacts.unshift({ ...lead, reason: 'escalation' });
  const content: NotificationContent = {
    ...group.content,
    contacts,
    escalation: { firingSinceMs: group.criticalSinceMs, afterMs: ctx.afterMs },
  };
  const silenced = new Set<string>();
  const allMuted = content.alerts.every((a) => {
    const ids = mutedBy(ctx.silences, a.labels, ctx.now);
    ids.forEach((id) => silenced.add(id));
    return ids.length > 0;
  });
  const out: JobSpec[] = [];
  for (const channel of ctx.channels) {
    const recipients = channel === 'email' ? (lead?.email ? [lead.email] : []) : ['slack'];
    if (recipients.length === 0) continue;
    const key = dedupKey({
      kind: 'escalation',
      groupKey: group.groupKey,
      channel,
      recipients,
      status: 'firing',
      alerts: [],
      extra: String(group.criticalSinceMs),
    });
    const spec = jobSpec({
      dedupKey: key,
      channel,
      recipients,
      content,
      mutedBy: allMuted ? [...silenced] : undefined,
      mailDomain: ctx.mailDomain,
      now: ctx.now,
    });
    delete spec.threadKey; // an escalation starts its own conversation
    out.push(spec);
  }
  return out;
}
