import type pg from 'pg';
import { errorText, type Logger } from '../logger.js';
import { settleWithin } from '../wait.js';
import { remainingMs, type ScrapeContext } from './collector.js';

/** Thrown when the scrape deadline (or close) ends a wait for, or a use of, a connection. */
export class Aborted extends Error {
  constructor() {
    super('scrape deadline passed');
  }
}

interface Conn {
  db: string;
  client: pg.Client;
  /** The server or the network dropped it; it is closed at release. */
  broken: boolean;
  closed: boolean;
  /** The statement_timeout and lock_timeout last set on this connection. */
  timeouts?: string;
}

export interface TargetPoolOptions {
  /** Connections open at once, to any database of the server. */
  max: number;
  /** The DSN's own database, whose idle connection is closed last. */
  mainDb: string;
  connect: (db: string, timeoutMs: number) => pg.Client;
  /**
   * The longest any statement waits for a lock (lock_timeout): a relation held in ACCESS
   * EXCLUSIVE mode costs a query this long, never the whole deadline, and a backend whose client
   * gave up does not stay queued behind the lock.
   */
  lockTimeoutMs: number;
  logger: Logger;
}

/** Sets a connection's timeouts, and learns what the server is and what the role may read. */
const SET_TIMEOUTS_SQL = `SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false),
 current_setting('server_version_num')::int AS version,
 has_function_privilege('pg_ls_waldir()', 'execute') AS reads_wal_dir`;

/** What the queries may use on this server: its version, and whether the role may list pg_wal. */
export interface ServerFacts {
  /** server_version_num (0 until a connection has been set up). */
  version: number;
  readsWalDir: boolean;
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
  private readonly ending = new Set<Promise<void>>();
  private readonly max: number;
  private readonly mainDb: string;
  private readonly connect: (db: string, timeoutMs: number) => pg.Client;
  private readonly lockTimeoutMs: number;
  private readonly logger: Logger;
  /** Learnt when a connection's timeouts are set, so before any query of `use` runs. */
  server: ServerFacts = { version: 0, readsWalDir: false };

  constructor(opts: TargetPoolOptions) {
    this.max = opts.max;
    this.mainDb = opts.mainDb;
    this.connect = opts.connect;
    this.lockTimeoutMs = opts.lockTimeoutMs;
    this.logger = opts.logger;
  }

  /** Connections open now (idle or in use). */
  get size(): number {
    return this.open;
  }

  async use<T>(db: string, ctx: ScrapeContext, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const conn = await this.acquire(db, ctx);
    const onAbort = () => this.destroy(conn);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // Every statement of this scrape stops on the server by the deadline, not after it, and
      // waits for a lock no longer than lock_timeout. Parameters, not a literal SET, so
      // pg_stat_statements keeps one entry for it, not one per value. Rounded down to 500 ms steps
      // and remembered per connection, so that scrapes with the same timeout header do not pay a
      // round trip for it each time.
      const left = remainingMs(ctx) - 50;
      const timeoutMs = left >= 1000 ? Math.floor(left / 500) * 500 : Math.max(1, Math.floor(left));
      const lockMs = Math.min(this.lockTimeoutMs, timeoutMs);
      if (conn.timeouts !== `${timeoutMs}/${lockMs}`) {
        const set = await conn.client.query<{ version: number; reads_wal_dir: boolean }>(SET_TIMEOUTS_SQL, [
          String(timeoutMs),
          String(lockMs),
        ]);
        conn.timeouts = `${timeoutMs}/${lockMs}`;
        const facts = set.rows[0];
        if (facts)
          this.server = { version: Number(facts.version), readsWalDir: facts.reads_wal_dir === true };
      }
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
    const ending = conn.client.end().catch(() => undefined);
    this.ending.add(ending);
    void ending.finally(() => this.ending.delete(ending));
    this.waiters.shift()?.();
  }

  /** Closes the idle connections and waits (at most `waitMs`) until the server has seen them go. */
  async drain(waitMs: number): Promise<void> {
    for (const c of [...this.idle]) this.destroy(c);
    // A hung server never acknowledges the goodbye; the sample must not wait for it.
    await settleWithin(Promise.all([...this.ending]), waitMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.idle]) this.destroy(c);
    for (const w of this.waiters.splice(0)) w();
  }
}
