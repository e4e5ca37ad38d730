// The alert pipeline's dead man's switch end to end: real Prometheus evaluating the shipped
// Watchdog rule, real Alertmanager routing it to stackwatch, a real SMTP server. Stopping
// either makes stackwatch page on its own; starting it again brings the recovery.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAlertmanager,
  testAlertmanagerConfig,
  type AlertmanagerHandle,
} from '../../support/alertmanager.js';
import { startWatchdogPrometheus, type PrometheusHandle } from '../../support/prometheus.js';
import { startSmtp, type ReceivedMail, type SmtpHandle } from '../../support/smtp.js';
import { apiJson, parseMetrics, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { tempDir, waitFor } from '../../support/util.js';

const API = 'api-token-0123456789';
const HOOK = 'hook-token-0123456789';
const GAP_SECONDS = 15;

interface Watchdog {
  status: string;
  reason: string | null;
  last_seen_at: string | null;
  down_since: string | null;
}

describe('the Watchdog: Prometheus → Alertmanager → stackwatch, and stackwatch paging when it stops', () => {
  const tmp = tempDir('swwd');
  let smtp: SmtpHandle;
  let sw: StackwatchHandle;
  let am: AlertmanagerHandle;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    smtp = await startSmtp();
    sw = await startStackwatch({
      config: `receiver:
  api_token: ${API}
  webhook_token: ${HOOK}
  heartbeat_check_interval: 500ms
  watchdog:
    gap: ${GAP_SECONDS}s
  email:
    smtp_url: ${smtp.url}
    from: 'stackwatch <alerts@stackwatch.test>'
`,
    });
    const tokenFile = join(tmp.path, 'token');
    writeFileSync(tokenFile, HOOK);
    am = await startAlertmanager(testAlertmanagerConfig(`${sw.url}/api/v1/alerts`, tokenFile));
    prom = await startWatchdogPrometheus(am.url);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([prom?.stop(), am?.stop(), sw?.stop()]);
    await smtp?.close();
    tmp.cleanup();
  }, 60_000);

  const watchdog = async () =>
    (await apiJson<{ heartbeat: Watchdog }>(sw.url, API, '/api/v1/heartbeats/watchdog')).heartbeat;
  const mails = (subject: string) => smtp.mails.filter((m) => m.subject === subject);
  /** The `n`-th mail with this subject (1-based), once it has arrived. */
  const nthMail = (subject: string, n: number, timeoutMs = 90_000) =>
    waitFor(() => mails(subject)[n - 1], timeoutMs, `mail ${n} "${subject}"`, 250);
  const FIRING = '[FIRING:1] WatchdogMissing critical';
  const RESOLVED = '[RESOLVED] WatchdogMissing critical';

  it('the Watchdog arrives again and again, and is recorded, not delivered', async () => {
    const first = await waitFor(
      async () => {
        const w = await watchdog();
        return w.status === 'up' && w.last_seen_at;
      },
      60_000,
      'the first Watchdog',
    );
    await waitFor(async () => (await watchdog()).last_seen_at! > first, 30_000, 'the next Watchdog');
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    expect(parseMetrics(text).get('stackwatch_heartbeat_up{name="watchdog"}')).toBe(1);
    expect((await prom.alerts()).map((a) => a.labels.alertname)).toEqual(['Watchdog']);
  });

  let firstPage: ReceivedMail;

  it('Alertmanager stopped: stackwatch pages once the gap has passed; started again: the recovery', async () => {
    await am.halt();
    firstPage = await nthMail(FIRING, 1);
    expect(firstPage.to.sort()).toEqual(['oncall@your-company.com', 'ops@your-company.com']);
    expect(firstPage.text).toContain(
      `Summary: The Watchdog alert has not arrived from Alertmanager for ${GAP_SECONDS} s: Prometheus or Alertmanager may be down.`,
    );
    // The incident began exactly a gap after the last arrival.
    const down = await watchdog();
    expect(down).toMatchObject({ status: 'down', reason: 'late' });
    expect(Date.parse(down.down_since!) - Date.parse(down.last_seen_at!)).toBe(GAP_SECONDS * 1000);

    await am.resume();
    const recovery = await nthMail(RESOLVED, 1);
    expect(recovery.inReplyTo).toBe(firstPage.messageId);
    expect(recovery.text).toContain(
      'The Watchdog alert arrives from Alertmanager again: the alert pipeline works',
    );
    expect((await watchdog()).status).toBe('up');
    expect(mails(FIRING)).toHaveLength(1);
  }, 180_000);

  it('Prometheus stopped: Alertmanager resolves the Watchdog and stackwatch pages; started again: the recovery', async () => {
    await prom.halt();
    const page = await nthMail(FIRING, 2);
    expect(page.text).toContain('Summary: Alertmanager reports the Watchdog alert resolved');
    expect(page.messageId).not.toBe(firstPage.messageId);
    expect(await watchdog()).toMatchObject({ status: 'down', reason: 'failed' });

    await prom.resume();
    const recovery = await nthMail(RESOLVED, 2);
    expect(recovery.inReplyTo).toBe(page.messageId);
    expect((await watchdog()).status).toBe('up');
  }, 180_000);

  it('each stop paged once, and the Watchdog itself reached nobody', async () => {
    const all = (
      await apiJson<{ notifications: { subject: string; lane: string }[] }>(
        sw.url,
        API,
        '/api/v1/notifications?limit=1000',
      )
    ).notifications;
    // Two incidents, each a page and a recovery, by email and Slack, in stackwatch's own lane.
    expect(all.map((n) => n.subject).sort()).toEqual([...Array(4).fill(FIRING), ...Array(4).fill(RESOLVED)]);
    expect(all.every((n) => n.lane === 'self')).toBe(true);
    expect(mails(FIRING)).toHaveLength(2);
    expect(mails(RESOLVED)).toHaveLength(2);
    expect(
      smtp.mails.filter((m) => /\bWatchdog\b/.test(m.subject) && !m.subject.includes('WatchdogMissing')),
    ).toEqual([]);
  });
});
