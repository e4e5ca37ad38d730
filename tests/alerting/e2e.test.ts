import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAlertmanager,
  testAlertmanagerConfig,
  type AlertmanagerHandle,
} from '../support/alertmanager.js';
import { startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type ReceivedMail, type SmtpHandle } from '../support/smtp.js';
import { apiJson, samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { tempDir, waitFor } from '../support/util.js';
import { CHANNELS } from '../../src/config/receiver.js';

const WEBHOOK_TOKEN = 'am-webhook-token-123';
const API_TOKEN = 'api-token-456';

describe('Alertmanager → stackwatch → SMTP and Slack (real Alertmanager 0.25, real SMTP server)', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let sw: StackwatchHandle;
  let am: AlertmanagerHandle;
  const tmp = tempDir('swe2e');

  beforeAll(async () => {
    [smtp, slack] = await Promise.all([startSmtp(), startSlack()]);
    // The environment shortcuts configure the channels and the webhook token with no file keys.
    sw = await startStackwatch({
      config: `receiver:\n  api_token: ${API_TOKEN}\n  email:\n    from: 'stackwatch <alerts@stackwatch.test>'\n`,
      env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url, STACKWATCH_WEBHOOK_TOKEN: WEBHOOK_TOKEN },
    });
    const tokenFile = join(tmp.path, 'token');
    writeFileSync(tokenFile, WEBHOOK_TOKEN);
    am = await startAlertmanager(testAlertmanagerConfig(`${sw.url}/api/v1/alerts`, tokenFile));
  });

  afterAll(async () => {
    await Promise.all([am?.stop(), sw?.stop()]);
    await Promise.all([smtp?.close(), slack?.close()]);
    tmp.cleanup();
  });

  const api = (path: string) =>
    apiJson<{ notifications: { channel: string; subject: string; recipients: string[] }[] }>(
      sw.url,
      API_TOKEN,
      path,
    );
  const mailWith = (subject: string) =>
    waitFor(() => smtp.mails.find((m) => m.subject === subject), 20_000, `mail "${subject}"`);
  const slackWith = (text: string) =>
    waitFor(() => slack.delivered().find((r) => r.raw.includes(text)), 20_000, `Slack message with ${text}`);

  it('delivers each row of the routing table with the responsible contacts', async () => {
    await am.postAlerts([
      {
        labels: { alertname: 'PostgresDown', severity: 'critical', service: 'postgres', cluster: 'test' },
        annotations: { summary: 'PostgreSQL is down.', runbook_url: 'https://runbooks.example/postgres' },
      },
      {
        labels: { alertname: 'HostHighCpuUsage', severity: 'warning', service: 'host', cluster: 'test' },
        annotations: { summary: 'CPU above 80%.' },
      },
      {
        labels: { alertname: 'Unclassified', service: 'api', cluster: 'test' },
        annotations: { summary: 'Something.' },
      },
    ]);

    // critical → team-ops-critical: ops@ and oncall@ by email, plus Slack
    const crit = await mailWith('[FIRING:1] PostgresDown critical');
    expect(crit.to.sort()).toEqual(['oncall@your-company.com', 'ops@your-company.com']);
    expect(crit.from).toBe('alerts@stackwatch.test');
    for (const s of [
      'On-Call',
      '值班',
      '13800138000',
      'oncall@company.com',
      'DBA',
      '数据库管理员',
      '13800138001',
      'dba@company.com',
    ])
      expect(crit.text).toContain(s);
    expect(crit.html).toContain('https://runbooks.example/postgres');
    const critSlack = await slackWith('PostgresDown');
    expect(JSON.stringify(critSlack.body)).toContain('数据库管理员');
    expect((critSlack.body as { attachments: { color: string }[] }).attachments[0]!.color).toBe('#d00000');

    // warning → team-ops-warning: ops@ by email only
    const warn = await mailWith('[FIRING:1] HostHighCpuUsage warning');
    expect(warn.to).toEqual(['ops@your-company.com']);
    for (const s of ['DevOps', '运维工程师', '13800138002', 'devops@company.com'])
      expect(warn.text).toContain(s);
    expect(warn.text).not.toContain('13800138000'); // not critical: no On-Call

    // anything else → team-ops: ops@ by email, plus Slack
    const other = await mailWith('[FIRING:1] Unclassified');
    expect(other.to).toEqual(['ops@your-company.com']);
    await slackWith('Unclassified');

    // The warning was recorded as one email job and no Slack job.
    const sent = (await api('/api/v1/notifications?limit=100')).notifications;
    expect(sent.filter((n) => n.subject.includes('HostHighCpuUsage')).map((n) => n.channel)).toEqual([
      'email',
    ]);
    expect(slack.delivered().some((r) => r.raw.includes('HostHighCpuUsage'))).toBe(false);
  });

  it('threads the resolved mail to the firing one', async () => {
    const labels = { alertname: 'RedisDown', severity: 'critical', service: 'redis', cluster: 'test' };
    await am.postAlerts([{ labels, annotations: { summary: 'Redis is down.' } }]);
    const firing = await mailWith('[FIRING:1] RedisDown critical');
    expect(firing.messageId).toMatch(/^<[0-9a-f]{32}@stackwatch\.test>$/);
    await am.postAlerts([
      {
        labels,
        annotations: { summary: 'Redis is down.' },
        endsAt: new Date(Date.now() - 1000).toISOString(),
      },
    ]);
    const resolved = await mailWith('[RESOLVED] RedisDown critical');
    expect(resolved.inReplyTo).toBe(firing.messageId);
    expect(resolved.references).toContain(firing.messageId);
    expect(resolved.messageId).not.toBe(firing.messageId);
    expect(resolved.to.sort()).toEqual(firing.to.sort());
    await waitFor(
      () => slack.delivered().some((r) => r.raw.includes('[RESOLVED] RedisDown critical')),
      20_000,
      'resolved Slack',
    );
  });

  it('delivers hostile label values escaped, without header injection, with secrets redacted', async () => {
    await am.postAlerts([
      {
        labels: {
          alertname: 'Inject\r\nBcc: evil@attacker.test\r\nX-Injected: yes',
          severity: 'critical',
          cluster: 'test',
          instance: '<script>alert(1)</script>',
          api_key: 'sk-live-secret-value',
        },
        annotations: { summary: '<img src=x onerror=alert(1)> & <!channel>', db_password: 'hunter2' },
      },
    ]);
    let mail: ReceivedMail | undefined;
    await waitFor(
      () => (mail = smtp.mails.find((m) => m.subject.startsWith('[FIRING:1] Inject'))),
      20_000,
      'hostile mail',
    );
    const m = mail as ReceivedMail;
    expect(m.subject).toBe('[FIRING:1] Inject Bcc: evil@attacker.test X-Injected: yes critical');
    expect(m.to).not.toContain('evil@attacker.test');
    expect(m.headers.has('bcc')).toBe(false);
    expect(m.headers.has('x-injected')).toBe(false);
    expect(m.html).not.toContain('<script>');
    expect(m.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(m.html).not.toContain('<img');
    expect(m.raw).not.toContain('sk-live-secret-value');
    expect(m.raw).not.toContain('hunter2');
    expect(m.text).toContain('api_key=[REDACTED]');
    const s = await slackWith('Inject');
    expect(s.raw).not.toContain('<script>');
    expect(s.raw).not.toContain('<!channel>');
    expect(s.raw).not.toContain('sk-live-secret-value');
  });

  it('counts deliveries and webhooks in /metrics', async () => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    const sent = (i: string) =>
      samples(text, 'stackwatch_notifications_total').find((x) => x.labels.integration === i)!.value;
    expect(sent('email')).toBeGreaterThanOrEqual(5);
    expect(sent('slack')).toBeGreaterThanOrEqual(3);
    expect(
      samples(text, 'stackwatch_webhook_requests_total').find((x) => x.labels.code === '200')!.value,
    ).toBeGreaterThan(0);
    expect(
      samples(text, 'stackwatch_webhook_requests_total').find((x) => x.labels.code === '401')!.value,
    ).toBe(0);
    expect(samples(text, 'stackwatch_dead_letters')[0]!.value).toBe(0);
    // One latency series per integration, configured or not.
    expect(samples(text, 'stackwatch_notification_latency_seconds_count').length).toBe(CHANNELS.length);
  });
});
