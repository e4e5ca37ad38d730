import pg from 'pg';
import type { z } from 'zod';
import type { postgresSection, postgresTarget } from '../config/databases.js';
import { redactUrl } from '../config/load.js';
import { errorText, type Logger } from '../logger.js';
import type { MetricFamily } from '../metrics/exposition.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import {
  ACTIVITY_SQL,
  activityFamilies,
  DATABASE_SIZE_SQL,
  databaseSizeFamilies,
  DATABASES_SQL,
  INDEXES_SQL,
  indexFamilies,
  LOCKS_SQL,
  lockFamilies,
  REPLICATION_SQL,
  replicationFamilies,
  selectDatabases,
  SETTINGS,
  SETTINGS_SQL,
  settingsFamilies,
  STAT_DATABASE_SQL,
  statDatabaseFamilies,
  STATEMENTS_MISSING_CODES,
  statementFamilies,
  statementsSql,
  upFamily,
  type Row,
} from './postgres-queries.js';

export type PostgresConfig = z.infer<typeof postgresSection>;
export type PostgresTargetConfig = z.infer<typeof postgresTarget>;

/** How long a missing pg_stat_statements is believed before it is looked for again. */
const STATEMENTS_RECHECK_MS = 10 * 60_000;

class Aborted extends Error {
  constructor() {
    super('scrape deadline passed');
  }
}

/** The password in a DSN (URL userinfo or `?password=`), so error text can be scrubbed of it. */
function dsnPassword(dsn: string): string | undefined {
  try {
    const u = new URL(dsn);
    return (
      (u.password ? decodeURIComponent(u.password) : undefined) ?? u.searchParams.get('password') ?? undefined
    );
  } catch {
    return /password=([^\s&]+)/.exec(dsn)?.[1];
  }
}

/** The DSN pointed at another database on the same server, with the same credentials. */
function dsnForDatabase(dsn: string, datname: string): string {
  const u = new URL(dsn);
  u.pathname = '/' + encodeURIComponent(datname);
  return u.toString();
}

function databaseOf(dsn: string): string {
  try {
    const u = new URL(dsn);
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    return db || decodeURIComponent(u.username) || 'postgres';
  } catch {
    return 'postgres';
  }
}

interface Conn {
  db: string;
  client: pg.Client;
  /** The server or the network dropped it; it is closed at release. */
  broken: boolean;
  closed: boolean;
}

/**
 * At most `max` connections to one server, shared by every database. Idle connections are
 * kept per database and the least recently used one (the DSN's own database last) is closed
 * to make room. A connection in use when the scrape deadline passes is destroyed, so a hung
 * server costs no more than `max` half-open sockets and none survive the scrape.
 */
export class TargetPool {
  private idle: Conn[] = [];
  private open = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly mainDb: string,
    private readonly connect: (db: string, timeoutMs: number) => pg.Client,
    private readonly logger: Logger,
  ) {}

  /** Connections open now (idle or in use). */
  get size(): number {
    return this.open;
  }

  async use<T>(db: string, ctx: ScrapeContext, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const conn = await this.acquire(db, ctx);
    const onAbort = () => this.destroy(conn);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // Every statement of this scrape stops on the server by the deadline, not after it. A
      // parameter, not a literal SET, so pg_stat_statements keeps one entry for it, not one per value.
      await conn.client.query("SELECT set_config('statement_timeout', $1, false)", [
        String(Math.max(1, remainingMs(ctx) - 50)),
      ]);
      return await fn(conn.client);
    } catch (err) {
      if (ctx.signal.aborted) throw new Aborted();
      throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.release(conn, ctx);
    }
  }

  private async acquire(db: string, ctx: ScrapeContext): Promise<Conn> {
    for (;;) {
      if (ctx.signal.aborted || this.closed) throw new Aborted();
      for (const c of this.idle.filter((c) => c.broken)) this.destroy(c);
      const i = this.idle.findIndex((c) => c.db === db);
      if (i >= 0) return this.idle.splice(i, 1)[0] as Conn;
      if (this.open >= this.max && this.idle.length > 0) {
        const victim = this.idle.findIndex((c) => c.db !== this.mainDb);
        this.destroy(this.idle.splice(victim >= 0 ? victim : 0, 1)[0] as Conn);
      }
      if (this.open < this.max) return await this.openConn(db, ctx);
      await new Promise<void>((resolve) => {
        const wake = () => {
          ctx.signal.removeEventListener('abort', wake);
          // An aborted waiter leaves the queue, so it cannot swallow a wake-up meant for another.
          const at = this.waiters.indexOf(wake);
          if (at >= 0) this.waiters.splice(at, 1);
          resolve();
        };
        this.waiters.push(wake);
        ctx.signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private async openConn(db: string, ctx: ScrapeContext): Promise<Conn> {
    const client = this.connect(db, Math.max(1, remainingMs(ctx)));
    this.open++;
    const conn: Conn = { db, client, broken: false, closed: false };
    // Without a listener, a server that goes away while the connection is idle would crash the process.
    client.on('error', (err) => {
      conn.broken = true;
      this.logger.debug({ db, err: errorText(err) }, 'postgres connection lost');
    });
    client.on('end', () => (conn.broken = true));
    const onAbort = () => this.destroy(conn);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await client.connect();
      return conn;
    } catch (err) {
      this.destroy(conn);
      if (ctx.signal.aborted) throw new Aborted();
      throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  private release(conn: Conn, ctx: ScrapeContext): void {
    if (conn.closed) return;
    if (conn.broken || ctx.signal.aborted || this.closed) {
      this.destroy(conn);
      return;
    }
    this.idle.push(conn);
    this.waiters.shift()?.();
  }

  private destroy(conn: Conn): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (conn.closed) return;
    conn.closed = true;
    this.open--;
    // end() destroys the socket when the connection is still starting or busy.
    conn.client.end().catch(() => undefined);
    this.waiters.shift()?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.idle]) this.destroy(c);
    for (const w of this.waiters.splice(0)) w();
  }
}

/** One configured PostgreSQL target: server-wide views on its DSN's database, indexes per database. */
export class PostgresCollector implements Collector {
  readonly name: string;
  readonly target: string;
  private readonly pool: TargetPool;
  private readonly password: string | undefined;
  private readonly mainDb: string;
  private readonly redacted: string;
  private statementsMissingUntil = 0;
  private lastDropped = '';
  private indexSample?: { at: number; data: { datname: string; rows: Row[] }[] };
  private indexRefresh?: Promise<void>;
  private refreshController?: AbortController;

  constructor(
    private readonly cfg: PostgresConfig,
    target: PostgresTargetConfig,
    logger: Logger,
  ) {
    this.name = `postgres/${target.name}`;
    this.target = target.name;
    this.password = dsnPassword(target.dsn);
    this.mainDb = databaseOf(target.dsn);
    this.redacted = redactUrl(target.dsn);
    const dsn = target.dsn;
    this.pool = new TargetPool(
      cfg.pool_size,
      this.mainDb,
      (db, timeoutMs) =>
        new pg.Client({
          connectionString: db === this.mainDb ? dsn : dsnForDatabase(dsn, db),
          connectionTimeoutMillis: Math.max(1, Math.min(cfg.connect_timeout, timeoutMs)),
          application_name: 'stackwatch',
          keepAlive: true,
        }),
      logger.child({ collector: this.name }),
    );
  }

  failureFamilies(): MetricFamily[] {
    return [upFamily(0, { target: this.target })];
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const base = { target: this.target };
    const out: MetricFamily[] = [];
    let databases: string[] = [];
    try {
      await this.pool.use(this.mainDb, ctx, async (c) => {
        const q = async (sql: string, params?: unknown[]): Promise<Row[]> =>
          (await c.query<Row>(sql, params)).rows;
        const sel = selectDatabases(await q(DATABASES_SQL), {
          include: this.cfg.database_include,
          exclude: this.cfg.database_exclude,
          max: this.cfg.max_databases,
        });
        const dropped = sel.dropped.join(',');
        if (dropped !== this.lastDropped && sel.dropped.length)
          ctx.logger.warn(
            { max_databases: this.cfg.max_databases, ignored: sel.dropped.length },
            'more databases than max_databases; the rest are not reported',
          );
        this.lastDropped = dropped;
        databases = sel.selected.map((d) => d.datname);
        out.push(...settingsFamilies(await q(SETTINGS_SQL, [SETTINGS]), base));
        out.push(...replicationFamilies((await q(REPLICATION_SQL))[0], base));
        out.push(...activityFamilies(await q(ACTIVITY_SQL), databases, base));
        out.push(...lockFamilies(await q(LOCKS_SQL), databases, base));
        out.push(...statDatabaseFamilies(await q(STAT_DATABASE_SQL, [databases]), base));
        out.push(...databaseSizeFamilies(await q(DATABASE_SIZE_SQL, [databases]), base));
        if (this.cfg.statements.enabled) out.push(...(await this.statements(q, databases, ctx)));
      });
    } catch (err) {
      throw new Error(this.scrub(`${this.redacted}: ${errorText(err)}`));
    }
    out.push(upFamily(1, base));
    if (this.cfg.indexes.enabled) out.push(...(await this.indexes(databases, ctx)));
    return out;
  }

  private async statements(
    q: (sql: string, params?: unknown[]) => Promise<Row[]>,
    databases: string[],
    ctx: ScrapeContext,
  ): Promise<MetricFamily[]> {
    if (Date.now() < this.statementsMissingUntil) return [];
    const s = this.cfg.statements;
    try {
      const sql = statementsSql(s.include_query ? s.query_length : 0);
      const rows = await q(sql, [databases, s.limit, s.slow_limit]);
      if (this.statementsMissingUntil) ctx.logger.info('pg_stat_statements is available again');
      this.statementsMissingUntil = 0;
      return statementFamilies(rows, { target: this.target });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !STATEMENTS_MISSING_CODES.has(code) || ctx.signal.aborted) throw err;
      if (!this.statementsMissingUntil)
        ctx.logger.info(
          { database: this.mainDb, reason: this.scrub(errorText(err)) },
          'pg_stat_statements is not available; statement metrics are off until it is',
        );
      this.statementsMissingUntil = Date.now() + STATEMENTS_RECHECK_MS;
      return [];
    }
  }

  /**
   * Per-index statistics need a connection to each database, which costs far more than the
   * server-wide views; they are sampled at most every `indexes.interval`, in the background.
   * A scrape waits for a running sample only while its own deadline allows, then serves the
   * latest complete one.
   */
  private async indexes(databases: string[], ctx: ScrapeContext): Promise<MetricFamily[]> {
    const stale = !this.indexSample || Date.now() - this.indexSample.at >= this.cfg.indexes.interval;
    if (stale && !this.indexRefresh) {
      this.indexRefresh = this.refreshIndexes(databases, ctx.logger).finally(
        () => (this.indexRefresh = undefined),
      );
    }
    if (this.indexRefresh) {
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, remainingMs(ctx) - 100));
      });
      await Promise.race([this.indexRefresh, budget]);
      clearTimeout(timer);
    }
    if (!this.indexSample) return [];
    return indexFamilies(this.indexSample.data, this.cfg.indexes.limit, { target: this.target });
  }

  private async refreshIndexes(databases: string[], logger: Logger): Promise<void> {
    // Its own deadline, not the scrape's: a sample may outlive the scrape that started it.
    const controller = new AbortController();
    this.refreshController = controller;
    const timeoutMs = Math.max(10_000, this.cfg.indexes.interval);
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const ctx: ScrapeContext = { signal: controller.signal, deadline: Date.now() + timeoutMs, logger };
    const queue = [...databases];
    const data: { datname: string; rows: Row[] }[] = [];
    // One connection fewer than the pool, so that scrapes always find one for the server-wide views.
    const workers = Math.max(1, this.cfg.pool_size - 1);
    try {
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let datname = queue.shift(); datname !== undefined; datname = queue.shift()) {
            const db = datname;
            try {
              const rows = await this.pool.use(
                db,
                ctx,
                async (c) => (await c.query<Row>(INDEXES_SQL, [this.cfg.indexes.limit])).rows,
              );
              data.push({ datname: db, rows });
            } catch (err) {
              if (controller.signal.aborted) return;
              logger.warn({ datname: db, err: this.scrub(errorText(err)) }, 'index statistics failed');
            }
          }
        }),
      );
      if (!controller.signal.aborted) {
        data.sort((a, b) => a.datname.localeCompare(b.datname));
        this.indexSample = { at: Date.now(), data };
      } else {
        logger.warn({ timeout_ms: timeoutMs }, 'index statistics sample timed out; keeping the previous one');
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private scrub(text: string): string {
    return this.password ? text.split(this.password).join('***') : text;
  }

  /** Open connections, for tests and benchmarks. */
  get connections(): number {
    return this.pool.size;
  }

  async close(): Promise<void> {
    this.refreshController?.abort();
    await this.pool.close();
  }
}

export function postgresCollectors(cfg: PostgresConfig, logger: Logger): Collector[] {
  return cfg.targets.map((t) => new PostgresCollector(cfg, t, logger));
}
