import type { ChannelName } from '../../config/receiver.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import type { Silence } from '../maintenance/windows.js';
import type { Destination } from '../model/destination.js';
import type {
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

/** Notification jobs: recorded with their dedup keys and threads, claimed, completed, listed. */
export interface JobOutbox {
  /** Records many webhooks in ONE transaction (group commit). Throws when it cannot commit. */
  record(batch: readonly IngestRecord[], now: number, dedupWindowMs: number): Promise<RecordOutcome[]>;
  due(channel: ChannelName, now: number, limit: number, exclude: ReadonlySet<number>): Promise<Job[]>;
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

/** A pending notification as the delivery worker's index holds it (delivery/pending.ts). */
export interface PendingEntry extends BacklogEntry {
  channel: ChannelName;
  /** Claimed by another replica (PostgreSQL) until then; 0 when no other replica holds it. */
  heldUntil: number;
}

/**
 * A change to the pending work, as the outbox announces it once committed: this process's own
 * at once, other replicas' (PostgreSQL) as the database notifies them. Each says what a
 * notification's state now is, so applying one twice changes nothing.
 */
export type OutboxChange =
  /** Recorded, escalated or re-driven: pending now. */
  | { kind: 'pending'; entries: readonly PendingEntry[] }
  /** Claimed by another replica until `until`. */
  | { kind: 'claimed'; ids: readonly number[]; until: number }
  /** An attempt failed and is retried at `nextAttemptAt`. */
  | { kind: 'retry'; retries: readonly { id: number; nextAttemptAt: number }[] }
  /** Sent or given up: no longer pending. */
  | { kind: 'done'; ids: readonly number[] }
  /** Changes may have been missed (the notification connection was lost): read the pending work again. */
  | { kind: 'resync' };

/** The pending work read in bounded pages, and every later change to it. */
export interface PendingWork {
  /** Pending notifications with an id above `after`, by id, at most `limit`. */
  pendingPage(after: number, limit: number): Promise<PendingEntry[]>;
  /** Those of `ids` still pending, as they are now. */
  pendingRows(ids: readonly number[]): Promise<PendingEntry[]>;
  /** Calls `listener` with every change from now on; returns a function that stops it. */
  watchPending(listener: (change: OutboxChange) => void): () => void;
}

/** The durable outbox: jobs, dedup, threads, escalation state, maintenance windows, acknowledgements. */
export interface AlertStore
  extends JobOutbox, EscalationState, WindowStore, AckStore, OutboxLifecycle, PendingWork {}
