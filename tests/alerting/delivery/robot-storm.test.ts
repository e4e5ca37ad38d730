import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDingTalk, type DingTalkHandle } from '../../support/dingtalk.js';
import { matching } from '../../support/exposition.js';
import { startFeishu, type FeishuHandle } from '../../support/feishu.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import {
  chatMessages,
  criticalName,
  deliveryCounts,
  notOnce,
  outboxDrained,
  postStorm,
  received,
  resolvedBeforeFiring,
  STORM_CRITICALS as CRITICALS,
  STORM_GROUPS as GROUPS,
  stormConfig,
  stormName,
  timeToCritical,
  type ChatMessage,
} from '../../support/storm.js';
import { startWeCom, type WeComHandle } from '../../support/wecom.js';

const ONCALL_MOBILE = '13800138000';
const ONCALL_FEISHU = 'ou_oncall';

/**
 * Both receivers share one DingTalk robot and one Feishu bot (one group each); WeCom has a
 * robot per receiver. The default pacing, lanes and digests.
 */
const config = (urls: { dingtalk: string; wecomTeam: string; wecomCritical: string; feishu: string }) =>
  stormConfig(
    '2s',
    `  contacts:
    - { role: oncall, title: On-Call, name: 王值班, phone: '${ONCALL_MOBILE}', feishu_user_id: ${ONCALL_FEISHU} }
    - { role: dba, title: DBA, name: 数据库管理员, phone: '13800138001' }
    - { role: devops, title: DevOps, name: 运维工程师, phone: '13800138002' }
    - { role: techlead, title: Tech Lead, name: 技术负责人, phone: '13800138003' }
  receivers:
    - name: team-ops
      channels: [dingtalk, wecom, feishu]
      dingtalk_webhook_url: '${urls.dingtalk}'
      dingtalk_secret: SEC-storm
      wecom_webhook_url: '${urls.wecomTeam}'
      feishu_webhook_url: '${urls.feishu}'
      feishu_secret: feishu-storm
    - name: team-ops-critical
      channels: [dingtalk, wecom, feishu]
      dingtalk_webhook_url: '${urls.dingtalk}'
      dingtalk_secret: SEC-storm
      wecom_webhook_url: '${urls.wecomCritical}'
      feishu_webhook_url: '${urls.feishu}'
      feishu_secret: feishu-storm
    - { name: team-ops-warning, channels: [email], recipients: [ops@your-company.com] }
`,
  );

async function metric(sw: StackwatchHandle, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${sw.url}/metrics`)).text();
  return matching(text, name, labels).reduce((n, s) => n + s.value, 0);
}

describe('alert storm on chat robots: 300 groups then 10 criticals against DingTalk, WeCom and Feishu limits', () => {
  let dingtalk: DingTalkHandle;
  let wecom: WeComHandle;
  let feishu: FeishuHandle;
  let sw: StackwatchHandle | undefined;

  beforeAll(async () => {
    [dingtalk, wecom, feishu] = await Promise.all([startDingTalk(), startWeCom(), startFeishu()]);
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await Promise.all([dingtalk?.close(), wecom?.close(), feishu?.close()]);
  });

  it('no refusal provoked; criticals first with the on-call person mentioned; every group once; never resolved before firing', async () => {
    const urls = {
      dingtalk: dingtalk.addRobot('dt-ops', 'SEC-storm'),
      wecomTeam: wecom.addRobot('wc-team'),
      wecomCritical: wecom.addRobot('wc-critical'),
      feishu: feishu.addBot('fs-ops', 'feishu-storm'),
    };
    sw = await startStackwatch({ config: config(urls) });

    const firing = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS });
    expect(firing.codes.every((c) => c === 200)).toBe(true);
    const resolved = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS, status: 'resolved' });
    expect(resolved.codes.every((c) => c === 200)).toBe(true);
    await outboxDrained(sw.url, 180_000);

    // The services never refused a message: no 130101 (and its 10 minutes), no 45009, no 9499.
    expect(dingtalk.refusals().map((r) => r.reply)).toEqual([]);
    expect(wecom.refusals().map((r) => r.reply)).toEqual([]);
    expect(feishu.refusals().map((r) => r.reply)).toEqual([]);
    expect(await metric(sw, 'stackwatch_notification_errors_total')).toBe(0);

    const msgs: ChatMessage[] = chatMessages({ dingtalk, wecom, feishu });
    const { received: rs, digestSizes } = await received(sw.url, msgs);
    const counts = deliveryCounts(rs);
    const statuses = ['firing', 'resolved'] as const;
    const storm = (dest: string) =>
      statuses.flatMap((st) => Array.from({ length: GROUPS }, (_, i) => `${dest} ${stormName(i)} ${st}`));
    const crit = (dest: string) =>
      statuses.flatMap((st) =>
        Array.from({ length: CRITICALS }, (_, i) => `${dest} ${criticalName(i)} ${st}`),
      );
    // Exactly once on each robot, alone or in a digest: the shared robots carry both receivers'.
    expect(notOnce(counts, [...storm('dingtalk dt-ops'), ...crit('dingtalk dt-ops')])).toEqual([]);
    expect(notOnce(counts, [...storm('feishu fs-ops'), ...crit('feishu fs-ops')])).toEqual([]);
    expect(notOnce(counts, storm('wecom wc-team'))).toEqual([]);
    expect(notOnce(counts, crit('wecom wc-critical'))).toEqual([]);
    expect(rs.length).toBe((GROUPS + CRITICALS) * 2 * 3);
    expect(resolvedBeforeFiring(rs)).toEqual([]);
    for (const m of msgs.filter((x) => x.digest)) {
      const n = Number(/(\d+) notifications?/.exec(m.subject)?.[1]);
      expect(n, m.subject).toBe(digestSizes.get(m.digest as string));
    }

    // Every critical firing reached each robot within 5 s of its 2xx, in a message that
    // mentions the on-call person (by mobile, or by Feishu user id).
    const robots = [
      ['dingtalk', 'dt-ops', ONCALL_MOBILE],
      ['wecom', 'wc-critical', ONCALL_MOBILE],
      ['feishu', 'fs-ops', ONCALL_FEISHU],
    ] as const;
    const times: string[] = [];
    for (const [channel, dest, who] of robots) {
      const t = timeToCritical(
        rs,
        firing.criticalAcceptedAt,
        (r) => r.channel === channel && r.destination === dest,
      );
      times.push(`${channel} ${t.map((x) => x.toFixed(1)).join(' ')} s`);
      expect(
        t.filter((x) => !(x < 5)),
        `${channel}: seconds to each critical`,
      ).toEqual([]);
      for (const r of rs.filter(
        (x) => x.channel === channel && x.destination === dest && x.status === 'firing',
      ))
        if (r.alertname.startsWith('Crit')) {
          const m = msgs.filter((x) => x.channel === channel && x.destination === dest)[r.message]!;
          expect(m.mentions, `${channel} ${r.alertname}`).toContain(who);
        }
    }
    // Nothing else pages: the storm's own messages (no severity) mention no one.
    for (const m of msgs.filter((x) => !x.digest && x.subject.includes('Storm')))
      expect(m.mentions).toEqual([]);

    const perRobot = (c: string) => msgs.filter((m) => m.channel === c).length;
    console.log(
      `robot storm: DingTalk ${perRobot('dingtalk')}, WeCom ${perRobot('wecom')}, Feishu ${perRobot('feishu')} messages for ${(GROUPS + CRITICALS) * 2} notifications each; time to critical: ${times.join('; ')}`,
    );
  }, 240_000);
});
