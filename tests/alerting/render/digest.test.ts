import { describe, expect, it } from 'vitest';
import { digestSections, renderDigest, type DigestItem } from '../../../src/alerting/render/digest.js';
import { SLACK_MAX_BLOCKS, SLACK_MAX_TEXT } from '../../../src/alerting/render/slack.js';
import type { NotificationContent } from '../../../src/alerting/model/notification.js';
import {
  DINGTALK_MAX_BODY,
  renderDingTalk,
  renderFeishu,
  renderWeCom,
} from '../../../src/alerting/render/robots.js';

const now = Date.parse('2026-12-01T10:53:00Z');
const RANK: Record<string, number> = { critical: 1, warning: 2, other: 3 };

/** A group's notification: `group` are its group labels (alertname included), `extra` the other common labels. */
function content(o: {
  name: string;
  group?: Record<string, string>;
  severity?: string;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  summary?: string;
  alerts?: number;
}): NotificationContent {
  const groupLabels = { alertname: o.name, ...o.group };
  const labels = { ...groupLabels, ...(o.severity ? { severity: o.severity } : {}) };
  const status = o.status ?? 'firing';
  return {
    kind: 'alert',
    status,
    groupKey: `{}:${JSON.stringify(groupLabels)}`,
    receiver: 'team-ops',
    amReceiver: 'team-ops',
    groupLabels,
    commonLabels: labels,
    commonAnnotations: o.summary ? { summary: o.summary } : {},
    externalURL: '',
    truncatedAlerts: 0,
    alerts: Array.from({ length: o.alerts ?? 1 }, (_, i) => ({
      status,
      labels: { ...labels, instance: `i-${i}` },
      annotations: {},
      startsAt: o.startsAt ?? '2026-12-01T10:41:00Z',
      endsAt: status === 'resolved' ? '2026-12-01T10:51:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: `${o.name}-${i}`,
    })),
    contacts: [],
  };
}

let nextId = 1;
const item = (c: NotificationContent, lane = c.commonLabels.severity ?? 'other'): DigestItem => ({
  id: nextId++,
  content: c,
  lane,
  rank: RANK[lane] ?? 3,
});

/** 300 groups of one alert that differ only in their `service` label, as after an SMTP outage. */
const byService = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    item(
      content({
        name: 'DurBars',
        severity: 'warning',
        group: { service: `svc-${String(i).padStart(3, '0')}` },
      }),
    ),
  );

describe('digests a person can act on', () => {
  it('names each group of one alert by the label that tells it apart, with its status and since when', () => {
    const d = renderDigest({ id: 'd1-300', items: byService(300), urgent: false, now });
    expect(d.subject).toBe('[DIGEST] 300 notifications: 300 firing — DurBars 300');
    expect(d.text).toContain('DurBars warning — 300 groups: 300 firing');
    // The email lists every group, each by its service; no two lines alike.
    const lines = d.text.split('\n').filter((l) => l.startsWith('  - '));
    expect(lines).toHaveLength(300);
    expect(new Set(lines).size).toBe(300);
    expect(lines[0]).toBe('  - service=svc-000: firing since 10:41 UTC (12m)');
    for (let i = 0; i < 300; i++) expect(d.text).toContain(`service=svc-${String(i).padStart(3, '0')}:`);
    // Slack names as many as fit, by service, and counts the rest by alert name.
    const slack = JSON.stringify(d.slack);
    expect(d.slackShown).toBeGreaterThan(100);
    expect(slack).toContain('service=svc-000: firing since 10:41 UTC (12m)');
    expect(slack).toContain(`+${300 - d.slackShown} more groups: DurBars ${300 - d.slackShown}`);
    expect(d.html).toContain('<li>service=svc-299: firing since 10:41 UTC (12m)</li>');
  });

  it('aggregates by alert name, most important first, and shows a group apart by all that differs', () => {
    const items = [
      item(content({ name: 'Load', group: { instance: 'a' }, status: 'resolved' })),
      item(content({ name: 'Load', group: { instance: 'b' }, alerts: 3, startsAt: '2026-11-30T22:00:00Z' })),
      item(content({ name: 'DiskFull', severity: 'warning', group: { instance: 'db1', mount: '/data' } })),
      item(content({ name: 'Storm0001', summary: 'Storm on i-1' })),
    ];
    const sections = digestSections(items, now);
    expect(sections.map((s) => [s.name, s.firing, s.resolved])).toEqual([
      ['DiskFull', 1, 0],
      ['Load', 1, 1],
      ['Storm0001', 1, 0],
    ]);
    // Firing before resolved; the day is named when it is not today's.
    expect(sections[1]!.entries.map((e) => [e.labels, e.state])).toEqual([
      ['instance=b', 'firing since 2026-11-30 22:00 UTC (12h53m), 3 alerts'],
      ['instance=a', 'resolved 10:51 UTC'],
    ]);
    const d = renderDigest({ id: 'd5-4', items, urgent: false, now });
    expect(d.subject).toBe(
      '[DIGEST] 4 notifications: 3 firing, 1 resolved — Load 2, DiskFull 1, Storm0001 1',
    );
    // A single group of an alert is one line.
    expect(d.text).toContain('DiskFull warning instance=db1 mount=/data — firing since 10:41 UTC (12m)');
    expect(d.text).toContain('Storm0001 — firing since 10:41 UTC (12m) — Storm on i-1');
    expect(d.text.indexOf('DiskFull warning instance')).toBeLessThan(
      d.text.indexOf('Load — 2 groups: 1 firing, 1 resolved'),
    );
  });

  it('names the full list with external_url as a link, without it as the console path and the API query', () => {
    const items = byService(3);
    const linked = renderDigest({
      id: 'd7-3',
      items,
      urgent: false,
      listUrl: 'https://sw.example/notifications?digest=d7-3',
      now,
    });
    expect(linked.text).toContain('Full list: https://sw.example/notifications?digest=d7-3');
    expect(linked.html).toContain('<a href="https://sw.example/notifications?digest=d7-3">Full list</a>');
    expect(JSON.stringify(linked.slack)).toContain(
      '<https://sw.example/notifications?digest=d7-3|Full list>',
    );
    const bare = renderDigest({ id: 'd7-3', items, urgent: false, now });
    const where =
      "Full list: /notifications?digest=d7-3 in stackwatch's console, or GET /api/v1/notifications?digest=d7-3";
    expect(bare.text).toContain(where);
    expect(JSON.stringify(bare.slack)).toContain(where);
    expect(bare.html).toContain('<code>/notifications?digest=d7-3</code>');
  });

  it('fits 600 groups into Slack limits with "+N more", and names every one in the email', () => {
    const items = Array.from({ length: 600 }, (_, i) =>
      item(content({ name: `Storm${String(i).padStart(4, '0')}`, status: i % 3 ? 'firing' : 'resolved' })),
    );
    const d = renderDigest({ id: 'd1-600', items, urgent: false, now });
    const blocks = d.slack.attachments[0]!.blocks;
    expect(blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
    for (const b of blocks) {
      const text = (b.text as { text?: string } | undefined)?.text ?? '';
      expect(text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT);
    }
    expect(JSON.stringify(d.slack).length).toBeLessThan(40_000);
    expect(d.slackShown).toBeGreaterThan(0);
    expect(JSON.stringify(blocks)).toContain(`+${600 - d.slackShown} more groups:`);
    for (let i = 0; i < 600; i++) expect(d.text).toContain(`Storm${String(i).padStart(4, '0')} — `);
    // Firing first, then the resolved ones.
    expect(d.text.indexOf('Storm0001 — firing')).toBeLessThan(d.text.indexOf('Storm0000 — resolved'));
  });

  it('an urgent digest names every critical in Slack and escapes alert content', () => {
    const crit = Array.from({ length: 200 }, (_, i) =>
      item(
        content({
          name: `Crit${i % 100}`,
          severity: 'critical',
          group: { instance: `host-${i}` },
          summary: i === 0 ? '<!channel> & <script>' : undefined,
        }),
      ),
    );
    const d = renderDigest({ id: 'd1-200', items: crit, urgent: true, now });
    expect(d.subject).toMatch(/^\[CRITICAL DIGEST\] 200 notifications/);
    expect(d.slackShown).toBe(200);
    const slackText = JSON.stringify(d.slack);
    for (let i = 0; i < 200; i++) expect(slackText).toContain(`instance=host-${i}:`);
    expect(slackText).not.toContain('<!channel>');
    expect(slackText).toContain('&lt;!channel&gt; &amp; &lt;script&gt;');
    expect(d.html).not.toContain('<script>');
  });

  it('a chat robot’s digest names the groups by the label that tells them apart, the rest counted, and where the full list is', () => {
    const d = renderDigest({ id: 'd2-600', items: byService(600), urgent: false, now });
    const ding = renderDingTalk({ digest: d });
    const text = ding.markdown.text;
    expect(Buffer.byteLength(JSON.stringify(ding))).toBeLessThanOrEqual(DINGTALK_MAX_BODY);
    expect(text).toContain('DurBars warning — 600 groups: 600 firing');
    expect(text).toContain('- service=svc-000: firing since 10:41 UTC (12m)');
    const named = [...text.matchAll(/- service=svc-(\d{3}): /g)].map((m) => m[1]);
    expect(new Set(named).size).toBe(named.length);
    expect(named.length).toBeGreaterThan(10);
    expect(text).toContain(`+${600 - named.length} more groups`);
    expect(text).toContain('/notifications?digest=d2-600');
    expect(text).toContain('Digest: d2-600');
    // Few groups: every one named, none counted.
    const small = renderDigest({ id: 'd3-3', items: byService(3), urgent: false, now });
    for (const render of [renderDingTalk, renderWeCom, renderFeishu]) {
      const body = JSON.stringify(render({ digest: small }));
      for (const svc of ['svc-000', 'svc-001', 'svc-002']) expect(body).toContain(`service=${svc}: firing`);
      expect(body).not.toContain('more group');
    }
  });
});
