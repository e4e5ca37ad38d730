// PostgreSQL 13+ catalogue queries and the pure functions that turn their rows into metric
// families. Names and labels follow postgres_exporter where it has the metric; additions keep
// its `pg_` prefix. Nothing here does I/O, so every function is tested on captured rows.
import { counter, gauge, untyped, type Labels, type MetricFamily } from '../metrics/exposition.js';

/** A result row as node-postgres returns it: bigint and numeric columns arrive as strings. */
export type Row = Record<string, unknown>;

const num = (v: unknown): number => (v === null || v === undefined || v === '' ? NaN : Number(v));
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** Connectable, non-template databases, by name. */
export const DATABASES_SQL = `SELECT oid::text AS datid, datname FROM pg_database
 WHERE NOT datistemplate AND datallowconn ORDER BY datname`;

export const SETTINGS = [
  'max_connections',
  'superuser_reserved_connections',
  'max_locks_per_transaction',
  'max_prepared_transactions',
] as const;

/** current_setting() per name: the pg_settings view builds every parameter to show four. */
export const SETTINGS_SQL = `SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name`;

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

/** The server-wide views that need no database list. $1 the settings to read. */
export const SERVER_VIEWS_SQL = combinedSql({
  databases: DATABASES_SQL,
  settings: SETTINGS_SQL,
  replication: REPLICATION_SQL,
  activity: ACTIVITY_SQL,
  locks: LOCKS_SQL,
});

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
 * Per-index usage for one database, largest first, limited to $1 rows; the window columns
 * count unused indexes over all of them. Unique and primary-key indexes enforce constraints,
 * so an unused one is not a candidate for dropping and is not counted.
 */
export const INDEXES_SQL = `SELECT s.schemaname, s.relname, s.indexrelname,
 s.idx_scan::float8 AS idx_scan, s.idx_tup_read::float8 AS idx_tup_read, s.idx_tup_fetch::float8 AS idx_tup_fetch,
 pg_relation_size(s.indexrelid)::float8 AS bytes,
 count(*) FILTER (WHERE s.idx_scan = 0 AND NOT (i.indisunique OR i.indisprimary)) OVER ()::int AS unused,
 COALESCE(sum(pg_relation_size(s.indexrelid))
   FILTER (WHERE s.idx_scan = 0 AND NOT (i.indisunique OR i.indisprimary)) OVER (), 0)::float8 AS unused_bytes
 FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
 ORDER BY bytes DESC, s.schemaname, s.indexrelname LIMIT GREATEST($1::int, 1)`;

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
  const waiting = gauge('pg_locks_waiting', 'Lock requests not granted, by the waiting session’s database.');
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

export function settingsFamilies(rows: Row[], base: Labels): MetricFamily[] {
  return rows.map((r) =>
    gauge(`pg_settings_${str(r.name)}`, `Server Parameter: ${str(r.name)}.`).add({ ...base }, num(r.setting)),
  );
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
