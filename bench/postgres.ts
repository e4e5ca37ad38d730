// PostgreSQL scrape benchmark: stackwatch's /probe against Debian's postgres_exporter on the same
// PostgreSQL 15, alternating scrapes, medians; then how stackwatch's scrape time grows with the
// number of databases and of pg_stat_statements entries. Writes the `## PostgreSQL` section
// of docs/BENCHMARKS.md. Run with `npx tsx bench/postgres.ts` after `npm run build`, as root.
import {
  alternate,
  createStatementTables,
  ensureDatabases,
  fillStatements,
  machineNote,
  median,
  seriesCount as countSeries,
  startPostgresExporter,
  timedScrape,
  writeSection,
} from './_lib.js';
import { startPostgres, type PostgresServer } from '../tests/support/postgres.js';
import { value } from '../tests/support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../tests/support/stackwatch.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);

const seriesCount = (text: string, prefix = 'pg_'): number => countSeries(text, prefix);

type Scrape = { ms: number; text: string };

/** stackwatch with one PostgreSQL target `main`, over the databases matching `include` (default all). */
async function startOurs(
  server: PostgresServer,
  include?: string,
): Promise<{ url: string; sw: StackwatchHandle }> {
  const sw = await startStackwatch({
    config: `
collectors:
  filesystem: { enabled: false }
  postgres:${include ? `\n    database_include: '${include}'` : ''}
    targets:
      - name: main
        dsn: ${server.dsn('postgres')}
`,
  });
  return { url: `${sw.url}/probe?target=main`, sw };
}

/** Median scrape time of `url` over `n` scrapes after one warm-up. */
async function medianScrape(
  url: string,
  n: number,
): Promise<{ ms: number; series: number; firstMs: number }> {
  let last = await timedScrape(url);
  const firstMs = last.ms;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    last = await timedScrape(url);
    times.push(last.ms);
  }
  return { ms: median(times), series: seriesCount(last.text), firstMs };
}

async function main(): Promise<void> {
  const server = await startPostgres({
    settings: { 'pg_stat_statements.max': '10000', max_connections: '200' },
  });
  const exporter = await startPostgresExporter(server);
  let ours = await startOurs(server);
  const lines: string[] = [];
  try {
    await server.psql(
      'create table items(id int primary key, qty int); create index items_qty on items(qty); insert into items select g, g % 10 from generate_series(1, 10000) g',
    );
    await createStatementTables(server);
    await fillStatements(server, 300);
    await ensureDatabases(server, 5, 1);

    // Alternating scrapes on the same server: 5 databases, ~300 statements.
    const [theirs, mine] = (await alternate([exporter.url, ours.url], ROUNDS)) as [Scrape, Scrape];
    const [mt, mm, theirText, myText] = [theirs.ms, mine.ms, theirs.text, mine.text];
    const rss =
      value(await (await fetch(`${ours.sw.url}/metrics`)).text(), 'process_resident_memory_bytes') ?? NaN;
    lines.push(
      `Same PostgreSQL 15 (5 databases, ~300 pg_stat_statements entries), ${ROUNDS} alternating scrapes each, client-side time of a full HTTP scrape:`,
      '',
      '| Exporter | Median scrape | `pg_*` series | All series |',
      '|---|---|---|---|',
      `| postgres_exporter 0.11.1 (Debian, defaults: no statements, all \`pg_settings\`) | ${mt.toFixed(1)} ms | ${seriesCount(theirText)} | ${seriesCount(theirText, '')} |`,
      `| stackwatch \`/probe\` (defaults: top 100 statements + 10 slowest, 50 indexes, 50 tables, numeric \`pg_settings\` read once per configuration load) | ${mm.toFixed(1)} ms | ${seriesCount(myText)} | ${seriesCount(myText, '')} |`,
      '',
      `Ratio stackwatch / postgres_exporter: **${(mm / mt).toFixed(2)}** (stackwatch RSS ${(rss / 1e6).toFixed(0)} MB, whole process incl. receiver).`,
      '',
    );

    // Growth with the number of databases (per-database index views need a connection each).
    lines.push(
      '| Databases | stackwatch median | stackwatch first scrape (waits for the index sample) | `pg_*` series | postgres_exporter median (all databases) |',
      '|---|---|---|---|---|',
    );
    let have = 5;
    for (const n of [1, 10, 50]) {
      if (n > have) {
        await ensureDatabases(server, n, have);
        have = n;
      }
      const include = Array.from({ length: n - 1 }, (_, i) => `bench_${i + 1}`).concat('postgres');
      await ours.sw.stop();
      ours = await startOurs(server, include.join('|'));
      const r = await medianScrape(ours.url, ROUNDS);
      const e = n === have ? await medianScrape(exporter.url, ROUNDS) : undefined;
      lines.push(
        `| ${n} | ${r.ms.toFixed(1)} ms | ${r.firstMs.toFixed(0)} ms | ${r.series} | ${e ? `${e.ms.toFixed(1)} ms (${have} DBs)` : '—'} |`,
      );
    }
    lines.push('');

    // Growth with the number of statements pg_stat_statements holds (top 100 exported), one database.
    await ours.sw.stop();
    ours = await startOurs(server, 'postgres');
    lines.push(
      '| pg_stat_statements entries | stackwatch median | `pg_stat_statements_*` series |',
      '|---|---|---|',
    );
    for (const n of [100, 1000, 5000]) {
      const held = await fillStatements(server, n);
      const r = await medianScrape(ours.url, ROUNDS);
      const text = (await timedScrape(ours.url)).text;
      lines.push(`| ${held} | ${r.ms.toFixed(1)} ms | ${seriesCount(text, 'pg_stat_statements_')} |`);
    }
  } finally {
    await ours.sw.stop();
    await exporter.proc.stop();
    await server.destroy();
  }

  const body = [
    `Measured by \`bench/postgres.ts\` on ${machineNote()}; medians of ${ROUNDS} scrapes.`,
    '',
    ...lines,
  ].join('\n');
  console.log(body);
  writeSection('PostgreSQL', body);
}

await main();
