// PostgreSQL targets that are down, die, hang or never answer: every scrape answers 200 with
// pg_up 0 before Prometheus's scrape timeout, the process survives, no connection leaks, and
// the target is picked up again at the next scrape once it is back.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, waitFor } from '../support/util.js';

const PASSWORD = 'fault-pw-93b1';
const TIMEOUT_HEADER_SECONDS = 3;
const POOL_SIZE = 3;

/** A TCP server that accepts connections and never says a word (a hung host behind a proxy). */
async function startBlackhole(): Promise<{ port: number; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    // Read and discard, so that the peer's close is seen; never write a byte back.
    s.resume();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('PostgreSQL targets under faults', () => {
  let server: PostgresServer;
  let sw: StackwatchHandle;
  let blackhole: Awaited<ReturnType<typeof startBlackhole>>;
  let closedPort: number;

  /** One probe with Prometheus's timeout header; returns status, pg_up and the elapsed time. */
  const probe = async (target: string) => {
    const started = performance.now();
    const res = await fetch(`${sw.url}/probe?target=${target}`, {
      headers: { 'X-Prometheus-Scrape-Timeout-Seconds': String(TIMEOUT_HEADER_SECONDS) },
    });
    const text = await res.text();
    const elapsedMs = performance.now() - started;
    return { status: res.status, up: samples(text, 'pg_up')[0]?.value, elapsedMs, text };
  };

  const expectDownInTime = async (target: string) => {
    const r = await probe(target);
    expect(r.status).toBe(200);
    expect(r.up).toBe(0);
    // The answer comes before Prometheus would give up on the scrape.
    expect(r.elapsedMs).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
    return r;
  };

  /** Backends stackwatch holds on the server (its application_name). */
  const stackwatchSessions = async () =>
    Number(await server.psql("select count(*) from pg_stat_activity where application_name = 'stackwatch'"));

  beforeAll(async () => {
    server = await startPostgres();
    await server.psql('create database app');
    blackhole = await startBlackhole();
    closedPort = await freePort();
    // The real server is down when stackwatch starts.
    await server.stop();
    sw = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  postgres:
    pool_size: ${POOL_SIZE}
    targets:
      - name: pg
        dsn: ${server.dsn('postgres', PASSWORD)}
      - name: blackhole
        dsn: postgres://postgres:${PASSWORD}@127.0.0.1:${blackhole.port}/postgres
      - name: refused
        dsn: postgres://postgres:${PASSWORD}@127.0.0.1:${closedPort}/postgres
`,
    });
  });

  afterAll(async () => {
    await sw?.stop();
    await blackhole?.close();
    await server?.destroy();
  });

  it('reports a target that is down at start as pg_up 0, and picks it up at the next scrape once it is back', async () => {
    await expectDownInTime('pg');
    await server.start();
    const r = await probe('pg');
    expect(r.status).toBe(200);
    expect(r.up).toBe(1);
  });

  it('reports a refused connection as pg_up 0 without the password anywhere', async () => {
    const r = await expectDownInTime('refused');
    const all = await (await fetch(`${sw.url}/metrics`)).text();
    expect(samples(all, 'pg_up').find((s) => s.labels.target === 'refused')?.value).toBe(0);
    expect(samples(all, 'stackwatch_scrape_collector_success')).toContainEqual({
      labels: { collector: 'postgres/refused' },
      value: 0,
    });
    expect(all + r.text).not.toContain(PASSWORD);
    // The real error is in the log, with the password redacted.
    expect(sw.logs()).toMatch(/"collector":"postgres\/refused".*ECONNREFUSED/);
    expect(sw.logs()).not.toContain(PASSWORD);
  });

  it('reports a target that dies mid-run as pg_up 0 and picks it up after restart', async () => {
    expect((await probe('pg')).up).toBe(1);
    await server.kill();
    await expectDownInTime('pg');
    await expectDownInTime('pg');
    await server.start();
    expect((await probe('pg')).up).toBe(1);
    expect(sw.proc.child.exitCode).toBeNull();
  });

  it('answers before the deadline with pg_up 0 while the server is paused, and leaks no connection', async () => {
    expect((await probe('pg')).up).toBe(1);
    await server.pause();
    try {
      // Pooled connections hang mid-query, new ones hang in the handshake: both are cut at the deadline.
      await expectDownInTime('pg');
      await expectDownInTime('pg');
      await expectDownInTime('pg');
    } finally {
      await server.resume();
    }
    expect((await probe('pg')).up).toBe(1);
    // Connections cut during the pause are gone once the server runs again; the pool keeps its bound.
    await waitFor(
      async () => (await stackwatchSessions()) <= POOL_SIZE,
      15_000,
      'stackwatch sessions ≤ pool size',
    );
    expect(await stackwatchSessions()).toBeGreaterThan(0);
  });

  it('answers before the deadline with pg_up 0 for a blackhole, and closes every socket it opened', async () => {
    for (let i = 0; i < 3; i++) await expectDownInTime('blackhole');
    await waitFor(() => blackhole.open() === 0, 10_000, 'no socket left open to the blackhole');
  });

  it('keeps answering /metrics with every target while one hangs', async () => {
    const started = performance.now();
    const res = await fetch(`${sw.url}/metrics`, {
      headers: { 'X-Prometheus-Scrape-Timeout-Seconds': String(TIMEOUT_HEADER_SECONDS) },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(performance.now() - started).toBeLessThan(TIMEOUT_HEADER_SECONDS * 1000);
    const up = Object.fromEntries(samples(text, 'pg_up').map((s) => [s.labels.target, s.value]));
    expect(up).toEqual({ pg: 1, blackhole: 0, refused: 0 });
    expect(samples(text, 'pg_stat_activity_count').every((s) => s.labels.target === 'pg')).toBe(true);
    expect(sw.proc.child.exitCode).toBeNull();
  });
});
