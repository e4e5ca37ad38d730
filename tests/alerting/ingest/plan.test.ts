import { describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture, defaultPlanning } from '../../support/webhooks.js';
import { planWebhook } from '../../../src/alerting/ingest/plan.js';
import { compileSilence } from '../../../src/alerting/maintenance/windows.js';

const { router, book, redactor } = defaultPlanning();

describe('plan (route + contacts + mute + dedup)', () => {
  const ctx = {
    router,
    book,
    redactor,
    silences: [],
    now: Date.parse('2026-11-22T11:00:00Z'),
    mailDomain: 'stackwatch.test',
  };

  it('makes one job per channel and recipient set, with contacts and a stable Message-ID', () => {
    const rec = planWebhook(fixture('apidown_0.json'), ctx);
    expect(rec.jobs.map((j) => [j.channel, j.recipients])).toEqual([
      ['email', ['oncall@your-company.com', 'ops@your-company.com']],
      ['slack', ['slack']],
    ]);
    const email = rec.jobs[0]!;
    expect(email.content.contacts.map((c) => c.role)).toEqual(['oncall']);
    expect(email.messageId).toMatch(/^<[0-9a-f]{32}@stackwatch\.test>$/);
    expect(planWebhook(fixture('apidown_0.json'), ctx).jobs[0]!.messageId).toBe(email.messageId);
    expect(rec.group).toMatchObject({ criticalSinceMs: Date.parse('2026-11-22T10:41:31.315Z') });
    const resolved = planWebhook(fixture('apidown_2.json'), ctx);
    expect(resolved.jobs[0]!.content.status).toBe('resolved');
    expect(resolved.jobs[0]!.threadKey).toBe(email.threadKey);
    expect(resolved.group).toMatchObject({ criticalSinceMs: null });
  });

  it('routes each alert by its own labels and mutes matching alerts into separate jobs', () => {
    const w = fixture('apidown_0.json');
    w.alerts[1]!.labels = { ...w.alerts[1]!.labels, severity: 'warning' };
    const silence = compileSilence({
      id: 'mw',
      matchers: ['instance="api-1"'],
      startsAt: ctx.now - 1000,
      endsAt: ctx.now + 1000,
      comment: '',
      createdBy: 't',
      source: 'api',
    });
    const rec = planWebhook(w, { ...ctx, silences: [silence] });
    expect(rec.jobs.map((j) => [j.content.receiver, j.channel, j.status, j.content.alerts.length])).toEqual([
      ['team-ops-critical', 'email', 'muted', 1],
      ['team-ops-critical', 'slack', 'muted', 1],
      ['team-ops-warning', 'email', 'pending', 1],
    ]);
    expect(rec.jobs[0]!.mutedBy).toEqual(['mw']);
  });

  it('redacts sensitive labels and annotations before anything is stored', () => {
    const w = fixture('apidown_0.json');
    w.alerts[0]!.labels.api_key = 'sk-123';
    w.alerts[0]!.annotations.DB_PASSWORD = 'hunter2';
    w.commonLabels.auth_token = 'tok';
    w.groupKey = '{}:{alertname="ApiDown", session_cookie="abc"}';
    const rec = planWebhook(w, ctx);
    const stored = JSON.stringify(rec);
    for (const secret of ['sk-123', 'hunter2', '"tok"', 'abc']) expect(stored).not.toContain(secret);
    expect(rec.jobs[0]!.content.alerts[0]!.labels.api_key).toBe('[REDACTED]');
    expect(rec.jobs[0]!.content.groupKey).toBe('{}:{alertname="ApiDown", session_cookie="[REDACTED]"}');
  });
});
