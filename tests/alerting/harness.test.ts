import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type AlertmanagerHandle } from '../support/alertmanager.js';
import { SLACK_NO_SERVICE, slackRateLimited, startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import { waitFor } from '../support/util.js';

describe('test harnesses', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let am: AlertmanagerHandle;

  beforeAll(async () => {
    [smtp, slack, am] = await Promise.all([
      startSmtp(),
      startSlack(),
      startAlertmanager(`route:
  receiver: blackhole
receivers:
  - name: blackhole
`),
    ]);
  });
  afterAll(async () => {
    await Promise.all([smtp?.close(), slack?.close(), am?.stop()]);
  });

  it('SMTP server: receives and parses mail, faults on demand, stops and starts on the same port', async () => {
    const send = (subject: string) =>
      nodemailer.createTransport({ url: smtp.url }).sendMail({
        from: 'a@x.test',
        to: ['b@x.test', 'c@x.test'],
        subject,
        text: '值班 13800138000',
        html: '<p>値</p>',
        messageId: '<m1@x.test>',
        inReplyTo: '<m0@x.test>',
      });
    await send('[FIRING:1] Über alert');
    const m = smtp.mails[0]!;
    expect(m.to).toEqual(['b@x.test', 'c@x.test']);
    expect(m.subject).toBe('[FIRING:1] Über alert');
    expect(m.messageId).toBe('<m1@x.test>');
    expect(m.inReplyTo).toBe('<m0@x.test>');
    expect(m.text).toContain('值班 13800138000');
    expect(m.html).toContain('<p>値</p>');

    smtp.failNext(451, 1, 'try later');
    await expect(send('x')).rejects.toMatchObject({ responseCode: 451 });
    smtp.failNext(550, 1, 'no such user');
    await expect(send('x')).rejects.toMatchObject({ responseCode: 550 });
    await send('y');
    expect(smtp.mails.map((x) => x.subject)).toEqual(['[FIRING:1] Über alert', 'y']);

    await smtp.stop();
    await expect(send('z')).rejects.toMatchObject({ code: 'ESOCKET' });
    await smtp.start();
    await send('z');
    expect(smtp.mails).toHaveLength(3);
  });

  it('Slack fake: answers ok, 429 with Retry-After, 404 no_service, and records bodies and times', async () => {
    slack.replyNext(slackRateLimited(2), SLACK_NO_SERVICE);
    const post = () => fetch(slack.url, { method: 'POST', body: JSON.stringify({ text: 'hi' }) });
    const r1 = await post();
    expect([r1.status, r1.headers.get('retry-after'), await r1.text()]).toEqual([429, '2', 'rate_limited']);
    const r2 = await post();
    expect([r2.status, await r2.text()]).toEqual([404, 'no_service']);
    const r3 = await post();
    expect([r3.status, await r3.text()]).toEqual([200, 'ok']);
    expect(slack.requests.map((r) => r.status)).toEqual([429, 404, 200]);
    expect(slack.delivered()[0]!.body).toEqual({ text: 'hi' });
    expect(slack.requests[2]!.at).toBeGreaterThanOrEqual(slack.requests[0]!.at);
  });

  it('Alertmanager: a real 0.25 accepts alerts through POST /api/v2/alerts', async () => {
    await am.postAlerts([{ labels: { alertname: 'HarnessSmoke', severity: 'warning' } }]);
    const alerts = await waitFor(async () => {
      const a = await am.alerts();
      return a.length ? a : undefined;
    });
    expect(alerts[0]!.labels.alertname).toBe('HarnessSmoke');
    expect(alerts[0]!.status.state).toBe('active');
  });
});
