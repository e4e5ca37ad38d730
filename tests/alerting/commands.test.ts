import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import { CLI, samples, startStackwatch } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';
import { postWebhook, webhook } from '../support/webhooks.js';

const cleanEnv = () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !['SMTP_URL', 'SLACK_WEBHOOK_URL', 'STACKWATCH_WEBHOOK_TOKEN'].includes(k))
      env[k] = v;
  return env;
};

describe('CLI route-test and send-test; outbox unavailable', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  const tmp = tempDir('swcli');

  beforeAll(async () => {
    [smtp, slack] = await Promise.all([startSmtp(), startSlack()]);
  });
  afterAll(async () => {
    await Promise.all([smtp?.close(), slack?.close()]);
    tmp.cleanup();
  });

  it('route-test prints receivers, channels, recipients and contacts for the default tables', async () => {
    const r = await run(process.execPath, [CLI, 'route-test', 'severity=critical', 'service=postgres'], {
      env: cleanEnv(),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('receiver: team-ops-critical');
    expect(r.stdout).toContain('email: oncall@your-company.com, ops@your-company.com');
    expect(r.stdout).toMatch(/^ {2}slack$/m);
    expect(r.stdout).toContain('On-Call 值班  13800138000  oncall@company.com  (critical)');
    expect(r.stdout).toContain('DBA 数据库管理员  13800138001  dba@company.com  (database)');
    const warn = await run(
      process.execPath,
      [CLI, 'route-test', '--json', 'severity=warning', 'alertname=DiskSpaceLow'],
      { env: cleanEnv() },
    );
    expect(warn.code).toBe(0);
    const j = JSON.parse(warn.stdout) as {
      receivers: { name: string; channels: string[] }[];
      contacts: { role: string }[];
    };
    expect(j.receivers).toEqual([
      { name: 'team-ops-warning', channels: ['email'], recipients: ['ops@your-company.com'] },
    ]);
    expect(j.contacts.map((c) => c.role)).toEqual(['devops']);
  });

  it('route-test uses the configured routes and reports bad arguments', async () => {
    const file = join(tmp.path, 'routes.yml');
    writeFileSync(
      file,
      `receiver:
  receivers:
    - { name: default, recipients: [ops@x.test] }
    - { name: dba, channels: [email, slack], recipients: ['role:dba'] }
  route:
    receiver: default
    routes:
      - { matchers: ['service=~"postgres|redis"'], receiver: dba, continue: true }
      - { matchers: ['severity="critical"'], receiver: default }
`,
    );
    const r = await run(
      process.execPath,
      [CLI, 'route-test', `--config.file=${file}`, 'service=redis', 'severity=critical'],
      { env: cleanEnv() },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('receiver: dba');
    expect(r.stdout).toContain('email: dba@company.com');
    expect(r.stdout).toContain('receiver: default');
    const bad = await run(process.execPath, [CLI, 'route-test', 'severity'], { env: cleanEnv() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected label=value');
  });

  it('send-test sends one test notification through each configured channel and reports it', async () => {
    const env = { ...cleanEnv(), SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url };
    const r = await run(process.execPath, [CLI, 'send-test'], { env });
    expect(r.stdout).toContain('email (smtp) ops@your-company.com: ok');
    expect(r.stdout).toContain('slack (webhook) slack: ok');
    expect(r.code).toBe(0);
    expect(smtp.mails.map((m) => m.subject)).toEqual(['[TEST] stackwatch test notification']);
    expect(slack.delivered()).toHaveLength(1);

    smtp.failNext(550, 1, 'mailbox unavailable');
    const failed = await run(process.execPath, [CLI, 'send-test'], { env });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/email \(smtp\) ops@your-company\.com: failed: SMTP 550/);

    const bare = await run(process.execPath, [CLI, 'send-test'], { env: cleanEnv() });
    expect(bare.code).toBe(0);
    expect(bare.stdout).toContain('email (console)');
    expect(bare.stdout).toContain('slack (console)');
  });

  it('answers 503 (so Alertmanager retries) when the outbox cannot be opened', async () => {
    const notADir = join(tmp.path, 'file');
    writeFileSync(notADir, 'x');
    const sw = await startStackwatch({ env: { STACKWATCH_DATA_DIR: join(notADir, 'data') } });
    try {
      const r = await postWebhook(sw.url, webhook({ alertname: 'NoDisk' }));
      expect(r.status).toBe(503);
      expect(r.json).toEqual({ error: 'the notification could not be recorded; retry later' });
      const text = await (await fetch(`${sw.url}/metrics`)).text();
      expect(
        samples(text, 'stackwatch_webhook_requests_total').find((s) => s.labels.code === '503')!.value,
      ).toBe(1);
      expect(sw.proc.child.exitCode).toBeNull();
    } finally {
      await sw.stop();
    }
  });
});
