import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import Docker from 'dockerode';
import type { z } from 'zod';
import type { dockerSection } from '../config/host.js';
import { errorText, type Logger } from '../logger.js';
import type { MetricFamily } from '../metrics/exposition.js';
import type { Collector, ScrapeContext } from './collector.js';
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
 * (a one-shot call per container, about a second each on engines before API 1.41), so a
 * background sampler keeps the latest stats and inspect of every container; the scrape reads
 * the container list (one cheap call, so membership and state are always current), re-inspects
 * only containers whose state changed since, and joins the cached samples.
 */
export class DockerCollector implements Collector {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly agent: Agent;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly devices = new Map<string, string>();
  private readonly lifetime = new AbortController();
  private started = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  private lastKick = 0;
  private events?: NodeJS.ReadableStream;
  private eventsRetry?: NodeJS.Timeout;
  private eventsDone?: Promise<void>;
  private samplerFailing = false;

  constructor(
    private readonly cfg: DockerConfig,
    private readonly logger: Logger,
    private readonly deviceName: (majorMinor: string) => string = sysfsDeviceName,
  ) {
    // Keep-alive: a scrape's list and inspects reuse sockets instead of connecting each time.
    this.agent = new Agent({ keepAlive: true, maxSockets: cfg.stats_concurrency + 16 });
    const addr = engineAddress(cfg.host);
    // Explicit host/port override whatever DOCKER_HOST docker-modem would read from the environment.
    // docker-modem accepts an http.Agent; its type declarations do not list it.
    const opts: Docker.DockerOptions & { agent: Agent } =
      'socketPath' in addr
        ? { socketPath: addr.socketPath, host: undefined, port: undefined, agent: this.agent }
        : { host: addr.host, port: addr.port, protocol: addr.protocol, agent: this.agent };
    this.docker = new Docker(opts);
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const signal = AbortSignal.any([ctx.signal, this.lifetime.signal]);
    const list = (await this.docker.listContainers({ all: true, abortSignal: signal })) as ListedContainer[];
    const now = Date.now() / 1000;
    this.forgetMissing(list);
    const { selected, dropped } = this.select(list);

    const outdated = selected.filter((c) => {
      const e = this.cache.get(c.Id);
      return !e?.inspect || e.stale || !inspectIsCurrent(c, e.inspect);
    });
    await mapLimit(outdated, 8, (c) => this.inspect(c.Id, signal, ctx.logger));

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
    await Promise.allSettled([this.sampling, this.eventsDone]);
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

  /** Drops cached samples of containers that are gone, so memory follows the engine. */
  private forgetMissing(list: readonly ListedContainer[]): void {
    const ids = new Set(list.map((c) => c.Id));
    for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
  }

  private entry(id: string): CacheEntry {
    let e = this.cache.get(id);
    if (!e) {
      e = { stale: false };
      this.cache.set(id, e);
    }
    return e;
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
      // one-shot (API 1.41+) answers at once instead of waiting a second for a CPU delta we do not use.
      const opts = { stream: false as const, 'one-shot': true, abortSignal: signal };
      const s = (await this.docker.getContainer(id).stats(opts)) as unknown as ContainerStatsJson | Buffer;
      if (!Buffer.isBuffer(s)) this.entry(id).stats = s;
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

  private async sampleOnce(): Promise<void> {
    const signal = this.lifetime.signal;
    let list: ListedContainer[];
    try {
      list = (await this.docker.listContainers({ all: true, abortSignal: signal })) as ListedContainer[];
    } catch (err) {
      if (!this.samplerFailing && !this.closed)
        this.logger.warn(
          { collector: this.name, err: errorText(err) },
          'docker sampler cannot reach the engine',
        );
      this.samplerFailing = true;
      return;
    }
    if (this.samplerFailing)
      this.logger.info({ collector: this.name }, 'docker sampler reaches the engine again');
    this.samplerFailing = false;
    this.forgetMissing(list);
    const { selected } = this.select(list);
    const live = selected.filter((c) => c.State === 'running' || c.State === 'paused');
    await Promise.all([
      // Refreshing inspect catches restarts that happened between two scrapes in the same state.
      mapLimit(selected, 8, (c) => this.inspect(c.Id, signal, this.logger)),
      // The engine answers stats once per second tick however many ask, so they go out in parallel.
      mapLimit(live, this.cfg.stats_concurrency, (c) => this.stats(c.Id, signal)),
    ]);
  }

  /** Engine events mark cached inspects stale, so a restart or health change shows at the next scrape. */
  private async watchEvents(): Promise<void> {
    while (!this.closed) {
      try {
        const stream = (await this.docker.getEvents({
          filters: { type: ['container'] },
          abortSignal: this.lifetime.signal,
        })) as NodeJS.ReadableStream;
        this.events = stream;
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
    try {
      const ev = JSON.parse(line) as { id?: string; Action?: string; Actor?: { ID?: string } };
      const id = ev.Actor?.ID ?? ev.id;
      const action = ev.Action ?? '';
      if (!id || IGNORED_EVENT.test(action)) return;
      if (action === 'destroy') this.cache.delete(id);
      else {
        const e = this.cache.get(id);
        if (e) e.stale = true;
      }
    } catch {
      // A partial or foreign line; the periodic sample covers it.
    }
  }
}
