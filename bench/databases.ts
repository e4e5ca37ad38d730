// Scrape cost against the anchors, side by side in one run on the same servers: one PostgreSQL
// 15 (5 databases, 200 statements), one Redis 7 (2,000 keys), the machine's filesystems and a
// real Docker engine with 20 containers. Each round scrapes postgres_exporter, redis_exporter
// and node_exporter (filesystem, uname), and one stackwatch twice: `collect[]=postgres&
// collect[]=redis` (the databases) and the whole `/metrics` (with filesystems, uname and
// Docker), the order alternating by round. Writes the `## PostgreSQL and Redis together`
// section of docs/BENCHMARKS.md. Run with `npm run bench -- databases` (as root: PostgreSQL runs
// as `postgres`, dockerd as root).
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import {
  createStatementTables,
  ensureDatabases,
  fillStatements,
  machineNote,
  median,
  peakRssMb,
  seriesCount,
  startNodeExporter,
  startPostgresExporter,
  startRedisExporter,
  timedScrape,
  writeSection,
} from './_lib.js';
import { startDockerEngine } from '../tests/support/docker.js';
import { startPostgres } from '../tests/support/postgres.js';
import { startRedis } from '../tests/support/redis.js';
import { samples } from '../tests/support/exposition.js';
import { startStackwatch } from '../tests/support/stackwatch.js';
import { waitFor } from '../tests/support/util.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const WARMUP = 3;
const CONTAINERS = 20;
const STATEMENTS = 200;
const REDIS_KEYS = 2000;

interface Scrape {
  ms: number;
  text: string;
}

/** CPU time a process has used (user + system), in milliseconds (10 ms ticks). */
function cpuMs(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const [pgServer, redis, engine] = await Promise.all([startPostgres(), startRedis(), startDockerEngine()]);
  const stops: (() => Promise<unknown>)[] = [
    () => pgServer.destroy(),
    () => redis.close(),
    () => engine.cleanup(),
  ];
  try {
    // The workload of bench/postgres.ts: 5 databases, their tables and indexes, distinct statements.
    await pgServer.psql(
      'create table items(id int primary key, qty int); create index items_qty on items(qty); insert into items select g, g % 10 from generate_series(1, 10000) g',
    );
    await createStatementTables(pgServer);
    await ensureDatabases(pgServer, 5, 1);
    const statements = await fillStatements(pgServer, STATEMENTS);
    const client = new Redis(redis.url);
    const families = ['llm_response', 'tool_result', 'user_session', 'config', 'other'];
    await client.mset(
      ...Array.from({ length: REDIS_KEYS }, (_, i) => [`${families[i % 5]}:${i}`, 'v']).flat(),
    );
    client.disconnect();
    for (let i = 0; i < CONTAINERS; i += 5)
      await Promise.all(
        Array.from({ length: 5 }, (_, k) => engine.runContainer(`c${i + k}`, [], ['sleep', '36000'])),
      );

    const pgExporter = await startPostgresExporter(pgServer);
    stops.unshift(() => pgExporter.proc.stop());
    const redisExporter = await startRedisExporter(redis.url);
    stops.unshift(() => redisExporter.proc.stop());
    const nodeExporter = await startNodeExporter();
    stops.unshift(() => nodeExporter.proc.stop());
    const sw = await startStackwatch({
      config: `
collectors:
  docker: { enabled: true, host: '${engine.host}' }
  postgres:
    targets:
      - name: main
        dsn: ${pgServer.dsn('postgres')}
  redis:
    targets:
      - name: cache
        url: ${redis.url}
`,
    });
    stops.unshift(() => sw.stop());
    const databasesUrl = `${sw.url}/metrics?collect[]=postgres&collect[]=redis`;
    const fullUrl = `${sw.url}/metrics`;
    await waitFor(
      async () =>
        samples((await timedScrape(fullUrl)).text, 'container_cpu_usage_seconds_total').length >= CONTAINERS,
      120_000,
      `stats of ${CONTAINERS} containers`,
      500,
    );

    const names = ['pg', 'redis', 'node', 'databases', 'full', 'none', 'postgres'] as const;
    const urls = {
      pg: pgExporter.url,
      redis: redisExporter.url,
      node: nodeExporter.url,
      databases: databasesUrl,
      full: fullUrl,
      // Where stackwatch's time goes: no collector at all (a kind with nothing configured selects
      // nothing: self metrics and HTTP only), and the PostgreSQL collector alone.
      none: `${sw.url}/metrics?collect[]=backup`,
      postgres: `${sw.url}/metrics?collect[]=postgres`,
    };
    const pids = {
      pg: pgExporter.proc.child.pid,
      redis: redisExporter.proc.child.pid,
      node: nodeExporter.proc.child.pid,
      databases: sw.proc.child.pid,
      full: sw.proc.child.pid,
      none: sw.proc.child.pid,
      postgres: sw.proc.child.pid,
    };
    // The exporter's own CPU per scrape (PostgreSQL's and Redis's work for it not included).
    const cpu = Object.fromEntries(names.map((n) => [n, 0])) as Record<(typeof names)[number], number>;
    const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
      (typeof names)[number],
      number[]
    >;
    const last = {} as Record<(typeof names)[number], Scrape>;
    /** Each collector's own duration in the whole scrapes, as stackwatch reports it. */
    const collectorTimes = new Map<string, number[]>();
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      // Alternate the order, so that neither side always runs on a machine the other just warmed.
      const order = i % 2 ? [...names] : [...names].reverse();
      for (const n of order) {
        const before = cpuMs(pids[n]);
        const r = await timedScrape(urls[n]);
        last[n] = r;
        if (i < WARMUP) continue;
        times[n].push(r.ms);
        cpu[n] += cpuMs(pids[n]) - before;
        if (n === 'full')
          for (const d of samples(r.text, 'stackwatch_scrape_collector_duration_seconds')) {
            const name = d.labels.collector as string;
            collectorTimes.set(name, [...(collectorTimes.get(name) ?? []), d.value * 1000]);
          }
      }
    }
    const m = Object.fromEntries(names.map((n) => [n, median(times[n])])) as Record<
      (typeof names)[number],
      number
    >;
    const perRound = (mine: number[], anchors: number[][]) =>
      median(mine.map((t, i) => t / anchors.reduce((a, xs) => a + (xs[i] as number), 0)));
    const dbAnchors = m.pg + m.redis;
    const fullAnchors = m.pg + m.redis + m.node;
    const series = (n: (typeof names)[number]) => seriesCount(last[n].text);
    const cpuPerScrape = (n: (typeof names)[number]) => (cpu[n] / ROUNDS).toFixed(1);
    const row = (label: string, n: (typeof names)[number]) =>
      `| ${label} | ${m[n].toFixed(1)} ms | ${cpuPerScrape(n)} ms | ${series(n)} |`;
    const collectorMs = (name: string) => {
      const ms = collectorTimes.get(name);
      return ms?.length ? median(ms).toFixed(1) : '?';
    };
    const body = [
      `Measured by \`bench/databases.ts\` on ${machineNote()}. One PostgreSQL 15 (5 databases,`,
      `${statements} pg_stat_statements entries), one Redis 7 (${REDIS_KEYS.toLocaleString('en')} keys), the machine's filesystems and a`,
      `Docker engine with ${CONTAINERS} running containers; ${ROUNDS} rounds after ${WARMUP} warm-up rounds. Each round scrapes`,
      'postgres_exporter, redis_exporter and node_exporter, and one stackwatch four ways: the two databases',
      '(`/metrics?collect[]=postgres&collect[]=redis`), the whole `/metrics`, PostgreSQL alone and no',
      'collector at all (`collect[]=backup`, none configured); the order alternates by',
      "round. Wall time of whole HTTP scrapes on loopback, medians; stackwatch's answers include its",
      "self metrics (process, receiver) each time. CPU per scrape: the exporter process's own CPU time",
      '(from /proc, 10 ms ticks) over the measured rounds, divided by their number.',
      '',
      '| Scrape | Median | CPU per scrape | Series |',
      '|---|---|---|---|',
      row('postgres_exporter 0.11 (defaults; no statement metrics)', 'pg'),
      row('redis_exporter 1.45 (defaults)', 'redis'),
      row('node_exporter 1.5 (filesystem, uname)', 'node'),
      `| **postgres_exporter + redis_exporter** | **${dbAnchors.toFixed(1)} ms** | | ${series('pg') + series('redis')} |`,
      `| **all three anchors** | **${fullAnchors.toFixed(1)} ms** | | ${series('pg') + series('redis') + series('node')} |`,
      row(
        'stackwatch, PostgreSQL and Redis (top-100 statements, 50 tables, 50 indexes, key-prefix SCAN)',
        'databases',
      ),
      row(`stackwatch, whole scrape (and filesystems, uname, ${CONTAINERS} containers)`, 'full'),
      row('stackwatch, PostgreSQL alone', 'postgres'),
      row('stackwatch, no collector (self metrics and HTTP)', 'none'),
      '',
      `Ratios (target ≤ 0.50): databases / (postgres_exporter + redis_exporter) **${(m.databases / dbAnchors).toFixed(2)}**`,
      `(median of the per-round ratios ${perRound(times.databases, [times.pg, times.redis]).toFixed(2)}); whole scrape / all three anchors`,
      `**${(m.full / fullAnchors).toFixed(2)}** (per round ${perRound(times.full, [times.pg, times.redis, times.node]).toFixed(2)}).`,
      `Each collector's own time inside the whole scrapes (medians; they run concurrently): PostgreSQL`,
      `${collectorMs('postgres/main')} ms, Redis ${collectorMs('redis/cache')} ms, Docker ${collectorMs('docker')} ms, filesystems ${collectorMs('filesystem')} ms.`,
      `Where stackwatch's time goes: with no collector a scrape costs it ${cpuPerScrape('none')} ms of CPU (self metrics, HTTP);`,
      `PostgreSQL alone adds ${(cpu.postgres / ROUNDS - cpu.none / ROUNDS).toFixed(1)} ms for ${series('postgres') - series('none')} more series, about`,
      `${((1000 * (cpu.postgres - cpu.none)) / ROUNDS / Math.max(1, series('postgres') - series('none'))).toFixed(1)} µs of CPU a series, while the collector's own time, mostly waiting for its queries, is ${collectorMs('postgres/main')} ms.`,
      `Peak RSS: stackwatch ${peakRssMb(sw.proc.child.pid).toFixed(0)} MB (whole service, receiver included),`,
      `postgres_exporter ${peakRssMb(pgExporter.proc.child.pid).toFixed(0)} MB, redis_exporter ${peakRssMb(redisExporter.proc.child.pid).toFixed(0)} MB,`,
      `node_exporter ${peakRssMb(nodeExporter.proc.child.pid).toFixed(0)} MB.`,
    ].join('\n');
    console.log(body);
    writeSection('PostgreSQL and Redis together', body);
  } finally {
    for (const stop of stops) await stop().catch((err: unknown) => console.error(err));
  }
}

await main();
