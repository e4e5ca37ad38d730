import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyDingTalk } from '../../../src/alerting/channels/dingtalk.js';
import { classifyFeishu } from '../../../src/alerting/channels/feishu.js';
import { classifyWeCom } from '../../../src/alerting/channels/wecom.js';
import type { RobotReply } from '../../../src/alerting/channels/robot.js';
import { planWebhook } from '../../../src/alerting/ingest/plan.js';
import { sendTestNotifications } from '../../../src/alerting/channels/send-test.js';
import { parseWebhook } from '../../../src/alerting/ingest/payload.js';
import type { JobSpec } from '../../../src/alerting/model/notification.js';
import { buildSetup, channelFor, paceOf } from '../../../src/alerting/setup.js';
import { destinationOf } from '../../../src/alerting/model/destination.js';
import { receiverSection } from '../../../src/config/receiver.js';
import { createLogger } from '../../../src/logger.js';
import {
  DINGTALK_BAD_JSON,
  DINGTALK_SIGN_NOT_MATCH,
  DINGTALK_TOO_FAST,
  DINGTALK_TOO_LONG,
  startDingTalk,
  type DingTalkHandle,
} from '../../support/dingtalk.js';
import {
  FEISHU_BAD_REQUEST,
  FEISHU_SIGN_FAIL,
  FEISHU_TOO_MANY,
  startFeishu,
  type FeishuHandle,
} from '../../support/feishu.js';
import {
  WECOM_FREQ,
  WECOM_INVALID_URL,
  startWeCom,
  wecomTooLong,
  type WeComHandle,
} from '../../support/wecom.js';
import { webhook } from '../../support/webhooks.js';

const CONTACTS = [
  { role: 'oncall', title: 'On-Call', name: '王值班', phone: '138-0013-8000', feishu_user_id: 'ou_oncall' },
  { role: 'dba', title: 'DBA', name: '李', phone: '13800138001', feishu_user_id: 'ou_dba' },
  { role: 'devops', title: 'DevOps', name: '赵', phone: '' },
  { role: 'techlead', title: 'Tech Lead', name: '陈', phone: '13800138003' },
];

function parsed(body: unknown) {
  const r = parseWebhook(body);
  if (!r.ok) throw new Error(r.error);
  return r.webhook;
}

const reply = (status: number, body: unknown, headers: Record<string, string> = {}): RobotReply => ({
  status,
  headers: new Headers(headers),
  text: JSON.stringify(body),
});

describe('chat robots: signatures, mentions, limits, the services’ answers', () => {
  let dingtalk: DingTalkHandle;
  let wecom: WeComHandle;
  let feishu: FeishuHandle;
  beforeAll(async () => {
    [dingtalk, wecom, feishu] = await Promise.all([
      startDingTalk({ perMinute: 3 }),
      startWeCom(),
      startFeishu(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([dingtalk?.close(), wecom?.close(), feishu?.close()]);
  });

  /** The jobs of one webhook to a receiver with these robot settings, and the setup that delivers them. */
  function plan(
    target: Record<string, unknown>,
    w = webhook({ alertname: 'PostgresDown', severity: 'critical', labels: { service: 'postgres' } }),
  ) {
    const cfg = receiverSection.parse({
      contacts: CONTACTS,
      route: { receiver: 'team-db' },
      receivers: [{ name: 'team-db', ...target }],
    });
    const setup = buildSetup(cfg, createLogger('error'));
    const jobs = planWebhook(parsed(w), { ...setup, silences: [], now: Date.now() }).jobs;
    const deliver = (j: JobSpec) =>
      channelFor(setup, { ...j, receiver: j.content.receiver }).deliver({
        ...j,
        receiver: j.content.receiver,
        messageId: null,
        inReplyTo: null,
      });
    return { setup, jobs, deliver };
  }

  it('DingTalk: the signature stackwatch computes passes; a forged or missing one is refused as an authError', async () => {
    const url = dingtalk.addRobot('dt-sign', 'SEC-the-robots-secret');
    const signed = plan({
      channels: ['dingtalk'],
      dingtalk_webhook_url: url,
      dingtalk_secret: 'SEC-the-robots-secret',
    });
    expect(await signed.deliver(signed.jobs[0]!)).toEqual({ kind: 'success' });
    const forged = plan({
      channels: ['dingtalk'],
      dingtalk_webhook_url: url,
      dingtalk_secret: 'SEC-a-guess',
    });
    const missing = plan({ channels: ['dingtalk'], dingtalk_webhook_url: url });
    for (const p of [forged, missing])
      expect(await p.deliver(p.jobs[0]!)).toMatchObject({
        kind: 'failure',
        cause: 'authError',
        reason: expect.stringContaining('310000'),
      });
    const answers = dingtalk.requests.filter((r) => r.query.get('access_token') === 'dt-sign');
    expect(answers.map((r) => r.reply.errcode)).toEqual([0, 310000, 310000]);
    expect(answers[1]!.reply).toEqual(DINGTALK_SIGN_NOT_MATCH);
    expect(answers[2]!.query.has('sign')).toBe(false);
  });

  it('Feishu: the signature in the body passes; a forged or missing one is refused (19021) as an authError', async () => {
    const url = feishu.addBot('fs-sign', 'feishu-secret');
    const signed = plan({ channels: ['feishu'], feishu_webhook_url: url, feishu_secret: 'feishu-secret' });
    expect(await signed.deliver(signed.jobs[0]!)).toEqual({ kind: 'success' });
    const forged = plan({ channels: ['feishu'], feishu_webhook_url: url, feishu_secret: 'not-it' });
    const missing = plan({ channels: ['feishu'], feishu_webhook_url: url });
    for (const p of [forged, missing])
      expect(await p.deliver(p.jobs[0]!)).toMatchObject({
        kind: 'failure',
        cause: 'authError',
        reason: expect.stringContaining('19021'),
      });
    const answers = feishu.requests.filter((r) => r.path.endsWith('/fs-sign'));
    expect(answers.map((r) => r.reply.code)).toEqual([0, 19021, 19021]);
    expect(answers[1]!.reply).toEqual(FEISHU_SIGN_FAIL);
  });

  it('WeCom: a key the service does not know is an authError (93000)', async () => {
    const p = plan({
      channels: ['wecom'],
      wecom_webhook_url: `${wecom.addRobot('known').split('?')[0]}?key=unknown`,
    });
    expect(await p.deliver(p.jobs[0]!)).toMatchObject({
      kind: 'failure',
      cause: 'authError',
      reason: expect.stringMatching(/^WeCom errcode 93000: invalid webhook url$/),
    });
  });

  it('a critical notification mentions the people named on it: by mobile (DingTalk, WeCom) and by Feishu user id', async () => {
    const p = plan({
      channels: ['dingtalk', 'wecom', 'feishu'],
      dingtalk_webhook_url: dingtalk.addRobot('dt-mention'),
      wecom_webhook_url: wecom.addRobot('wc-mention'),
      feishu_webhook_url: feishu.addBot('fs-mention'),
    });
    for (const j of p.jobs) expect(await p.deliver(j)).toEqual({ kind: 'success' });
    const dt = dingtalk.delivered().find((r) => r.token === 'dt-mention')!.body as {
      markdown: { text: string };
      at: { atMobiles: string[]; isAtAll: boolean };
    };
    // On-call (critical) and the DBA (the postgres area), dashes taken out of the number.
    expect(dt.at).toEqual({ atMobiles: ['13800138000', '13800138001'], isAtAll: false });
    expect(dt.markdown.text).toContain('@13800138000 @13800138001');
    expect(dt.markdown.text).toContain('On-Call 王值班 · phone 138-0013-8000');
    const wc = wecom.delivered().find((r) => r.key === 'wc-mention')!.body as {
      msgtype: string;
      text: { content: string; mentioned_mobile_list: string[] };
    };
    expect(wc.msgtype).toBe('text');
    expect(wc.text.mentioned_mobile_list).toEqual(['13800138000', '13800138001']);
    expect(wc.text.content).toMatch(/^\[FIRING:1\] PostgresDown critical/);
    const fs = feishu.delivered().find((r) => r.bot === 'fs-mention')!.raw;
    expect(fs).toContain('<at id=ou_oncall></at> <at id=ou_dba></at>');
  });

  it('a warning mentions no one (WeCom as markdown), and an alert’s text cannot write a mention or a tag', async () => {
    const p = plan(
      {
        channels: ['dingtalk', 'wecom', 'feishu'],
        dingtalk_webhook_url: dingtalk.addRobot('dt-warn'),
        wecom_webhook_url: wecom.addRobot('wc-warn'),
        feishu_webhook_url: feishu.addBot('fs-warn'),
      },
      webhook({
        alertname: 'DiskFilling',
        severity: 'warning',
        annotations: { summary: 'disk <at id=all></at> <@all> full' },
      }),
    );
    for (const j of p.jobs) expect(await p.deliver(j)).toEqual({ kind: 'success' });
    const dt = dingtalk.delivered().find((r) => r.token === 'dt-warn')!.body as {
      at: { atMobiles: string[] };
    };
    expect(dt.at.atMobiles).toEqual([]);
    const wc = wecom.delivered().find((r) => r.key === 'wc-warn')!.body as {
      msgtype: string;
      markdown: { content: string };
    };
    expect(wc.msgtype).toBe('markdown');
    expect(wc.markdown.content).not.toContain('<@all>');
    const fs = feishu.delivered().find((r) => r.bot === 'fs-warn')!.raw;
    expect(fs).not.toContain('<at id=all>');
    expect(fs).toContain('&lt;at id=all&gt;');
  });

  it('a group of 300 alerts with long descriptions stays within each service’s size limit, the rest counted', async () => {
    const big = webhook({
      alertname: 'ManyDown',
      severity: 'critical',
      instances: Array.from({ length: 300 }, (_, i) => `host-${i}`),
      annotations: { description: '数据库连接失败。'.repeat(200) },
    });
    const p = plan(
      {
        channels: ['dingtalk', 'wecom', 'feishu'],
        dingtalk_webhook_url: dingtalk.addRobot('dt-big'),
        wecom_webhook_url: wecom.addRobot('wc-big'),
        feishu_webhook_url: feishu.addBot('fs-big'),
      },
      big,
    );
    for (const j of p.jobs) expect(await p.deliver(j), j.channel).toEqual({ kind: 'success' });
    const dt = dingtalk.delivered().find((r) => r.token === 'dt-big')!;
    expect(Buffer.byteLength(dt.raw)).toBeLessThanOrEqual(20_000);
    expect(dt.raw).toMatch(/\+\d+ more alerts/);
    const wc = wecom.delivered().find((r) => r.key === 'wc-big')!.body as { text: { content: string } };
    expect(Buffer.byteLength(wc.text.content)).toBeLessThanOrEqual(2048);
    const fs = feishu.delivered().find((r) => r.bot === 'fs-big')!;
    expect(Buffer.byteLength(fs.raw)).toBeLessThanOrEqual(20 * 1024);
    expect(fs.raw).toMatch(/\+\d+ more alerts/);
  });

  it('DingTalk past 20 a minute: 130101, and the robot is refused for 10 minutes: stackwatch pauses that robot 10 minutes', async () => {
    const url = dingtalk.addRobot('dt-fast');
    const p = plan({ channels: ['dingtalk'], dingtalk_webhook_url: url });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await p.deliver(p.jobs[0]!));
    // This fake robot takes 3 a minute: the 4th is refused, and so is the 5th (the refusal lasts).
    expect(results.slice(0, 3)).toEqual([{ kind: 'success' }, { kind: 'success' }, { kind: 'success' }]);
    for (const r of results.slice(3))
      expect(r).toEqual({
        kind: 'retryable',
        retryAfterMs: 600_000,
        cause: 'rateLimited',
        reason: 'DingTalk errcode 130101: send too fast, exceed 20 times per minute',
      });
    expect(
      dingtalk
        .refusals()
        .filter((r) => r.query.get('access_token') === 'dt-fast')
        .map((r) => r.reply),
    ).toEqual([DINGTALK_TOO_FAST, DINGTALK_TOO_FAST]);
  });

  it('reads each service’s answers: rate limits wait, bad signatures are authError, content errors are dead letters', () => {
    expect(classifyDingTalk(reply(200, DINGTALK_TOO_LONG))).toMatchObject({
      kind: 'failure',
      cause: 'clientError',
    });
    expect(classifyDingTalk(reply(200, DINGTALK_BAD_JSON))).toMatchObject({
      kind: 'failure',
      cause: 'clientError',
    });
    expect(classifyDingTalk(reply(200, { errcode: -1, errmsg: '系统繁忙' }))).toMatchObject({
      kind: 'retryable',
      cause: 'serverError',
    });
    expect(classifyDingTalk(reply(502, { message: 'bad gateway' }))).toMatchObject({
      kind: 'retryable',
      cause: 'serverError',
    });
    expect(classifyWeCom(reply(200, WECOM_FREQ))).toMatchObject({
      kind: 'retryable',
      retryAfterMs: 60_000,
      cause: 'rateLimited',
    });
    expect(classifyWeCom(reply(200, WECOM_INVALID_URL))).toMatchObject({
      kind: 'failure',
      cause: 'authError',
    });
    expect(classifyWeCom(reply(200, wecomTooLong('markdown.content', 4096)))).toMatchObject({
      kind: 'failure',
      cause: 'clientError',
    });
    expect(classifyFeishu(reply(400, FEISHU_TOO_MANY))).toMatchObject({
      kind: 'retryable',
      cause: 'rateLimited',
    });
    expect(classifyFeishu(reply(400, FEISHU_TOO_MANY, { 'x-ogw-ratelimit-reset': '12' }))).toMatchObject({
      retryAfterMs: 12_000,
    });
    expect(classifyFeishu(reply(200, { code: 11232, msg: 'frequency limited' }))).toMatchObject({
      kind: 'retryable',
      cause: 'rateLimited',
    });
    expect(classifyFeishu(reply(400, FEISHU_BAD_REQUEST))).toMatchObject({
      kind: 'failure',
      cause: 'clientError',
    });
    expect(classifyFeishu(reply(200, { code: 19024, msg: 'Key Words Not Found' }))).toMatchObject({
      kind: 'failure',
      cause: 'clientError',
    });
  });

  it('receivers sharing a robot are one destination with one budget, named without the URL', () => {
    const url = 'https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef';
    const cfg = receiverSection.parse({
      contacts: CONTACTS,
      route: { receiver: 'a' },
      receivers: [
        { name: 'a', channels: ['dingtalk'], dingtalk_webhook_url: url, dingtalk_secret: 'S' },
        { name: 'b', channels: ['dingtalk'], dingtalk_webhook_url: url, dingtalk_secret: 'S' },
      ],
    });
    const setup = buildSetup(cfg, createLogger('error'));
    const named = cfg.receivers.map(
      (r) => setup.robots.robotFor('dingtalk', { recipients: [], receiver: r.name })!.name,
    );
    expect(named[0]).toBe(named[1]);
    expect(named[0]).toMatch(/^dingtalk:[0-9a-f]{16}$/);
    const dest = destinationOf({ channel: 'dingtalk', recipients: [named[0]!], slackWebhook: null });
    const pace = paceOf(setup, 'dingtalk', dest, 1);
    expect(pace).toEqual({ key: named[0], budget: { rate: 0.25, burst: 4 } });
    expect(JSON.stringify(pace)).not.toContain('0123456789abcdef');
    // A robot's secret belongs to the robot: two receivers cannot disagree on it.
    expect(() =>
      receiverSection.parse({
        contacts: CONTACTS,
        route: { receiver: 'a' },
        receivers: [
          { name: 'a', channels: ['dingtalk'], dingtalk_webhook_url: url, dingtalk_secret: 'S' },
          { name: 'b', channels: ['dingtalk'], dingtalk_webhook_url: url, dingtalk_secret: 'T' },
        ],
      }),
    ).toThrow(/share a robot but not its dingtalk_secret/);
  });

  it('send-test sends one test message to each robot, signed, mentioning no one', async () => {
    const { setup } = plan({
      channels: ['dingtalk', 'feishu'],
      dingtalk_webhook_url: dingtalk.addRobot('dt-test', 'SEC-t'),
      dingtalk_secret: 'SEC-t',
      feishu_webhook_url: feishu.addBot('fs-test', 'fs-t'),
      feishu_secret: 'fs-t',
    });
    const results = await sendTestNotifications(setup, { closeAfter: true });
    expect(
      results
        .filter((r) => r.channel === 'dingtalk' || r.channel === 'feishu')
        .map((r) => [r.channel, r.mode, r.result]),
    ).toEqual([
      ['dingtalk', 'robot', { kind: 'success' }],
      ['feishu', 'robot', { kind: 'success' }],
    ]);
    const dt = dingtalk.delivered().find((r) => r.token === 'dt-test')!.body as {
      markdown: { title: string };
      at: { atMobiles: string[] };
    };
    expect(dt.markdown.title).toBe('[TEST] stackwatch test notification');
    expect(dt.at.atMobiles).toEqual([]);
    expect(feishu.delivered().some((r) => r.bot === 'fs-test')).toBe(true);
  });
});
