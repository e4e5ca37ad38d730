// Helpers shared by the benchmarks: medians, timed scrapes, the reference exporters, the
// PostgreSQL workload, webhook ingest, resident memory and the writing of a section of
// docs/BENCHMARKS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import type { PostgresServer } from '../tests/support/postgres.js';
import { REPO_ROOT } from '../tests/support/stackwatch.js';
import { freePort, sleep, startProcess, waitFor, type Proc } from '../tests/support/util.js';
import { webhook } from '../tests/support/webhooks.js';

/** Samples whose name starts with `prefix` (all samples with ''). */
export { seriesCount } from '../tests/support/exposition.js';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Wall time of one whole HTTP scrape, with Prometheus's default timeout header unless told. */
export async function timedScrape(
  url: string,
  headers: Record<string, string> = { 'X-Prometheus-Scrape-Timeout-Seconds': '10' },
): Promise<{ ms: number; text: string }> {
  const started = performance.now();
  const res = await fetch(url, { headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: performance.now() - started, text };
}

/**
 * Scrapes `urls` one after another for `rounds` rounds after `warmup` unmeasured ones, so that
 * each sees the same machine: each URL's median time and its last answer.
 */
export async function alternate(
  urls: readonly string[],
  rounds: number,
  warmup = 1,
): Promise<{ ms: number; text: string }[]> {
  const times = urls.map(() => [] as number[]);
  const texts = urls.map(() => '');
  for (let i = 0; i < warmup + rounds; i++) {
    for (const [k, url] of urls.entries()) {
      const r = await timedScrape(url);
      if (i < warmup) continue;
      times[k]?.push(r.ms);
      texts[k] = r.text;
    }
  }
  return urls.map((_, k) => ({ ms: median(times[k] ?? []), text: texts[k] ?? '' }));
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * `n` webhook bodies for the default route (team-ops): two alerts each, so one email and one
 * Slack notification per webhook.
 */
export const benchWebhooks = (n: number): string[] =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify(
      webhook({
        alertname: `Bench${i}`,
        labels: { service: i % 2 ? 'postgres' : 'host' },
        instances: ['a', 'b'],
      }),
    ),
  );

export interface IngestOptions {
  /** The receiver's webhook token. */
  token: string;
  /** Keep-alive clients posting at once. */
  concurrency: number;
}

/** Posts `bodies` to the receiver's webhook from `concurrency` clients: wall time, sorted latencies, answers. */
export async function ingest(
  url: string,
  bodies: string[],
  opts: IngestOptions,
): Promise<{ seconds: number; latencies: number[]; codes: Map<number, number> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const { hostname, port } = new URL(url);
  const latencies: number[] = [];
  const codes = new Map<number, number>();
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          path: '/api/v1/alerts',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${opts.token}`,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= bodies.length) return;
        const s = performance.now();
        const code = await post(bodies[i] as string);
        latencies.push(performance.now() - s);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { seconds, latencies: latencies.sort((a, b) => a - b), codes };
}

/** Resident set of a process now (`VmRSS`, or another field such as `RssFile`), from /proc. */
export const rssMb = (pid: number | undefined, field = 'VmRSS'): number => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

/** Median of five RSS samples a second apart. */
export async function sampleRss(proc: Proc): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(rssMb(proc.child.pid));
    await sleep(1000);
  }
  return median(xs);
}

/** Peak resident set of a process, from /proc. */
export const peakRssMb = (pid: number | undefined): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

export interface Exporter {
  url: string;
  proc: Proc;
}

async function startExporter(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Exporter> {
  const port = await freePort();
  const proc = startProcess(bin, [...args, `--web.listen-address=127.0.0.1:${port}`], {
    env: { ...process.env, ...env },
  });
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitFor(async () => (await fetch(url)).ok, 20_000, bin);
  return { url, proc };
}

/** Debian's postgres_exporter with its defaults, on the server's `postgres` database. */
export const startPostgresExporter = (server: PostgresServer): Promise<Exporter> =>
  startExporter('/usr/bin/prometheus-postgres-exporter', [], {
    DATA_SOURCE_NAME: `${server.dsn('postgres')}?sslmode=disable`,
  });

/** Debian's redis_exporter with its defaults. */
export const startRedisExporter = (redisUrl: string): Promise<Exporter> =>
  startExporter('/usr/bin/prometheus-redis-exporter', [`--redis.addr=${redisUrl}`]);

/** Debian's node_exporter with the collectors stackwatch stands in for: filesystems and uname. */
export const startNodeExporter = (): Promise<Exporter> =>
  startExporter('/usr/bin/prometheus-node-exporter', [
    '--collector.disable-defaults',
    '--collector.filesystem',
    '--collector.uname',
  ]);

/** Creates databases bench_<existing>..bench_<n-1>, each with a table and two indexes. */
export async function ensureDatabases(server: PostgresServer, n: number, existing: number): Promise<void> {
  for (let i = existing; i < n; i++) {
    await server.psql(`create database bench_${i}`);
    await server.psql(
      'create table t(id int primary key, v int); create index t_v on t(v); insert into t select g, g from generate_series(1, 100) g',
      `bench_${i}`,
    );
  }
}

/** Tables s_0..s_99 that fillStatements selects from. */
export async function createStatementTables(server: PostgresServer): Promise<void> {
  for (let i = 0; i < 100; i++) await server.psql(`create table if not exists s_${i}(a int)`);
}

/** Makes pg_stat_statements hold about `n` distinct statements (different select lists over 100 tables). */
export async function fillStatements(server: PostgresServer, n: number): Promise<number> {
  const c = new pg.Client({ connectionString: server.dsn('postgres') });
  await c.connect();
  await c.query('select pg_stat_statements_reset()');
  for (let i = 0; i < n; i++) {
    const table = `s_${i % 100}`;
    const width = Math.floor(i / 100) + 1;
    await c.query(`select ${Array.from({ length: width }, () => 'a').join(', ')} from ${table} limit 1`);
  }
  const count = Number((await c.query('select count(*) from pg_stat_statements')).rows[0].count);
  await c.end();
  return count;
}

/** Replaces (or appends) the `## <title>` section of docs/BENCHMARKS.md. */
export function writeSection(title: string, body: string): void {
  const file = join(REPO_ROOT, 'docs', 'BENCHMARKS.md');
  const section = `## ${title}\n\n${body.trim()}\n`;
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`## ${escaped}\\n[\\s\\S]*?(?=\\n## |$)`);
  doc = re.test(doc) ? doc.replace(re, section) : doc.trimEnd() + '\n\n' + section;
  writeFileSync(file, doc);
}

/** A short description of the machine at the time of a run, for the docs. */
export function machineNote(): string {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `${new Date().toISOString().slice(0, 10)}, 2 shared cores, load average ${load}`;
}
