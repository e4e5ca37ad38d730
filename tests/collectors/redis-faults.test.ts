import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  infoFields,
  startBlackhole,
  startRedis,
  type BlackholeHandle,
  type RedisHandle,
} from '../support/redis.js';
import { samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { waitFor } from '../support/util.js';

// Prometheus's timeout header; stackwatch must answer before it. It plans to finish
// `scrape_timeout_offset` earlier (2 s here): the margin a shared, busy machine needs.
const TIMEOUT_HEADER_SECONDS = 4;

describe('Redis collector faults: down at start, dies, paused, blackhole, back', () => {
  let redis: RedisHandle;
  let hole: BlackholeHandle;
  let sw: StackwatchHandle;

  /** One scrape as Prometheus makes it; returns the status, the body and how long it took. */
  const scrape = async (path = '/metrics') => {
    const started = Date.now();
    const res = await fetch(`${sw.url}${path}`, {
      headers: { 'X-Prometheus-Scrape-Timeout-Seconds': String(TIMEOUT_HEADER_SECONDS) },
    });
    const text = await res.text();
    return { status: res.status, text, ms: Date.now() - started };
  };
  const up = (text: string, target: string) =>
    samples(text, 'redis_up').find((s) => s.labels.target === target)?.value;
  const clients = async () =>
    Number(infoFields(await redis.cli(['INFO', 'clients'])).get('connected_clients'));

  beforeAll(async () => {
    redis = await startRedis();
    hole = await startBlackhole();
    // Down before stackwatch ever sees it.
    await redis.kill();
    sw = await startStackwatch({
      config: `global:
  scrape_timeout_offset: 2s
collectors:
  filesystem:
    enabled: false
  redis:
    connect_timeout: 10s
    targets:
      - name: cache
        url: ${redis.url}
      - name: hole
        url: ${hole.url}
`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
    await redis?.close();
    await hole?.close();
  });

  it('down at start: 200 with redis_up 0 and the real connection error in the log', async () => {
    const r = await scrape();
    expect(r.status).toBe(200);
    expect(up(r.text, 'cache')).toBe(0);
    expect(r.ms).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
    await waitFor(() => /redis\/cache.*ECONNREFUSED/.test(sw.logs()), 5000, 'ECONNREFUSED in the log');
    expect(sw.logs()).not.toContain('unknown network');
  });

  it('comes back: the next scrape after Redis starts reads redis_up 1', async () => {
    await redis.start();
    const r = await scrape();
    expect(up(r.text, 'cache')).toBe(1);
    expect(samples(r.text, 'redis_connected_clients').find((s) => s.labels.target === 'cache')?.value).toBe(
      1,
    );
  });

  it('dies mid-run: redis_up 0, then 1 again once it restarts', async () => {
    expect(up((await scrape()).text, 'cache')).toBe(1);
    await redis.kill();
    const down = await scrape();
    expect(down.status).toBe(200);
    expect(up(down.text, 'cache')).toBe(0);
    expect(down.ms).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
    await redis.start();
    expect(up((await scrape()).text, 'cache')).toBe(1);
  });

  it('paused (SIGSTOP): every scrape answers before the deadline header, without piling up connections', async () => {
    expect(up((await scrape()).text, 'cache')).toBe(1);
    redis.pause();
    try {
      // Sequential and concurrent scrapes while it hangs.
      const one = await scrape();
      const many = await Promise.all([scrape(), scrape(), scrape('/probe?target=cache'), scrape()]);
      for (const r of [one, ...many]) {
        expect(r.status).toBe(200);
        expect(r.ms).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
      }
      expect(up(one.text, 'cache')).toBe(0);
      expect(samples(many[2]!.text, 'redis_up')).toEqual([{ labels: {}, value: 0 }]);
      expect(
        samples(one.text, 'stackwatch_scrape_collector_success').find(
          (s) => s.labels.collector === 'redis/cache',
        )?.value,
      ).toBe(0);
    } finally {
      redis.resume();
    }
    const back = await scrape();
    expect(up(back.text, 'cache'), sw.logs().slice(-3000)).toBe(1);
    // Every abandoned connection was closed: stackwatch's one connection plus redis-cli's.
    await waitFor(async () => (await clients()) === 2, 10_000, 'connections back to stackwatch + redis-cli');
    await waitFor(
      () => sw.logs().includes('redis did not answer before the scrape deadline'),
      5000,
      'the deadline in the log',
    );
  });

  it('blackhole (accepts, never answers): redis_up 0 before the deadline, sockets closed', async () => {
    const before = hole.accepted();
    for (let i = 0; i < 3; i++) {
      const r = await scrape();
      expect(r.status).toBe(200);
      expect(up(r.text, 'hole')).toBe(0);
      expect(r.ms).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
      // The other target is unaffected.
      expect(up(r.text, 'cache')).toBe(1);
    }
    const probe = await scrape('/probe?target=hole');
    expect(probe.status).toBe(200);
    expect(samples(probe.text, 'redis_up')).toEqual([{ labels: {}, value: 0 }]);
    expect(probe.ms).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
    // One connection per scrape, each closed when its scrape gave up.
    expect(hole.accepted() - before).toBe(4);
    await waitFor(() => hole.open() === 0, 5000, 'blackhole sockets closed');
  });

  it('the process is still healthy after all of it', async () => {
    expect(sw.proc.child.exitCode).toBeNull();
    expect((await fetch(`${sw.url}/-/healthy`)).status).toBe(200);
  });
});
