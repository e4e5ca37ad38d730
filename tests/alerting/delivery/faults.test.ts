import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SLACK_NO_SERVICE,
  SLACK_SERVER_ERROR,
  slackRateLimited,
  startSlack,
  type SlackHandle,
} from '../../support/slack.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { value } from '../../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { pool, postWebhook, webhook } from '../../support/webhooks.js';

const TOKEN = 'fault-token';

interface Notification {
  id: number;
  status: string;
  channel: string;
  subject: string;
  attempts: number;
  last_error: string | null;
}

describe('delivery faults: SMTP 4xx/5xx, Slack 429/5xx/404, slow SMTP', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let sw: StackwatchHandle;

  beforeAll(async () => {
    [smtp, slack] = await Promise.all([startSmtp(), startSlack()]);
    sw = await startStackwatch({
      config: `receiver:
  webhook_token: ${TOKEN}
  escalation:
    enabled: false
  email:
    smtp_url: ${smtp.url}
    concurrency: 2
    timeout: 20s
  slack:
    webhook_url: ${slack.url}
  retry:
    base: 300ms
    max_delay: 2s
`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
    await Promise.all([smtp?.close(), slack?.close()]);
  });

  const api = async <T>(path: string, method = 'GET'): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${sw.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const notifications = async () =>
    (await api<{ notifications: Notification[] }>('/api/v1/notifications?limit=1000')).body.notifications;
  const find = async (channel: string, subject: string) =>
    (await notifications()).find((n) => n.channel === channel && n.subject === subject);
  const post = async (body: unknown) => expect((await postWebhook(sw.url, body, TOKEN)).status).toBe(200);
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    value(await (await fetch(`${sw.url}/metrics`)).text(), name, labels);

  it('SMTP 421 and 451 are retried, then the mail is delivered once', async () => {
    smtp.failNext(421, 1, 'service not available');
    smtp.failNext(451, 1, 'local error');
    const refusedBefore = smtp.refused();
    await post(webhook({ alertname: 'SmtpTransient', severity: 'warning' }));
    const subject = '[FIRING:1] SmtpTransient warning';
    await waitFor(() => smtp.mails.find((m) => m.subject === subject), 20_000, 'mail after retries');
    expect(smtp.refused() - refusedBefore).toBe(2);
    const n = await waitFor(async () => {
      const x = await find('email', subject);
      return x?.status === 'sent' ? x : undefined;
    });
    expect(n.attempts).toBe(3);
    expect(smtp.mails.filter((m) => m.subject === subject)).toHaveLength(1);
    expect(
      await metric('stackwatch_notifications_failed_total', { integration: 'email', reason: 'retryable' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('SMTP 550 is a dead letter; the API re-drives it once SMTP accepts', async () => {
    smtp.failNext(550, 1, 'mailbox unavailable');
    await post(webhook({ alertname: 'SmtpPermanent', severity: 'warning' }));
    const subject = '[FIRING:1] SmtpPermanent warning';
    const dead = await waitFor(
      async () => {
        const x = await find('email', subject);
        return x?.status === 'dead' ? x : undefined;
      },
      20_000,
      'dead letter',
    );
    expect(dead.last_error).toMatch(/550/);
    expect(dead.attempts).toBe(1);
    expect(await metric('stackwatch_dead_letters')).toBe(1);
    expect(
      await metric('stackwatch_notifications_failed_total', { integration: 'email', reason: 'permanent' }),
    ).toBe(1);
    const listed = (await api<{ notifications: Notification[] }>('/api/v1/notifications?status=dead')).body
      .notifications;
    expect(listed.map((x) => x.id)).toEqual([dead.id]);

    const retried = await api<{ notification: Notification }>(
      `/api/v1/notifications/${dead.id}/retry`,
      'POST',
    );
    expect(retried.status).toBe(200);
    expect(retried.body.notification.status).toBe('pending');
    await waitFor(() => smtp.mails.find((m) => m.subject === subject), 20_000, 're-driven mail');
    await waitFor(async () => (await find('email', subject))?.status === 'sent');
    expect(await metric('stackwatch_dead_letters')).toBe(0);
    // not a dead letter any more: 409; unknown: 404
    expect((await api(`/api/v1/notifications/${dead.id}/retry`, 'POST')).status).toBe(409);
    expect((await api('/api/v1/notifications/999999/retry', 'POST')).status).toBe(404);
  });

  it('Slack 429 with Retry-After: 2 — the next attempt comes at least 2 s later', async () => {
    slack.replyNext(slackRateLimited(2));
    const before = slack.requests.length;
    await post(webhook({ alertname: 'SlackRateLimited' })); // team-ops: email + Slack
    await waitFor(
      () => slack.delivered().find((r) => r.raw.includes('SlackRateLimited')),
      20_000,
      'Slack delivery',
    );
    const mine = slack.requests.slice(before).filter((r) => r.raw.includes('SlackRateLimited'));
    expect(mine.map((r) => r.status)).toEqual([429, 200]);
    expect(mine[1]!.at - mine[0]!.at).toBeGreaterThanOrEqual(2000);
  });

  it('Slack 500 is retried; 404 no_service is a dead letter', async () => {
    slack.replyNext(SLACK_SERVER_ERROR);
    const before = slack.requests.length;
    await post(webhook({ alertname: 'SlackFlaky' }));
    await waitFor(
      () => slack.delivered().find((r) => r.raw.includes('SlackFlaky')),
      20_000,
      'Slack after 500',
    );
    expect(
      slack.requests
        .slice(before)
        .filter((r) => r.raw.includes('SlackFlaky'))
        .map((r) => r.status),
    ).toEqual([500, 200]);

    slack.replyNext(SLACK_NO_SERVICE);
    await post(webhook({ alertname: 'SlackGone' }));
    const dead = await waitFor(
      async () => {
        const x = await find('slack', '[FIRING:1] SlackGone');
        return x?.status === 'dead' ? x : undefined;
      },
      20_000,
      'Slack dead letter',
    );
    expect(dead.last_error).toContain('404 no_service');
    expect(
      await metric('stackwatch_notifications_failed_total', { integration: 'slack', reason: 'permanent' }),
    ).toBe(1);
  });

  it('a stalled SMTP server does not block ingest', async () => {
    smtp.setDelay(60_000);
    try {
      // Fill every SMTP connection with a stalled message.
      await post(webhook({ alertname: 'Stall1', severity: 'warning' }));
      await post(webhook({ alertname: 'Stall2', severity: 'warning' }));
      await waitFor(() => smtp.inProgress() >= 2, 20_000, 'SMTP to stall');
      const answers = await pool(
        Array.from({ length: 50 }, (_, i) => webhook({ alertname: `WhileStalled${i}`, severity: 'warning' })),
        10,
        (b) => postWebhook(sw.url, b, TOKEN),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      expect(smtp.inProgress()).toBeGreaterThanOrEqual(2); // still stalled while ingest answered
      expect(smtp.mails.some((m) => m.subject.includes('Stall'))).toBe(false);
      expect(await metric('stackwatch_outbox_depth')).toBeGreaterThanOrEqual(50);
    } finally {
      smtp.setDelay(0);
    }
  });
});
