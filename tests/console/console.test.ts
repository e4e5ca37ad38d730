import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAckToken } from '../../src/alerting/acknowledgement/tokens.js';
import {
  startAlertmanager,
  testAlertmanagerConfig,
  type AlertmanagerHandle,
} from '../support/alertmanager.js';
import { startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type ReceivedMail, type SmtpHandle } from '../support/smtp.js';
import { apiJson, samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, tempDir, waitFor } from '../support/util.js';
import { postWebhook, webhook } from '../support/webhooks.js';

const WEBHOOK_TOKEN = 'console-webhook-token';
const API_TOKEN = 'console-api-token';
const SECRET = 'console-test-signing-secret';
const HOSTILE = `<img src=x onerror="document.title='pwned'">`;
const HEARTBEAT_TOKENS = {
  'health-check': 'console-health-check-token',
  'nightly-backup': 'console-nightly-backup-token',
};

interface ApiNotification {
  id: number;
  kind: string;
  status: string;
  subject: string;
  channel: string;
}

describe('on-call console and Acknowledge links in a real Chromium', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let am: AlertmanagerHandle;
  let sw: StackwatchHandle;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let attacker: Server | undefined;
  const tmp = tempDir('swcon');
  const shots = process.env.CONSOLE_SCREENSHOTS_DIR ?? join(tmp.path, 'shots');

  beforeAll(async () => {
    [smtp, slack] = await Promise.all([startSmtp(), startSlack()]);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const tokenFile = join(tmp.path, 'token');
    writeFileSync(tokenFile, WEBHOOK_TOKEN);
    am = await startAlertmanager(testAlertmanagerConfig(`${url}/api/v1/alerts`, tokenFile));
    sw = await startStackwatch({
      config: `receiver:
  api_token: ${API_TOKEN}
  external_url: ${url}
  alertmanager_url: ${am.url}
  acknowledgement:
    secret: ${SECRET}
  email:
    from: 'stackwatch <alerts@stackwatch.test>'
  escalation:
    after: 20s
    check_interval: 500ms
  retry:
    base: 200ms
  heartbeats:
    - { name: health-check, period: 1h, grace: 10m, token: ${HEARTBEAT_TOKENS['health-check']} }
    - { name: nightly-backup, period: 1d, grace: 1h, token: ${HEARTBEAT_TOKENS['nightly-backup']} }
`,
      args: [`--web.listen-address=127.0.0.1:${port}`],
      env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url, STACKWATCH_WEBHOOK_TOKEN: WEBHOOK_TOKEN },
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    mkdirSync(shots, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r()));
    await Promise.all([am?.stop(), sw?.stop()]);
    await Promise.all([smtp?.close(), slack?.close()]);
    tmp.cleanup();
  });

  const api = (path: string) => apiJson<{ notifications: ApiNotification[] }>(sw.url, API_TOKEN, path);
  const mailWhere = (what: string, pred: (m: ReceivedMail) => boolean) =>
    waitFor(() => smtp.mails.find(pred), 30_000, what);
  const ackLinkIn = (m: ReceivedMail) => {
    const link = /href="(http:\/\/127\.0\.0\.1:\d+\/acknowledge\/[A-Za-z0-9_.-]+)"/.exec(m.html)?.[1];
    expect(link, 'an Acknowledge link in the HTML mail').toBeDefined();
    expect(m.text).toContain(`Acknowledge: ${link}`);
    return link as string;
  };
  const signIn = async () => {
    await page.goto(`${sw.url}/`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Your name').fill('alice');
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Now' }).waitFor();
  };

  it('signs in and sees a storm of notifications, with a hostile label value shown as text', async () => {
    const storm = Array.from({ length: 40 }, (_, i) =>
      webhook({ alertname: `Storm${i}`, severity: 'warning', labels: { service: 'api' } }),
    );
    storm.push(webhook({ alertname: HOSTILE, severity: 'warning', annotations: { summary: HOSTILE } }));
    for (const w of storm) expect((await postWebhook(sw.url, w, WEBHOOK_TOKEN)).status).toBe(200);

    const refused = await page.goto(`${sw.url}/notifications`);
    expect(page.url()).toContain('/login?next=%2Fnotifications');
    expect(refused?.headers()['content-security-policy']).toContain("default-src 'none'");
    await page.getByLabel('API token').fill('wrong-token');
    await page.getByLabel('Your name').fill('mallory');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong API token.').waitFor();
    // A sign-in post that is not a form is a wrong token as well, not an error.
    const notAForm = await fetch(`${sw.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'mallory', token: API_TOKEN }),
    });
    expect(notAForm.status).toBe(401);
    await signIn();
    const cookie = (await context.cookies()).find((c) => c.name === 'stackwatch_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');

    await page.goto(`${sw.url}/notifications`);
    for (const i of [0, 17, 39])
      await expect(page.getByText(`[FIRING:1] Storm${i} warning`, { exact: true }).count()).resolves.toBe(1);
    // The hostile value is text on the page, never an element, and no script ran.
    await expect(page.getByText(`[FIRING:1] ${HOSTILE} warning`, { exact: true }).count()).resolves.toBe(1);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.title()).not.toBe('pwned');

    // Filter with the form, from the keyboard.
    await page.locator('input[name=alertname]').fill('Storm17');
    await page.locator('input[name=alertname]').press('Enter');
    await page.waitForURL(/alertname=Storm17/);
    const rows = page.locator('main tbody tr');
    expect(await rows.count()).toBe(1);
    await expect(rows.first().textContent()).resolves.toContain('team-ops-warning');
    await page.locator('select[name=status]').selectOption('dead');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No notifications match.').waitFor();
    await page.goto(`${sw.url}/notifications`);
    await page.screenshot({ path: join(shots, 'console-notifications.png'), fullPage: false });
  });

  const signal = (name: keyof typeof HEARTBEAT_TOKENS, suffix = '') =>
    fetch(`${sw.url}/api/v1/heartbeats/${name}${suffix}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${HEARTBEAT_TOKENS[name]}` },
    });

  it('shows on the overview whether the Watchdog arrives and each job is on time', async () => {
    await page.goto(`${sw.url}/overview`);
    const row = (name: string) => page.locator('main tr', { hasText: name });
    await expect(row('Watchdog').textContent()).resolves.toContain('not arrived yet');
    await expect(row('health-check').textContent()).resolves.toContain('never signalled');

    expect((await signal('health-check')).status).toBe(200);
    expect((await signal('nightly-backup', '/fail')).status).toBe(200);
    const watchdog = webhook({ alertname: 'Watchdog', severity: 'none' });
    expect((await postWebhook(sw.url, watchdog, WEBHOOK_TOKEN)).status).toBe(200);
    await page.goto(`${sw.url}/overview`);
    await expect(row('Watchdog').textContent()).resolves.toMatch(/^Watchdog.*up.*ago\)due by /);
    await expect(row('health-check').textContent()).resolves.toMatch(/^health-checkup.*ago\)due by /);
    await expect(row('nightly-backup').textContent()).resolves.toMatch(
      /^nightly-backupdown failed.*down since /,
    );
    // Its next success ends the incident (before it could be escalated, which the tests below watch).
    expect((await signal('nightly-backup')).status).toBe(200);
    await page.goto(`${sw.url}/overview`);
    await expect(row('nightly-backup').textContent()).resolves.toMatch(/^nightly-backupup/);
  });

  it('acknowledges from the link in a real email: no escalation, and a silence in the real Alertmanager', async () => {
    const now = Date.now();
    // Both groups' critical alerts fire; PostgresDown started first, so it would escalate first.
    await am.postAlerts([
      {
        labels: { alertname: 'PostgresDown', severity: 'critical', service: 'postgres', cluster: 'test' },
        annotations: { summary: 'PostgreSQL is down.' },
        startsAt: new Date(now - 3000).toISOString(),
      },
      {
        labels: { alertname: 'RedisDown', severity: 'critical', service: 'redis', cluster: 'test' },
        annotations: { summary: 'Redis is down.' },
        startsAt: new Date(now).toISOString(),
      },
    ]);
    const mail = await mailWhere(
      'the PostgresDown mail',
      (m) => m.subject === '[FIRING:1] PostgresDown critical',
    );
    expect(mail.to.sort()).toEqual(['oncall@your-company.com', 'ops@your-company.com']);
    const link = ackLinkIn(mail);
    const slackMsg = await waitFor(
      () => slack.delivered().find((r) => r.raw.includes('PostgresDown') && r.raw.includes('/acknowledge/')),
      20_000,
      'the Slack message with an Acknowledge link',
    );
    // An Acknowledge button (Block Kit), linking to an Acknowledge page of this group.
    const button = JSON.parse(slackMsg.raw).attachments[0].blocks.find(
      (b: { type: string }) => b.type === 'actions',
    )?.elements[0];
    expect(button).toMatchObject({ type: 'button', text: { text: 'Acknowledge' } });
    expect(button.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/acknowledge\/[A-Za-z0-9_.-]+$/);

    // Opening the link changes nothing: it shows the group and a button.
    await page.goto(link);
    await page.getByRole('heading', { name: 'Acknowledge' }).waitFor();
    await expect(page.locator('main').textContent()).resolves.toContain('PostgreSQL is down.');
    const acknowledged = async () =>
      samples(await (await fetch(`${sw.url}/metrics`)).text(), 'stackwatch_console_actions_total').find(
        (x) => x.labels.action === 'acknowledge',
      )?.value;
    expect(await acknowledged()).toBe(0);
    await page.screenshot({ path: join(shots, 'console-acknowledge.png') });
    await page.locator('input[name=by]').fill('carol');
    await page.locator('select[name=silence]').selectOption({ label: 'for 1 h' });
    await page.locator('input[name=comment]').fill('restarting the primary');
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page
      .getByText(/^Acknowledged by carol at .* The group will not be escalated, and Alertmanager silences it/)
      .waitFor();

    // The silence exists in Alertmanager, matches the group's labels, and mutes its alert.
    const silences = (await (await fetch(`${am.url}/api/v2/silences`)).json()) as {
      createdBy: string;
      status: { state: string };
      matchers: { name: string; value: string; isRegex: boolean }[];
    }[];
    const active = silences.filter((s) => s.status.state === 'active');
    expect(active).toHaveLength(1);
    expect(active[0]!.createdBy).toBe('carol');
    expect(active[0]!.matchers.map((m) => `${m.name}=${m.value}`).sort()).toEqual([
      'alertname=PostgresDown',
      'cluster=test',
      'service=postgres',
    ]);
    await waitFor(
      async () =>
        (await am.alerts()).find((a) => a.labels.alertname === 'PostgresDown')?.status.state === 'suppressed',
      20_000,
      'PostgresDown suppressed in Alertmanager',
    );

    // RedisDown, which started later, escalates to the Tech Lead; PostgresDown never does.
    const escalation = await mailWhere('the RedisDown escalation', (m) =>
      m.subject.startsWith('[ESCALATION]'),
    );
    expect(escalation.subject).toContain('RedisDown');
    expect(escalation.to).toEqual(['tech@company.com']);
    const escalations = (await api('/api/v1/notifications?limit=1000')).notifications.filter(
      (n) => n.kind === 'escalation',
    );
    expect(escalations.map((n) => n.subject).every((s) => s.includes('RedisDown'))).toBe(true);
    expect(escalations.length).toBeGreaterThan(0);
    expect(
      smtp.mails.filter((m) => m.subject.includes('ESCALATION') && m.subject.includes('PostgresDown')),
    ).toEqual([]);

    // The console lists the acknowledgement.
    await page.goto(`${sw.url}/acknowledgements`);
    const row = page.locator('main tbody tr', { hasText: 'PostgresDown' });
    await expect(row.textContent()).resolves.toMatch(
      /carol at .*oncall@your-company.com, ops@your-company.com/,
    );
  }, 90_000);

  it('says "acknowledged by" in later notifications of the group, and can unacknowledge', async () => {
    const labels = { alertname: 'DiskSpaceLow', severity: 'warning', service: 'host', cluster: 'test' };
    await am.postAlerts([
      { labels: { ...labels, instance: 'i-1' }, annotations: { summary: 'Disk 91% full.' } },
    ]);
    const first = await mailWhere(
      'the DiskSpaceLow mail',
      (m) => m.subject === '[FIRING:1] DiskSpaceLow warning',
    );
    await page.goto(ackLinkIn(first));
    await page.locator('input[name=by]').fill('dave');
    await page.locator('select[name=silence]').selectOption({ label: 'no silence' });
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText(/^Acknowledged by dave at /).waitFor();

    await am.postAlerts([
      { labels: { ...labels, instance: 'i-1' }, annotations: { summary: 'Disk 91% full.' } },
      { labels: { ...labels, instance: 'i-2' }, annotations: { summary: 'Disk 93% full.' } },
    ]);
    const later = await mailWhere(
      'the second DiskSpaceLow mail',
      (m) => m.subject === '[FIRING:2] DiskSpaceLow warning',
    );
    expect(later.text).toMatch(/Acknowledged by dave at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\./);
    expect(later.html).toContain('Acknowledged by dave at');
    expect(later.html).not.toContain('/acknowledge/');

    await page.goto(`${sw.url}/acknowledgements`);
    const row = page.locator('main tbody tr', { hasText: 'DiskSpaceLow' });
    await row.getByRole('button', { name: 'Unacknowledge' }).click();
    await page.getByText('Acknowledgement ended: the group may escalate again.').waitFor();
    await expect(page.locator('main tbody tr', { hasText: 'DiskSpaceLow' }).textContent()).resolves.toContain(
      'by alice',
    );
  });

  it('shows on the Now page the silences over a group, and silences one in the real Alertmanager in one tap', async () => {
    await page.goto(`${sw.url}/`);
    const card = (name: string) =>
      page.locator('article.group', { has: page.getByRole('link', { name, exact: true }) });
    // PostgresDown: carol's acknowledgement and the Alertmanager silence it made.
    await expect(card('PostgresDown').textContent()).resolves.toMatch(
      /Acknowledged\s*by carol at .*restarting the primary.*Silenced\s*in Alertmanager until .* by carol/s,
    );
    await expect(card('RedisDown').textContent()).resolves.not.toContain('Silenced');
    await card('RedisDown').getByRole('button', { name: 'Silence 1 h' }).click();
    await page.getByText('Silenced in Alertmanager.').waitFor();
    await expect(card('RedisDown').textContent()).resolves.toMatch(
      /Silenced\s*in Alertmanager until .* by alice/,
    );
    // Silenced, not acknowledged: the button to acknowledge is still there.
    expect(await card('RedisDown').getByRole('button', { name: 'Acknowledge' }).count()).toBe(1);
    const silences = (await (await fetch(`${am.url}/api/v2/silences`)).json()) as {
      createdBy: string;
      status: { state: string };
      matchers: { name: string; value: string }[];
    }[];
    const mine = silences.filter((x) => x.status.state === 'active' && x.createdBy === 'alice');
    expect(mine.map((x) => x.matchers.map((m) => `${m.name}=${m.value}`).sort())).toEqual([
      ['alertname=RedisDown', 'cluster=test', 'service=redis'],
    ]);
  });

  const deadLetter = async (alertname: string) => {
    smtp.failNext(550, 1, 'mailbox unavailable');
    await postWebhook(sw.url, webhook({ alertname, severity: 'warning' }), WEBHOOK_TOKEN);
    return await waitFor(
      async () =>
        (await api('/api/v1/notifications?status=dead')).notifications.find((n) =>
          n.subject.includes(alertname),
        ),
      20_000,
      `${alertname} to be a dead letter`,
    );
  };

  it('re-drives a dead letter and sees it delivered', async () => {
    const dead = await deadLetter('BackupFailed');
    await page.goto(`${sw.url}/dead-letters`);
    const row = page.locator('main tbody tr', { hasText: 'BackupFailed' });
    await expect(row.textContent()).resolves.toContain('SMTP 550');
    await row.getByRole('button', { name: 'Re-drive' }).click();
    await page.waitForURL(new RegExp(`/notifications/${dead.id}\\?done=redriven`));
    await page.getByText('Re-driven: the notification is due again.').waitFor();
    await mailWhere('the re-driven mail', (m) => m.subject === '[FIRING:1] BackupFailed warning');
    await waitFor(
      async () => {
        await page.reload();
        return (await page.locator('dd .status').first().textContent()) === 'sent';
      },
      20_000,
      'the notification page to say sent',
    );
  });

  it('creates a maintenance window from labels with a preview, route-tests a label set, and ends it early', async () => {
    await page.goto(`${sw.url}/maintenance`);
    await page.locator('textarea[name=matchers]').fill('service="redis"');
    await page.locator('input[name=duration]').fill('2h');
    await page.locator('input[name=comment]').fill('Redis upgrade');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { name: 'Preview' }).waitFor();
    const preview = (await page.locator('main').textContent()) ?? '';
    expect(preview).toMatch(/had alerts these matchers would mute/);
    expect(preview).toContain('RedisDown');
    expect(preview).not.toContain('PostgresDown');
    await page.getByRole('button', { name: 'Create window' }).click();
    await page.getByText('Maintenance window created.').waitFor();
    const window = page.locator('main tbody tr', { hasText: 'service="redis"' });
    await expect(window.textContent()).resolves.toMatch(/active.*Redis upgrade.*alice/);
    // The Now page says which firing group the window mutes.
    await page.goto(`${sw.url}/`);
    await expect(
      page.locator('article.group', { hasText: 'RedisDown' }).locator('dl.facts').textContent(),
    ).resolves.toMatch(/Maintenance\s*muted by [0-9a-f-]{36} until .*\(Redis upgrade\)/);

    await page.goto(`${sw.url}/route-test`);
    await page.locator('textarea[name=labels]').fill('severity=critical\nservice=redis');
    await page.getByRole('button', { name: 'Test route' }).click();
    const result = (await page.locator('main').textContent()) ?? '';
    expect(result).toContain('team-ops-critical');
    expect(result).toContain('oncall@your-company.com, ops@your-company.com');
    expect(result).toContain('数据库管理员'); // the DBA, responsible for redis
    expect(result).toContain('Muted now by maintenance window');

    await page.goto(`${sw.url}/maintenance`);
    await page
      .locator('main tbody tr', { hasText: 'service="redis"' })
      .getByRole('button', { name: 'End now' })
      .click();
    await page.getByText('Maintenance window ended.').waitFor();
    await expect(
      page.locator('main tbody tr', { hasText: 'service="redis"' }).textContent(),
    ).resolves.toMatch(/ended.*Redis upgrade/);
    expect(await page.getByRole('button', { name: 'End now' }).count()).toBe(0);
    await page.goto(`${sw.url}/route-test?labels=${encodeURIComponent('severity=critical\nservice=redis')}`);
    expect(await page.locator('main').textContent()).not.toContain('Muted now');
  });

  it('refuses forged and expired links, and cross-site posts without the CSRF token', async () => {
    const first = smtp.mails.find((m) => m.subject === '[FIRING:1] PostgresDown critical') as ReceivedMail;
    const link = ackLinkIn(first);
    const [payload, signature] = link.split('/acknowledge/')[1]!.split('.') as [string, string];
    // Another group under the old signature: refused, nothing acknowledged.
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [string, string, number];
    const otherGroup = Buffer.from(
      JSON.stringify(['{}:{alertname="RedisDown"}', claims[1], claims[2]]),
    ).toString('base64url');
    for (const forged of [`${otherGroup}.${signature}`, `${payload}.${'A'.repeat(43)}`]) {
      const res = await page.goto(`${sw.url}/acknowledge/${forged}`);
      expect(res?.status()).toBe(403);
      await page.getByText('This Acknowledge link is not valid').waitFor();
      expect(await page.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    }
    const expired = signAckToken(
      { groupKey: claims[0], recipient: claims[1], expiresAt: Date.now() - 1000 },
      SECRET,
    );
    const res = await page.goto(`${sw.url}/acknowledge/${expired}`);
    expect(res?.status()).toBe(410);
    await page.getByText('This Acknowledge link has expired.').waitFor();

    // A page on another origin posts a re-drive form into the signed-in browser.
    const dead = await deadLetter('CertificateExpiring');
    const attackerPort = await freePort();
    attacker = createServer((_req, r) => {
      r.setHeader('content-type', 'text/html');
      r.end(`<form id="f" method="post" action="${sw.url}/notifications/${dead.id}/redrive"></form>
<script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => attacker!.listen(attackerPort, '127.0.0.1', () => r()));
    const refusedPage = page.waitForResponse((r) => r.url().endsWith(`/notifications/${dead.id}/redrive`));
    await page.goto(`http://127.0.0.1:${attackerPort}/`);
    expect((await refusedPage).status()).toBe(403);
    await page.getByText('cross-site request refused').waitFor();
    // The same POST with the session cookie but without the form's token.
    const direct = await context.request.post(`${sw.url}/notifications/${dead.id}/redrive`, {
      form: { csrf: 'not-the-token' },
    });
    expect(direct.status()).toBe(403);
    expect(await direct.text()).toContain('no valid CSRF token');
    expect((await api(`/api/v1/notifications/${dead.id}`)) as unknown).toMatchObject({
      notification: { status: 'dead' },
    });
  });

  it('counts console actions in /metrics and renders usably on a phone', async () => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    const action = (a: string) =>
      samples(text, 'stackwatch_console_actions_total').find((s) => s.labels.action === a)?.value;
    expect(action('acknowledge')).toBe(2);
    expect(action('unacknowledge')).toBe(1);
    expect(action('redrive')).toBe(1);
    expect(action('maintenance_create')).toBe(1);
    expect(action('maintenance_end')).toBe(1);
    expect(action('login_failed')).toBe(2);
    // Two forged links, one expired, one post without the CSRF token (the cross-site post is
    // refused before the console, by the service-wide check).
    expect(action('refused')).toBe(4);

    // A failed job on the overview's screenshots.
    expect((await signal('nightly-backup', '/fail')).status).toBe(200);
    for (const [path, name] of [
      ['/overview', 'overview'],
      ['/maintenance', 'maintenance'],
      [`/route-test?labels=${encodeURIComponent('severity=critical\nservice=postgres')}`, 'route-test'],
    ] as const) {
      await page.goto(`${sw.url}${path}`);
      await page.screenshot({ path: join(shots, `console-${name}.png`) });
    }
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await phone.addCookies(await context.cookies());
    const p = await phone.newPage();
    // The Now page, with the hostile group among 40 others, fits too; the hostile name is text.
    await p.goto(`${sw.url}/`);
    expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await p.getByRole('link', { name: HOSTILE, exact: true }).count()).toBe(1);
    expect(await p.locator('main img').count()).toBe(0);
    const mail = smtp.mails.find((m) => m.subject === '[FIRING:1] PostgresDown critical') as ReceivedMail;
    const routeTest = `/route-test?labels=${encodeURIComponent('severity=critical\nservice=postgres')}`;
    for (const [path, name] of [
      ['/overview', 'overview'],
      ['/notifications', 'notifications'],
      ['/acknowledgements', 'acknowledgements'],
      ['/maintenance', 'maintenance'],
      [routeTest, 'route-test'],
      [ackLinkIn(mail).slice(sw.url.length), 'acknowledge'],
    ] as const) {
      await p.goto(`${sw.url}${path}`);
      // Nothing wider than the screen: no sideways scrolling on a phone.
      expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await p.screenshot({ path: join(shots, `console-${name}-phone.png`) });
    }
    // Keyboard: Tab reaches the menu, Enter opens it, and Tab goes through its links in order.
    await p.goto(`${sw.url}/overview`);
    await p.keyboard.press('Tab');
    await p.keyboard.press('Tab');
    expect(await p.evaluate('document.activeElement.textContent')).toBe('Menu · Overview');
    await p.keyboard.press('Enter');
    for (const link of ['Now', 'Overview', 'Notifications']) {
      await p.keyboard.press('Tab');
      expect(await p.evaluate('document.activeElement.textContent')).toBe(link);
    }
    await phone.close();
  });
});
