// The PostgreSQL collector's background sample: database sizes and, per database, index and
// table statistics. Each part (the sizes, each database's objects) is read and kept on its own:
// a part that fails keeps its last good values, served with their age, and is logged once when it
// starts failing and once when it reads again. A relation locked in ACCESS EXCLUSIVE mode is not
// waited for (see TABLES_SQL): its statistics are read, its size estimated, and the lock logged.
import { errorText, type Logger } from '../logger.js';
import { gauge, markKept, type Labels, type MetricFamily } from '../metrics/exposition.js';
import type { ScrapeContext } from './collector.js';
import { Aborted, type TargetPool } from './postgres-pool.js';
import {
  DATABASE_OBJECTS_SQL,
  DATABASE_SIZE_SQL,
  databaseSizeFamilies,
  indexFamilies,
  tableFamilies,
  type Row,
  type TableSelection,
} from './postgres-queries.js';

/** SQLSTATE lock_not_available: lock_timeout passed (a lock was taken after the statement looked). */
const LOCK_NOT_AVAILABLE = '55P03';
/** Locked relations named in the log line of a lock incident. */
const LOCKED_NAMES_LOGGED = 10;

export interface SampleOptions {
  /** The sample's connections: its budget, whatever the number of databases or locks. */
  pool: TargetPool;
  /** Statements run at once (one connection each), at most the pool's size. */
  workers: number;
  mainDb: string;
  intervalMs: number;
  /** `postgres/<target>`; the sample reports itself as `<collector>/sample`. */
  collector: string;
  indexes: { enabled: boolean; limit: number };
  tables: TableSelection & { enabled: boolean };
  /** Removes secrets from an error text before it is logged. */
  scrub: (text: string) => string;
}

interface DatabaseObjects {
  indexes: Row[];
  tables: Row[];
  /** Relations found held or waited for in ACCESS EXCLUSIVE mode. */
  locked: string[];
}

/** A value as last read, and when. */
interface Kept<T> {
  value: T;
  at: number;
}

/** The part of a sample a failure or an age belongs to: `database_size` or `objects`. */
type PartKind = 'database_size' | 'objects';

export class BackgroundSample {
  private readonly sizes = new Map<string, Kept<number>>();
  private readonly objects = new Map<string, Kept<DatabaseObjects>>();
  /** Parts failing now (`database_size`, `objects/<datname>`) and why: logged once per incident. */
  private readonly failing = new Map<string, string>();
  /** Databases with locked relations, logged once per incident. */
  private readonly lockIncidents = new Set<string>();
  /** The last finished sample: whether every part was read, and how long it took. */
  private last?: { ok: boolean; seconds: number; at: number };
  private running?: Promise<void>;
  private controller?: AbortController;
  /** Bumped whenever kept values change, so the families built from them are built once per sample. */
  private version = 0;
  private cached?: { key: string; families: MetricFamily[] };
  private closed = false;
  /** A sample's own deadline: it may outlive the scrape that started it. */
  private readonly timeoutMs: number;

  constructor(private readonly opts: SampleOptions) {
    this.timeoutMs = Math.max(10_000, opts.intervalMs);
  }

  /**
   * Starts a sample of `databases` when the last one finished at least an interval ago. Returns
   * the running sample, if any, for a scrape that wants to wait for it within its deadline.
   */
  refresh(databases: string[], logger: Logger): Promise<void> | undefined {
    const due = !this.last || Date.now() - this.last.at >= this.opts.intervalMs;
    if (due && !this.running)
      this.running = this.take(databases, logger).finally(() => (this.running = undefined));
    return this.running;
  }

  /** The kept values of `databases`, their ages, locked relations and the sample's own success. */
  families(databases: string[], base: Labels): MetricFamily[] {
    const now = Date.now();
    const age = gauge(
      'pg_sample_age_seconds',
      'Seconds since the values of this part of the background sample (sample="database_size" or "objects": ' +
        'table and index statistics) were read; a part that cannot be read keeps its last values.',
    );
    const locked = gauge(
      'pg_sample_locked_relations',
      'Relations the last background sample found held or waited for in ACCESS EXCLUSIVE mode; ' +
        'their statistics are read, their sizes estimated from pg_class.relpages.',
    );
    for (const datname of databases) {
      const size = this.sizes.get(datname);
      if (size) age.add({ ...base, sample: 'database_size', datname }, (now - size.at) / 1000);
      const objects = this.objects.get(datname);
      if (objects) {
        age.add({ ...base, sample: 'objects', datname }, (now - objects.at) / 1000);
        locked.add({ ...base, datname }, objects.value.locked.length);
      }
    }
    const out = [...this.keptFamilies(databases, base), age, locked];
    if (this.last) {
      // In the scrape's own terms, so that what alerts on a failing collector alerts on this too.
      const labels = { collector: `${this.opts.collector}/sample` };
      out.push(
        gauge(
          'stackwatch_scrape_collector_success',
          'Whether a collector succeeded (1) or failed or missed the scrape deadline (0).',
        ).add(labels, this.last.ok ? 1 : 0),
        gauge('stackwatch_scrape_collector_duration_seconds', 'Duration of a collector scrape.').add(
          labels,
          this.last.seconds,
        ),
      );
    }
    return out;
  }

  /** Stops a running sample (its connections are closed by the pool's owner). */
  close(): void {
    this.closed = true;
    this.controller?.abort();
  }

  private keptFamilies(databases: string[], base: Labels): MetricFamily[] {
    const key = `${this.version}\0${databases.join('\0')}`;
    if (this.cached?.key === key) return this.cached.families;
    const sizes = databases.flatMap((datname) => {
      const kept = this.sizes.get(datname);
      return kept ? [{ datname, bytes: kept.value }] : [];
    });
    const objects = databases.flatMap((datname) => {
      const kept = this.objects.get(datname);
      return kept ? [{ datname, ...kept.value }] : [];
    });
    const families = [
      ...databaseSizeFamilies(sizes, base),
      ...(this.opts.indexes.enabled
        ? indexFamilies(
            objects.map((o) => ({ datname: o.datname, rows: o.indexes })),
            this.opts.indexes.limit,
            base,
          )
        : []),
      ...(this.opts.tables.enabled
        ? tableFamilies(
            objects.map((o) => ({ datname: o.datname, rows: o.tables })),
            this.opts.tables,
            base,
          )
        : []),
    ];
    this.cached = { key, families: markKept(families) };
    return families;
  }

  private async take(databases: string[], logger: Logger): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    const ctx: ScrapeContext = { signal: controller.signal, deadline: Date.now() + this.timeoutMs, logger };
    const started = performance.now();
    const parts: (() => Promise<boolean>)[] = [
      () => this.part('database_size', '', ctx, () => this.readSizes(databases, ctx)),
    ];
    if (this.opts.indexes.enabled || this.opts.tables.enabled)
      for (const datname of databases)
        parts.push(() => this.part('objects', datname, ctx, () => this.readObjects(datname, ctx)));
    try {
      const ok = await runBounded(parts, this.opts.workers);
      // Databases no longer reported keep nothing.
      const listed = new Set(databases);
      for (const map of [this.sizes, this.objects])
        for (const datname of map.keys()) if (!listed.has(datname)) map.delete(datname);
      for (const datname of this.lockIncidents) if (!listed.has(datname)) this.lockIncidents.delete(datname);
      for (const key of this.failing.keys())
        if (key.startsWith('objects/') && !listed.has(key.slice('objects/'.length))) this.failing.delete(key);
      this.version++;
      this.last = { ok: ok.every(Boolean), seconds: (performance.now() - started) / 1000, at: Date.now() };
    } finally {
      clearTimeout(timer);
      // Between samples stackwatch holds no connection to the other databases.
      await this.opts.pool.drain(2000);
    }
  }

  /** Runs one part; a failure is logged when the part starts failing, a success when it recovers. */
  private async part(
    kind: PartKind,
    datname: string,
    ctx: ScrapeContext,
    read: () => Promise<void>,
  ): Promise<boolean> {
    const key = datname ? `${kind}/${datname}` : kind;
    const what = kind === 'database_size' ? 'database sizes' : 'table and index statistics';
    const fields = datname ? { datname } : {};
    try {
      await read();
      if (this.failing.delete(key)) ctx.logger.info(fields, `${what} sampled again`);
      return true;
    } catch (err) {
      const reason =
        ctx.signal.aborted || err instanceof Aborted
          ? `timed out after ${this.timeoutMs} ms`
          : this.opts.scrub(errorText(err));
      if (!this.failing.has(key) && !this.closed)
        ctx.logger.warn({ ...fields, err: reason }, `${what} could not be sampled; serving the last ones`);
      this.failing.set(key, reason);
      return false;
    }
  }

  private async readSizes(databases: string[], ctx: ScrapeContext): Promise<void> {
    // pg_database_size() walks each database's directory and takes no relation lock.
    const rows = await this.opts.pool.use(
      this.opts.mainDb,
      ctx,
      async (c) => (await c.query<Row>(DATABASE_SIZE_SQL, [databases])).rows,
    );
    const at = Date.now();
    for (const r of rows) this.sizes.set(String(r.datname), { value: Number(r.bytes), at });
  }

  private async readObjects(datname: string, ctx: ScrapeContext): Promise<void> {
    const read = () =>
      this.opts.pool.use(
        datname,
        ctx,
        async (c) => (await c.query<Row>(DATABASE_OBJECTS_SQL, [this.opts.indexes.limit])).rows[0],
      );
    let row: Row | undefined;
    try {
      row = await read();
    } catch (err) {
      // A lock taken after the statement read pg_locks: the second reading sees it and skips the relation.
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || ctx.signal.aborted) throw err;
      row = await read();
    }
    const locked = ((row?.locked ?? []) as Row[]).map((r) => String(r.name));
    this.objects.set(datname, {
      value: { indexes: (row?.indexes ?? []) as Row[], tables: (row?.tables ?? []) as Row[], locked },
      at: Date.now(),
    });
    if (locked.length && !this.lockIncidents.has(datname)) {
      this.lockIncidents.add(datname);
      ctx.logger.warn(
        { datname, locked: locked.length, relations: locked.slice(0, LOCKED_NAMES_LOGGED) },
        'relations held in ACCESS EXCLUSIVE mode: their statistics are sampled, their sizes estimated until the lock is released',
      );
    } else if (!locked.length && this.lockIncidents.delete(datname)) {
      ctx.logger.info({ datname }, 'no relation locked any more; sizes are read again');
    }
  }
}

/** Runs `tasks` with at most `concurrency` at a time; each result in the order of `tasks`. */
async function runBounded<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tasks.length; i = next++) results[i] = await (tasks[i] as () => Promise<T>)();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, tasks.length)) }, worker));
  return results;
}
