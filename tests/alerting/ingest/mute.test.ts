import { describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture, defaultPlanning } from '../../support/webhooks.js';

import { type Webhook } from '../../../src/alerting/ingest/payload.js';
import { muteWebhook } from '../../../src/alerting/ingest/mute.js';
import { planEscalation, planNotifications, planWebhook } from '../../../src/alerting/ingest/plan.js';
import { compileSilence } from '../../../src/alerting/maintenance/windows.js';

const { router, book, redactor } = defaultPlanning();

describe('mute stage', () => {
  const now = Date.parse('2026-11-22T11:00:00Z');
  const ctx = { router, book, redactor, now, mailDomain: 'stackwatch.test' };
  const window = (id: string, matcher: string, endsAt = now + 1000) =>
    compileSilence({
      id,
      matchers: [matcher],
      startsAt: now - 1000,
      endsAt,
      comment: '',
      createdBy: 't',
      source: 'api',
    });
  // Two critical alerts (api-1, api-2) and a warning (api-3), each routed by its own labels.
  const mixed = (): Webhook => {
    const w = fixture('apidown_0.json');
    const third = structuredClone(w.alerts[0]!);
    third.labels = { ...third.labels, instance: 'api-3', severity: 'warning' };
    third.fingerprint = '0123456789abcdef';
    w.alerts.push(third);
    return w;
  };
  const windows = [
    window('mw-1', 'instance="api-1"'),
    window('mw-2', 'instance=~"api-1|api-3"'),
    window('ended', 'instance="api-2"', now - 1),
  ];
  const instances = (j: { content: { alerts: { labels: Record<string, string> }[] } }) =>
    j.content.alerts.map((a) => a.labels.instance);

  it('leaves the planned jobs as they are when no window is active', () => {
    const plan = planNotifications(mixed(), ctx);
    expect(plan.jobs.map((j) => [j.content.receiver, j.channel, j.status, instances(j)])).toEqual([
      ['team-ops-critical', 'email', 'pending', ['api-1', 'api-2']],
      ['team-ops-critical', 'slack', 'pending', ['api-1', 'api-2']],
      ['team-ops-warning', 'email', 'pending', ['api-3']],
    ]);
    for (const silences of [[], [windows[2]!]]) {
      const rec = muteWebhook(plan, { silences, now });
      expect(rec).toEqual({ jobs: plan.jobs, group: plan.group, event: plan.event });
      expect(rec.jobs.every((j) => j.mutedBy === undefined)).toBe(true);
      expect(planWebhook(mixed(), { ...ctx, silences })).toEqual(rec);
    }
  });

  it('splits the alerts under an active window into muted jobs, in the order the alerts reach their receivers', () => {
    const w = mixed();
    const rec = muteWebhook(planNotifications(w, ctx), { silences: windows, now });
    expect(rec.jobs.map((j) => [j.content.receiver, j.channel, j.status, instances(j), j.mutedBy])).toEqual([
      ['team-ops-critical', 'email', 'muted', ['api-1'], ['mw-1', 'mw-2']],
      ['team-ops-critical', 'slack', 'muted', ['api-1'], ['mw-1', 'mw-2']],
      ['team-ops-critical', 'email', 'pending', ['api-2'], undefined],
      ['team-ops-critical', 'slack', 'pending', ['api-2'], undefined],
      ['team-ops-warning', 'email', 'muted', ['api-3'], ['mw-2']],
    ]);
    expect(rec).toEqual(planWebhook(w, { ...ctx, silences: windows }));

    // The part still delivered is keyed as plain planning keys those alerts: a webhook sent
    // again is a duplicate whether it was planned and muted or only planned.
    const plain = planNotifications({ ...w, alerts: [w.alerts[1]!] }, ctx).jobs;
    const delivered = rec.jobs.filter((j) => j.status === 'pending');
    expect(delivered.map((j) => [j.dedupKey, j.messageId, j.threadKey])).toEqual(
      plain.map((j) => [j.dedupKey, j.messageId, j.threadKey]),
    );
    expect(delivered.map((j) => j.content)).toEqual(plain.map((j) => j.content));

    // A muted part has a key of its own, and stays in the group's email thread.
    const mutedEmail = rec.jobs[0]!;
    const plainMuted = planNotifications({ ...w, alerts: [w.alerts[0]!] }, ctx).jobs[0]!;
    expect(mutedEmail.dedupKey).not.toBe(plainMuted.dedupKey);
    expect(mutedEmail.threadKey).toBe(plainMuted.threadKey);
    expect(mutedEmail.content).toEqual(plainMuted.content);
    expect(rec.group).toEqual(planNotifications(w, ctx).group);
  });

  it('mutes an escalation only when every one of its alerts is under an active window', () => {
    const group = planNotifications(fixture('apidown_0.json'), ctx).group!;
    const escalate = (silences: ReturnType<typeof window>[]) =>
      planEscalation(
        { groupKey: group.groupKey, criticalSinceMs: group.criticalSinceMs!, content: group.content! },
        { book, silences, now, role: 'techlead', channels: ['email', 'slack'], afterMs: 1, mailDomain: 'x' },
      );
    const delivered = escalate([]);
    expect(delivered.map((j) => [j.status, j.mutedBy])).toEqual([
      ['pending', undefined],
      ['pending', undefined],
    ]);
    expect(escalate([windows[0]!])).toEqual(delivered);
    const muted = escalate([windows[1]!, window('api-2', 'instance="api-2"'), windows[0]!]);
    expect(muted.map((j) => [j.status, j.mutedBy])).toEqual([
      ['muted', ['mw-2', 'mw-1', 'api-2']],
      ['muted', ['mw-2', 'mw-1', 'api-2']],
    ]);
    expect(muted.map((j) => j.dedupKey)).toEqual(delivered.map((j) => j.dedupKey));
  });
});
