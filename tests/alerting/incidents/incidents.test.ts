import { afterAll, describe, expect, it } from 'vitest';
import { activeSilencesOf } from '../../../src/alerting/acknowledgement/alertmanager-silence.js';
import type { Acknowledgement } from '../../../src/alerting/acknowledgement/tokens.js';
import { mdText } from '../../../src/alerting/incidents/markdown.js';
import { planEscalation, planWebhook } from '../../../src/alerting/ingest/plan.js';
import type { Webhook } from '../../../src/alerting/ingest/payload.js';
import { compileSilence } from '../../../src/alerting/maintenance/windows.js';
import { SqliteStore } from '../../../src/alerting/outbox/sqlite.js';
import { receiverSection, type ReceiverConfig } from '../../../src/config/receiver.js';
import { incidentsOver } from '../../support/incidents.js';
import { tempDir } from '../../support/util.js';
import { alertmanagerFixture as fixture, defaultPlanning } from '../../support/webhooks.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const t0 = Date.parse('2026-11-22T10:42:00Z');
const planning = { ...defaultPlanning(), silences: [], mailDomain: 'sw.test' };
const plan = (w: Webhook, now: number) => planWebhook(w, { ...planning, now });
const KEY = fixture('apidown_0.json').groupKey;

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

/** A fresh SQLite outbox and the incidents read from it, at a clock the test moves. */
function setup(cfg: ReceiverConfig = receiverSection.parse({})) {
  const dir = tempDir('swinc');
  dirs.push(dir);
  const store = new SqliteStore(dir.path);
  const clock = { now: t0 };
  const windows = [
    compileSilence({
      id: 'api-upgrade',
      matchers: ['alertname="ApiDown"'],
      startsAt: t0 + 20 * MIN,
      endsAt: t0 + 40 * MIN,
      comment: 'API upgrade',
      createdBy: 'dave',
      source: 'api',
    }),
    compileSilence({
      id: 'redis-only',
      matchers: ['service="redis"'],
      startsAt: t0,
      endsAt: t0 + HOUR,
      comment: '',
      createdBy: 'erin',
      source: 'api',
    }),
  ];
  const incidents = incidentsOver({
    store,
    cfg,
    book: planning.book,
    windows: () => windows,
    now: () => clock.now,
  });
  return { store, incidents, clock };
}

const ack = (over: Partial<Acknowledgement>): Acknowledgement => ({
  id: 'a1',
  groupKey: KEY,
  alertname: 'ApiDown',
  groupLabels: {},
  by: 'carol',
  via: 'oncall@your-company.com, ops@your-company.com',
  at: t0,
  comment: '',
  silenceId: null,
  silenceEndsAt: null,
  endedAt: null,
  endedBy: null,
  ...over,
});

describe('an incident’s timeline, read from a real outbox', () => {
  it('lists every webhook, notification, acknowledgement, escalation and window in order, until the group resolves', async () => {
    const { store, incidents, clock } = setup();
    await store.record([plan(fixture('apidown_0.json'), t0)], t0, HOUR);
    const [firstMail, firstSlack] = (await store.list({ limit: 10 })).sort((a, b) => a.id - b.id);
    await store.complete([{ id: firstMail!.id, attempts: 1, kind: 'sent' }], t0 + 1000);
    await store.complete(
      [{ id: firstSlack!.id, attempts: 3, kind: 'dead', error: 'permanent: Slack 404 no_service' }],
      t0 + 5000,
    );
    await store.putAck(
      ack({ at: t0 + 5 * MIN, comment: 'restarting api-1', silenceId: 's-1', silenceEndsAt: t0 + HOUR }),
    );
    // Alertmanager repeats the group unchanged after the dedup window.
    await store.record([plan(fixture('apidown_0.json'), t0 + 2 * HOUR)], t0 + 2 * HOUR, HOUR);
    // The group escalates (say, before it was acknowledged on another replica).
    const [due] = await store.escalationCandidates(t0 + 2 * HOUR, 30 * MIN);
    const escalation = planEscalation(due!, {
      ...planning,
      silences: [],
      now: t0 + 2 * HOUR + MIN,
      role: 'techlead',
      channels: ['email'],
      afterMs: 30 * MIN,
    });
    await store.recordEscalation(KEY, escalation, t0 + 2 * HOUR + MIN, HOUR);
    await store.record([plan(fixture('apidown_1.json'), t0 + 3 * HOUR)], t0 + 3 * HOUR, HOUR);
    await store.record([plan(fixture('apidown_2.json'), t0 + 4 * HOUR)], t0 + 4 * HOUR, HOUR);
    await store.endAck(KEY, 'resolved', t0 + 4 * HOUR);
    // The next incident of the group: not part of this one.
    const again = fixture('apidown_0.json');
    again.alerts = again.alerts.map((a) => ({ ...a, startsAt: '2026-11-22T15:00:00Z' }));
    await store.record([plan(again, t0 + 5 * HOUR)], t0 + 5 * HOUR, HOUR);
    clock.now = t0 + 6 * HOUR;

    const [opener] = await store.groupEvents(KEY, 0, 1);
    const i = await incidents.timeline(opener!.id);
    expect(i).toMatchObject({
      status: 'resolved',
      alertname: 'ApiDown',
      severity: 'critical',
      startedAt: Date.parse('2026-11-22T10:41:31.315Z'),
      detectedAt: t0,
      firstNotifiedAt: t0 + 1000,
      acknowledged: { by: 'carol', at: t0 + 5 * MIN },
      escalatedAt: t0 + 2 * HOUR + MIN,
      resolvedAt: t0 + 4 * HOUR,
    });
    const rows = i!.entries.map((e) => `${(e.at - t0) / 1000}s ${e.kind}: ${e.title}`);
    expect(rows).toEqual([
      '0s firing: Firing: 2 alerts',
      `1s notification: Notification #${firstMail!.id} by email to oncall@your-company.com, ops@your-company.com: sent`,
      `5s notification: Notification #${firstSlack!.id} to Slack: dead`,
      '300s acknowledged: Acknowledged by carol (through the link sent to oncall@your-company.com, ops@your-company.com)',
      '1200s window-start: Maintenance window api-upgrade began',
      '2400s window-end: Maintenance window api-upgrade ended',
      '7200s repeat: Repeat: 2 alerts still firing, unchanged',
      expect.stringMatching(/^7200s notification: Notification #\d+ by email .*: pending$/),
      expect.stringMatching(/^7200s notification: Notification #\d+ to Slack: pending$/),
      '7260s escalation: Escalated to Tech Lead 技术负责人: critical alerts still firing after 30m, not acknowledged',
      expect.stringMatching(/^7260s notification: Escalation #\d+ by email to tech@company.com: pending$/),
      '10800s some-resolved: Some resolved: 1 resolved, 1 still firing',
      expect.stringMatching(/^10800s notification: Notification #\d+ by email/),
      expect.stringMatching(/^10800s notification: Notification #\d+ to Slack/),
      '14400s resolved: Resolved: 1 alert resolved',
      expect.stringMatching(/^14400s notification: Resolved notice #\d+ by email/),
      expect.stringMatching(/^14400s notification: Resolved notice #\d+ to Slack/),
      '14400s acknowledgement-ended: Acknowledgement ended: the group resolved',
    ]);
    const byTitle = (kind: string) => i!.entries.find((e) => e.kind === kind)!;
    expect(byTitle('firing').lines).toEqual([
      'API down on api-1 (instance=api-1)',
      'API down on api-2 (instance=api-2)',
    ]);
    expect(byTitle('acknowledged').lines).toEqual([
      'comment: restarting api-1',
      'Alertmanager silence s-1 until 2026-11-22T11:42:00Z',
    ]);
    expect(byTitle('some-resolved').lines).toEqual(['API down on api-1 (instance=api-1)']);
    const dead = i!.entries.find((e) => e.title.endsWith(': dead'))!;
    expect(dead.lines).toEqual([
      'reason: the group began firing',
      'given up after 3 attempts (dead letter): permanent: Slack 404 no_service',
      'responsible: On-Call 值班 (critical)',
      'recorded 2026-11-22T10:42:00Z, receiver team-ops-critical',
    ]);
    expect(i!.notifications).toEqual({ sent: 1, byChannel: { email: 1 }, notKept: 0 });

    // The export holds every entry, in the same order, and the write-up's headings.
    const md = (await incidents.postmortem(opener!.id))!;
    let at = 0;
    for (const e of i!.entries) {
      const line = md.indexOf(`| ${mdText(e.title)} |`, at);
      expect(line, e.title).toBeGreaterThan(at);
      at = line;
    }
    for (const heading of [
      '## Timeline (UTC)',
      '## Impact (评估影响)',
      '## Root cause (根因分析)',
      '## Actions (总结改进)',
    ])
      expect(md).toContain(heading);
    expect(md).toContain('| Acknowledged | by carol at 2026-11-22T10:47:00Z (5 min after it started) |');

    // The next incident starts with the webhook that fired again.
    const [state] = await store.groupStates({ resolvedSince: 0, limit: 10 });
    const next = await incidents.timeline(state!.incident);
    expect(next!.entries.map((e) => e.kind)).toEqual(['firing', 'notification', 'notification']);
    expect(next!.status).toBe('firing');
  });

  it('names the alerts a webhook added, and escapes alert text in the Markdown draft', async () => {
    const { store, incidents } = setup();
    const hostile = '[click](http://evil.test) ![x](http://evil.test/x.png) <img src=x> a|b ~~s~~ *e* `c`';
    const w = fixture('apidown_0.json');
    w.alerts = [w.alerts[0]!];
    await store.record([plan(w, t0)], t0, HOUR);
    const grown = fixture('apidown_0.json');
    grown.alerts[1]!.annotations = { summary: hostile };
    await store.record([plan(grown, t0 + MIN)], t0 + MIN, HOUR);
    const [opener] = await store.groupEvents(KEY, 0, 1);
    const i = await incidents.timeline(opener!.id);
    const added = i!.entries.find((e) => e.kind === 'new-alerts')!;
    expect(added.title).toBe('New alerts: 2 firing (+1)');
    expect(added.lines).toEqual([`${hostile} (instance=api-2)`]);
    const md = (await incidents.postmortem(opener!.id))!;
    expect(md).toContain(mdText(hostile));
    // No link, image, HTML or extra table cell survives: every bracket, pipe and angle is escaped.
    expect(md).not.toMatch(/(?<!\\)\[click(?<!\\)\]/);
    expect(md).not.toMatch(/(?<!\\)<img/);
    expect(md).not.toMatch(/[^\\]\|b/);
    expect(mdText('a|b')).toBe('a\\|b');
  });
});

describe('the Now page’s groups', () => {
  it('puts critical groups first, unacknowledged before acknowledged, and says what happens next and who is on duty', async () => {
    const { store, incidents, clock } = setup();
    const warn = (name: string, severity?: string): Webhook => ({
      ...fixture('apidown_0.json'),
      groupKey: `{}:{alertname="${name}"}`,
      groupLabels: { alertname: name },
      commonLabels: { alertname: name, ...(severity ? { severity } : {}) },
      alerts: [
        {
          ...fixture('apidown_0.json').alerts[0]!,
          labels: { alertname: name, ...(severity ? { severity } : {}), service: 'redis' },
          annotations: { summary: `${name} summary` },
        },
      ],
    });
    await store.record(
      [
        plan(warn('NoSeverity'), t0),
        plan(warn('DiskFull', 'warning'), t0),
        plan(fixture('apidown_0.json'), t0),
        plan({ ...warn('PgDown', 'critical'), groupKey: 'pg' }, t0),
      ],
      t0,
      HOUR,
    );
    await store.putAck(ack({ groupKey: 'pg', by: 'bob', at: t0 + MIN }));
    clock.now = t0 + 10 * MIN;
    const v = await incidents.now();
    expect(v.firing.map((g) => [g.alertname, g.lane, g.ack?.by ?? ''])).toEqual([
      ['ApiDown', 'critical', ''],
      ['PgDown', 'critical', 'bob'],
      ['DiskFull', 'warning', ''],
      ['NoSeverity', 'other', ''],
    ]);
    const [api, pg, disk] = v.firing;
    expect(api!.next).toMatchObject({
      state: 'due',
      at: Date.parse('2026-11-22T10:41:31.315Z') + 30 * MIN,
      to: [{ title: 'Tech Lead', name: '技术负责人', email: 'tech@company.com' }],
    });
    expect(pg!.next).toMatchObject({ state: 'acknowledged' });
    expect(disk!.next).toBeUndefined();
    expect(api!.onDuty).toMatchObject({
      people: [{ title: 'On-Call', name: '值班', phone: '13800138000' }],
      source: 'contact table (role oncall)',
    });
    // The maintenance window over service="redis" is active now; the API one is not yet.
    expect(disk!.windows.map((w) => w.id)).toEqual(['redis-only']);
    expect(api!.windows).toEqual([]);
    expect(await incidents.nextEscalation(KEY)).toMatchObject({ state: 'due' });
    expect(await incidents.onDutyFor(KEY)).toMatchObject({ people: [{ title: 'On-Call' }] });

    await store.record([plan(fixture('apidown_2.json'), t0 + 20 * MIN)], t0 + 20 * MIN, HOUR);
    clock.now = t0 + 30 * MIN;
    const later = await incidents.now();
    expect(later.firing.map((g) => g.alertname)).toEqual(['PgDown', 'DiskFull', 'NoSeverity']);
    expect(later.resolved.map((g) => [g.alertname, g.resolvedAt])).toEqual([['ApiDown', t0 + 20 * MIN]]);
    clock.now = t0 + 20 * MIN + 25 * HOUR;
    expect((await incidents.now()).resolved).toEqual([]);
  });

  it('reads Alertmanager’s active silences and which alerts they cover', () => {
    const silences = activeSilencesOf([
      {
        id: 'a',
        status: { state: 'active' },
        matchers: [
          { name: 'service', value: 'redis', isRegex: false, isEqual: true },
          { name: 'env', value: 'prod.*', isRegex: true, isEqual: true },
          { name: 'team', value: 'db', isRegex: false, isEqual: false },
        ],
        endsAt: '2026-11-22T12:00:00Z',
        createdBy: 'carol',
        comment: 'upgrade',
      },
      { id: 'b', status: { state: 'expired' }, matchers: [], endsAt: '2026-11-22T09:00:00Z' },
      { id: 'c', status: { state: 'active' }, matchers: [{ name: 'x', value: '(', isRegex: true }] },
    ]);
    expect(silences.map((s) => [s.id, s.matchers])).toEqual([
      ['a', ['service="redis"', 'env=~"prod.*"', 'team!="db"']],
    ]);
    expect(silences[0]!.covers({ service: 'redis', env: 'prod-eu' })).toBe(true);
    expect(silences[0]!.covers({ service: 'redis', env: 'prod-eu', team: 'db' })).toBe(false);
    expect(silences[0]!.covers({ service: 'redis', env: 'staging' })).toBe(false);
  });
});
