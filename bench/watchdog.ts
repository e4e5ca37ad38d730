// How soon stackwatch pages when the alert pipeline stops (real Prometheus 2.42 evaluating the
// shipped Watchdog rule, real Alertmanager 0.25 routing it to stackwatch every second), and when
// a job's heartbeat is late; and how soon the recovery follows. Rewrites its section of
// docs/BENCHMARKS.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAlertmanager, testAlertmanagerConfig } from '../tests/support/alertmanager.js';
import { startWatchdogPrometheus } from '../tests/support/prometheus.js';
import { startSmtp } from '../tests/support/smtp.js';
import { apiJson, startStackwatch } from '../tests/support/stackwatch.js';
import { tempDir, waitFor } from '../tests/support/util.js';
import { machineNote, median, writeSection } from './_lib.js';

const API = 'bench-api-token-0123456789';
const HOOK = 'bench-hook-token-0123456789';
const jobToken = (i: number) => `bench-job-${i}-token-0123456789`;
const GAP_S = 10;
const CHECK_S = 1;
const ROUNDS = 5;

interface Heartbeat {
  last_seen_at: string | null;
  down_since: string | null;
  due_at: string | null;
}

async function main(): Promise<void> {
  const tmp = tempDir('swbwd');
  const smtp = await startSmtp();
  const sw = await startStackwatch({
    config: `receiver:
  api_token: ${API}
  webhook_token: ${HOOK}
  heartbeat_check_interval: ${CHECK_S}s
  watchdog: { gap: ${GAP_S}s }
  email: { smtp_url: '${smtp.url}' }
  heartbeats:
${Array.from({ length: ROUNDS }, (_, i) => `    - { name: job-${i}, period: 3s, grace: 1s, token: ${jobToken(i)} }`).join('\n')}
`,
  });
  const tokenFile = join(tmp.path, 'token');
  writeFileSync(tokenFile, HOOK);
  const am = await startAlertmanager(testAlertmanagerConfig(`${sw.url}/api/v1/alerts`, tokenFile));
  const prom = await startWatchdogPrometheus(am.url);
  const heartbeat = async (name: string) =>
    (await apiJson<{ heartbeat: Heartbeat }>(sw.url, API, `/api/v1/heartbeats/${name}`)).heartbeat;
  /** When the newest notification with this subject (and group) was recorded. */
  const recordedAt = async (subject: string, groupKey?: string) => {
    const all = (
      await apiJson<{ notifications: { subject: string; group_key: string; created_at: string }[] }>(
        sw.url,
        API,
        '/api/v1/notifications?limit=1000',
      )
    ).notifications;
    const n = all.find((x) => x.subject === subject && (!groupKey || x.group_key === groupKey));
    return Date.parse(n!.created_at);
  };
  /** When the n-th mail with this subject (and about this heartbeat) arrived. */
  const mailAt = async (subject: string, n: number, about?: string) =>
    (
      await waitFor(
        () =>
          smtp.mails.filter(
            (m) => m.subject === subject && (!about || m.text.includes(`heartbeat=${about} `)),
          )[n - 1],
        120_000,
        subject,
        50,
      )
    ).at;
  const ping = (i: number) =>
    fetch(`${sw.url}/api/v1/heartbeats/job-${i}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jobToken(i)}` },
    });
  const FIRING = '[FIRING:1] WatchdogMissing critical';
  const RESOLVED = '[RESOLVED] WatchdogMissing critical';
  await waitFor(async () => (await heartbeat('watchdog')).last_seen_at, 60_000, 'the Watchdog');

  const amRows: { afterGap: number; stopToMail: number; lastToMail: number; recovery: number }[] = [];
  const promRows: { stopToMail: number; recovery: number }[] = [];
  const jobRows: { afterDue: number; dueToMail: number; recovery: number }[] = [];
  let pages = 0;
  for (let i = 0; i < ROUNDS; i++) {
    // Alertmanager stops.
    let stopped = Date.now();
    await am.halt();
    const mail = await mailAt(FIRING, ++pages);
    const wd = await heartbeat('watchdog');
    const recorded = await recordedAt(FIRING);
    amRows.push({
      afterGap: recorded - Date.parse(wd.down_since!),
      stopToMail: mail - stopped,
      lastToMail: mail - Date.parse(wd.last_seen_at!),
      recovery: 0,
    });
    let resumed = Date.now();
    await am.resume();
    amRows[i]!.recovery = (await mailAt(RESOLVED, pages)) - resumed;

    // Prometheus stops.
    stopped = Date.now();
    await prom.halt();
    promRows.push({ stopToMail: (await mailAt(FIRING, ++pages)) - stopped, recovery: 0 });
    resumed = Date.now();
    await prom.resume();
    promRows[i]!.recovery = (await mailAt(RESOLVED, pages)) - resumed;

    // A job pings once and then no more (each round its own job).
    const job = `job-${i}`;
    await ping(i);
    const due = Date.parse((await heartbeat(job)).due_at!);
    const late = await mailAt('[FIRING:1] HeartbeatLate critical', 1, job);
    const paged = await recordedAt('[FIRING:1] HeartbeatLate critical', `stackwatch:{heartbeat="${job}"}`);
    jobRows.push({ afterDue: paged - due, dueToMail: late - due, recovery: 0 });
    const pinged = Date.now();
    await ping(i);
    jobRows[i]!.recovery = (await mailAt('[RESOLVED] HeartbeatLate critical', 1, job)) - pinged;
  }
  await Promise.allSettled([prom.stop(), am.stop(), sw.stop()]);
  await smtp.close();
  tmp.cleanup();

  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const stat = <T>(rows: T[], f: (r: T) => number) => {
    const xs = rows.map(f);
    return `${s(median(xs))} / ${s(Math.max(...xs))}`;
  };
  const body = [
    `Measured by \`bench/watchdog.ts\` on ${machineNote()}: Prometheus 2.42 evaluating`,
    '`monitoring/rules/watchdog.yml` every second (`--rules.alert.resend-delay=1s`, so an alert stays valid',
    '4 s after its last evaluation), Alertmanager 0.25 sending the Watchdog to stackwatch every second',
    `(\`repeat_interval: 1s\`), stackwatch with \`watchdog.gap: ${GAP_S}s\` and \`heartbeat_check_interval: ${CHECK_S}s\`, mail to a`,
    `real SMTP server. ${ROUNDS} rounds; median / worst.`,
    '',
    '| What stopped | Measure | Median / worst |',
    '|---|---|---|',
    `| Alertmanager | page recorded after the gap had passed (goal: within one check interval, ${CHECK_S} s) | ${stat(amRows, (r) => r.afterGap)} |`,
    `| Alertmanager | last Watchdog → page in the mailbox (goal: gap + check interval, ${GAP_S + CHECK_S} s, plus delivery) | ${stat(amRows, (r) => r.lastToMail)} |`,
    `| Alertmanager | stopped → page in the mailbox | ${stat(amRows, (r) => r.stopToMail)} |`,
    '| Alertmanager | started again → recovery in the mailbox | ' + stat(amRows, (r) => r.recovery) + ' |',
    '| Prometheus | stopped → page in the mailbox (Alertmanager resolves the Watchdog when it expires) | ' +
      stat(promRows, (r) => r.stopToMail) +
      ' |',
    '| Prometheus | started again → recovery in the mailbox | ' + stat(promRows, (r) => r.recovery) + ' |',
    `| a job (period 3 s, grace 1 s) | page recorded after its deadline (goal: within ${CHECK_S} s) | ${stat(jobRows, (r) => r.afterDue)} |`,
    '| a job | deadline → page in the mailbox | ' + stat(jobRows, (r) => r.dueToMail) + ' |',
    '| a job | ping → recovery in the mailbox | ' + stat(jobRows, (r) => r.recovery) + ' |',
    '',
    'With the shipped settings (`gap: 5m`, `heartbeat_check_interval: 10s`, the Watchdog every minute)',
    'an Alertmanager that stops is paged within 5 min 10 s of its last Watchdog; a Prometheus that stops',
    'is paged when Alertmanager resolves the Watchdog, 4 × max(evaluation_interval, resend delay 1 m) =',
    '4 min after its last evaluation, plus the Watchdog route’s `group_interval` (1 min).',
  ].join('\n');
  console.log(body);
  writeSection('Watchdog and heartbeats', body);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
