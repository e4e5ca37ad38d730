import { setMaxListeners } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { inspect as utilInspect } from 'node:util';
import Docker from 'dockerode';
import type { z } from 'zod';
import type { dockerSection } from '../config/host.js';
import { errorText, type Logger } from '../logger.js';
import type { MetricFamily } from '../metrics/exposition.js';
import { settleWithin } from '../wait.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import {
  dockerDownFamilies,
  dockerFamilies,
  inspectIsCurrent,
  selectContainers,
  type ContainerSnapshot,
  type ContainerStatsJson,
  type InspectedContainer,
  type ListedContainer,
} from './docker-parse.js';

export type DockerConfig = z.infer<typeof dockerSection>;

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export type EngineAddress =
  { socketPath: string } | { host: string; port: number; protocol: 'http' | 'https' };

/** DOCKER_HOST syntax: `unix:///path`, a bare socket path, or `tcp://host:port` (2376 means TLS). */
export function engineAddress(host: string | undefined): EngineAddress {
  if (!host) return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('unix://'))
    return { socketPath: host.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('/')) return { socketPath: host };
  const u = new URL(host.includes('://') ? host : `tcp://${host}`);
  const port = Number(u.port || (u.protocol === 'https:' ? 2376 : 2375));
  const tls = u.protocol === 'https:' || port === 2376 || process.env.DOCKER_TLS_VERIFY === '1';
  return { host: u.hostname, port, protocol: tls ? 'https' : 'http' };
}

/** `enabled: auto` turns the collector on when the engine's socket exists (or a TCP host is configured). */
export function dockerEnabled(cfg: Pick<DockerConfig, 'enabled' | 'host'>): boolean {
  if (cfg.enabled !== 'auto') return cfg.enabled;
  const addr = engineAddress(cfg.host);
  return 'socketPath' in addr ? existsSync(addr.socketPath) : true;
}

/**
 * docker-modem formats every request's options with util.inspect (showHidden, unlimited depth)
 * before its debug check; an Agent full of sockets made that cost 2-3 ms of CPU per request.
 */
class EngineAgent extends Agent {
  [utilInspect.custom](): string {
    return 'EngineAgent';
  }
}

/** Sample rounds between two inspects of every container (events cover the rounds between). */
const FULL_INSPECT_EVERY = 6;

interface CacheEntry {
  inspect?: InspectedContainer;
  /** Set by an engine event: the next scrape inspects again. */
  stale: boolean;
  stats?: ContainerStatsJson;
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

/** `/dev/vda` for `254:0`, from sysfs; the numbers when sysfs is not visible (e.g. in a container). */
function sysfsDeviceName(majorMinor: string): string {
  try {
    const m = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${majorMinor}/uevent`, 'utf8'));
    if (m) return `/dev/${m[1]}`;
  } catch {
    // fall through
  }
  return majorMinor;
}

/** Engine events after which a cached inspect no longer holds; exec_* (health checks) change nothing. */
const IGNORED_EVENT = /^(exec_|attach|resize|top|export|copy|archive-path|commit)/;

/**
 * Docker containers with cAdvisor's names. The stats API is too slow to call inside a scrape
 * (one call per container, answered on the engine's one-second tick), so a background sampler
 * keeps the latest stats and inspect of every container. The container list is kept current by
 * the engine's event stream (a removed container is dropped the moment its `destroy` event
 * arrives; any other event re-lists and re-inspects at once) and re-read every sample interval,
 * so a scrape makes no engine call at all. Until the stream is connected, or when the last
 * successful list is too old (a hung engine), the scrape lists and inspects live instead.
 */
export class DockerCollector implements Collector {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly agent: Agent;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly devices = new Map<string, string>();
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
  private samplerFailing = false;
  private rounds = 0;

  constructor(
    private readonly cfg: DockerConfig,
    private readonly logger: Logger,
    private readonly deviceName: (majorMinor: string) => string = sysfsDeviceName,
  ) {
    // Keep-alive: the sampler's inspects and stats reuse sockets instead of connecting each time.
    this.agent = new EngineAgent({ keepAlive: true, maxSockets: cfg.stats_concurrency + 16 });
    const addr = engineAddress(cfg.host);
    // Explicit host/port override whatever DOCKER_HOST docker-modem would read from the environment.
    // docker-modem accepts an http.Agent; its type declarations do not list it.
    const opts: Docker.DockerOptions & { agent: Agent } =
      'socketPath' in addr
        ? { socketPath: addr.socketPath, host: undefined, port: undefined, agent: this.agent }
        : { host: addr.host, port: addr.port, protocol: addr.protocol, agent: this.agent };
    this.docker = new Docker(opts);
  }

  /** The cached list is trusted while events flow and the last full list is recent. */
  private cacheIsLive(): boolean {
    const maxAge = 3 * this.cfg.sample_interval + 5000;
    return this.started && this.streamUp && this.listedAt > 0 && Date.now() - this.listedAt < maxAge;
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const signal = AbortSignal.any([ctx.signal, this.lifetime.signal]);
    setMaxListeners(0, signal);
    let list: ListedContainer[];
    if (this.cacheIsLive()) {
      // An event just arrived: its re-list and re-inspect take milliseconds; let them land.
      if (this.refreshing) await settleWithin(this.refreshing, Math.min(1000, remainingMs(ctx) / 2));
      list = [...this.rows.values()];
    } else {
      const requestedAt = Date.now();
      this.setRows(
        (await this.docker.listContainers({ all: true, abortSignal: signal })) as ListedContainer[],
        requestedAt,
      );
      list = [...this.rows.values()];
      await this.inspectOutdated(this.select(list).selected, signal, ctx.logger);
    }
    const now = Date.now() / 1000;
    const { selected, dropped } = this.select(list);
    if (this.started && selected.some((c) => c.State === 'running' && !this.cache.get(c.Id)?.stats))
      this.kick();

    const snapshots: ContainerSnapshot[] = selected.map((row) => {
      const e = this.cache.get(row.Id);
      return { row, inspect: e?.inspect, stats: e?.stats };
    });
    return dockerFamilies(snapshots, {
      labelAllowlist: this.cfg.label_allowlist,
      now,
      dropped,
      deviceName: (mm) => this.device(mm),
    });
  }

  failureFamilies(): MetricFamily[] {
    return dockerDownFamilies();
  }

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
    this.agent.destroy();
  }

  private select(list: readonly ListedContainer[]) {
    return selectContainers(list, {
      include: this.cfg.include,
      exclude: this.cfg.exclude,
      max: this.cfg.max_containers,
    });
  }

  private device(majorMinor: string): string {
    let name = this.devices.get(majorMinor);
    if (name === undefined) {
      name = this.deviceName(majorMinor);
      this.devices.set(majorMinor, name);
    }
    return name;
  }

  /** A fresh list replaces the cached one; samples of containers that are gone are dropped. */
  private setRows(list: readonly ListedContainer[], requestedAt: number): void {
    this.rows = new Map(list.filter((c) => !this.gone.has(c.Id)).map((c) => [c.Id, c]));
    // A list requested after the destroy no longer needs the correction.
    for (const [id, at] of this.gone) if (requestedAt > at) this.gone.delete(id);
    this.listedAt = Date.now();
    for (const id of this.cache.keys()) if (!this.rows.has(id)) this.cache.delete(id);
  }

  private entry(id: string): CacheEntry {
    let e = this.cache.get(id);
    if (!e) {
      e = { stale: false };
      this.cache.set(id, e);
    }
    return e;
  }

  private async inspectOutdated(selected: readonly ListedContainer[], signal: AbortSignal, log: Logger) {
    const outdated = selected.filter((c) => {
      const e = this.cache.get(c.Id);
      return !e?.inspect || e.stale || !inspectIsCurrent(c, e.inspect);
    });
    await mapLimit(outdated, 8, (c) => this.inspect(c.Id, signal, log));
  }

  private async inspect(id: string, signal: AbortSignal, log: Logger): Promise<void> {
    try {
      const info = (await this.docker
        .getContainer(id)
        .inspect({ abortSignal: signal })) as InspectedContainer;
      const e = this.entry(id);
      e.inspect = info;
      e.stale = false;
    } catch (err) {
      // Usually a container removed between the list and the inspect.
      log.debug({ container: id.slice(0, 12), err: errorText(err) }, 'docker inspect failed');
    }
  }

  private async stats(id: string, signal: AbortSignal): Promise<void> {
    try {
      // one-shot (API 1.41+) skips waiting a second tick for a CPU delta that is not used here.
      const opts = { stream: false as const, 'one-shot': true, abortSignal: signal };
      const s = (await this.docker.getContainer(id).stats(opts)) as unknown as ContainerStatsJson | Buffer;
      if (!Buffer.isBuffer(s) && this.rows.has(id)) this.entry(id).stats = s;
    } catch (err) {
      this.logger.debug(
        { collector: this.name, container: id.slice(0, 12), err: errorText(err) },
        'docker stats failed',
      );
    }
  }

  private loop(): void {
    if (this.closed) return;
    this.sampling = this.sampleOnce().finally(() => {
      this.sampling = undefined;
      if (this.closed) return;
      this.timer = setTimeout(() => this.loop(), this.cfg.sample_interval);
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
  private async bounded(fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const round = new AbortController();
    const timer = setTimeout(
      () => round.abort(new Error('docker request round timed out')),
      3 * this.cfg.sample_interval + 10_000,
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

  /** Lists containers into the cache; false when the engine did not answer. */
  private async relist(signal: AbortSignal): Promise<boolean> {
    try {
      const requestedAt = Date.now();
      const list = (await this.docker.listContainers({
        all: true,
        abortSignal: signal,
      })) as ListedContainer[];
      this.setRows(list, requestedAt);
    } catch (err) {
      if (!this.samplerFailing && !this.closed)
        this.logger.warn(
          { collector: this.name, err: errorText(err) },
          'docker sampler cannot reach the engine',
        );
      this.samplerFailing = true;
      return false;
    }
    if (this.samplerFailing)
      this.logger.info({ collector: this.name }, 'docker sampler reaches the engine again');
    this.samplerFailing = false;
    return true;
  }

  private sampleOnce(): Promise<void> {
    return this.bounded(async (signal) => {
      if (!(await this.relist(signal))) return;
      const { selected } = this.select([...this.rows.values()]);
      const live = selected.filter((c) => c.State === 'running' || c.State === 'paused');
      // Events mark what changed; re-inspecting everything now and then covers what a dropped
      // stream missed.
      const full = this.rounds++ % FULL_INSPECT_EVERY === 0 || !this.streamUp;
      await Promise.all([
        full
          ? mapLimit(selected, 8, (c) => this.inspect(c.Id, signal, this.logger))
          : this.inspectOutdated(selected, signal, this.logger),
        // The engine answers stats once per second tick however many ask, so they go out in parallel.
        mapLimit(live, this.cfg.stats_concurrency, (c) => this.stats(c.Id, signal)),
      ]);
    });
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
        if (!(await this.relist(signal))) return;
        await this.inspectOutdated(this.select([...this.rows.values()]).selected, signal, this.logger);
      } while (this.refreshAgain && !this.closed);
    }).finally(() => {
      this.refreshing = undefined;
    });
  }

  /** Follows the engine's container events; reconnects while the collector is open. */
  private async watchEvents(): Promise<void> {
    while (!this.closed) {
      try {
        const stream = (await this.docker.getEvents({
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
        // Engine down: the sampler logs it; retry below.
      }
      this.streamUp = false;
      this.events = undefined;
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.eventsRetry = setTimeout(resolve, Math.min(this.cfg.sample_interval, 5000));
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
      // Gone for good: out of the very next scrape, without waiting for a list.
      this.rows.delete(id);
      this.cache.delete(id);
      this.gone.set(id, Date.now());
      return;
    }
    const e = this.cache.get(id);
    if (e) e.stale = true;
    this.refresh();
  }
}
