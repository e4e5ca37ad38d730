// The manuals' "数据库锁表" incident against a real PostgreSQL 15: one table held in ACCESS
// EXCLUSIVE mode by an open transaction, a session queued behind it. The collector keeps
// reporting every database's size and the other tables' statistics, shows the lock and the
// waiting session, logs the incident once, stays within its connections and recovers when the
// lock is released. And a part of the background sample that cannot be read is served with its
// age, counted as a failing sample and logged once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { matching, samples, single, value } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { waitFor } from '../support/util.js';

const POOL_SIZE = 3;
/** Scrape connections plus the background sample's budget (pool_size − 1). */
const CONNECTION_BUDGET = POOL_SIZE + POOL_SIZE - 1;
const LOCK_LOGGED = 'relations held in ACCESS EXCLUSIVE mode';
const LOCK_CLEARED = 'no relation locked any more';
const OBJECTS_FAILING = 'table and index statistics could not be sampled';
const OBJECTS_AGAIN = 'table and index statistics sampled again';

/** psql rows `a|b` → map a → Number(b). */
function rows(out: string): Map<string, number> {
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const cells = line.split('|');
        return [cells.slice(0, -1).join('|'), Number(cells.at(-1))] as const;
      }),
  );
}

describe('PostgreSQL collector during a lock incident', () => {
  let server: PostgresServer;
  let sw: StackwatchHandle;
  const clients: pg.Client[] = [];

  const client = async (db: string): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: server.dsn(db), application_name: 'test-session' });
    await c.connect();
    clients.push(c);
    return c;
  };
  const scrape = async (target: string): Promise<string> => {
    const res = await fetch(`${sw.url}/probe?target=${target}`, {
      headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '10' },
    });
    expect(res.status).toBe(200);
    return await res.text();
  };
  const logLines = (msg: string) =>
    sw
      .logs()
      .split('\n')
      .filter((l) => l.includes(msg));
  const sampleSuccess = (text: string, target: string) =>
    value(text, 'stackwatch_scrape_collector_success', { collector: `postgres/${target}/sample` });

  beforeAll(async () => {
    server = await startPostgres();
    await server.psql('create database app');
    await server.psql('create database other');
    await server.psql(
      `create table orders(id int primary key, note text);
       insert into orders select g, repeat('x', 200) from generate_series(1, 3000) g;
       create table customers(id int primary key);
       insert into customers select generate_series(1, 700);
       analyze orders; analyze customers;`,
      'app',
    );
    await server.psql(
      'create table events(id int); insert into events select generate_series(1, 400); analyze events',
      'other',
    );
    // A monitoring role (pg_monitor, as postgres_exporter advises) for the second target: not a superuser.
    await server.psql('create role monitor login; grant pg_monitor to monitor');
    sw = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  postgres:
    pool_size: ${POOL_SIZE}
    # Sampled at every scrape, so that each scrape shows the state the test has just made.
    sample_interval: 0s
    targets:
      - name: main
        dsn: ${server.dsn('postgres')}
      - name: monitor
        dsn: ${server.dsn('postgres').replace('postgres@', 'monitor@')}
`,
    });
    expect(single(await scrape('main'), 'pg_up')).toBe(1);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await sw?.stop();
    await server?.destroy();
  });

  it('keeps every size and the other tables, shows the lock and the queued session, logs once, and recovers', async () => {
    const holder = await client('app');
    await holder.query('begin');
    await holder.query('lock table orders in access exclusive mode');
    const queued = await client('app');
    const reading = queued.query('select count(*) from orders');
    await waitFor(
      async () => (await server.psql('select count(*) from pg_locks where not granted')) === '1',
      20_000,
      'the session queued behind the lock',
    );

    // Several scrapes while the lock lasts, three at a time, with the server's sessions
    // watched meanwhile: stackwatch neither queues behind the lock nor exceeds its connections.
    const sessionsSql = `select count(*), count(*) filter (where wait_event_type = 'Lock')
      from pg_stat_activity where application_name = 'stackwatch' and usename = 'postgres'`;
    let scraping = true;
    const watched: { sessions: number; waiting: number }[] = [];
    const watching = (async () => {
      while (scraping) {
        const [sessions, waiting] = (await server.psql(sessionsSql)).split('|').map(Number);
        watched.push({ sessions: sessions as number, waiting: waiting as number });
      }
    })();
    const texts = (
      await Promise.all(
        Array.from({ length: 3 }, async () => {
          const out: string[] = [];
          for (let i = 0; i < 4; i++) out.push(await scrape('main'));
          return out;
        }),
      )
    ).flat();
    scraping = false;
    await watching;
    expect(watched.length).toBeGreaterThan(0);
    expect(Math.max(...watched.map((w) => w.sessions))).toBeLessThanOrEqual(CONNECTION_BUDGET);
    expect(watched.filter((w) => w.waiting > 0)).toEqual([]);
    for (const text of texts) {
      expect(single(text, 'pg_up')).toBe(1);
      expect(value(text, 'stackwatch_scrape_collector_success', { collector: 'postgres/main' })).toBe(1);
      expect(sampleSuccess(text, 'main')).toBe(1);
    }

    const before = rows(
      await server.psql('select datname, pg_database_size(datname) from pg_database where not datistemplate'),
    );
    const text = await scrape('main');
    const after = rows(
      await server.psql('select datname, pg_database_size(datname) from pg_database where not datistemplate'),
    );
    // Every database's size, within 1 % of what pg_database_size() says just before and after.
    const sizes = new Map(samples(text, 'pg_database_size_bytes').map((s) => [s.labels.datname, s.value]));
    expect([...sizes.keys()].sort()).toEqual(['app', 'other', 'postgres']);
    for (const [datname, bytes] of sizes) {
      const psql = [before.get(datname as string), after.get(datname as string)] as number[];
      const off = Math.min(...psql.map((expected) => Math.abs(bytes - expected) / expected));
      expect({ datname, withinOnePercent: off <= 0.01 }).toEqual({ datname, withinOnePercent: true });
    }

    // The statistics of the tables nobody locked, as pg_stat_user_tables has them; the locked
    // table's too (they need no lock), its size left out of the sample.
    const liveTuples = (datname: string, relname: string, from = text) =>
      matching(from, 'pg_stat_user_tables_n_live_tup', { datname, relname })[0]?.value;
    expect(liveTuples('app', 'customers')).toBe(
      Number(
        await server.psql("select n_live_tup from pg_stat_user_tables where relname = 'customers'", 'app'),
      ),
    );
    expect(liveTuples('other', 'events')).toBe(
      Number(
        await server.psql("select n_live_tup from pg_stat_user_tables where relname = 'events'", 'other'),
      ),
    );
    expect(liveTuples('app', 'orders')).toBe(3000);
    expect(single(text, 'pg_sample_locked_relations', { datname: 'app' })).toBe(1);
    expect(single(text, 'pg_sample_locked_relations', { datname: 'other' })).toBe(0);

    // The lock and the queued session, as pg_locks has them.
    const held = rows(
      await server.psql(`select lower(mode), count(*) from pg_locks l join pg_database d on d.oid = l.database
                         where d.datname = 'app' and l.mode = 'AccessExclusiveLock' group by 1`),
    );
    expect(held.get('accessexclusivelock')).toBeGreaterThanOrEqual(1);
    expect(single(text, 'pg_locks_count', { datname: 'app', mode: 'accessexclusivelock' })).toBe(
      held.get('accessexclusivelock'),
    );
    expect(single(text, 'pg_locks_waiting', { datname: 'app', mode: 'accesssharelock' })).toBe(1);
    expect(single(text, 'pg_blocked_sessions', { datname: 'app' })).toBe(1);

    // One log line for the incident, naming the table, however many samples saw it.
    const logged = logLines(LOCK_LOGGED);
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0] as string)).toMatchObject({
      collector: 'postgres/main',
      datname: 'app',
      locked: 1,
      relations: ['orders'],
    });
    expect(logLines(LOCK_CLEARED)).toEqual([]);

    // Released: the queued session goes through, the next sample sizes the table again.
    await holder.query('rollback');
    expect((await reading).rows[0]?.count).toBe('3000');
    const released = await scrape('main');
    expect(single(released, 'pg_sample_locked_relations', { datname: 'app' })).toBe(0);
    expect(single(released, 'pg_blocked_sessions', { datname: 'app' })).toBe(0);
    expect(sampleSuccess(released, 'main')).toBe(1);
    expect(liveTuples('app', 'orders', released)).toBe(3000);
    const cleared = logLines(LOCK_CLEARED);
    expect(cleared).toHaveLength(1);
    expect(JSON.parse(cleared[0] as string)).toMatchObject({ collector: 'postgres/main', datname: 'app' });
    expect(logLines(LOCK_LOGGED)).toHaveLength(1);
    // Between samples only the scrape connections stay open.
    await waitFor(
      async () => Number((await server.psql(sessionsSql)).split('|')[0]) <= POOL_SIZE,
      20_000,
      'the sample connections closed',
    );
  });

  it('serves a part that cannot be read with its age, as a failing sample logged once, until it reads again', async () => {
    const first = await scrape('monitor');
    expect(sampleSuccess(first, 'monitor')).toBe(1);
    expect(
      matching(first, 'pg_stat_user_tables_n_live_tup', { datname: 'other', relname: 'events' })[0]?.value,
    ).toBe(400);

    // The monitoring role may no longer connect to `other`: that database's statistics cannot be
    // read; its size still can (pg_database_size needs pg_monitor, not CONNECT).
    await server.psql('revoke connect on database other from public');
    const age = (text: string, sample: string, datname: string) =>
      value(text, 'pg_sample_age_seconds', { sample, datname }) as number;
    let failing = '';
    try {
      await waitFor(
        async () => {
          failing = await scrape('monitor');
          return age(failing, 'objects', 'other') > 1;
        },
        30_000,
        'the kept statistics of `other` to age',
        300,
      );
      expect(single(failing, 'pg_up')).toBe(1);
      expect(sampleSuccess(failing, 'monitor')).toBe(0);
      // The last values are still served; the parts that were read are younger.
      expect(
        matching(failing, 'pg_stat_user_tables_n_live_tup', { datname: 'other', relname: 'events' })[0]
          ?.value,
      ).toBe(400);
      expect(age(failing, 'objects', 'app')).toBeLessThan(age(failing, 'objects', 'other'));
      expect(age(failing, 'database_size', 'other')).toBeLessThan(age(failing, 'objects', 'other'));
      expect(
        samples(failing, 'pg_database_size_bytes')
          .map((s) => s.labels.datname)
          .sort(),
      ).toEqual(['app', 'other', 'postgres']);
      const logged = logLines(OBJECTS_FAILING);
      expect(logged).toHaveLength(1);
      expect(JSON.parse(logged[0] as string)).toMatchObject({
        collector: 'postgres/monitor',
        datname: 'other',
      });
      expect(logged[0]).toContain('permission denied for database');
      expect(logLines(OBJECTS_AGAIN)).toEqual([]);
    } finally {
      await server.psql('grant connect on database other to public');
    }
    const again = await scrape('monitor');
    expect(sampleSuccess(again, 'monitor')).toBe(1);
    expect(age(again, 'objects', 'other')).toBeLessThan(age(failing, 'objects', 'other'));
    const recovered = logLines(OBJECTS_AGAIN);
    expect(recovered).toHaveLength(1);
    expect(JSON.parse(recovered[0] as string)).toMatchObject({
      collector: 'postgres/monitor',
      datname: 'other',
    });
    expect(logLines(OBJECTS_FAILING)).toHaveLength(1);
  });
});
