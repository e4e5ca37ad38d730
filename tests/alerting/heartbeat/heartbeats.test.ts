import { describe, expect, it } from 'vitest';
import {
  dueAt,
  newHeartbeat,
  step,
  type HeartbeatEvent,
  type HeartbeatState,
  type HeartbeatTiming,
} from '../../../src/alerting/heartbeat/heartbeats.js';
import { splitWatchdog } from '../../../src/alerting/heartbeat/watchdog.js';
import { incidentWebhook, planIncident, spanText } from '../../../src/alerting/heartbeat/notice.js';
import { compileSilence } from '../../../src/alerting/maintenance/windows.js';
import { buildSetup } from '../../../src/alerting/setup.js';
import { receiverSection } from '../../../src/config/receiver.js';
import { createLogger } from '../../../src/logger.js';
import { parseMatcher } from '../../../src/matchers.js';
import { alertmanagerFixture } from '../../support/webhooks.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T03:00:00Z');
/** An hourly job with ten minutes' grace, watched since long before. */
const hourly: HeartbeatTiming = { periodMs: 60 * MIN, graceMs: 10 * MIN, notBefore: 0 };

/** Events applied in order at the given minutes after T0; the state after each, and what it brought. */
function run(events: [number, HeartbeatEvent][], timing = hourly, from = newHeartbeat('backup')) {
  let s: HeartbeatState = from;
  return events.map(([minute, event]) => {
    const change = step(s, event, T0 + minute * MIN, timing);
    if (change) s = change.state;
    return { state: s, page: change?.page, recovery: change?.recovery, changed: change !== undefined };
  });
}

describe('a job heartbeat', () => {
  it('is new until the first signal, and a check never finds a new heartbeat late', () => {
    const [check] = run([[600, 'check']]);
    expect(check!.changed).toBe(false);
    expect(check!.state.status).toBe('new');
    expect(dueAt(newHeartbeat('x'), hourly)).toBeUndefined();
  });

  it('is due a period plus the grace after its ping, and late (once) when that passes', () => {
    const out = run([
      [0, 'ping'],
      [69, 'check'],
      [70, 'check'],
      [75, 'check'],
      [200, 'check'],
    ]);
    expect(out[0]!.state).toMatchObject({ status: 'up', lastPingAt: T0, lastSeenAt: T0, version: 1 });
    expect(dueAt(out[0]!.state, hourly)).toBe(T0 + 70 * MIN);
    expect(out[1]!.changed).toBe(false);
    // The incident is named after the deadline, not after the check that noticed it.
    expect(out[2]!.page).toEqual({ reason: 'late', since: T0 + 70 * MIN });
    expect(out[2]!.state).toMatchObject({ status: 'down', incident: { reason: 'late' }, version: 2 });
    expect(out[3]!.changed || out[4]!.changed).toBe(false);
  });

  it('names the same incident whichever replica checks, whenever', () => {
    const [up] = run([[0, 'ping']]);
    const a = step(up!.state, 'check', T0 + 71 * MIN, hourly);
    const b = step(up!.state, 'check', T0 + 74 * MIN, hourly);
    expect(a!.page).toEqual(b!.page);
  });

  it('recovers with the next ping, which says how the incident was named', () => {
    const out = run([
      [0, 'ping'],
      [80, 'check'],
      [95, 'ping'],
      [96, 'ping'],
    ]);
    expect(out[2]!.recovery).toEqual({ reason: 'late', since: T0 + 70 * MIN, at: T0 + 95 * MIN });
    expect(out[2]!.state).toMatchObject({ status: 'up', incident: null });
    expect(out[3]!.recovery).toBeUndefined();
  });

  it('pages at once on a reported failure, even before any ping, and once per incident', () => {
    const out = run([
      [0, 'fail'],
      [5, 'fail'],
      [6, 'start'],
      [200, 'check'],
      [300, 'ping'],
    ]);
    expect(out[0]!.page).toEqual({ reason: 'failed', since: T0 });
    expect(out[0]!.state.status).toBe('down');
    expect(out[1]!.page).toBeUndefined();
    expect(out[1]!.state.lastSeenAt).toBe(T0 + 5 * MIN);
    expect(out[2]!.state).toMatchObject({ status: 'down', startedAt: T0 + 6 * MIN });
    expect(out[3]!.changed).toBe(false);
    expect(out[4]!.recovery).toMatchObject({ reason: 'failed', since: T0 });
  });

  it('a started run must finish within the grace, or it is unfinished', () => {
    const out = run([
      [0, 'ping'],
      [60, 'start'],
      [69, 'check'],
      [70, 'check'],
    ]);
    expect(dueAt(out[1]!.state, hourly)).toBe(T0 + 70 * MIN);
    expect(out[2]!.changed).toBe(false);
    expect(out[3]!.page).toEqual({ reason: 'unfinished', since: T0 + 70 * MIN });
    expect(out[3]!.state.startedAt).toBeNull();
  });

  it('a run that finishes in time clears the start: the period counts from its ping', () => {
    const out = run([
      [0, 'start'],
      [8, 'ping'],
      [70, 'check'],
      [78, 'check'],
    ]);
    expect(out[0]!.state).toMatchObject({ status: 'up', startedAt: T0, lastPingAt: null });
    expect(out[1]!.state.startedAt).toBeNull();
    expect(out[2]!.changed).toBe(false);
    expect(out[3]!.page).toEqual({ reason: 'late', since: T0 + 78 * MIN });
  });

  it('a run that reports failure pages as failed, not unfinished', () => {
    const out = run([
      [0, 'ping'],
      [60, 'start'],
      [62, 'fail'],
      [90, 'check'],
    ]);
    expect(out[2]!.page).toEqual({ reason: 'failed', since: T0 + 62 * MIN });
    expect(out[3]!.changed).toBe(false);
  });

  it('judges no deadline before notBefore (a watcher that has just started), and then names the deadline', () => {
    const timing = { ...hourly, notBefore: T0 + 100 * MIN };
    const out = run(
      [
        [0, 'ping'],
        [90, 'check'],
        [100, 'check'],
      ],
      timing,
    );
    expect(out[1]!.changed).toBe(false);
    expect(out[2]!.page).toEqual({ reason: 'late', since: T0 + 70 * MIN });
  });
});

describe('the Watchdog in a webhook', () => {
  const matchers = [parseMatcher('alertname="Watchdog"')];
  const watchdog = (status: 'firing' | 'resolved') => ({
    status,
    labels: { alertname: 'Watchdog', severity: 'none' },
    annotations: {},
    startsAt: '2026-12-01T03:00:00Z',
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-12-01T04:00:00Z',
    generatorURL: '',
    fingerprint: 'aa',
  });

  it('is taken out, and a firing one is a ping', () => {
    const w = {
      ...alertmanagerFixture('apidown_0.json'),
      alerts: [watchdog('firing')],
      status: 'firing' as const,
    };
    expect(splitWatchdog(w, matchers)).toEqual({ rest: undefined, signal: 'ping' });
  });

  it('resolved (Prometheus stopped sending it) is a failure', () => {
    const w = {
      ...alertmanagerFixture('apidown_0.json'),
      alerts: [watchdog('resolved')],
      status: 'resolved' as const,
    };
    expect(splitWatchdog(w, matchers).signal).toBe('fail');
  });

  it('leaves the other alerts of the webhook, with their status', () => {
    const base = alertmanagerFixture('apidown_1.json');
    const split = splitWatchdog({ ...base, alerts: [...base.alerts, watchdog('firing')] }, matchers);
    expect(split.signal).toBe('ping');
    expect(split.rest).toEqual(base);
    const none = splitWatchdog(base, matchers);
    expect(none).toEqual({ rest: base });
  });
});

describe('the notices', () => {
  const subject = { kind: 'job' as const, name: 'backup', periodMs: 60 * MIN, graceMs: 10 * MIN };

  it('a page and its recovery are one alert of one group, firing then resolved', () => {
    const incident = { reason: 'late' as const, since: T0 };
    const page = incidentWebhook(subject, { page: incident }, { lastSeenAt: T0 - 70 * MIN })!;
    const recovery = incidentWebhook(
      subject,
      { recovery: { ...incident, at: T0 + 5 * MIN } },
      { lastSeenAt: T0 - 70 * MIN, externalUrl: 'https://sw.example' },
    )!;
    expect(page.groupKey).toBe('stackwatch:{heartbeat="backup"}');
    expect(recovery.groupKey).toBe(page.groupKey);
    expect(page.alerts[0]).toMatchObject({
      status: 'firing',
      labels: {
        alertname: 'HeartbeatLate',
        heartbeat: 'backup',
        severity: 'critical',
        service: 'stackwatch',
      },
      startsAt: '2026-12-01T03:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
    });
    expect(page.alerts[0]!.annotations.summary).toBe(
      'Heartbeat backup is late: no ping since 2026-12-01T01:50:00.000Z.',
    );
    expect(recovery.alerts[0]).toMatchObject({ status: 'resolved', endsAt: '2026-12-01T03:05:00.000Z' });
    expect(recovery.alerts[0]!.fingerprint).toBe(page.alerts[0]!.fingerprint);
    expect(recovery.alerts[0]!.generatorURL).toBe('https://sw.example/');
    expect(recovery.alerts[0]!.annotations.summary).toContain('pinged again');
  });

  it('the Watchdog page says that the pipeline may be down', () => {
    const w = incidentWebhook(
      { kind: 'watchdog', name: 'watchdog', periodMs: 5 * MIN, graceMs: 0 },
      { page: { reason: 'late', since: T0 } },
      { lastSeenAt: T0 - 5 * MIN },
    )!;
    expect(w.alerts[0]!.labels).toEqual({
      alertname: 'WatchdogMissing',
      severity: 'critical',
      service: 'stackwatch',
    });
    expect(w.alerts[0]!.annotations.summary).toBe(
      'The Watchdog alert has not arrived from Alertmanager for 5 min: Prometheus or Alertmanager may be down.',
    );
  });

  describe('planned like a webhook', () => {
    const setup = buildSetup(
      receiverSection.parse({
        receivers: [
          { name: 'team-ops', channels: ['email'], recipients: ['ops@x.test'] },
          { name: 'team-ops-critical', channels: ['email', 'slack'], recipients: ['oncall@x.test'] },
          { name: 'team-ops-warning', channels: ['email'], recipients: ['ops@x.test'] },
          { name: 'dba', channels: ['email'], recipients: ['dba@x.test'] },
        ],
      }),
      createLogger('error'),
    );
    const w = incidentWebhook(subject, { page: { reason: 'failed', since: T0 } }, { lastSeenAt: T0 })!;

    it('by the routing table (critical), in the lane of stackwatch’s own alerts', () => {
      const rec = planIncident(w, subject, { setup, silences: [], now: T0 });
      expect(rec.jobs.map((j) => [j.channel, j.recipients, j.status, j.lane])).toEqual([
        ['email', ['oncall@x.test'], 'pending', 'self'],
        ['slack', ['slack'], 'pending', 'self'],
      ]);
      // A critical group: escalated like any other if nobody acknowledges it.
      expect(rec.group).toMatchObject({ groupKey: 'stackwatch:{heartbeat="backup"}', criticalSinceMs: T0 });
    });

    it('to the heartbeat’s own receiver when it names one', () => {
      const rec = planIncident(w, { ...subject, receiver: 'dba' }, { setup, silences: [], now: T0 });
      expect(rec.jobs.map((j) => [j.channel, j.recipients, j.content.receiver])).toEqual([
        ['email', ['dba@x.test'], 'dba'],
      ]);
    });

    it('muted by a maintenance window over the heartbeat', () => {
      const window = compileSilence({
        id: 'w1',
        matchers: ['heartbeat="backup"'],
        startsAt: T0 - MIN,
        endsAt: T0 + 60 * MIN,
        comment: 'planned outage',
        createdBy: 'alice',
        source: 'api',
      });
      const rec = planIncident(w, subject, { setup, silences: [window], now: T0 });
      expect(rec.jobs.map((j) => [j.status, j.mutedBy])).toEqual([
        ['muted', ['w1']],
        ['muted', ['w1']],
      ]);
    });
  });

  it.each([
    [6_000, '6 s'],
    [5 * MIN, '5 min'],
    [65 * MIN, '1 h 5 min'],
    [24 * 60 * MIN, '24 h'],
    [7 * 24 * 60 * MIN, '7 d'],
  ])('spanText(%d) is %s', (ms, text) => expect(spanText(ms)).toBe(text));
});
