import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusHandle } from '../support/prometheus.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { waitFor } from '../support/util.js';

describe('a real Prometheus scraping stackwatch', () => {
  let sw: StackwatchHandle;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    sw = await startStackwatch();
    prom = await startPrometheus(
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: stackwatch',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${sw.port}']`,
      ].join('\n') + '\n',
    );
  });
  afterAll(async () => {
    await prom?.stop();
    await sw?.stop();
  });

  it('scrapes without errors and sees the root filesystem', async () => {
    const up = await waitFor(
      async () => (await prom.query('up{job="stackwatch"} == 1')).length === 1,
      20_000,
      'target up',
    );
    expect(up).toBe(true);
    const fs = await waitFor(
      async () => prom.query('node_filesystem_size_bytes{mountpoint="/"}').then((r) => r[0]),
      20_000,
      'fs series',
    );
    expect(Number(fs.value[1])).toBeGreaterThan(0);
    const scraped = await prom.query('scrape_samples_scraped{job="stackwatch"}');
    expect(Number(scraped[0]?.value[1])).toBeGreaterThan(10);
  });

  it('is cleaned up on stop', async () => {
    const p = prom.proc;
    await prom.stop();
    expect(p.child.exitCode !== null || p.child.signalCode !== null).toBe(true);
    await expect(fetch(`${prom.url}/-/ready`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });
});
