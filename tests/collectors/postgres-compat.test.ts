// Debian's prometheus-postgres-exporter (0.11) and stackwatch scrape the same PostgreSQL: every
// PostgreSQL family of SPEC §1.2 that the exporter has exists in both, with the same label
// names, so dashboards and alerts written for postgres_exporter work unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, startProcess, waitFor, type Proc } from '../support/util.js';

const EXPORTER = '/usr/bin/prometheus-postgres-exporter';

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
 * replication), not in Debian's 0.11; their label names as upstream declares them.
 */
const NEWER_FAMILIES: Record<string, string[]> = {
  pg_stat_statements_calls_total: ['datname', 'queryid', 'user'],
  pg_stat_statements_seconds_total: ['datname', 'queryid', 'user'],
  pg_stat_statements_rows_total: ['datname', 'queryid', 'user'],
  pg_replication_lag_seconds: [],
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
    const port = await freePort();
    exporter = startProcess(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], {
      env: { ...process.env, DATA_SOURCE_NAME: `${server.dsn('postgres')}?sslmode=disable` },
    });
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

  it('has the newer collectors’ families with upstream’s label names', async () => {
    const ours = await (await fetch(`${sw.url}/probe?target=main`)).text();
    for (const [family, labels] of Object.entries(NEWER_FAMILIES))
      expect({ family, labels: labelNames(ours, family) }).toEqual({ family, labels: [labels] });
  });
});
