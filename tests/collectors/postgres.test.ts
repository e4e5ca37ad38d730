// The PostgreSQL collector against a real PostgreSQL 15: each value is compared with what psql
// reports for the same state.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exporterMetricNames } from '../support/exporter-metric-names.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { helpOf, matching, samples, seriesCount, single } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { run, tempDir, waitFor } from '../support/util.js';

const PASSWORD = 'pw-from-file-7c1e';
const UNUSED_SQL = `select count(*) from pg_stat_user_indexes s join pg_index i on i.indexrelid = s.indexrelid
  where s.idx_scan = 0 and not (i.indisunique or i.indisprimary)`;

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return await res.text();
}

/** psql rows `a|b|n` → map `a|b` → n. */
function table(out: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of out.split('\n').filter(Boolean)) {
    const cells = line.split('|');
    m.set(cells.slice(0, -1).join('|'), Number(cells.at(-1)));
  }
  return m;
}

describe('PostgreSQL collector on a real PostgreSQL 15', () => {
  let server: PostgresServer;
  let sw: StackwatchHandle;
  let metricsUrl: string;
  const clients: pg.Client[] = [];
  const tmp = tempDir('swpgt');

  const client = async (db: string): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: server.dsn(db), application_name: 'test-session' });
    await c.connect();
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startPostgres();
    await server.psql('create database app');
    await server.psql('create database scratch');
    await server.psql('create database ignored_db');
    await server.psql(
      `create table items(id int primary key, sku text unique, qty int);
       create index items_qty on items(qty);
       insert into items select g, 'sku' || g, g % 10 from generate_series(1, 2000) g;
       analyze items;`,
      'app',
    );
    const dsnFile = join(tmp.path, 'dsn');
    writeFileSync(dsnFile, server.dsn('postgres', PASSWORD) + '\n');
    sw = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  postgres:
    database_exclude: 'ignored_.*'
    statements: { include_query: true, query_length: 60 }
    # Sizes and index statistics sampled at every scrape, so each test sees the state it just made.
    sample_interval: 0s
    targets:
      - name: main
        dsn_file: ${dsnFile}
      - name: nostats
        dsn: ${server.dsn('app', PASSWORD)}
`,
    });
    metricsUrl = `${sw.url}/probe?target=main`;
    // One scrape opens the pool's connections, so the next ones see a steady set of sessions.
    await scrape(metricsUrl);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await sw?.stop();
    await server?.destroy();
    tmp.cleanup();
  });

  it('reports connections by database and state as pg_stat_activity shows them', async () => {
    await client('app');
    await client('app');
    const inTx = await client('app');
    await inTx.query('begin');
    await inTx.query('select 1');
    const sql = `select datname, state, count(*) from pg_stat_activity
                 where datname = 'app' and state is not null group by 1, 2 order by 1, 2`;
    await waitFor(
      async () => {
        const before = await server.psql(sql, 'postgres');
        const text = await scrape(metricsUrl);
        const after = await server.psql(sql, 'postgres');
        if (before !== after) return false;
        const expected = table(after);
        expect(expected.get('app|idle')).toBeGreaterThanOrEqual(2);
        expect(expected.get('app|idle in transaction')).toBe(1);
        for (const s of matching(text, 'pg_stat_activity_count', { datname: 'app' }))
          expect([s.labels.state, s.value]).toEqual([
            s.labels.state,
            expected.get(`app|${s.labels.state}`) ?? 0,
          ]);
        expect(matching(text, 'pg_stat_activity_count', { datname: 'app' })).toHaveLength(6);
        return true;
      },
      20_000,
      'a steady pg_stat_activity',
    );
    await inTx.query('rollback');
  });

  it('reports a held row lock, the waiting request and the blocked session', async () => {
    const holder = await client('app');
    const waiter = await client('app');
    await holder.query('begin');
    await holder.query('update items set qty = qty + 1 where id = 1');
    const waiting = waiter.query('update items set qty = qty + 2 where id = 1');
    await waitFor(
      async () => (await server.psql('select count(*) from pg_locks where not granted')) === '1',
      10_000,
      'the waiting lock',
    );
    const text = await scrape(metricsUrl);
    expect(await server.psql('select count(*) from pg_locks where not granted')).toBe('1');
    const waitingMode = await server.psql('select lower(mode) from pg_locks where not granted');
    expect(single(text, 'pg_locks_waiting', { datname: 'app', mode: waitingMode })).toBe(1);
    expect(samples(text, 'pg_locks_waiting').reduce((a, s) => a + s.value, 0)).toBe(1);
    expect(
      await server.psql(
        "select count(*) from pg_stat_activity where datname = 'app' and cardinality(pg_blocking_pids(pid)) > 0",
      ),
    ).toBe('1');
    expect(single(text, 'pg_blocked_sessions', { datname: 'app' })).toBe(1);
    expect(single(text, 'pg_blocked_sessions', { datname: 'postgres' })).toBe(0);

    // Held locks in `app` per mode, as pg_locks has them (psql runs in `postgres`, so it adds none).
    const held = table(
      await server.psql(`select lower(mode), count(*) from pg_locks l join pg_database d on d.oid = l.database
                         where d.datname = 'app' group by 1`),
    );
    expect(held.get('rowexclusivelock')).toBeGreaterThan(0);
    // Every mode is exported, zero-filled, so the loop below sees each of pg_locks' modes.
    expect(matching(text, 'pg_locks_count', { datname: 'app' }).map((s) => s.labels.mode)).toEqual(
      expect.arrayContaining([...held.keys()]),
    );
    for (const s of matching(text, 'pg_locks_count', { datname: 'app' }))
      expect([s.labels.mode, s.value]).toEqual([s.labels.mode, held.get(s.labels.mode as string) ?? 0]);

    expect(
      single(text, 'pg_stat_activity_max_tx_duration', { datname: 'app', state: 'idle in transaction' }),
    ).toBeGreaterThan(0);
    expect(single(text, 'pg_stat_activity_max_query_duration_seconds', { datname: 'app' })).toBeGreaterThan(
      0,
    );
    await holder.query('rollback');
    await waiting;
    const after = await scrape(metricsUrl);
    expect(single(after, 'pg_blocked_sessions', { datname: 'app' })).toBe(0);
    expect(samples(after, 'pg_locks_waiting').reduce((a, s) => a + s.value, 0)).toBe(0);
  });

  it('reports database sizes and pg_stat_database as psql does, for the discovered databases only', async () => {
    const sizes = table(
      await server.psql('select datname, pg_database_size(datname) from pg_database where not datistemplate'),
    );
    const text = await scrape(metricsUrl);
    const ours = new Map(samples(text, 'pg_database_size_bytes').map((s) => [s.labels.datname, s.value]));
    expect([...ours.keys()].sort()).toEqual(['app', 'postgres', 'scratch']);
    for (const [datname, bytes] of ours)
      expect([datname, bytes]).toEqual([datname, sizes.get(datname as string)]);

    const datids = table(await server.psql("select datname, oid from pg_database where datname = 'app'"));
    const commits = single(text, 'pg_stat_database_xact_commit', {
      datname: 'app',
      datid: String(datids.get('app')),
    });
    expect(commits).toBeGreaterThan(0);
    expect(single(text, 'pg_settings_max_connections', {})).toBe(
      Number(await server.psql('show max_connections')),
    );
    expect(single(text, 'pg_replication_lag_seconds', {})).toBe(0);
    expect(samples(text, 'pg_stat_database_numbackends').map((s) => s.labels.datname)).not.toContain(
      'ignored_db',
    );
  });

  it('reports a database created or dropped since the last scrape in the very next scrape', async () => {
    const names = (text: string, name: string) =>
      samples(text, name)
        .map((s) => s.labels.datname)
        .sort();
    expect(names(await scrape(metricsUrl), 'pg_stat_database_xact_commit')).toEqual([
      'app',
      'postgres',
      'scratch',
    ]);
    await server.psql('create database later');
    try {
      const text = await scrape(metricsUrl);
      expect(names(text, 'pg_stat_database_xact_commit')).toEqual(['app', 'later', 'postgres', 'scratch']);
      expect(names(text, 'pg_database_size_bytes')).toEqual(['app', 'later', 'postgres', 'scratch']);
    } finally {
      await server.psql('drop database later');
    }
    expect(names(await scrape(metricsUrl), 'pg_stat_database_xact_commit')).toEqual([
      'app',
      'postgres',
      'scratch',
    ]);
  });

  it('reports statement counts and the slow-query view as pg_stat_statements does', async () => {
    const c = await client('app');
    // A predicate no index covers: items_qty must stay unused for the index test below.
    for (let i = 0; i < 7; i++) await c.query('select count(*) from items where qty + 0 = $1', [i]);
    await c.query('select pg_sleep(0.3)');
    const [queryid, calls] = (
      await server.psql(
        "select queryid, calls from pg_stat_statements where query like '%from items where qty + $2 = $1%'",
      )
    ).split('|');
    expect(calls).toBe('7');
    const text = await scrape(metricsUrl);
    expect(
      single(text, 'pg_stat_statements_calls_total', {
        datname: 'app',
        user: 'postgres',
        queryid: queryid as string,
      }),
    ).toBe(7);
    expect(single(text, 'pg_stat_statements_rows_total', { queryid: queryid as string })).toBe(7);
    expect(single(text, 'pg_stat_statements_query_id', { queryid: queryid as string })).toBe(1);
    expect(
      matching(text, 'pg_stat_statements_query_id', { queryid: queryid as string })[0]?.labels.query,
    ).toBe('select count(*) from items where qty + $2 = $1');

    const [sleepId, sleepMean] = (
      await server.psql(
        "select queryid, mean_exec_time / 1000 from pg_stat_statements where query like 'select pg_sleep%'",
      )
    ).split('|');
    const slow = samples(text, 'pg_stat_statements_mean_seconds');
    expect(slow.length).toBeGreaterThan(0);
    expect(slow.length).toBeLessThanOrEqual(10);
    const sleep = matching(text, 'pg_stat_statements_mean_seconds', { queryid: sleepId as string });
    expect(sleep).toHaveLength(1);
    expect(sleep[0]?.value).toBeCloseTo(Number(sleepMean), 6);
    expect(sleep[0]?.value).toBeGreaterThanOrEqual(0.3);
  });

  it('counts the unused index and reports per-index scans as pg_stat_user_indexes does', async () => {
    const c = await client('app');
    await c.query('select * from items where id = 5');
    await waitFor(
      async () =>
        (await server.psql(
          "select idx_scan from pg_stat_user_indexes where indexrelname = 'items_pkey'",
          'app',
        )) !== '0',
      10_000,
      'index statistics',
    );
    const unused = await server.psql(UNUSED_SQL, 'app');
    expect(unused).toBe('1');
    const text = await scrape(metricsUrl);
    expect(single(text, 'pg_unused_indexes', { datname: 'app' })).toBe(1);
    expect(single(text, 'pg_unused_indexes', { datname: 'scratch' })).toBe(0);
    const scans = Number(
      await server.psql("select idx_scan from pg_stat_user_indexes where indexrelname = 'items_pkey'", 'app'),
    );
    expect(
      single(text, 'pg_stat_user_indexes_idx_scan_total', {
        datname: 'app',
        schemaname: 'public',
        relname: 'items',
        indexrelname: 'items_pkey',
      }),
    ).toBe(scans);
    expect(single(text, 'pg_stat_user_indexes_idx_scan_total', { indexrelname: 'items_qty' })).toBe(0);
  });

  it('labels every sample with its target on /metrics and none on /probe', async () => {
    const all = await scrape(`${sw.url}/metrics`);
    expect(
      samples(all, 'pg_up')
        .map((s) => s.labels)
        .sort((a, b) => (a.target ?? '').localeCompare(b.target ?? '')),
    ).toEqual([{ target: 'main' }, { target: 'nostats' }]);
    const probe = await scrape(metricsUrl);
    expect(samples(probe, 'pg_up')).toEqual([{ labels: {}, value: 1 }]);
    expect(probe).not.toContain('target=');
  });

  it('turns statement metrics off quietly where pg_stat_statements is missing, with one log line', async () => {
    // `nostats` connects to `app`, where the extension was never created.
    for (let i = 0; i < 3; i++) {
      const text = await scrape(`${sw.url}/probe?target=nostats`);
      expect(single(text, 'pg_up', {})).toBe(1);
      expect(samples(text, 'pg_stat_statements_calls_total')).toEqual([]);
      expect(samples(text, 'pg_stat_activity_count').length).toBeGreaterThan(0);
    }
    const lines = sw
      .logs()
      .split('\n')
      .filter((l) => l.includes('pg_stat_statements is not available'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"collector":"postgres/nostats"');
  });

  it('never shows the DSN password in metrics or logs, and passes promtool check metrics', async () => {
    const text = await scrape(`${sw.url}/metrics`);
    expect(text).not.toContain(PASSWORD);
    expect(sw.logs()).not.toContain(PASSWORD);
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('keeps series bounded on a busy instance: top 100 statements, 50 indexes', async () => {
    const c = await client('app');
    for (let i = 0; i < 60; i++)
      await c.query(`create index items_extra_${i} on items(qty, id) where id > ${i}`);
    // Constants are normalised away; a different expression shape makes a different statement.
    for (let i = 1; i <= 300; i++)
      await c.query(`select ${Array.from({ length: i }, (_, k) => k).join(' + ')}`);
    const text = await scrape(metricsUrl);
    const statementsKnown = Number(await server.psql('select count(*) from pg_stat_statements'));
    expect(statementsKnown).toBeGreaterThan(300);
    // The top 100 by total time, plus those of the 10 slowest by mean that are not among them.
    const statements = samples(text, 'pg_stat_statements_calls_total').length;
    expect(statements).toBeGreaterThanOrEqual(100);
    expect(statements).toBeLessThanOrEqual(110);
    expect(samples(text, 'pg_stat_user_indexes_idx_scan_total')).toHaveLength(50);
    expect(single(text, 'pg_unused_indexes', { datname: 'app' })).toBe(61);
    // The numeric server parameters are one constant series each, as with postgres_exporter (about
    // 250): exactly as many as the server has; everything else stays under 800.
    const settings = seriesCount(text, 'pg_settings_');
    const numericParameters = Number(
      await server.psql(
        "select count(*) from pg_settings where vartype in ('bool', 'integer', 'real') and name <> 'sync_commit_cancel_wait'",
      ),
    );
    expect(settings).toBe(numericParameters);
    const series = seriesCount(text, 'pg_') - settings;
    expect(series).toBeLessThan(800);
  });

  it('reads the server parameters once, and again after a configuration reload', async () => {
    // How often stackwatch has read pg_settings, as pg_stat_statements counts it.
    const settingsReads = async () =>
      Number(
        await server.psql(
          "select coalesce(sum(calls), 0) from pg_stat_statements where query like 'SELECT name, CASE WHEN source =%'",
        ),
      );
    await scrape(metricsUrl);
    const reads = await settingsReads();
    expect(reads).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      const text = await scrape(metricsUrl);
      expect(single(text, 'pg_settings_work_mem_bytes', {})).toBe(4 * 1024 * 1024);
    }
    expect(await settingsReads()).toBe(reads);
    expect(helpOf(await scrape(metricsUrl), 'pg_settings_work_mem_bytes')).toContain(
      'Cached until a configuration reload or restart',
    );

    await server.psql("alter system set work_mem = '7MB'");
    await server.psql('select pg_reload_conf()');
    try {
      await waitFor(
        async () => single(await scrape(metricsUrl), 'pg_settings_work_mem_bytes', {}) === 7 * 1024 * 1024,
        20_000,
        'the reloaded work_mem',
      );
      expect(await settingsReads()).toBeGreaterThan(reads);
    } finally {
      await server.psql('alter system reset work_mem');
      await server.psql('select pg_reload_conf()');
    }
  });

  it('reports a running VACUUM, the WAL segments and pg_stat_wal as the server shows them', async () => {
    await server.psql(
      "create table bloated(id int, pad text); insert into bloated select g, repeat('x', 100) from generate_series(1, 20000) g; delete from bloated where id % 2 = 0",
    );
    // A VACUUM slowed down so that it is still scanning while the test looks at it.
    const vacuuming = await client('postgres');
    await vacuuming.query("set vacuum_cost_delay = '100ms'; set vacuum_cost_limit = 1");
    const pid = (await vacuuming.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    const vacuum = vacuuming.query('vacuum bloated').catch((err: Error) => err.message);
    try {
      const progressSql = `select phase, heap_blks_total from pg_stat_progress_vacuum p
        join pg_class c on c.oid = p.relid where c.relname = 'bloated'`;
      await waitFor(async () => (await server.psql(progressSql)) !== '', 20_000, 'the VACUUM to start');
      await waitFor(
        async () => {
          const before = await server.psql(progressSql);
          const text = await scrape(metricsUrl);
          if ((await server.psql(progressSql)) !== before) return false;
          const [phase, blocks] = before.split('|');
          const table = { datname: 'postgres', relname: 'bloated' };
          expect(
            matching(text, 'pg_stat_progress_vacuum_phase', { ...table, phase }).map((s) => s.value),
          ).toEqual([1]);
          expect(
            matching(text, 'pg_stat_progress_vacuum_phase', table).reduce((a, s) => a + s.value, 0),
          ).toBe(1);
          expect(single(text, 'pg_stat_progress_vacuum_heap_blks', table)).toBe(Number(blocks));
          expect(single(text, 'pg_stat_progress_vacuum_heap_blks_scanned', table)).toBeLessThanOrEqual(
            Number(blocks),
          );
          return true;
        },
        20_000,
        'a steady VACUUM phase',
      );
    } finally {
      await server.psql(`select pg_cancel_backend(${pid})`);
    }
    expect(await vacuum).toContain('canceling statement');
    const done = await scrape(metricsUrl);
    expect(matching(done, 'pg_stat_progress_vacuum_phase', { relname: 'bloated' })).toEqual([]);

    const segmentsSql = "select count(*), sum(size) from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$'";
    const recordsBefore = Number(await server.psql('select wal_records from pg_stat_wal'));
    const segmentsBefore = await server.psql(segmentsSql);
    const text = await scrape(metricsUrl);
    const recordsAfter = Number(await server.psql('select wal_records from pg_stat_wal'));
    if ((await server.psql(segmentsSql)) === segmentsBefore) {
      const [segments, bytes] = segmentsBefore.split('|').map(Number);
      expect(single(text, 'pg_wal_segments', {})).toBe(segments);
      expect(single(text, 'pg_wal_size_bytes', {})).toBe(bytes);
    }
    const records = single(text, 'pg_stat_wal_wal_records_total', {}) as number;
    expect(records).toBeGreaterThanOrEqual(recordsBefore);
    expect(records).toBeLessThanOrEqual(recordsAfter);
    // To the millisecond: the view's microseconds go through a JSON timestamp.
    expect(single(text, 'pg_stat_wal_stats_reset', {})).toBeCloseTo(
      Number(await server.psql('select extract(epoch from stats_reset) from pg_stat_wal')),
      2,
    );
  });

  it('exports every PostgreSQL name the shipped rules and dashboards use', async () => {
    const text = await scrape(`${sw.url}/metrics`);
    const missing = exporterMetricNames.postgres.filter((name) => samples(text, name).length === 0);
    expect(missing).toEqual([]);
  });

  it('takes DATABASE_URL as the target named default, with index statistics sampled once a minute', async () => {
    const viaEnv = await startStackwatch({ env: { DATABASE_URL: server.dsn('app', PASSWORD) } });
    try {
      const first = await scrape(`${viaEnv.url}/probe?target=default`);
      expect(samples(first, 'pg_up')).toEqual([{ labels: {}, value: 1 }]);
      const unused = single(first, 'pg_unused_indexes', { datname: 'app' });
      expect(unused).toBe(Number(await server.psql(UNUSED_SQL, 'app')));
      // A new unused index shows in pg_stat_user_indexes at once, in the sample only at the next interval.
      await server.psql('create index items_later on items(sku, qty)', 'app');
      const second = await scrape(`${viaEnv.url}/probe?target=default`);
      expect(Number(await server.psql(UNUSED_SQL, 'app'))).toBe((unused as number) + 1);
      expect(single(second, 'pg_unused_indexes', { datname: 'app' })).toBe(unused);
      expect(viaEnv.logs()).not.toContain(PASSWORD);
    } finally {
      await viaEnv.stop();
    }
  });
});
