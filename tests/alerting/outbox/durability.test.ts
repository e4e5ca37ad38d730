import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { samples, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { tempDir, waitFor } from '../../support/util.js';
import { pool, postWebhook, webhook } from '../../support/webhooks.js';

const GROUPS = 300;
const name = (i: number) => `Durable${String(i).padStart(4, '0')}`;
// Fast retries so the restarted process drains quickly; enough attempts that nothing dies.
const CONFIG = `receiver:
  # One mail per group: this checks each group's own message, not storm digests.
  digest: { enabled: false }
  escalation:
    enabled: false
  email:
    concurrency: 4
  retry:
    base: 200ms
    max_delay: 1s
    max_attempts: 1000
`;

describe('durability: accepted webhooks survive SIGKILL and are mailed exactly once', () => {
  let smtp: SmtpHandle;
  let sw: StackwatchHandle | undefined;
  const dir = tempDir('swdur');
  const start = () => startStackwatch({ config: CONFIG, dir: dir.path, env: { SMTP_URL: smtp.url } });

  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await smtp?.close();
    dir.cleanup();
  });

  const subjects = () => {
    const counts = new Map<string, number>();
    for (const m of smtp.mails) counts.set(m.subject, (counts.get(m.subject) ?? 0) + 1);
    return counts;
  };

  it('SMTP down, hundreds of groups accepted, kill -9, SMTP back, restart: every group mailed once', async () => {
    await smtp.stop();
    sw = await start();
    const bodies = Array.from({ length: GROUPS }, (_, i) =>
      webhook({ alertname: name(i), severity: 'warning' }),
    );
    const answers = await pool(bodies, 25, (b) => postWebhook(sw!.url, b));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.every((a) => (a.json as { recorded: number }).recorded === 1)).toBe(true);

    await sw.stop('SIGKILL');
    await smtp.start();
    sw = await start();
    await waitFor(() => smtp.mails.length >= GROUPS, 90_000, `${GROUPS} mails`, 200);
    const counts = subjects();
    for (let i = 0; i < GROUPS; i++) expect(counts.get(`[FIRING:1] ${name(i)} warning`), name(i)).toBe(1);
    expect(smtp.mails.every((m) => m.to.join() === 'ops@your-company.com')).toBe(true);
  });

  it('the same groups posted again (HA duplicates) are not mailed again', async () => {
    const bodies = Array.from({ length: GROUPS }, (_, i) =>
      webhook({ alertname: name(i), severity: 'warning' }),
    );
    const answers = await pool(bodies, 25, (b) => postWebhook(sw!.url, b));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.every((a) => (a.json as { recorded: number; duplicates: number }).duplicates === 1)).toBe(
      true,
    );
    // A sentinel posted afterwards is delivered after anything the duplicates could have queued.
    expect((await postWebhook(sw!.url, webhook({ alertname: 'Sentinel', severity: 'warning' }))).status).toBe(
      200,
    );
    await waitFor(() => subjects().get('[FIRING:1] Sentinel warning'), 20_000, 'sentinel mail');
    expect(smtp.mails.length).toBe(GROUPS + 1);
    const text = await (await fetch(`${sw!.url}/metrics`)).text();
    expect(samples(text, 'stackwatch_outbox_depth')[0]!.value).toBe(0);
  });

  it('graceful shutdown finishes a delivery in flight, and a restart does not send it again', async () => {
    smtp.setDelay(1500);
    expect((await postWebhook(sw!.url, webhook({ alertname: 'InFlight', severity: 'warning' }))).status).toBe(
      200,
    );
    await waitFor(() => smtp.inProgress() > 0, 20_000, 'the mail to be in flight');
    await sw!.stop('SIGTERM');
    expect(sw!.proc.child.exitCode).toBe(0);
    expect(subjects().get('[FIRING:1] InFlight warning')).toBe(1);
    smtp.setDelay(0);
    sw = await start();
    expect((await postWebhook(sw.url, webhook({ alertname: 'Sentinel2', severity: 'warning' }))).status).toBe(
      200,
    );
    await waitFor(() => subjects().get('[FIRING:1] Sentinel2 warning'), 20_000, 'second sentinel');
    expect(subjects().get('[FIRING:1] InFlight warning')).toBe(1);
  });
});
