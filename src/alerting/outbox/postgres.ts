// The outbox in PostgreSQL, shared by several receiver replicas behind an Alertmanager
// cluster. Dedup is the dedup table's primary key (a second replica's copy of a webhook
// conflicts and records nothing); a replica claims the jobs it delivers with
// FOR UPDATE SKIP LOCKED and a lease (claim_timeout, far longer than a channel's timeout), so
// replicas split the work instead of repeating it, and a replica that dies mid-delivery leaves
// its jobs to the others once the lease ends. A delivery cut off by that death may have
// reached its reader: at least once, as Alertmanager itself delivers.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { ChannelName } from '../../config/receiver.js';
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
  groupBatchUpdates,
  groupHash,
  groupUpdateOf,
  type GroupBatchUpdate,
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
import { DB_NOW_MS, oncallSchemaSql, oncallTablesPresent, PgOncallTables } from './postgres-oncall.js';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type {
  AlertStore,
  AttemptOutcome,
  EpisodeRef,
  EscalationEpisode,
  BacklogEntry,
  BacklogStat,
  EscalationCandidate,
  EscalationStatus,
  GroupState,
  JobFilter,
  StoreCounts,
} from './contract.js';
import type { GroupEvent, GroupEventSpec } from '../model/group-event.js';
import type {
  IngestRecord,
  Job,
  JobSpec,
  NotificationContent,
  RecordOutcome,
} from '../model/notification.js';
import { storable, storableText } from './storable.js';

const INT8_OID = 20;

export interface PgStoreOptions {
  dsn: string;
  /** Schema holding the tables; created when missing. */
  schema: string;
  /** How long a claimed job belongs to its replica before another may deliver it. */
  claimTimeoutMs: number;
  connectTimeoutMs?: number;
}

function schemaSql(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.jobs (
  id BIGSERIAL PRIMARY KEY,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  age_from BIGINT NOT NULL,
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
  next_attempt_at BIGINT NOT NULL,
  last_error TEXT,
  sent_at BIGINT,
  claimed_by TEXT,
  claimed_until BIGINT,
  lane TEXT NOT NULL DEFAULT '',
  digest TEXT
);
CREATE INDEX IF NOT EXISTS jobs_due ON ${s}.jobs (status, channel, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_updated ON ${s}.jobs (status, updated_at);
CREATE TABLE IF NOT EXISTS ${s}.dedup (key TEXT PRIMARY KEY, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS dedup_created ON ${s}.dedup (created_at);
CREATE TABLE IF NOT EXISTS ${s}.threads (
  key TEXT PRIMARY KEY, root_message_id TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.groups (
  group_key TEXT PRIMARY KEY, since_ms BIGINT NOT NULL, content TEXT NOT NULL,
  updated_at BIGINT NOT NULL, escalated_at BIGINT);
CREATE TABLE IF NOT EXISTS ${s}.silences (
  id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL,
  comment TEXT NOT NULL, created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.acks (
  id TEXT PRIMARY KEY, group_key TEXT NOT NULL, alertname TEXT NOT NULL, group_labels TEXT NOT NULL,
  by TEXT NOT NULL, via TEXT NOT NULL, at BIGINT NOT NULL, comment TEXT NOT NULL, silence_id TEXT,
  silence_ends_at BIGINT, ended_at BIGINT, ended_by TEXT);
CREATE INDEX IF NOT EXISTS acks_group ON ${s}.acks (group_key, ended_at);
CREATE TABLE IF NOT EXISTS ${s}.replicas (owner TEXT PRIMARY KEY, seen_at BIGINT NOT NULL);
${heartbeatsTableSql(`${s}.heartbeats`)};
${incidentSql(s)}
${laneSql(s)}
${slackWebhookSql(s)}`;
}

/** Group events and states (the Now page and incident timelines), and the service's own secrets. */
function incidentSql(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.group_events (
  id BIGSERIAL PRIMARY KEY, group_hash TEXT NOT NULL, group_key TEXT NOT NULL, at BIGINT NOT NULL,
  kind TEXT NOT NULL, status TEXT NOT NULL, firing INTEGER NOT NULL, resolved INTEGER NOT NULL,
  firing_set TEXT NOT NULL, since_ms BIGINT NOT NULL, detail TEXT NOT NULL, job_ids TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS group_events_group ON ${s}.group_events (group_hash, id);
CREATE INDEX IF NOT EXISTS group_events_at ON ${s}.group_events (at);
CREATE TABLE IF NOT EXISTS ${s}.group_state (
  group_hash TEXT PRIMARY KEY, group_key TEXT NOT NULL, incident BIGINT NOT NULL, status TEXT NOT NULL,
  since_ms BIGINT NOT NULL, last_event BIGINT NOT NULL, last_at BIGINT NOT NULL, resolved_at BIGINT,
  firing INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.secrets (
  name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT);`;
}

/** Outboxes made before lanes and digests get their two columns and indexes. */
function laneSql(s: string): string {
  return `
ALTER TABLE ${s}.jobs ADD COLUMN IF NOT EXISTS lane TEXT NOT NULL DEFAULT '';
ALTER TABLE ${s}.jobs ADD COLUMN IF NOT EXISTS digest TEXT;
CREATE INDEX IF NOT EXISTS jobs_lane ON ${s}.jobs (status, channel, lane, id);
CREATE INDEX IF NOT EXISTS jobs_digest ON ${s}.jobs (digest);`;
}

/**
 * Outboxes made before Slack jobs had their webhook in a column of their own: a job's
 * ["slack:<receiver>"] recipients become that receiver in slack_webhook, and ["slack"].
 */
function slackWebhookSql(s: string): string {
  return `
ALTER TABLE ${s}.jobs ADD COLUMN IF NOT EXISTS slack_webhook TEXT;
UPDATE ${s}.jobs SET slack_webhook = substr(recipients::jsonb ->> 0, 7), recipients = '["slack"]'
  WHERE channel = 'slack' AND slack_webhook IS NULL AND jsonb_array_length(recipients::jsonb) = 1
    AND left(recipients::jsonb ->> 0, 6) = 'slack:';`;
}

type Querier = Pick<pg.PoolClient, 'query'>;

// The longest gap between two counts of the replicas. While replicas pace with an old count, a
// replica that has just started makes them send more than the budget; this bounds that window
// without tying it to claim_timeout (5 minutes by default).
const HEARTBEAT_MAX_MS = 10_000;

export class PgStore implements AlertStore {
  /** This replica, in the claims it holds. */
  readonly owner = randomUUID();
  private readonly t: (table: string) => string;
  private readonly oncall: PgOncallTables;
  /**
   * Jobs this replica claimed and has not recorded a result for. Their lease is renewed while
   * the delivery runs, so a slow delivery (a first connection, a loaded host) is not taken over
   * and sent a second time by another replica; a dead replica stops renewing, and its jobs pass
   * to the others once claim_timeout ends.
   */
  private readonly held = new Set<number>();
  /**
   * Every third of claim_timeout, and at least every HEARTBEAT_MAX_MS: renews the leases held and
   * says this replica is alive (and learns of one that has just started within seconds).
   */
  private renewTimer?: NodeJS.Timeout;
  /** Replicas seen within claim_timeout at the last count, this one included. */
  private live = 1;
  private beat?: Promise<void>;
  /** The caller's clock against Date.now(), so renewals extend leases on the callers' time. */
  private clockOffsetMs = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PgStoreOptions,
  ) {
    this.t = (table) => `${opts.schema}.${table}`;
    this.oncall = new PgOncallTables(opts.schema);
  }

  /** Connects and creates the schema; throws (the webhook answers 503) when PostgreSQL cannot be reached. */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    if (!/^[a-z_][a-z0-9_]*$/.test(opts.schema)) throw new Error(`invalid schema name ${opts.schema}`);
    const pool = new pg.Pool({
      connectionString: opts.dsn,
      max: 4,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      application_name: 'stackwatch-receiver',
      // Timestamps are BIGINT milliseconds: numbers, not the strings pg returns for int8.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection that breaks is replaced at the next query; without a listener it would crash.
    pool.on('error', () => undefined);
    const store = new PgStore(pool, opts);
    try {
      // A schema made beforehand by a DBA needs no CREATE privilege: only a missing table is created.
      const present = await pool.query<{ ok: boolean }>(
        `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($4) IS NOT NULL
           AND to_regclass($5) IS NOT NULL AND to_regclass($6) IS NOT NULL AND to_regclass($7) IS NOT NULL
           AND to_regclass($8) IS NOT NULL AND to_regclass($9) IS NOT NULL
           AND EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = $3 AND table_name = 'jobs' AND column_name = 'slack_webhook') AS ok`,
        [
          `${opts.schema}.jobs`,
          `${opts.schema}.silences`,
          opts.schema,
          `${opts.schema}.acks`,
          `${opts.schema}.replicas`,
          `${opts.schema}.heartbeats`,
          `${opts.schema}.group_events`,
          `${opts.schema}.group_state`,
          `${opts.schema}.secrets`,
        ],
      );
      if (!present.rows[0]?.ok)
        await store.tx(async (c) => {
          // Replicas starting together would race on CREATE ... IF NOT EXISTS.
          await c.query("SELECT pg_advisory_xact_lock(hashtext('stackwatch-receiver-schema'))");
          await c.query(schemaSql(opts.schema));
        });
      if (!(await oncallTablesPresent(pool, opts.schema)))
        await store.tx(async (c) => {
          await c.query("SELECT pg_advisory_xact_lock(hashtext('stackwatch-receiver-schema'))");
          await c.query(oncallSchemaSql(opts.schema));
        });
      await store.heartbeat();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    store.renewTimer = setInterval(
      () => {
        void store.renewClaims();
        store.beat ??= store.heartbeat().finally(() => (store.beat = undefined));
      },
      Math.max(250, Math.min(HEARTBEAT_MAX_MS, Math.floor(opts.claimTimeoutMs / 3))),
    ).unref();
    return store;
  }

  replicas(): number {
    return this.live;
  }

  /**
   * Says this replica is alive and counts the replicas seen within claim_timeout (a replica
   * that died stops counting then). Unreachable PostgreSQL: the last count stands.
   */
  private async heartbeat(): Promise<void> {
    const r = await this.pool
      .query<{ n: number }>(
        `WITH clock AS (SELECT ${DB_NOW_MS} AS t),
           me AS (INSERT INTO ${this.t('replicas')} (owner, seen_at) SELECT $1, t FROM clock
                  ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at)
         SELECT 1 + COUNT(*)::int AS n FROM ${this.t('replicas')}, clock
         WHERE owner <> $1 AND seen_at > t - $2`,
        [this.owner, this.opts.claimTimeoutMs],
      )
      .catch(() => undefined);
    if (r?.rows[0]) this.live = r.rows[0].n;
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * Records the jobs of many webhooks in a handful of statements, whatever the batch size:
   * dedup keys, thread roots, jobs and groups each go in one round trip. The outcome is the
   * same as recording them one by one in order. Keys are locked in sorted order, so two
   * replicas recording overlapping batches cannot deadlock.
   */
  private async insertBatch(
    c: Querier,
    batch: readonly {
      jobs: readonly JobSpec[];
      group?: IngestRecord['group'];
      escalations?: IngestRecord['escalations'];
      event?: GroupEventSpec;
    }[],
    now: number,
    window: number,
  ): Promise<RecordOutcome[]> {
    const keys = [...new Set(batch.flatMap((r) => r.jobs.map((j) => j.dedupKey)))].sort();
    const fresh = new Set<string>();
    if (keys.length) {
      // A concurrent insert of the same key by another replica waits for it, then conflicts.
      const r = await c.query<{ key: string }>(
        `INSERT INTO ${this.t('dedup')} (key, created_at) SELECT k, $2 FROM unnest($1::text[]) AS k
         ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at
         WHERE ${this.t('dedup')}.created_at < $3 RETURNING key`,
        [keys, now, now - window],
      );
      for (const row of r.rows) fresh.add(row.key);
    }
    const outcomes: RecordOutcome[] = [];
    const recorded: JobSpec[] = [];
    for (const rec of batch) {
      const out: RecordOutcome = { recorded: 0, duplicates: 0, muted: 0 };
      for (const j of rec.jobs) {
        // A key is fresh once: a second copy in the same batch is a duplicate.
        if (!fresh.delete(j.dedupKey)) {
          out.duplicates++;
          continue;
        }
        recorded.push(j);
        out.recorded++;
        if (j.status === 'muted') out.muted++;
      }
      outcomes.push(out);
    }
    const inReplyTo = await this.threadBatch(c, recorded, now);
    const idOf = new Map<string, number>();
    if (recorded.length) {
      const rows = recorded.map(jobValues);
      const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((v) => v[k]);
      const inserted = await c.query<{ id: number; dedup_key: string }>(
        `INSERT INTO ${this.t('jobs')} (created_at, updated_at, age_from, dedup_key, kind, group_key, receiver,
           channel, recipients, slack_webhook, status, alert_status, content, message_id, in_reply_to, attempts,
           next_attempt_at, last_error, lane)
         SELECT $1, $1, $1, d, k, g, r, ch, rc, sw, st, ast, ct, mid, irt, 0, $1, le, ln
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
           WITH ORDINALITY AS u(d, k, g, r, ch, rc, sw, st, ast, ct, mid, irt, le, ln, n)
         ORDER BY n RETURNING id, dedup_key`,
        [
          now,
          col('dedup_key'),
          col('kind'),
          col('group_key'),
          col('receiver'),
          col('channel'),
          col('recipients'),
          col('slack_webhook'),
          col('status'),
          col('alert_status'),
          col('content'),
          col('message_id'),
          recorded.map((_j, i) => inReplyTo[i] ?? null),
          col('last_error'),
          col('lane'),
        ],
      );
      for (const row of inserted.rows) idOf.set(row.dedup_key, row.id);
    }
    await this.groupBatch(c, batch, outcomes, now);
    const escalations = batch.flatMap(
      (rec, i) => escalationUpdateOf(rec, outcomes[i] as RecordOutcome) ?? [],
    );
    if (escalations.length) await this.oncall.apply(c, escalations, now);
    // Each recorded webhook's event, with the notifications recorded for it (a fresh key names one).
    const events = batch.flatMap((rec, i) => {
      const spec = eventOf(rec, outcomes[i] as RecordOutcome);
      if (!spec) return [];
      const jobIds = rec.jobs.flatMap((j) => {
        const id = idOf.get(j.dedupKey);
        if (id !== undefined) idOf.delete(j.dedupKey);
        return id === undefined ? [] : [id];
      });
      return [{ spec, jobIds }];
    });
    await this.eventBatch(c, events, now);
    return outcomes;
  }

  /**
   * Group events and their groups' states in one statement: the events are inserted, and each
   * group's state is moved past its events of the batch by SQL that does what nextGroupState
   * does for each in turn (groupBatchUpdates folds them): the state's row is updated where the
   * group has one, inserted where it has none.
   */
  private async eventBatch(
    c: Querier,
    events: readonly { spec: GroupEventSpec; jobIds: readonly number[] }[],
    now: number,
  ): Promise<void> {
    if (!events.length) return;
    const rows = events.map((e) => groupEventValues(e.spec, now, e.jobIds));
    const col = (i: number) => rows.map((r) => r[i]);
    const groups = groupBatchUpdates(events.map((e, i) => ({ pos: i + 1, spec: e.spec })));
    const g = <K extends keyof GroupBatchUpdate>(k: K) => groups.map((u) => u[k]);
    const t = this.t;
    await c.query(
      `WITH ins AS (
         INSERT INTO ${t('group_events')} (${GROUP_EVENT_COLUMNS})
         SELECT gh, gk, $1, k, st, f, r, fs, s, d, j
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[],
           $9::bigint[], $10::text[], $11::text[]) WITH ORDINALITY AS u(gh, gk, k, st, f, r, fs, s, d, j, n)
         ORDER BY n RETURNING id),
       -- The ids are drawn in insertion order: the n-th smallest is the n-th event's.
       pos AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM ins),
       b AS (
         SELECT u.*, f.id AS first_id, r.id AS reopen_id, l.id AS last_id
         FROM unnest($12::text[], $13::text[], $14::int[], $15::text[], $16::int[], $17::int[], $18::text[],
           $19::int[], $20::bigint[], $21::bigint[], $22::bool[])
           AS u(hash, key, first_pos, first_status, reopen_pos, last_pos, status, firing, open_since,
             firing_since, any_firing)
         JOIN pos f ON f.n = u.first_pos JOIN pos l ON l.n = u.last_pos LEFT JOIN pos r ON r.n = u.reopen_pos),
       upd AS (
         UPDATE ${t('group_state')} s SET
           incident = CASE WHEN b.reopen_id IS NOT NULL THEN b.reopen_id
             WHEN s.status = 'resolved' AND b.first_status = 'firing' THEN b.first_id ELSE s.incident END,
           since_ms = CASE WHEN b.reopen_id IS NOT NULL OR (s.status = 'resolved' AND b.first_status = 'firing')
             THEN b.open_since ELSE LEAST(s.since_ms, COALESCE(b.firing_since, s.since_ms)) END,
           resolved_at = CASE WHEN b.status = 'firing' THEN NULL
             WHEN s.status = 'resolved' AND NOT b.any_firing THEN s.resolved_at ELSE $1 END,
           status = b.status, last_event = b.last_id, last_at = $1, firing = b.firing, group_key = b.key
         FROM b WHERE s.group_hash = b.hash RETURNING s.group_hash)
       -- A group new to the outbox. (Two replicas making the same one at once: the first one's stands.)
       INSERT INTO ${t('group_state')} (${GROUP_STATE_COLUMNS})
       SELECT b.hash, b.key, COALESCE(b.reopen_id, b.first_id), b.status, b.open_since, b.last_id, $1,
         CASE WHEN b.status = 'resolved' THEN $1 END, b.firing
       FROM b WHERE b.hash NOT IN (SELECT group_hash FROM upd)
       ON CONFLICT (group_hash) DO NOTHING`,
      [
        now,
        ...[0, 1, 3, 4, 5, 6, 7, 8, 9, 10].map(col),
        g('hash'),
        g('key'),
        g('firstPos'),
        g('firstStatus'),
        g('reopenPos'),
        g('lastPos'),
        g('status'),
        g('firing'),
        g('openSince'),
        g('firingSince'),
        g('anyFiring'),
      ],
    );
  }

  /** Email threading for the recorded jobs, in order: the In-Reply-To of each, and the roots kept. */
  private async threadBatch(c: Querier, jobs: readonly JobSpec[], now: number): Promise<(string | null)[]> {
    const threaded = jobs.filter(isThreaded);
    if (!threaded.length) return jobs.map(() => null);
    const threadKeys = [...new Set(threaded.map((j) => j.threadKey))].sort();
    const roots = new Map<string, string | undefined>();
    const r = await c.query<{ key: string; root_message_id: string }>(
      `SELECT key, root_message_id FROM ${this.t('threads')} WHERE key = ANY($1::text[]) FOR UPDATE`,
      [threadKeys],
    );
    for (const row of r.rows) roots.set(row.key, row.root_message_id);
    const before = new Map(roots);
    const out = jobs.map((j) => {
      if (!isThreaded(j)) return null;
      const step = threadStep(j, roots.get(j.threadKey));
      roots.set(j.threadKey, step.root);
      return step.inReplyTo;
    });
    const changed = threadKeys.filter((k) => roots.get(k) !== before.get(k));
    const gone = changed.filter((k) => before.get(k) !== undefined);
    if (gone.length) await c.query(`DELETE FROM ${this.t('threads')} WHERE key = ANY($1::text[])`, [gone]);
    const started = changed.filter((k) => roots.get(k) !== undefined);
    if (started.length)
      await c.query(
        `INSERT INTO ${this.t('threads')} (key, root_message_id, created_at)
         SELECT k, m, $3 FROM unnest($1::text[], $2::text[]) AS u(k, m) ON CONFLICT (key) DO NOTHING`,
        [started, started.map((k) => roots.get(k) as string), now],
      );
    return out;
  }

  /** Escalation bookkeeping of the batch: the last state of each group wins. */
  private async groupBatch(
    c: Querier,
    batch: readonly { jobs: readonly JobSpec[]; group?: IngestRecord['group'] }[],
    outcomes: readonly RecordOutcome[],
    now: number,
  ): Promise<void> {
    const last = new Map<string, NonNullable<IngestRecord['group']>>();
    batch.forEach((rec, i) => {
      const g = groupUpdateOf(rec, outcomes[i] as RecordOutcome);
      if (g) last.set(g.groupKey, g);
    });
    if (!last.size) return;
    const groups = [...last.values()].sort((x, y) => (x.groupKey < y.groupKey ? -1 : 1));
    const ended = groups.filter(endsGroup).map((g) => g.groupKey);
    const firing = groups.filter((g) => !endsGroup(g));
    if (ended.length)
      await c.query(`DELETE FROM ${this.t('groups')} WHERE group_key = ANY($1::text[])`, [ended]);
    if (firing.length)
      await c.query(
        `INSERT INTO ${this.t('groups')} (group_key, since_ms, content, updated_at, escalated_at)
         SELECT g, s, ct, $4, NULL FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(g, s, ct)
         ON CONFLICT (group_key) DO UPDATE SET since_ms = excluded.since_ms,
           content = excluded.content, updated_at = excluded.updated_at`,
        [
          firing.map((g) => g.groupKey),
          firing.map((g) => g.criticalSinceMs),
          firing.map((g) => JSON.stringify(g.content)),
          now,
        ],
      );
  }

  async record(batch: readonly IngestRecord[], now: number, dedupWindowMs: number): Promise<RecordOutcome[]> {
    return this.tx((c) => this.insertBatch(c, storable(batch), now, dedupWindowMs));
  }

  /** Claims up to `limit` due jobs of a channel for this replica (skipping those another holds). */
  async due(channel: ChannelName, now: number, limit: number, exclude: ReadonlySet<number>): Promise<Job[]> {
    const r = await this.pool.query<JobRow>(
      `UPDATE ${this.t('jobs')} j SET claimed_by = $4, claimed_until = $5
       FROM (SELECT id FROM ${this.t('jobs')}
             WHERE status = 'pending' AND channel = $1 AND next_attempt_at <= $2
               AND (claimed_until IS NULL OR claimed_until <= $2) AND NOT (id = ANY($6::bigint[]))
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) d
       WHERE j.id = d.id RETURNING j.*`,
      [channel, now, limit, this.owner, now + this.opts.claimTimeoutMs, [...exclude]],
    );
    this.hold(
      r.rows.map((row) => row.id),
      now,
    );
    return r.rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id).map(toJob);
  }

  async backlog(
    channel: ChannelName,
    lanes: readonly string[],
    now: number,
    limit: number,
  ): Promise<BacklogEntry[]> {
    // Lane by lane (a lane a reload removed comes last), leaving out what another replica holds.
    const r = await this.pool.query<BacklogRow>(
      `SELECT id, created_at, next_attempt_at, group_key, channel, recipients, slack_webhook, lane
       FROM ${this.t('jobs')}
       WHERE status = 'pending' AND channel = $1 AND (claimed_until IS NULL OR claimed_until <= $3
         OR claimed_by = $4)
       ORDER BY COALESCE(array_position($2::text[], lane), 2147483647), id LIMIT $5`,
      [channel, lanes, now, this.owner, limit],
    );
    return r.rows.map(toBacklogEntry);
  }

  async claim(ids: readonly number[], now: number): Promise<Job[]> {
    if (!ids.length) return [];
    const r = await this.pool.query<JobRow>(
      // SKIP LOCKED: a row another replica is recording is left to it, never waited for.
      `UPDATE ${this.t('jobs')} j SET claimed_by = $2, claimed_until = $3
       FROM (SELECT id FROM ${this.t('jobs')}
             WHERE id = ANY($1::bigint[]) AND status = 'pending'
               AND (claimed_until IS NULL OR claimed_until <= $4 OR claimed_by = $2)
             ORDER BY id FOR UPDATE SKIP LOCKED) d
       WHERE j.id = d.id RETURNING j.*`,
      [[...ids], this.owner, now + this.opts.claimTimeoutMs, now],
    );
    this.hold(
      r.rows.map((row) => row.id),
      now,
    );
    const byId = new Map(r.rows.map((row) => [row.id, row]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toJob(row)] : [];
    });
  }

  async backlogStats(): Promise<BacklogStat[]> {
    const r = await this.pool.query<{ channel: ChannelName; lane: string; n: number; oldest: number }>(
      `SELECT channel, lane, COUNT(*)::int AS n, MIN(created_at) AS oldest FROM ${this.t('jobs')}
       WHERE status = 'pending' GROUP BY channel, lane`,
    );
    return r.rows.map((row) => ({
      channel: row.channel,
      lane: row.lane,
      pending: row.n,
      oldestCreatedAt: row.oldest,
    }));
  }

  async nextDue(): Promise<number | undefined> {
    const r = await this.pool.query<{ t: number | null }>(
      `SELECT MIN(GREATEST(next_attempt_at, COALESCE(claimed_until, 0))) AS t FROM ${this.t('jobs')}
       WHERE status = 'pending'`,
    );
    return r.rows[0]?.t ?? undefined;
  }

  private hold(ids: readonly number[], now: number): void {
    if (!ids.length) return;
    for (const id of ids) this.held.add(id);
    this.clockOffsetMs = now - Date.now();
  }

  private async renewClaims(): Promise<void> {
    if (!this.held.size) return;
    try {
      await this.pool.query(
        `UPDATE ${this.t('jobs')} SET claimed_until = $3
         WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND status = 'pending'`,
        [[...this.held], this.owner, Date.now() + this.clockOffsetMs + this.opts.claimTimeoutMs],
      );
    } catch {
      // PostgreSQL unreachable: the lease lapses as if this replica had died (at least once).
    }
  }

  async complete(outcomes: readonly AttemptOutcome[], now: number): Promise<void> {
    for (const o of outcomes) this.held.delete(o.id);
    await this.tx(async (c) => {
      for (const o of storable(outcomes)) {
        if (o.kind === 'sent') {
          await c.query(
            `UPDATE ${this.t('jobs')} SET status = 'sent', attempts = $1, sent_at = $2, updated_at = $2,
               last_error = NULL, claimed_by = NULL, claimed_until = NULL, digest = $4 WHERE id = $3`,
            [o.attempts, now, o.id, o.digest?.id ?? null],
          );
          if (o.digest?.messageId) {
            // A firing carried by a digest mail: its thread (and replies already recorded) continue from the digest.
            const mid = `(SELECT message_id FROM ${this.t('jobs')} WHERE id = $2)`;
            await c.query(
              `UPDATE ${this.t('threads')} SET root_message_id = $1 WHERE root_message_id = ${mid}`,
              [o.digest.messageId, o.id],
            );
            await c.query(
              `UPDATE ${this.t('jobs')} SET in_reply_to = $1 WHERE status = 'pending' AND in_reply_to = ${mid}`,
              [o.digest.messageId, o.id],
            );
          }
        } else if (o.kind === 'retry')
          // Only while this replica still holds the claim: after the lease, the job is another's.
          await c.query(
            `UPDATE ${this.t('jobs')} SET attempts = $1, next_attempt_at = $2, last_error = $3, updated_at = $4,
               claimed_by = NULL, claimed_until = NULL
             WHERE id = $5 AND status = 'pending' AND (claimed_by = $6 OR claimed_by IS NULL)`,
            [o.attempts, o.nextAttemptAt, o.error, now, o.id, this.owner],
          );
        else
          await c.query(
            `UPDATE ${this.t('jobs')} SET status = 'dead', attempts = $1, last_error = $2, updated_at = $3,
               claimed_by = NULL, claimed_until = NULL
             WHERE id = $4 AND status = 'pending' AND (claimed_by = $5 OR claimed_by IS NULL)`,
            [o.attempts, o.error, now, o.id, this.owner],
          );
      }
    });
  }

  async redrive(id: number, now: number): Promise<Job | undefined> {
    const r = await this.pool.query<JobRow>(
      `UPDATE ${this.t('jobs')} SET status = 'pending', attempts = 0, age_from = $1, next_attempt_at = $1,
         updated_at = $1, claimed_by = NULL, claimed_until = NULL
       WHERE id = $2 AND status = 'dead' RETURNING *`,
      [now, id],
    );
    return r.rows[0] && toJob(r.rows[0]);
  }

  async get(id: number): Promise<Job | undefined> {
    const r = await this.pool.query<JobRow>(`SELECT * FROM ${this.t('jobs')} WHERE id = $1`, [id]);
    return r.rows[0] && toJob(r.rows[0]);
  }

  async list(opts: JobFilter & { limit: number }): Promise<Job[]> {
    const { where, values } = jobFilterWhere(opts, (i) => `$${i}`);
    const r = await this.pool.query<JobRow>(
      `SELECT * FROM ${this.t('jobs')} ${where} ORDER BY id DESC LIMIT $${values.length + 1}`,
      [...values, opts.limit],
    );
    return r.rows.map(toJob);
  }

  async counts(): Promise<StoreCounts> {
    const out: StoreCounts = { pending: 0, dead: 0, sent: 0, muted: 0 };
    const r = await this.pool.query<{ status: keyof StoreCounts; n: number }>(
      `SELECT status, COUNT(*)::int AS n FROM ${this.t('jobs')} GROUP BY status`,
    );
    for (const row of r.rows) out[row.status] = row.n;
    return out;
  }

  async escalationCandidates(now: number, afterMs: number): Promise<EscalationCandidate[]> {
    const r = await this.pool.query<{ group_key: string; since_ms: number; content: string }>(
      `SELECT group_key, since_ms, content FROM ${this.t('groups')}
       WHERE escalated_at IS NULL AND since_ms <= $1 LIMIT 1000`,
      [now - afterMs],
    );
    return r.rows.map((row) => ({
      groupKey: row.group_key,
      criticalSinceMs: row.since_ms,
      content: JSON.parse(row.content) as NotificationContent,
    }));
  }

  async recordEscalation(
    groupKey: string,
    jobs: readonly JobSpec[],
    now: number,
    dedupWindowMs: number,
  ): Promise<RecordOutcome> {
    // Two replicas may both find the group due: the escalation's dedup key lets one record it.
    return this.tx(async (c) => {
      const stored = storable(jobs);
      const [out] = await this.insertBatch(
        c,
        [{ jobs: stored, event: escalationEventOf(stored, now) }],
        now,
        dedupWindowMs,
      );
      await c.query(`UPDATE ${this.t('groups')} SET escalated_at = $1 WHERE group_key = $2`, [
        now,
        storableText(groupKey),
      ]);
      return out as RecordOutcome;
    });
  }

  async listSilences(): Promise<Silence[]> {
    const r = await this.pool.query<SilenceRow>(`SELECT * FROM ${this.t('silences')} ORDER BY starts_at`);
    return r.rows.map(toSilence);
  }

  async addSilence(silence: Silence): Promise<void> {
    const s = storable(silence);
    await this.pool.query(
      `INSERT INTO ${this.t('silences')} (id, matchers, starts_at, ends_at, comment, created_by)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      silenceValues(s),
    );
  }

  async deleteSilence(id: string): Promise<boolean> {
    return (
      ((await this.pool.query(`DELETE FROM ${this.t('silences')} WHERE id = $1`, [id])).rowCount ?? 0) > 0
    );
  }

  async endSilence(id: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.t('silences')} SET ends_at = $1 WHERE id = $2 AND ends_at > $1`,
      [now, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async listAcks(opts: { active?: boolean; limit: number }): Promise<Acknowledgement[]> {
    const r = await this.pool.query<AckRow>(
      `SELECT * FROM ${this.t('acks')} ${opts.active ? 'WHERE ended_at IS NULL' : ''} ORDER BY at DESC LIMIT $1`,
      [opts.limit],
    );
    return r.rows.map(toAck);
  }

  async putAck(ack: Acknowledgement): Promise<void> {
    const a = storable(ack);
    const values = ackValues(a);
    await this.tx(async (c) => {
      // Two people confirming at once: an advisory lock on the group orders them, the last one stands.
      await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`stackwatch-ack:${a.groupKey}`]);
      await c.query(
        `UPDATE ${this.t('acks')} SET ended_at = $1, ended_by = $2 WHERE group_key = $3 AND ended_at IS NULL`,
        [a.at, a.by, a.groupKey],
      );
      await c.query(
        `INSERT INTO ${this.t('acks')} (${ACK_COLUMNS}) VALUES (${values.map((_v, i) => `$${i + 1}`).join(', ')})`,
        values,
      );
    });
  }

  async endAck(groupKey: string, by: string, now: number): Promise<Acknowledgement | undefined> {
    const r = await this.pool.query<AckRow>(
      `UPDATE ${this.t('acks')} SET ended_at = $1, ended_by = $2 WHERE group_key = $3 AND ended_at IS NULL
       RETURNING *`,
      [now, storableText(by), storableText(groupKey)],
    );
    return r.rows[0] && toAck(r.rows[0]);
  }

  async listHeartbeats(): Promise<HeartbeatState[]> {
    const r = await this.pool.query<HeartbeatRow>(`SELECT * FROM ${this.t('heartbeats')} ORDER BY name`);
    return r.rows.map(toHeartbeat);
  }

  async getHeartbeat(name: string): Promise<HeartbeatState | undefined> {
    const r = await this.pool.query<HeartbeatRow>(`SELECT * FROM ${this.t('heartbeats')} WHERE name = $1`, [
      name,
    ]);
    return r.rows[0] && toHeartbeat(r.rows[0]);
  }

  async saveHeartbeat(
    next: HeartbeatState,
    record: IngestRecord | undefined,
    now: number,
    dedupWindowMs: number,
  ): Promise<boolean> {
    const w = heartbeatWrite(this.t('heartbeats'), storable(next), now, (i) => `$${i}`);
    return this.tx(async (c) => {
      // A replica writing the same row at once waits for this one, then finds the version moved on.
      if (((await c.query(w.sql, w.values)).rowCount ?? 0) === 0) return false;
      if (record) await this.insertBatch(c, storable([record]), now, dedupWindowMs);
      return true;
    });
  }

  async prune(now: number, retentionMs: number, dedupWindowMs: number): Promise<void> {
    const before = pruneHorizons(now, retentionMs, dedupWindowMs);
    await this.pool.query(
      `DELETE FROM ${this.t('jobs')} WHERE status IN ('sent', 'muted') AND updated_at < $1`,
      [before.jobs],
    );
    await this.pool.query(`DELETE FROM ${this.t('dedup')} WHERE created_at < $1`, [before.dedup]);
    await this.pool.query(`DELETE FROM ${this.t('threads')} WHERE created_at < $1`, [before.threads]);
    await this.pool.query(`DELETE FROM ${this.t('groups')} WHERE updated_at < $1`, [before.groups]);
    await this.pool.query(`DELETE FROM ${this.t('silences')} WHERE ends_at < $1`, [before.silences]);
    await this.pool.query(`DELETE FROM ${this.t('acks')} WHERE at < $1`, [before.acks]);
    await this.pool.query(`DELETE FROM ${this.t('group_events')} WHERE at < $1`, [before.groupEvents]);
    await this.pool.query(`DELETE FROM ${this.t('group_state')} WHERE last_at < $1`, [before.groupStates]);
    await this.pool.query(`DELETE FROM ${this.t('secrets')} WHERE expires_at <= $1`, [now]);
    await this.pool.query(`DELETE FROM ${this.t('replicas')} WHERE seen_at < ${DB_NOW_MS} - $1`, [
      this.opts.claimTimeoutMs,
    ]);
    await this.oncall.prune(this.pool, before);
  }

  async listOverrides(): Promise<ScheduleOverride[]> {
    return this.oncall.listOverrides(this.pool);
  }

  async addOverride(o: ScheduleOverride): Promise<void> {
    await this.oncall.addOverride(this.pool, storable(o));
  }

  async deleteOverride(schedule: string, id: string): Promise<boolean> {
    return this.oncall.deleteOverride(this.pool, schedule, id);
  }

  /** PostgreSQL's clock: every replica decides escalations on the same one. */
  async clock(): Promise<number> {
    return this.oncall.clock(this.pool);
  }

  async episodes(limit: number): Promise<EscalationEpisode[]> {
    return this.oncall.episodes(this.pool, limit);
  }

  async recordStep(
    ep: EpisodeRef,
    nextIndex: number,
    jobs: readonly JobSpec[],
    now: number,
    dedupWindowMs: number,
  ): Promise<RecordOutcome | undefined> {
    // Two replicas may both find the step due: the conditional update lets one record it.
    return this.tx(async (c) => {
      if (!(await this.oncall.advance(c, ep, nextIndex))) return undefined;
      const stored = storable(jobs);
      const [out] = await this.insertBatch(
        c,
        [{ jobs: stored, event: escalationEventOf(stored, now) }],
        now,
        dedupWindowMs,
      );
      return out;
    });
  }

  async groupStates(opts: { resolvedSince: number; limit: number }): Promise<GroupState[]> {
    const r = await this.pool.query<GroupStateRow & { detail: string }>(
      GROUP_STATES_QUERY(this.t, '$1', '$2'),
      [opts.resolvedSince, opts.limit],
    );
    return r.rows.map(toGroupState);
  }

  async groupEvent(id: number): Promise<GroupEvent | undefined> {
    const r = await this.pool.query<GroupEventRow>(`SELECT * FROM ${this.t('group_events')} WHERE id = $1`, [
      id,
    ]);
    return r.rows[0] && toGroupEvent(r.rows[0]);
  }

  async groupEvents(groupKey: string, fromId: number, limit: number): Promise<GroupEvent[]> {
    const r = await this.pool.query<GroupEventRow>(
      `SELECT * FROM ${this.t('group_events')} WHERE group_hash = $1 AND id >= $2 ORDER BY id LIMIT $3`,
      [groupHash(groupKey), fromId, limit],
    );
    return r.rows.map(toGroupEvent);
  }

  async jobsByIds(ids: readonly number[]): Promise<Job[]> {
    if (!ids.length) return [];
    const r = await this.pool.query<JobRow>(
      `SELECT * FROM ${this.t('jobs')} WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[...ids]],
    );
    return r.rows.map(toJob);
  }

  async groupAcks(groupKey: string, limit: number): Promise<Acknowledgement[]> {
    const r = await this.pool.query<AckRow>(
      `SELECT * FROM ${this.t('acks')} WHERE group_key = $1 ORDER BY at LIMIT $2`,
      [storableText(groupKey), limit],
    );
    return r.rows.map(toAck);
  }

  async escalationStatuses(): Promise<EscalationStatus[]> {
    const r = await this.pool.query<{ group_key: string; since_ms: number; escalated_at: number | null }>(
      `SELECT group_key, since_ms, escalated_at FROM ${this.t('groups')}`,
    );
    return r.rows.map((row) => ({
      groupKey: row.group_key,
      criticalSinceMs: row.since_ms,
      escalatedAt: row.escalated_at,
    }));
  }

  async secret(name: string, now: number): Promise<string | undefined> {
    const r = await this.pool.query<{ value: string }>(
      `SELECT value FROM ${this.t('secrets')} WHERE name = $1 AND (expires_at IS NULL OR expires_at > $2)`,
      [name, now],
    );
    return r.rows[0]?.value;
  }

  async initSecret(name: string, value: string, now: number): Promise<string> {
    // Replicas starting together: the first insert wins, the others read it.
    await this.pool.query(
      `INSERT INTO ${this.t('secrets')} (name, value, created_at, expires_at) VALUES ($1, $2, $3, NULL)
       ON CONFLICT (name) DO NOTHING`,
      [name, value, now],
    );
    return (await this.secret(name, now)) as string;
  }

  async setSecret(name: string, value: string, now: number, expiresAt?: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.t('secrets')} (name, value, created_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value, created_at = excluded.created_at,
         expires_at = excluded.expires_at`,
      [name, value, now, expiresAt ?? null],
    );
  }

  async takeSecret(name: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      `DELETE FROM ${this.t('secrets')} WHERE name = $1 AND (expires_at IS NULL OR expires_at > $2)`,
      [name, now],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async deleteSecrets(prefix: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.t('secrets')} WHERE left(name, length($1)) = $1`, [prefix]);
  }

  /** A replica that stops cleanly stops counting at the others' next count: they take its share back. */
  async close(): Promise<void> {
    clearInterval(this.renewTimer);
    this.held.clear();
    await this.beat;
    await this.pool
      .query(`DELETE FROM ${this.t('replicas')} WHERE owner = $1`, [this.owner])
      .catch(() => undefined);
    await this.pool.end();
  }
}
