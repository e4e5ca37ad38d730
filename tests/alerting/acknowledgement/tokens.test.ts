import { describe, expect, it } from 'vitest';
import {
  ackLink,
  signAckToken,
  signingKey,
  verifyAckToken,
} from '../../../src/alerting/acknowledgement/tokens.js';
import { receiverSection } from '../../../src/config/receiver.js';
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
