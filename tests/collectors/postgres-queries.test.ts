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
  replicationFamilies,
  selectDatabases,
  settingsFamilies,
  statDatabaseFamilies,
  statementFamilies,
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
