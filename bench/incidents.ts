// Incidents benchmark: what keeping each webhook as a group event (and each group's state)
// costs ingest, measured side by side in one run against the same outbox without them, for
// both outboxes; and how long the Now page and an incident's timeline take to build from a
// storm's outbox. Run with `npm run bench -- incidents`; writes the `## Incidents` section of
// docs/BENCHMARKS.md.
import { planWebhook } from '../src/alerting/ingest/plan.js';
import type { Webhook } from '../src/alerting/ingest/payload.js';
import type { IngestRecord } from '../src/alerting/model/notification.js';
import type { AlertStore } from '../src/alerting/outbox/contract.js';
import { PgStore } from '../src/alerting/outbox/postgres.js';
import { SqliteStore } from '../src/alerting/outbox/sqlite.js';
import { receiverSection } from '../src/config/receiver.js';
import { nowPage } from '../src/console/incident-pages.js';
import { startPostgres } from '../tests/support/postgres.js';
import { incidentsOver } from '../tests/support/incidents.js';
import { tempDir } from '../tests/support/util.js';
import { defaultPlanning, webhook } from '../tests/support/webhooks.js';
import { machineNote, median, writeSection } from './_lib.js';

const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const BATCH = 10;
const HOUR = 3_600_000;
const planning = { ...defaultPlanning(), silences: [], mailDomain: 'bench.test' };
const cfg = receiverSection.parse({});

/** `n` webhooks of distinct groups, two alerts each (as bench/receiver.ts posts), planned. */
function records(n: number, from: number, now: number): IngestRecord[] {
  return Array.from({ length: n }, (_, i) =>
    planWebhook(
      webhook({
        alertname: `Bench${from + i}`,
        severity: i % 31 === 0 ? 'critical' : undefined,
        instances: ['i-1', 'i-2'],
      }) as Webhook,
      { ...planning, now },
    ),
  );
}

const withoutEvent = (rs: IngestRecord[]) => rs.map(({ event: _e, ...r }) => r);

/**
 * Batches of BATCH webhooks recorded alternately into two fresh outboxes of one kind, one
 * keeping the group events, the other not: median milliseconds per batch of each.
 */
async function ingestCost(open: () => Promise<AlertStore>): Promise<{ with: number; without: number }> {
  const [a, b] = [await open(), await open()];
  const times = { with: [] as number[], without: [] as number[] };
  const now = Date.now();
  for (let i = 0; i < BATCHES; i++) {
    const recs = records(BATCH, i * BATCH, now);
    const plain = withoutEvent(recs);
    // Alternate which goes first, so neither always finds the disk cache warm.
    const order = i % 2 ? (['with', 'without'] as const) : (['without', 'with'] as const);
    for (const k of order) {
      const t = performance.now();
      await (k === 'with' ? a : b).record(k === 'with' ? recs : plain, now + i, HOUR);
      times[k].push(performance.now() - t);
    }
  }
  await Promise.all([a.close(), b.close()]);
  return { with: median(times.with), without: median(times.without) };
}

/** The Now page's data and HTML for an outbox holding `groups` firing groups. */
async function nowCost(groups: number): Promise<{ data: number; html: number; kb: number }> {
  const dir = tempDir('swbinc');
  const store = new SqliteStore(dir.path);
  const now = Date.now();
  for (let i = 0; i < groups; i += 100)
    await store.record(records(Math.min(100, groups - i), i, now), now, HOUR);
  const incidents = incidentsOver({ store, cfg, book: planning.book, now: () => now });
  const data: number[] = [];
  const html: number[] = [];
  let kb = 0;
  for (let i = 0; i < 7; i++) {
    let t = performance.now();
    const view = await incidents.now();
    data.push(performance.now() - t);
    t = performance.now();
    const page = nowPage(view, { csrf: 'x' }).text;
    html.push(performance.now() - t);
    kb = page.length / 1024;
  }
  await store.close();
  dir.cleanup();
  return { data: median(data), html: median(html), kb };
}

/** An incident of `events` webhooks (a repeat every one) read back as its timeline and its Markdown. */
async function timelineCost(events: number): Promise<{ timeline: number; markdown: number; kb: number }> {
  const dir = tempDir('swbinc');
  const store = new SqliteStore(dir.path);
  const now = Date.now();
  for (let i = 0; i < events; i++) {
    const w = webhook({ alertname: 'Long', severity: 'critical', instances: ['i-1', `i-${2 + (i % 3)}`] });
    await store.record([planWebhook(w as Webhook, { ...planning, now: now + i })], now + i * 1000, 1);
  }
  const incidents = incidentsOver({ store, cfg, book: planning.book, now: () => now + events * 1000 });
  const [first] = await store.groupEvents(webhook({ alertname: 'Long' }).groupKey, 0, 1);
  const tl: number[] = [];
  const md: number[] = [];
  let kb = 0;
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    await incidents.timeline(first!.id);
    tl.push(performance.now() - t);
    t = performance.now();
    kb = ((await incidents.postmortem(first!.id)) ?? '').length / 1024;
    md.push(performance.now() - t);
  }
  await store.close();
  dir.cleanup();
  return { timeline: median(tl), markdown: median(md), kb };
}

async function main(): Promise<void> {
  const dirs: { cleanup: () => void }[] = [];
  const sqlite = await ingestCost(async () => {
    const d = tempDir('swbinc');
    dirs.push(d);
    return new SqliteStore(d.path);
  });
  const pg = await startPostgres();
  let schema = 0;
  const postgres = await ingestCost(() =>
    PgStore.open({ dsn: pg.dsn(), schema: `bench_${++schema}`, claimTimeoutMs: 300_000 }),
  );
  await pg.destroy();
  dirs.forEach((d) => d.cleanup());
  const storm = await nowCost(310);
  const big = await nowCost(5000);
  const long = await timelineCost(1000);

  const row = (name: string, r: { with: number; without: number }) =>
    `| ${name} | ${r.without.toFixed(2)} ms | ${r.with.toFixed(2)} ms | ${(r.with / r.without).toFixed(2)} | ${((r.with - r.without) / BATCH).toFixed(3)} ms |`;
  const body = `Measured by \`bench/incidents.ts\` on ${machineNote()}.

**Ingest.** ${BATCHES} batches of ${BATCH} webhooks (two alerts each, one group each, one in 31
critical: what the record stage commits together), recorded alternately into two fresh outboxes
of the same kind, one keeping each webhook's group event and its group's state (as the service
does), the other not. Median time to record a batch; the difference per webhook is what the
Now page and the timelines cost ingest: one row in \`group_events\` and one keyed upsert in
\`group_state\` per webhook (PostgreSQL: one statement per batch for both).

| Outbox | Batch without | Batch with | Ratio | Cost per webhook |
|---|---|---|---|---|
${row('SQLite (WAL, synchronous=FULL)', sqlite)}
${row('PostgreSQL 15', postgres)}

**Reading.** The Now page's data (group states, active acknowledgements, the escalation
section's bookkeeping and the escalation policies' episodes, from a SQLite outbox) and its
HTML, and one incident's timeline and Markdown export; medians of 7 and 5 runs.

| What | Data | HTML / Markdown | Size |
|---|---|---|---|
| Now page, storm of 310 firing groups | ${storm.data.toFixed(1)} ms | ${storm.html.toFixed(1)} ms | ${storm.kb.toFixed(0)} KiB |
| Now page, 5,000 firing groups | ${big.data.toFixed(1)} ms | ${big.html.toFixed(1)} ms | ${big.kb.toFixed(0)} KiB |
| Timeline of an incident with 1,000 webhooks and 2,000 notifications | ${long.timeline.toFixed(1)} ms | ${long.markdown.toFixed(1)} ms | ${long.kb.toFixed(0)} KiB |
`;
  writeSection('Incidents', body);
  process.stdout.write(body);
}

await main();
