import { createHash } from 'node:crypto';
import pg from 'pg';
import type { z } from 'zod';
import type { postgresSection, postgresTarget } from '../config/databases.js';
import { redactUrl, scrubSecrets, urlPassword } from '../secrets.js';
import { errorText, type Logger } from '../logger.js';
import { markKept, type Labels, type MetricFamily } from '../metrics/exposition.js';
import { settleWithin } from '../wait.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import { TargetPool } from './postgres-pool.js';
import { BackgroundSample } from './postgres-sample.js';
import {
  activityFamilies,
  lockFamilies,
  replicationFamilies,
  selectDatabases,
  serverViewsSql,
  settingsFamilies,
  SETTINGS_SQL,
  postmasterFamilies,
  bgwriterFamilies,
  progressVacuumFamilies,
  replicationSlotFamilies,
  statWalFamilies,
  walFamilies,
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
/** Runs `fn` with a query function on a pooled connection to the DSN's own database. */
type OnMain = <T>(fn: (q: Query) => Promise<T>) => Promise<T>;

export type PostgresConfig = z.infer<typeof postgresSection>;
export type PostgresTargetConfig = z.infer<typeof postgresTarget>;

/** How long a missing pg_stat_statements is believed before it is looked for again. */
const STATEMENTS_RECHECK_MS = 10 * 60_000;

/**
 * lock_timeout of every statement: a catalogue or relation held in ACCESS EXCLUSIVE mode costs
 * a query at most this long, and a backend whose client gave up does not stay queued behind it.
 */
const LOCK_TIMEOUT_MS = 1000;

const statementNames = new Map<string, string>();
/**
 * The name of a scrape statement prepared once per connection: the server views query costs
 * more to parse and plan than to run, every scrape.
 */
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = 'stackwatch_' + createHash('sha256').update(sql).digest('hex').slice(0, 16);
    statementNames.set(sql, name);
  }
  return name;
}

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
  private readonly sample: BackgroundSample;
  private readonly password: string | undefined;
  private readonly mainDb: string;
  private readonly redacted: string;
  private statementsMissingUntil = 0;
  private lastDropped = '';
  private lastDatabases?: string[];
  private readonly server: string;
  /** The settings families, kept until the server restarts or reloads its configuration. */
  private settings?: { started: number; loaded: number; families: MetricFamily[] };

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
    const pool = { mainDb: this.mainDb, connect, lockTimeoutMs: LOCK_TIMEOUT_MS, logger: log };
    this.pool = new TargetPool({ ...pool, max: cfg.pool_size });
    const sampleBudget = Math.max(1, cfg.pool_size - 1);
    this.samplePool = new TargetPool({ ...pool, max: sampleBudget });
    this.sample = new BackgroundSample({
      pool: this.samplePool,
      workers: sampleBudget,
      mainDb: this.mainDb,
      intervalMs: cfg.sample_interval,
      collector: this.name,
      indexes: cfg.indexes,
      tables: cfg.tables,
      scrub: (text) => scrubSecrets(text, [this.password]),
    });
  }

  failureFamilies(): MetricFamily[] {
    return [upFamily(0, { target: this.target }), lastScrapeErrorFamily(1, { target: this.target })];
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const base = { target: this.target, server: this.server };
    let databases: string[];
    const onMain: OnMain = (fn) =>
      this.pool.use(this.mainDb, ctx, (c) =>
        fn(
          async (sql, params) =>
            (await c.query<Row>({ name: statementName(sql), text: sql, values: params })).rows,
        ),
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
      // What the server is and what the role may read are known once a connection has its
      // timeouts set, before this runs.
      const views = (
        await onMain((q) => q(serverViewsSql(this.pool.server), [this.cfg.max_replication_slots]))
      )[0] as Record<string, Row[]>;
      databases = this.selectDatabases(views.databases ?? [], ctx);
      this.lastDatabases = databases;
      const settings = this.cachedSettings(views.postmaster?.[0], onMain, base);
      settings.catch(() => undefined);
      let stats: MetricFamily[];
      if (early && guess?.join('\0') === databases.join('\0')) {
        stats = await early;
      } else {
        await early?.catch(() => undefined);
        stats = await statsFor(databases);
      }
      out = [
        ...(await settings),
        ...replicationFamilies(views.replication?.[0], base),
        ...replicationSlotFamilies(views.slots ?? [], base),
        ...postmasterFamilies(views.postmaster?.[0], base),
        ...bgwriterFamilies({ bgwriter: views.bgwriter?.[0], checkpointer: views.checkpointer?.[0] }, base),
        ...walFamilies(views.wal?.[0], base),
        ...statWalFamilies(views.stat_wal?.[0], base),
        ...progressVacuumFamilies(views.progress_vacuum ?? [], base),
        ...activityFamilies(views.activity ?? [], databases, base),
        ...lockFamilies(views.locks ?? [], databases, base),
        ...stats,
        // pg_up carries no `server`, as with postgres_exporter.
        upFamily(1, { target: this.target }),
        lastScrapeErrorFamily(0, { target: this.target }),
      ];
    } catch (err) {
      // Rephrased without the password the driver's error may quote: no `cause`, on purpose.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(scrubSecrets(`${this.redacted}: ${errorText(err)}`, [this.password]));
    }
    out.push(...(await this.sampled(databases, ctx)));
    return out;
  }

  /**
   * The numeric server parameters, read again only when the server has restarted or reloaded its
   * configuration since they were last read: a parameter changes only then, and pg_settings is
   * the costliest of the server views. pg_conf_load_time() is per session (a session records the
   * time it applied the reload, at its next statement), so a reload is a load time later than
   * any seen before: each pooled session reports it once, and one that has not yet applied it
   * reports an earlier time and reads nothing.
   */
  private async cachedSettings(
    postmaster: Row | undefined,
    onMain: OnMain,
    base: Labels,
  ): Promise<MetricFamily[]> {
    const started = Number(postmaster?.start_time_seconds);
    const loaded = Number(postmaster?.conf_load_time_seconds);
    const kept = this.settings;
    if (kept && kept.started === started && !(loaded > kept.loaded)) return kept.families;
    const families = markKept(settingsFamilies(await onMain((q) => q(SETTINGS_SQL)), base));
    this.settings = { started, loaded, families };
    return families;
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
   * Database sizes and per-index and per-table statistics cost far more than the other views (a
   * walk of every database directory; a connection to each database), and change slowly: they
   * are sampled at most every `sample_interval`, in the background. A scrape waits for a running
   * sample only while its own deadline allows, then serves the latest values of each part.
   */
  private async sampled(databases: string[], ctx: ScrapeContext): Promise<MetricFamily[]> {
    const running = this.sample.refresh(databases, ctx.logger);
    if (running) await settleWithin(running, remainingMs(ctx) - 100);
    return this.sample.families(databases, { target: this.target, server: this.server });
  }

  /** Open connections, for tests and benchmarks. */
  get connections(): number {
    return this.pool.size;
  }

  async close(): Promise<void> {
    this.sample.close();
    await Promise.all([this.pool.close(), this.samplePool.close()]);
  }
}

export function postgresCollectors(cfg: PostgresConfig, logger: Logger): Collector[] {
  return cfg.targets.map((t) => new PostgresCollector(cfg, t, logger));
}
