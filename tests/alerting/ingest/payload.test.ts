import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture, ALERTMANAGER_FIXTURES } from '../../support/webhooks.js';
import { decodeJson, parseWebhook, webhookSchema } from '../../../src/alerting/ingest/payload.js';

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

  it('reads what Alertmanager sends without the schema library, and agrees with it on anything', () => {
    const some = fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.integer({ min: -2, max: 2 }),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.string({ maxLength: 2 }), { maxLength: 2 }),
    );
    // Mostly what Alertmanager sends, now and then anything else.
    const mostly = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 15, arbitrary: valid }, { weight: 1, arbitrary: some });
    const labels = mostly(
      fc.dictionary(
        fc.oneof(
          { weight: 9, arbitrary: fc.constantFrom('alertname', 'severity', 'x') },
          { weight: 1, arbitrary: fc.constant('__proto__') },
        ),
        mostly(fc.string({ maxLength: 3 })),
        { maxKeys: 3 },
      ),
    );
    const time = mostly(
      fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom('2026-11-22T10:41:31.315Z', '0001-01-01T00:00:00Z') },
        { weight: 1, arbitrary: fc.constant('soon') },
      ),
    );
    const alert = fc.record(
      {
        status: mostly(fc.constantFrom('firing', 'resolved')),
        labels,
        annotations: labels,
        startsAt: time,
        endsAt: time,
        generatorURL: mostly(fc.string({ maxLength: 3 })),
        fingerprint: mostly(fc.string({ maxLength: 3 })),
        extra: some,
      },
      { requiredKeys: ['status', 'labels', 'startsAt'] },
    );
    const body = fc.record(
      {
        version: mostly(fc.constant('4')),
        groupKey: mostly(fc.constant('{}:{alertname="A"}')),
        truncatedAlerts: mostly(fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double())),
        status: mostly(fc.constantFrom('firing', 'resolved')),
        receiver: mostly(fc.string({ maxLength: 3 })),
        groupLabels: labels,
        commonLabels: labels,
        commonAnnotations: labels,
        externalURL: mostly(fc.string({ maxLength: 3 })),
        alerts: mostly(fc.array(alert, { maxLength: 3 })),
        extra: some,
      },
      { requiredKeys: ['version', 'groupKey', 'status', 'receiver', 'alerts'] },
    );
    let accepted = 0;
    fc.assert(
      fc.property(body, (b) => {
        const text = JSON.stringify(b);
        const ours = parseWebhook(JSON.parse(text));
        const schema = webhookSchema.safeParse(JSON.parse(text));
        expect(ours.ok).toBe(schema.success);
        if (ours.ok && schema.success) {
          accepted++;
          expect(ours.webhook).toEqual(schema.data);
        }
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100); // the comparison ran on accepted bodies too
    // Mostly valid bodies: each fixture as sent, and a real one with an unknown field.
    for (const f of ['apidown_0.json', 'prom_truncated.json']) {
      const text = readFileSync(join(ALERTMANAGER_FIXTURES, f), 'utf8');
      const ours = parseWebhook(JSON.parse(text));
      expect(ours.ok && ours.webhook).toEqual(webhookSchema.parse(JSON.parse(text)));
    }
  });
});
