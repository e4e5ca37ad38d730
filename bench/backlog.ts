// Large-backlog benchmark: Slack down while Alertmanager keeps posting, until 100,000
// notifications wait (an hour of an outage at about 30 webhooks/s, posted here as fast as
// stackwatch answers). Measured: the ingest rate and the answer's p99 as the backlog grows,
// stackwatch's resident memory with it (and so per pending notification), how long a restart
// takes to read the pending work again, and how long the backlog takes to drain once Slack is
// back (within Slack's budget: 1 message/s, bursts of 3). SQLite outbox, the defaults for
// lanes, pacing and digests. Run with `npm run bench -- backlog`; writes the
// `## Large backlog` section of docs/BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import { SLACK_OK, SLACK_SERVER_ERROR, startSlack } from '../tests/support/slack.js';
import { samples, startStackwatch, type StackwatchHandle } from '../tests/support/stackwatch.js';
import { sleep } from '../tests/support/util.js';
import { webhook } from '../tests/support/webhooks.js';
import { closedLoop, percentile } from './_load.js';
import { machineNote, writeSection } from './_lib.js';

const TOTAL = Number(process.env.BENCH_BACKLOG ?? 100_000);
const STEP = Number(process.env.BENCH_BACKLOG_STEP ?? 10_000);
const CONCURRENCY = 50;
const DRAIN_LIMIT_MS = Number(process.env.BENCH_BACKLOG_DRAIN_MS ?? 1_200_000);
const TOKEN = 'bench-token';

const rssMb = (pid: number | undefined): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function pendingOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return samples(text, 'stackwatch_outbox_depth')[0]?.value ?? NaN;
}

interface Step {
  posted: number;
  rate: number;
  p99: number;
  codes: string;
  rss: number;
  pending: number;
}

async function main(): Promise<void> {
  const slack = await startSlack();
  slack.replyAlways(SLACK_SERVER_ERROR);
  const config = `receiver:
  webhook_token: ${TOKEN}
  escalation: { enabled: false }
  slack: { webhook_url: '${slack.url}' }
  retry: { base: 1s, max_delay: 10s, max_attempts: 1000000 }
  receivers:
    - { name: team-ops, channels: [slack] }
    - { name: team-ops-critical, channels: [slack] }
    - { name: team-ops-warning, channels: [slack] }
`;
  let sw: StackwatchHandle | undefined = await startStackwatch({ config });
  const dir = sw.dir;
  try {
    // Warm up, then the resident memory with nothing pending to speak of.
    await closedLoop(
      sw.url,
      TOKEN,
      Array.from({ length: 500 }, (_, i) => JSON.stringify(webhook({ alertname: `Warm${i}` }))),
      CONCURRENCY,
    );
    await sleep(2000);
    const rssBefore = rssMb(sw.proc.child.pid);
    const pendingBefore = await pendingOf(sw.url);
    const steps: Step[] = [];
    let peakRss = rssBefore;
    for (let posted = 0; posted < TOTAL; posted += STEP) {
      const bodies = Array.from({ length: STEP }, (_, i) =>
        JSON.stringify(
          webhook({
            alertname: `Backlog${posted + i}`,
            labels: { service: `svc-${(posted + i) % 100}` },
            instances: ['a', 'b'],
          }),
        ),
      );
      const r = await closedLoop(sw.url, TOKEN, bodies, CONCURRENCY);
      const rss = rssMb(sw.proc.child.pid);
      peakRss = Math.max(peakRss, rss);
      steps.push({
        posted: posted + STEP,
        rate: STEP / r.seconds,
        p99: percentile(r.latencies, 99),
        codes: [...r.codes].map(([c, n]) => `${n} × ${c}`).join(', '),
        rss,
        pending: await pendingOf(sw.url),
      });
      console.log(JSON.stringify(steps.at(-1)));
    }
    const pendingFull = await pendingOf(sw.url);
    const rssFull = rssMb(sw.proc.child.pid);

    // A restart reads the pending work again before delivering.
    await sw.stop();
    sw = await startStackwatch({ config, dir });
    const read = /"pending":(\d+),"ms":(\d+)[^\n]*pending notifications read from the outbox/.exec(
      await (async () => {
        for (let i = 0; i < 600; i++) {
          if (/pending notifications read from the outbox/.test(sw.logs())) break;
          await sleep(100);
        }
        return sw.logs();
      })(),
    );
    await sleep(2000);
    const rssRestarted = rssMb(sw.proc.child.pid);

    // Slack is back, with its rate limit.
    const slackBackAt = Date.now();
    slack.replyAlways(SLACK_OK);
    slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 1 });
    const messagesBefore = slack.delivered().length;
    let drainedS: number | undefined;
    let drainPeakRss = rssRestarted;
    while (Date.now() - slackBackAt < DRAIN_LIMIT_MS) {
      drainPeakRss = Math.max(drainPeakRss, rssMb(sw.proc.child.pid));
      if ((await pendingOf(sw.url)) === 0) {
        drainedS = (Date.now() - slackBackAt) / 1000;
        break;
      }
      await sleep(1000);
    }
    const drainMessages = slack.delivered().length - messagesBefore;
    const left = await pendingOf(sw.url);

    const first = steps[0] as Step;
    const last = steps.at(-1) as Step;
    const perNotificationB = ((rssFull - rssBefore) * 1024 * 1024) / (pendingFull - pendingBefore);
    const body = [
      `Measured by \`bench/backlog.ts\` on ${machineNote()}: Slack answers 500 (down) while ${TOTAL.toLocaleString('en')}`,
      `webhooks of distinct groups are posted by ${CONCURRENCY} keep-alive clients (default route sent to Slack only;`,
      'SQLite outbox; lanes, pacing and digests at their defaults; retries at most 10 s apart). Then stackwatch',
      'is restarted with that backlog, and Slack comes back behaving like Slack (1 message/s, bursts of 3).',
      '',
      '| Webhooks posted | Answers | Ingest rate | p99 | Pending after | RSS after |',
      '|---|---|---|---|---|---|',
      ...steps.map(
        (s) =>
          `| ${s.posted.toLocaleString('en')} | ${s.codes} | ${s.rate.toFixed(0)}/s | ${s.p99.toFixed(1)} ms | ${s.pending.toLocaleString('en')} | ${s.rss.toFixed(0)} MB |`,
      ),
      '',
      `- Ingest with ${last.pending.toLocaleString('en')} pending against ${first.pending.toLocaleString('en')}: ${last.rate.toFixed(0)}/s against ${first.rate.toFixed(0)}/s (${(last.rate / first.rate).toFixed(2)}×).`,
      `- Resident memory: ${rssBefore.toFixed(0)} MB before, ${rssFull.toFixed(0)} MB with ${pendingFull.toLocaleString('en')} pending (peak ${peakRss.toFixed(0)} MB while posting):`,
      `  about ${perNotificationB.toFixed(0)} bytes per pending notification (the dispatcher's in-memory view, SQLite's cache and the heap's slack together).`,
      `- Restart with the backlog: the pending work read again in ${read ? `${read[2]} ms (${Number(read[1]).toLocaleString('en')} notifications)` : 'an unmeasured time (log line not found)'}; ${rssRestarted.toFixed(0)} MB resident after,`,
      `  about ${(((rssRestarted - rssBefore) * 1024 * 1024) / pendingFull).toFixed(0)} bytes per pending notification with no ingest garbage on the heap.`,
      `- Slack back: ${drainedS === undefined ? `not drained within ${DRAIN_LIMIT_MS / 1000} s (${left.toLocaleString('en')} left)` : `drained in ${drainedS.toFixed(0)} s`} with ${drainMessages} Slack messages,`,
      `  ${slack.overLimit().length} answered 429 (over Slack's rate); peak RSS while draining ${drainPeakRss.toFixed(0)} MB.`,
    ].join('\n');
    console.log(body);
    writeSection('Large backlog', body);
  } finally {
    await sw?.stop();
    await slack.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
