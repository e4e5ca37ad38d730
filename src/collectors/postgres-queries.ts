// PostgreSQL 13+ catalogue queries and the pure functions that turn their rows into metric
// families. Names and labels follow postgres_exporter where it has the metric; additions keep
// its `pg_` prefix. Nothing here does I/O, so every function is tested on captured rows.
import {
  counter,
  gauge,
  untyped,
  type FamilyBuilder,
  type Labels,
  type MetricFamily,
} from '../metrics/exposition.js';

/** A result row as node-postgres returns it: bigint and numeric columns arrive as strings. */
export type Row = Record<string, unknown>;

const num = (v: unknown): number => (v === null || v === undefined || v === '' ? NaN : Number(v));
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** Connectable, non-template databases, by name. */
export const DATABASES_SQL = `SELECT oid::text AS datid, datname FROM pg_database
 WHERE NOT datistemplate AND datallowconn ORDER BY datname`;

/**
 * Every numeric server parameter (bool, integer, real), as postgres_exporter's settings
 * collector reads them: strings and enums have no number to export. A value this session set
 * (the scrape's own statement_timeout) is reported as the server's, reset_val.
 */
export const SETTINGS_SQL = `SELECT name, CASE WHEN source = 'session' THEN reset_val ELSE setting END AS setting,
 COALESCE(unit, '') AS unit, vartype FROM pg_settings
 WHERE vartype IN ('bool', 'integer', 'real') AND name <> 'sync_commit_cancel_wait'`;

/**
 * When the server started (postgres_exporter's pg_postmaster query) and last loaded its
 * configuration: the settings are read again only when one of the two has changed.
 */
export const POSTMASTER_SQL = `SELECT EXTRACT(EPOCH FROM pg_postmaster_start_time())::float8 AS start_time_seconds,
 EXTRACT(EPOCH FROM pg_conf_load_time())::float8 AS conf_load_time_seconds`;

/**
 * The background writer's counters, every column the server has: PostgreSQL 17 moved the
 * checkpoint columns to pg_stat_checkpointer, and a row as JSON needs no version check.
 */
export const BGWRITER_SQL = `SELECT to_jsonb(b) AS stats FROM pg_stat_bgwriter b`;
/** PostgreSQL 17+ only: the view does not exist before. */
export const CHECKPOINTER_SQL = `SELECT to_jsonb(c) AS stats FROM pg_stat_checkpointer c`;
/** PostgreSQL 14+ only; every column the server has (PostgreSQL 18 moved the write and sync columns to pg_stat_io). */
export const STAT_WAL_SQL = `SELECT to_jsonb(w) AS stats FROM pg_stat_wal w`;

/**
 * postgres_exporter's `wal` collector: the WAL segments in pg_wal and their size. pg_ls_waldir()
 * is for superusers and pg_monitor: the query is left out for another role, whose statement
 * would fail as a whole.
 */
export const WAL_SQL = `SELECT count(*)::int AS segments, sum(size)::float8 AS size_bytes FROM pg_ls_waldir()
 WHERE name ~ '^[0-9A-F]{24}$'`;

/**
 * postgres_exporter's stat_progress_vacuum query: the progress counters of every running VACUUM
 * (phase as a number), the table named where it is in the DSN's database, else by its OID.
 * `regclass` output reads the catalogue cache and takes no lock on the table.
 */
export const PROGRESS_VACUUM_SQL = `SELECT d.datname,
 COALESCE(CASE WHEN d.datname = current_database() THEN s.relid::regclass::text END, s.relid::text) AS relname,
 s.param1 AS phase, s.param2 AS heap_blks_total, s.param3 AS heap_blks_scanned, s.param4 AS heap_blks_vacuumed,
 s.param5 AS index_vacuum_count, s.param6 AS max_dead_tuples, s.param7 AS num_dead_tuples
 FROM pg_stat_get_progress_info('VACUUM'::text)
 s(pid, datid, relid, param1, param2, param3, param4, param5, param6, param7, param8, param9, param10,
   param11, param12, param13, param14, param15, param16, param17, param18, param19, param20)
 LEFT JOIN pg_database d ON s.datid = d.oid`;

/** Replication slots, the first $1 by name, with how far each one holds WAL back. */
export const REPLICATION_SLOTS_SQL = `SELECT slot_name, slot_type, COALESCE(database, '') AS database,
 active::int AS active,
 (CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')
       ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END)::float8 AS current_wal_lsn,
 COALESCE(pg_wal_lsn_diff(confirmed_flush_lsn, '0/0'), 0)::float8 AS confirmed_flush_lsn,
 COALESCE((CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), restart_lsn)
       ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END), 0)::float8 AS retained_bytes,
 COALESCE(safe_wal_size, 0)::float8 AS safe_wal_size, COALESCE(wal_status, '') AS wal_status
 FROM pg_replication_slots ORDER BY slot_name LIMIT $1`;

/** postgres_exporter's pg_replication query (0.12+): lag 0 on a primary or a caught-up replica. */
export const REPLICATION_SQL = `SELECT
 CASE WHEN NOT pg_is_in_recovery() THEN 0
      WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
      ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) END::float8 AS lag,
 pg_is_in_recovery()::int AS is_replica`;

/**
 * Sessions by database and state (all backends with a database, as postgres_exporter counts
 * them), with the oldest transaction, the longest-running non-idle query (ours excluded) and
 * the sessions that wait for another session's lock.
 */
export const ACTIVITY_SQL = `SELECT datname, state, count(*)::int AS count,
 COALESCE(max(EXTRACT(EPOCH FROM now() - xact_start)), 0)::float8 AS max_tx_duration,
 COALESCE(max(EXTRACT(EPOCH FROM now() - query_start))
   FILTER (WHERE state <> 'idle' AND pid <> pg_backend_pid()), 0)::float8 AS max_query_duration,
 count(*) FILTER (WHERE cardinality(pg_blocking_pids(pid)) > 0)::int AS blocked
 FROM pg_stat_activity WHERE datname IS NOT NULL AND state IS NOT NULL
 GROUP BY datname, state`;

/**
 * Locks per database and mode (postgres_exporter's pg_locks), and lock requests not granted,
 * attributed to the waiting session's database: a row-lock wait is a transactionid lock,
 * which has no database of its own.
 */
export const LOCKS_SQL = `SELECT 'held' AS kind, d.datname, lower(l.mode) AS mode, count(*)::int AS count
 FROM pg_locks l JOIN pg_database d ON d.oid = l.database GROUP BY d.datname, lower(l.mode)
 UNION ALL
 SELECT 'waiting', a.datname, lower(l.mode), count(*)::int
 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE NOT l.granted AND a.datname IS NOT NULL GROUP BY a.datname, lower(l.mode)`;

/**
 * Several queries as one statement, each one's rows a JSON array in a column of the same name:
 * one round trip instead of one per view (on loopback the round trips cost more than the views).
 */
export function combinedSql(parts: Record<string, string>): string {
  const columns = Object.entries(parts).map(
    ([name, sql]) => `(SELECT coalesce(json_agg(t), '[]'::json) FROM (${sql}) t) AS "${name}"`,
  );
  return `SELECT ${columns.join(',\n ')}`;
}

/**
 * The server-wide views that need no database list, in one statement. $1 the cap on
 * replication slots. By what the server is: pg_stat_wal from PostgreSQL 14, pg_stat_checkpointer
 * from 17, pg_wal's listing where the role may read it. The settings are not among them: they are
 * read on their own, only when they may have changed (see POSTMASTER_SQL).
 */
export function serverViewsSql(server: { version: number; readsWalDir: boolean }): string {
  return combinedSql({
    databases: DATABASES_SQL,
    replication: REPLICATION_SQL,
    activity: ACTIVITY_SQL,
    locks: LOCKS_SQL,
    postmaster: POSTMASTER_SQL,
    bgwriter: BGWRITER_SQL,
    ...(server.version >= 170000 ? { checkpointer: CHECKPOINTER_SQL } : {}),
    ...(server.version >= 140000 ? { stat_wal: STAT_WAL_SQL } : {}),
    ...(server.readsWalDir ? { wal: WAL_SQL } : {}),
    progress_vacuum: PROGRESS_VACUUM_SQL,
    slots: REPLICATION_SLOTS_SQL,
  });
}

export const STAT_DATABASE_SQL = `SELECT datid::text AS datid, datname, numbackends, xact_commit, xact_rollback,
 blks_read, blks_hit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, conflicts,
 temp_files, temp_bytes, deadlocks
 FROM pg_stat_database WHERE datname = ANY($1::text[])`;

export const DATABASE_SIZE_SQL = `SELECT datname, pg_database_size(oid)::float8 AS bytes
 FROM pg_database WHERE datname = ANY($1::text[])`;

/**
 * Top statements by total execution time (postgres_exporter's stat_statements collector) and,
 * separately ranked, by mean time (the slow-query view). Rows that differ only in `toplevel`
 * are summed so that (user, datname, queryid) stays unique. Ranking reads
 * `pg_stat_statements(false)`, without query texts: reading the text file for thousands of
 * statements costs more than the rest of the scrape. With `queryLength` > 0 the texts of the
 * chosen statements are read once more, truncated.
 * $1 databases, $2 top-N by total, $3 top-N by mean.
 */
export function statementsSql(queryLength: number): string {
  const ranked = `WITH s AS (
 SELECT pg_get_userbyid(s.userid) AS "user", d.datname, s.queryid,
  sum(s.calls)::float8 AS calls, (sum(s.total_exec_time) / 1000)::float8 AS seconds,
  sum(s.rows)::float8 AS rows, (max(s.max_exec_time) / 1000)::float8 AS max_seconds
 FROM pg_stat_statements(false) s JOIN pg_database d ON d.oid = s.dbid
 WHERE s.queryid IS NOT NULL AND d.datname = ANY($1::text[])
 GROUP BY s.userid, d.datname, s.queryid),
top AS (SELECT 'total' AS rank_by, * FROM s ORDER BY seconds DESC, queryid LIMIT $2),
slow AS (SELECT 'mean' AS rank_by, * FROM s WHERE calls > 0 ORDER BY seconds / calls DESC, queryid LIMIT $3),
picked AS (SELECT * FROM top UNION ALL SELECT * FROM slow)`;
  const columns =
    'p.rank_by, p."user", p.datname, p.queryid::text AS queryid, p.calls, p.seconds, p.rows, p.max_seconds';
  if (queryLength <= 0)
    return `${ranked}
SELECT ${columns} FROM picked p`;
  const n = Math.floor(queryLength);
  return `${ranked},
texts AS (SELECT queryid, left(min(query), ${n}) AS query FROM pg_stat_statements(true)
 WHERE queryid IN (SELECT queryid FROM picked) GROUP BY queryid)
SELECT ${columns}, t.query FROM picked p LEFT JOIN texts t ON t.queryid = p.queryid`;
}

/** SQLSTATEs meaning "pg_stat_statements is not there": undefined table/function, not preloaded. */
export const STATEMENTS_MISSING_CODES = new Set(['42P01', '42883', '55000']);

/**
 * Relations of the connected database held, or waited for, in ACCESS EXCLUSIVE mode (LOCK
 * TABLE, ALTER TABLE, VACUUM FULL, DROP, REINDEX): the one mode that conflicts with the ACCESS
 * SHARE lock pg_relation_size() and pg_total_relation_size() take. A request still waiting counts
 * too: ours would queue behind it. Read once per statement.
 */
const LOCKED_CTE = `locked AS MATERIALIZED (SELECT DISTINCT l.relation FROM pg_locks l
 WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;

/** Block size, for a locked relation's size as of its last VACUUM or ANALYZE (pg_class.relpages). */
const BLOCK_BYTES = `current_setting('block_size')::float8`;

/**
 * Per-index usage for one database, largest first, limited to $1 rows; the window columns
 * count unused indexes over all of them. Unique and primary-key indexes enforce constraints,
 * so an unused one is not a candidate for dropping and is not counted. A locked index is not
 * opened: its size is pg_class.relpages' (`locked` true).
 */
const INDEXES_ONLY_SQL = `WITH ${LOCKED_CTE},
sized AS (SELECT s.schemaname, s.relname, s.indexrelname,
 s.idx_scan::float8 AS idx_scan, s.idx_tup_read::float8 AS idx_tup_read, s.idx_tup_fetch::float8 AS idx_tup_fetch,
 s.indexrelid IN (SELECT relation FROM locked) AS locked,
 s.idx_scan = 0 AND NOT (i.indisunique OR i.indisprimary) AS unused,
 CASE WHEN s.indexrelid IN (SELECT relation FROM locked) THEN c.relpages * ${BLOCK_BYTES}
      ELSE pg_relation_size(s.indexrelid)::float8 END AS bytes
 FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid JOIN pg_class c ON c.oid = s.indexrelid)
SELECT schemaname, relname, indexrelname, idx_scan, idx_tup_read, idx_tup_fetch, bytes, locked,
 count(*) FILTER (WHERE unused) OVER ()::int AS unused,
 COALESCE(sum(bytes) FILTER (WHERE unused) OVER (), 0)::float8 AS unused_bytes
 FROM sized ORDER BY bytes DESC, schemaname, indexrelname LIMIT GREATEST($1::int, 1)`;

/** A hard bound on the tables read per database, whatever the filters: the cap applies after them. */
export const TABLES_READ_MAX = 10_000;

/**
 * Per-table statistics for one database (postgres_exporter's stat_user_tables and
 * statio_user_tables), largest first, at most TABLES_READ_MAX; include/exclude and the
 * per-target cap are applied to these rows. The statistics need no lock on the table; its size
 * does, of the table, its TOAST table and their indexes: when one of them is locked the table is
 * `locked` and ranked by pg_class.relpages instead.
 */
export const TABLES_SQL = `WITH ${LOCKED_CTE},
locked_tables AS MATERIALIZED (
 SELECT relation AS oid FROM locked
 UNION SELECT i.indrelid FROM pg_index i JOIN locked l ON l.relation = i.indexrelid
 UNION SELECT c.oid FROM pg_class c JOIN locked l ON l.relation = c.reltoastrelid
 UNION SELECT c.oid FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid
   JOIN locked l ON l.relation = i.indexrelid)
SELECT s.schemaname, s.relname,
 s.seq_scan::float8 AS seq_scan, s.seq_tup_read::float8 AS seq_tup_read,
 COALESCE(s.idx_scan, 0)::float8 AS idx_scan, COALESCE(s.idx_tup_fetch, 0)::float8 AS idx_tup_fetch,
 s.n_tup_ins::float8 AS n_tup_ins, s.n_tup_upd::float8 AS n_tup_upd, s.n_tup_del::float8 AS n_tup_del,
 s.n_tup_hot_upd::float8 AS n_tup_hot_upd, s.n_live_tup::float8 AS n_live_tup,
 s.n_dead_tup::float8 AS n_dead_tup, s.n_mod_since_analyze::float8 AS n_mod_since_analyze,
 COALESCE(EXTRACT(EPOCH FROM s.last_vacuum), 0)::float8 AS last_vacuum,
 COALESCE(EXTRACT(EPOCH FROM s.last_autovacuum), 0)::float8 AS last_autovacuum,
 COALESCE(EXTRACT(EPOCH FROM s.last_analyze), 0)::float8 AS last_analyze,
 COALESCE(EXTRACT(EPOCH FROM s.last_autoanalyze), 0)::float8 AS last_autoanalyze,
 s.vacuum_count::float8 AS vacuum_count, s.autovacuum_count::float8 AS autovacuum_count,
 s.analyze_count::float8 AS analyze_count, s.autoanalyze_count::float8 AS autoanalyze_count,
 COALESCE(io.heap_blks_read, 0)::float8 AS heap_blks_read, COALESCE(io.heap_blks_hit, 0)::float8 AS heap_blks_hit,
 COALESCE(io.idx_blks_read, 0)::float8 AS idx_blks_read, COALESCE(io.idx_blks_hit, 0)::float8 AS idx_blks_hit,
 COALESCE(io.toast_blks_read, 0)::float8 AS toast_blks_read, COALESCE(io.toast_blks_hit, 0)::float8 AS toast_blks_hit,
 COALESCE(io.tidx_blks_read, 0)::float8 AS tidx_blks_read, COALESCE(io.tidx_blks_hit, 0)::float8 AS tidx_blks_hit,
 s.relid IN (SELECT oid FROM locked_tables) AS locked,
 CASE WHEN s.relid IN (SELECT oid FROM locked_tables) THEN c.relpages * ${BLOCK_BYTES}
      ELSE pg_total_relation_size(s.relid)::float8 END AS bytes
 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
 LEFT JOIN pg_statio_user_tables io ON io.relid = s.relid
 ORDER BY bytes DESC, s.schemaname, s.relname LIMIT ${TABLES_READ_MAX}`;

/** The relations of the connected database held or waited for in ACCESS EXCLUSIVE mode, by name. */
export const LOCKED_RELATIONS_SQL = `WITH ${LOCKED_CTE}
SELECT relation::regclass::text AS name FROM locked ORDER BY 1`;

/** Indexes ($1 the cap), tables and the locked relations of one database in one round trip. */
export const DATABASE_OBJECTS_SQL = combinedSql({
  indexes: INDEXES_ONLY_SQL,
  tables: TABLES_SQL,
  locked: LOCKED_RELATIONS_SQL,
});
/** Indexes alone, $1 the cap. */
export const INDEXES_SQL = INDEXES_ONLY_SQL;

export interface DatabaseSelection {
  selected: { datid: string; datname: string }[];
  /** Databases that matched the filters but were over the cap. */
  dropped: string[];
}

/** Applies include/exclude (anchored) regexes and the cap to discovered databases. */
export function selectDatabases(
  rows: Row[],
  opts: { include?: RegExp; exclude?: RegExp; max: number },
): DatabaseSelection {
  const matching = rows
    .map((r) => ({ datid: str(r.datid), datname: str(r.datname) }))
    .sort((a, b) => (a.datname < b.datname ? -1 : a.datname > b.datname ? 1 : 0))
    .filter((d) => (!opts.include || opts.include.test(d.datname)) && !opts.exclude?.test(d.datname));
  return { selected: matching.slice(0, opts.max), dropped: matching.slice(opts.max).map((d) => d.datname) };
}

// postgres_exporter reports every state for every database, zeros included.
export const ACTIVITY_STATES = [
  'active',
  'idle',
  'idle in transaction',
  'idle in transaction (aborted)',
  'fastpath function call',
  'disabled',
] as const;

export function activityFamilies(rows: Row[], databases: string[], base: Labels): MetricFamily[] {
  // `_count` on a gauge and a counter without `_total` are anchor names promtool would flag;
  // untyped keeps the name and the lint clean.
  const count = untyped(
    'pg_stat_activity_count',
    'Number of connections in this state (gauge; postgres_exporter name).',
  );
  const maxTx = gauge(
    'pg_stat_activity_max_tx_duration',
    'Max duration in seconds any active transaction has been running.',
  );
  const maxQuery = gauge(
    'pg_stat_activity_max_query_duration_seconds',
    'Longest-running non-idle query in seconds (0 when none).',
  );
  const blocked = gauge(
    'pg_blocked_sessions',
    'Sessions waiting for a lock held by another session (pg_blocking_pids).',
  );
  const byKey = new Map<string, Row>();
  const perDb = new Map<string, { maxQuery: number; blocked: number }>();
  for (const r of rows) {
    const datname = str(r.datname);
    byKey.set(`${datname}\0${str(r.state)}`, r);
    const acc = perDb.get(datname) ?? { maxQuery: 0, blocked: 0 };
    acc.maxQuery = Math.max(acc.maxQuery, num(r.max_query_duration) || 0);
    acc.blocked += num(r.blocked) || 0;
    perDb.set(datname, acc);
  }
  for (const datname of databases) {
    for (const state of ACTIVITY_STATES) {
      const r = byKey.get(`${datname}\0${state}`);
      const labels = { ...base, datname, state };
      count.add(labels, r ? num(r.count) : 0);
      maxTx.add(labels, r ? num(r.max_tx_duration) : 0);
    }
    const acc = perDb.get(datname);
    maxQuery.add({ ...base, datname }, acc?.maxQuery ?? 0);
    blocked.add({ ...base, datname }, acc?.blocked ?? 0);
  }
  return [count, maxTx, maxQuery, blocked];
}

export const LOCK_MODES = [
  'accesssharelock',
  'rowsharelock',
  'rowexclusivelock',
  'shareupdateexclusivelock',
  'sharelock',
  'sharerowexclusivelock',
  'exclusivelock',
  'accessexclusivelock',
  'sireadlock',
] as const;

export function lockFamilies(rows: Row[], databases: string[], base: Labels): MetricFamily[] {
  const held = untyped('pg_locks_count', 'Number of locks (gauge; postgres_exporter name).');
  const waiting = gauge(
    'pg_locks_waiting',
    'Lock requests not granted, by the database of the waiting session.',
  );
  const values = new Map<string, number>();
  for (const r of rows) values.set(`${str(r.kind)}\0${str(r.datname)}\0${str(r.mode)}`, num(r.count));
  for (const datname of databases) {
    for (const mode of LOCK_MODES) {
      held.add({ ...base, datname, mode }, values.get(`held\0${datname}\0${mode}`) ?? 0);
      waiting.add({ ...base, datname, mode }, values.get(`waiting\0${datname}\0${mode}`) ?? 0);
    }
  }
  return [held, waiting];
}

// Cumulative columns of pg_stat_database. postgres_exporter types them counter without a
// `_total` suffix; they stay untyped here so that the names match and promtool stays quiet.
const STAT_DATABASE_COUNTERS: Record<string, string> = {
  xact_commit: 'Number of transactions in this database that have been committed.',
  xact_rollback: 'Number of transactions in this database that have been rolled back.',
  blks_read: 'Number of disk blocks read in this database.',
  blks_hit: 'Number of times disk blocks were found already in the buffer cache.',
  tup_returned: 'Number of rows returned by queries in this database.',
  tup_fetched: 'Number of rows fetched by queries in this database.',
  tup_inserted: 'Number of rows inserted by queries in this database.',
  tup_updated: 'Number of rows updated by queries in this database.',
  tup_deleted: 'Number of rows deleted by queries in this database.',
  conflicts: 'Number of queries canceled due to conflicts with recovery in this database.',
  temp_files: 'Number of temporary files created by queries in this database.',
  temp_bytes: 'Total amount of data written to temporary files by queries in this database.',
  deadlocks: 'Number of deadlocks detected in this database.',
};

export function statDatabaseFamilies(rows: Row[], base: Labels): MetricFamily[] {
  const backends = gauge(
    'pg_stat_database_numbackends',
    'Number of backends currently connected to this database.',
  );
  const counters = Object.entries(STAT_DATABASE_COUNTERS).map(([col, help]) => ({
    col,
    family: untyped(`pg_stat_database_${col}`, `${help} (counter; postgres_exporter name)`),
  }));
  for (const r of rows) {
    const labels = { ...base, datid: str(r.datid), datname: str(r.datname) };
    backends.add(labels, num(r.numbackends));
    for (const c of counters) c.family.add(labels, num(r[c.col]));
  }
  return [backends, ...counters.map((c) => c.family)];
}

/** HELP suffix of the families read from the background sample. */
const SAMPLED = ' Sampled in the background at most every sample_interval.';

export function databaseSizeFamilies(rows: Row[], base: Labels): MetricFamily[] {
  const size = gauge('pg_database_size_bytes', 'Disk space used by the database.' + SAMPLED);
  for (const r of rows) size.add({ ...base, datname: str(r.datname) }, num(r.bytes));
  return [size];
}

/** postgres_exporter's unit conversion: time settings to seconds, sizes to bytes. */
const SETTING_UNITS: Record<string, { suffix: string; factor: number }> = {
  ms: { suffix: 'seconds', factor: 0.001 },
  s: { suffix: 'seconds', factor: 1 },
  min: { suffix: 'seconds', factor: 60 },
  h: { suffix: 'seconds', factor: 3600 },
  d: { suffix: 'seconds', factor: 86_400 },
  B: { suffix: 'bytes', factor: 1 },
  kB: { suffix: 'bytes', factor: 1024 },
  MB: { suffix: 'bytes', factor: 1024 ** 2 },
  GB: { suffix: 'bytes', factor: 1024 ** 3 },
  TB: { suffix: 'bytes', factor: 1024 ** 4 },
};

/** A setting's name and value as postgres_exporter exports it, or undefined for a unit it does not know. */
export function settingSample(row: Row): { name: string; value: number; suffix: string } | undefined {
  const name = str(row.name).replace(/\./g, '_');
  const raw = str(row.setting);
  if (str(row.vartype) === 'bool') return { name, value: raw === 'on' ? 1 : 0, suffix: '' };
  const value = Number(raw);
  const unit = str(row.unit);
  if (!unit) return { name, value, suffix: '' };
  // Units like `8kB` and `16MB` are multiples of a block or segment size.
  const m = /^(\d*)([A-Za-z]+)$/.exec(unit);
  const conv = m ? SETTING_UNITS[m[2] as string] : undefined;
  if (!m || !conv) return undefined;
  const multiple = m[1] ? Number(m[1]) : 1;
  // -1 means "disabled" or "unlimited" and is not a quantity.
  return { name, value: value === -1 ? -1 : value * multiple * conv.factor, suffix: conv.suffix };
}

/** HELP suffix of the settings families, which are cached. */
const SETTINGS_CACHED = ' Cached until a configuration reload or restart.';

export function settingsFamilies(rows: Row[], base: Labels): MetricFamily[] {
  const out: MetricFamily[] = [];
  for (const r of rows) {
    const s = settingSample(r);
    if (!s) continue;
    const name = s.suffix ? `pg_settings_${s.name}_${s.suffix}` : `pg_settings_${s.name}`;
    const help =
      (s.suffix
        ? `Server Parameter: ${s.name} [Units converted to ${s.suffix}].`
        : `Server Parameter: ${s.name}.`) + SETTINGS_CACHED;
    // A gauge named `_count` or `_total` (tcp_keepalives_count) is an anchor name promtool would flag.
    const family = /_(count|total|sum|bucket)$/.test(name) ? untyped(name, help) : gauge(name, help);
    out.push(family.add({ ...base }, s.value));
  }
  return out;
}

export function postmasterFamilies(row: Row | undefined, base: Labels): MetricFamily[] {
  if (!row) return [];
  return [
    gauge(
      'pg_postmaster_start_time_seconds',
      'Time at which postmaster started, in seconds since the epoch.',
    ).add({ ...base }, num(row.start_time_seconds)),
  ];
}

/**
 * pg_stat_bgwriter (and, on PostgreSQL 17+, pg_stat_checkpointer) as postgres_exporter 0.20
 * names them: `pg_stat_bgwriter_<column>_total`, `pg_stat_checkpointer_<column>_total`;
 * `stats_reset` as seconds since the epoch.
 */
export function bgwriterFamilies(
  views: { bgwriter?: Row; checkpointer?: Row },
  base: Labels,
): MetricFamily[] {
  const out: MetricFamily[] = [];
  for (const [view, row] of Object.entries(views)) {
    const stats = (row?.stats ?? undefined) as Record<string, unknown> | undefined;
    if (!stats) continue;
    for (const [col, v] of Object.entries(stats)) {
      const value = col === 'stats_reset' ? Date.parse(str(v)) / 1000 : num(v);
      if (!Number.isFinite(value)) continue;
      out.push(
        counter(`pg_stat_${view}_${col}_total`, `pg_stat_${view}.${col} (postgres_exporter name).`).add(
          { ...base },
          value,
        ),
      );
    }
  }
  return out;
}

/** pg_stat_progress_vacuum's phases, by the number the server reports (postgres_exporter's labels). */
export const VACUUM_PHASES = [
  'initializing',
  'scanning heap',
  'vacuuming indexes',
  'vacuuming heap',
  'cleaning up indexes',
  'truncating heap',
  'performing final cleanup',
] as const;

/**
 * postgres_exporter's stat_progress_vacuum collector (default since 0.18): per running VACUUM,
 * the phase (every phase, 1 for the current one) and its counters, labelled datname and relname.
 */
export function progressVacuumFamilies(rows: Row[], base: Labels): MetricFamily[] {
  const phase = gauge(
    'pg_stat_progress_vacuum_phase',
    "Current vacuum phase (1 = active, 0 = inactive). Label 'phase' is human-readable.",
  );
  const columns = [
    ['heap_blks', 'heap_blks_total', 'Total number of heap blocks in the table being vacuumed.'],
    ['heap_blks_scanned', 'heap_blks_scanned', 'Number of heap blocks scanned so far.'],
    ['heap_blks_vacuumed', 'heap_blks_vacuumed', 'Number of heap blocks vacuumed so far.'],
    ['index_vacuums', 'index_vacuum_count', 'Number of completed index vacuum cycles.'],
    [
      'max_dead_tuples',
      'max_dead_tuples',
      'Maximum number of dead tuples that can be stored before cleanup is performed.',
    ],
    ['num_dead_tuples', 'num_dead_tuples', 'Current number of dead tuples found so far.'],
  ] as const;
  const counters = columns.map(([name, col, help]) => ({
    col,
    family: gauge(`pg_stat_progress_vacuum_${name}`, help),
  }));
  for (const r of rows) {
    const labels = {
      ...base,
      datname: r.datname === null || r.datname === undefined ? 'unknown' : str(r.datname),
      relname: r.relname === null || r.relname === undefined ? 'unknown' : str(r.relname),
    };
    const current = r.phase === null || r.phase === undefined ? NaN : num(r.phase);
    VACUUM_PHASES.forEach((name, i) => phase.add({ ...labels, phase: name }, i === current ? 1 : 0));
    for (const c of counters) c.family.add(labels, num(r[c.col]) || 0);
  }
  return [phase, ...counters.map((c) => c.family)];
}

/** postgres_exporter's wal collector (default since 0.14): the segments in pg_wal and their size. */
export function walFamilies(row: Row | undefined, base: Labels): MetricFamily[] {
  if (!row) return [];
  const out = [gauge('pg_wal_segments', 'Number of WAL segments').add({ ...base }, num(row.segments))];
  // sum() of no segment is NULL; postgres_exporter leaves the size out then.
  if (row.size_bytes !== null && row.size_bytes !== undefined)
    out.push(gauge('pg_wal_size_bytes', 'Total size of WAL segments').add({ ...base }, num(row.size_bytes)));
  return out;
}

/**
 * pg_stat_wal under the names of postgres_exporter's pg_stat_wal collector as proposed upstream
 * (`pg_stat_wal_<column>`, `wal_records` with `_total`), the times in milliseconds as the view
 * has them and stats_reset in seconds since the epoch. Only the columns the server has.
 */
export function statWalFamilies(row: Row | undefined, base: Labels): MetricFamily[] {
  const stats = (row?.stats ?? undefined) as Record<string, unknown> | undefined;
  if (!stats) return [];
  const out: MetricFamily[] = [];
  for (const [col, v] of Object.entries(stats)) {
    if (col === 'stats_reset') {
      const at = v === null || v === undefined ? 0 : Date.parse(str(v)) / 1000;
      out.push(
        gauge('pg_stat_wal_stats_reset', 'Time at which these statistics were last reset').add(
          { ...base },
          at,
        ),
      );
      continue;
    }
    const value = num(v);
    if (!Number.isFinite(value)) continue;
    const help = STAT_WAL_HELP[col] ?? `pg_stat_wal.${col}.`;
    out.push(
      col === 'wal_records'
        ? counter('pg_stat_wal_wal_records_total', help).add({ ...base }, value)
        : untyped(`pg_stat_wal_${col}`, `${help} (counter; postgres_exporter name)`).add({ ...base }, value),
    );
  }
  return out;
}

const STAT_WAL_HELP: Record<string, string> = {
  wal_records: 'Total number of WAL records generated',
  wal_fpi: 'Total number of WAL full page images generated',
  wal_bytes: 'Total amount of WAL generated in bytes',
  wal_buffers_full: 'Number of times WAL data was written to disk because WAL buffers became full',
  wal_write: 'Number of times WAL buffers were written out to disk via XLogWrite request',
  wal_sync: 'Number of times WAL files were synced to disk via issue_xlog_fsync request',
  wal_write_time: 'Total amount of time spent writing WAL buffers to disk, in milliseconds',
  wal_sync_time: 'Total amount of time spent syncing WAL files to disk, in milliseconds',
};

export function replicationSlotFamilies(rows: Row[], base: Labels): MetricFamily[] {
  // The queries.yaml names the community's alerts use, and postgres_exporter 0.20's collector.
  const active = gauge(
    'pg_replication_slots_active',
    'Whether the replication slot is in use (1) or not (0).',
  );
  const diff = gauge(
    'pg_replication_slots_pg_wal_lsn_diff',
    'WAL the slot holds back: current WAL position minus the restart_lsn of the slot, in bytes.',
  );
  const isActive = gauge('pg_replication_slot_slot_is_active', 'Whether the slot is active (1) or not (0).');
  const current = gauge('pg_replication_slot_slot_current_wal_lsn', 'The current WAL position, in bytes.');
  const flushed = gauge(
    'pg_replication_slot_slot_confirmed_flush_lsn',
    'The last WAL position the consumer of the slot confirmed, in bytes (0 for physical slots).',
  );
  const safe = gauge(
    'pg_replication_slot_safe_wal_size_bytes',
    'WAL that can still be written before the slot is in danger of losing WAL files.',
  );
  const status = gauge(
    'pg_replication_slot_wal_status',
    'The WAL status of the slot (label wal_status); always 1.',
  );
  for (const r of rows) {
    const slot = { ...base, slot_name: str(r.slot_name) };
    active.add({ ...slot, database: str(r.database) }, num(r.active));
    diff.add({ ...slot, database: str(r.database) }, num(r.retained_bytes));
    const typed = { ...slot, slot_type: str(r.slot_type) };
    isActive.add(typed, num(r.active));
    current.add(typed, num(r.current_wal_lsn));
    flushed.add(typed, num(r.confirmed_flush_lsn));
    safe.add(typed, num(r.safe_wal_size));
    status.add({ ...typed, wal_status: str(r.wal_status) }, 1);
  }
  return [active, diff, isActive, current, flushed, safe, status];
}

export function replicationFamilies(row: Row | undefined, base: Labels): MetricFamily[] {
  if (!row) return [];
  return [
    gauge('pg_replication_lag_seconds', 'Replication lag behind primary in seconds (0 on a primary).').add(
      { ...base },
      num(row.lag),
    ),
    gauge('pg_replication_is_replica', 'Whether the server is a replica (in recovery).').add(
      { ...base },
      num(row.is_replica),
    ),
  ];
}

export function statementFamilies(rows: Row[], base: Labels): MetricFamily[] {
  const calls = counter('pg_stat_statements_calls_total', 'Number of times executed.');
  const seconds = counter(
    'pg_stat_statements_seconds_total',
    'Total time spent in the statement, in seconds.',
  );
  const rowsTotal = counter(
    'pg_stat_statements_rows_total',
    'Total number of rows retrieved or affected by the statement.',
  );
  const mean = gauge(
    'pg_stat_statements_mean_seconds',
    'Mean execution time of the statements slowest on average (the slow-query view), in seconds.',
  );
  const max = gauge(
    'pg_stat_statements_max_seconds',
    'Maximum execution time of the statements slowest on average, in seconds.',
  );
  const queryText = gauge(
    'pg_stat_statements_query_id',
    'SQL query text (truncated) of a queryid; always 1.',
  );
  const seen = new Set<string>();
  const seenQuery = new Set<string>();
  for (const r of rows) {
    const labels = { ...base, datname: str(r.datname), user: str(r.user), queryid: str(r.queryid) };
    const key = `${labels.datname}\0${labels.user}\0${labels.queryid}`;
    if (!seen.has(key)) {
      seen.add(key);
      calls.add(labels, num(r.calls));
      seconds.add(labels, num(r.seconds));
      rowsTotal.add(labels, num(r.rows));
    }
    if (str(r.rank_by) === 'mean') {
      mean.add(labels, num(r.calls) > 0 ? num(r.seconds) / num(r.calls) : 0);
      max.add(labels, num(r.max_seconds));
    }
    if (r.query !== null && r.query !== undefined && !seenQuery.has(labels.queryid)) {
      seenQuery.add(labels.queryid);
      queryText.add({ ...base, queryid: labels.queryid, query: str(r.query) }, 1);
    }
  }
  return [calls, seconds, rowsTotal, mean, max, queryText];
}

/**
 * Per-index families over all databases: the `limit` largest indexes get per-index series,
 * and every database gets its unused-index count and size.
 */
export function indexFamilies(
  perDatabase: { datname: string; rows: Row[] }[],
  limit: number,
  base: Labels,
): MetricFamily[] {
  const scans = counter(
    'pg_stat_user_indexes_idx_scan_total',
    'Number of index scans initiated on this index.' + SAMPLED,
  );
  const read = counter(
    'pg_stat_user_indexes_idx_tup_read_total',
    'Number of index entries returned by scans on this index.' + SAMPLED,
  );
  const fetch = counter(
    'pg_stat_user_indexes_idx_tup_fetch_total',
    'Number of live table rows fetched by simple index scans using this index.' + SAMPLED,
  );
  const unused = gauge(
    'pg_unused_indexes',
    'Indexes never scanned since statistics were reset (unique and primary-key indexes excluded).' + SAMPLED,
  );
  const unusedBytes = gauge(
    'pg_unused_indexes_size_bytes',
    'Disk space used by the unused indexes.' + SAMPLED,
  );
  const all: { datname: string; row: Row }[] = [];
  for (const db of perDatabase) {
    const first = db.rows[0];
    unused.add({ ...base, datname: db.datname }, first ? num(first.unused) : 0);
    unusedBytes.add({ ...base, datname: db.datname }, first ? num(first.unused_bytes) : 0);
    for (const row of db.rows) all.push({ datname: db.datname, row });
  }
  all.sort((a, b) => num(b.row.bytes) - num(a.row.bytes));
  for (const { datname, row } of all.slice(0, limit)) {
    const labels = {
      ...base,
      datname,
      schemaname: str(row.schemaname),
      relname: str(row.relname),
      indexrelname: str(row.indexrelname),
    };
    scans.add(labels, num(row.idx_scan));
    read.add(labels, num(row.idx_tup_read));
    fetch.add(labels, num(row.idx_tup_fetch));
  }
  return [scans, read, fetch, unused, unusedBytes];
}

export function upFamily(up: 0 | 1, base: Labels): MetricFamily {
  return gauge('pg_up', 'Whether the last scrape could connect to and query the server (1) or not (0).').add(
    { ...base },
    up,
  );
}

// pg_stat_user_tables and pg_statio_user_tables columns, postgres_exporter's names. Its
// counters have no `_total` suffix; they stay untyped so that the names match and promtool stays quiet.
const TABLE_COUNTERS = [
  'seq_scan',
  'seq_tup_read',
  'idx_scan',
  'idx_tup_fetch',
  'n_tup_ins',
  'n_tup_upd',
  'n_tup_del',
  'n_tup_hot_upd',
  'vacuum_count',
  'autovacuum_count',
  'analyze_count',
  'autoanalyze_count',
] as const;
const TABLE_GAUGES = [
  'n_live_tup',
  'n_dead_tup',
  'n_mod_since_analyze',
  'last_vacuum',
  'last_autovacuum',
  'last_analyze',
  'last_autoanalyze',
] as const;
const STATIO_COUNTERS = [
  'heap_blks_read',
  'heap_blks_hit',
  'idx_blks_read',
  'idx_blks_hit',
  'toast_blks_read',
  'toast_blks_hit',
  'tidx_blks_read',
  'tidx_blks_hit',
] as const;

export interface TableSelection {
  include?: RegExp;
  exclude?: RegExp;
  /** Tables exported over all databases, largest first. */
  limit: number;
}

/**
 * Per-table families over all databases: the `limit` largest tables whose `schema.table`
 * passes include/exclude; `pg_stat_user_tables_not_exported` counts the rest per database.
 */
export function tableFamilies(
  perDatabase: { datname: string; rows: Row[] }[],
  sel: TableSelection,
  base: Labels,
): MetricFamily[] {
  const families = new Map<string, FamilyBuilder>();
  const family = (view: string, col: string, kind: 'counter' | 'gauge') => {
    const name = `pg_${view}_${col}`;
    let f = families.get(name);
    if (!f) {
      f =
        kind === 'counter'
          ? untyped(name, `${view}.${col} (counter; postgres_exporter name).` + SAMPLED)
          : gauge(
              name,
              `${view}.${col}${col.startsWith('last_') ? ', seconds since the epoch (0: never)' : ''}.` +
                SAMPLED,
            );
      families.set(name, f);
    }
    return f;
  };
  const candidates: { datname: string; row: Row }[] = [];
  for (const db of perDatabase)
    for (const row of db.rows) {
      const qualified = `${str(row.schemaname)}.${str(row.relname)}`;
      if (sel.include && !sel.include.test(qualified)) continue;
      if (sel.exclude?.test(qualified)) continue;
      candidates.push({ datname: db.datname, row });
    }
  candidates.sort((a, b) => num(b.row.bytes) - num(a.row.bytes));
  const notExported = gauge(
    'pg_stat_user_tables_not_exported',
    'Tables left out by the per-target cap collectors.postgres.tables.limit.' + SAMPLED,
  );
  const left = new Map<string, number>(perDatabase.map((d) => [d.datname, 0]));
  for (const c of candidates.slice(sel.limit)) left.set(c.datname, (left.get(c.datname) ?? 0) + 1);
  for (const { datname, row } of candidates.slice(0, sel.limit)) {
    const labels = { ...base, datname, schemaname: str(row.schemaname), relname: str(row.relname) };
    for (const col of TABLE_COUNTERS) family('stat_user_tables', col, 'counter').add(labels, num(row[col]));
    for (const col of TABLE_GAUGES) family('stat_user_tables', col, 'gauge').add(labels, num(row[col]));
    for (const col of STATIO_COUNTERS)
      family('statio_user_tables', col, 'counter').add(labels, num(row[col]));
  }
  for (const [datname, n] of left) notExported.add({ ...base, datname }, n);
  return [...families.values(), notExported];
}

/** postgres_exporter's self metric, which its community alerts watch: 1 when the last scrape failed. */
export function lastScrapeErrorFamily(failed: 0 | 1, base: Labels): MetricFamily {
  return gauge(
    'pg_exporter_last_scrape_error',
    'Whether the last scrape of metrics from PostgreSQL resulted in an error (1 for error, 0 for success).',
  ).add({ ...base }, failed);
}
