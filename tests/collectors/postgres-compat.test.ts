// Debian's prometheus-postgres-exporter (0.11) and stackwatch scrape the same PostgreSQL: every
// PostgreSQL family of SPEC §1.2 that the exporter has exists in both, with the same label
// names, so dashboards and alerts written for postgres_exporter work unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { parseExposition, samples, seriesNames } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, startProcess, waitFor, type Proc } from '../support/util.js';

const EXPORTER = '/usr/bin/prometheus-postgres-exporter';
/** Debian's example queries: the per-table and postmaster families that 0.20 has built in. */
const EXTEND_QUERIES = '/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml';

/** SPEC §1.2 PostgreSQL families that postgres_exporter 0.11 exports by default. */
const SHARED_FAMILIES = [
  'pg_up',
  'pg_stat_activity_count',
  'pg_stat_activity_max_tx_duration',
  'pg_locks_count',
  'pg_database_size_bytes',
  'pg_stat_database_xact_commit',
  'pg_stat_database_xact_rollback',
  'pg_stat_database_blks_read',
  'pg_stat_database_blks_hit',
  'pg_stat_database_deadlocks',
  'pg_stat_database_temp_bytes',
  'pg_stat_database_conflicts',
  'pg_stat_database_tup_returned',
  'pg_stat_database_tup_fetched',
  'pg_stat_database_tup_inserted',
  'pg_stat_database_tup_updated',
  'pg_stat_database_tup_deleted',
  'pg_stat_database_numbackends',
  'pg_settings_max_connections',
];

/**
 * SPEC §1.2 families that come from postgres_exporter's newer collectors (0.12+: stat_statements,
 * replication, wal), not in Debian's 0.11; their label names as upstream declares them.
 */
const NEWER_FAMILIES: Record<string, string[]> = {
  pg_stat_statements_calls_total: ['datname', 'queryid', 'user'],
  pg_stat_statements_seconds_total: ['datname', 'queryid', 'user'],
  pg_stat_statements_rows_total: ['datname', 'queryid', 'user'],
  pg_replication_lag_seconds: [],
  // The wal collector (0.14+, on by default).
  pg_wal_segments: [],
  pg_wal_size_bytes: [],
};

/**
 * Label names of a family in one exposition. 0.11 adds `server` (the DSN's host:port) to its
 * built-in queries; stackwatch's /probe has no `target`; neither is part of the metric's meaning.
 */
function labelNames(text: string, family: string): string[][] {
  const sets = new Set(
    samples(text, family).map((s) =>
      Object.keys(s.labels)
        .filter((k) => k !== 'server' && k !== 'target')
        .sort()
        .join(','),
    ),
  );
  return [...sets].map((s) => (s ? s.split(',') : []));
}

describe('metric names and labels compared with postgres_exporter on the same server', () => {
  let server: PostgresServer;
  let exporter: Proc;
  let exporterUrl: string;
  let sw: StackwatchHandle;

  beforeAll(async () => {
    server = await startPostgres();
    await server.psql('create database app');
    await server.psql(
      'create table t(id int primary key); insert into t select generate_series(1, 100)',
      'app',
    );
    // A table in the DSN's database, which is the one the example queries read.
    await server.psql(
      'create table orders(id int primary key, note text); insert into orders select g, g::text from generate_series(1, 500) g; delete from orders where id <= 50; analyze orders',
    );
    await server.psql("select pg_create_physical_replication_slot('standby1')");
    const port = await freePort();
    exporter = startProcess(
      EXPORTER,
      [`--web.listen-address=127.0.0.1:${port}`, `--extend.query-path=${EXTEND_QUERIES}`],
      {
        env: { ...process.env, DATA_SOURCE_NAME: `${server.dsn('postgres')}?sslmode=disable` },
      },
    );
    exporterUrl = `http://127.0.0.1:${port}/metrics`;
    await waitFor(async () => (await fetch(exporterUrl)).ok, 20_000, 'postgres_exporter');
    sw = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  postgres:
    targets:
      - name: main
        dsn: ${server.dsn('postgres')}
`,
    });
  });

  afterAll(async () => {
    await sw?.stop();
    await exporter?.stop();
    await server?.destroy();
  });

  it('has every shared family in both, with the same label names', async () => {
    const theirs = await (await fetch(exporterUrl)).text();
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    expect(samples(theirs, 'pg_up')).toEqual([{ labels: {}, value: 1 }]);
    for (const family of SHARED_FAMILIES) {
      const t = labelNames(theirs, family);
      const o = labelNames(ours, family);
      expect({ family, exporter: t.length > 0 }).toEqual({ family, exporter: true });
      expect({ family, labels: o }).toEqual({ family, labels: t });
    }
  });

  it('writes every HELP text in Latin-1, as postgres_exporter does', async () => {
    // One character beyond Latin-1 anywhere makes the whole scrape a two-byte string: building
    // and encoding it then costs about three times as much.
    const ours = await (await fetch(`${sw.url}/metrics`)).text();
    const help = ours.split('\n').filter((l) => l.startsWith('# HELP '));
    expect(help.length).toBeGreaterThan(100);
    expect(help.filter((l) => [...l].some((c) => c.charCodeAt(0) > 0xff))).toEqual([]);
  });

  it('agrees on values that do not move between two scrapes', async () => {
    const theirs = await (await fetch(exporterUrl)).text();
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    expect(samples(ours, 'pg_settings_max_connections')[0]?.value).toBe(
      samples(theirs, 'pg_settings_max_connections')[0]?.value,
    );
    // The same states for each database, zeros included.
    const states = (text: string) =>
      samples(text, 'pg_stat_activity_count')
        .filter((s) => s.labels.datname === 'app')
        .map((s) => s.labels.state)
        .sort();
    expect(states(ours)).toEqual(states(theirs));
    const modes = (text: string) =>
      samples(text, 'pg_locks_count')
        .filter((s) => s.labels.datname === 'app')
        .map((s) => s.labels.mode)
        .sort();
    expect(modes(ours)).toEqual(modes(theirs));
    const datid = (text: string) =>
      samples(text, 'pg_stat_database_xact_commit').find((s) => s.labels.datname === 'app')?.labels.datid;
    expect(datid(ours)).toBe(datid(theirs));
  });

  it('has every numeric pg_settings_* family of the exporter, with its units and values', async () => {
    const theirs = await (await fetch(exporterUrl)).text();
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    const settings = (text: string) =>
      new Map(
        parseExposition(text)
          .flatMap((f) => f.samples)
          .filter((s) => s.name.startsWith('pg_settings_'))
          .map((s) => [s.name, s.value] as const),
      );
    const t = settings(theirs);
    const o = settings(ours);
    expect(t.size).toBeGreaterThan(200);
    expect([...o.keys()].sort()).toEqual([...t.keys()].sort());
    // extra_float_digits is what each client asks for at connection start, not the server's setting.
    t.delete('pg_settings_extra_float_digits');
    for (const [name, value] of t) expect({ name, value: o.get(name) }).toEqual({ name, value });
  });

  it('has the background writer, postmaster and per-table families with the exporter’s labels and values', async () => {
    const theirs = await (await fetch(exporterUrl)).text();
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    const families = (text: string, prefix: string) => seriesNames(text, prefix).sort();
    for (const prefix of [
      'pg_stat_bgwriter_',
      'pg_stat_user_tables_',
      'pg_statio_user_tables_',
      'pg_postmaster_',
    ]) {
      const t = families(theirs, prefix);
      expect({ prefix, exporter: t.length > 0 }).toEqual({ prefix, exporter: true });
      for (const family of t) {
        expect({ family, labels: labelNames(ours, family) }).toEqual({
          family,
          labels: labelNames(theirs, family),
        });
      }
    }
    // 0.11's example query rounds down to whole seconds; 0.20's collector keeps the fraction.
    expect(Math.floor(samples(ours, 'pg_postmaster_start_time_seconds')[0]?.value ?? 0)).toBe(
      samples(theirs, 'pg_postmaster_start_time_seconds')[0]?.value,
    );
    const orders = (text: string, family: string) =>
      samples(text, family).find((s) => s.labels.datname === 'postgres' && s.labels.relname === 'orders')
        ?.value;
    expect(orders(ours, 'pg_stat_user_tables_n_live_tup')).toBe(450);
    expect(orders(ours, 'pg_stat_user_tables_n_live_tup')).toBe(
      orders(theirs, 'pg_stat_user_tables_n_live_tup'),
    );
    expect(orders(ours, 'pg_stat_user_tables_n_tup_del')).toBe(
      orders(theirs, 'pg_stat_user_tables_n_tup_del'),
    );
    // The table of the other database too: stackwatch discovers databases.
    expect(
      samples(ours, 'pg_stat_user_tables_seq_scan').some(
        (s) => s.labels.datname === 'app' && s.labels.relname === 't',
      ),
    ).toBe(true);
  });

  it('labels its families with the exporter’s server label, so by (server) and group_left(server) work', async () => {
    const theirs = await (await fetch(exporterUrl)).text();
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    const server = samples(theirs, 'pg_settings_max_connections')[0]?.labels.server;
    expect(server).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const family of [
      'pg_settings_max_connections',
      'pg_stat_database_xact_commit',
      'pg_stat_activity_count',
      'pg_stat_user_tables_n_live_tup',
    ])
      expect({ family, servers: [...new Set(samples(ours, family).map((s) => s.labels.server))] }).toEqual({
        family,
        servers: [server],
      });
  });

  it('bounds the per-table series by include/exclude over schema.table and a cap, counting what the cap leaves out', async () => {
    await server.psql('create table if not exists small(id int)');
    const capped = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  postgres:
    tables: { limit: 1, exclude: 'public\\.t' }
    targets:
      - name: main
        dsn: ${server.dsn('postgres')}
`,
    });
    try {
      const text = await (await fetch(`${capped.url}/probe?target=main`)).text();
      const tables = samples(text, 'pg_stat_user_tables_n_live_tup').map(
        (s) => `${s.labels.datname}/${s.labels.relname}`,
      );
      // orders is the largest table left after the exclusion; small is over the cap, t excluded.
      expect(tables).toEqual(['postgres/orders']);
      expect(samples(text, 'pg_statio_user_tables_heap_blks_hit').map((s) => s.labels.relname)).toEqual([
        'orders',
      ]);
      const notExported = Object.fromEntries(
        samples(text, 'pg_stat_user_tables_not_exported').map((s) => [s.labels.datname, s.value]),
      );
      expect(notExported).toEqual({ app: 0, postgres: 1 });
    } finally {
      await capped.stop();
    }
  });

  it('reports replication slots under the community alerts’ and postgres_exporter 0.20’s names', async () => {
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    expect(
      samples(ours, 'pg_replication_slots_active').filter((s) => s.labels.slot_name === 'standby1'),
    ).toEqual([{ labels: expect.objectContaining({ slot_name: 'standby1', database: '' }), value: 0 }]);
    expect(labelNames(ours, 'pg_replication_slot_slot_is_active')).toEqual([['slot_name', 'slot_type']]);
    expect(samples(ours, 'pg_replication_slot_slot_is_active')[0]?.labels.slot_type).toBe('physical');
  });

  it('has the newer collectors’ families with upstream’s label names', async () => {
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    for (const [family, labels] of Object.entries(NEWER_FAMILIES))
      expect({ family, labels: labelNames(ours, family) }).toEqual({ family, labels: [labels] });
  });
});
