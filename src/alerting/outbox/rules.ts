// The outbox's rules, written once for both stores (store.ts for SQLite, pg-store.ts for
// PostgreSQL): email threading, when a webhook may change a group's escalation state, the
// muted jobs' text, row mappers (a job's columns, the dispatcher's view of a row) and how long
// each table keeps its rows. The stores keep only their SQL and call these.
import type { ChannelName } from '../../config/receiver.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import { destinationOf } from '../model/destination.js';
import type {
  AttemptOutcome,
  BacklogEntry,
  EscalationEpisode,
  JobFilter,
  OutboxChange,
  PendingEntry,
} from './contract.js';
import type { Silence } from '../maintenance/windows.js';
import { storableText } from './storable.js';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type {
  EscalationUpdate,
  GroupUpdate,
  Job,
  JobSpec,
  JobStatus,
  NotificationContent,
  RecordOutcome,
} from '../model/notification.js';

const DAY_MS = 86_400_000;
/** Thread roots outlive short job retention, so a long incident's resolution still threads. */
export const THREAD_MIN_RETENTION_MS = DAY_MS;
/** Escalation state of a group Alertmanager stopped posting about (it resolves within a day). */
export const GROUP_RETENTION_MS = 2 * DAY_MS;

/** Oldest timestamp each table keeps: rows older than this are pruned. */
export function pruneHorizons(now: number, retentionMs: number, dedupWindowMs: number) {
  return {
    jobs: now - retentionMs,
    dedup: now - dedupWindowMs,
    threads: now - Math.max(retentionMs, THREAD_MIN_RETENTION_MS),
    groups: now - GROUP_RETENTION_MS,
    silences: now - retentionMs,
    acks: now - retentionMs,
    overrides: now - retentionMs,
    escalations: now - GROUP_RETENTION_MS,
  };
}

/**
 * The indexes of the jobs and threads tables that delivery needs, the same in both outboxes
 * (`threads` and `jobs` their names in SQL). Every webhook inserts jobs, so the jobs table keeps
 * only these and `jobs_updated` (pruning): pending jobs by id (the dispatcher's index is read
 * from them in pages); jobs by the digest that carried them (the API's `?digest=`); threads by
 * their root and pending replies by what they answer (a digest mail takes over the threads of
 * the firings it carries). Partial where most rows have nothing to index. The indexes these
 * replace are dropped.
 */
export const DELIVERY_INDEXES = (threads: string, jobs: string, schema = '') => `
CREATE INDEX IF NOT EXISTS jobs_pending ON ${jobs} (status, id);
CREATE INDEX IF NOT EXISTS jobs_carried ON ${jobs} (digest) WHERE digest IS NOT NULL;
CREATE INDEX IF NOT EXISTS threads_root ON ${threads} (root_message_id);
CREATE INDEX IF NOT EXISTS jobs_reply ON ${jobs} (in_reply_to) WHERE status = 'pending' AND in_reply_to IS NOT NULL;
DROP INDEX IF EXISTS ${schema}jobs_due;
DROP INDEX IF EXISTS ${schema}jobs_lane;
DROP INDEX IF EXISTS ${schema}jobs_digest;`;

/** Whether a job takes part in email threading (muted jobs and Slack do not). */
export function isThreaded(j: JobSpec): j is JobSpec & { threadKey: string; messageId: string } {
  return !!j.threadKey && !!j.messageId && j.status === 'pending';
}

/**
 * One threading step: a firing message replies to the conversation's root, or starts the
 * conversation; a resolution replies to the root and ends the conversation, so the next
 * firing starts a new one. Returns the job's In-Reply-To and the conversation's root after it.
 */
export function threadStep(
  j: JobSpec & { messageId: string },
  root: string | undefined,
): { inReplyTo: string | null; root: string | undefined } {
  if (j.content.status === 'firing')
    return root ? { inReplyTo: root, root } : { inReplyTo: null, root: j.messageId };
  return { inReplyTo: root ?? null, root: undefined };
}

/**
 * The group update a recorded webhook applies, if any. A webhook that was entirely a duplicate
 * (an HA replica's late copy) never reopens a group that has since resolved.
 */
export function groupUpdateOf(
  rec: { jobs: readonly JobSpec[]; group?: GroupUpdate },
  out: RecordOutcome,
): GroupUpdate | undefined {
  return rec.group && (out.recorded > 0 || rec.jobs.length === 0) ? rec.group : undefined;
}

/** The escalation-policy update a recorded webhook applies, if any (as groupUpdateOf). */
export function escalationUpdateOf(
  rec: { jobs: readonly JobSpec[]; escalations?: EscalationUpdate },
  out: RecordOutcome,
): EscalationUpdate | undefined {
  return rec.escalations && (out.recorded > 0 || rec.jobs.length === 0) ? rec.escalations : undefined;
}

/** A group update that ends the group's escalation state (nothing critical fires any more). */
export function endsGroup(g: GroupUpdate): boolean {
  return g.criticalSinceMs === null || !g.content;
}

/** The last_error text of a job muted by maintenance windows (null when not muted). */
export function mutedText(j: JobSpec): string | null {
  return j.mutedBy?.length ? `muted by maintenance window ${j.mutedBy.join(', ')}` : null;
}

export interface JobRow {
  id: number;
  created_at: number;
  updated_at: number;
  age_from: number;
  dedup_key: string;
  kind: string;
  group_key: string;
  receiver: string;
  channel: string;
  recipients: string;
  slack_webhook: string | null;
  status: string;
  alert_status: string;
  content: string;
  message_id: string | null;
  in_reply_to: string | null;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  sent_at: number | null;
  lane: string | null;
  digest: string | null;
}

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ageFrom: r.age_from,
    dedupKey: r.dedup_key,
    kind: r.kind as Job['kind'],
    groupKey: r.group_key,
    receiver: r.receiver,
    channel: r.channel as ChannelName,
    recipients: JSON.parse(r.recipients) as string[],
    slackWebhook: r.slack_webhook ?? null,
    status: r.status as JobStatus,
    alertStatus: r.alert_status as Job['alertStatus'],
    content: JSON.parse(r.content) as NotificationContent,
    messageId: r.message_id,
    inReplyTo: r.in_reply_to,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    sentAt: r.sent_at,
    lane: r.lane ?? '',
    digest: r.digest ?? null,
  };
}

/** A notification's content as stored, written once for the jobs that share it (email and Slack). */
const contentJson = new WeakMap<NotificationContent, string>();
function contentText(c: NotificationContent): string {
  let text = contentJson.get(c);
  if (text === undefined) contentJson.set(c, (text = JSON.stringify(c)));
  return text;
}

/** The columns a job is recorded with, from its spec (its times, attempts and In-Reply-To aside). */
export function jobValues(j: JobSpec) {
  return {
    dedup_key: j.dedupKey,
    kind: j.content.kind,
    group_key: j.content.groupKey,
    receiver: j.content.receiver,
    channel: j.channel,
    recipients: JSON.stringify(j.recipients),
    slack_webhook: j.slackWebhook,
    status: j.status,
    alert_status: j.content.status,
    content: contentText(j.content),
    message_id: j.messageId ?? null,
    last_error: mutedText(j),
    lane: j.lane ?? '',
  };
}

/** The dispatcher's view of a row (lane, group and destination; no content). */
export interface BacklogRow {
  id: number;
  created_at: number;
  next_attempt_at: number;
  group_key: string;
  channel: string;
  recipients: string;
  slack_webhook: string | null;
  lane: string;
}

/** The columns the dispatcher's index reads: a row's place in the queues, never its content. */
export const PENDING_COLUMNS =
  'id, created_at, next_attempt_at, group_key, channel, recipients, slack_webhook, lane';

export function toBacklogEntry(r: BacklogRow): BacklogEntry {
  return {
    id: r.id,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    groupKey: r.group_key,
    destination: destinationOf({
      channel: r.channel as ChannelName,
      recipients: JSON.parse(r.recipients) as string[],
      slackWebhook: r.slack_webhook ?? null,
    }),
    lane: r.lane,
  };
}

/** A pending row as the index holds it; `heldUntil` is another replica's lease, if any. */
export function toPendingEntry(r: BacklogRow, heldUntil = 0): PendingEntry {
  return { ...toBacklogEntry(r), channel: r.channel as ChannelName, heldUntil };
}

/** The index's view of a job just recorded as `id` at `now` (muted jobs are never pending). */
export function pendingEntryOf(id: number, j: JobSpec, now: number): PendingEntry | undefined {
  if (j.status !== 'pending') return undefined;
  return {
    id,
    createdAt: now,
    nextAttemptAt: now,
    groupKey: j.content.groupKey,
    destination: destinationOf(j),
    lane: j.lane ?? '',
    channel: j.channel,
    heldUntil: 0,
  };
}

/** The listeners of a store's changes to its pending work (PendingWork.watchPending). */
export class ChangeListeners {
  private readonly listeners = new Set<(change: OutboxChange) => void>();

  watch(listener: (change: OutboxChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener of a committed change (a recording of nothing pending is no change). */
  announce(change: OutboxChange): void {
    if (change.kind === 'pending' && !change.entries.length) return;
    for (const l of this.listeners) l(change);
  }
}

/**
 * The digest mails among a batch of results, each with the notifications it carried: a firing
 * carried by a digest mail hands its thread (and the replies already recorded) to the digest.
 */
export function digestThreads(outcomes: readonly AttemptOutcome[]): { messageId: string; ids: number[] }[] {
  const byDigest = new Map<string, number[]>();
  for (const o of outcomes) {
    const mid = o.kind === 'sent' ? o.digest?.messageId : undefined;
    if (!mid) continue;
    const ids = byDigest.get(mid);
    if (ids) ids.push(o.id);
    else byDigest.set(mid, [o.id]);
  }
  return [...byDigest].map(([messageId, ids]) => ({ messageId, ids }));
}

/** What a batch of recorded results changes in the pending work (OutboxChange), in two parts. */
export function changesOf(outcomes: readonly AttemptOutcome[]): {
  done: number[];
  retries: { id: number; nextAttemptAt: number }[];
} {
  const done: number[] = [];
  const retries: { id: number; nextAttemptAt: number }[] = [];
  for (const o of outcomes)
    if (o.kind === 'retry') retries.push({ id: o.id, nextAttemptAt: o.nextAttemptAt });
    else done.push(o.id);
  return { done, retries };
}

export interface SilenceRow {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  comment: string;
  created_by: string;
}

export function toSilence(r: SilenceRow): Silence {
  return {
    id: r.id,
    matchers: JSON.parse(r.matchers) as string[],
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    comment: r.comment,
    createdBy: r.created_by,
    source: 'api',
  };
}

/** The silence row's values, in the column order both stores insert. */
export function silenceValues(s: Silence): [string, string, number, number, string, string] {
  return [s.id, JSON.stringify(s.matchers), s.startsAt, s.endsAt, s.comment, s.createdBy];
}

/** Filter fields and their columns, in the order the WHERE clause names them. */
export const JOB_FILTER_COLUMNS = [
  ['status', 'status'],
  ['channel', 'channel'],
  ['receiver', 'receiver'],
  ['groupKey', 'group_key'],
  ['digest', 'digest'],
] as const satisfies readonly (readonly [keyof JobFilter, string])[];

export interface AckRow {
  id: string;
  group_key: string;
  alertname: string;
  group_labels: string;
  by: string;
  via: string;
  at: number;
  comment: string;
  silence_id: string | null;
  silence_ends_at: number | null;
  ended_at: number | null;
  ended_by: string | null;
}

export function toAck(r: AckRow): Acknowledgement {
  return {
    id: r.id,
    groupKey: r.group_key,
    alertname: r.alertname,
    groupLabels: JSON.parse(r.group_labels) as Record<string, string>,
    by: r.by,
    via: r.via,
    at: r.at,
    comment: r.comment,
    silenceId: r.silence_id,
    silenceEndsAt: r.silence_ends_at,
    endedAt: r.ended_at,
    endedBy: r.ended_by,
  };
}

/** Column values of an acknowledgement, in the order of ACK_COLUMNS. */
export const ACK_COLUMNS =
  'id, group_key, alertname, group_labels, by, via, at, comment, silence_id, silence_ends_at, ended_at, ended_by';
export function ackValues(a: Acknowledgement): unknown[] {
  return [
    a.id,
    a.groupKey,
    a.alertname,
    JSON.stringify(a.groupLabels),
    a.by,
    a.via,
    a.at,
    a.comment,
    a.silenceId,
    a.silenceEndsAt,
    a.endedAt,
    a.endedBy,
  ];
}

/** `WHERE status = ? AND channel = ?` for the fields a filter sets, and their values in order. */
export function jobFilterWhere(
  f: JobFilter,
  placeholder: (i: number) => string,
): { where: string; values: string[]; signature: string } {
  const parts: string[] = [];
  const values: string[] = [];
  for (const [field, column] of JOB_FILTER_COLUMNS) {
    const v = f[field];
    if (v === undefined) continue;
    values.push(storableText(v));
    parts.push(`${column} = ${placeholder(values.length)}`);
  }
  return {
    where: parts.length ? `WHERE ${parts.join(' AND ')}` : '',
    values,
    signature: parts.join(','),
  };
}

export interface OverrideRow {
  id: string;
  schedule: string;
  person: string;
  starts_at: number;
  ends_at: number;
  comment: string;
  created_by: string;
  created_at: number;
}

export function toOverride(r: OverrideRow): ScheduleOverride {
  return {
    id: r.id,
    schedule: r.schedule,
    person: r.person,
    start: r.starts_at,
    end: r.ends_at,
    comment: r.comment,
    createdBy: r.created_by,
    createdAt: r.created_at,
    source: 'api',
  };
}

/** An override row's values, in the column order both stores insert. */
export function overrideValues(
  o: ScheduleOverride,
): [string, string, string, number, number, string, string, number] {
  return [o.id, o.schedule, o.person, o.start, o.end, o.comment, o.createdBy, o.createdAt];
}

export interface EpisodeRow {
  group_key: string;
  policy: string;
  receiver: string;
  started_at: number;
  next_index: number;
  content: string;
}

export function toEpisode(r: EpisodeRow): EscalationEpisode {
  return {
    groupKey: r.group_key,
    policy: r.policy,
    receiver: r.receiver,
    startedAt: r.started_at,
    nextIndex: r.next_index,
    content: JSON.parse(r.content) as NotificationContent,
  };
}
