import { describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture } from '../../support/webhooks.js';
import { dedupKey } from '../../../src/alerting/ingest/dedup.js';

describe('dedup key', () => {
  const w = fixture('apidown_0.json');
  const base = {
    kind: 'alert',
    groupKey: w.groupKey,
    channel: 'email',
    recipients: ['a@x', 'b@x'],
    status: 'firing',
    alerts: w.alerts,
  };
  it('is the same for the same group, alerts and recipients (in any order)', () => {
    expect(dedupKey(base)).toBe(
      dedupKey({ ...base, recipients: ['b@x', 'a@x'], alerts: [...w.alerts].reverse() }),
    );
    // the same instant with another precision
    const alerts = w.alerts.map((a) => ({ ...a, startsAt: new Date(Date.parse(a.startsAt)).toISOString() }));
    expect(dedupKey(base)).toBe(dedupKey({ ...base, alerts }));
  });
  it('differs by channel, recipients, status, alert set and start/end times', () => {
    const k = dedupKey(base);
    expect(dedupKey({ ...base, channel: 'slack' })).not.toBe(k);
    expect(dedupKey({ ...base, recipients: ['a@x'] })).not.toBe(k);
    expect(dedupKey({ ...base, status: 'resolved' })).not.toBe(k);
    expect(dedupKey({ ...base, alerts: w.alerts.slice(1) })).not.toBe(k);
    expect(dedupKey({ ...base, groupKey: 'other' })).not.toBe(k);
    const ended = w.alerts.map((a, i) =>
      i === 0 ? { ...a, status: 'resolved' as const, endsAt: '2026-11-22T10:41:43Z' } : a,
    );
    expect(dedupKey({ ...base, alerts: ended })).not.toBe(k);
  });
});
