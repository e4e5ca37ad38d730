// Alert-storm benchmark: 300 groups without severity then 10 critical ones, posted within
// seconds, against the Slack fake in its Slack-like mode (1 message/s per webhook, bursts of 3,
// then 429 with Retry-After: 1) and a real SMTP server taking 1 message/s. Measured twice in one
// run: with lanes, pacing and digests (the defaults), and with them off (first in, first out,
// unpaced: the behaviour before them). Run with `npm run bench -- storm`; writes the
// `## Alert storm` section of docs/BENCHMARKS.md.
import { startSlack } from '../tests/support/slack.js';
import { startSmtp } from '../tests/support/smtp.js';
import { samples, startStackwatch } from '../tests/support/stackwatch.js';
import {
  CRITICAL_MAIL,
  messages,
  OPS,
  postStorm,
  received,
  STORM_CRITICALS as CRITICALS,
  STORM_GROUPS as GROUPS,
  STORM_TOKEN,
  timeToCritical,
  type Received,
} from '../tests/support/storm.js';
import { sleep } from '../tests/support/util.js';
import { machineNote, median, writeSection } from './_lib.js';

/** The old behaviour takes minutes to reach the criticals; stop watching after this. */
const WATCH_MS = Number(process.env.BENCH_STORM_WATCH_MS ?? 90_000);

interface Run {
  mode: string;
  slack: number[];
  mail: number[];
  slackMessages: number;
  opsMails: number;
  criticalMails: number;
  rateLimited: number;
  drainedS: number | undefined;
  postS: number;
}

async function measure(on: boolean): Promise<Run> {
  const [slack, smtp] = await Promise.all([startSlack(), startSmtp()]);
  slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 1 });
  smtp.rateLimit({ perSecond: 1, burst: 3 });
  const off = on
    ? ''
    : `  lanes: { enabled: false }
  digest: { enabled: false }
  slack: { rate: 0 }
`;
  const sw = await startStackwatch({
    config: `receiver:
  webhook_token: ${STORM_TOKEN}
  escalation: { enabled: false }
  email: { rate: ${on ? 1 : 0}, burst: 2 }
${off}`,
    env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url },
  });
  try {
    const storm = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS });
    const t0 = storm.startedAt;
    let drainedS: number | undefined;
    while (Date.now() - t0 < WATCH_MS) {
      const text = await (await fetch(`${sw.url}/metrics`)).text();
      if (samples(text, 'stackwatch_outbox_depth')[0]?.value === 0) {
        drainedS = (Date.now() - t0) / 1000;
        break;
      }
      await sleep(250);
    }
    const { received: rs } = await received(sw.url, messages(slack, smtp));
    const msgs = messages(slack, smtp);
    const pick = (f: (r: Received) => boolean) => timeToCritical(rs, storm.criticalAcceptedAt, f);
    return {
      mode: on ? 'lanes, pacing and digests (defaults)' : 'off: first in, first out, unpaced',
      slack: pick((r) => r.channel === 'slack'),
      mail: pick((r) => r.destination === CRITICAL_MAIL),
      slackMessages: msgs.filter((m) => m.channel === 'slack').length,
      opsMails: msgs.filter((m) => m.channel === 'email' && m.destination === OPS).length,
      criticalMails: msgs.filter((m) => m.channel === 'email' && m.destination === CRITICAL_MAIL).length,
      rateLimited: slack.overLimit().length + smtp.overLimit(),
      drainedS,
      postS: (storm.endedAt - storm.startedAt) / 1000,
    };
  } finally {
    await sw.stop();
    await Promise.all([slack.close(), smtp.close()]);
  }
}

const seconds = (xs: number[]) => {
  const done = xs.filter(Number.isFinite);
  const worst = Math.max(...xs);
  const missing = xs.length - done.length;
  if (!done.length) return `none within ${WATCH_MS / 1000} s`;
  const w = Number.isFinite(worst) ? `${worst.toFixed(1)} s` : `${missing} not within ${WATCH_MS / 1000} s`;
  return `${median(done).toFixed(1)} s / ${w}`;
};

async function main(): Promise<void> {
  const runs = [await measure(true), await measure(false)];
  const rows = runs.map(
    (r) =>
      `| ${r.mode} | ${r.postS.toFixed(1)} s | ${seconds(r.slack)} | ${seconds(r.mail)} | ${r.slackMessages} | ${r.opsMails} | ${r.criticalMails} | ${r.rateLimited} | ${r.drainedS === undefined ? `not within ${WATCH_MS / 1000} s` : `${r.drainedS.toFixed(1)} s`} |`,
  );
  const [on, off] = runs as [Run, Run];
  const ratio = (a: number[], b: number[]) => {
    const worstOn = Math.max(...a);
    const worstOff = Math.max(...b);
    return Number.isFinite(worstOff)
      ? `${(worstOff / worstOn).toFixed(0)}×`
      : `more than ${(WATCH_MS / 1000 / worstOn).toFixed(0)}×`;
  };
  const body = [
    `Measured by \`bench/storm.ts\` on ${machineNote()}: ${GROUPS} alert groups without severity`,
    `(default route: mail to ops@ and Slack), then ${CRITICALS} critical groups (mail to oncall@ and ops@, Slack),`,
    'posted by 10 concurrent clients; the Slack fake behaves like Slack (1 message/s per webhook, bursts',
    'of 3, then 429 with `Retry-After: 1` and `{"ok":false,"error":"rate_limited"}`), the SMTP server',
    '(`smtp-server`) takes 1 message/s with bursts of 3 and answers 451 past it. Both runs side by side in',
    `one process; each watched for at most ${WATCH_MS / 1000} s. Time to critical: from each critical's 2xx to its`,
    'firing reaching Slack / the oncall@ mailbox, median / worst. Messages: what the humans received while watched.',
    '',
    '| Mode | Posting took | Slack time to critical | Mail time to critical | Slack messages | Mails to ops@ | Mails to oncall@+ops@ | Over-limit answers caused | Outbox drained |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Worst time to critical, off / on: Slack ${ratio(on.slack, off.slack)}, mail ${ratio(on.mail, off.mail)}.`,
    `With lanes, pacing and digests the humans get ${on.slackMessages} Slack messages and ${on.opsMails + on.criticalMails} mails for`,
    `${GROUPS + CRITICALS} groups, and stackwatch never goes past Slack's or the SMTP server's rate.`,
  ].join('\n');
  console.log(body);
  writeSection('Alert storm', body);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
