// Benchmark of the probe, backup and log collectors through a real stackwatch process:
// probe latency against the fake application, scrape latency while a large backup is checked,
// gzip check throughput, and the cost of following a log (first read vs an incremental scrape).
// Run with `npm run build && npx tsx bench/probes.ts`.
import { appendFileSync, createWriteStream, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { checkGzip } from '../src/collectors/backup.js';
import { startFakeApp } from '../tests/support/fakeapp.js';
import { samples, startStackwatch } from '../tests/support/stackwatch.js';
import { run, tempDir, waitFor } from '../tests/support/util.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const BACKUP_MB = Number(process.env.BENCH_BACKUP_MB ?? 512);
const LOG_MB = Number(process.env.BENCH_LOG_MB ?? 100);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] as number;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function timed(url: string): Promise<{ ms: number; text: string }> {
  const t = performance.now();
  const text = await (await fetch(url)).text();
  return { ms: performance.now() - t, text };
}

async function writeDump(path: string, mb: number): Promise<void> {
  let left = mb * 1024 * 1024;
  let i = 0;
  const lines = Readable.from(
    (function* () {
      while (left > 0) {
        let chunk = '';
        for (let k = 0; k < 1000; k++, i++)
          chunk += `${i}\tcoder-${i % 7}\t${(i * 2654435761) % 4294967296}\tcompleted\n`;
        left -= chunk.length;
        yield chunk;
      }
    })(),
  );
  await pipeline(lines, createGzip({ level: 6 }), createWriteStream(path));
}

const tmp = tempDir('swbench');
const app = await startFakeApp();
const dump = join(tmp.path, 'postgres_1.sql.gz');
const log = join(tmp.path, 'app.log');
writeFileSync(log, '');
const sw = await startStackwatch({
  config: `
collectors:
  filesystem: { enabled: false }
  probes: { app_base_url: ${app.url} }
  backups: [{ name: big, glob: '${tmp.path}/postgres_*.sql.gz' }]
  logs: [{ name: app, path: '${log}' }]
`,
});

try {
  // 1. Probes: one target through /probe, and all four defaults in one /metrics scrape.
  const probe: number[] = [];
  const all: number[] = [];
  for (let i = 0; i < ROUNDS; i++) probe.push((await timed(`${sw.url}/probe?target=health`)).ms);
  for (let i = 0; i < ROUNDS; i++) all.push((await timed(`${sw.url}/metrics`)).ms);
  console.log(
    `probe /health via /probe: median ${ms(median(probe))}, p95 ${ms(p95(probe))} (${ROUNDS} rounds)`,
  );
  console.log(`/metrics with 4 probes + idle backup/log: median ${ms(median(all))}, p95 ${ms(p95(all))}`);

  // 2. gzip integrity check throughput, in-process.
  await writeDump(dump, BACKUP_MB);
  const size = statSync(dump).size;
  const t0 = performance.now();
  await checkGzip(dump);
  const checkSeconds = (performance.now() - t0) / 1000;
  console.log(
    `gzip check: ${BACKUP_MB} MiB uncompressed (${(size / 1048576).toFixed(0)} MiB on disk) in ${checkSeconds.toFixed(2)} s = ${(BACKUP_MB / checkSeconds).toFixed(0)} MiB/s uncompressed`,
  );

  const g0 = performance.now();
  await run('gzip', ['-t', dump]);
  const gzipSeconds = (performance.now() - g0) / 1000;
  console.log(
    `gzip -t on the same file: ${gzipSeconds.toFixed(2)} s (stackwatch/gzip = ${(checkSeconds / gzipSeconds).toFixed(2)})`,
  );

  // 3. Scrapes while stackwatch checks that file in the background.
  const during: number[] = [];
  let checked = false;
  const header = { 'X-Prometheus-Scrape-Timeout-Seconds': '10' };
  while (!checked) {
    const t = performance.now();
    const text = await (await fetch(`${sw.url}/metrics`, { headers: header })).text();
    during.push(performance.now() - t);
    checked = samples(text, 'stackwatch_backup_integrity_ok').length > 0;
  }
  console.log(
    `/metrics while the ${BACKUP_MB} MiB backup is checked: ${during.length} scrapes, first ${ms(during[0] as number)} (waits up to 1 s for a new file), then median ${ms(median(during.slice(1).length ? during.slice(1) : during))}`,
  );
  const after: number[] = [];
  for (let i = 0; i < ROUNDS; i++) after.push((await timed(`${sw.url}/metrics`)).ms);
  console.log(`/metrics after the check (result remembered): median ${ms(median(after))}`);

  // 4. Log following: a large backlog, then an incremental scrape.
  const line = '2024-01-01 12:00:00,123 - agent.api - ERROR - provider returned 500 for task task-123\n';
  const block = line.repeat(10_000);
  for (let written = 0; written < LOG_MB * 1024 * 1024; written += block.length) appendFileSync(log, block);
  const logSize = statSync(log).size;
  let backlogMs = 0;
  await waitFor(
    async () => {
      const r = await timed(`${sw.url}/metrics`);
      backlogMs += r.ms;
      const read = samples(r.text, 'stackwatch_log_read_bytes_total')[0]?.value ?? 0;
      return read >= logSize;
    },
    120_000,
    'the log backlog to be read',
    0,
  );
  console.log(
    `log backlog: ${(logSize / 1048576).toFixed(0)} MiB read in ${ms(backlogMs)} of scrapes = ${(logSize / 1048576 / (backlogMs / 1000)).toFixed(0)} MiB/s`,
  );
  const incremental: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    appendFileSync(log, line);
    incremental.push((await timed(`${sw.url}/metrics`)).ms);
  }
  console.log(
    `/metrics with a ${(logSize / 1048576).toFixed(0)} MiB log and one new line per scrape: median ${ms(median(incremental))} (the file is not re-read)`,
  );
} finally {
  await sw.stop();
  await app.close();
  tmp.cleanup();
}
