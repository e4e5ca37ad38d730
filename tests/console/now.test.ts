import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mdText } from '../../src/alerting/incidents/markdown.js';
import { startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import {
  apiJson,
  moreEscalationChecks,
  startStackwatch,
  type StackwatchHandle,
} from '../support/stackwatch.js';
import { outboxDrained } from '../support/storm.js';
import { tempDir, waitFor } from '../support/util.js';
import { pool, postWebhook, webhook } from '../support/webhooks.js';

const WEBHOOK_TOKEN = 'now-webhook-token';
const API_TOKEN = 'now-api-token';
const CRITICALS = 10;
const OTHERS = 300;
const crit = (i: number) => `Crit${String(i).padStart(2, '0')}`;
const other = (i: number) => `Other${String(i).padStart(3, '0')}`;
const ACKED = [0, 1, 2, 3, 4].map(crit);
const UNACKED = [5, 6, 7, 8, 9].map(crit);

interface ApiNotification {
  id: number;
  kind: string;
  status: string;
  subject: string;
  group_key: string;
}

const config = (after: string) => `receiver:
  api_token: ${API_TOKEN}
  webhook_token: ${WEBHOOK_TOKEN}
  watchdog:
    gap: 3s
  heartbeat_check_interval: 500ms
  escalation:
    after: ${after}
    check_interval: 500ms
  retry:
    base: 200ms
`;

/**
 * The console's home in a storm, as the person on duty uses it at 3 a.m.: which criticals fire,
 * acknowledging them there, one incident's timeline and its postmortem export, on a phone.
 */
describe('the Now page in an alert storm, in a real Chromium', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let sw: StackwatchHandle;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const tmp = tempDir('swnow');
  const shots = process.env.CONSOLE_SCREENSHOTS_DIR ?? join(tmp.path, 'shots');
  const started = new Date().toISOString();

  beforeAll(async () => {
    [smtp, slack] = await Promise.all([startSmtp(), startSlack()]);
    // Escalation far off at first: the page says when the next step comes.
    sw = await startStackwatch({
      config: config('24h'),
      env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url },
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    mkdirSync(shots, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await sw?.stop();
    await Promise.all([smtp?.close(), slack?.close()]);
    tmp.cleanup();
  });

  const api = async () =>
    (
      await apiJson<{ notifications: ApiNotification[] }>(
        sw.url,
        API_TOKEN,
        '/api/v1/notifications?limit=1000',
      )
    ).notifications;
  const card = (name: string) =>
    page.locator('article.group', { has: page.getByRole('link', { name, exact: true }) });
  const post = async (body: unknown) =>
    expect((await postWebhook(sw.url, body, WEBHOOK_TOKEN)).status).toBe(200);

  it('shows every critical group first during a storm of 300 others', async () => {
    const bodies = [
      ...Array.from({ length: OTHERS }, (_, i) => webhook({ alertname: other(i), startsAt: started })),
      ...Array.from({ length: CRITICALS }, (_, i) =>
        webhook({
          alertname: crit(i),
          severity: 'critical',
          startsAt: started,
          annotations: { summary: `${crit(i)} is down.` },
        }),
      ),
    ];
    await pool(bodies, 10, post);

    await page.goto(`${sw.url}/`);
    await page.getByLabel('Your name').fill('alice');
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Now', exact: true }).waitFor();
    const groups = page.locator('article.group');
    // Every critical; of the 300 others, the 200 firing longest (the rest are counted).
    expect(await groups.count()).toBe(CRITICALS + 200);
    expect(await page.getByText('… and 100 more, firing for less long').count()).toBe(1);
    // The first ten are the criticals, all of them, each saying what comes next and who has it.
    const first = await Promise.all(
      Array.from({ length: CRITICALS }, (_, i) => groups.nth(i).locator('h3 a').textContent()),
    );
    expect(first.sort()).toEqual(Array.from({ length: CRITICALS }, (_, i) => crit(i)));
    expect(await page.locator('main h2').first().textContent()).toBe('Critical · 10 firing');
    const c0 = (await card(crit(0)).textContent()) ?? '';
    expect(c0).toContain('Crit00 is down.');
    expect(c0).toMatch(/Acknowledged\s*no/);
    expect(c0).toMatch(
      /Next step\s*escalate to Tech Lead 技术负责人 at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(in (24 h|23 h \d+ min)\) unless acknowledged/,
    );
    expect(c0).toMatch(/On duty\s*On-Call 值班 · 13800138000 · oncall@company.com/);
    expect(await page.getByText('No severity · 300 firing').count()).toBe(1);
    await page.screenshot({ path: join(shots, 'console-now.png') });
  }, 120_000);

  it('acknowledges criticals from it in one tap each, which stops their escalation', async () => {
    for (const name of ACKED) {
      await card(name).getByRole('button', { name: 'Acknowledge' }).click();
      await page.getByText('Acknowledged: the group will not be escalated.').waitFor();
      await expect(card(name).textContent()).resolves.toMatch(/Acknowledged\s*by alice at/);
    }
    await expect(page.locator('main h2').first().textContent()).resolves.toBe(
      'Critical · 10 firing, 5 not acknowledged',
    );
    // The unacknowledged criticals come first.
    const order = await page.locator('article.lane-critical h3 a').allTextContents();
    expect(order.slice(0, 5).sort()).toEqual(UNACKED);
    expect(await card(crit(0)).getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    await expect(card(crit(0)).textContent()).resolves.toMatch(/Next step\s*none: acknowledged/);

    // Escalation now comes two seconds after an alert starts: the unacknowledged ones escalate.
    writeFileSync(sw.configFile as string, config('2s'));
    expect((await fetch(`${sw.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    const escalated = await waitFor(
      async () => {
        const e = (await api()).filter((n) => n.kind === 'escalation' && n.subject.includes('[ESCALATION]'));
        return UNACKED.every((name) => e.some((n) => n.subject.includes(name))) ? e : undefined;
      },
      60_000,
      'the unacknowledged criticals to escalate',
    );
    // Two more escalation checks after that: the acknowledged groups were passed over, not late.
    await moreEscalationChecks(sw.url, 2);
    const after = (await api()).filter((n) => n.kind === 'escalation');
    expect(after.length).toBe(escalated.length);
    for (const name of ACKED) expect(after.filter((n) => n.subject.includes(name))).toEqual([]);
    await waitFor(
      () =>
        UNACKED.every((name) =>
          smtp.mails.some((m) => m.subject.startsWith('[ESCALATION]') && m.subject.includes(name)),
        ),
      30_000,
      'the escalation mails to the Tech Lead',
    );
    await page.goto(`${sw.url}/`);
    await expect(card(crit(5)).textContent()).resolves.toMatch(/Next step\s*escalated at \d\d:\d\d UTC/);
  }, 120_000);

  it('lists every event of one incident in order, and exports them as a postmortem draft', async () => {
    const name = crit(5);
    const base = {
      alertname: name,
      severity: 'critical',
      startsAt: started,
      annotations: { summary: `${name} is down.` },
    };
    // Wait for each step's notifications to be delivered before the next webhook.
    const delivered = async () => {
      await outboxDrained(sw.url);
      return (await api()).filter((n) => n.subject.includes(name));
    };
    await delivered();
    await post(webhook({ ...base, instances: ['i-1', 'i-2'] }));
    await delivered();
    await page.goto(`${sw.url}/`);
    await card(name).getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`^Incident #\\d+: ${name}$`) }).waitFor();
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText('Acknowledged: the group will not be escalated.').waitFor();
    await post(webhook({ ...base, instances: ['i-1', 'i-2'], status: 'resolved' }));
    const notifications = await waitFor(
      async () => {
        const ns = await delivered();
        return ns.filter((n) => n.subject.startsWith('[RESOLVED]')).length === 2 ? ns : undefined;
      },
      60_000,
      `${name}'s resolved notices`,
    );
    await page.reload();

    const entries = page.locator('ol.timeline > li');
    const kinds = await entries.evaluateAll((els) => els.map((e) => e.className.replace('entry ', '')));
    const times = await entries
      .locator('> time')
      .evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
    expect(times).toEqual([...times].sort());
    expect(kinds.filter((k) => k !== 'notification')).toEqual([
      'firing',
      'escalation',
      'new-alerts',
      'acknowledged',
      'resolved',
      'acknowledgement-ended',
    ]);
    // Every notification of the group is in it once: the alert's, the escalation's, the resolved.
    const listed = await page
      .locator('ol.timeline > li.notification > strong a')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('href')?.split('/').pop())));
    expect(listed.sort((a, b) => a - b)).toEqual(notifications.map((n) => n.id).sort((a, b) => a - b));
    expect(notifications.length).toBe(8); // firing, escalation, new alerts, resolved: email and Slack each
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toContain('Acknowledged by alice (in the console)');
    expect(text).toContain(
      'Escalated to Tech Lead 技术负责人: critical alerts still firing after 2s, not acknowledged',
    );
    expect(text).toContain('New alerts: 2 firing (+1)');
    await page.screenshot({ path: join(shots, 'console-incident.png') });

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export as Markdown' }).click();
    const file = join(tmp.path, 'incident.md');
    await (await download).saveAs(file);
    const md = readFileSync(file, 'utf8');
    expect(md).toMatch(new RegExp(`^# Incident: ${name} \\(critical\\), \\d{4}-\\d\\d-\\d\\d\n`));
    const titles = await entries.locator('> strong').allTextContents();
    let at = 0;
    for (const t of titles) {
      const found = md.indexOf(`| ${mdText(t)} |`, at);
      expect(found, t).toBeGreaterThan(at);
      at = found;
    }
    for (const h of ['## Impact (评估影响)', '## Root cause (根因分析)', '## Actions (总结改进)'])
      expect(md).toContain(h);
  }, 180_000);

  it('fits a phone: no sideways scrolling, one row of navigation, the first group without scrolling', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await phone.addCookies(await context.cookies());
    const p = await phone.newPage();
    await p.goto(`${sw.url}/`);
    expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    const header = await p.locator('body > header').boundingBox();
    expect(header!.height).toBeLessThan(60);
    const first = p.locator('article.group').first();
    await expect(first.getAttribute('class')).resolves.toContain('lane-critical');
    const box = await first.boundingBox();
    // Its name and its Acknowledge button are on the first screen.
    expect(box!.y).toBeLessThan(844);
    const button = await first.getByRole('button', { name: 'Acknowledge' }).boundingBox();
    expect(button!.y + button!.height).toBeLessThanOrEqual(844);
    await p.screenshot({ path: join(shots, 'console-now-phone.png') });
    // The menu opens without any script.
    await p.getByText('Menu').click();
    await p.locator('details.menu').getByRole('link', { name: 'Notifications' }).click();
    await p.getByRole('heading', { name: 'Notifications' }).waitFor();
    await p.goto(`${sw.url}/`);
    const resolved = await p.locator('table a', { hasText: crit(5) }).getAttribute('href');
    await p.goto(`${sw.url}${resolved}`);
    await p.getByRole('heading', { name: /^Incident #\d+: Crit05$/ }).waitFor();
    expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await p.screenshot({ path: join(shots, 'console-incident-phone.png') });
    await phone.close();
  });

  it('says whether alerts reach stackwatch at all: the Watchdog arriving, then missing and paged first', async () => {
    await page.goto(`${sw.url}/`);
    await page.getByText('The Watchdog has not arrived yet').waitFor();
    await post(webhook({ alertname: 'Watchdog', severity: 'none' }));
    await page.reload();
    await page.getByText(/^Alert pipeline working: the Watchdog arrived \d+ s ago\.$/).waitFor();
    // Alertmanager stops sending it: after the gap stackwatch pages, and the page says so first.
    await waitFor(
      async () => {
        await page.reload();
        return (await page.getByText(/^The alert pipeline is down since/).count()) === 1;
      },
      60_000,
      'the page to say the pipeline is down',
    );
    await expect(page.locator('main h2').first().textContent()).resolves.toBe('stackwatch itself · 1 firing');
    const first = page.locator('article.group').first();
    await expect(first.locator('h3 a').textContent()).resolves.toBe('WatchdogMissing');
    await expect(first.textContent()).resolves.toContain(
      'The Watchdog alert has not arrived from Alertmanager',
    );
  }, 90_000);
});
