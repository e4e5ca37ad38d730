import { describe, expect, it } from 'vitest';
import { ContactBook } from '../../../src/alerting/ingest/contacts.js';
import type { Alert } from '../../../src/alerting/ingest/payload.js';
import { planWebhook } from '../../../src/alerting/ingest/plan.js';
import { Redactor } from '../../../src/alerting/ingest/redact.js';
import { escapeSlack, headerSafe } from '../../../src/alerting/render/escape.js';
import { renderEmail } from '../../../src/alerting/render/email.js';
import { renderSlack, SLACK_MAX_BLOCKS, SLACK_MAX_TEXT } from '../../../src/alerting/render/slack.js';
import { subjectOf } from '../../../src/alerting/render/text.js';
import { Router } from '../../../src/alerting/ingest/routing.js';
import type { NotificationContent } from '../../../src/alerting/model/notification.js';
import { receiverSection } from '../../../src/config/receiver.js';

const cfg = receiverSection.parse({});
const book = new ContactBook(cfg);

function alert(
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
  status: Alert['status'] = 'firing',
): Alert {
  return {
    status,
    labels,
    annotations,
    startsAt: '2026-11-22T10:00:00Z',
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-22T10:05:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
    fingerprint: Math.random().toString(16).slice(2),
  };
}

function content(alerts: Alert[], extra: Partial<NotificationContent> = {}): NotificationContent {
  const common =
    alerts.length === 1
      ? alerts[0]!.labels
      : { alertname: alerts[0]!.labels.alertname!, severity: alerts[0]!.labels.severity! };
  return {
    kind: 'alert',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    groupKey: '{}:{alertname="X"}',
    receiver: 'team-ops-critical',
    amReceiver: 'team-ops-critical',
    groupLabels: {},
    commonLabels: common,
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    truncatedAlerts: 0,
    alerts,
    contacts: book.responsible(alerts),
    ...extra,
  };
}

const HOSTILE = {
  alertname: 'Disk\r\nBcc: victim@evil.example\r\nX-Injected: 1',
  severity: 'critical\nSubject: pwned',
  service: 'postgres',
  instance: '<script>alert(1)</script> & <!channel> <@U123|x>',
};

describe('email rendering', () => {
  it('builds the subject like Alertmanager and threads by Message-ID', () => {
    const c = content([
      alert({ alertname: 'DiskSpaceLow', severity: 'critical' }),
      alert({ alertname: 'DiskSpaceLow', severity: 'critical' }),
    ]);
    expect(subjectOf(c)).toBe('[FIRING:2] DiskSpaceLow critical');
    const r = content([alert({ alertname: 'DiskSpaceLow', severity: 'critical' }, {}, 'resolved')]);
    expect(subjectOf(r)).toBe('[RESOLVED] DiskSpaceLow critical');
    const mail = renderEmail(r, { messageId: '<b@x>', inReplyTo: '<a@x>' });
    expect(mail.headers).toEqual({ 'Message-ID': '<b@x>', 'In-Reply-To': '<a@x>', References: '<a@x>' });
  });

  it('strips CR/LF from the subject and escapes HTML', () => {
    const c = content([
      alert(HOSTILE, { summary: '<img src=x onerror=alert(1)>', runbook_url: 'javascript:alert(1)' }),
    ]);
    const mail = renderEmail(c, { messageId: '<id\r\nBcc: x@y>' });
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toBe(
      '[FIRING:1] Disk Bcc: victim@evil.example X-Injected: 1 critical Subject: pwned',
    );
    expect(mail.headers['Message-ID']).not.toMatch(/[\r\n]/);
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toMatch(/href="javascript:/);
    expect(mail.text).toContain('<script>alert(1)</script>'); // plain text shows it as text
  });

  it('names the responsible contacts with name, phone and email', () => {
    const mail = renderEmail(
      content([alert({ alertname: 'PostgresDown', severity: 'critical', service: 'postgres' })]),
      {},
    );
    for (const s of [
      '值班',
      '13800138000',
      'oncall@company.com',
      '数据库管理员',
      '13800138001',
      'dba@company.com',
    ]) {
      expect(mail.text).toContain(s);
      expect(mail.html).toContain(s);
    }
  });
});

describe('Slack rendering', () => {
  it('escapes &, <, > in every text and only links http(s) URLs', () => {
    const c = content([
      alert(HOSTILE, { summary: 'a <b> & c', runbook_url: 'javascript:alert(1)', description: '<!here>' }),
    ]);
    const msg = renderSlack(c);
    const texts: string[] = [msg.text];
    const walk = (v: unknown) => {
      if (typeof v === 'string') return;
      if (Array.isArray(v)) return v.forEach(walk);
      if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'text' && typeof x === 'string') texts.push(x);
          else walk(x);
        }
    };
    walk(msg.attachments);
    const all = texts.join('\n');
    expect(all).not.toContain('<script>');
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<!here>');
    expect(all).not.toContain('<@U123');
    expect(all).toContain('&lt;script&gt;');
    expect(all).toContain('a &lt;b&gt; &amp; c');
    expect(all).not.toContain('javascript:');
    expect(all).toContain('<http://prometheus:9090/graph?g0.expr=up|Source>');
    expect(escapeSlack('a&b<c>d')).toBe('a&amp;b&lt;c&gt;d');
  });

  it('colours by severity and status, names contacts', () => {
    expect(
      renderSlack(content([alert({ alertname: 'A', severity: 'critical' })])).attachments[0]!.color,
    ).toBe('#d00000');
    expect(renderSlack(content([alert({ alertname: 'A', severity: 'warning' })])).attachments[0]!.color).toBe(
      '#daa038',
    );
    expect(
      renderSlack(content([alert({ alertname: 'A', severity: 'critical' }, {}, 'resolved')])).attachments[0]!
        .color,
    ).toBe('#2eb886');
    const msg = JSON.stringify(
      renderSlack(content([alert({ alertname: 'RedisDown', severity: 'critical', service: 'redis' })])),
    );
    for (const s of ['值班', '13800138000', '数据库管理员', 'dba@company.com']) expect(msg).toContain(s);
  });

  it('cuts oversized groups to 50 blocks and 3000 characters with a "+N more" line', () => {
    const many = Array.from({ length: 120 }, (_, i) =>
      alert(
        { alertname: 'HostDown', severity: 'critical', instance: `host-${i}` },
        { description: 'x'.repeat(5000) },
      ),
    );
    const msg = renderSlack(content(many, { truncatedAlerts: 5 }));
    const blocks = msg.attachments[0]!.blocks;
    expect(blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
    for (const b of blocks) {
      const t = (b.text as { text?: string } | undefined)?.text;
      if (t) expect(t.length).toBeLessThanOrEqual(SLACK_MAX_TEXT);
    }
    const shown = blocks.filter((b) => JSON.stringify(b).includes('host-')).length;
    const more = JSON.stringify(blocks).match(/\+(\d+) more alerts/);
    expect(Number(more?.[1])).toBe(120 - shown + 5);
  });
});

describe('redaction end to end through plan and render', () => {
  it('never renders a sensitive value', () => {
    const router = new Router(cfg);
    const webhook = {
      version: '4' as const,
      groupKey: '{}:{alertname="Leak"}',
      truncatedAlerts: 0,
      status: 'firing' as const,
      receiver: 'x',
      groupLabels: {},
      commonLabels: { password: 'p4ss' },
      commonAnnotations: { Authorization: 'Bearer abc.def' },
      externalURL: '',
      alerts: [
        alert(
          { alertname: 'Leak', severity: 'critical', api_key: 'sk-live-1', Private_Key: '-----BEGIN' },
          { secret_note: 's3cr3t' },
        ),
      ],
    };
    const rec = planWebhook(webhook, {
      router,
      book,
      redactor: new Redactor(cfg.redact),
      silences: [],
      now: Date.now(),
      mailDomain: 'x',
    });
    const out = rec.jobs
      .map((j) => JSON.stringify(renderSlack(j.content)) + JSON.stringify(renderEmail(j.content, {})))
      .join();
    for (const s of ['p4ss', 'abc.def', 'sk-live-1', '-----BEGIN', 's3cr3t']) expect(out).not.toContain(s);
    expect(out).toContain('[REDACTED]');
    expect(headerSafe('a\u2028b\u0085c\td')).toBe('a b c d');
  });
});
