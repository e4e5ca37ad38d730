import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oncallTeam } from '../support/oncall.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import { writeFileSync } from 'node:fs';
import {
  apiJson,
  moreEscalationChecks,
  startStackwatch,
  type StackwatchHandle,
} from '../support/stackwatch.js';
import { waitFor } from '../support/util.js';
import { postWebhook, webhook } from '../support/webhooks.js';

// The Now page answers "who has it" from the duty roster and the escalation policy that main's
// on-call configuration names: the person on duty in the schedule (overrides included), and the
// policy's next step, whom it pages and when.

const WEBHOOK_TOKEN = 'now-oncall-webhook-token';
const API_TOKEN = 'now-oncall-api-token';

const config = (second: string) => `receiver:
  api_token: ${API_TOKEN}
  webhook_token: ${WEBHOOK_TOKEN}
  email:
    from: 'stackwatch <alerts@stackwatch.test>'
  digest:
    enabled: false
  retry:
    base: 200ms
  escalation:
    check_interval: 200ms
${oncallTeam()}  critical_roles: [oncall]
  escalation_policies:
    - name: critical
      steps:
        - { after: 0s, notify: ['schedule:primary'], channels: [email] }
        - { after: ${second}, notify: ['role:techlead'], channels: [email] }
  route:
    receiver: team-ops
    routes:
      - { matchers: ['severity="critical"'], receiver: team-ops-critical }
  receivers:
    - { name: team-ops, channels: [email], recipients: [ops@your-company.com] }
    - name: team-ops-critical
      channels: [email]
      recipients: [ops@your-company.com]
      escalation_policy: critical
`;

interface ApiNotification {
  kind: string;
  subject: string;
  recipients: string[];
  escalation: { policy: string; step: number } | null;
}

describe('the Now page names the person on duty from a schedule and the policy’s next step, in a real Chromium', () => {
  let smtp: SmtpHandle;
  let sw: StackwatchHandle;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    smtp = await startSmtp();
    sw = await startStackwatch({ config: config('1h'), env: { SMTP_URL: smtp.url } });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await sw?.stop();
    await smtp?.close();
  });

  const card = (name: string) =>
    page.locator('article.group', { has: page.getByRole('link', { name, exact: true }) });
  /** The pages the policy's steps sent, as the notifications API lists them. */
  const pages = async () =>
    (
      await apiJson<{ notifications: ApiNotification[] }>(
        sw.url,
        API_TOKEN,
        '/api/v1/notifications?limit=1000',
      )
    ).notifications.filter((n) => n.kind === 'escalation');
  const post = async (body: unknown) =>
    expect((await postWebhook(sw.url, body, WEBHOOK_TOKEN)).status).toBe(200);

  it('names Alice (on duty in the primary rotation) and the policy’s second step to the Tech Lead', async () => {
    await post(
      webhook({ alertname: 'ApiDown', severity: 'critical', annotations: { summary: 'API is down.' } }),
    );
    await post(webhook({ alertname: 'QueueStuck', severity: 'critical' }));
    await post(webhook({ alertname: 'DiskFilling', severity: 'warning' }));
    // The policy's first step pages the person on duty in the rotation: Alice, this week.
    await waitFor(
      async () => {
        const sent = await pages();
        return ['ApiDown', 'QueueStuck'].every((name) =>
          sent.some(
            (n) =>
              n.escalation?.step === 1 &&
              n.subject.includes(name) &&
              n.recipients.includes('alice@company.com'),
          ),
        );
      },
      30_000,
      'the first step to page Alice for both groups',
    );

    await page.goto(`${sw.url}/`);
    await page.getByLabel('Your name').fill('bob');
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Now', exact: true }).waitFor();

    const critical = (await card('ApiDown').textContent()) ?? '';
    expect(critical).toMatch(/On duty\s*On-Call Alice Wang · 13800138010 · alice@company.com/);
    expect(critical).toMatch(
      /Next step\s*page Tech Lead 技术负责人 \(policy critical, step 2 of 2: role:techlead\) at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(in (1 h|\d+ min)\) unless acknowledged/,
    );
    // A group whose receiver names no policy: the contact table's on-call role, staffed by the rotation.
    const warning = (await card('DiskFilling').textContent()) ?? '';
    expect(warning).toMatch(/On duty\s*On-Call Alice Wang · 13800138010/);
    expect(warning).toMatch(/Next step\s*none/);
  }, 90_000);

  it('names whoever an override puts on duty, and shows the step sent in the incident’s timeline', async () => {
    const res = await fetch(`${sw.url}/api/v1/schedules/primary/overrides`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ person: 'dave', duration: '1h', comment: 'Alice at the dentist' }),
    });
    expect(res.status).toBe(201);
    await page.goto(`${sw.url}/`);
    expect(await card('ApiDown').textContent()).toMatch(
      /On duty\s*On-Call Dave Chen · 13800138013 · dave@company.com/,
    );
    expect(await card('DiskFilling').textContent()).toMatch(/On duty\s*On-Call Dave Chen/);

    await card('ApiDown').getByRole('link', { name: 'ApiDown', exact: true }).click();
    await page.getByRole('heading', { name: /ApiDown/ }).waitFor();
    const timeline = (await page.locator('main').textContent()) ?? '';
    expect(timeline).toMatch(
      /Escalated to On-Call Alice Wang: alerts still firing after 0s, not acknowledged/,
    );
    expect(timeline).toContain('policy critical, step 1 of 2: schedule:primary');
  }, 60_000);

  it('acknowledging from the Now page stops the policy’s steps for that group only', async () => {
    await page.goto(`${sw.url}/`);
    await card('ApiDown').getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText('Acknowledged: the group will not be escalated.').waitFor();
    expect(await card('ApiDown').textContent()).toMatch(/Next step\s*none: acknowledged/);

    // The second step now falls due at once: the group nobody acknowledged gets it, the other not.
    writeFileSync(sw.configFile as string, config('2s'));
    expect((await fetch(`${sw.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    await waitFor(
      async () =>
        (await pages()).some(
          (n) =>
            n.escalation?.step === 2 &&
            n.subject.includes('QueueStuck') &&
            n.recipients.includes('tech@company.com'),
        ),
      60_000,
      'the second step for the group nobody acknowledged',
    );
    // Two more escalation checks after that: the acknowledged group was passed over, not late.
    await moreEscalationChecks(sw.url, 2);
    expect(
      (await pages()).filter((n) => n.subject.includes('ApiDown')).map((n) => n.escalation?.step),
    ).toEqual([1]);
    await page.goto(`${sw.url}/`);
    expect(await card('QueueStuck').textContent()).toMatch(
      /Next step\s*escalated at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \([^)]* ago\); no further step/,
    );
    expect(await card('ApiDown').textContent()).toMatch(/Next step\s*none: acknowledged/);
  }, 120_000);
});
