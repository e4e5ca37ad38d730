import { describe, expect, it } from 'vitest';
import { h } from '../../src/console/html.js';
import { parseLabelLines } from '../../src/console/router.js';
import { cookieValue, csrfOk, csrfToken, newSession, readSession } from '../../src/console/session.js';
const KEY = 'unit-test-signing-key-0123456789';
const now = Date.parse('2026-12-01T10:00:00Z');

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
