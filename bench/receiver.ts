// Receiver benchmark: what a webhook's answer costs while deliveries run and the backlog grows,
// side by side with the floor (express parsing the same JSON in a process of its own), for
// both outboxes. Closed loop: 50 clients post distinct groups as fast as they are answered,
// alternating with the floor round by round. Open loop: 200 webhooks a second for 60 s, each
// posted on its schedule whatever the answers (as Alertmanager's timers do). Lanes, pacing and
// digests are on (the defaults); mail goes to a real SMTP server that takes everything at once,
// Slack to the fake behaving like Slack (1 message/s). Run with `npm run bench -- receiver`;
// writes the `## Receiver` section of docs/BENCHMARKS.md.
import { startPostgres } from '../tests/support/postgres.js';
import { startSlack } from '../tests/support/slack.js';
import { startSmtp } from '../tests/support/smtp.js';
import { samples, startStackwatch } from '../tests/support/stackwatch.js';
import { webhook } from '../tests/support/webhooks.js';
import { closedLoop, codesText, openLoop, percentile, startFloor, type LoadResult } from './_load.js';
import { machineNote, median, writeSection } from './_lib.js';

const N = Number(process.env.BENCH_WEBHOOKS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const OPEN_RATE = Number(process.env.BENCH_OPEN_RATE ?? 200);
const OPEN_SECONDS = Number(process.env.BENCH_OPEN_SECONDS ?? 60);
const TOKEN = 'bench-token';

/** Distinct groups (default route: one mail to ops@ and one Slack message each), two alerts each. */
const body = (prefix: string, i: number) =>
  JSON.stringify(
    webhook({
      alertname: `${prefix}${i}`,
      labels: { service: i % 2 ? 'postgres' : 'host' },
      instances: ['a', 'b'],
    }),
  );

interface Measured {
  store: string;
  swRates: number[];
  floorRates: number[];
  closed: LoadResult[];
  codes: string;
  pendingAfterClosed: number;
  open: LoadResult;
  floorOpen: LoadResult;
  pendingAfterOpen: number;
  mails: number;
  slackMessages: number;
}

async function pendingOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return samples(text, 'stackwatch_outbox_depth')[0]?.value ?? NaN;
}

async function measure(store: 'sqlite' | 'postgres'): Promise<Measured> {
  const [smtp, slack, floor] = await Promise.all([startSmtp(), startSlack(), startFloor(TOKEN)]);
  slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 1 });
  const pg = store === 'postgres' ? await startPostgres() : undefined;
  const sw = await startStackwatch({
    config: `receiver:
  webhook_token: ${TOKEN}${pg ? `\n  store: { type: postgres, dsn: '${pg.dsn()}' }` : ''}
  escalation:
    enabled: false
`,
    env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url },
  });
  try {
    // Warm up (JIT, connection pools) outside the measurement.
    const warm = Array.from({ length: 500 }, (_, i) => body('Warm', i));
    await closedLoop(floor.url, TOKEN, warm, CONCURRENCY);
    await closedLoop(sw.url, TOKEN, warm, CONCURRENCY);

    const swRates: number[] = [];
    const floorRates: number[] = [];
    const closed: LoadResult[] = [];
    const codes = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const bodies = Array.from({ length: N }, (_, i) => body(`Bench${round}x`, i));
      const f = await closedLoop(floor.url, TOKEN, bodies, CONCURRENCY);
      floorRates.push(N / f.seconds);
      const r = await closedLoop(sw.url, TOKEN, bodies, CONCURRENCY);
      swRates.push(N / r.seconds);
      closed.push(r);
      for (const [c, n] of r.codes) codes.set(c, (codes.get(c) ?? 0) + n);
    }
    const pendingAfterClosed = await pendingOf(sw.url);
    const floorOpen = await openLoop(floor.url, TOKEN, (i) => body('FloorOpen', i), OPEN_RATE, OPEN_SECONDS);
    const open = await openLoop(sw.url, TOKEN, (i) => body('Open', i), OPEN_RATE, OPEN_SECONDS);
    const pendingAfterOpen = await pendingOf(sw.url);
    return {
      store: store === 'sqlite' ? 'SQLite on local disk (default)' : 'PostgreSQL 15 (shared by replicas)',
      swRates,
      floorRates,
      closed,
      codes: codesText(codes),
      pendingAfterClosed,
      open,
      floorOpen,
      pendingAfterOpen,
      mails: smtp.mails.length,
      slackMessages: slack.delivered().length,
    };
  } finally {
    await sw.stop();
    await floor.proc.stop();
    await Promise.all([smtp.close(), slack.close(), pg?.destroy()]);
  }
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  const runs = [await measure('sqlite'), await measure('postgres')];
  const closedRows = runs.map((m) => {
    const sw = median(m.swRates);
    const fl = median(m.floorRates);
    const lat = m.closed.flatMap((r) => r.latencies).sort((a, b) => a - b);
    return (
      `| ${m.store} | ${m.codes} | **${sw.toFixed(0)}/s** (${m.swRates.map((r) => r.toFixed(0)).join(', ')}) ` +
      `| ${fl.toFixed(0)}/s (${m.floorRates.map((r) => r.toFixed(0)).join(', ')}) | **${(sw / fl).toFixed(2)}** ` +
      `| ${ms(percentile(lat, 50))} | ${ms(percentile(lat, 99))} | ${m.pendingAfterClosed} |`
    );
  });
  const openRows = runs.map(
    (m) =>
      `| ${m.store} | ${codesText(m.open.codes)} | ${ms(percentile(m.open.latencies, 50))} | **${ms(percentile(m.open.latencies, 99))}** ` +
      `| ${ms(m.open.latencies.at(-1) as number)} | ${ms(percentile(m.floorOpen.latencies, 50))} | ${ms(percentile(m.floorOpen.latencies, 99))} ` +
      `| ${m.pendingAfterOpen} | ${m.mails} | ${m.slackMessages} |`,
  );
  const closedGoal = runs.every((m) => median(m.swRates) / median(m.floorRates) >= 0.9);
  const openGoal = runs.every((m) => percentile(m.open.latencies, 99) <= 10);
  const body = [
    `Measured by \`bench/receiver.ts\` on ${machineNote()}, once per outbox, with lanes, pacing`,
    'and digests on (the defaults). Every webhook is a new group (two alerts; default route: one mail to',
    'ops@ and one Slack message), answered only after its notifications are committed (SQLite: WAL,',
    'group commit, the fsync off the event loop; PostgreSQL: one transaction per batch). Mail goes to a',
    "real SMTP server (`smtp-server`) that takes everything at once, Slack to the fake behaving like Slack's",
    'webhooks (1 message/s, bursts of 3): the delivery backlog grows all the while. The floor is express',
    'with its JSON parser answering the same bodies, in a process of its own, measured in the same run.',
    'Goals: closed loop ≥ 0.9 × the floor; open loop p99 ≤ 10 ms.',
    '',
    `Closed loop: ${CONCURRENCY} keep-alive clients post ${N} webhooks as fast as they are answered, ${ROUNDS} rounds`,
    'alternating with the floor (rates of each round in brackets; ratio of the medians).',
    '',
    '| Outbox | Answers | stackwatch (median) | express + JSON floor (median) | Ratio | p50 | p99 | Pending after |',
    '|---|---|---|---|---|---|---|---|',
    ...closedRows,
    '',
    `Open loop: ${OPEN_RATE} webhooks/s for ${OPEN_SECONDS} s, each posted at its instant whatever the answers;`,
    'latency from that instant to the answer.',
    '',
    '| Outbox | Answers | p50 | p99 | max | floor p50 | floor p99 | Pending after | Mails sent | Slack messages |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...openRows,
    '',
    `Closed-loop goal (≥ 0.9 × the floor): ${closedGoal ? 'met' : 'not met'} ; open-loop goal (p99 ≤ 10 ms): ${openGoal ? 'met' : 'not met'}.`,
    "At a fixed concurrency the latency is the queue of clients (Little's law), so the closed loop",
    "measures throughput against the floor and the open loop measures the answer's latency at a rate",
    'well above what an Alertmanager pair posts. Ingest, delivery, the SMTP server, the Slack fake, the',
    'floor and the load generator share the two cores.',
  ].join('\n');
  console.log(body);
  writeSection('Receiver', body);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
