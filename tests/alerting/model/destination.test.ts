import { describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture } from '../../support/webhooks.js';
import { Acknowledgements } from '../../../src/alerting/acknowledgement/acknowledgements.js';
import { verifyAckToken } from '../../../src/alerting/acknowledgement/tokens.js';
import { dedupKey } from '../../../src/alerting/ingest/dedup.js';
import { destinationOf, destinationText } from '../../../src/alerting/model/destination.js';
import { Dispatcher } from '../../../src/alerting/delivery/dispatcher.js';
import type { BacklogEntry } from '../../../src/alerting/outbox/contract.js';
import { Pacer } from '../../../src/alerting/delivery/pacing.js';
import { buildSetup, channelFor, paceOf } from '../../../src/alerting/setup.js';
import type { JobSpec } from '../../../src/alerting/model/notification.js';
import { createLogger } from '../../../src/logger.js';
import { type Webhook } from '../../../src/alerting/ingest/payload.js';
import { planEscalation, planWebhook } from '../../../src/alerting/ingest/plan.js';
import { receiverSection } from '../../../src/config/receiver.js';

describe('Slack destination', () => {
  // team-ops-critical has a Slack webhook of its own; team-ops and escalations use the default one.
  const cfg = receiverSection.parse({
    external_url: 'https://sw.example',
    acknowledgement: { secret: '0123456789abcdef' },
    slack: { webhook_url: 'https://hooks.example/default' },
    receivers: [
      { name: 'team-ops', channels: ['email', 'slack'], recipients: ['ops@x.test'] },
      {
        name: 'team-ops-critical',
        channels: ['email', 'slack'],
        recipients: ['ops@x.test', 'oncall@x.test'],
        slack_webhook_url: 'https://hooks.example/critical',
      },
      { name: 'team-ops-warning', channels: ['email'], recipients: ['ops@x.test'] },
    ],
  });
  const now = Date.parse('2026-11-22T11:00:00Z');
  // Planned as the receiver plans: with the router, contacts and redactor of its setup.
  const setup = buildSetup(cfg, createLogger('error'));
  const ctx = { ...setup, silences: [], now };
  const w = fixture('apidown_0.json');
  const info = { ...w, alerts: w.alerts.map((a) => ({ ...a, labels: { ...a.labels, severity: 'info' } })) };
  const critical = planWebhook(w, ctx).jobs;
  const rest = planWebhook(info, ctx).jobs;
  const group = planWebhook(w, ctx).group!;
  const escalation = planEscalation(
    { groupKey: group.groupKey, criticalSinceMs: group.criticalSinceMs!, content: group.content! },
    {
      book: ctx.book,
      silences: [],
      now,
      role: 'techlead',
      channels: ['email', 'slack'],
      afterMs: 1,
      mailDomain: 'sw.test',
    },
  );
  const jobs = [...critical, ...rest, ...escalation];
  const slackOf = (js: JobSpec[]) => js.find((j) => j.channel === 'slack')!;

  it('is a field of the job: a receiver with a webhook of its own, or the default webhook', () => {
    expect(jobs.map((j) => [j.content.receiver, j.channel, j.recipients, j.slackWebhook])).toEqual([
      ['team-ops-critical', 'email', ['oncall@x.test', 'ops@x.test'], null],
      ['team-ops-critical', 'slack', ['slack'], 'team-ops-critical'],
      ['team-ops', 'email', ['ops@x.test'], null],
      ['team-ops', 'slack', ['slack'], null],
      ['escalation', 'email', ['tech@company.com'], null],
      ['escalation', 'slack', ['slack'], null],
    ]);
    expect(jobs.map((j) => destinationOf(j).names)).toEqual([
      ['oncall@x.test', 'ops@x.test'],
      ['slack:team-ops-critical'],
      ['ops@x.test'],
      ['slack'],
      ['tech@company.com'],
      ['slack'],
    ]);
    // What the console and the API show a person: which webhook, not the internal name.
    expect(jobs.map((j) => destinationText(j))).toEqual([
      'oncall@x.test, ops@x.test',
      "Slack (team-ops-critical's webhook)",
      'ops@x.test',
      'Slack',
      'tech@company.com',
      'Slack',
    ]);
  });

  it('keeps the dedup keys of notifications recorded when the webhook was written in the recipients', () => {
    // A webhook Alertmanager posts again after an upgrade is still a duplicate.
    expect(jobs.map((j) => j.dedupKey)).toEqual([
      'b5826852afe5fdf494c920ab0b111577c9e869e7157629b04f1853702bc98e0b',
      '20088bbc044caf0c17542fde5f51111b4a3b0700e2671a5c626f5057afbe04ec',
      '671500a6c9a56314f91996b9e663eae9c19330e6e0196158391358cd22689f5a',
      '6b08caa064160a93f0d0aa8634b6ba0e5ac277a0682800a70812b391fbbc1cb1',
      '853fd6632a969db160644796aef36a4dd54c1e9dcaa59393f26e267ec288c381',
      '4b4792baf3aa6607fc4110623212dd23790a8614759f5b54b0b585968a2feac0',
    ]);
    const alertKey = (recipients: string[], alerts: Webhook['alerts']) =>
      dedupKey({
        kind: 'alert',
        groupKey: w.groupKey,
        channel: 'slack',
        recipients,
        status: 'firing',
        alerts,
      });
    expect(slackOf(critical).dedupKey).toBe(alertKey(['slack:team-ops-critical'], w.alerts));
    expect(slackOf(rest).dedupKey).toBe(alertKey(['slack'], info.alerts));
  });

  it('keeps the recipient claim of Acknowledge links already sent', () => {
    const acks = new Acknowledgements({
      requireStore: () => {
        throw new Error('no outbox in this test');
      },
      config: () => cfg,
      logger: createLogger('error'),
      now: () => now,
    });
    const claim = (j: JobSpec) => {
      const token = acks.forDelivery(j)!.link!.split('/').pop()!;
      const v = verifyAckToken(token, acks.signingKey, now);
      return v.ok ? v.claims.recipient : v.reason;
    };
    expect(jobs.map(claim)).toEqual([
      'oncall@x.test, ops@x.test',
      'slack:team-ops-critical',
      'ops@x.test',
      'slack',
      'tech@company.com',
      'slack',
    ]);
  });

  it('keeps two receivers’ webhooks apart: delivery, pacing and dispatch', () => {
    const own = slackOf(critical);
    const shared = slackOf(rest);
    expect([own, shared].map((j) => setup.slack!.urlFor(destinationOf(j)))).toEqual([
      'https://hooks.example/critical',
      'https://hooks.example/default',
    ]);
    expect([own, shared].map((j) => channelFor(setup, j))).toEqual([setup.slack, setup.slack]);
    expect([own, shared].map((j) => paceOf(setup, 'slack', destinationOf(j), 1).key)).toEqual([
      'slack:https://hooks.example/critical',
      'slack:https://hooks.example/default',
    ]);
    // One group on both webhooks: each is the head of its own destination, paced by its own URL.
    const entry = (id: number, j: JobSpec): BacklogEntry => ({
      id,
      createdAt: now,
      nextAttemptAt: now,
      groupKey: 'G',
      destination: destinationOf(j),
      lane: 'critical',
    });
    const d = new Dispatcher(() => ({
      lanes: setup.lanes,
      digest: setup.digest,
      pacer: new Pacer(() => now),
      paceOf: (dest) => paceOf(setup, 'slack', dest, 1),
    }));
    const plan = d.plan({ entries: [entry(1, own), entry(2, shared)], inFlight: new Set(), now, free: 10 });
    expect(plan.sends.map((s) => (s.kind === 'single' ? [s.entry.id, s.pace.key] : s.kind))).toEqual([
      [1, 'slack:https://hooks.example/critical'],
      [2, 'slack:https://hooks.example/default'],
    ]);
  });
});
