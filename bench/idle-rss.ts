// Resident memory of an idle stackwatch: at the default configuration (filesystem collector,
// console receiver), and with every collector and channel configured against real servers
// (PostgreSQL, Redis, dockerd, an SMTP server; Slack is the local fake), next to a bare `node`
// process. Each process is started, scraped once, left idle, then sampled; the three kinds
// are started in turn, ROUNDS times, and the medians written to docs/BENCHMARKS.md.
// Run with `npm run bench -- idle-rss`.
import { readFileSync } from 'node:fs';
import { machineNote, median, writeSection } from './_lib.js';
import { startDockerEngine } from '../tests/support/docker.js';
import { startPostgres } from '../tests/support/postgres.js';
import { startRedis } from '../tests/support/redis.js';
import { startSlack } from '../tests/support/slack.js';
import { startSmtp } from '../tests/support/smtp.js';
import { startStackwatch } from '../tests/support/stackwatch.js';
import { sleep, startProcess, type Proc } from '../tests/support/util.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const TARGET_MB = 64;

const rssMb = (pid: number | undefined): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

/** Median of five samples a second apart, after the process has been idle for IDLE_MS. */
async function idleRss(proc: Proc): Promise<number> {
  await sleep(IDLE_MS);
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(rssMb(proc.child.pid));
    await sleep(1000);
  }
  return median(xs);
}

const [pg, redis, smtp, slack, engine] = await Promise.all([
  startPostgres(),
  startRedis(),
  startSmtp(),
  startSlack(),
  startDockerEngine(),
]);
const everything = `
collectors:
  postgres:
    targets: [{ name: main, dsn: '${pg.dsn('postgres')}' }]
  redis:
    targets: [{ name: cache, url: '${redis.url}' }]
  docker: { enabled: true, host: '${engine.host}' }
receiver:
  email: { smtp_url: '${smtp.url}', from: 'stackwatch <alerts@example.com>' }
  slack: { webhook_url: '${slack.url}' }
`;

const kinds = {
  node: async () => {
    const proc = startProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    return { proc, stop: () => proc.stop() };
  },
  default: async () => {
    const sw = await startStackwatch();
    await (await fetch(`${sw.url}/metrics`)).text();
    return { proc: sw.proc, stop: () => sw.stop() };
  },
  everything: async () => {
    const sw = await startStackwatch({ config: everything });
    await (await fetch(`${sw.url}/metrics`)).text();
    return { proc: sw.proc, stop: () => sw.stop() };
  },
};
const results: Record<keyof typeof kinds, number[]> = { node: [], default: [], everything: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of Object.keys(kinds) as (keyof typeof kinds)[]) {
      const p = await kinds[kind]();
      try {
        results[kind].push(await idleRss(p.proc));
      } finally {
        await p.stop();
      }
    }
  }
} finally {
  await Promise.allSettled([pg.destroy(), redis.close(), smtp.close(), slack.close(), engine.cleanup()]);
}

const mb = (x: number) => `${x.toFixed(1)} MB`;
const node = median(results.node);
const rows = (Object.keys(results) as (keyof typeof kinds)[]).map((kind) => {
  const m = median(results[kind]);
  return `| ${kind === 'node' ? 'bare `node`' : kind === 'default' ? 'stackwatch, default configuration' : 'stackwatch, every collector and channel configured'} | ${mb(m)} | ${(m / node).toFixed(2)}× | ${results[kind].map((x) => x.toFixed(1)).join(', ')} |`;
});
const body = `
${machineNote()}; \`npm run bench -- idle-rss\`, ${ROUNDS} rounds. Resident set (VmRSS) after one
scrape and ${IDLE_MS / 1000} s idle, median of five samples a second apart; the three processes
are started in turn in each round. Target: at most ${TARGET_MB} MB at the default configuration.
Client libraries (dockerode, pg, ioredis, nodemailer, @slack/webhook, better-sqlite3) are loaded
only when a collector, channel or outbox that needs them is configured. The default
configuration still loads express, prom-client, pino, zod, yaml, bcryptjs and better-sqlite3 (the
SQLite outbox of the console receiver): those libraries alone, imported by a bare script, take
most of the distance from bare node.

| Process | Idle RSS (median) | vs bare node | Rounds |
|---|---|---|---|
${rows.join('\n')}
`;
writeSection('Idle memory', body);
process.stdout.write(body);
