// Docker collector benchmark against a real engine: /metrics scrape time with 20, 50 and 100
// running containers next to `docker stats --no-stream` in the same run, and the CPU share of
// stackwatch's background sampler. Run with `npx tsx bench/docker.ts` after `npm run build`;
// writes the `## Docker` section of docs/BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import { writeSection as writeBenchSection } from './_lib.js';
import { cpus, loadavg } from 'node:os';
import { startDockerEngine } from '../tests/support/docker.js';
import { samples, seriesCount, value } from '../tests/support/exposition.js';
import { startStackwatch } from '../tests/support/stackwatch.js';
import { run, sleep, waitFor } from '../tests/support/util.js';

const COUNTS = (process.env.BENCH_CONTAINERS ?? '20,50,100').split(',').map(Number);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 21);
const DOCKER_STATS_RUNS = Number(process.env.BENCH_DOCKER_STATS_RUNS ?? 5);
const CPU_WINDOW_MS = Number(process.env.BENCH_CPU_WINDOW_MS ?? 30_000);
const TICKS = 100; // USER_HZ

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

interface Row {
  containers: number;
  scrapeMs: number;
  collectorMs: number;
  dockerStatsMs: number;
  samplerCpu: number;
  series: number;
}

async function main(): Promise<void> {
  const engine = await startDockerEngine();
  const sw = await startStackwatch({
    config: [
      'collectors:',
      '  docker:',
      '    enabled: true',
      `    host: ${engine.host}`,
      '    sample_interval: 10s',
    ].join('\n'),
  });
  const pid = sw.proc.child.pid as number;
  const rows: Row[] = [];
  let running = 0;
  try {
    for (const n of COUNTS) {
      while (running < n) {
        const batch = Array.from({ length: Math.min(5, n - running) }, (_, i) => running + i);
        await Promise.all(batch.map((i) => engine.runContainer(`c${i}`, [], ['sleep', '36000'])));
        running += batch.length;
      }
      // Every container has its first stats sample.
      await waitFor(
        async () => {
          const text = await (await fetch(`${sw.url}/metrics`)).text();
          return samples(text, 'container_cpu_usage_seconds_total').length >= n;
        },
        120_000,
        `stats for ${n} containers`,
        500,
      );

      const wall: number[] = [];
      const collector: number[] = [];
      let series = 0;
      for (let i = 0; i < SCRAPES; i++) {
        const t = performance.now();
        const text = await (await fetch(`${sw.url}/metrics`)).text();
        wall.push(performance.now() - t);
        const d = value(text, 'stackwatch_scrape_collector_duration_seconds', { collector: 'docker' });
        collector.push((d ?? NaN) * 1000);
        series = seriesCount(text, 'container_') + seriesCount(text, 'docker_');
        await sleep(50);
      }

      const stats: number[] = [];
      for (let i = 0; i < DOCKER_STATS_RUNS; i++) {
        const t = performance.now();
        const r = await run('docker', ['stats', '--no-stream'], {
          env: { ...process.env, DOCKER_HOST: engine.host },
        });
        if (r.code !== 0) throw new Error(`docker stats: ${r.stderr}`);
        stats.push(performance.now() - t);
      }

      // The sampler alone: no scrapes during the window.
      const c0 = cpuSeconds(pid);
      const t0 = performance.now();
      await sleep(CPU_WINDOW_MS);
      const samplerCpu = (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);

      const row = {
        containers: n,
        scrapeMs: median(wall),
        collectorMs: median(collector),
        dockerStatsMs: median(stats),
        samplerCpu,
        series,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  } finally {
    await sw.stop();
    await engine.cleanup();
  }
  writeSection(rows);
}

function writeSection(rows: Row[]): void {
  const lines = [
    `\`npx tsx bench/docker.ts\` (after \`npm run build\`), ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores ` +
      `(${cpus()[0]?.model.trim()}), shared with other work. A real dockerd 20.10 (API 1.41, cgroup v1) from ` +
      '`tests/support/docker.ts`, N busybox containers running `sleep`, stackwatch with ' +
      `\`collectors.docker.sample_interval: 10s\`. Load average ${loadavg()[0]?.toFixed(1)} when the run ended.`,
    '',
    `- **scrape**: median wall time of ${SCRAPES} \`GET /metrics\` (the whole answer, filesystem and self metrics included); ` +
      '**docker collector**: median of its `stackwatch_scrape_collector_duration_seconds`.',
    `- **docker stats --no-stream**: median wall time of ${DOCKER_STATS_RUNS} runs of the CLI against the same engine, ` +
      'the routine the manual has operators run.',
    `- **sampler CPU**: stackwatch's process CPU time / wall time over ${CPU_WINDOW_MS / 1000} s without scrapes ` +
      '(the background sampler and the event stream only).',
    '',
    '| Containers | Series | Scrape (median) | Docker collector (median) | `docker stats --no-stream` (median) | Ratio | Sampler CPU |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.containers} | ${r.series} | ${r.scrapeMs.toFixed(1)} ms | ${r.collectorMs.toFixed(1)} ms | ` +
        `${r.dockerStatsMs.toFixed(0)} ms | ${(r.dockerStatsMs / r.scrapeMs).toFixed(0)}× | ${(r.samplerCpu * 100).toFixed(2)} % |`,
    ),
    '',
    "A scrape makes no engine call: the container list is kept current by the engine's event stream",
    '(and re-read every sample interval), inspect and stats by the background sampler, so the docker',
    'collector itself takes about a millisecond and the rest of the scrape is the other collectors and',
    'HTTP. Stats come from parallel one-shot `stats?stream=false&one-shot=true` calls, which the engine',
    'answers on its one-second tick; `docker stats --no-stream` waits for two ticks.',
    '',
  ];
  writeBenchSection('Docker', lines.join('\n'));
  console.log('wrote the Docker section of docs/BENCHMARKS.md');
}

await main();
