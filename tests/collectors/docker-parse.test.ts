import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineAddress } from '../../src/collectors/docker.js';
import {
  blkioBytes,
  CONTAINER_STATES,
  dockerDownFamilies,
  dockerFamilies,
  inspectIsCurrent,
  labelName,
  selectContainers,
  workingSetBytes,
  type ContainerSnapshot,
  type ContainerStatsJson,
  type InspectedContainer,
  type ListedContainer,
} from '../../src/collectors/docker-parse.js';
import { renderFamilies, type MetricFamily } from '../../src/metrics/exposition.js';
import { REPO_ROOT, samples } from '../support/stackwatch.js';
import { run } from '../support/util.js';

const DIR = join(REPO_ROOT, 'tests', 'fixtures', 'docker');
const load = <T>(file: string): T => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as T;

const list = load<ListedContainer[]>('list.json');
const nameOf = (c: ListedContainer) => (c.Names?.[0] ?? '').slice(1);
const inspectOf = (name: string) => load<InspectedContainer>(`inspect-${name}.json`);
const statsOf = (name: string) => load<ContainerStatsJson>(`stats-${name}.json`);
const snapshots: ContainerSnapshot[] = list.map((row) => ({
  row,
  inspect: inspectOf(nameOf(row)),
  stats: statsOf(nameOf(row)),
}));
const ALLOW = ['com.docker.compose.service', 'com.docker.compose.project'];
const NOW = 1_800_000_000;

function render(families: MetricFamily[]): string {
  return renderFamilies(families).text;
}
const text = render(dockerFamilies(snapshots, { labelAllowlist: ALLOW, now: NOW }));
const of = (metric: string, name: string) => samples(text, metric).filter((s) => s.labels.name === name);
const one = (metric: string, name: string) => {
  const s = of(metric, name);
  expect(s, `${metric}{name="${name}"}`).toHaveLength(1);
  return s[0]!.value;
};

describe('Docker families from captured engine answers', () => {
  it('reports every container of the list, in every state, with one state series per Docker state', () => {
    expect(samples(text, 'docker_up')).toEqual([{ labels: {}, value: 1 }]);
    for (const c of list) {
      const states = of('container_state', nameOf(c));
      expect(states.map((s) => s.labels.state)).toEqual([...CONTAINER_STATES]);
      expect(states.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual([c.State]);
      expect(states[0]!.labels).toMatchObject({ image: 'local/busybox:1', id: c.Id });
      expect(one('container_last_seen', nameOf(c))).toBe(NOW);
    }
    const stateOf = (n: string) => of('container_state', n).find((s) => s.value === 1)?.labels.state;
    expect([
      stateOf('busy'),
      stateOf('exited3'),
      stateOf('looping'),
      stateOf('fresh'),
      stateOf('frozen'),
    ]).toEqual(['running', 'exited', 'restarting', 'created', 'paused']);
  });

  it('reports exit code, OOM kill and restart count from inspect', () => {
    expect(one('container_exit_code', 'exited3')).toBe(3);
    expect(one('container_exit_code', 'busy')).toBe(0);
    expect(one('container_exit_code', 'oom')).toBe(137);
    expect(one('container_oom_killed', 'oom')).toBe(1);
    expect(one('container_oom_killed', 'exited3')).toBe(0);
    const restarts = inspectOf('looping').RestartCount as number;
    expect(restarts).toBeGreaterThan(0);
    expect(one('container_restarts_total', 'looping')).toBe(restarts);
    expect(one('container_restarts_total', 'busy')).toBe(0);
  });

  it('reports health only for containers with a health check, one series per status', () => {
    const health = (n: string) =>
      Object.fromEntries(of('container_health_status', n).map((s) => [s.labels.status, s.value]));
    expect(health('sick')).toEqual({ starting: 0, healthy: 0, unhealthy: 1 });
    expect(health('fine')).toEqual({ starting: 0, healthy: 1, unhealthy: 0 });
    expect(of('container_health_status', 'busy')).toEqual([]);
  });

  it('exports allow-listed container labels under cAdvisor names, and no others', () => {
    const labels = of('container_memory_usage_bytes', 'busy')[0]!.labels;
    expect(labels).toEqual({
      name: 'busy',
      image: 'local/busybox:1',
      id: list.find((c) => nameOf(c) === 'busy')!.Id,
      container_label_com_docker_compose_service: 'api',
      container_label_com_docker_compose_project: 'demo',
    });
    expect(text).not.toContain('other_label');
  });

  it('reports the memory limit, 0 when there is none', () => {
    expect(one('container_spec_memory_limit_bytes', 'busy')).toBe(64 * 1024 * 1024);
    expect(one('container_spec_memory_limit_bytes', 'oom')).toBe(8 * 1024 * 1024);
    expect(one('container_spec_memory_limit_bytes', 'net')).toBe(0);
  });

  it('reports CPU seconds, memory and the working set without inactive page cache', () => {
    const busy = statsOf('busy');
    expect(one('container_cpu_usage_seconds_total', 'busy')).toBe(
      busy.cpu_stats!.cpu_usage!.total_usage! / 1e9,
    );
    expect(of('container_cpu_usage_seconds_total', 'busy')[0]!.labels.cpu).toBe('total');
    expect(one('container_cpu_user_seconds_total', 'busy')).toBeGreaterThan(1);
    // writer wrote 20 MiB: it sits in inactive page cache, counted in usage but not in the working set.
    const mem = statsOf('writer').memory_stats!;
    expect(one('container_memory_usage_bytes', 'writer')).toBe(mem.usage);
    expect(one('container_memory_usage_bytes', 'writer')).toBeGreaterThan(20 * 1024 * 1024);
    expect(one('container_memory_working_set_bytes', 'writer')).toBe(
      mem.usage! - mem.stats!.total_inactive_file!,
    );
    expect(one('container_memory_working_set_bytes', 'writer')).toBeLessThan(4 * 1024 * 1024);
    expect(one('container_memory_cache', 'writer')).toBe(mem.stats!.total_cache);
  });

  it('reports network counters per interface', () => {
    const eth0 = statsOf('net').networks!.eth0!;
    expect(of('container_network_receive_bytes_total', 'net')).toEqual([
      { labels: expect.objectContaining({ interface: 'eth0' }), value: eth0.rx_bytes },
    ]);
    expect(one('container_network_transmit_bytes_total', 'net')).toBe(eth0.tx_bytes);
    for (const [family, field] of [
      ['container_network_receive_errors_total', 'rx_errors'],
      ['container_network_transmit_errors_total', 'tx_errors'],
      ['container_network_receive_packets_dropped_total', 'rx_dropped'],
      ['container_network_transmit_packets_dropped_total', 'tx_dropped'],
    ] as const)
      expect({ family, value: one(family, 'net') }).toEqual({ family, value: eth0[field] });
    expect(of('container_network_receive_bytes_total', 'busy')).toEqual([]); // --network none
  });

  it('has no resource series for containers without a cgroup, and a start time only while live', () => {
    for (const n of ['exited3', 'oom', 'fresh', 'looping']) {
      expect(of('container_cpu_usage_seconds_total', n)).toEqual([]);
      expect(of('container_memory_usage_bytes', n)).toEqual([]);
      expect(of('container_start_time_seconds', n)).toEqual([]);
    }
    expect(one('container_start_time_seconds', 'busy')).toBe(
      Date.parse(inspectOf('busy').State!.StartedAt as string) / 1000,
    );
    expect(one('container_cpu_usage_seconds_total', 'frozen')).toBeGreaterThan(0);
  });

  it('drops the inspect-derived series when inspect is missing but keeps state', () => {
    const row = list.find((c) => nameOf(c) === 'exited3')!;
    const t = render(dockerFamilies([{ row }], { labelAllowlist: ALLOW, now: NOW }));
    expect(samples(t, 'container_state').filter((s) => s.value === 1)).toHaveLength(1);
    expect(samples(t, 'container_exit_code')).toEqual([]);
  });

  it('passes promtool check metrics', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('reports docker_up 0 and nothing else when the engine is down', () => {
    expect(render(dockerDownFamilies())).toBe(
      '# HELP docker_up Whether the Docker engine answered the container list (1) or not (0).\n# TYPE docker_up gauge\ndocker_up 0\n',
    );
  });
});

describe('block I/O and cgroup v2 shapes', () => {
  it('sums bytes read and written per device in both v1 (Read/Write) and v2 (read/write) spelling', () => {
    const v1 = [
      { major: 254, minor: 0, op: 'Read', value: 4096 },
      { major: 254, minor: 0, op: 'Write', value: 8192 },
      { major: 254, minor: 0, op: 'Sync', value: 12288 },
      { major: 254, minor: 0, op: 'Total', value: 12288 },
    ];
    const v2 = [
      { major: 8, minor: 16, op: 'read', value: 100 },
      { major: 8, minor: 16, op: 'write', value: 200 },
    ];
    expect(blkioBytes({ io_service_bytes_recursive: v1 })).toEqual([
      { device: '254:0', read: 4096, write: 8192 },
    ]);
    expect(blkioBytes({ io_service_bytes_recursive: v2 })).toEqual([
      { device: '8:16', read: 100, write: 200 },
    ]);
    expect(blkioBytes({ io_service_bytes_recursive: null })).toEqual([]);

    const stats = { ...statsOf('writer'), blkio_stats: { io_service_bytes_recursive: v1 } };
    const row = list.find((c) => nameOf(c) === 'writer')!;
    const t = render(
      dockerFamilies([{ row, stats }], {
        labelAllowlist: [],
        now: NOW,
        deviceName: (mm) => (mm === '254:0' ? '/dev/vda' : mm),
      }),
    );
    expect(samples(t, 'container_fs_reads_bytes_total')).toEqual([
      { labels: expect.objectContaining({ name: 'writer', device: '/dev/vda' }), value: 4096 },
    ]);
    expect(samples(t, 'container_fs_writes_bytes_total')[0]?.value).toBe(8192);

    // Operations, from io_serviced_recursive, on the same devices (cAdvisor's container_fs_{reads,writes}_total).
    const ops = [
      { major: 254, minor: 0, op: 'Read', value: 3 },
      { major: 254, minor: 0, op: 'Write', value: 5 },
      { major: 254, minor: 0, op: 'Total', value: 8 },
    ];
    const withOps = { ...stats, blkio_stats: { io_service_bytes_recursive: v1, io_serviced_recursive: ops } };
    const o = render(
      dockerFamilies([{ row, stats: withOps }], {
        labelAllowlist: [],
        now: NOW,
        deviceName: (mm) => (mm === '254:0' ? '/dev/vda' : mm),
      }),
    );
    expect(samples(o, 'container_fs_reads_total')).toEqual([
      { labels: expect.objectContaining({ name: 'writer', device: '/dev/vda' }), value: 3 },
    ]);
    expect(samples(o, 'container_fs_writes_total')[0]?.value).toBe(5);
  });

  it('computes the working set from inactive_file on cgroup v2 and never below zero', () => {
    const v1 = statsOf('writer').memory_stats!;
    const s = v1.stats!;
    const v2 = {
      usage: v1.usage,
      stats: { anon: s.total_rss!, file: s.total_cache!, inactive_file: s.total_inactive_file! },
    };
    expect(workingSetBytes(v2)).toBe(v1.usage! - s.total_inactive_file!);
    expect(workingSetBytes({ usage: 10, stats: { inactive_file: 50 } })).toBe(0);
    expect(workingSetBytes({})).toBeUndefined();
  });
});

describe('container selection', () => {
  it('filters by name regex and caps the count, running containers first', () => {
    const all = selectContainers(list, { include: /^.*$/, max: 100 });
    expect(all).toEqual({ selected: list, dropped: 0 });
    const some = selectContainers(list, { include: /^(busy|sick|fine|oom)$/, exclude: /^fine$/, max: 100 });
    expect(some.selected.map(nameOf).sort()).toEqual(['busy', 'oom', 'sick']);
    const capped = selectContainers(list, { include: /^.*$/, max: 3 });
    expect(capped.dropped).toBe(list.length - 3);
    expect(capped.selected.every((c) => c.State === 'running')).toBe(true);
  });

  it('names labels like cAdvisor', () => {
    expect(labelName('com.docker.compose.service')).toBe('container_label_com_docker_compose_service');
    expect(labelName('org.opencontainers.image-title')).toBe(
      'container_label_org_opencontainers_image_title',
    );
  });
});

describe('cached inspect freshness', () => {
  it('is stale when the listed state or health differs', () => {
    const sick = list.find((c) => nameOf(c) === 'sick')!;
    expect(inspectIsCurrent(sick, inspectOf('sick'))).toBe(true);
    expect(inspectIsCurrent({ ...sick, Status: 'Up 2 minutes (healthy)' }, inspectOf('sick'))).toBe(false);
    expect(inspectIsCurrent({ ...sick, State: 'exited' }, inspectOf('sick'))).toBe(false);
    const busy = list.find((c) => nameOf(c) === 'busy')!;
    expect(inspectIsCurrent(busy, inspectOf('busy'))).toBe(true);
  });
});

describe('engine address', () => {
  it('reads DOCKER_HOST syntax', () => {
    expect(engineAddress(undefined)).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(engineAddress('unix:///tmp/d/docker.sock')).toEqual({ socketPath: '/tmp/d/docker.sock' });
    expect(engineAddress('/run/docker.sock')).toEqual({ socketPath: '/run/docker.sock' });
    expect(engineAddress('tcp://10.0.0.5:2375')).toEqual({ host: '10.0.0.5', port: 2375, protocol: 'http' });
    expect(engineAddress('tcp://docker:2376')).toEqual({ host: 'docker', port: 2376, protocol: 'https' });
  });
});
