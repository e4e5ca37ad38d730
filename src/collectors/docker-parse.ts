// Pure mapping from Docker Engine API JSON (container list, inspect, one-shot stats) to
// cAdvisor-named families. No I/O here: the collector fetches, these functions translate,
// and the tests feed them answers captured from a real engine.
import {
  counter,
  gauge,
  untyped,
  type FamilyBuilder,
  type Labels,
  type MetricFamily,
} from '../metrics/exposition.js';

/** One row of `GET /containers/json?all=1`. */
export interface ListedContainer {
  Id: string;
  Names?: string[];
  Image?: string;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  Created?: number;
}

/** The parts of `GET /containers/{id}/json` that are exported. */
export interface InspectedContainer {
  Id: string;
  RestartCount?: number;
  State?: {
    Status?: string;
    OOMKilled?: boolean;
    ExitCode?: number;
    StartedAt?: string;
    Health?: { Status?: string } | null;
  };
  HostConfig?: {
    Memory?: number;
    MemoryReservation?: number;
    /** `--cpus`, in billionths of a CPU. */
    NanoCpus?: number;
    CpuPeriod?: number;
    CpuQuota?: number;
    CpuShares?: number;
  } | null;
  /** Bytes in the writable layer; only in an inspect with `size=1`. */
  SizeRw?: number;
  GraphDriver?: { Data?: Record<string, string> | null } | null;
}

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** `GET /containers/{id}/stats?stream=false&one-shot=true` (cgroup v1 and v2 shapes). */
export interface ContainerStatsJson {
  read?: string;
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; usage_in_kernelmode?: number; usage_in_usermode?: number };
    throttling_data?: { periods?: number; throttled_periods?: number; throttled_time?: number };
  };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<
    string,
    {
      rx_bytes?: number;
      tx_bytes?: number;
      rx_packets?: number;
      tx_packets?: number;
      rx_errors?: number;
      tx_errors?: number;
      rx_dropped?: number;
      tx_dropped?: number;
    }
  >;
  blkio_stats?: {
    io_service_bytes_recursive?: BlkioEntry[] | null;
    /** Operations per device (cgroup v1; Docker leaves it empty on v2). */
    io_serviced_recursive?: BlkioEntry[] | null;
  };
}

/** Docker's container states, in the order of its documentation. */
export const CONTAINER_STATES = [
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
] as const;
/** Docker's health states (containers without a health check have none). */
export const HEALTH_STATUSES = ['starting', 'healthy', 'unhealthy'] as const;

/** States in which the container has a cgroup, so resource counters mean something. */
const LIVE_STATES = new Set(['running', 'paused']);

/** `com.docker.compose.service` → `container_label_com_docker_compose_service`, as cAdvisor names it. */
export function labelName(dockerLabel: string): string {
  return 'container_label_' + dockerLabel.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** The container's name without Docker's leading slash. */
export function containerName(c: ListedContainer): string {
  const n = c.Names?.[0] ?? '';
  return n.startsWith('/') ? n.slice(1) : n;
}

/** Labels every series of one container carries: cAdvisor's name/image/id plus allow-listed container labels. */
export function containerLabels(c: ListedContainer, allowlist: readonly string[]): Labels {
  const labels: Labels = { name: containerName(c), image: c.Image ?? '', id: c.Id };
  for (const key of allowlist) {
    const v = c.Labels?.[key];
    if (v !== undefined && v !== '') labels[labelName(key)] = v;
  }
  return labels;
}

export interface SelectOptions {
  include: RegExp;
  exclude?: RegExp;
  max: number;
}

/**
 * Containers to export: by name through include/exclude, then at most `max`, running ones
 * first and then by name, so the cap drops stopped leftovers before live services.
 */
export function selectContainers(
  list: readonly ListedContainer[],
  opts: SelectOptions,
): { selected: ListedContainer[]; dropped: number } {
  const matching = list.filter((c) => {
    const n = containerName(c);
    return opts.include.test(n) && !opts.exclude?.test(n);
  });
  if (matching.length <= opts.max) return { selected: matching, dropped: 0 };
  const rank = (c: ListedContainer) => (c.State === 'running' ? 0 : 1);
  const sorted = [...matching].sort(
    (a, b) => rank(a) - rank(b) || containerName(a).localeCompare(containerName(b)),
  );
  return { selected: sorted.slice(0, opts.max), dropped: matching.length - opts.max };
}

/** Seconds since the epoch of an RFC 3339 time from the API; undefined for Go's zero time. */
export function apiTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/**
 * Working set as cAdvisor computes it: usage minus inactive file pages, never below zero.
 * cgroup v1 reports the hierarchical `total_inactive_file`; v2 only `inactive_file`.
 */
export function workingSetBytes(mem: NonNullable<ContainerStatsJson['memory_stats']>): number | undefined {
  if (mem.usage === undefined) return undefined;
  const s = mem.stats ?? {};
  const inactive = s.total_inactive_file ?? s.inactive_file ?? 0;
  return Math.max(0, mem.usage - inactive);
}

/**
 * Reads and writes per block device (major:minor) from blkio stats, in bytes
 * (`io_service_bytes_recursive`) or operations (`io_serviced_recursive`); v1 says `Read`, v2 `read`.
 */
export function blkioBytes(
  stats: ContainerStatsJson['blkio_stats'],
  kind: 'io_service_bytes_recursive' | 'io_serviced_recursive' = 'io_service_bytes_recursive',
): { device: string; read: number; write: number }[] {
  const byDevice = new Map<string, { device: string; read: number; write: number }>();
  for (const e of stats?.[kind] ?? []) {
    const op = e.op.toLowerCase();
    if (op !== 'read' && op !== 'write') continue;
    const device = `${e.major}:${e.minor}`;
    const cur = byDevice.get(device) ?? { device, read: 0, write: 0 };
    cur[op] += e.value;
    byDevice.set(device, cur);
  }
  return [...byDevice.values()];
}

/** The filesystem of a container's writable layer, when stackwatch can see it. */
export interface LayerFilesystem {
  /** major:minor of the filesystem holding the layer. */
  device: string;
  inodesTotal: number;
  inodesFree: number;
}

/** The CFS period and quota (microseconds) the engine gave the container, from `--cpus` or `--cpu-quota`. */
export function cpuQuota(
  host: InspectedContainer['HostConfig'],
): { period: number; quota: number } | undefined {
  if (host?.NanoCpus) return { period: 100_000, quota: Math.round((host.NanoCpus * 100_000) / 1e9) };
  if (host?.CpuQuota && host.CpuQuota > 0) return { period: host.CpuPeriod || 100_000, quota: host.CpuQuota };
  return undefined;
}

export interface ContainerSnapshot {
  row: ListedContainer;
  inspect?: InspectedContainer;
  stats?: ContainerStatsJson;
  /** SizeRw of the latest inspect that asked for sizes. */
  sizeRw?: number;
  layer?: LayerFilesystem;
}

/** cAdvisor's machine facts: logical CPUs and memory, labelled with the machine's identities. */
export interface MachineFacts {
  cpuCores: number;
  memoryBytes: number;
  labels: { boot_id: string; machine_id: string; system_uuid: string };
}

export interface FamilyOptions {
  labelAllowlist: readonly string[];
  /** Epoch seconds of the container list this scrape read (`container_last_seen`). */
  now: number;
  /** Block device name for `major:minor` (e.g. `/dev/vda`); the numbers are kept when unknown. */
  deviceName?: (majorMinor: string) => string;
  /** Containers left out by the cap. */
  dropped?: number;
  machine?: MachineFacts;
}

const SAMPLED = ' Sampled in the background every collectors.docker.sample_interval.';

/** Families for one scrape: the list decides which containers exist, inspect and stats add detail. */
export function dockerFamilies(snapshots: readonly ContainerSnapshot[], opts: FamilyOptions): MetricFamily[] {
  const f = {
    up: gauge('docker_up', 'Whether the Docker engine answered the container list (1) or not (0).'),
    state: gauge(
      'container_state',
      'Container state: 1 for the current one of created, running, paused, restarting, removing, exited, dead.',
    ),
    health: gauge(
      'container_health_status',
      'Health check status: 1 for the current one of starting, healthy, unhealthy (containers with a health check only).',
    ),
    // A counter (like kube-state-metrics' restarts_total): it only grows for a container ID.
    restarts: counter('container_restarts_total', 'Number of times the engine restarted the container.'),
    exitCode: gauge(
      'container_exit_code',
      'Exit code of the last run of the container (0 while never exited).',
    ),
    oom: gauge(
      'container_oom_killed',
      'Whether the last run of the container was killed for running out of memory.',
    ),
    lastSeen: gauge(
      'container_last_seen',
      'Last time the container was seen by the exporter, in seconds since the epoch.',
    ),
    start: gauge(
      'container_start_time_seconds',
      'Start time of the running container since the epoch in seconds.',
    ),
    memLimit: gauge(
      'container_spec_memory_limit_bytes',
      'Memory limit of the container in bytes (0 for none).',
    ),
    memReservation: gauge(
      'container_spec_memory_reservation_limit_bytes',
      'Memory reservation (soft limit) of the container in bytes (0 for none).',
    ),
    fsUsage: gauge(
      'container_fs_usage_bytes',
      'Number of bytes that are consumed by the container on this filesystem (its writable layer).' +
        ' Measured by the engine every sixth sample.',
    ),
    // cAdvisor's gauge with a `_total` name: untyped keeps its name and promtool quiet.
    fsInodes: untyped('container_fs_inodes_total', 'Number of Inodes (gauge; cAdvisor name).' + SAMPLED),
    fsInodesFree: gauge('container_fs_inodes_free', 'Number of available Inodes.' + SAMPLED),
    fsReadOps: counter('container_fs_reads_total', 'Cumulative count of reads completed.' + SAMPLED),
    fsWriteOps: counter('container_fs_writes_total', 'Cumulative count of writes completed.' + SAMPLED),
    cpuPeriod: gauge('container_spec_cpu_period', 'CPU period of the container (microseconds).'),
    cpuQuota: gauge('container_spec_cpu_quota', 'CPU quota of the container (microseconds per period).'),
    cpuShares: gauge('container_spec_cpu_shares', 'CPU share of the container.'),
    cfsPeriods: counter(
      'container_cpu_cfs_periods_total',
      'Number of elapsed enforcement period intervals.' + SAMPLED,
    ),
    cfsThrottledPeriods: counter(
      'container_cpu_cfs_throttled_periods_total',
      'Number of throttled period intervals.' + SAMPLED,
    ),
    cfsThrottledSeconds: counter(
      'container_cpu_cfs_throttled_seconds_total',
      'Total time duration the container has been throttled.' + SAMPLED,
    ),
    machineCores: gauge('machine_cpu_cores', 'Number of logical CPU cores.'),
    machineMemory: gauge('machine_memory_bytes', 'Amount of memory installed on the machine.'),
    cpu: counter('container_cpu_usage_seconds_total', 'Cumulative CPU time consumed in seconds.' + SAMPLED),
    cpuUser: counter(
      'container_cpu_user_seconds_total',
      'Cumulative user CPU time consumed in seconds.' + SAMPLED,
    ),
    cpuSystem: counter(
      'container_cpu_system_seconds_total',
      'Cumulative system CPU time consumed in seconds.' + SAMPLED,
    ),
    memUsage: gauge(
      'container_memory_usage_bytes',
      'Current memory usage in bytes, including all memory regardless of when it was accessed.' + SAMPLED,
    ),
    memWs: gauge('container_memory_working_set_bytes', 'Current working set in bytes.' + SAMPLED),
    memRss: gauge('container_memory_rss', 'Size of RSS in bytes.' + SAMPLED),
    memCache: gauge('container_memory_cache', 'Number of bytes of page cache memory.' + SAMPLED),
    rx: counter('container_network_receive_bytes_total', 'Cumulative count of bytes received.' + SAMPLED),
    tx: counter('container_network_transmit_bytes_total', 'Cumulative count of bytes transmitted.' + SAMPLED),
    rxPackets: counter(
      'container_network_receive_packets_total',
      'Cumulative count of packets received.' + SAMPLED,
    ),
    txPackets: counter(
      'container_network_transmit_packets_total',
      'Cumulative count of packets transmitted.' + SAMPLED,
    ),
    rxErrors: counter(
      'container_network_receive_errors_total',
      'Cumulative count of errors encountered while receiving.' + SAMPLED,
    ),
    txErrors: counter(
      'container_network_transmit_errors_total',
      'Cumulative count of errors encountered while transmitting.' + SAMPLED,
    ),
    rxDropped: counter(
      'container_network_receive_packets_dropped_total',
      'Cumulative count of packets dropped while receiving.' + SAMPLED,
    ),
    txDropped: counter(
      'container_network_transmit_packets_dropped_total',
      'Cumulative count of packets dropped while transmitting.' + SAMPLED,
    ),
    fsReads: counter('container_fs_reads_bytes_total', 'Cumulative count of bytes read.' + SAMPLED),
    fsWrites: counter('container_fs_writes_bytes_total', 'Cumulative count of bytes written.' + SAMPLED),
    notExported: gauge(
      'docker_containers_not_exported',
      'Containers left out of this scrape by collectors.docker.max_containers.',
    ),
  };
  f.up.add({}, 1);
  f.notExported.add({}, opts.dropped ?? 0);
  if (opts.machine) {
    f.machineCores.add(opts.machine.labels, opts.machine.cpuCores);
    f.machineMemory.add(opts.machine.labels, opts.machine.memoryBytes);
  }

  const device = (majorMinor: string) => opts.deviceName?.(majorMinor) ?? majorMinor;
  for (const { row, inspect, stats, sizeRw, layer } of snapshots) {
    const base = containerLabels(row, opts.labelAllowlist);
    // The list is read on every scrape, so its state is the freshest; inspect may lag by a sample.
    const state = row.State ?? inspect?.State?.Status ?? '';
    for (const s of CONTAINER_STATES) f.state.add({ ...base, state: s }, s === state ? 1 : 0);
    f.lastSeen.add(base, opts.now);

    if (inspect) {
      f.restarts.add(base, inspect.RestartCount ?? 0);
      f.exitCode.add(base, inspect.State?.ExitCode ?? 0);
      f.oom.add(base, inspect.State?.OOMKilled ? 1 : 0);
      f.memLimit.add(base, inspect.HostConfig?.Memory ?? 0);
      f.memReservation.add(base, inspect.HostConfig?.MemoryReservation ?? 0);
      // The kernel's default weight when the engine was given none, as cAdvisor reads it from the cgroup.
      f.cpuShares.add(base, inspect.HostConfig?.CpuShares || 1024);
      const q = cpuQuota(inspect.HostConfig);
      if (q) {
        f.cpuPeriod.add(base, q.period);
        f.cpuQuota.add(base, q.quota);
      }
      const health = inspect.State?.Health?.Status;
      if (health && health !== 'none') {
        for (const h of HEALTH_STATUSES) f.health.add({ ...base, status: h }, h === health ? 1 : 0);
      }
      const started = apiTime(inspect.State?.StartedAt);
      if (started !== undefined && LIVE_STATES.has(state)) f.start.add(base, started);
    }

    if (layer) {
      const labels = { ...base, device: device(layer.device) };
      if (sizeRw !== undefined) f.fsUsage.add(labels, sizeRw);
      f.fsInodes.add(labels, layer.inodesTotal);
      f.fsInodesFree.add(labels, layer.inodesFree);
    }

    // Stats of a stopped container are zeros, and its last sample describes a run that ended.
    if (!stats || !LIVE_STATES.has(state) || apiTime(stats.read) === undefined) continue;
    const cpu = stats.cpu_stats?.cpu_usage;
    if (cpu?.total_usage !== undefined) f.cpu.add({ ...base, cpu: 'total' }, cpu.total_usage / 1e9);
    if (cpu?.usage_in_usermode !== undefined) f.cpuUser.add(base, cpu.usage_in_usermode / 1e9);
    if (cpu?.usage_in_kernelmode !== undefined) f.cpuSystem.add(base, cpu.usage_in_kernelmode / 1e9);
    // cAdvisor has CFS families only for containers with a quota.
    const throttling = stats.cpu_stats?.throttling_data;
    if (throttling && cpuQuota(inspect?.HostConfig)) {
      addIfDefined(f.cfsPeriods, base, throttling.periods);
      addIfDefined(f.cfsThrottledPeriods, base, throttling.throttled_periods);
      if (throttling.throttled_time !== undefined)
        f.cfsThrottledSeconds.add(base, throttling.throttled_time / 1e9);
    }
    const mem = stats.memory_stats;
    if (mem?.usage !== undefined) {
      f.memUsage.add(base, mem.usage);
      f.memWs.add(base, workingSetBytes(mem) as number);
      const s = mem.stats ?? {};
      const rss = s.total_rss ?? s.anon;
      const cache = s.total_cache ?? s.file;
      if (rss !== undefined) f.memRss.add(base, rss);
      if (cache !== undefined) f.memCache.add(base, cache);
    }
    for (const [iface, n] of Object.entries(stats.networks ?? {})) {
      const labels = { ...base, interface: iface };
      addIfDefined(f.rx, labels, n.rx_bytes);
      addIfDefined(f.tx, labels, n.tx_bytes);
      addIfDefined(f.rxPackets, labels, n.rx_packets);
      addIfDefined(f.txPackets, labels, n.tx_packets);
      addIfDefined(f.rxErrors, labels, n.rx_errors);
      addIfDefined(f.txErrors, labels, n.tx_errors);
      addIfDefined(f.rxDropped, labels, n.rx_dropped);
      addIfDefined(f.txDropped, labels, n.tx_dropped);
    }
    for (const d of blkioBytes(stats.blkio_stats)) {
      const labels = { ...base, device: device(d.device) };
      f.fsReads.add(labels, d.read);
      f.fsWrites.add(labels, d.write);
    }
    for (const d of blkioBytes(stats.blkio_stats, 'io_serviced_recursive')) {
      const labels = { ...base, device: device(d.device) };
      f.fsReadOps.add(labels, d.read);
      f.fsWriteOps.add(labels, d.write);
    }
  }
  return Object.values(f);
}

function addIfDefined(f: FamilyBuilder, labels: Labels, v: number | undefined): void {
  if (v !== undefined) f.add(labels, v);
}

/** What the scrape emits when the engine cannot be reached. */
export function dockerDownFamilies(): MetricFamily[] {
  return [
    gauge('docker_up', 'Whether the Docker engine answered the container list (1) or not (0).').add({}, 0),
  ];
}

/**
 * Whether a cached inspect still describes the listed container: same state and, for a
 * container with a health check, the same health word in the list's status text.
 */
export function inspectIsCurrent(row: ListedContainer, inspect: InspectedContainer): boolean {
  if ((row.State ?? '') !== (inspect.State?.Status ?? '')) return false;
  const health = inspect.State?.Health?.Status;
  if (!health || health === 'none') return true;
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(row.Status ?? '');
  const listed = m ? (m[1] === 'health: starting' ? 'starting' : m[1]) : undefined;
  return listed === undefined || listed === health;
}
