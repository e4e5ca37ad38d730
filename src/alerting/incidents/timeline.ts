import type { Labels } from '../../matchers.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import type { ActiveSilence } from '../maintenance/windows.js';
import { destinationText } from '../model/destination.js';
import { fullLabels, type EventAlert, type GroupEvent, type GroupEventDetail } from '../model/group-event.js';
import type { Job } from '../model/notification.js';
import { durationText, escalationWhy } from '../render/text.js';
import { matchesAll } from '../../matchers.js';

// An incident's timeline: one group from the webhook that opened the incident to the one that
// resolved it, with every notification its webhooks and escalations made, the
// acknowledgements and the maintenance windows over it, in the order they happened. A pure
// function of what the outbox kept, for the console's page and the postmortem export.

export type EntryKind =
  | 'firing'
  | 'new-alerts'
  | 'changed'
  | 'repeat'
  | 'some-resolved'
  | 'resolved'
  | 'notification'
  | 'escalation'
  | 'acknowledged'
  | 'acknowledgement-ended'
  | 'window-start'
  | 'window-end';

export interface TimelineEntry {
  at: number;
  kind: EntryKind;
  /** What happened, in one line. */
  title: string;
  /** The details: alerts, recipients, delivery. */
  lines: string[];
  /** The notification an entry is about. */
  jobId?: number;
}

export interface Incident {
  /** The id of the group event that opened it. */
  id: number;
  groupKey: string;
  alertname: string;
  groupLabels: Labels;
  severity: string;
  status: 'firing' | 'resolved';
  /** When its oldest alert started firing (Alertmanager's startsAt). */
  startedAt: number;
  /** When stackwatch received its first webhook. */
  detectedAt: number;
  firstNotifiedAt?: number;
  acknowledged?: { by: string; at: number };
  escalatedAt?: number;
  resolvedAt?: number;
  notifications: { sent: number; byChannel: Record<string, number>; notKept: number };
  /** Alerts named by its events (as many as they kept), with all their labels. */
  alerts: { labels: Labels; summary: string }[];
  entries: TimelineEntry[];
  /** More events than were read: the timeline stops early. */
  truncated: boolean;
}

export interface TimelineInput {
  /** The group's events from the incident's opening one on, oldest first. */
  events: readonly GroupEvent[];
  /** The notifications the events name (those still kept). */
  jobs: readonly Job[];
  acks: readonly Acknowledgement[];
  windows: readonly ActiveSilence[];
  now: number;
  /** The events were read up to a limit that was reached. */
  truncated?: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function labelList(l: Labels): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function alertLine(a: EventAlert): string {
  const own = labelList(a.labels);
  return [a.summary, own && `(${own})`].filter(Boolean).join(' ') || a.fp;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** What one webhook was, against the group's webhook before it in the incident. */
function webhookEntry(e: GroupEvent, prev: GroupEvent | undefined): TimelineEntry {
  const d = e.detail;
  const more = d.more ? [`… and ${plural(d.more, 'more alert')}`] : [];
  const lines = (alerts: EventAlert[]) => [...alerts.map(alertLine), ...more];
  const firingAlerts = d.alerts.filter((a) => a.status === 'firing');
  const resolvedAlerts = d.alerts.filter((a) => a.status === 'resolved');
  const base = { at: e.at };
  if (e.status === 'resolved')
    return {
      ...base,
      kind: 'resolved',
      title: `Resolved: ${plural(e.resolved, 'alert')} resolved`,
      lines: lines(resolvedAlerts),
    };
  if (!prev)
    return {
      ...base,
      kind: 'firing',
      title: `Firing: ${plural(e.firing, 'alert')}`,
      lines: lines(firingAlerts),
    };
  if (e.resolved > 0)
    return {
      ...base,
      kind: 'some-resolved',
      title: `Some resolved: ${e.resolved} resolved, ${e.firing} still firing`,
      lines: lines(resolvedAlerts),
    };
  if (e.firingSet === prev.firingSet)
    return {
      ...base,
      kind: 'repeat',
      title: `Repeat: ${plural(e.firing, 'alert')} still firing, unchanged`,
      lines: [],
    };
  const known = new Set(prev.detail.alerts.map((a) => a.fp));
  const added = firingAlerts.filter((a) => !known.has(a.fp));
  if (e.firing > prev.firing || added.length)
    return {
      ...base,
      kind: 'new-alerts',
      title: `New alerts: ${e.firing} firing (${e.firing > prev.firing ? `+${e.firing - prev.firing}` : 'others than before'})`,
      lines: added.map(alertLine),
    };
  return {
    ...base,
    kind: 'changed',
    title: `Changed: ${plural(e.firing, 'alert')} firing`,
    lines: lines(firingAlerts),
  };
}

/** Why a webhook's notifications were sent, by what the webhook was. */
const WEBHOOK_REASON: Partial<Record<EntryKind, string>> = {
  firing: 'the group began firing',
  'new-alerts': 'new alerts in the group',
  changed: 'the group changed',
  repeat: 'Alertmanager repeated the group',
  'some-resolved': 'some alerts resolved',
  resolved: 'the group resolved',
};

/** How a notification went: delivered (alone or in a digest), given up, muted or still waiting. */
export function deliveryText(j: Job): string {
  const attempts = plural(j.attempts, 'attempt');
  switch (j.status) {
    case 'sent':
      return `sent ${j.sentAt ? `at ${iso(j.sentAt)} ` : ''}after ${attempts}${j.digest ? ` in digest ${j.digest}` : ''}`;
    case 'dead':
      return `given up after ${attempts} (dead letter): ${j.lastError ?? 'no error recorded'}`;
    case 'muted':
      return j.lastError ?? 'muted';
    case 'pending':
      return `waiting, ${attempts} so far, next at ${iso(j.nextAttemptAt)}${j.lastError ? `; last error: ${j.lastError}` : ''}`;
  }
}

function notificationEntry(j: Job, reason: string): TimelineEntry {
  const at =
    j.status === 'sent' ? (j.sentAt ?? j.updatedAt) : j.status === 'dead' ? j.updatedAt : j.createdAt;
  const what =
    j.kind === 'escalation'
      ? 'Escalation'
      : j.alertStatus === 'resolved'
        ? 'Resolved notice'
        : 'Notification';
  const named = j.content.contacts.map((c) => `${c.title} ${c.name} (${c.reason})`).join(', ');
  return {
    at,
    kind: 'notification',
    jobId: j.id,
    title: `${what} #${j.id} ${j.channel === 'email' ? `by email to ${destinationText(j)}` : `to ${destinationText(j)}`}: ${j.status}`,
    lines: [
      `reason: ${reason}`,
      deliveryText(j),
      ...(named ? [`responsible: ${named}`] : []),
      `recorded ${iso(j.createdAt)}, receiver ${j.receiver}${j.lane ? `, lane ${j.lane}` : ''}`,
    ],
  };
}

function escalationEntry(e: GroupEvent, jobs: readonly Job[]): TimelineEntry {
  const c = jobs[0]?.content;
  const to = [
    ...new Set(
      (c?.contacts ?? []).filter((x) => x.reason === 'escalation').map((x) => `${x.title} ${x.name}`.trim()),
    ),
  ];
  const ms = c?.escalation?.afterMs;
  const after =
    ms === undefined ? '' : ` after ${ms < 60_000 ? `${Math.round(ms / 1000)}s` : durationText(ms)}`;
  // A policy's step says which one it was; the escalation section's one step is about critical alerts.
  const why = c ? escalationWhy(c) : '';
  const policy = why && !why.startsWith('escalation section') ? why : '';
  return {
    at: e.at,
    kind: 'escalation',
    title: `Escalated${to.length ? ` to ${to.join(', ')}` : ''}: ${policy ? 'alerts' : 'critical alerts'} still firing${after}, not acknowledged`,
    lines: [...(policy ? [policy] : []), ...e.detail.alerts.map(alertLine)],
  };
}

function ackEntries(a: Acknowledgement, end: number): TimelineEntry[] {
  const out: TimelineEntry[] = [
    {
      at: a.at,
      kind: 'acknowledged',
      title: `Acknowledged by ${a.by} (${a.via === 'console' ? 'in the console' : `through the link sent to ${a.via}`})`,
      lines: [
        ...(a.comment ? [`comment: ${a.comment}`] : []),
        ...(a.silenceId ? [`Alertmanager silence ${a.silenceId} until ${iso(a.silenceEndsAt ?? a.at)}`] : []),
      ],
    },
  ];
  if (a.endedAt !== null && a.endedAt < end)
    out.push({
      at: a.endedAt,
      kind: 'acknowledgement-ended',
      title:
        a.endedBy === 'resolved'
          ? 'Acknowledgement ended: the group resolved'
          : `Acknowledgement of ${a.by} ended by ${a.endedBy ?? 'someone'}`,
      lines: [],
    });
  return out;
}

function windowEntries(w: ActiveSilence, start: number, end: number, now: number): TimelineEntry[] {
  const what = `${w.matchers.join(', ')}${w.comment ? ` (${w.comment})` : ''}, by ${w.createdBy}`;
  const out: TimelineEntry[] = [];
  if (w.startsAt >= start && w.startsAt < end)
    out.push({
      at: w.startsAt,
      kind: 'window-start',
      title: `Maintenance window ${w.id} began`,
      lines: [what],
    });
  else if (w.startsAt < start && w.endsAt > start)
    out.push({
      at: start,
      kind: 'window-start',
      title: `Under maintenance window ${w.id} (since ${iso(w.startsAt)})`,
      lines: [what],
    });
  if (w.endsAt > start && w.endsAt < end && w.endsAt <= now)
    out.push({ at: w.endsAt, kind: 'window-end', title: `Maintenance window ${w.id} ended`, lines: [] });
  return out;
}

/** The severity an incident shows: the common one, else the first alert's. */
export function severityOfDetail(d: GroupEventDetail): string {
  return d.commonLabels.severity ?? d.alerts.find((a) => a.labels.severity)?.labels.severity ?? '';
}

/** The incident that `events[0]` opened, up to the webhook that opened the next one. */
export function incidentTimeline(input: TimelineInput): Incident | undefined {
  const opener = input.events[0];
  if (!opener) return undefined;
  const events: GroupEvent[] = [];
  let end = Infinity;
  let closedBy: GroupEvent | undefined;
  for (const e of input.events) {
    if (closedBy && e.kind === 'webhook' && e.status === 'firing') {
      end = e.at;
      break;
    }
    events.push(e);
    if (e.kind === 'webhook') closedBy = e.status === 'resolved' ? (closedBy ?? e) : undefined;
  }
  const byId = new Map(input.jobs.map((j) => [j.id, j]));
  const entries: TimelineEntry[] = [];
  let prev: GroupEvent | undefined;
  let notKept = 0;
  const byChannel: Record<string, number> = {};
  let sent = 0;
  let firstNotifiedAt: number | undefined;
  let escalatedAt: number | undefined;
  const alerts = new Map<string, { labels: Labels; summary: string }>();
  for (const e of events) {
    for (const a of e.detail.alerts)
      if (!alerts.has(a.fp)) alerts.set(a.fp, { labels: fullLabels(e.detail, a), summary: a.summary });
    const jobs = e.jobIds.flatMap((id) => byId.get(id) ?? []);
    notKept += e.jobIds.length - jobs.length;
    let reason: string;
    if (e.kind === 'escalation') {
      const entry = escalationEntry(e, jobs);
      entries.push(entry);
      escalatedAt ??= e.at;
      reason = 'escalation';
    } else {
      const entry = webhookEntry(e, prev);
      entries.push(entry);
      reason = WEBHOOK_REASON[entry.kind] ?? entry.kind;
      prev = e;
    }
    for (const j of jobs) {
      entries.push(notificationEntry(j, reason));
      if (j.status === 'sent') {
        sent++;
        byChannel[j.channel] = (byChannel[j.channel] ?? 0) + 1;
        if (j.sentAt !== null) firstNotifiedAt = Math.min(firstNotifiedAt ?? Infinity, j.sentAt);
      }
    }
  }
  const until = Math.min(end, input.now + 1);
  const acks = input.acks.filter((a) => a.at >= opener.at && a.at < until);
  for (const a of acks) entries.push(...ackEntries(a, until));
  const labelSets = [...alerts.values()].map((a) => a.labels);
  for (const w of input.windows)
    if (labelSets.some((l) => matchesAll(w.compiled, l)))
      entries.push(...windowEntries(w, opener.at, until, input.now));
  // Stable: at the same instant a webhook comes before the notifications it made.
  entries.sort((a, b) => a.at - b.at);
  const last = events[events.length - 1] as GroupEvent;
  const firstAck = acks[0];
  return {
    id: opener.id,
    groupKey: opener.groupKey,
    alertname: last.detail.alertname,
    groupLabels: opener.detail.groupLabels,
    severity: severityOfDetail(opener.detail),
    status: closedBy ? 'resolved' : 'firing',
    startedAt: Math.min(...events.filter((e) => e.kind === 'webhook').map((e) => e.sinceMs)),
    detectedAt: opener.at,
    firstNotifiedAt,
    acknowledged: firstAck && { by: firstAck.by, at: firstAck.at },
    escalatedAt,
    resolvedAt: closedBy?.at,
    notifications: { sent, byChannel, notKept },
    alerts: [...alerts.values()],
    entries,
    truncated: Boolean(input.truncated) && end === Infinity,
  };
}
