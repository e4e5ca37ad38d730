import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDingTalk, type DingTalkHandle } from '../support/dingtalk.js';
import { startSmsGateway, type SmsGatewayHandle } from '../support/sms-gateway.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { tempDir, waitFor } from '../support/util.js';
import { postWebhook, webhook } from '../support/webhooks.js';

const TOKEN = 'tt-console-token';

describe('console: template test shows what each channel sends, in a real Chromium', () => {
  let dingtalk: DingTalkHandle;
  let gateway: SmsGatewayHandle;
  let sw: StackwatchHandle;
  let browser: Browser;
  let page: Page;
  const tmp = tempDir('swtt');
  const shots = process.env.CONSOLE_SCREENSHOTS_DIR ?? join(tmp.path, 'shots');

  beforeAll(async () => {
    [dingtalk, gateway] = await Promise.all([startDingTalk(), startSmsGateway('sms-token')]);
    const robot = dingtalk.addRobot('dt-console-secret-token', 'SEC-console');
    sw = await startStackwatch({
      config: `receiver:
  webhook_token: ${TOKEN}
  escalation: { enabled: false }
  route: { receiver: team-ops }
  receivers:
    - { name: team-ops, channels: [dingtalk], dingtalk_webhook_url: '${robot}', dingtalk_secret: SEC-console }
    - name: pager
      channels: [webhook]
      webhook:
        url: '${gateway.url}'
        headers: { Authorization: Bearer sms-token }
        body: '{"to": {{ mention_phones | json }}, "text": {{ subject | json }}}'
`,
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await sw?.stop();
    await Promise.all([dingtalk?.close(), gateway?.close()]);
    tmp.cleanup();
  });

  it('renders a stored notification as DingTalk received it, and a sample through the webhook template; sends nothing', async () => {
    await postWebhook(
      sw.url,
      webhook({ alertname: 'PostgresDown', severity: 'critical', labels: { service: 'postgres' } }),
      TOKEN,
    );
    await waitFor(() => dingtalk.delivered().length === 1, 20_000, 'the DingTalk message');
    await page.goto(`${sw.url}/notifications`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByLabel('Your name').fill('wang');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/notifications$/);
    await page.getByRole('link', { name: '#1' }).click();
    await page.getByRole('link', { name: 'as its channel renders it' }).click();
    await page.getByRole('heading', { name: 'Receiver team-ops: notification 1 (dingtalk, sent)' }).waitFor();
    const body = (await page.locator('main pre').first().textContent()) ?? '';
    const sent = dingtalk.delivered()[0]!.body as {
      markdown: { title: string };
      at: { atMobiles: string[] };
    };
    const shown = JSON.parse(body) as typeof sent;
    expect(shown.markdown.title).toBe(sent.markdown.title);
    expect(shown.at).toEqual(sent.at);
    expect(shown.at.atMobiles).toContain('13800138000');
    // The robot's token and secret are not on the page.
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).not.toContain('dt-console-secret-token');
    expect(text).not.toContain('SEC-console');
    expect(text).toContain(`POST ${new URL(dingtalk.addRobot('x')).origin}/…`);

    await page.locator('select[name=receiver]').selectOption('pager');
    await page.locator('input[name=id]').fill('');
    await page.getByRole('button', { name: 'Render' }).click();
    await page.getByRole('heading', { name: 'Receiver pager: a sample critical notification' }).waitFor();
    const sms = JSON.parse((await page.locator('main pre').first().textContent()) ?? '') as {
      to: string[];
      text: string;
    };
    expect(sms).toEqual({ to: ['13800138000', '13800138001'], text: '[FIRING:1] TemplateTest critical' });
    expect((await page.locator('main').textContent()) ?? '').toContain('Authorization: [not shown]');
    await page.screenshot({ path: join(shots, 'console-template-test.png'), fullPage: true });
    await page.goto(`${sw.url}/template-test?id=999`);
    await page.getByText('No notification #999.').waitFor();
    expect(gateway.requests).toEqual([]);
    expect(dingtalk.delivered()).toHaveLength(1);
  });
});
