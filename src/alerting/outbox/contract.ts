import type { ChannelName } from '../../config/receiver.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import type { HeartbeatState } from '../heartbeat/heartbeats.js';
import type { Silence } from '../maintenance/windows.js';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type { Destination } from '../model/destination.js';
import type { GroupEvent, GroupEventDetail } from '../model/group-event.js';
import type {
  AlertStatus,
  IngestRecord,
  Job,
  JobSpec,
  JobStatus,
  NotificationContent,
  RecordOutcome,
} from '../model/notification.js';

// The outbox's contract: what ingest, delivery, acknowledgement and maintenance may ask of it,
// one interface per concept. SqliteStore (sqlite.ts) serves a single replica from local disk;
// PgStore (postgres.ts) is shared by several receiver replicas, which claim due jobs with
// FOR UPDATE SKIP LOCKED. Both follow the rules in rules.ts.

/** A pending notification as the dispatcher sees it: no content, just what ordering needs. */
export interface BacklogEntry {
  id: number;
  createdAt: number;
  nextAttemptAt: number;
  groupKey: string;
  /** Where it goes on its channel (destination.ts). */
  destination: Destination;
  lane: string;
}

/** Which notifications to list; every field narrows (AND). */
export interface JobFilter {
  status?: JobStatus;
  channel?: ChannelName;
  receiver?: string;
  groupKey?: string;
  /** Id of the digest that carried them. */
  digest?: string;
}

/** A group whose critical alerts have fired long enough to be escalated. */
export interface EscalationCandidate {
  groupKey: string;
  criticalSinceMs: number;
  content: NotificationContent;
}

/** The recorded result of one delivery attempt. */
export type AttemptOutcome =
  | {
      id: number;
      attempts: number;
      kind: 'sent';
      /** Carried by this digest; with email, later replies thread to the digest's Message-ID. */
      digest?: { id: string; messageId?: string };
    }
  | { id: number; attempts: number; kind: 'retry'; nextAttemptAt: number; error: string }
  | { id: number; attempts: number; kind: 'dead'; error: string };

export interface StoreCounts {
  pending: number;
  dead: number;
  sent: number;
  muted: number;
}

/** Pending notifications of one channel and lane: how many, and since when the oldest waits. */
export interface BacklogStat {
  channel: ChannelName;
  lane: string;
  pending: number;
  oldestCreatedAt: number;
}

/** Pending notifications read for the dispatcher at most, per channel and tick. */
export const BACKLOG_READ_LIMIT = 5000;

/** Notification jobs: recorded with their dedup keys and threads, claimed, completed, listed. */
export interface JobOutbox {
  /** Records many webhooks in ONE transaction (group commit). Throws when it cannot commit. */
  record(batch: readonly IngestRecord[], now: number, dedupWindowMs: number): Promise<RecordOutcome[]>;
  due(channel: ChannelName, now: number, limit: number, exclude: ReadonlySet<number>): Promise<Job[]>;
  /**
   * Pending notifications of a channel (due or not, without content), lane by lane in the
   * given order and by id within a lane, at most `limit`.
   */
  backlog(
    channel: ChannelName,
    lanes: readonly string[],
    now: number,
    limit: number,
  ): Promise<BacklogEntry[]>;
  /** Takes these pending notifications for delivery (with PostgreSQL: claims them for this replica). */
  claim(ids: readonly number[], now: number): Promise<Job[]>;
  backlogStats(): Promise<BacklogStat[]>;
  /** Earliest next_attempt_at of pending jobs (to sleep until then). */
  nextDue(): Promise<number | undefined>;
  /** Records the results of many delivery attempts in one transaction. */
  complete(outcomes: readonly AttemptOutcome[], now: number): Promise<void>;
  /** Makes a dead letter due again with a fresh attempt/age budget. */
  redrive(id: number, now: number): Promise<Job | undefined>;
  get(id: number): Promise<Job | undefined>;
  list(opts: JobFilter & { limit: number }): Promise<Job[]>;
  counts(): Promise<StoreCounts>;
}

/** Escalation state per Alertmanager group, updated with each webhook (IngestRecord.group). */
export interface EscalationState {
  escalationCandidates(now: number, afterMs: number): Promise<EscalationCandidate[]>;
  /** Records escalation jobs and marks the group escalated, in one transaction. */
  recordEscalation(
    groupKey: string,
    jobs: readonly JobSpec[],
    now: number,
    dedupWindowMs: number,
  ): Promise<RecordOutcome>;
}

/** Maintenance windows created through the API or the console (shared by replicas). */
export interface WindowStore {
  listSilences(): Promise<Silence[]>;
  addSilence(s: Silence): Promise<void>;
  deleteSilence(id: string): Promise<boolean>;
  /** Ends a window early (it stays listed as ended until pruned); false when none is running. */
  endSilence(id: string, now: number): Promise<boolean>;
}

/** Acknowledgements: who took which group, and since when. */
export interface AckStore {
  /** Acknowledgements, newest first; `active` only those not ended. */
  listAcks(opts: { active?: boolean; limit: number }): Promise<Acknowledgement[]>;
  /** Records an acknowledgement, ending the group's earlier one, in one transaction. */
  putAck(a: Acknowledgement): Promise<void>;
  /** Ends the group's active acknowledgement; undefined when it has none. */
  endAck(groupKey: string, by: string, now: number): Promise<Acknowledgement | undefined>;
}

/** Heartbeats (the Alertmanager Watchdog's and the jobs'): their state, shared by replicas. */
export interface HeartbeatStore {
  listHeartbeats(): Promise<HeartbeatState[]>;
  getHeartbeat(name: string): Promise<HeartbeatState | undefined>;
  /**
   * Writes a heartbeat's next state (`version` one more than the state it was computed from)
   * and records the notifications of the change, in one transaction, unless another replica
   * wrote the heartbeat first: then nothing is written and the answer is false. So of
   * replicas seeing the same deadline pass, one records the page.
   */
  saveHeartbeat(
    next: HeartbeatState,
    record: IngestRecord | undefined,
    now: number,
    dedupWindowMs: number,
  ): Promise<boolean>;
}

/** Schedule overrides created through the API or the console (shared by replicas). */
export interface OverrideStore {
  /** Every stored override, by start. */
  listOverrides(): Promise<ScheduleOverride[]>;
  addOverride(o: ScheduleOverride): Promise<void>;
  /** Deletes one override of a schedule; false when the schedule has none with this id. */
  deleteOverride(schedule: string, id: string): Promise<boolean>;
}

/**
 * A group an escalation policy pages about: one episode from the first firing notification of
 * the group to its resolution (IngestRecord.escalations starts and ends it).
 */
export interface EscalationEpisode {
  groupKey: string;
  policy: string;
  /** The routing receiver that names the policy. */
  receiver: string;
  /** The first notification of the episode, on the outbox's clock. */
  startedAt: number;
  /** Steps are numbered across rounds (round × steps + step); those before this one are done. */
  nextIndex: number;
  /** The group's latest firing notification to the receiver. */
  content: NotificationContent;
}

/** An episode as the escalation check read it: a step is recorded only while it is still so. */
export type EpisodeRef = Pick<EscalationEpisode, 'groupKey' | 'policy' | 'startedAt' | 'nextIndex'>;

/** Escalation policies' progress, decided on one clock for every replica. */
export interface EscalationProgress {
  /** The outbox's clock: PostgreSQL's (the same for every replica), the local one with SQLite. */
  clock(): Promise<number>;
  /** Episodes in progress, oldest first. */
  episodes(limit: number): Promise<EscalationEpisode[]>;
  /**
   * Records the notifications of a step and moves the episode past it, in one transaction, when
   * the episode is still as it was read (same start, same next step). Undefined, with nothing
   * recorded, when it is not: another replica took the step, or the group resolved meanwhile.
   */
  recordStep(
    episode: EpisodeRef,
    nextIndex: number,
    jobs: readonly JobSpec[],
    now: number,
    dedupWindowMs: number,
  ): Promise<RecordOutcome | undefined>;
}

/** Housekeeping, the replicas sharing the outbox, and closing it. */
export interface OutboxLifecycle {
  prune(now: number, retentionMs: number, dedupWindowMs: number): Promise<void>;
  /**
   * Replicas sharing this outbox, this one included, as last counted: each paces a destination
   * with its share of the budget. Always 1 with SQLite.
   */
  replicas(): number;
  close(): Promise<void>;
}

/** A group as its last webhook left it: firing now, or resolved since `resolvedAt`. */
export interface GroupState {
  groupKey: string;
  /** The incident it is in: the id of the group event that opened it. */
  incident: number;
  status: AlertStatus;
  /** Start of the incident's oldest firing alert. */
  sinceMs: number;
  lastEvent: number;
  lastAt: number;
  resolvedAt: number | null;
  firing: number;
  /** The last webhook's names and alerts. */
  detail: GroupEventDetail;
}

/** A group's escalation bookkeeping, as the escalation check reads it. */
export interface EscalationStatus {
  groupKey: string;
  criticalSinceMs: number;
  escalatedAt: number | null;
}

/**
 * Incidents: each group's state and events, recorded with its webhooks and escalations (in
 * the same transactions), read by the console's Now page and timelines.
 */
export interface IncidentStore {
  /** Groups firing now, and those resolved at `resolvedSince` or later; at most `limit`. */
  groupStates(opts: { resolvedSince: number; limit: number }): Promise<GroupState[]>;
  /** One group event. */
  groupEvent(id: number): Promise<GroupEvent | undefined>;
  /** The events of a group from event `fromId` on, oldest first, at most `limit`. */
  groupEvents(groupKey: string, fromId: number, limit: number): Promise<GroupEvent[]>;
  /** Notifications by id (those no longer kept are left out). */
  jobsByIds(ids: readonly number[]): Promise<Job[]>;
  /** A group's acknowledgements, ended ones included, oldest first. */
  groupAcks(groupKey: string, limit: number): Promise<Acknowledgement[]>;
  /** Every group with a firing critical alert: since when, and whether it was escalated. */
  escalationStatuses(): Promise<EscalationStatus[]>;
}

/** Secrets stackwatch makes for itself, shared by the replicas of an outbox (the console token). */
export interface SecretStore {
  secret(name: string, now: number): Promise<string | undefined>;
  /** Keeps `value` unless the secret exists; the value kept (a replica that started first wins). */
  initSecret(name: string, value: string, now: number): Promise<string>;
  setSecret(name: string, value: string, now: number, expiresAt?: number): Promise<void>;
  /** Deletes an unexpired secret; true for the one call that deleted it (single use). */
  takeSecret(name: string, now: number): Promise<boolean>;
  /** Deletes every secret whose name starts with `prefix`. */
  deleteSecrets(prefix: string): Promise<void>;
}

/**
 * The durable outbox: jobs, dedup, threads, escalation state, maintenance windows,
 * acknowledgements, heartbeats, schedule overrides and escalation policies' episodes,
 * incidents, secrets.
 */
export interface AlertStore
  extends
    JobOutbox,
    EscalationState,
    WindowStore,
    AckStore,
    HeartbeatStore,
    OverrideStore,
    EscalationProgress,
    IncidentStore,
    SecretStore,
    OutboxLifecycle {}
