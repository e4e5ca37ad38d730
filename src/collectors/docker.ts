import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { inspect as utilInspect } from 'node:util';
import Docker from 'dockerode';
import type { z } from 'zod';
import type { dockerSection } from '../config/host.js';
import type { Logger } from '../logger.js';
import type { MetricFamily } from '../metrics/exposition.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import { ContainerCache } from './docker-cache.js';
import { engineAddress } from './docker-engine.js';
import { dockerDownFamilies, dockerFamilies, selectContainers, type MachineFacts } from './docker-parse.js';

export type DockerConfig = z.infer<typeof dockerSection>;

export { DEFAULT_DOCKER_SOCKET, dockerEnabled, engineAddress, type EngineAddress } from './docker-engine.js';

/**
 * docker-modem formats every request's options with util.inspect (showHidden, unlimited depth)
 * before its debug check; an Agent full of sockets made that cost 2-3 ms of CPU per request.
 */
class EngineAgent extends Agent {
  [utilInspect.custom](): string {
    return 'EngineAgent';
  }
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

function firstLine(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]?.trim() ?? '';
  } catch {
    return '';
  }
}

/**
 * cAdvisor's machine_* facts from /proc (logical CPUs, MemTotal) and its identity labels; an
 * identity this process may not read (product_uuid is root-only) is left empty, as cAdvisor does.
 */
export function readMachineFacts(): MachineFacts {
  return {
    cpuCores: cpus().length,
    memoryBytes: totalmem(),
    labels: {
      boot_id: firstLine('/proc/sys/kernel/random/boot_id'),
      machine_id: firstLine('/etc/machine-id') || firstLine('/var/lib/dbus/machine-id'),
      system_uuid: firstLine('/sys/class/dmi/id/product_uuid'),
    },
  };
}

/**
 * Docker containers with cAdvisor's names, read from a ContainerCache that samples the engine
 * in the background (see there): a scrape joins the latest list, inspect and stats.
 */
export class DockerCollector implements Collector {
  readonly name = 'docker';
  private readonly agent: Agent;
  private readonly cache: ContainerCache;
  private readonly devices = new Map<string, string>();
  private readonly machine = readMachineFacts();

  constructor(
    private readonly cfg: DockerConfig,
    logger: Logger,
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
    this.cache = new ContainerCache({
      docker: new Docker(opts),
      sampleIntervalMs: cfg.sample_interval,
      statsConcurrency: cfg.stats_concurrency,
      select: (list) =>
        selectContainers(list, { include: cfg.include, exclude: cfg.exclude, max: cfg.max_containers }),
      logger: logger.child({ collector: this.name }),
    });
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    // An event just arrived: its re-list and re-inspect take milliseconds; let them land.
    const { containers, dropped } = await this.cache.snapshot(
      ctx.signal,
      Math.min(1000, remainingMs(ctx) / 2),
    );
    return dockerFamilies(containers, {
      labelAllowlist: this.cfg.label_allowlist,
      now: Date.now() / 1000,
      dropped,
      machine: this.machine,
      deviceName: (mm) => this.device(mm),
    });
  }

  failureFamilies(): MetricFamily[] {
    return dockerDownFamilies();
  }

  start(): void {
    this.cache.start();
  }

  async close(): Promise<void> {
    await this.cache.close();
    this.agent.destroy();
  }

  private device(majorMinor: string): string {
    let name = this.devices.get(majorMinor);
    if (name === undefined) {
      name = this.deviceName(majorMinor);
      this.devices.set(majorMinor, name);
    }
    return name;
  }
}
