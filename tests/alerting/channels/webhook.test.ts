import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmsGateway, type SmsGatewayHandle } from '../../support/sms-gateway.js';
import { CLI, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { run, tempDir, waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';

const TOKEN = 'sms-gateway-token';
const WEBHOOK_TOKEN = 'wh-token';

/** An SMS to the people a critical notification pages; a resolution to the on-call phone. */
const SMS_TEMPLATE = `{% if critical %}{"to": {{ mention_phones | json }}, "text": {{ subject | append: " " | append: summary | json }}}{% else %}{"to": ["13800138000"], "text": {{ subject | json }}}{% endif %}`;

const config = (gateway: string, tokenFile: string, body = SMS_TEMPLATE) => `receiver:
  webhook_token: ${WEBHOOK_TOKEN}
  escalation: { enabled: false }
  contacts:
    - { role: oncall, title: On-Call, name: 王值班, phone: '138 0013 8000' }
    - { role: dba, title: DBA, name: 数据库管理员, phone: '13800138001' }
    - { role: devops, title: DevOps, name: 运维工程师 }
    - { role: techlead, title: Tech Lead, name: 技术负责人 }
  route: { receiver: pager }
  receivers:
    - name: pager
      channels: [webhook]
      webhook:
        url: '${gateway}'
        headers:
          Authorization_file: ${tokenFile}
        body: '${body.replace(/'/g, "''")}'
`;

describe('webhook channel: a templated request drives an SMS gateway', () => {
  let gateway: SmsGatewayHandle;
  let sw: StackwatchHandle | undefined;
  const dir = tempDir('swwh');
  const tokenFile = join(dir.path, 'sms-token');

  beforeAll(async () => {
    gateway = await startSmsGateway(TOKEN);
    writeFileSync(tokenFile, `Bearer ${TOKEN}\n`);
    chmodSync(tokenFile, 0o600);
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await gateway?.close();
    dir.cleanup();
  });

  it('sends the critical as an SMS to the people it pages, with the secret header from its file', async () => {
    sw = await startStackwatch({ config: config(gateway.url, tokenFile) });
    const firing = webhook({
      alertname: 'PostgresDown',
      severity: 'critical',
      labels: { service: 'postgres' },
      annotations: { summary: 'PostgreSQL "db-1" is down' },
    });
    expect((await postWebhook(sw.url, firing, WEBHOOK_TOKEN)).status).toBe(200);
    await waitFor(() => gateway.sent().length === 1, 20_000, 'the SMS');
    expect(gateway.sent()[0]).toMatchObject({
      // On-call (critical) and the DBA (postgres), as the gateway takes numbers.
      to: ['13800138000', '13800138001'],
      text: '[FIRING:1] PostgresDown critical PostgreSQL "db-1" is down',
    });
    expect(gateway.requests[0]!.headers['content-type']).toBe('application/json; charset=utf-8');
    const resolved = webhook({
      alertname: 'PostgresDown',
      severity: 'critical',
      status: 'resolved',
      labels: { service: 'postgres' },
    });
    expect((await postWebhook(sw.url, resolved, WEBHOOK_TOKEN)).status).toBe(200);
    await waitFor(() => gateway.sent().length === 2, 20_000, 'the second SMS');
    expect(gateway.sent()[1]).toMatchObject({
      to: ['13800138000'],
      text: '[RESOLVED] PostgresDown critical',
    });
    // The token never reaches the log.
    expect(sw.logs()).not.toContain(TOKEN);
    await sw.stop();
    sw = undefined;
  });

  it('a gateway that refuses the token is an authError and a dead letter, not a retry loop', async () => {
    const wrong = join(dir.path, 'wrong-token');
    writeFileSync(wrong, 'Bearer not-the-token\n');
    chmodSync(wrong, 0o600);
    sw = await startStackwatch({ config: config(gateway.url, wrong) });
    const before = gateway.requests.length;
    await postWebhook(sw.url, webhook({ alertname: 'RedisDown', severity: 'critical' }), WEBHOOK_TOKEN);
    await waitFor(() => /moved to the dead letters/.test(sw!.logs()), 20_000, 'the dead letter');
    expect(gateway.requests.slice(before).map((r) => r.status)).toEqual([401]);
    expect(sw.logs()).toMatch(/"reason":"permanent: webhook HTTP 401/);
    await sw.stop();
    sw = undefined;
  });

  it('a template that cannot render is a configuration error at load: check-config and the service refuse it', async () => {
    const cases = [
      [`{"to": {{ mention_phones | json }}, "text": {{ summry | json }}}`, /unknown variable summry/],
      [`{"to": {{ mention_phones | json }}, "text": {{ subject | shout }}}`, /undefined filter: shout/],
      [`{"to": {{ mention_phones | json }}, "text": "{{ summary }}"}`, /as invalid JSON .*json filter/],
      [`{% if critical %}{"to": []}`, /tag \{% if critical %\} not closed/],
      [`{% include "/etc/passwd" %}`, /templates cannot include files/],
    ] as const;
    for (const [body, message] of cases) {
      const file = join(dir.path, 'bad.yml');
      writeFileSync(file, config(gateway.url, tokenFile, body));
      const r = await run(process.execPath, [CLI, 'check-config', file]);
      expect(r.code, body).toBe(2);
      expect(r.stderr, body).toMatch(/^config: receiver\.receivers\[0\]\.webhook\.body: template: /);
      expect(r.stderr, body).toMatch(message);
    }
    await expect(startStackwatch({ config: config(gateway.url, tokenFile, cases[0][0]) })).rejects.toThrow(
      /stackwatch exited 2: .*unknown variable summry/s,
    );
  });

  it('template-test renders the request for a sample or a stored notification; nothing is sent', async () => {
    const data = join(dir.path, 'data');
    sw = await startStackwatch({
      config: config(gateway.url, tokenFile),
      env: { STACKWATCH_DATA_DIR: data },
    });
    await postWebhook(sw.url, webhook({ alertname: 'DiskFull', severity: 'critical' }), WEBHOOK_TOKEN);
    await waitFor(() => gateway.sent().some((m) => m.text.includes('DiskFull')), 20_000, 'the DiskFull SMS');
    await sw.stop();
    sw = undefined;
    const sent = gateway.requests.length;
    const file = join(dir.path, 'ok.yml');
    writeFileSync(file, config(gateway.url, tokenFile));
    const env = { ...process.env, STACKWATCH_DATA_DIR: data };
    const sample = await run(process.execPath, [CLI, 'template-test', `--config.file=${file}`], { env });
    expect(sample.code, sample.stderr).toBe(0);
    expect(sample.stdout).toContain('receiver pager: a sample critical notification');
    expect(sample.stdout).toContain(`POST ${new URL(gateway.url).origin}/…`);
    expect(sample.stdout).toContain('Authorization: [not shown]');
    expect(sample.stdout).toContain(
      '"text": "[FIRING:1] TemplateTest critical Sample critical notification from stackwatch template-test"',
    );
    expect(sample.stdout).not.toContain(TOKEN);
    const stored = await run(
      process.execPath,
      [CLI, 'template-test', `--config.file=${file}`, '--id=1', '--json'],
      { env },
    );
    expect(stored.code, stored.stderr).toBe(0);
    const previews = JSON.parse(stored.stdout) as { channel: string; body: string }[];
    expect(previews.map((p) => p.channel)).toEqual(['webhook']);
    expect(JSON.parse(previews[0]!.body)).toMatchObject({
      text: expect.stringContaining('[FIRING:1] DiskFull critical'),
    });
    expect(gateway.requests.length).toBe(sent);
  });
});
