import type { ChannelName } from '../../config/receiver.js';
import type { ContactBook } from './contacts.js';
import { dedupKey } from './dedup.js';
import { messageIdFor, threadKey } from '../model/identity.js';
import { groupEventOf } from '../model/group-event.js';
import { destinationOf, isRobotChannel, robotRecipients, slackWebhookOf } from '../model/destination.js';
import type { Alert, Webhook } from './payload.js';
import { timeMs } from './payload.js';
import type { Redactor } from './redact.js';
import type { ReceiverTarget, Router } from './routing.js';
import { escalationMutedBy, muteWebhook, type MuteContext } from './mute.js';
import type { ActiveSilence } from '../maintenance/windows.js';
import type { ResponsibleContact } from './contacts.js';
import type {
  AlertStatus,
  EscalationStepRef,
  EscalationUpdate,
  GroupUpdate,
  IngestRecord,
  JobSpec,
  Notification,
  NotificationContent,
  WebhookPlan,
} from '../model/notification.js';

export interface PlanContext {
  router: Router;
  book: ContactBook;
  redactor: Redactor;
  now: number;
  /** Domain for Message-IDs. */
  mailDomain: string;
}

function statusOf(alerts: readonly Alert[]): AlertStatus {
  return alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
}

/**
 * Route, contact and dedup planning for one webhook (pure): each alert is routed by its own
 * labels; alerts that reach the same receiver form one notification per channel and recipient
 * set. Maintenance windows are applied after (mute.ts).
 */
export function planNotifications(raw: Webhook, ctx: PlanContext): WebhookPlan {
  const w = ctx.redactor.webhook(raw);
  const routes = raw.alerts.map((a) => ctx.router.match(a.labels).map((m) => m.receiver));
  const notifications = (apart: (alert: number) => boolean = () => false): Notification[] => {
    // receiver name → apart or not → alert indexes
    const buckets = new Map<string, Notification>();
    routes.forEach((receivers, i) => {
      const side = apart(i) ? 1 : 0;
      for (const receiver of receivers) {
        const k = `${receiver}\0${side}`;
        let b = buckets.get(k);
        if (!b) buckets.set(k, (b = { receiver, alerts: [] }));
        b.alerts.push(i);
      }
    });
    return [...buckets.values()];
  };

  const jobsOf = (b: Notification): JobSpec[] => {
    const jobs: JobSpec[] = [];
    const target = ctx.router.receivers.get(b.receiver);
    if (!target) return jobs;
    const rawAlerts = b.alerts.map((i) => raw.alerts[i] as Alert);
    const alerts = b.alerts.map((i) => w.alerts[i] as Alert);
    const status = statusOf(alerts);
    const content = contentOf(w, { kind: 'alert', status, receiver: b.receiver, alerts }, ctx.book, ctx.now);
    for (const channel of target.channels) {
      const recipients =
        channel === 'email'
          ? ctx.book.resolveRecipients(target.recipients, ctx.now)
          : isRobotChannel(channel)
            ? robotRecipients(channel, target)
            : ['slack'];
      if (recipients.length === 0) continue;
      const slackWebhook = channel === 'slack' ? slackWebhookOf(target) : null;
      const key = dedupKey({
        kind: 'alert',
        groupKey: raw.groupKey,
        channel,
        recipients: destinationOf({ channel, recipients, slackWebhook }).names,
        status,
        alerts: rawAlerts,
        extra: b.mutedBy ? 'muted' : '',
      });
      jobs.push(
        jobSpec({
          dedupKey: key,
          channel,
          recipients,
          slackWebhook,
          content,
          mutedBy: b.mutedBy ? [...b.mutedBy] : undefined,
          mailDomain: ctx.mailDomain,
          now: ctx.now,
        }),
      );
    }
    return jobs;
  };
  const buckets = notifications();
  const jobs = buckets.flatMap(jobsOf);
  const plan: WebhookPlan = {
    jobs,
    group: groupUpdate(w, ctx),
    event: groupEventOf(w, 'webhook', ctx.now),
    webhook: raw,
    now: ctx.now,
    notifications,
    jobsOf,
  };
  const escalations = escalationUpdate(w, buckets, ctx);
  if (escalations) plan.escalations = escalations;
  return plan;
}

/**
 * The escalation policies a webhook's firing notifications start or continue: one per policy,
 * from the first receiver that names it. Undefined when no receiver names a policy.
 */
function escalationUpdate(
  w: Webhook,
  buckets: readonly Notification[],
  ctx: PlanContext,
): EscalationUpdate | undefined {
  if (![...ctx.router.receivers.values()].some((r) => r.escalation_policy)) return undefined;
  const firing: EscalationUpdate['firing'] = [];
  for (const b of buckets) {
    const policy = ctx.router.receivers.get(b.receiver)?.escalation_policy;
    // A page names what fires; the alerts already resolved stay in the group's own notifications.
    const alerts = b.alerts.map((i) => w.alerts[i] as Alert).filter((a) => a.status === 'firing');
    if (!policy || firing.some((f) => f.policy === policy) || alerts.length === 0) continue;
    const content = contentOf(
      w,
      { kind: 'alert', status: 'firing', receiver: b.receiver, alerts },
      ctx.book,
      ctx.now,
    );
    firing.push({ policy, receiver: b.receiver, content });
  }
  return { groupKey: w.groupKey, firing };
}

/** The plan and mute stages of one webhook in one call. */
export function planWebhook(raw: Webhook, ctx: PlanContext & Omit<MuteContext, 'now'>): IngestRecord {
  const plan = planNotifications(raw, ctx);
  return muteWebhook(plan, { silences: ctx.silences, now: plan.now });
}

interface JobSpecOptions {
  dedupKey: string;
  channel: ChannelName;
  recipients: string[];
  slackWebhook: string | null;
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
    slackWebhook: o.slackWebhook,
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
    content: contentOf(
      w,
      { kind: 'escalation', status: 'firing', receiver: 'escalation', alerts: critical },
      ctx.book,
      ctx.now,
    ),
  };
}

/** What a notification about some of a (redacted) webhook's alerts says, and who is responsible. */
function contentOf(
  w: Webhook,
  n: Pick<NotificationContent, 'kind' | 'status' | 'receiver' | 'alerts'>,
  book: ContactBook,
  now: number,
): NotificationContent {
  return {
    kind: n.kind,
    status: n.status,
    groupKey: w.groupKey,
    receiver: n.receiver,
    amReceiver: w.receiver,
    groupLabels: w.groupLabels,
    commonLabels: w.commonLabels,
    commonAnnotations: w.commonAnnotations,
    externalURL: w.externalURL,
    truncatedAlerts: w.truncatedAlerts,
    alerts: n.alerts,
    contacts: book.responsible(n.alerts, now),
  };
}

/**
 * Escalation jobs for one group: to the escalation role over the configured channels, muted
 * when every one of its alerts is under an active maintenance window (mute.ts).
 */
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
    /** Why it is sent, when a policy's step sends it. */
    step?: EscalationStepRef;
  },
): JobSpec[] {
  const targets = ctx.book.roleAt(ctx.role, ctx.now).map((c) => ({ ...c, reason: 'escalation' }));
  return escalationJobs(group, { ...ctx, targets, episode: String(group.criticalSinceMs) });
}

/**
 * The jobs of one escalation: an email to the targets' addresses and a Slack message per
 * channel, the targets named first among the group's contacts. The dedup key holds the
 * group, the destination and `episode` (with a policy: the policy, step, repeat and the
 * episode's start), so each is recorded once however often it is planned.
 */
export function escalationJobs(
  group: { groupKey: string; criticalSinceMs: number; content: NotificationContent },
  ctx: {
    targets: readonly ResponsibleContact[];
    silences: readonly ActiveSilence[];
    now: number;
    channels: readonly ChannelName[];
    afterMs: number;
    mailDomain: string;
    /**
     * The receiver that names the policy: its own Slack webhook (else the default one) and its
     * robots. Without one (the escalation section), the default Slack webhook and no robot.
     */
    receiver?: ReceiverTarget;
    episode: string;
    step?: EscalationStepRef;
  },
): JobSpec[] {
  const paged = new Set(ctx.targets.map((t) => t.role));
  const contacts = [...ctx.targets, ...group.content.contacts.filter((c) => !paged.has(c.role))];
  const content: NotificationContent = {
    ...group.content,
    kind: 'escalation',
    contacts,
    escalation: { firingSinceMs: group.criticalSinceMs, afterMs: ctx.afterMs },
  };
  if (ctx.step && content.escalation) content.escalation.step = ctx.step;
  const mutedBy = escalationMutedBy(content.alerts, ctx);
  const emails = [...new Set(ctx.targets.map((t) => t.email).filter(Boolean))].sort();
  const out: JobSpec[] = [];
  for (const channel of ctx.channels) {
    const recipients =
      channel === 'email'
        ? emails
        : isRobotChannel(channel)
          ? ctx.receiver
            ? robotRecipients(channel, ctx.receiver)
            : []
          : ['slack'];
    if (recipients.length === 0) continue;
    const slackWebhook = channel === 'slack' && ctx.receiver ? slackWebhookOf(ctx.receiver) : null;
    const key = dedupKey({
      kind: 'escalation',
      groupKey: group.groupKey,
      channel,
      recipients: destinationOf({ channel, recipients, slackWebhook }).names,
      status: 'firing',
      alerts: [],
      extra: ctx.episode,
    });
    const spec = jobSpec({
      dedupKey: key,
      channel,
      recipients,
      slackWebhook,
      content,
      mutedBy,
      mailDomain: ctx.mailDomain,
      now: ctx.now,
    });
    delete spec.threadKey; // an escalation starts its own conversation
    out.push(spec);
  }
  return out;
}
