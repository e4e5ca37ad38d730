// The outbox's rules, written once for both stores (store.ts for SQLite, pg-store.ts for
// PostgreSQL): email threading, when a webhook may change a group's escalation state, the
// muted jobs' text, row mappers (a job's columns, the dispatcher's view of a row) and how long
// each table keeps its rows. The stores keep only their SQL and call these.
import { createHash } from 'node:crypto';
import type { ChannelName } from '../../config/receiver.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import { destinationOf } from '../model/destination.js';
import type { BacklogEntry, EscalationEpisode, GroupState, JobFilter } from './contract.js';
import {
  groupEventOf,
  type GroupEvent,
  type GroupEventDetail,
  type GroupEventSpec,
} from '../model/group-event.js';
import type { Silence } from '../maintenance/windows.js';
import { storableText } from './storable.js';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type {
  EscalationUpdate,
  AlertStatus,
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
    groupEvents: now - retentionMs,
    groupStates: now - retentionMs,
  };
}

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
    content: JSON.stringify(j.content),
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
/**
 * A group's key in the group tables: a digest of its group key, which may be up to 64 KiB
 * (longer than a PostgreSQL index entry may be).
 */
export function groupHash(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex').slice(0, 32);
}

/** Whether a recorded webhook keeps its group event: the same rule as its group update. */
export function eventOf(
  rec: { jobs: readonly JobSpec[]; event?: GroupEventSpec },
  out: RecordOutcome,
): GroupEventSpec | undefined {
  return rec.event && (out.recorded > 0 || rec.jobs.length === 0) ? rec.event : undefined;
}

/** The group event an escalation records, from its notifications' content. */
export function escalationEventOf(jobs: readonly JobSpec[], now: number): GroupEventSpec | undefined {
  const c = jobs[0]?.content;
  return c && groupEventOf(c, 'escalation', now);
}

/** The columns of group_events, in the order both stores insert them. */
export const GROUP_EVENT_COLUMNS =
  'group_hash, group_key, at, kind, status, firing, resolved, firing_set, since_ms, detail, job_ids';

export function groupEventValues(e: GroupEventSpec, at: number, jobIds: readonly number[]) {
  return [
    groupHash(e.groupKey),
    e.groupKey,
    at,
    e.kind,
    e.status,
    e.firing,
    e.resolved,
    e.firingSet,
    e.sinceMs,
    JSON.stringify(e.detail),
    JSON.stringify(jobIds),
  ] as const;
}

export interface GroupEventRow {
  id: number;
  group_key: string;
  at: number;
  kind: string;
  status: string;
  firing: number;
  resolved: number;
  firing_set: string;
  since_ms: number;
  detail: string;
  job_ids: string;
}

export function toGroupEvent(r: GroupEventRow): GroupEvent {
  return {
    id: r.id,
    groupKey: r.group_key,
    at: r.at,
    kind: r.kind as GroupEvent['kind'],
    status: r.status as GroupEvent['status'],
    firing: r.firing,
    resolved: r.resolved,
    firingSet: r.firing_set,
    sinceMs: r.since_ms,
    detail: JSON.parse(r.detail) as GroupEventDetail,
    jobIds: JSON.parse(r.job_ids) as number[],
  };
}

/** The columns of group_state, in the order both stores write them. */
export const GROUP_STATE_COLUMNS =
  'group_hash, group_key, incident, status, since_ms, last_event, last_at, resolved_at, firing';

export interface GroupStateRow {
  group_hash: string;
  group_key: string;
  incident: number;
  status: string;
  since_ms: number;
  last_event: number;
  last_at: number;
  resolved_at: number | null;
  firing: number;
}

/** A group's state read with its last event's detail (the state keeps no copy of it). */
export function toGroupState(r: GroupStateRow & { detail: string }): GroupState {
  return {
    groupKey: r.group_key,
    incident: r.incident,
    status: r.status as GroupState['status'],
    sinceMs: r.since_ms,
    lastEvent: r.last_event,
    lastAt: r.last_at,
    resolvedAt: r.resolved_at,
    firing: r.firing,
    detail: JSON.parse(r.detail) as GroupEventDetail,
  };
}

/**
 * A group's state after one more of its webhooks. A firing webhook of a group that had none, or
 * whose last webhook resolved it, opens an incident (named by the event's id); a resolved one
 * closes it, and the first resolution is when it resolved.
 */
export function nextGroupState(
  prev: GroupStateRow | undefined,
  e: { id: number; at: number; spec: GroupEventSpec },
): GroupStateRow {
  const s = e.spec;
  const opens = !prev || (prev.status === 'resolved' && s.status === 'firing');
  const since = opens
    ? s.sinceMs
    : s.status === 'firing'
      ? Math.min(prev.since_ms, s.sinceMs)
      : prev.since_ms;
  return {
    group_hash: groupHash(s.groupKey),
    group_key: s.groupKey,
    incident: opens ? e.id : prev.incident,
    status: s.status,
    since_ms: since,
    last_event: e.id,
    last_at: e.at,
    resolved_at:
      s.status === 'firing' ? null : !opens && prev.status === 'resolved' ? prev.resolved_at : e.at,
    firing: s.firing,
  };
}

/**
 * What a batch of webhooks does to one group's state, folded so that one statement can apply
 * it to whatever state the group had (PostgreSQL applies it in SQL, in the statement that
 * inserts the events): the same result as nextGroupState applied to each event in turn.
 * Positions are 1-based among the batch's events.
 */
export interface GroupBatchUpdate {
  hash: string;
  key: string;
  firstPos: number;
  firstStatus: AlertStatus;
  /** The last firing event that follows a resolved one of the group in the batch: it opens an incident whatever the state. */
  reopenPos: number | null;
  lastPos: number;
  status: AlertStatus;
  firing: number;
  /** Since when the incident the batch opens fires (from the reopening event, else the first). */
  openSince: number;
  /** The oldest start among the batch's firing events, for an incident that goes on; null without one. */
  firingSince: number | null;
  anyFiring: boolean;
}

/** The batch's webhook events folded per group, in group order. */
export function groupBatchUpdates(
  events: readonly { pos: number; spec: GroupEventSpec }[],
): GroupBatchUpdate[] {
  const byGroup = new Map<string, GroupBatchUpdate>();
  const prevStatus = new Map<string, AlertStatus>();
  for (const { pos, spec } of events) {
    if (spec.kind !== 'webhook') continue;
    const hash = groupHash(spec.groupKey);
    const firing = spec.status === 'firing';
    const u = byGroup.get(hash);
    if (!u) {
      byGroup.set(hash, {
        hash,
        key: spec.groupKey,
        firstPos: pos,
        firstStatus: spec.status,
        reopenPos: null,
        lastPos: pos,
        status: spec.status,
        firing: spec.firing,
        openSince: spec.sinceMs,
        firingSince: firing ? spec.sinceMs : null,
        anyFiring: firing,
      });
    } else {
      if (firing && prevStatus.get(hash) === 'resolved') {
        u.reopenPos = pos;
        u.openSince = spec.sinceMs;
      } else if (firing) u.openSince = Math.min(u.openSince, spec.sinceMs);
      if (firing) u.firingSince = Math.min(u.firingSince ?? Infinity, spec.sinceMs);
      u.anyFiring ||= firing;
      Object.assign(u, { lastPos: pos, status: spec.status, firing: spec.firing, key: spec.groupKey });
    }
    prevStatus.set(hash, spec.status);
  }
  return [...byGroup.values()].sort((a, b) => (a.hash < b.hash ? -1 : 1));
}

/** The groups firing now and those resolved since a moment, with their last event's detail. */
export const GROUP_STATES_QUERY = (t: (table: string) => string, resolvedSince: string, limit: string) =>
  `SELECT s.*, e.detail FROM ${t('group_state')} s JOIN ${t('group_events')} e ON e.id = s.last_event
   WHERE s.status = 'firing' OR s.resolved_at >= ${resolvedSince} ORDER BY s.last_at DESC LIMIT ${limit}`;

/** The group_state row's values, in the order of GROUP_STATE_COLUMNS. */
export function groupStateValues(r: GroupStateRow) {
  return [
    r.group_hash,
    r.group_key,
    r.incident,
    r.status,
    r.since_ms,
    r.last_event,
    r.last_at,
    r.resolved_at,
    r.firing,
  ] as const;
}
