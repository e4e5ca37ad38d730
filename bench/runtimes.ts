// Node.js 20 and 24 side by side: the previous release on Node.js 20 (its dependencies a major
// behind: express 4, zod 3, pino 9, ioredis 5, better-sqlite3 11, …) and this one on Node.js 24
// and 22, measured in one run on the same servers: idle memory at rest, a scrape of PostgreSQL
// and Redis, and webhook ingest into the SQLite outbox. Writes the `## Node.js 20 and 24`
// section of docs/BENCHMARKS.md.
//
// The previous release is a checkout built on the machine's Node.js 20:
//   git worktree add /tmp/sw-previous <commit> && cd /tmp/sw-previous && npm install && npm run build
//   BENCH_BASELINE=/tmp/sw-previous BENCH_BASELINE_NODE=/usr/bin/node npm run bench -- runtimes
// Node.js 24 and 22 come from scripts/install-node.sh.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  benchWebhooks,
  createStatementTables,
  ensureDatabases,
  fillStatements,
  ingest,
  machineNote,
  median,
  percentile,
  rssMb,
  sampleRss,
  timedScrape,
  writeSection,
} from './_lib.js';
import { startPostgres } from '../tests/support/postgres.js';
import { startRedis } from '../tests/support/redis.js';
import { startSlack } from '../tests/support/slack.js';
import { startSmtp } from '../tests/support/smtp.js';
import { CLI, REPO_ROOT, startStackwatch, type StackwatchHandle } from '../tests/support/stackwatch.js';
import { sleep, startProcess } from '../tests/support/util.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REST_MS = Number(process.env.BENCH_REST_MS ?? 30_000);
const SCRAPE_ROUNDS = Number(process.env.BENCH_SCRAPE_ROUNDS ?? 40);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 5000);
const CONCURRENCY = 50;
const TOKEN = 'bench-token';

const baseline = process.env.BENCH_BASELINE;
if (!baseline) {
  process.stderr.write(
    'BENCH_BASELINE: a checkout of the previous release, built on Node.js 20 (see the top of bench/runtimes.ts)\n',
  );
  process.exit(2);
}
const nodeOf = (major: number) =>
  join(
    execFileSync('bash', [join(REPO_ROOT, 'scripts/install-node.sh'), String(major)], {
      encoding: 'utf8',
    }).trim(),
    'bin/node',
  );
const versionOf = (node: string) => execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

interface Runtime {
  label: string;
  build: { node: string; cli: string };
}
const runtimes: Runtime[] = [
  {
    node: process.env.BENCH_BASELINE_NODE ?? '/usr/bin/node',
    cli: join(baseline, 'dist/cli.js'),
    release: 'previous release',
  },
  { node: nodeOf(24), cli: CLI, release: 'this release' },
  { node: nodeOf(22), cli: CLI, release: 'this release' },
].map(({ node, cli, release }) => ({
  label: `${release} on Node.js ${versionOf(node).slice(1)}`,
  build: { node, cli },
}));

/** Each round starts with another runtime, so none always runs on a machine another just warmed. */
const rotated = <T>(xs: readonly T[], round: number): T[] =>
  xs.map((_, i) => xs[(i + round) % xs.length] as T);

/** RSS at rest of the default configuration and of bare node, every runtime at once, per round. */
async function idleMemory(): Promise<{ service: number[]; file: number[]; bare: number[] }> {
  const service = runtimes.map(() => [] as number[]);
  const file = runtimes.map(() => [] as number[]);
  const bare = runtimes.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    const started = Date.now();
    const procs = await Promise.all(
      runtimes.map(async (rt) => {
        const sw = await startStackwatch({ build: rt.build });
        await (await fetch(`${sw.url}/metrics`)).text();
        return { sw, node: startProcess(rt.build.node, ['-e', 'setInterval(() => {}, 1000)']) };
      }),
    );
    try {
      await sleep(Math.max(0, REST_MS - (Date.now() - started)));
      for (const [i, p] of procs.entries()) {
        service[i]?.push(await sampleRss(p.sw.proc));
        file[i]?.push(rssMb(p.sw.proc.child.pid, 'RssFile'));
        bare[i]?.push(await sampleRss(p.node));
      }
    } finally {
      await Promise.all(procs.flatMap((p) => [p.sw.stop(), p.node.stop()]));
    }
  }
  return { service: service.map(median), file: file.map(median), bare: bare.map(median) };
}

/** Median wall time of `/metrics` with one PostgreSQL and one Redis target, every runtime in turn each round. */
async function scrapes(): Promise<number[]> {
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  const services: StackwatchHandle[] = [];
  try {
    // The workload of bench/databases.ts: 5 databases, ~300 statements; Redis with the cache families.
    await createStatementTables(pg);
    await ensureDatabases(pg, 5, 1);
    await fillStatements(pg, 300);
    const client = new Redis(redis.url);
    const families = ['llm_response', 'tool_result', 'user_session', 'config', 'other'];
    await client.mset(...Array.from({ length: 1000 }, (_, i) => [`${families[i % 5]}:${i}`, 'v']).flat());
    client.disconnect();
    const config = `
collectors:
  filesystem: { enabled: false }
  docker: { enabled: false }
  postgres: { targets: [{ name: main, dsn: '${pg.dsn('postgres')}' }] }
  redis: { targets: [{ name: cache, url: '${redis.url}' }] }
`;
    for (const rt of runtimes) services.push(await startStackwatch({ build: rt.build, config }));
    const times = runtimes.map(() => [] as number[]);
    for (let round = 0; round < 3 + SCRAPE_ROUNDS; round++)
      for (const i of rotated([...runtimes.keys()], round)) {
        const { ms } = await timedScrape(`${services[i]?.url}/metrics`);
        if (round >= 3) times[i]?.push(ms);
      }
    return times.map(median);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all([pg.destroy(), redis.close()]);
  }
}

/** Webhooks per second into the SQLite outbox and their latency, each runtime ROUNDS times in turn. */
async function ingestRates(): Promise<{ rate: number; p50: number; p99: number }[]> {
  const [smtp, slack] = await Promise.all([startSmtp(), startSlack()]);
  const config = `receiver:
  webhook_token: ${TOKEN}
  escalation: { enabled: false }
  email: { smtp_url: '${smtp.url}', concurrency: 8 }
  slack: { webhook_url: '${slack.url}', concurrency: 8 }
`;
  const bodies = benchWebhooks(WEBHOOKS);
  const warmup = bodies.slice(0, 200).map((b) => b.replace(/Bench/g, 'Warm'));
  const runs = runtimes.map(() => [] as { rate: number; p50: number; p99: number }[]);
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const i of rotated([...runtimes.keys()], round)) {
        const sw = await startStackwatch({ build: (runtimes[i] as Runtime).build, config });
        try {
          await ingest(sw.url, warmup, { token: TOKEN, concurrency: CONCURRENCY });
          const r = await ingest(sw.url, bodies, { token: TOKEN, concurrency: CONCURRENCY });
          if (r.codes.get(200) !== WEBHOOKS) throw new Error(`answers: ${JSON.stringify([...r.codes])}`);
          runs[i]?.push({
            rate: WEBHOOKS / r.seconds,
            p50: percentile(r.latencies, 50),
            p99: percentile(r.latencies, 99),
          });
        } finally {
          await sw.stop();
          smtp.clear();
          slack.clear();
        }
      }
  } finally {
    await Promise.all([smtp.close(), slack.close()]);
  }
  return runs.map((rs) => ({
    rate: median(rs.map((r) => r.rate)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
  }));
}

const memory = await idleMemory();
const scrape = await scrapes();
const rates = await ingestRates();

/** How much more the first runtime on Node.js 24 holds than the previous release. */
const more = (xs: number[]) => ((xs[1] as number) - (xs[0] as number)).toFixed(1);
const vs = (xs: number[], i: number) =>
  i === 0 ? '1.00×' : `${((xs[i] as number) / (xs[0] as number)).toFixed(2)}×`;
const rows = runtimes.map((rt, i) =>
  [
    rt.label,
    `${(memory.bare[i] as number).toFixed(1)} MB`,
    `${(memory.service[i] as number).toFixed(1)} MB (${vs(memory.service, i)})`,
    `${(memory.file[i] as number).toFixed(1)} MB`,
    `${(scrape[i] as number).toFixed(1)} ms (${vs(scrape, i)})`,
    `${(rates[i]?.rate as number).toFixed(0)}/s (${vs(
      rates.map((r) => r.rate),
      i,
    )})`,
    `${(rates[i]?.p50 as number).toFixed(1)} ms / ${(rates[i]?.p99 as number).toFixed(1)} ms`,
  ].join(' | '),
);
const body = `
Measured by \`bench/runtimes.ts\` on ${machineNote()}: the previous release on the Node.js 20
it was built for (express 4, zod 3, pino 9, ioredis 5, better-sqlite3 11, nodemailer 6,
@slack/webhook 7, dockerode 4) and this release on Node.js 24 and 22, started from one harness in
one run. **Idle RSS**: VmRSS at rest (${REST_MS / 1000} s after start and one scrape), default
configuration, median of five samples a second apart, all six processes side by side, median of
${ROUNDS} rounds; bare \`node\` of the same binary beside it. **Scrape**: \`/metrics\` with one
PostgreSQL 15 (5 databases, ~300 statements) and one Redis 7 (1,000 keys) target, each runtime
in turn, ${SCRAPE_ROUNDS} rounds after 3 warm-up rounds, median wall time. **Ingest**: ${WEBHOOKS}
webhooks (two alerts, two notifications each) from ${CONCURRENCY} keep-alive clients into the SQLite
outbox (WAL, \`synchronous=FULL\`), after 200 warm-up webhooks, mail and Slack delivered meanwhile to
the local SMTP server and Slack fake; median of ${ROUNDS} runs per runtime, taken in turn. Ratios are
to the previous release on Node.js 20.

| Runtime | Bare node at rest | Idle RSS at rest | of which file-backed | Scrape (PostgreSQL + Redis) | Ingest | Ingest p50 / p99 |
|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r} |`).join('\n')}

At rest this release on Node.js 24 holds ${more(memory.service)} MB more than the previous one on
Node.js 20: ${more(memory.file)} MB of it file-backed (mostly the larger node binary's pages; bare
\`node\` alone holds ${more(memory.bare)} MB more), the rest anonymous memory, V8's heap and Node.js's
own. The idle-memory goal (64 MB at the default configuration) was set on Node.js 20. Ingest
commits every batch with an fsync: on a machine whose disk other work shares, its ratio moves
by tens of percent from run to run, where those of idle memory and scrape repeat.
`;
writeSection('Node.js 20 and 24', body);
process.stdout.write(body);
