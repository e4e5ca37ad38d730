import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture, ALERTMANAGER_FIXTURES } from '../../support/webhooks.js';
import { decodeJson, parseWebhook } from '../../../src/alerting/ingest/payload.js';

describe('payload (parse stage)', () => {
  it('accepts the real Alertmanager 0.25 payloads', () => {
    for (const f of ['apidown_0.json', 'apidown_1.json', 'apidown_2.json', 'prom_truncated.json']) {
      const w = fixture(f);
      expect(w.version).toBe('4');
    }
    expect(fixture('prom_truncated.json').truncatedAlerts).toBe(1);
  });

  it('names the bad field', () => {
    const good = JSON.parse(readFileSync(join(ALERTMANAGER_FIXTURES, 'apidown_0.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const err = (body: unknown) => {
      const r = parseWebhook(body);
      return r.ok ? 'ok' : r.error;
    };
    expect(err({ ...good, version: '3' })).toBe('version: expected "4"');
    expect(err({ ...good, alerts: undefined })).toBe('alerts: is required');
    expect(err({ ...good, alerts: [] })).toMatch(/^alerts: /);
    expect(err({ ...good, alerts: [{ ...(good.alerts as object[])[0], labels: { a: 1 } }] })).toBe(
      'alerts[0].labels.a: expected string, got number',
    );
    expect(err({ ...good, alerts: [{ ...(good.alerts as object[])[0], startsAt: 'yesterday' }] })).toMatch(
      /^alerts\[0\]\.startsAt: must be an RFC 3339 timestamp/,
    );
    expect(err({ ...good, extra: { anything: [1, 2] } })).toBe('ok');
    expect(err([])).toMatch(/expected a JSON object, got an array/);
    expect(decodeJson(Buffer.from([0x7b, 0xff, 0x7d]))).toEqual({
      ok: false,
      error: 'body: not valid UTF-8',
    });
  });
});
