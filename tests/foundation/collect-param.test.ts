// One stackwatch, several jobs: node_exporter's collect[] parameter selects collectors, so a
// Prometheus can give each its community job name (job="node", job="redis") from one process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusHandle } from '../support/prometheus.js';
import { startRedis, type RedisHandle } from '../support/redis.js';
import { samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, startProcess, waitFor, type Proc } from '../support/util.js';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

describe('collect[] on /metrics', () => {
  let redis: RedisHandle;
  let sw: StackwatchHandle;
  let nodeExporter: Proc;
  let nodeExporterUrl: string;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    redis = await startRedis();
    sw = await startStackwatch({
      config: `
collectors:
  redis:
    targets:
      - name: cache
        url: redis://127.0.0.1:${redis.port}
`,
    });
    const port = await freePort();
    nodeExporter = startProcess(NODE_EXPORTER, [
      `--web.listen-address=127.0.0.1:${port}`,
      '--collector.disable-defaults',
      '--collector.uname',
    ]);
    nodeExporterUrl = `http://127.0.0.1:${port}/metrics`;
    await waitFor(async () => (await fetch(nodeExporterUrl)).ok, 20_000, 'node_exporter');
    const target = new URL(sw.url).host;
    prom = await startPrometheus(`
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: node
    params: { 'collect[]': [filesystem, uname] }
    static_configs: [{ targets: ['${target}'] }]
  - job_name: redis
    params: { 'collect[]': [redis] }
    static_configs: [{ targets: ['${target}'] }]
  - job_name: stackwatch
    static_configs: [{ targets: ['${target}'] }]
`);
  });

  afterAll(async () => {
    await prom?.stop();
    await nodeExporter?.stop();
    await sw?.stop();
    await redis?.stop();
  });

  const get = (query: string) => fetch(`${sw.url}/metrics?${query}`);

  it('answers only the named collectors, with their scrape success', async () => {
    const node = await (await get('collect[]=filesystem&collect[]=uname')).text();
    expect(samples(node, 'node_uname_info')).toHaveLength(1);
    expect(samples(node, 'node_filesystem_size_bytes').length).toBeGreaterThan(0);
    expect(samples(node, 'redis_up')).toEqual([]);
    expect(
      samples(node, 'stackwatch_scrape_collector_success')
        .map((s) => s.labels.collector)
        .sort(),
    ).toEqual(['filesystem', 'uname']);

    const cache = await (await get('collect[]=redis/cache')).text();
    expect(samples(cache, 'redis_up')).toEqual([{ labels: { target: 'cache' }, value: 1 }]);
    expect(samples(cache, 'node_uname_info')).toEqual([]);

    const all = await (await fetch(`${sw.url}/metrics`)).text();
    expect(samples(all, 'redis_up')).toHaveLength(1);
    expect(samples(all, 'node_uname_info')).toHaveLength(1);
  });

  it('refuses a collector it does not know, naming it and the kinds it has', async () => {
    const res = await get('collect[]=filesystem&collect[]=postgress');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(body.error).toContain('"postgress"');
    expect(body.error).toContain('filesystem, uname, docker, postgres, redis, probe, backup, log');
    expect((await get('collect[]=redis/other')).status).toBe(400);
  });

  it('answers a kind with nothing configured with no series, so one scrape configuration fits every installation', async () => {
    const res = await get('collect[]=postgres');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/^pg_/m);
    expect(samples(text, 'stackwatch_scrape_collector_success')).toEqual([]);
  });

  it('has node_uname_info with node_exporter’s labels and values on the same host', async () => {
    const theirs = samples(await (await fetch(nodeExporterUrl)).text(), 'node_uname_info');
    const ours = samples(await (await get('collect[]=uname')).text(), 'node_uname_info');
    expect(theirs).toHaveLength(1);
    expect(ours).toEqual(theirs);
  });

  it('lets a real Prometheus scrape one stackwatch as job="node" and job="redis"', async () => {
    await waitFor(async () => (await prom.query('up == 1')).length === 3, 30_000, 'all three jobs up');
    const jobs = async (expr: string) =>
      [...new Set((await prom.query(expr)).map((r) => r.metric.job))].sort();
    expect(await jobs('node_uname_info')).toEqual(['node', 'stackwatch']);
    expect(await jobs('redis_up')).toEqual(['redis', 'stackwatch']);
    expect(await jobs('node_filesystem_size_bytes{job="redis"}')).toEqual([]);
  });
});
