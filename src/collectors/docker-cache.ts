import { setMaxListeners } from 'node:events';
import { stat, statfs } from 'node:fs/promises';
import type Docker from 'dockerode';
import { errorText, type Logger } from '../logger.js';
import { settleWithin } from '../wait.js';
import {
  inspectIsCurrent,
  type ContainerSnapshot,
  type ContainerStatsJson,
  type InspectedContainer,
  type LayerFilesystem,
  type ListedContainer,
} from './docker-parse.js';

/** Sample rounds between two inspects of every container (events cover the rounds between). */
const FULL_INSPECT_EVERY = 6;

/** Engine events after which a cached inspect no longer holds; exec_* (health checks) change nothing. */
const IGNORED_EVENT = /^(exec_|attach|resize|top|export|copy|archive-path|commit)/;

interface CacheEntry {
  inspect?: InspectedContainer;
  sizeRw?: number;
  layer?: LayerFilesystem;
  /** Set by an engine event: the next update inspects again. */
  stale: boolean;
  stats?: ContainerStatsJson;
}

export interface ContainerCacheOptions {
  docker: Docker;
  sampleIntervalMs: number;
  statsConcurrency: number;
  /** The containers to export out of a full list (include/exclude, cap). */
  select: (list: readonly ListedContainer[]) => { selected: ListedContainer[]; dropped: number };
  logger: Logger;
}

export interface Snapshot {
  containers: ContainerSnapshot[];
  /** Containers over the cap. */
  dropped: number;
}

/** What one update does besides listing: inspect every selected container or only outdated ones; sample stats. */
interface UpdateKind {
  inspectAll: boolean;
  stats: boolean;
}

/** `major:minor` of a Linux dev_t as stat() returns it. */
function majorMinor(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/**
 * The filesystem holding a container's writable layer, read from this host: the overlay
 * upper directory, else the engine's root directory. Undefined when stackwatch cannot see it
 * (a remote engine, or stackwatch in a container without the engine's data mounted).
 */
async function layerFilesystem(path: string | undefined): Promise<LayerFilesystem | undefined> {
  if (!path) return undefined;
  try {
    const [st, fs] = await Promise.all([stat(path, { bigint: true }), statfs(path)]);
    return { device: majorMinor(st.dev), inodesTotal: fs.files, inodesFree: fs.ffree };
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The engine's containers with their latest inspect and stats. The stats API is too slow to
 * call inside a scrape (one call per container, answered on the engine's one-second tick), so
 * a background sampler keeps them. The list is kept current by the engine's event stream (a
 * removed container is dropped the moment its `destroy` event arrives; any other event
 * re-lists and re-inspects at once) and re-read every sample interval. Every path that reads
 * the engine goes through `update`; `snapshot` is the one way to read the cache.
 */
export class ContainerCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly lifetime = new AbortController();
  /** The engine's container list as of `listedAt`, patched by events since. */
  private rows = new Map<string, ListedContainer>();
  /** Containers destroyed (by event) after the list in flight was requested: kept out of it. */
  private readonly gone = new Map<string, number>();
  private listedAt = 0;
  private streamUp = false;
  private started = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  private refreshing?: Promise<void>;
  private refreshAgain = false;
  private lastKick = 0;
  private events?: NodeJS.ReadableStream;
  private eventsRetry?: NodeJS.Timeout;
  private eventsDone?: Promise<void>;
  private unreachable = false;
  /** The engine's DockerRootDir, asked once. */
  private rootDir?: Promise<string | undefined>;
  private lastError = '';
  private rounds = 0;

  constructor(private readonly opts: ContainerCacheOptions) {}

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.loop();
    this.eventsDone = this.watchEvents();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.eventsRetry);
    this.lifetime.abort();
    const ev = this.events as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    ev?.destroy?.();
    await Promise.allSettled([this.sampling, this.eventsDone, this.refreshing]);
  }

  /**
   * The selected containers with their latest samples. While events flow and the last list
   * is recent, no engine call is made (an update an event started gets up to `waitMs` to
   * land); otherwise, before the stream is connected or when the engine seems hung, the list
   * and outdated inspects are read now, under `signal`. Throws when the engine does not answer.
   */
  async snapshot(signal: AbortSignal, waitMs: number): Promise<Snapshot> {
    if (this.cacheIsLive()) {
      if (this.refreshing) await settleWithin(this.refreshing, waitMs);
    } else {
      const live = AbortSignal.any([signal, this.lifetime.signal]);
      setMaxListeners(0, live);
      const reached = await this.update(live, { inspectAll: false, stats: false });
      if (!reached) throw new Error(`docker engine did not answer: ${this.lastError}`);
    }
    const { selected, dropped } = this.opts.select([...this.rows.values()]);
    if (this.started && selected.some((c) => c.State === 'running' && !this.entries.get(c.Id)?.stats))
      this.kick();
    const containers = selected.map((row) => {
      const e = this.entries.get(row.Id);
      return { row, inspect: e?.inspect, stats: e?.stats, sizeRw: e?.sizeRw, layer: e?.layer };
    });
    return { containers, dropped };
  }

  /** The cached list is trusted while events flow and the last full list is recent. */
  private cacheIsLive(): boolean {
    const maxAge = 3 * this.opts.sampleIntervalMs + 5000;
    return this.started && this.streamUp && this.listedAt > 0 && Date.now() - this.listedAt < maxAge;
  }

  /**
   * The one refresh path: list, then inspect (everything or what is outdated) and, for the
   * sampler, stats. False when the engine did not answer the list (logged once per outage).
   */
  private async update(signal: AbortSignal, kind: UpdateKind): Promise<boolean> {
    if (!(await this.relist(signal))) return false;
    const { selected } = this.opts.select([...this.rows.values()]);
    const toInspect = kind.inspectAll
      ? selected
      : selected.filter((c) => {
          const e = this.entries.get(c.Id);
          return !e?.inspect || e.stale || !inspectIsCurrent(c, e.inspect);
        });
    const live = kind.stats ? selected.filter((c) => c.State === 'running' || c.State === 'paused') : [];
    await Promise.all([
      // The writable layer's size costs the engine a walk of it: only in the rounds that inspect everything.
      mapLimit(toInspect, 8, (c) => this.inspect(c.Id, signal, kind.inspectAll)),
      // The engine answers stats once per second tick however many ask, so they go out in parallel.
      mapLimit(live, this.opts.statsConcurrency, (c) => this.stats(c.Id, signal)),
    ]);
    return true;
  }

  private async relist(signal: AbortSignal): Promise<boolean> {
    try {
      const requestedAt = Date.now();
      const list = (await this.opts.docker.listContainers({
        all: true,
        abortSignal: signal,
      })) as ListedContainer[];
      this.setRows(list, requestedAt);
    } catch (err) {
      this.lastError = errorText(err);
      if (!this.unreachable && !this.closed)
        this.opts.logger.warn({ err: this.lastError }, 'docker collector cannot reach the engine');
      this.unreachable = true;
      return false;
    }
    if (this.unreachable) this.opts.logger.info('docker collector reaches the engine again');
    this.unreachable = false;
    return true;
  }

  /** A fresh list replaces the cached one; samples of containers that are gone are dropped. */
  private setRows(list: readonly ListedContainer[], requestedAt: number): void {
    this.rows = new Map(list.filter((c) => !this.gone.has(c.Id)).map((c) => [c.Id, c]));
    // A list requested after the destroy no longer needs the correction.
    for (const [id, at] of this.gone) if (requestedAt > at) this.gone.delete(id);
    this.listedAt = Date.now();
    for (const id of this.entries.keys()) if (!this.rows.has(id)) this.entries.delete(id);
  }

  private entry(id: string): CacheEntry {
    let e = this.entries.get(id);
    if (!e) {
      e = { stale: false };
      this.entries.set(id, e);
    }
    return e;
  }

  private async inspect(id: string, signal: AbortSignal, size: boolean): Promise<void> {
    try {
      // `size` goes into the query string (size=1); dockerode's type declarations do not list it.
      const opts = { abortSignal: signal, size } as Docker.ContainerInspectOptions;
      const info = (await this.opts.docker.getContainer(id).inspect(opts)) as InspectedContainer;
      const e = this.entry(id);
      e.inspect = info;
      e.stale = false;
      if (info.SizeRw !== undefined) e.sizeRw = info.SizeRw;
      e.layer = await layerFilesystem(info.GraphDriver?.Data?.UpperDir ?? (await this.engineRootDir(signal)));
    } catch (err) {
      // Usually a container removed between the list and the inspect.
      this.opts.logger.debug({ container: id.slice(0, 12), err: errorText(err) }, 'docker inspect failed');
    }
  }

  private engineRootDir(signal: AbortSignal): Promise<string | undefined> {
    // dockerode's info() takes request options like every call; its type declarations omit them.
    const info = this.opts.docker.info as (opts: {
      abortSignal: AbortSignal;
    }) => Promise<{ DockerRootDir?: string }>;
    this.rootDir ??= info
      .call(this.opts.docker, { abortSignal: signal })
      .then((i) => i.DockerRootDir)
      .catch(() => {
        this.rootDir = undefined; // asked again next time
        return undefined;
      });
    return this.rootDir;
  }

  private async stats(id: string, signal: AbortSignal): Promise<void> {
    try {
      // one-shot (API 1.41+) skips waiting a second tick for a CPU delta that is not used here.
      const opts = { stream: false as const, 'one-shot': true, abortSignal: signal };
      const s = (await this.opts.docker.getContainer(id).stats(opts)) as unknown as
        ContainerStatsJson | Buffer;
      if (!Buffer.isBuffer(s) && this.rows.has(id)) this.entry(id).stats = s;
    } catch (err) {
      this.opts.logger.debug({ container: id.slice(0, 12), err: errorText(err) }, 'docker stats failed');
    }
  }

  private loop(): void {
    if (this.closed) return;
    this.sampling = this.bounded((signal) =>
      // Events mark what changed; re-inspecting everything now and then covers what a dropped
      // stream missed.
      this.update(signal, {
        inspectAll: this.rounds++ % FULL_INSPECT_EVERY === 0 || !this.streamUp,
        stats: true,
      }),
    ).finally(() => {
      this.sampling = undefined;
      if (this.closed) return;
      this.timer = setTimeout(() => this.loop(), this.opts.sampleIntervalMs);
      this.timer.unref();
    });
  }

  /** A new container should not wait a whole interval for its first sample; at most once a second. */
  private kick(): void {
    if (this.sampling || this.closed || Date.now() - this.lastKick < 1000) return;
    this.lastKick = Date.now();
    clearTimeout(this.timer);
    this.loop();
  }

  /** Runs `fn` with a signal that aborts on close or after a bound, so a hung engine cannot stall it. */
  private async bounded(fn: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    const round = new AbortController();
    const timer = setTimeout(
      () => round.abort(new Error('docker request round timed out')),
      3 * this.opts.sampleIntervalMs + 10_000,
    );
    const signal = AbortSignal.any([this.lifetime.signal, round.signal]);
    // Every request in flight listens on it; dozens at once are expected, not a leak.
    setMaxListeners(0, signal);
    try {
      await fn(signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Re-list and re-inspect what changed, after an event; calls during a run coalesce into one more run. */
  private refresh(): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.bounded(async (signal) => {
      do {
        this.refreshAgain = false;
        if (!(await this.update(signal, { inspectAll: false, stats: false }))) return;
      } while (this.refreshAgain && !this.closed);
    }).finally(() => {
      this.refreshing = undefined;
    });
  }

  /** Follows the engine's container events; reconnects while the cache is open. */
  private async watchEvents(): Promise<void> {
    while (!this.closed) {
      try {
        const stream = (await this.opts.docker.getEvents({
          filters: { type: ['container'] },
          abortSignal: this.lifetime.signal,
        })) as NodeJS.ReadableStream;
        this.events = stream;
        this.streamUp = true;
        // Events missed while disconnected: one list catches up.
        this.refresh();
        await new Promise<void>((resolve) => {
          let buf = '';
          stream.on('data', (chunk: Buffer) => {
            buf += chunk.toString('utf8');
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              this.onEvent(buf.slice(0, nl));
              buf = buf.slice(nl + 1);
            }
          });
          stream.once('end', resolve);
          stream.once('close', resolve);
          stream.once('error', () => resolve());
        });
      } catch {
        // Engine down: update() logs it; retry below.
      }
      this.streamUp = false;
      this.events = undefined;
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.eventsRetry = setTimeout(resolve, Math.min(this.opts.sampleIntervalMs, 5000));
        this.eventsRetry.unref();
      });
    }
  }

  private onEvent(line: string): void {
    if (!line.trim()) return;
    let ev: { id?: string; Action?: string; Actor?: { ID?: string } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      return; // a foreign line; the periodic sample covers it
    }
    const id = ev.Actor?.ID ?? ev.id;
    const action = ev.Action ?? '';
    if (!id || IGNORED_EVENT.test(action)) return;
    if (action === 'destroy') {
      // Gone for good: out of the very next snapshot, without waiting for a list.
      this.rows.delete(id);
      this.entries.delete(id);
      this.gone.set(id, Date.now());
      return;
    }
    const e = this.entries.get(id);
    if (e) e.stale = true;
    this.refresh();
  }
}
