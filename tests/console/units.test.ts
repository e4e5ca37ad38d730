import { describe, expect, it } from 'vitest';
import { ackLink, ackNote, signAckToken, signingKey, verifyAckToken } from '../../src/alerting/ack.js';
import { silenceBody } from '../../src/alerting/am-silence.js';
import { renderEmail, renderSlack } from '../../src/alerting/render.js';
import { testContent } from '../../src/alerting/send-test.js';
import { receiverSection } from '../../src/config/receiver.js';
import { h } from '../../src/console/html.js';
import { parseLabelLines } from '../../src/console/router.js';
import { cookieValue, csrfOk, csrfToken, newSession, readSession } from '../../src/console/session.js';

const KEY = 'unit-test-signing-key-0123456789';
const now = Date.parse('2026-12-01T10:00:00Z');

describe('Acknowledge link tokens', () => {
  const claims = {
    groupKey: '{}:{alertname="ApiDown"}',
    recipient: 'ops@example.com',
    expiresAt: now + 60_000,
  };

  it('verifies its own tokens and returns the claims', () => {
    expect(verifyAckToken(signAckToken(claims, KEY), KEY, now)).toEqual({ ok: true, claims });
  });

  it('refuses a token for another group under the same signature, another key, expiry, and junk', () => {
    const [payload, mac] = signAckToken(claims, KEY).split('.') as [string, string];
    const other = Buffer.from(
      JSON.stringify(['{}:{alertname="DbDown"}', claims.recipient, claims.expiresAt]),
    );
    expect(verifyAckToken(`${other.toString('base64url')}.${mac}`, KEY, now)).toEqual({
      ok: false,
      reason: 'forged',
    });
    expect(verifyAckToken(`${payload}.${mac}`, 'another-key-0123456789', now).ok).toBe(false);
    expect(verifyAckToken(`${payload}.${mac}`, KEY, claims.expiresAt)).toEqual({
      ok: false,
      reason: 'expired',
    });
    for (const junk of ['', 'abc', `${payload}.${mac}x`, `${'a'.repeat(5000)}.${mac}`, '<script>.x'])
      expect(verifyAckToken(junk, KEY, now)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('makes links only with external_url, valid for link_ttl', () => {
    const bare = receiverSection.parse({});
    expect(ackLink(bare, KEY, claims, now)).toBeUndefined();
    const cfg = receiverSection.parse({
      external_url: 'https://sw.example.com/',
      acknowledgement: { link_ttl: '1h' },
    });
    const link = ackLink(cfg, KEY, claims, now) as string;
    expect(link).toMatch(/^https:\/\/sw\.example\.com\/acknowledge\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const v = verifyAckToken(link.split('/').pop() as string, KEY, now);
    expect(v).toMatchObject({ ok: true, claims: { expiresAt: now + 3_600_000 } });
  });

  it('derives one signing key from the API token, so replicas agree', () => {
    const a = receiverSection.parse({ api_token: 't1' });
    expect(signingKey(a)).toBe(signingKey(receiverSection.parse({ api_token: 't1' })));
    expect(signingKey(a)).not.toBe(signingKey(receiverSection.parse({ api_token: 't2' })));
    expect(signingKey(a)).not.toContain('t1');
    expect(signingKey(receiverSection.parse({ acknowledgement: { secret: KEY } }))).toBe(KEY);
  });

  it('rejects a bad external_url naming the field', () => {
    const r = receiverSection.safeParse({ external_url: 'ftp://x' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues[0]?.path)).toBe('["external_url"]');
  });
});

describe('notifications carry the link or who acknowledged', () => {
  const content = testContent(receiverSection.parse({}), 'team-ops');
  const firing = { ...content, kind: 'alert' as const };

  it('renders an Acknowledge button in the email and in Slack', () => {
    const link = 'https://sw.example.com/acknowledge/abc.def';
    const mail = renderEmail({ ...firing, acknowledgement: { link } }, {}, now);
    expect(mail.html).toContain(`<a href="${link}"`);
    expect(mail.text).toContain(`Acknowledge: ${link}`);
    const blocks = renderSlack({ ...firing, acknowledgement: { link } }, now).attachments[0]!.blocks;
    // Right under the header and summary, before the alerts.
    const types = blocks.map((b) => b.type);
    expect(types.slice(0, 3)).toEqual(['header', 'section', 'actions']);
    expect(types.indexOf('actions')).toBeLessThan(types.indexOf('divider'));
    expect(blocks.find((b) => b.type === 'actions')).toEqual({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: 'acknowledge',
          style: 'primary',
          text: { type: 'plain_text', text: 'Acknowledge', emoji: false },
          url: link,
        },
      ],
    });
    // No link, no button.
    expect(renderSlack(firing, now).attachments[0]!.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('says who acknowledged, escaped, and makes no link of a javascript: URL', () => {
    const note = ackNote({ by: '<b>eve</b>', at: now });
    expect(note).toBe('Acknowledged by <b>eve</b> at 2026-12-01T10:00:00Z');
    const mail = renderEmail({ ...firing, acknowledgement: { note, link: 'javascript:alert(1)' } }, {}, now);
    expect(mail.html).toContain('Acknowledged by &lt;b&gt;eve&lt;/b&gt; at 2026-12-01T10:00:00Z.');
    expect(mail.html).not.toContain('javascript:');
    const slack = JSON.stringify(renderSlack({ ...firing, acknowledgement: { note } }, now));
    expect(slack).toContain('Acknowledged by &lt;b&gt;eve&lt;/b&gt;');
    const unsafe = renderSlack({ ...firing, acknowledgement: { link: 'javascript:alert(1)' } }, now);
    expect(JSON.stringify(unsafe)).not.toContain('javascript:');
  });
});

describe('console sessions, CSRF tokens and escaping', () => {
  it('accepts its own session cookie until it expires, and nothing altered', () => {
    const s = newSession(KEY, 'alice', now);
    expect(readSession(KEY, s.id, now + 1000)).toEqual(s);
    expect(readSession(KEY, s.id, s.expiresAt)).toBeUndefined();
    expect(readSession('other-key-0123456789', s.id, now)).toBeUndefined();
    const forgedUser = s.id.replace(/^[^.]+/, Buffer.from('admin').toString('base64url'));
    expect(readSession(KEY, forgedUser, now)).toBeUndefined();
    expect(readSession(KEY, 'x'.repeat(5000), now)).toBeUndefined();
  });

  it('binds CSRF tokens to one session', () => {
    const a = newSession(KEY, 'alice', now);
    const b = newSession(KEY, 'alice', now);
    expect(csrfOk(KEY, a.id, csrfToken(KEY, a.id))).toBe(true);
    expect(csrfOk(KEY, b.id, csrfToken(KEY, a.id))).toBe(false);
    expect(csrfOk(KEY, a.id, undefined)).toBe(false);
    expect(csrfOk(KEY, a.id, ['x'])).toBe(false);
  });

  it('reads one cookie from a Cookie header', () => {
    expect(cookieValue('a=1; stackwatch_session=abc.def; b=2', 'stackwatch_session')).toBe('abc.def');
    expect(cookieValue('a=1', 'stackwatch_session')).toBeUndefined();
  });

  it('escapes every interpolated value and keeps markup built with h', () => {
    const hostile = `"><script>alert(1)</script>`;
    expect(h`<td title="${hostile}">${[hostile, h`<b>${hostile}</b>`]}</td>`.text).toBe(
      '<td title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;<b>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</b></td>',
    );
  });

  it('parses route-test labels, one per line, naming a bad line', () => {
    expect(parseLabelLines('severity=critical\n service = "post gres" \n\n')).toEqual({
      severity: 'critical',
      service: 'post gres',
    });
    expect(parseLabelLines('0bad=x')).toBe('not a name=value line: "0bad=x"');
  });
});

describe('Alertmanager silence of an acknowledged group', () => {
  it('matches exactly the group labels', () => {
    expect(
      silenceBody({
        groupLabels: { service: 'postgres', alertname: 'PostgresDown' },
        startsAt: now,
        endsAt: now + 3_600_000,
        createdBy: 'carol',
        comment: 'on it',
      }),
    ).toEqual({
      matchers: [
        { name: 'alertname', value: 'PostgresDown', isRegex: false, isEqual: true },
        { name: 'service', value: 'postgres', isRegex: false, isEqual: true },
      ],
      startsAt: '2026-12-01T10:00:00.000Z',
      endsAt: '2026-12-01T11:00:00.000Z',
      createdBy: 'carol',
      comment: 'on it',
    });
  });
});
