import pg from 'pg';
import type { z } from 'zod';
import type { postgresSection, postgresTarget } from '../config/databases.js';
import { redactUrl, scrubSecrets, urlPassword } from '../secrets.js';
import { errorText, type Logger } from '../logger.js';
import type { MetricFamily } from '../metrics/exposition.js';
import { settleWithin } from '../wait.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import { Aborted, TargetPool } from './postgres-pool.js';
import {
  activityFamilies,
  DATABASE_SIZE_SQL,
  databaseSizeFamilies,
  indexFamilies,
  lockFamilies,
  replicationFamilies,
  selectDatabases,
  serverViewsSql,
  settingsFamilies,
  postmasterFamilies,
  bgwriterFamilies,
  replicationSlotFamilies,
  DATABASE_OBJECTS_SQL,
  tableFamilies,
  STAT_DATABASE_SQL,
  statDatabaseFamilies,
  STATEMENTS_MISSING_CODES,
  statementFamilies,
  statementsSql,
  upFamily,
  lastScrapeErrorFamily,
  type Row,
} from './postgres-queries.js';

type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;

export type PostgresConfig = z.infer<typeof postgresSection>;
export type PostgresTargetConfig = z.infer<typeof postgresTarget>;

/** How long a missing pg_stat_statements is believed before it is looked for again. */
const STATEMENTS_RECHECK_MS = 10 * 60_000;

/** The DSN pointed at another database on the same server, with the same credentials. */
function dsnForDatabase(dsn: string, datname: string): string {
  const u = new URL(dsn);
  u.pathname = '/' + encodeURIComponent(datname);
  return u.toString();
}

/**
 * postgres_exporter's `server` label: the DSN's host and port, so that its dashboards'
 * `by (server)` and `group_left(server)` work.
 */
export function serverLabel(dsn: string): string {
  try {
    const u = new URL(dsn);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${host}:${u.port || u.searchParams.get('port') || '5432'}`;
  } catch {
    return '';
  }
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

/** One configured PostgreSQL target: server-wide views on its DSN's database, indexes per database. */
export class PostgresCollector implements Collector {
  readonly name: string;
  readonly target: string;
  /** Scrapes' connections, to the DSN's own database. */
  private readonly pool: TargetPool;
  /** The background sample's connections, one database at a time per worker, closed after each sample. */
  private readonly samplePool: TargetPool;
  private readonly password: string | undefined;
  private readonly mainDb: string;
  private readonly redacted: string;
  private statementsMissingUntil = 0;
  private lastDropped = '';
  private lastDatabases?: string[];
  private readonly server: string;
  /** server_version_num from the previous scrape: PostgreSQL 17 has pg_stat_checkpointer. */
  private serverVersion = 0;
  private sample?: {
    at: number;
    sizes: Row[];
    indexes: { datname: string; rows: Row[] }[];
    tables: { datname: string; rows: Row[] }[];
  };
  private sampling?: Promise<void>;
  private refreshController?: AbortController;

  constructor(
    private readonly cfg: PostgresConfig,
    target: PostgresTargetConfig,
    logger: Logger,
  ) {
    this.name = `postgres/${target.name}`;
    this.target = target.name;
    this.password = urlPassword(target.dsn);
    this.mainDb = databaseOf(target.dsn);
    this.redacted = redactUrl(target.dsn);
    this.server = serverLabel(target.dsn);
    const dsn = target.dsn;
    const connect = (db: string, timeoutMs: number) =>
      new pg.Client({
        connectionString: db === this.mainDb ? dsn : dsnForDatabase(dsn, db),
        connectionTimeoutMillis: Math.max(1, Math.min(cfg.connect_timeout, timeoutMs)),
        application_name: 'stackwatch',
        keepAlive: true,
      });
    const log = logger.child({ collector: this.name });
    this.pool = new TargetPool(cfg.pool_size, this.mainDb, connect, log);
    this.samplePool = new TargetPool(Math.max(1, cfg.pool_size - 1), this.mainDb, connect, log);
  }

  failureFamilies(): MetricFamily[] {
    return [upFamily(0, { target: this.target }), lastScrapeErrorFamily(1, { target: this.target })];
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const base = { target: this.target, server: this.server };
    let databases: string[] = [];
    /** Runs `fn` with a query function on a pooled connection to the DSN's own database. */
    const onMain = <T>(fn: (q: Query) => Promise<T>): Promise<T> =>
      this.pool.use(this.mainDb, ctx, (c) =>
        fn(async (sql, params) => (await c.query<Row>(sql, params)).rows),
      );
    let out: MetricFamily[];
    try {
      const statsFor = (dbs: string[]) =>
        onMain(async (q) => [
          ...statDatabaseFamilies(await q(STAT_DATABASE_SQL, [dbs]), base),
          ...(this.cfg.statements.enabled ? await this.statements(q, dbs, ctx) : []),
        ]);
      // The per-database views start at once on a second connection, for the databases of the
      // last scrape: the list rarely changes, and when it has they run again for the new one.
      const guess = this.lastDatabases;
      const early = guess ? statsFor(guess) : undefined;
      early?.catch(() => undefined);
      const viewsSql = serverViewsSql({ checkpointer: this.serverVersion >= 170000 });
      const views = (await onMain((q) => q(viewsSql, [this.cfg.max_replication_slots])))[0] as Record<
        string,
        Row[]
      >;
      this.serverVersion = Number(views.postmaster?.[0]?.server_version_num ?? 0);
      databases = this.selectDatabases(views.databases ?? [], ctx);
      this.lastDatabases = databases;
      let stats: MetricFamily[];
      if (early && guess?.join('\0') === databases.join('\0')) {
        stats = await early;
      } else {
        await early?.catch(() => undefined);
        stats = await statsFor(databases);
      }
      out = [
        ...settingsFamilies(views.settings ?? [], base),
        ...replicationFamilies(views.replication?.[0], base),
        ...replicationSlotFamilies(views.slots ?? [], base),
        ...postmasterFamilies(views.postmaster?.[0], base),
        ...bgwriterFamilies({ bgwriter: views.bgwriter?.[0], checkpointer: views.checkpointer?.[0] }, base),
        ...activityFamilies(views.activity ?? [], databases, base),
        ...lockFamilies(views.locks ?? [], databases, base),
        ...stats,
        // pg_up carries no `server`, as with postgres_exporter.
        upFamily(1, { target: this.target }),
        lastScrapeErrorFamily(0, { target: this.target }),
      ];
    } catch (err) {
      throw new Error(scrubSecrets(`${this.redacted}: ${errorText(err)}`, [this.password]));
    }
    out.push(...(await this.sampled(databases, ctx)));
    return out;
  }

  private selectDatabases(rows: Row[], ctx: ScrapeContext): string[] {
    const sel = selectDatabases(rows, {
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
    return sel.selected.map((d) => d.datname);
  }

  private async statements(q: Query, databases: string[], ctx: ScrapeContext): Promise<MetricFamily[]> {
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
          { database: this.mainDb, reason: scrubSecrets(errorText(err), [this.password]) },
          'pg_stat_statements is not available; statement metrics are off until it is',
        );
      this.statementsMissingUntil = Date.now() + STATEMENTS_RECHECK_MS;
      return [];
    }
  }

  /**
   * Database sizes and per-index statistics cost far more than the other views (a walk of every
   * database directory; a connection to each database), and change slowly: they are sampled
   * at most every `sample_interval`, in the background. A scrape waits for a running sample
   * only while its own deadline allows, then serves the latest complete one.
   */
  private async sampled(databases: string[], ctx: ScrapeContext): Promise<MetricFamily[]> {
    const stale = !this.sample || Date.now() - this.sample.at >= this.cfg.sample_interval;
    if (stale && !this.sampling) {
      this.sampling = this.takeSample(databases, ctx.logger).finally(() => (this.sampling = undefined));
    }
    if (this.sampling) await settleWithin(this.sampling, remainingMs(ctx) - 100);
    if (!this.sample) return [];
    const base = { target: this.target, server: this.server };
    return [
      ...databaseSizeFamilies(this.sample.sizes, base),
      ...(this.cfg.indexes.enabled ? indexFamilies(this.sample.indexes, this.cfg.indexes.limit, base) : []),
      ...(this.cfg.tables.enabled ? tableFamilies(this.sample.tables, this.cfg.tables, base) : []),
    ];
  }

  private async takeSample(databases: string[], logger: Logger): Promise<void> {
    // Its own deadline, not the scrape's: a sample may outlive the scrape that started it.
    const controller = new AbortController();
    this.refreshController = controller;
    const timeoutMs = Math.max(10_000, this.cfg.sample_interval);
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const ctx: ScrapeContext = { signal: controller.signal, deadline: Date.now() + timeoutMs, logger };
    const indexes: { datname: string; rows: Row[] }[] = [];
    const tables: { datname: string; rows: Row[] }[] = [];
    const run = <T>(db: string, fn: (c: pg.Client) => Promise<T>) => this.samplePool.use(db, ctx, fn);
    try {
      const sizes = run(this.mainDb, async (c) => (await c.query<Row>(DATABASE_SIZE_SQL, [databases])).rows);
      const queue = this.cfg.indexes.enabled || this.cfg.tables.enabled ? [...databases] : [];
      const workers = Math.max(1, this.cfg.pool_size - 1);
      const perDatabase = Promise.all(
        Array.from({ length: workers }, async () => {
          for (let db = queue.shift(); db !== undefined; db = queue.shift()) {
            const datname = db;
            try {
              const objects = await run(
                datname,
                async (c) => (await c.query<Row>(DATABASE_OBJECTS_SQL, [this.cfg.indexes.limit])).rows[0],
              );
              indexes.push({ datname, rows: (objects?.indexes ?? []) as Row[] });
              tables.push({ datname, rows: (objects?.tables ?? []) as Row[] });
            } catch (err) {
              if (controller.signal.aborted) return;
              logger.warn(
                { datname, err: scrubSecrets(errorText(err), [this.password]) },
                'index statistics failed',
              );
            }
          }
        }),
      );
      const [sizeRows] = await Promise.all([sizes, perDatabase]);
      if (controller.signal.aborted) throw new Aborted();
      indexes.sort((a, b) => a.datname.localeCompare(b.datname));
      tables.sort((a, b) => a.datname.localeCompare(b.datname));
      this.sample = { at: Date.now(), sizes: sizeRows, indexes, tables };
    } catch (err) {
      logger.warn(
        {
          err: controller.signal.aborted
            ? `timed out after ${timeoutMs} ms`
            : scrubSecrets(errorText(err), [this.password]),
        },
        'database size and index sample failed; keeping the previous one',
      );
    } finally {
      clearTimeout(timer);
      // Between samples stackwatch holds no connection to the other databases.
      await this.samplePool.drain(2000);
    }
  }

  /** Open connections, for tests and benchmarks. */
  get connections(): number {
    return this.pool.size;
  }

  async close(): Promise<void> {
    this.refreshController?.abort();
    await Promise.all([this.pool.close(), this.samplePool.close()]);
  }
}

export function postgresCollectors(cfg: PostgresConfig, logger: Logger): Collector[] {
  return cfg.targets.map((t) => new PostgresCollector(cfg, t, logger));
}
