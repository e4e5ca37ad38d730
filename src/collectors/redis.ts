import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import type { z } from 'zod';
import type { redisSection, redisTarget } from '../config/databases.js';
import { redactUrl, scrubSecrets, urlPassword } from '../secrets.js';
import { errorText } from '../logger.js';
import { gauge, type MetricFamily } from '../metrics/exposition.js';
import { settleWithin } from '../wait.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import { infoFamilies, parseInfo } from './redis-info.js';

export type RedisSectionConfig = z.infer<typeof redisSection>;
export type RedisTargetConfig = z.infer<typeof redisTarget>;

/** Result of one time-budgeted SCAN over a database. */
export interface PrefixCount {
  counts: Map<string, number>;
  scanned: number;
  partial: boolean;
  seconds: number;
}

/** A SCAN's result as the collector keeps it between scrapes: `at` is when it ended. */
interface KeptPrefixCount extends PrefixCount {
  at: number;
}

/** The prefixes a key belongs to: it is P, or starts with P + separator. Pure. */
export function matchPrefixes(key: string, prefixes: readonly string[], separator: string): string[] {
  const out: string[] = [];
  for (const p of prefixes) {
    if (key === p || (key.startsWith(p) && key.startsWith(separator, p.length))) out.push(p);
  }
  return out;
}

class RedisTargetError extends Error {}

/** Time left for the SCAN: its own budget, but never past the scrape deadline (less a reserve to answer). */
function scanBudgetMs(budget: number, ctx: ScrapeContext): number {
  return Math.max(0, Math.min(budget, remainingMs(ctx) - 50));
}

/**
 * One configured Redis target, scraped with redis_exporter's names. One connection is kept
 * between scrapes and thrown away on any failure: with no auto-reconnect and no offline
 * queue, a dead, paused or black-holed Redis costs one socket and one deadline, never a
 * growing queue of commands or reconnect attempts; the next scrape connects afresh.
 */
export class RedisCollector implements Collector {
  readonly name: string;
  readonly target: string;
  private client: Redis | undefined;
  /** The last error the connection reported (ioredis rejects with a generic one). */
  private lastError: Error | undefined;
  private connecting: Promise<Redis> | undefined;
  private readonly safeUrl: string;
  private readonly db: string;
  /** The last key-prefix SCAN's counts and when it ended. */
  private prefixScan: KeptPrefixCount | undefined;
  /** A key-prefix SCAN under way, and how to stop it. */
  private scanning: { done: Promise<KeptPrefixCount | undefined>; controller: AbortController } | undefined;

  constructor(
    private readonly section: RedisSectionConfig,
    private readonly cfg: RedisTargetConfig,
  ) {
    this.name = `redis/${cfg.name}`;
    this.target = cfg.name;
    this.safeUrl = redactUrl(cfg.url);
    this.db = `db${dbIndex(cfg.url)}`;
  }

  failureFamilies(): MetricFamily[] {
    return [upFamily().add({ target: this.target }, 0)];
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const labels = { target: this.target };
    // The connection this scrape used: a late failure of an abandoned scrape must close its
    // own connection, never the fresh one a later scrape has opened since.
    let used: Redis | undefined;
    const onAbort = () => {
      ctx.logger.warn(
        { target: this.target, url: this.safeUrl },
        'redis did not answer before the scrape deadline; connection closed',
      );
      this.drop(used ?? this.client);
    };
    if (ctx.signal.aborted) throw new RedisTargetError('scrape deadline already passed');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const client = await this.connect(ctx);
      used = client;
      // Issued together, so they travel in one round trip.
      const [infoText, slowLen, slowLast] = await Promise.all([
        client.info('all'),
        optional(client.call('SLOWLOG', 'LEN'), ctx, 'SLOWLOG LEN'),
        optional(client.call('SLOWLOG', 'GET', '1'), ctx, 'SLOWLOG GET'),
      ]);
      const info = parseInfo(infoText);
      const families: MetricFamily[] = [
        upFamily().add(labels, 1),
        ...infoFamilies(info, {
          labels,
          maxCommands: this.section.max_commands,
          maxDbs: this.section.max_dbs,
          maxReplicas: 10,
        }),
        ...slowlogFamilies(labels, slowLen, slowLast),
      ];
      const prefixes = this.cfg.key_prefixes ?? this.section.key_prefixes;
      if (prefixes.length > 0) {
        const scan = await this.prefixCounts(client, prefixes, ctx);
        if (ctx.signal.aborted) throw new RedisTargetError('scrape deadline passed during SCAN');
        if (scan) families.push(...prefixFamilies({ ...labels, db: this.db }, scan));
      }
      return families;
    } catch (err) {
      // A failed connect leaves nothing to close: the next connect() replaces a client that is not ready.
      this.drop(used);
      throw new RedisTargetError(
        `redis target ${this.target} (${this.safeUrl}): ${scrubSecrets(this.describe(err), [this.cfg.password, urlPassword(this.cfg.url)])}`,
      );
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The key-prefix counts. A SCAN visits every key of the database, so it runs at most every
   * key_prefix_scan_interval, in the background, on the scrape's connection: a scrape serves the
   * last counts with their age while a new SCAN runs. Only when there are none yet (or the
   * interval is 0) does a scrape wait for the SCAN, within its deadline. SCAN may be denied to a
   * monitoring ACL user: the prefix series are then left out.
   */
  private async prefixCounts(
    client: Redis,
    prefixes: readonly string[],
    ctx: ScrapeContext,
  ): Promise<KeptPrefixCount | undefined> {
    const kept = this.prefixScan;
    const interval = this.section.key_prefix_scan_interval;
    if (kept && interval > 0 && Date.now() - kept.at < interval) return kept;
    const running = this.scanning ?? this.startScan(client, prefixes, ctx);
    if (kept && interval > 0) return kept;
    await settleWithin(running.done, scanBudgetMs(this.section.key_prefix_scan_timeout, ctx));
    if (this.scanning === running) running.controller.abort();
    return running.done;
  }

  private startScan(
    client: Redis,
    prefixes: readonly string[],
    ctx: ScrapeContext,
  ): NonNullable<RedisCollector['scanning']> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.section.key_prefix_scan_timeout);
    const done = scanPrefixes(
      client,
      prefixes,
      this.section.key_prefix_separator,
      this.section.key_prefix_scan_timeout,
      this.section.key_prefix_scan_max_keys,
      controller.signal,
    )
      .then((result) => (this.prefixScan = { ...result, at: Date.now() }))
      .catch((err: unknown) => {
        ctx.logger.debug({ err: errorText(err) }, 'SCAN failed; the key-prefix metrics are left out');
        return undefined;
      })
      .finally(() => {
        clearTimeout(timer);
        if (this.scanning?.done === done) this.scanning = undefined;
      });
    this.scanning = { done, controller };
    return this.scanning;
  }

  async close(): Promise<void> {
    this.scanning?.controller.abort();
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    try {
      await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 500).unref())]);
    } catch {
      // Already closed.
    }
    c.disconnect();
  }

  private async connect(ctx: ScrapeContext): Promise<Redis> {
    if (this.client?.status === 'ready') return this.client;
    // A scrape that arrives while another is connecting shares that attempt.
    if (this.connecting) return this.connecting;
    this.drop(this.client);
    this.lastError = undefined;
    const timeout = Math.max(1, Math.min(this.section.connect_timeout, remainingMs(ctx)));
    const client = new Redis(this.cfg.url, this.options(timeout));
    client.on('error', (err: Error) => {
      if (this.client === client) this.lastError = err;
    });
    this.client = client;
    const connecting = client.connect().then(() => {
      // A connection dropped meanwhile (deadline) can still report ready; never hand it out.
      if (this.client !== client || client.status !== 'ready')
        throw this.lastError ?? new Error('connection closed while connecting');
      return client;
    });
    this.connecting = connecting;
    try {
      return await connecting;
    } finally {
      if (this.connecting === connecting) this.connecting = undefined;
    }
  }

  private options(connectTimeout: number): RedisOptions {
    const tlsCfg = this.cfg.tls;
    const opts: RedisOptions = {
      lazyConnect: true,
      // No hidden retries: a failed scrape drops the connection and the next one reconnects.
      retryStrategy: () => null,
      reconnectOnError: () => false,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // The ready check would send an extra INFO; the scrape's own INFO tells the same.
      enableReadyCheck: false,
      autoResubscribe: false,
      // CLIENT SETINFO on connect is a round trip, an error reply before Redis 7.2, and denied to most ACL users.
      disableClientInfo: true,
      // RESP2 (ioredis 6 defaults to 3): HELLO 3 on connect would be another round trip, unknown
      // before Redis 6, and one more command an ACL user must be granted; INFO reads the same.
      protocol: 2,
      connectTimeout,
    };
    if (this.cfg.username !== undefined) opts.username = this.cfg.username;
    if (this.cfg.password !== undefined) opts.password = this.cfg.password;
    if (tlsCfg || this.cfg.url.startsWith('rediss:')) {
      const tls: ConnectionOptions = {};
      if (tlsCfg?.ca) tls.ca = tlsCfg.ca;
      if (tlsCfg?.cert) tls.cert = tlsCfg.cert;
      if (tlsCfg?.key) tls.key = tlsCfg.key;
      if (tlsCfg?.server_name) tls.servername = tlsCfg.server_name;
      if (tlsCfg?.insecure_skip_verify) tls.rejectUnauthorized = false;
      opts.tls = tls;
    }
    return opts;
  }

  /** The real cause: the connection's own error beats ioredis's "Connection is closed." */
  private describe(err: unknown): string {
    const text = errorText(err);
    const conn = this.lastError ? errorText(this.lastError) : undefined;
    if (conn && conn !== text)
      return /Connection is closed|Stream isn't writeable/.test(text) ? conn : `${text}; ${conn}`;
    return text;
  }

  /** Closes `c`; when it is the current connection, the next scrape opens a new one. */
  private drop(c: Redis | undefined): void {
    if (!c) return;
    if (this.client === c) {
      this.client = undefined;
      this.connecting = undefined;
    }
    c.disconnect();
    // disconnect() only half-closes; a peer that never answers would keep the socket forever.
    (c as unknown as { stream?: Socket }).stream?.destroy();
  }
}

function upFamily() {
  return gauge('redis_up', 'Whether the Redis target answered INFO in this scrape (1) or not (0).');
}

function dbIndex(url: string): number {
  try {
    const n = Number(new URL(url).pathname.slice(1) || '0');
    return Number.isInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** SLOWLOG may be denied to a monitoring ACL user; the rest of the scrape does not depend on it. */
async function optional<T>(p: Promise<T>, ctx: ScrapeContext, what: string): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    ctx.logger.debug({ err: errorText(err) }, `${what} failed; its metrics are left out`);
    return undefined;
  }
}

function slowlogFamilies(labels: Record<string, string>, len: unknown, last: unknown): MetricFamily[] {
  const out: MetricFamily[] = [];
  if (typeof len === 'number') {
    out.push(gauge('redis_slowlog_length', 'Number of entries in the Redis slow log.').add(labels, len));
  }
  // SLOWLOG GET 1 → [[id, unix time, duration µs, args, …]]; empty when the log is empty.
  const entry = Array.isArray(last) ? (last[0] as unknown) : undefined;
  const id = Array.isArray(entry) ? Number(entry[0]) : 0;
  const usec = Array.isArray(entry) ? Number(entry[2]) : 0;
  if (Array.isArray(last)) {
    out.push(
      gauge('redis_slowlog_last_id', 'ID of the newest slow log entry.').add(
        labels,
        Number.isFinite(id) ? id : 0,
      ),
      gauge(
        'redis_last_slow_execution_duration_seconds',
        'Duration of the newest slow log entry, in seconds.',
      ).add(labels, Number.isFinite(usec) ? usec / 1e6 : 0),
    );
  }
  return out;
}

/**
 * Counts keys per prefix with one SCAN pass over the connection's database, stopping at the
 * time budget, the key cap or the scrape deadline; a cut pass is marked partial.
 */
export async function scanPrefixes(
  client: Redis,
  prefixes: readonly string[],
  separator: string,
  budgetMs: number,
  maxKeys: number,
  signal: AbortSignal,
): Promise<PrefixCount> {
  const started = performance.now();
  const counts = new Map(prefixes.map((p) => [p, 0]));
  let cursor = '0';
  let scanned = 0;
  let partial = false;
  do {
    if (signal.aborted || performance.now() - started >= budgetMs || scanned >= maxKeys) {
      partial = true;
      break;
    }
    // COUNT is a hint; keeping it under the remaining cap keeps the cap close to exact.
    const [next, keys] = await client.scan(cursor, 'COUNT', Math.max(10, Math.min(1000, maxKeys - scanned)));
    cursor = next;
    scanned += keys.length;
    for (const k of keys)
      for (const p of matchPrefixes(k, prefixes, separator)) counts.set(p, (counts.get(p) ?? 0) + 1);
  } while (cursor !== '0');
  return { counts, scanned, partial, seconds: (performance.now() - started) / 1000 };
}

function prefixFamilies(labels: Record<string, string>, scan: KeptPrefixCount): MetricFamily[] {
  const keys = gauge(
    'redis_key_prefix_keys',
    'Keys per configured key prefix, counted by a time-budgeted SCAN (a lower bound when redis_key_prefix_keys_partial is 1).',
  );
  for (const [prefix, n] of scan.counts) keys.add({ ...labels, prefix }, n);
  return [
    keys,
    gauge(
      'redis_key_prefix_keys_partial',
      'Whether the key-prefix SCAN was cut by its time budget, key cap or the scrape deadline (1) or covered the whole database (0).',
    ).add(labels, scan.partial ? 1 : 0),
    gauge('redis_key_prefix_scanned_keys', 'Keys visited by the last key-prefix SCAN.').add(
      labels,
      scan.scanned,
    ),
    gauge('redis_key_prefix_scan_duration_seconds', 'Duration of the last key-prefix SCAN.').add(
      labels,
      scan.seconds,
    ),
    gauge(
      'redis_key_prefix_scan_age_seconds',
      'Seconds since the key-prefix counts were read: a SCAN runs at most every key_prefix_scan_interval, in the background.',
    ).add(labels, Math.max(0, (Date.now() - scan.at) / 1000)),
  ];
}

/** One collector per configured Redis target. */
export function buildRedisCollectors(section: RedisSectionConfig): RedisCollector[] {
  return section.targets.map((t) => new RedisCollector(section, t));
}
