import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DINGTALK_TOO_FAST, startDingTalk, type DingTalkHandle } from '../../support/dingtalk.js';
import { matching } from '../../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';

const TOKEN = 'pause-token';

describe('a DingTalk robot that refuses (130101) pauses alone for its 10 minutes', () => {
  let dingtalk: DingTalkHandle;
  let sw: StackwatchHandle | undefined;
  beforeAll(async () => {
    // A robot whose group takes only 1 message a minute (another sender uses it too, say).
    dingtalk = await startDingTalk({ perMinute: 1 });
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await dingtalk?.close();
  });

  it('the refused robot is not tried again while the other robot goes on; nothing is lost', async () => {
    const team = dingtalk.addRobot('dt-team');
    const critical = dingtalk.addRobot('dt-critical');
    sw = await startStackwatch({
      config: `receiver:
  webhook_token: ${TOKEN}
  escalation: { enabled: false }
  receivers:
    - { name: team-ops, channels: [dingtalk], dingtalk_webhook_url: '${team}' }
    - { name: team-ops-critical, channels: [dingtalk], dingtalk_webhook_url: '${critical}' }
    - { name: team-ops-warning, channels: [dingtalk], dingtalk_webhook_url: '${team}' }
`,
    });
    const onTeam = () => dingtalk.requests.filter((r) => r.query.get('access_token') === 'dt-team');
    await postWebhook(sw.url, webhook({ alertname: 'First', severity: 'warning' }), TOKEN);
    await waitFor(() => onTeam().length === 1, 20_000, 'the first message');
    await postWebhook(sw.url, webhook({ alertname: 'Second', severity: 'warning' }), TOKEN);
    await waitFor(() => onTeam().length === 2, 20_000, 'the refused message');
    expect(onTeam().map((r) => r.reply)).toEqual([{ errcode: 0, errmsg: 'ok' }, DINGTALK_TOO_FAST]);
    await postWebhook(sw.url, webhook({ alertname: 'Third', severity: 'warning' }), TOKEN);
    // A critical on the other robot arrives at once, after the third was recorded…
    await postWebhook(sw.url, webhook({ alertname: 'Urgent', severity: 'critical' }), TOKEN);
    await waitFor(
      () => dingtalk.delivered().some((r) => r.token === 'dt-critical' && r.raw.includes('Urgent')),
      20_000,
      'the critical on its own robot',
    );
    // …while the refused robot was not tried again: DingTalk would refuse it for 10 minutes.
    expect(onTeam()).toHaveLength(2);
    const pending = await (
      await fetch(`${sw.url}/api/v1/notifications?status=pending`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json();
    expect(
      (pending as { notifications: { subject: string; last_error: string | null }[] }).notifications
        .map((n) => n.subject)
        .sort(),
    ).toEqual(['[FIRING:1] Second warning', '[FIRING:1] Third warning']);
    const logs = sw.logs();
    expect(logs).toMatch(
      /"destination":"dingtalk:[0-9a-f]{16}","retry_after_ms":600000[^\n]*"msg":"destination is rate-limiting; pausing it"/,
    );
    expect(logs).not.toContain('dt-team');
    const metrics = await (await fetch(`${sw.url}/metrics`)).text();
    expect(
      matching(metrics, 'stackwatch_notification_errors_total', {
        integration: 'dingtalk',
        reason: 'rateLimited',
      })[0]?.value,
    ).toBe(1);
  });
});
