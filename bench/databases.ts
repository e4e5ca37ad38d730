// Combined database scrape: one stackwatch scrape of a PostgreSQL and a Redis target against
// the two reference exporters (Debian's postgres_exporter 0.11 and redis_exporter 1.45) on the
// same servers, in alternating rounds. Writes the `## PostgreSQL and Redis together` section of
// docs/BENCHMARKS.md. Run with `npm run bench -- databases` (as root: PostgreSQL runs as `postgres`).
import { Redis } from 'ioredis';
import {
  createStatementTables,
  ensureDatabases,
  fillStatements,
  machineNote,
  median,
  peakRssMb,
  seriesCount,
  startPostgresExporter,
  startRedisExporter,
  timedScrape,
  writeSection,
} from './_lib.js';
import { startPostgres } from '../tests/support/postgres.js';
import { startRedis } from '../tests/support/redis.js';
import { value } from '../tests/support/exposition.js';
import { startStackwatch } from '../tests/support/stackwatch.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const WARMUP = 3;

async function main(): Promise<void> {
  const [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
  // The workload of bench/postgres.ts: 5 databases, ~300 statements; Redis with the cache families.
  await pgServer.psql(
    'create table items(id int primary key, qty int); create index items_qty on items(qty); insert into items select g, g % 10 from generate_series(1, 10000) g',
  );
  await createStatementTables(pgServer);
  await ensureDatabases(pgServer, 5, 1);
  const statements = await fillStatements(pgServer, 300);
  const client = new Redis(redis.url);
  const families = ['llm_response', 'tool_result', 'user_session', 'config', 'other'];
  await client.mset(...Array.from({ length: 1000 }, (_, i) => [`${families[i % 5]}:${i}`, 'v']).flat());
  client.disconnect();

  const pgExporter = await startPostgresExporter(pgServer);
  const redisExporter = await startRedisExporter(redis.url);
  const sw = await startStackwatch({
    config: `
collectors:
  filesystem: { enabled: false }
  docker: { enabled: false }
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
  const ours = `${sw.url}/metrics`;
  try {
    const pgTimes: number[] = [];
    const redisTimes: number[] = [];
    const sumTimes: number[] = [];
    const oursTimes: number[] = [];
    let texts = { pg: '', redis: '', ours: '' };
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      // Alternate which side goes first, so neither always runs on a machine the other just warmed.
      const anchors = async () => {
        const a = await timedScrape(pgExporter.url);
        const b = await timedScrape(redisExporter.url);
        return { a, b };
      };
      let pair: { a: { ms: number; text: string }; b: { ms: number; text: string } };
      let mine: { ms: number; text: string };
      if (i % 2) {
        pair = await anchors();
        mine = await timedScrape(ours);
      } else {
        mine = await timedScrape(ours);
        pair = await anchors();
      }
      if (i < WARMUP) continue;
      pgTimes.push(pair.a.ms);
      redisTimes.push(pair.b.ms);
      sumTimes.push(pair.a.ms + pair.b.ms);
      oursTimes.push(mine.ms);
      texts = { pg: pair.a.text, redis: pair.b.text, ours: mine.text };
    }
    const mPg = median(pgTimes);
    const mRedis = median(redisTimes);
    const mOurs = median(oursTimes);
    const ratio = mOurs / (mPg + mRedis);
    const perRound = median(oursTimes.map((t, i) => t / (sumTimes[i] as number)));
    const collectorMs = (name: string) => {
      const seconds = value(texts.ours, 'stackwatch_scrape_collector_duration_seconds', { collector: name });
      return seconds === undefined ? '?' : (seconds * 1000).toFixed(1);
    };
    const body = [
      `Measured by \`bench/databases.ts\` on ${machineNote()}. One PostgreSQL 15 (5 databases,`,
      `${statements} pg_stat_statements entries) and one Redis 7 (1,000 keys), ${ROUNDS} rounds after ${WARMUP}`,
      'warm-up rounds; each round scrapes postgres_exporter then redis_exporter, and stackwatch once',
      '(`/metrics` with both targets; its collectors run concurrently), the order alternating by round.',
      'Wall time of whole HTTP scrapes on loopback, medians.',
      '',
      '| Scrape | Median | Series |',
      '|---|---|---|',
      `| postgres_exporter 0.11 (defaults; no statement metrics) | ${mPg.toFixed(1)} ms | ${seriesCount(texts.pg)} |`,
      `| redis_exporter 1.45 (defaults) | ${mRedis.toFixed(1)} ms | ${seriesCount(texts.redis)} |`,
      `| **sum of the two anchors** | **${(mPg + mRedis).toFixed(1)} ms** | ${seriesCount(texts.pg) + seriesCount(texts.redis)} |`,
      `| stackwatch, both targets in one scrape (top-100 statements, indexes, key-prefix SCAN) | **${mOurs.toFixed(1)} ms** | ${seriesCount(texts.ours)} |`,
      '',
      `Ratio stackwatch / (postgres_exporter + redis_exporter): **${ratio.toFixed(2)}** (target ≤ 0.70);`,
      `median of the per-round ratios: ${perRound.toFixed(2)}. Inside stackwatch's last scrape the`,
      `PostgreSQL collector took ${collectorMs('postgres/main')} ms and the Redis collector ${collectorMs('redis/cache')} ms.`,
      `Peak RSS: stackwatch ${peakRssMb(sw.proc.child.pid).toFixed(0)} MB (whole service, receiver included),`,
      `postgres_exporter ${peakRssMb(pgExporter.proc.child.pid).toFixed(0)} MB, redis_exporter ${peakRssMb(redisExporter.proc.child.pid).toFixed(0)} MB.`,
    ].join('\n');
    console.log(body);
    writeSection('PostgreSQL and Redis together', body);
  } finally {
    await sw.stop();
    await pgExporter.proc.stop();
    await redisExporter.proc.stop();
    await Promise.all([pgServer.destroy(), redis.close()]);
  }
}

await main();
