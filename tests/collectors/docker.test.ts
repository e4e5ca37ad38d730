import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerCollector } from '../../src/collectors/docker.js';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { startDockerEngine, type DockerEngine } from '../support/docker.js';
import { helpOf, samples, value as valueOf } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { run, sleep, waitFor } from '../support/util.js';

/** CPU seconds the kernel charged to a container's cgroup (v1 cpuacct or v2 cpu.stat). */
function kernelCpuSeconds(id: string): number {
  for (const f of [
    `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`,
    `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`,
  ]) {
    if (existsSync(f)) return Number(readFileSync(f, 'utf8')) / 1e9;
  }
  for (const f of [
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`,
    `/sys/fs/cgroup/docker/${id}/cpu.stat`,
  ]) {
    if (existsSync(f)) return Number(/^usage_usec (\d+)/m.exec(readFileSync(f, 'utf8'))?.[1]) / 1e6;
  }
  throw new Error(`no cgroup CPU accounting found for ${id}`);
}

describe('Docker collector against a real engine', () => {
  let engine: DockerEngine;
  let sw: StackwatchHandle;

  const scrape = async () => {
    const res = await fetch(`${sw.url}/metrics`);
    expect(res.status).toBe(200);
    return await res.text();
  };
  const value = (text: string, metric: string, name: string, extra: Record<string, string> = {}) =>
    valueOf(text, metric, { ...extra, name });
  const stateOf = (text: string, name: string) =>
    samples(text, 'container_state').find((s) => s.labels.name === name && s.value === 1)?.labels.state;

  beforeAll(async () => {
    engine = await startDockerEngine();
    sw = await startStackwatch({
      config: [
        'collectors:',
        '  docker:',
        '    enabled: true',
        `    host: ${engine.host}`,
        '    sample_interval: 1s',
      ].join('\n'),
    });
  });
  afterAll(async () => {
    await sw?.stop();
    await engine?.cleanup();
  });

  it('reports docker_up 1 and says the resource values are sampled in the background', async () => {
    const text = await scrape();
    expect(samples(text, 'docker_up')).toEqual([{ labels: {}, value: 1 }]);
    expect(samples(text, 'stackwatch_scrape_collector_success')).toContainEqual({
      labels: { collector: 'docker' },
      value: 1,
    });
  });

  it('turns itself on with no configuration when DOCKER_HOST names a running engine', async () => {
    const bare = await startStackwatch({ env: { DOCKER_HOST: engine.host } });
    try {
      await engine.runContainer('plain', [], ['sleep', '3600']);
      const text = await (await fetch(`${bare.url}/metrics`)).text();
      expect(samples(text, 'docker_up')).toEqual([{ labels: {}, value: 1 }]);
      expect(stateOf(text, 'plain')).toBe('running');
    } finally {
      await bare.stop();
      await engine.docker(['rm', '-f', 'plain']);
    }
  });

  it('shows a busy container charging CPU time as fast as the kernel counts it, at most one core', async () => {
    await engine.runContainer(
      'busy',
      ['-l', 'com.docker.compose.service=api'],
      ['sh', '-c', 'yes >/dev/null'],
    );
    try {
      const first = await waitFor(
        async () => {
          const text = await scrape();
          return value(text, 'container_cpu_usage_seconds_total', 'busy', { cpu: 'total' }) !== undefined
            ? text
            : undefined;
        },
        20_000,
        'first CPU sample of busy',
      );
      expect(helpOf(first, 'container_cpu_usage_seconds_total')).toMatch(/[Ss]ampled in the background/);
      const labels = samples(first, 'container_cpu_usage_seconds_total').find(
        (s) => s.labels.name === 'busy',
      )!.labels;
      expect(labels).toMatchObject({
        image: 'local/busybox:1',
        container_label_com_docker_compose_service: 'api',
      });
      expect(labels.id).toMatch(/^[0-9a-f]{64}$/);

      // What the kernel charged to the container's cgroup over the same window is the truth to
      // compare with: on a shared machine `yes` gets less than a core when others compete.
      const t0 = Date.now();
      const k0 = kernelCpuSeconds(labels.id as string);
      const v0 = value(first, 'container_cpu_usage_seconds_total', 'busy') as number;
      await sleep(8000);
      const v1 = value(await scrape(), 'container_cpu_usage_seconds_total', 'busy') as number;
      const k1 = kernelCpuSeconds(labels.id as string);
      const seconds = (Date.now() - t0) / 1000;
      const cores = (v1 - v0) / seconds;
      const kernelCores = (k1 - k0) / seconds;
      // One single-threaded process: at most one core, and what the kernel charged within the
      // sampling lag (the values are up to two sample intervals old at either end).
      expect(kernelCores).toBeGreaterThan(0);
      expect(cores).toBeLessThan(1.5);
      expect(cores / kernelCores).toBeGreaterThan(0.5);
      expect(cores / kernelCores).toBeLessThan(1.5);
    } finally {
      await engine.docker(['rm', '-f', 'busy']);
    }
  });

  it('shows a memory limit and the memory used under it', async () => {
    await engine.runContainer('capped', ['--memory', '64m'], ['sleep', '3600']);
    const text = await waitFor(
      async () => {
        const t = await scrape();
        return value(t, 'container_memory_working_set_bytes', 'capped') !== undefined ? t : undefined;
      },
      20_000,
      'memory sample of capped',
    );
    expect(value(text, 'container_spec_memory_limit_bytes', 'capped')).toBe(64 * 1024 * 1024);
    const usage = value(text, 'container_memory_usage_bytes', 'capped') as number;
    expect(usage).toBeGreaterThan(0);
    expect(usage).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(value(text, 'container_memory_working_set_bytes', 'capped')).toBeLessThanOrEqual(usage);
    expect(value(text, 'container_start_time_seconds', 'capped')).toBeGreaterThan(Date.now() / 1000 - 120);
  });

  it('shows an exited container with its state and exit code', async () => {
    await engine.runContainer('failed', [], ['sh', '-c', 'exit 3']);
    const text = await waitFor(
      async () => {
        const t = await scrape();
        return stateOf(t, 'failed') === 'exited' ? t : undefined;
      },
      20_000,
      'failed to exit',
    );
    expect(value(text, 'container_exit_code', 'failed')).toBe(3);
    expect(value(text, 'container_oom_killed', 'failed')).toBe(0);
    expect(value(text, 'container_cpu_usage_seconds_total', 'failed')).toBeUndefined();
    expect(samples(text, 'container_state').filter((s) => s.labels.name === 'failed')).toHaveLength(7);
  });

  it('shows the memory reservation and the writable layer’s size and inodes', async () => {
    await engine.runContainer(
      'writer',
      ['--memory-reservation', '32m'],
      ['sh', '-c', 'dd if=/dev/zero of=/f bs=64k count=80 && sleep 3600'],
    );
    await engine.runContainer('unreserved', [], ['sleep', '3600']);
    const text = await waitFor(
      async () => {
        const t = await scrape();
        const usage = value(t, 'container_fs_usage_bytes', 'writer');
        return usage !== undefined && usage >= 80 * 64 * 1024 ? t : undefined;
      },
      30_000,
      'layer size of writer',
    );
    expect(value(text, 'container_spec_memory_reservation_limit_bytes', 'writer')).toBe(32 * 1024 * 1024);
    expect(value(text, 'container_spec_memory_reservation_limit_bytes', 'unreserved')).toBe(0);
    // The engine's own answer for the writable layer.
    const inspected = await engine.api<{ SizeRw: number }>('/containers/writer/json?size=1');
    expect(value(text, 'container_fs_usage_bytes', 'writer')).toBe(inspected.SizeRw);
    // Inodes of the filesystem the layer lives on, as statfs reports it for the engine's data root.
    const inodes = Number((await run('stat', ['-f', '-c', '%c', engine.dir])).stdout.trim());
    expect(value(text, 'container_fs_inodes_total', 'writer')).toBe(inodes);
    const free = value(text, 'container_fs_inodes_free', 'writer') as number;
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(inodes);
    // The device holding the engine's data, named as the block I/O families name devices.
    const df = (await run('df', ['--output=source', engine.dir])).stdout.trim().split('\n')[1];
    expect(
      samples(text, 'container_fs_usage_bytes').find((s) => s.labels.name === 'writer')?.labels.device,
    ).toBe(df);
    await engine.docker(['rm', '-f', 'writer', 'unreserved']);
  });

  it('shows the CPU quota of --cpus and the CFS throttling the kernel counts under it', async () => {
    const id = await engine.runContainer('throttled', ['--cpus', '0.2'], ['sh', '-c', 'yes >/dev/null']);
    await engine.runContainer('unlimited', [], ['sh', '-c', 'yes >/dev/null']);
    const text = await waitFor(
      async () => {
        const t = await scrape();
        const sampled = value(t, 'container_cpu_usage_seconds_total', 'unlimited') !== undefined;
        return sampled && (value(t, 'container_cpu_cfs_throttled_periods_total', 'throttled') ?? 0) > 0
          ? t
          : undefined;
      },
      20_000,
      'throttling of throttled',
    );
    expect(value(text, 'container_spec_cpu_period', 'throttled')).toBe(100_000);
    expect(value(text, 'container_spec_cpu_quota', 'throttled')).toBe(20_000);
    expect(value(text, 'container_spec_cpu_shares', 'throttled')).toBe(1024);
    const periods = value(text, 'container_cpu_cfs_periods_total', 'throttled') as number;
    expect(periods).toBeGreaterThanOrEqual(
      value(text, 'container_cpu_cfs_throttled_periods_total', 'throttled') as number,
    );
    expect(value(text, 'container_cpu_cfs_throttled_seconds_total', 'throttled')).toBeGreaterThan(0);
    // The kernel's own count for the cgroup (v1) is at least what the last sample saw.
    for (const f of [
      `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpu.stat`,
      `/sys/fs/cgroup/cpu/docker/${id}/cpu.stat`,
    ])
      if (existsSync(f))
        expect(Number(/^nr_periods (\d+)/m.exec(readFileSync(f, 'utf8'))?.[1])).toBeGreaterThanOrEqual(
          periods,
        );
    // No quota, no CFS families, as with cAdvisor.
    expect(value(text, 'container_cpu_cfs_periods_total', 'unlimited')).toBeUndefined();
    expect(value(text, 'container_spec_cpu_quota', 'unlimited')).toBeUndefined();
    expect(value(text, 'container_spec_cpu_shares', 'unlimited')).toBe(1024);
    await engine.docker(['rm', '-f', 'throttled', 'unlimited']);
  });

  it('has cAdvisor’s machine facts from /proc', async () => {
    const text = await scrape();
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length;
    const memTotalKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(samples(text, 'machine_cpu_cores')).toEqual([
      { labels: expect.objectContaining({ boot_id: bootId }), value: cpuinfo },
    ]);
    expect(samples(text, 'machine_memory_bytes')[0]?.value).toBe(memTotalKb * 1024);
    expect(Object.keys(samples(text, 'machine_memory_bytes')[0]?.labels ?? {}).sort()).toEqual([
      'boot_id',
      'machine_id',
      'system_uuid',
    ]);
  });

  it('counts the restarts of a container in a restart loop', async () => {
    await engine.runContainer('looping', ['--restart', 'always'], ['sh', '-c', 'exit 1']);
    const text = await waitFor(
      async () => {
        const t = await scrape();
        return (value(t, 'container_restarts_total', 'looping') ?? 0) >= 2 ? t : undefined;
      },
      30_000,
      'two restarts',
    );
    expect(value(text, 'container_exit_code', 'looping')).toBe(1);
    const inspect = await engine.api<{ RestartCount: number }>('/containers/looping/json');
    expect(inspect.RestartCount).toBeGreaterThanOrEqual(
      value(text, 'container_restarts_total', 'looping') as number,
    );
    await engine.docker(['rm', '-f', 'looping']);
  });

  it('shows a failing health check as unhealthy', async () => {
    await engine.runContainer(
      'sick',
      ['--health-cmd', 'false', '--health-interval', '1s', '--health-retries', '1'],
      ['sleep', '3600'],
    );
    const text = await waitFor(
      async () => {
        const t = await scrape();
        return value(t, 'container_health_status', 'sick', { status: 'unhealthy' }) === 1 ? t : undefined;
      },
      30_000,
      'sick to be unhealthy',
    );
    expect(value(text, 'container_health_status', 'sick', { status: 'healthy' })).toBe(0);
    expect(value(text, 'container_health_status', 'capped', { status: 'healthy' })).toBeUndefined();
    await engine.docker(['rm', '-f', 'sick']);
  });

  it('drops a removed container from the next scrape', async () => {
    await engine.runContainer('doomed', [], ['sleep', '3600']);
    await waitFor(async () => stateOf(await scrape(), 'doomed') === 'running', 20_000, 'doomed listed');
    await engine.docker(['rm', '-f', 'doomed']);
    const text = await scrape();
    expect(text).not.toContain('name="doomed"');
  });

  it('passes promtool check metrics', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: await scrape() });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('leaves no socket or timer behind when closed (as on reload)', async () => {
    const logger = createLogger('error');
    const cfg = validateConfig({ collectors: { docker: { host: engine.host, sample_interval: '1s' } } });
    const handles = () => {
      const count: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) count[r] = (count[r] ?? 0) + 1;
      return count;
    };
    const before = handles();
    const c = new DockerCollector(cfg.collectors.docker, logger);
    c.start();
    const ctx = { signal: new AbortController().signal, deadline: Date.now() + 5000, logger };
    await waitFor(
      async () =>
        (await c.collect(ctx)).some(
          (f) => f.name === 'container_cpu_usage_seconds_total' && f.samples.length,
        ),
      20_000,
      'a stats sample',
    );
    expect(handles().PipeWrap ?? 0).toBeGreaterThan(before.PipeWrap ?? 0);
    await c.close();
    await sleep(100);
    const after = handles();
    expect(after.PipeWrap ?? 0).toBe(before.PipeWrap ?? 0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
  });

  it('does not pile up engine connections over reloads', async () => {
    const pid = sw.proc.child.pid as number;
    const sockets = () =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
        } catch {
          return false;
        }
      }).length;
    await sleep(1500);
    const before = sockets();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${sw.url}/-/reload`, { method: 'POST' });
      expect(res.status).toBe(200);
      expect(samples(await scrape(), 'docker_up')[0]?.value).toBe(1);
    }
    await sleep(1500);
    // Each leaked collector would keep at least its event stream open: ten reloads, ten sockets.
    expect(sockets() - before).toBeLessThan(5);
  });

  it('answers docker_up 0 before the deadline while the engine hangs, and recovers by itself', async () => {
    const pid = engine.proc.child.pid as number;
    process.kill(pid, 'SIGSTOP');
    // Every scrape while the engine hangs, not only the last: waitFor would retry past a slow one.
    const scrapes: { status: number; ms: number }[] = [];
    try {
      const text = await waitFor(
        async () => {
          const started = Date.now();
          const res = await fetch(`${sw.url}/metrics`, {
            headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '2' },
          });
          const t = await res.text();
          scrapes.push({ status: res.status, ms: Date.now() - started });
          return samples(t, 'docker_up')[0]?.value === 0 ? t : undefined;
        },
        60_000,
        'docker_up 0 with a hung engine',
        500,
      );
      expect(scrapes.filter((s) => s.status !== 200 || s.ms >= 2000)).toEqual([]);
      expect(samples(text, 'stackwatch_scrape_collector_success')).toContainEqual({
        labels: { collector: 'filesystem' },
        value: 1,
      });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const back = await waitFor(
      async () => {
        const t = await scrape();
        return samples(t, 'docker_up')[0]?.value === 1 ? t : undefined;
      },
      30_000,
      'docker_up 1 again',
    );
    expect(stateOf(back, 'capped')).toBe('running');
  });

  it('answers docker_up 0 with HTTP 200 and the other collectors intact when the engine stops', async () => {
    await engine.stopEngine();
    // stackwatch learns that the engine is gone when its events stream closes, which it reads
    // in its own time (a loaded machine may run a scrape first): the first scrape after that.
    const { res, text } = await waitFor(
      async () => {
        const r = await fetch(`${sw.url}/metrics`);
        const t = await r.text();
        return samples(t, 'docker_up')[0]?.value === 0 ? { res: r, text: t } : undefined;
      },
      10_000,
      'docker_up 0 after the engine stopped',
    );
    expect(res.status).toBe(200);
    expect(samples(text, 'docker_up')).toEqual([{ labels: {}, value: 0 }]);
    expect(text).not.toContain('container_state');
    expect(samples(text, 'stackwatch_scrape_collector_success')).toEqual(
      expect.arrayContaining([
        { labels: { collector: 'docker' }, value: 0 },
        { labels: { collector: 'filesystem' }, value: 1 },
      ]),
    );
    expect(
      samples(text, 'node_filesystem_size_bytes').find((s) => s.labels.mountpoint === '/')?.value,
    ).toBeGreaterThan(0);
    expect(sw.logs()).toMatch(/"collector":"docker".*"msg":"collector failed"/);
  });
});
