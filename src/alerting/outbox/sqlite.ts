import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CHANNELS, type ChannelName } from '../../config/receiver.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import type { Silence } from '../maintenance/windows.js';
import type { HeartbeatState } from '../heartbeat/heartbeats.js';
import { heartbeatsTableSql, heartbeatWrite, toHeartbeat, type HeartbeatRow } from './heartbeat-rows.js';
import {
  ACK_COLUMNS,
  ackValues,
  endsGroup,
  escalationUpdateOf,
  escalationEventOf,
  eventOf,
  GROUP_EVENT_COLUMNS,
  GROUP_STATE_COLUMNS,
  GROUP_STATES_QUERY,
  groupEventValues,
  groupHash,
  groupStateValues,
  groupUpdateOf,
  nextGroupState,
  toGroupEvent,
  toGroupState,
  type GroupEventRow,
  type GroupStateRow,
  isThreaded,
  jobFilterWhere,
  jobValues,
  pruneHorizons,
  silenceValues,
  threadStep,
  toAck,
  toBacklogEntry,
  toJob,
  toSilence,
  type AckRow,
  type BacklogRow,
  type JobRow,
  type SilenceRow,
} from './rules.js';
import type {
  IngestRecord,
  Job,
  JobSpec,
  NotificationContent,
  RecordOutcome,
} from '../model/notification.js';
import { storable, storableText } from './storable.js';
import { SqliteOncallTables } from './sqlite-oncall.js';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type {
  AlertStore,
  EpisodeRef,
  EscalationEpisode,
  AttemptOutcome,
  BacklogEntry,
  BacklogStat,
  EscalationCandidate,
  EscalationStatus,
  GroupState,
  JobFilter,
  StoreCounts,
} from './contract.js';
import type { GroupEvent, GroupEventSpec } from '../model/group-event.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  age_from INTEGER NOT NULL,
  dedup_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  group_key TEXT NOT NULL,
  receiver TEXT NOT NULL,
  channel TEXT NOT NULL,
  recipients TEXT NOT NULL,
  slack_webhook TEXT,
  status TEXT NOT NULL,
  alert_status TEXT NOT NULL,
  content TEXT NOT NULL,
  message_id TEXT,
  in_reply_to TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  sent_at INTEGER,
  lane TEXT NOT NULL DEFAULT '',
  digest TEXT
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, channel, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_updated ON jobs (status, updated_at);
CREATE TABLE IF NOT EXISTS dedup (
  key TEXT NOT NULL UNIQUE,
  job_id INTEGER, -- unused, kept so that existing outboxes open unchanged
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dedup_created ON dedup (created_at);
CREATE TABLE IF NOT EXISTS threads (
  key TEXT PRIMARY KEY,
  root_message_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
  group_key TEXT PRIMARY KEY,
  since_ms INTEGER NOT NULL,
  content TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  escalated_at INTEGER
);
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  comment TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS acks (
  id TEXT PRIMARY KEY,
  group_key TEXT NOT NULL,
  alertname TEXT NOT NULL,
  group_labels TEXT NOT NULL,
  by TEXT NOT NULL,
  via TEXT NOT NULL,
  at INTEGER NOT NULL,
  comment TEXT NOT NULL,
  silence_id TEXT,
  silence_ends_at INTEGER,
  ended_at INTEGER,
  ended_by TEXT
);
CREATE INDEX IF NOT EXISTS acks_group ON acks (group_key, ended_at);
CREATE TABLE IF NOT EXISTS group_events (
  id INTEGER PRIMARY KEY,
  group_hash TEXT NOT NULL,
  group_key TEXT NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  firing INTEGER NOT NULL,
  resolved INTEGER NOT NULL,
  firing_set TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  detail TEXT NOT NULL,
  job_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS group_events_group ON group_events (group_hash, id);
CREATE INDEX IF NOT EXISTS group_events_at ON group_events (at);
CREATE TABLE IF NOT EXISTS group_state (
  group_hash TEXT PRIMARY KEY,
  group_key TEXT NOT NULL,
  incident INTEGER NOT NULL,
  status TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  last_event INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  resolved_at INTEGER,
  firing INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
`;

/** Every statement the store runs, prepared once (typed: no lookups by name). */
function prepareStatements(db: Database.Database) {
  return {
    dedup: db.prepare(
      `INSERT INTO dedup (key, job_id, created_at) VALUES (?, NULL, ?)
       ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at, job_id = NULL
       WHERE dedup.created_at < ?`,
    ),
    insertJob: db.prepare(
      `INSERT INTO jobs (created_at, updated_at, age_from, dedup_key, kind, group_key, receiver, channel,
         recipients, slack_webhook, status, alert_status, content, message_id, in_reply_to, attempts,
         next_attempt_at, last_error, lane)
       VALUES (@now, @now, @now, @dedup_key, @kind, @group_key, @receiver, @channel, @recipients, @slack_webhook,
         @status, @alert_status, @content, @message_id, @in_reply_to, 0, @now, @last_error, @lane)`,
    ),
    threadGet: db.prepare('SELECT root_message_id FROM threads WHERE key = ?'),
    threadPut: db.prepare('INSERT INTO threads (key, root_message_id, created_at) VALUES (?, ?, ?)'),
    threadDel: db.prepare('DELETE FROM threads WHERE key = ?'),
    groupPut: db.prepare(
      `INSERT INTO groups (group_key, since_ms, content, updated_at, escalated_at) VALUES (?, ?, ?, ?, NULL)
       ON CONFLICT (group_key) DO UPDATE SET since_ms = excluded.since_ms, content = excluded.content,
         updated_at = excluded.updated_at`,
    ),
    groupDel: db.prepare('DELETE FROM groups WHERE group_key = ?'),
    groupEscalated: db.prepare('UPDATE groups SET escalated_at = ? WHERE group_key = ?'),
    groupsDue: db.prepare(
      'SELECT group_key, since_ms, content FROM groups WHERE escalated_at IS NULL AND since_ms <= ? LIMIT 1000',
    ),
    due: db.prepare(
      `SELECT * FROM jobs WHERE status = 'pending' AND channel = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, id LIMIT ?`,
    ),
    nextDue: db.prepare(
      `SELECT MIN(next_attempt_at) AS t FROM jobs WHERE status = 'pending' AND channel = ?`,
    ),
    sent: db.prepare(
      `UPDATE jobs SET status = 'sent', attempts = ?, sent_at = ?, updated_at = ?, last_error = NULL, digest = ?
       WHERE id = ?`,
    ),
    // A firing carried by a digest mail: its thread (and replies already recorded) continue from the digest.
    threadToDigest: db.prepare(
      `UPDATE threads SET root_message_id = @digest WHERE root_message_id = (SELECT message_id FROM jobs WHERE id = @id)`,
    ),
    repliesToDigest: db.prepare(
      `UPDATE jobs SET in_reply_to = @digest WHERE status = 'pending'
         AND in_reply_to = (SELECT message_id FROM jobs WHERE id = @id)`,
    ),
    backlog: db.prepare(
      `SELECT id, created_at, next_attempt_at, group_key, channel, recipients, slack_webhook, lane FROM jobs
       WHERE status = 'pending' AND channel = ? AND lane = ? ORDER BY id LIMIT ?`,
    ),
    backlogAll: db.prepare(
      `SELECT id, created_at, next_attempt_at, group_key, channel, recipients, slack_webhook, lane FROM jobs
       WHERE status = 'pending' AND channel = ? ORDER BY id LIMIT ?`,
    ),
    backlogStats: db.prepare(
      `SELECT channel, lane, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs WHERE status = 'pending'
       GROUP BY channel, lane`,
    ),
    retry: db.prepare(
      `UPDATE jobs SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending'`,
    ),
    dead: db.prepare(
      `UPDATE jobs SET status = 'dead', attempts = ?, last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending'`,
    ),
    redrive: db.prepare(
      `UPDATE jobs SET status = 'pending', attempts = 0, age_from = ?, next_attempt_at = ?, updated_at = ?
       WHERE id = ? AND status = 'dead'`,
    ),
    get: db.prepare('SELECT * FROM jobs WHERE id = ?'),
    counts: db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status'),
    silences: db.prepare('SELECT * FROM silences ORDER BY starts_at'),
    silenceAdd: db.prepare(
      'INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    silenceDel: db.prepare('DELETE FROM silences WHERE id = ?'),
    silenceEnd: db.prepare('UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?'),
    acksAll: db.prepare('SELECT * FROM acks ORDER BY at DESC LIMIT ?'),
    acksActive: db.prepare('SELECT * FROM acks WHERE ended_at IS NULL ORDER BY at DESC LIMIT ?'),
    ackActive: db.prepare('SELECT * FROM acks WHERE group_key = ? AND ended_at IS NULL'),
    ackEnd: db.prepare('UPDATE acks SET ended_at = ?, ended_by = ? WHERE group_key = ? AND ended_at IS NULL'),
    ackAdd: db.prepare(
      `INSERT INTO acks (${ACK_COLUMNS}) VALUES (${ACK_COLUMNS.split(',')
        .map(() => '?')
        .join(', ')})`,
    ),
    pruneAcks: db.prepare('DELETE FROM acks WHERE at < ?'),
    pruneJobs: db.prepare(`DELETE FROM jobs WHERE status IN ('sent', 'muted') AND updated_at < ?`),
    pruneDedup: db.prepare('DELETE FROM dedup WHERE created_at < ?'),
    pruneThreads: db.prepare('DELETE FROM threads WHERE created_at < ?'),
    pruneGroups: db.prepare('DELETE FROM groups WHERE updated_at < ?'),
    pruneSilences: db.prepare('DELETE FROM silences WHERE ends_at < ?'),
    heartbeats: db.prepare('SELECT * FROM heartbeats ORDER BY name'),
    heartbeat: db.prepare('SELECT * FROM heartbeats WHERE name = ?'),
    ...incidentStatements(db),
    ...secretStatements(db),
  };
}

/** Group events and states (the Now page and incident timelines). */
function incidentStatements(db: Database.Database) {
  const marks = (columns: string) =>
    columns
      .split(',')
      .map(() => '?')
      .join(', ');
  return {
    eventAdd: db.prepare(
      `INSERT INTO group_events (${GROUP_EVENT_COLUMNS}) VALUES (${marks(GROUP_EVENT_COLUMNS)})`,
    ),
    event: db.prepare('SELECT * FROM group_events WHERE id = ?'),
    events: db.prepare('SELECT * FROM group_events WHERE group_hash = ? AND id >= ? ORDER BY id LIMIT ?'),
    stateGet: db.prepare('SELECT * FROM group_state WHERE group_hash = ?'),
    statePut: db.prepare(
      `INSERT INTO group_state (${GROUP_STATE_COLUMNS}) VALUES (${marks(GROUP_STATE_COLUMNS)})
       ON CONFLICT (group_hash) DO UPDATE SET ${GROUP_STATE_COLUMNS.split(', ')
         .slice(1)
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}`,
    ),
    states: db.prepare(GROUP_STATES_QUERY((table) => table, '?', '?')),
    jobsByIds: db.prepare('SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id'),
    groupAcks: db.prepare('SELECT * FROM acks WHERE group_key = ? ORDER BY at LIMIT ?'),
    escalationStatuses: db.prepare('SELECT group_key, since_ms, escalated_at FROM groups'),
    pruneEvents: db.prepare('DELETE FROM group_events WHERE at < ?'),
    pruneStates: db.prepare('DELETE FROM group_state WHERE last_at < ?'),
  };
}

function secretStatements(db: Database.Database) {
  const live = '(expires_at IS NULL OR expires_at > ?)';
  return {
    secretGet: db.prepare(`SELECT value FROM secrets WHERE name = ? AND ${live}`),
    secretInit: db.prepare(
      'INSERT INTO secrets (name, value, created_at, expires_at) VALUES (?, ?, ?, NULL) ON CONFLICT (name) DO NOTHING',
    ),
    secretSet: db.prepare(
      `INSERT INTO secrets (name, value, created_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value, created_at = excluded.created_at,
         expires_at = excluded.expires_at`,
    ),
    secretTake: db.prepare(`DELETE FROM secrets WHERE name = ? AND ${live}`),
    secretsDelete: db.prepare('DELETE FROM secrets WHERE substr(name, 1, length(?)) = ?'),
    pruneSecrets: db.prepare('DELETE FROM secrets WHERE expires_at <= ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** SQLite (WAL, synchronous=FULL) under the data dir: an accepted webhook survives kill -9 and power loss. */
export class SqliteStore implements AlertStore {
  readonly db: Database.Database;
  private readonly st: Statements;
  private readonly recordTx: (batch: readonly IngestRecord[], now: number, window: number) => RecordOutcome[];
  private readonly completeTx: (outcomes: readonly AttemptOutcome[], now: number) => void;
  private readonly escalateTx: (
    groupKey: string,
    jobs: readonly JobSpec[],
    now: number,
    window: number,
  ) => RecordOutcome;
  private readonly putAckTx: (a: Acknowledgement) => void;
  private readonly endAckTx: (groupKey: string, by: string, now: number) => Acknowledgement | undefined;
  private readonly saveHeartbeatTx: (
    next: HeartbeatState,
    record: IngestRecord | undefined,
    now: number,
    window: number,
  ) => boolean;
  private readonly oncall: SqliteOncallTables;
  private readonly stepTx: (
    ep: EpisodeRef,
    next: number,
    jobs: readonly JobSpec[],
    now: number,
    window: number,
  ) => RecordOutcome | undefined;
  /** Prepared list statements, one per combination of filter fields. */
  private readonly listStatements = new Map<string, Database.Statement>();
  /** The two heartbeat writes (first insert, later update), prepared once. */
  private readonly heartbeatWrites = new Map<string, Database.Statement>();

  constructor(dataDir: string, file = 'receiver.sqlite') {
    // Notifications quote alert contents: readable by stackwatch's user only. SQLite gives its
    // -wal and -shm files the database file's mode.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      closeSync(openSync(join(dataDir, file), 'a', 0o600));
    } catch {
      // An unwritable directory: SQLite's own error below says so.
    }
    this.db = new Database(join(dataDir, file));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const columns = new Set((this.db.pragma('table_info(jobs)') as { name: string }[]).map((c) => c.name));
    // Outboxes written before lanes and digests get the two columns.
    if (!columns.has('lane')) this.db.exec(`ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT ''`);
    if (!columns.has('digest')) this.db.exec('ALTER TABLE jobs ADD COLUMN digest TEXT');
    // Outboxes written before Slack jobs had their webhook in a column of their own: a job's
    // ["slack:<receiver>"] recipients become that receiver in slack_webhook, and ["slack"].
    if (!columns.has('slack_webhook'))
      this.db.transaction(() => {
        this.db.exec('ALTER TABLE jobs ADD COLUMN slack_webhook TEXT');
        this.db.exec(
          `UPDATE jobs SET slack_webhook = substr(json_extract(recipients, '$[0]'), 7), recipients = '["slack"]'
           WHERE channel = 'slack' AND json_array_length(recipients) = 1
             AND substr(json_extract(recipients, '$[0]'), 1, 6) = 'slack:'`,
        );
      })();
    this.db.exec('CREATE INDEX IF NOT EXISTS jobs_lane ON jobs (status, channel, lane, id)');
    this.db.exec('CREATE INDEX IF NOT EXISTS jobs_digest ON jobs (digest)');
    this.db.exec(heartbeatsTableSql('heartbeats'));
    this.st = prepareStatements(this.db);
    this.oncall = new SqliteOncallTables(this.db);
    this.recordTx = this.db.transaction((batch: readonly IngestRecord[], now: number, window: number) =>
      batch.map((rec) => this.recordOne(rec, now, window)),
    );
    this.completeTx = this.db.transaction((outcomes: readonly AttemptOutcome[], now: number) => {
      for (const o of outcomes) {
        if (o.kind === 'sent') {
          this.st.sent.run(o.attempts, now, now, o.digest?.id ?? null, o.id);
          if (o.digest?.messageId) {
            this.st.threadToDigest.run({ digest: o.digest.messageId, id: o.id });
            this.st.repliesToDigest.run({ digest: o.digest.messageId, id: o.id });
          }
        } else if (o.kind === 'retry') this.st.retry.run(o.attempts, o.nextAttemptAt, o.error, now, o.id);
        else this.st.dead.run(o.attempts, o.error, now, o.id);
      }
    });
    this.escalateTx = this.db.transaction(
      (groupKey: string, jobs: readonly JobSpec[], now: number, window: number) => {
        const ids: number[] = [];
        const out = this.insertJobs(jobs, now, window, ids);
        this.st.groupEscalated.run(now, groupKey);
        const e = out.recorded ? escalationEventOf(jobs, now) : undefined;
        if (e) this.recordEvent(e, now, ids);
        return out;
      },
    );
    this.stepTx = this.db.transaction(
      (ep: EpisodeRef, next: number, jobs: readonly JobSpec[], now: number, window: number) => {
        if (!this.oncall.advance(ep, next)) return undefined;
        const ids: number[] = [];
        const out = this.insertJobs(jobs, now, window, ids);
        const e = out.recorded ? escalationEventOf(jobs, now) : undefined;
        if (e) this.recordEvent(e, now, ids);
        return out;
      },
    );
    this.putAckTx = this.db.transaction((a: Acknowledgement) => {
      this.st.ackEnd.run(a.at, a.by, a.groupKey);
      this.st.ackAdd.run(...ackValues(a));
    });
    this.saveHeartbeatTx = this.db.transaction(
      (next: HeartbeatState, record: IngestRecord | undefined, now: number, window: number) => {
        const w = heartbeatWrite('heartbeats', next, now, () => '?');
        let st = this.heartbeatWrites.get(w.sql);
        if (!st) this.heartbeatWrites.set(w.sql, (st = this.db.prepare(w.sql)));
        if (st.run(...w.values).changes === 0) return false;
        if (record) this.recordOne(record, now, window);
        return true;
      },
    );
    this.endAckTx = this.db.transaction((groupKey: string, by: string, now: number) => {
      const row = this.st.ackActive.get(groupKey) as AckRow | undefined;
      if (!row) return undefined;
      this.st.ackEnd.run(now, by, groupKey);
      return toAck({ ...row, ended_at: now, ended_by: by });
    });
  }

  /** One webhook's jobs, its group's escalation state and its group event (inside a transaction). */
  private recordOne(rec: IngestRecord, now: number, window: number): RecordOutcome {
    const ids: number[] = [];
    const out = this.insertJobs(rec.jobs, now, window, ids);
    const g = groupUpdateOf(rec, out);
    if (g && endsGroup(g)) this.st.groupDel.run(g.groupKey);
    else if (g) this.st.groupPut.run(g.groupKey, g.criticalSinceMs, JSON.stringify(g.content), now);
    const u = escalationUpdateOf(rec, out);
    if (u) this.oncall.apply(u, Date.now());
    const e = eventOf(rec, out);
    if (e) this.recordEvent(e, now, ids);
    return out;
  }

  /** A group event, and (a webhook's) the group's state after it. */
  private recordEvent(e: GroupEventSpec, now: number, jobIds: readonly number[]): void {
    const id = Number(this.st.eventAdd.run(...groupEventValues(e, now, jobIds)).lastInsertRowid);
    if (e.kind !== 'webhook') return;
    const prev = this.st.stateGet.get(groupHash(e.groupKey)) as GroupStateRow | undefined;
    this.st.statePut.run(...groupStateValues(nextGroupState(prev, { id, at: now, spec: e })));
  }

  private insertJobs(jobs: readonly JobSpec[], now: number, window: number, ids: number[]): RecordOutcome {
    const out: RecordOutcome = { recorded: 0, duplicates: 0, muted: 0 };
    for (const j of jobs) {
      if (this.st.dedup.run(j.dedupKey, now, now - window).changes === 0) {
        out.duplicates++;
        continue;
      }
      let inReplyTo: string | null = null;
      if (isThreaded(j)) {
        const root = (this.st.threadGet.get(j.threadKey) as { root_message_id: string } | undefined)
          ?.root_message_id;
        const step = threadStep(j, root);
        inReplyTo = step.inReplyTo;
        if (step.root !== root) {
          if (root) this.st.threadDel.run(j.threadKey);
          if (step.root) this.st.threadPut.run(j.threadKey, step.root, now);
        }
      }
      ids.push(
        Number(this.st.insertJob.run({ now, ...jobValues(j), in_reply_to: inReplyTo }).lastInsertRowid),
      );
      out.recorded++;
      if (j.status === 'muted') out.muted++;
    }
    return out;
  }

  async record(batch: readonly IngestRecord[], now: number, dedupWindowMs: number): Promise<RecordOutcome[]> {
    return this.recordTx(storable(batch), now, dedupWindowMs);
  }

  async due(channel: ChannelName, now: number, limit: number, exclude: ReadonlySet<number>): Promise<Job[]> {
    const rows = this.st.due.all(channel, now, limit + exclude.size) as JobRow[];
    const out: Job[] = [];
    for (const r of rows) {
      if (exclude.has(r.id)) continue;
      out.push(toJob(r));
      if (out.length >= limit) break;
    }
    return out;
  }

  async backlog(
    channel: ChannelName,
    lanes: readonly string[],
    _now: number,
    limit: number,
  ): Promise<BacklogEntry[]> {
    const out: BacklogEntry[] = [];
    const seen = new Set<number>();
    // Lane by lane, so a critical recorded behind thousands of others is still read. A lane
    // a reload removed is read last, with the rest.
    for (const lane of lanes) {
      if (out.length >= limit) break;
      for (const r of this.st.backlog.all(channel, lane, limit - out.length) as BacklogRow[]) {
        seen.add(r.id);
        out.push(toBacklogEntry(r));
      }
    }
    if (out.length < limit)
      for (const r of this.st.backlogAll.all(channel, limit) as BacklogRow[]) {
        if (out.length >= limit) break;
        if (!seen.has(r.id)) out.push(toBacklogEntry(r));
      }
    return out;
  }

  async claim(ids: readonly number[]): Promise<Job[]> {
    const out: Job[] = [];
    for (const id of ids) {
      const r = this.st.get.get(id) as JobRow | undefined;
      if (r && r.status === 'pending') out.push(toJob(r));
    }
    return out;
  }

  async backlogStats(): Promise<BacklogStat[]> {
    return (
      this.st.backlogStats.all() as { channel: ChannelName; lane: string; n: number; oldest: number }[]
    ).map((r) => ({ channel: r.channel, lane: r.lane, pending: r.n, oldestCreatedAt: r.oldest }));
  }

  async nextDue(): Promise<number | undefined> {
    let min: number | undefined;
    for (const channel of CHANNELS) {
      const t = (this.st.nextDue.get(channel) as { t: number | null }).t;
      if (t !== null && (min === undefined || t < min)) min = t;
    }
    return min;
  }

  /**
   * Delivery results commit without their own fsync (synchronous=NORMAL, per transaction): in
   * WAL mode the commit still survives kill -9, and the next webhook's FULL commit makes it
   * durable on disk too. Only a power loss in between can forget that a message was sent,
   * which re-sends it (at least once, as Alertmanager itself delivers). Accepted webhooks keep
   * an fsync before their 2xx. One fsync per result cost more than ingest itself.
   */
  async complete(outcomes: readonly AttemptOutcome[], now: number): Promise<void> {
    this.db.pragma('synchronous = NORMAL');
    try {
      this.completeTx(storable(outcomes), now);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  async redrive(id: number, now: number): Promise<Job | undefined> {
    const changed = this.st.redrive.run(now, now, now, id).changes;
    if (changed === 0) return undefined;
    return this.get(id);
  }

  async get(id: number): Promise<Job | undefined> {
    const r = this.st.get.get(id) as JobRow | undefined;
    return r && toJob(r);
  }

  async list(opts: JobFilter & { limit: number }): Promise<Job[]> {
    const { where, values, signature } = jobFilterWhere(opts, () => '?');
    let st = this.listStatements.get(signature);
    if (!st)
      this.listStatements.set(
        signature,
        (st = this.db.prepare(`SELECT * FROM jobs ${where} ORDER BY id DESC LIMIT ?`)),
      );
    return (st.all(...values, opts.limit) as JobRow[]).map((r) => toJob(r));
  }

  async counts(): Promise<StoreCounts> {
    const out: StoreCounts = { pending: 0, dead: 0, sent: 0, muted: 0 };
    for (const r of this.st.counts.all() as { status: keyof StoreCounts; n: number }[]) out[r.status] = r.n;
    return out;
  }

  async escalationCandidates(now: number, afterMs: number): Promise<EscalationCandidate[]> {
    return (
      this.st.groupsDue.all(now - afterMs) as { group_key: string; since_ms: number; content: string }[]
    ).map((r) => ({
      groupKey: r.group_key,
      criticalSinceMs: r.since_ms,
      content: JSON.parse(r.content) as NotificationContent,
    }));
  }

  async recordEscalation(
    groupKey: string,
    jobs: readonly JobSpec[],
    now: number,
    dedupWindowMs: number,
  ): Promise<RecordOutcome> {
    return this.escalateTx(storableText(groupKey), storable(jobs), now, dedupWindowMs);
  }

  async listSilences(): Promise<Silence[]> {
    return (this.st.silences.all() as SilenceRow[]).map(toSilence);
  }

  async addSilence(silence: Silence): Promise<void> {
    this.st.silenceAdd.run(...silenceValues(storable(silence)));
  }

  async deleteSilence(id: string): Promise<boolean> {
    return this.st.silenceDel.run(id).changes > 0;
  }

  async endSilence(id: string, now: number): Promise<boolean> {
    return this.st.silenceEnd.run(now, id, now).changes > 0;
  }

  async listAcks(opts: { active?: boolean; limit: number }): Promise<Acknowledgement[]> {
    const st = opts.active ? this.st.acksActive : this.st.acksAll;
    return (st.all(opts.limit) as AckRow[]).map(toAck);
  }

  async putAck(a: Acknowledgement): Promise<void> {
    this.putAckTx(storable(a));
  }

  async endAck(groupKey: string, by: string, now: number): Promise<Acknowledgement | undefined> {
    return this.endAckTx(storableText(groupKey), storableText(by), now);
  }

  async listHeartbeats(): Promise<HeartbeatState[]> {
    return (this.st.heartbeats.all() as HeartbeatRow[]).map(toHeartbeat);
  }

  async getHeartbeat(name: string): Promise<HeartbeatState | undefined> {
    const r = this.st.heartbeat.get(name) as HeartbeatRow | undefined;
    return r && toHeartbeat(r);
  }

  async saveHeartbeat(
    next: HeartbeatState,
    record: IngestRecord | undefined,
    now: number,
    dedupWindowMs: number,
  ): Promise<boolean> {
    return this.saveHeartbeatTx(storable(next), record && storable(record), now, dedupWindowMs);
  }

  async prune(now: number, retentionMs: number, dedupWindowMs: number): Promise<void> {
    const before = pruneHorizons(now, retentionMs, dedupWindowMs);
    this.st.pruneJobs.run(before.jobs);
    this.st.pruneDedup.run(before.dedup);
    this.st.pruneThreads.run(before.threads);
    this.st.pruneGroups.run(before.groups);
    this.st.pruneSilences.run(before.silences);
    this.st.pruneAcks.run(before.acks);
    this.oncall.prune(before);
    this.st.pruneEvents.run(before.groupEvents);
    this.st.pruneStates.run(before.groupStates);
    this.st.pruneSecrets.run(now);
  }

  async listOverrides(): Promise<ScheduleOverride[]> {
    return this.oncall.listOverrides();
  }

  async addOverride(o: ScheduleOverride): Promise<void> {
    this.oncall.addOverride(storable(o));
  }

  async deleteOverride(schedule: string, id: string): Promise<boolean> {
    return this.oncall.deleteOverride(schedule, id);
  }

  /** One replica: the local clock. */
  async clock(): Promise<number> {
    return Date.now();
  }

  async episodes(limit: number): Promise<EscalationEpisode[]> {
    return this.oncall.episodes(limit);
  }

  async recordStep(
    ep: EpisodeRef,
    nextIndex: number,
    jobs: readonly JobSpec[],
    now: number,
    dedupWindowMs: number,
  ): Promise<RecordOutcome | undefined> {
    return this.stepTx(ep, nextIndex, storable(jobs), now, dedupWindowMs);
  }

  async groupStates(opts: { resolvedSince: number; limit: number }): Promise<GroupState[]> {
    return (this.st.states.all(opts.resolvedSince, opts.limit) as (GroupStateRow & { detail: string })[]).map(
      toGroupState,
    );
  }

  async groupEvent(id: number): Promise<GroupEvent | undefined> {
    const r = this.st.event.get(id) as GroupEventRow | undefined;
    return r && toGroupEvent(r);
  }

  async groupEvents(groupKey: string, fromId: number, limit: number): Promise<GroupEvent[]> {
    return (this.st.events.all(groupHash(groupKey), fromId, limit) as GroupEventRow[]).map(toGroupEvent);
  }

  async jobsByIds(ids: readonly number[]): Promise<Job[]> {
    if (!ids.length) return [];
    return (this.st.jobsByIds.all(JSON.stringify(ids)) as JobRow[]).map(toJob);
  }

  async groupAcks(groupKey: string, limit: number): Promise<Acknowledgement[]> {
    return (this.st.groupAcks.all(groupKey, limit) as AckRow[]).map(toAck);
  }

  async escalationStatuses(): Promise<EscalationStatus[]> {
    return (
      this.st.escalationStatuses.all() as {
        group_key: string;
        since_ms: number;
        escalated_at: number | null;
      }[]
    ).map((r) => ({ groupKey: r.group_key, criticalSinceMs: r.since_ms, escalatedAt: r.escalated_at }));
  }

  async secret(name: string, now: number): Promise<string | undefined> {
    return (this.st.secretGet.get(name, now) as { value: string } | undefined)?.value;
  }

  async initSecret(name: string, value: string, now: number): Promise<string> {
    this.st.secretInit.run(name, value, now);
    return (this.st.secretGet.get(name, now) as { value: string }).value;
  }

  async setSecret(name: string, value: string, now: number, expiresAt?: number): Promise<void> {
    this.st.secretSet.run(name, value, now, expiresAt ?? null);
  }

  async takeSecret(name: string, now: number): Promise<boolean> {
    return this.st.secretTake.run(name, now).changes > 0;
  }

  async deleteSecrets(prefix: string): Promise<void> {
    this.st.secretsDelete.run(prefix, prefix);
  }

  replicas(): number {
    return 1;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
