// Row → family functions on rows captured from a real PostgreSQL 15 by
// tests/fixtures/postgres/capture.ts (database `app`, one session holding a row lock in an open
// transaction and one waiting for it, an unused index, a few statements).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ACTIVITY_STATES,
  activityFamilies,
  databaseSizeFamilies,
  indexFamilies,
  LOCK_MODES,
  lockFamilies,
  progressVacuumFamilies,
  replicationFamilies,
  selectDatabases,
  settingsFamilies,
  statDatabaseFamilies,
  statementFamilies,
  statWalFamilies,
  VACUUM_PHASES,
  walFamilies,
  type Row,
} from '../../src/collectors/postgres-queries.js';
import type { MetricFamily } from '../../src/metrics/exposition.js';

const fixture = (name: string): Row[] =>
  JSON.parse(readFileSync(new URL(`../fixtures/postgres/${name}.json`, import.meta.url), 'utf8')) as Row[];

const base = { target: 'main' };
const family = (fams: MetricFamily[], name: string): MetricFamily => {
  const f = fams.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name}`);
  return f;
};
const value = (fams: MetricFamily[], name: string, labels: Record<string, string>): number | undefined =>
  family(fams, name).samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('database selection', () => {
  const rows = fixture('databases');

  it('keeps every connectable database by default, in name order', () => {
    expect(selectDatabases(rows, { max: 50 }).selected.map((d) => d.datname)).toEqual([
      'app',
      'postgres',
      'scratch',
    ]);
  });

  it('applies include, then exclude, then the cap', () => {
    const sel = selectDatabases(rows, {
      include: /^(?:app|scratch|postgres)$/,
      exclude: /^(?:scratch)$/,
      max: 1,
    });
    expect(sel.selected).toEqual([{ datid: '16415', datname: 'app' }]);
    expect(sel.dropped).toEqual(['postgres']);
  });
});

describe('activity', () => {
  const fams = activityFamilies(fixture('activity'), ['app', 'postgres', 'scratch'], base);

  it('counts sessions by database and state, with every state zero-filled like postgres_exporter', () => {
    const count = family(fams, 'pg_stat_activity_count');
    expect(count.samples).toHaveLength(3 * ACTIVITY_STATES.length);
    expect(value(fams, 'pg_stat_activity_count', { datname: 'app', state: 'active' })).toBe(1);
    expect(value(fams, 'pg_stat_activity_count', { datname: 'app', state: 'idle in transaction' })).toBe(1);
    expect(value(fams, 'pg_stat_activity_count', { datname: 'scratch', state: 'idle' })).toBe(0);
    expect(count.samples[0]?.labels).toEqual({ target: 'main', datname: 'app', state: 'active' });
  });

  it('reports the open transaction, the longest query and the blocked session per database', () => {
    const app = fixture('activity').filter((r) => r.datname === 'app');
    const inTx = app.find((r) => r.state === 'idle in transaction') as Row;
    expect(
      value(fams, 'pg_stat_activity_max_tx_duration', { datname: 'app', state: 'idle in transaction' }),
    ).toBe(inTx.max_tx_duration);
    expect(inTx.max_tx_duration).toBeGreaterThan(0);
    expect(value(fams, 'pg_stat_activity_max_query_duration_seconds', { datname: 'app' })).toBe(
      Math.max(...app.map((r) => Number(r.max_query_duration))),
    );
    // The capture had exactly one session waiting for the row lock.
    expect(value(fams, 'pg_blocked_sessions', { datname: 'app' })).toBe(1);
    expect(value(fams, 'pg_blocked_sessions', { datname: 'postgres' })).toBe(0);
  });
});

describe('locks', () => {
  const fams = lockFamilies(fixture('locks'), ['app', 'postgres'], base);

  it('reports held locks per mode, zero-filled, and the waiting request under the waiter’s database', () => {
    expect(family(fams, 'pg_locks_count').samples).toHaveLength(2 * LOCK_MODES.length);
    const rowExclusive = fixture('locks').find(
      (r) => r.kind === 'held' && r.datname === 'app' && r.mode === 'rowexclusivelock',
    ) as Row;
    expect(value(fams, 'pg_locks_count', { datname: 'app', mode: 'rowexclusivelock' })).toBe(
      rowExclusive.count,
    );
    expect(value(fams, 'pg_locks_count', { datname: 'app', mode: 'sireadlock' })).toBe(0);
    expect(value(fams, 'pg_locks_waiting', { datname: 'app', mode: 'sharelock' })).toBe(1);
    const waitingTotal = family(fams, 'pg_locks_waiting').samples.reduce((a, s) => a + s.value, 0);
    expect(waitingTotal).toBe(1);
  });

  it('leaves out databases that were not selected', () => {
    const only = lockFamilies(fixture('locks'), ['postgres'], base);
    expect(family(only, 'pg_locks_count').samples.every((s) => s.labels.datname === 'postgres')).toBe(true);
  });
});

describe('pg_stat_database, sizes, settings, replication', () => {
  it('turns bigint strings into numbers with datid and datname labels', () => {
    const fams = statDatabaseFamilies(fixture('stat_database'), base);
    const postgres = fixture('stat_database').find((r) => r.datname === 'postgres') as Row;
    expect(typeof postgres.xact_commit).toBe('string');
    expect(value(fams, 'pg_stat_database_xact_commit', { datname: 'postgres' })).toBe(
      Number(postgres.xact_commit),
    );
    // Two sessions (the lock holder and the waiter) were connected to `app`.
    expect(value(fams, 'pg_stat_database_numbackends', { datname: 'app' })).toBe(2);
    expect(family(fams, 'pg_stat_database_blks_hit').samples[0]?.labels).toEqual({
      target: 'main',
      datid: '5',
      datname: 'postgres',
    });
    expect(family(fams, 'pg_stat_database_numbackends').type).toBe('gauge');
  });

  it('reports sizes, max_connections and a primary’s zero lag', () => {
    const sizes = databaseSizeFamilies(fixture('database_size'), base);
    expect(
      family(sizes, 'pg_database_size_bytes')
        .samples.map((s) => s.labels.datname)
        .sort(),
    ).toEqual(['app', 'postgres', 'scratch']);
    expect(value(settingsFamilies(fixture('settings'), base), 'pg_settings_max_connections', {})).toBe(100);
    const repl = replicationFamilies(fixture('replication')[0], base);
    expect(value(repl, 'pg_replication_lag_seconds', {})).toBe(0);
    expect(value(repl, 'pg_replication_is_replica', {})).toBe(0);
  });
});

describe('statements', () => {
  const rows = fixture('statements');
  const fams = statementFamilies(rows, base);

  it('reports each (datname, user, queryid) once, from the top-by-total and the slow lists together', () => {
    const keys = new Set(rows.map((r) => `${String(r.datname)}/${String(r.user)}/${String(r.queryid)}`));
    const calls = family(fams, 'pg_stat_statements_calls_total').samples;
    expect(calls).toHaveLength(keys.size);
    expect(Object.keys(calls[0]?.labels ?? {}).sort()).toEqual(['datname', 'queryid', 'target', 'user']);
    const first = rows[0] as Row;
    expect(value(fams, 'pg_stat_statements_seconds_total', { queryid: String(first.queryid) })).toBe(
      first.seconds,
    );
  });

  it('gives the slow-query view as mean seconds for the rows ranked by mean', () => {
    const slow = rows.filter((r) => r.rank_by === 'mean');
    expect(slow.length).toBeGreaterThan(0);
    const mean = family(fams, 'pg_stat_statements_mean_seconds').samples;
    expect(mean).toHaveLength(slow.length);
    const top = slow[0] as Row;
    expect(mean[0]?.value).toBeCloseTo(Number(top.seconds) / Number(top.calls), 12);
  });

  it('maps each queryid to its truncated text once', () => {
    const text = family(fams, 'pg_stat_statements_query_id').samples;
    expect(new Set(text.map((s) => s.labels.queryid)).size).toBe(text.length);
    expect(text.every((s) => (s.labels.query ?? '').length <= 40)).toBe(true);
  });
});

describe('indexes', () => {
  const app = { datname: 'app', rows: fixture('indexes_app') };

  it('counts the never-scanned index that enforces nothing as unused, not the unique one', () => {
    const fams = indexFamilies([app, { datname: 'postgres', rows: [] }], 50, base);
    expect(value(fams, 'pg_unused_indexes', { datname: 'app' })).toBe(1);
    expect(value(fams, 'pg_unused_indexes', { datname: 'postgres' })).toBe(0);
    expect(value(fams, 'pg_stat_user_indexes_idx_scan_total', { indexrelname: 'items_pkey' })).toBe(1);
    expect(value(fams, 'pg_stat_user_indexes_idx_scan_total', { indexrelname: 'items_qty' })).toBe(0);
  });

  it('keeps per-index series for the largest indexes only, up to the limit', () => {
    const fams = indexFamilies([app], 2, base);
    expect(
      family(fams, 'pg_stat_user_indexes_idx_tup_read_total').samples.map((s) => s.labels.indexrelname),
    ).toEqual(['items_sku_key', 'items_pkey']);
    // The count of unused indexes still covers all of them.
    expect(value(fams, 'pg_unused_indexes', { datname: 'app' })).toBe(1);
  });
});

// Rows of PROGRESS_VACUUM_SQL, WAL_SQL and STAT_WAL_SQL captured from PostgreSQL 15 during a
// VACUUM slowed by vacuum_cost_delay (pg_stat_progress_vacuum showed `scanning heap`, 345 blocks).
const VACUUM_ROW: Row = {
  datname: 'postgres',
  relname: 'big',
  phase: 1,
  heap_blks_total: 345,
  heap_blks_scanned: 1,
  heap_blks_vacuumed: 0,
  index_vacuum_count: 0,
  max_dead_tuples: 291,
  num_dead_tuples: 29,
};
const WAL_ROW: Row = { segments: 1, size_bytes: 16777216 };
const STAT_WAL_ROW: Row = {
  stats: {
    wal_fpi: 491,
    wal_sync: 0,
    wal_bytes: 9040887,
    wal_write: 739,
    stats_reset: '2026-12-07T17:59:26.753345+00:00',
    wal_records: 54864,
    wal_sync_time: 0,
    wal_write_time: 0,
    wal_buffers_full: 0,
  },
};

describe('vacuum progress and WAL', () => {
  it('reports a running VACUUM as postgres_exporter does: every phase, 1 for the current one, and its counters', () => {
    const fams = progressVacuumFamilies([VACUUM_ROW], base);
    const table = { datname: 'postgres', relname: 'big' };
    expect(
      family(fams, 'pg_stat_progress_vacuum_phase').samples.map((s) => [s.labels.phase, s.value]),
    ).toEqual(VACUUM_PHASES.map((p) => [p, p === 'scanning heap' ? 1 : 0]));
    expect(value(fams, 'pg_stat_progress_vacuum_heap_blks', table)).toBe(345);
    expect(value(fams, 'pg_stat_progress_vacuum_heap_blks_scanned', table)).toBe(1);
    expect(value(fams, 'pg_stat_progress_vacuum_heap_blks_vacuumed', table)).toBe(0);
    expect(value(fams, 'pg_stat_progress_vacuum_index_vacuums', table)).toBe(0);
    expect(value(fams, 'pg_stat_progress_vacuum_max_dead_tuples', table)).toBe(291);
    expect(value(fams, 'pg_stat_progress_vacuum_num_dead_tuples', table)).toBe(29);
    expect(Object.keys(family(fams, 'pg_stat_progress_vacuum_heap_blks').samples[0]?.labels ?? {})).toEqual([
      'target',
      'datname',
      'relname',
    ]);
    // Nothing running: no series, as with postgres_exporter.
    expect(progressVacuumFamilies([], base).every((f) => f.samples.length === 0)).toBe(true);
  });

  it('names a VACUUM of a database or table it cannot resolve `unknown`, with no phase set for an unknown phase', () => {
    const fams = progressVacuumFamilies([{ ...VACUUM_ROW, datname: null, relname: null, phase: null }], base);
    const phases = family(fams, 'pg_stat_progress_vacuum_phase').samples;
    expect(phases.every((s) => s.labels.datname === 'unknown' && s.labels.relname === 'unknown')).toBe(true);
    expect(phases.map((s) => s.value)).toEqual(VACUUM_PHASES.map(() => 0));
  });

  it('reports the WAL segments and their size, and leaves the size out when there is no segment', () => {
    expect(walFamilies(WAL_ROW, base).map((f) => [f.name, f.samples[0]?.value])).toEqual([
      ['pg_wal_segments', 1],
      ['pg_wal_size_bytes', 16777216],
    ]);
    expect(walFamilies({ segments: 0, size_bytes: null }, base).map((f) => f.name)).toEqual([
      'pg_wal_segments',
    ]);
    // A role that may not list pg_wal has no row at all.
    expect(walFamilies(undefined, base)).toEqual([]);
  });

  it('reports every pg_stat_wal column the server has, the reset time in seconds since the epoch', () => {
    const fams = statWalFamilies(STAT_WAL_ROW, base);
    expect(value(fams, 'pg_stat_wal_wal_records_total', {})).toBe(54864);
    expect(family(fams, 'pg_stat_wal_wal_records_total').type).toBe('counter');
    expect(value(fams, 'pg_stat_wal_wal_bytes', {})).toBe(9040887);
    expect(value(fams, 'pg_stat_wal_wal_fpi', {})).toBe(491);
    expect(value(fams, 'pg_stat_wal_stats_reset', {})).toBe(Date.parse('2026-12-07T17:59:26.753Z') / 1000);
    expect(fams.map((f) => f.name).sort()).toEqual([
      'pg_stat_wal_stats_reset',
      'pg_stat_wal_wal_buffers_full',
      'pg_stat_wal_wal_bytes',
      'pg_stat_wal_wal_fpi',
      'pg_stat_wal_wal_records_total',
      'pg_stat_wal_wal_sync',
      'pg_stat_wal_wal_sync_time',
      'pg_stat_wal_wal_write',
      'pg_stat_wal_wal_write_time',
    ]);
    // PostgreSQL 18 has moved the write and sync columns to pg_stat_io: fewer families, no error.
    const {
      wal_write: _w,
      wal_sync: _s,
      wal_write_time: _wt,
      wal_sync_time: _st,
      ...pg18
    } = STAT_WAL_ROW.stats as Record<string, unknown>;
    expect(statWalFamilies({ stats: pg18 }, base)).toHaveLength(5);
  });
});
