import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifySmtpError } from '../../src/alerting/channels/email.js';
import { classifySlackError, parseRetryAfter } from '../../src/alerting/channels/slack.js';
import { ContactBook, words } from '../../src/alerting/contacts.js';
import { Acknowledgements } from '../../src/alerting/acknowledgements.js';
import { verifyAckToken } from '../../src/alerting/ack.js';
import { dedupKey } from '../../src/alerting/dedup.js';
import { destinationOf, destinationText } from '../../src/alerting/destination.js';
import { Dispatcher, type BacklogEntry } from '../../src/alerting/dispatch.js';
import { Pacer } from '../../src/alerting/pacing.js';
import { buildSetup, channelFor, paceOf } from '../../src/alerting/setup.js';
import type { JobSpec } from '../../src/alerting/types.js';
import { createLogger } from '../../src/logger.js';
import { matches, parseMatcher } from '../../src/matchers.js';
import { decodeJson, parseWebhook, type Webhook } from '../../src/alerting/payload.js';
import { muteWebhook } from '../../src/alerting/mute.js';
import { planEscalation, planNotifications, planWebhook } from '../../src/alerting/plan.js';
import { Redactor } from '../../src/alerting/redact.js';
import { backoffDelay, decide, DEFAULT_RETRY } from '../../src/alerting/retry.js';
import { Router } from '../../src/alerting/routing.js';
import { compileSilence } from '../../src/alerting/silences.js';
import { validateConfig } from '../../src/config/load.js';
import { receiverSection } from '../../src/config/receiver.js';

// Webhook bodies captured from a real Alertmanager 0.25 (see the README there).
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'alertmanager-0.25');
const fixture = (name: string): Webhook => {
  const r = parseWebhook(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')));
  if (!r.ok) throw new Error(r.error);
  return r.webhook;
};

const defaults = receiverSection.parse({});
const router = new Router(defaults);
const book = new ContactBook(defaults);
const redactor = new Redactor(defaults.redact);

describe('matchers', () => {
  it('parses Alertmanager matcher syntax', () => {
    expect(parseMatcher('severity="critical"')).toMatchObject({
      label: 'severity',
      op: '=',
      value: 'critical',
    });
    expect(parseMatcher('service=~"pg|redis"')).toMatchObject({ op: '=~', value: 'pg|redis' });
    expect(parseMatcher('env!=dev')).toMatchObject({ op: '!=', value: 'dev' });
    expect(parseMatcher('a!~"x\\"y"')).toMatchObject({ op: '!~', value: 'x"y' });
    expect(() => parseMatcher('severity')).toThrow(/invalid matcher/);
    expect(() => parseMatcher('a=~"("')).toThrow(/invalid regular expression/);
  });

  it('anchors regexes at both ends and treats a missing label as empty', () => {
    const m = parseMatcher('service=~"postgres"');
    expect(matches(m, { service: 'postgres' })).toBe(true);
    expect(matches(m, { service: 'postgres-replica' })).toBe(false);
    expect(matches(m, { service: 'my-postgres' })).toBe(false);
    expect(matches(parseMatcher('service!~"db.*"'), { service: 'dbmain' })).toBe(false);
    expect(matches(parseMatcher('service!~"db.*"'), { service: 'api' })).toBe(true);
    expect(matches(parseMatcher('service!~"db.*"'), {})).toBe(true);
    expect(matches(parseMatcher('team=""'), {})).toBe(true);
    expect(matches(parseMatcher('team!=""'), {})).toBe(false);
  });
});

describe('routing', () => {
  it('ships the manuals’ routing table', () => {
    const route = (labels: Record<string, string>) => router.match(labels).map((m) => m.receiver);
    expect(route({ severity: 'critical' })).toEqual(['team-ops-critical']);
    expect(route({ severity: 'warning' })).toEqual(['team-ops-warning']);
    expect(route({ severity: 'info' })).toEqual(['team-ops']);
    expect(route({})).toEqual(['team-ops']);
    expect(router.receivers.get('team-ops-critical')).toMatchObject({
      channels: ['email', 'slack'],
      recipients: ['ops@your-company.com', 'oncall@your-company.com'],
    });
    expect(router.receivers.get('team-ops-warning')).toMatchObject({ channels: ['email'] });
    expect(router.receivers.get('team-ops')).toMatchObject({
      channels: ['email', 'slack'],
      recipients: ['ops@your-company.com'],
    });
  });

  it('follows order, continue, nesting and inherited receivers', () => {
    const cfg = receiverSection.parse({
      receivers: [{ name: 'default' }, { name: 'dba' }, { name: 'pager' }, { name: 'db-critical' }],
      route: {
        receiver: 'default',
        routes: [
          { matchers: ['severity="critical"'], receiver: 'pager', continue: true },
          {
            matchers: [{ label: 'service', op: '=~', value: 'postgres|redis' }],
            receiver: 'dba',
            routes: [
              { matchers: ['severity="critical"'], receiver: 'db-critical' },
              { matchers: ['env!~"prod.*"'] },
            ],
          },
          { matchers: ['service="postgres"'], receiver: 'pager' },
        ],
      },
    });
    const r = new Router(cfg);
    const route = (labels: Record<string, string>) => r.match(labels).map((m) => m.receiver);
    expect(route({ severity: 'critical', service: 'postgres' })).toEqual(['pager', 'db-critical']);
    expect(route({ severity: 'warning', service: 'redis', env: 'prod-eu' })).toEqual(['dba']);
    // nested route without receiver inherits its parent's
    expect(route({ severity: 'warning', service: 'redis', env: 'dev' })).toEqual(['dba']);
    // first match without continue stops: the later postgres route is not reached
    expect(route({ service: 'postgres', env: 'prod' })).toEqual(['dba']);
    expect(route({ service: 'postgresql' })).toEqual(['default']);
  });

  it('rejects unknown receivers, roles and bad matchers in the config, naming the path', () => {
    const bad = (receiver: unknown, re: RegExp) => expect(() => validateConfig({ receiver })).toThrow(re);
    bad({ route: { receiver: 'nobody' } }, /receiver\.route\.receiver: unknown receiver "nobody"/);
    bad(
      { receivers: [{ name: 'x', recipients: ['role:ghost'] }], route: { receiver: 'x' } },
      /recipients\[0\]: unknown contact role/,
    );
    bad({ route: { receiver: 'team-ops', routes: [{ matchers: ['sev'] }] } }, /invalid matcher "sev"/);
    bad(
      { receivers: [{ name: 'x', recipients: ['not an address'] }], route: { receiver: 'x' } },
      /email address or role/,
    );
  });
});

describe('contacts', () => {
  it('splits label values into words', () => {
    expect(words('postgres_exporter')).toEqual(['postgres', 'exporter']);
    expect(words('DiskSpaceLow')).toEqual(['disk', 'space', 'low']);
    expect(words('HTTPServerDown')).toEqual(['http', 'server', 'down']);
  });

  it('names the area role and, for critical, On-Call, with name, phone and email', () => {
    const roles = (labels: Record<string, string>) => book.responsible([{ labels }]).map((c) => c.role);
    expect(roles({ alertname: 'PostgresDown', severity: 'critical' })).toEqual(['oncall', 'dba']);
    expect(roles({ alertname: 'X', service: 'redis' })).toEqual(['dba']);
    expect(roles({ alertname: 'X', job: 'postgres_exporter' })).toEqual(['dba']);
    expect(roles({ alertname: 'DiskSpaceLow', severity: 'warning' })).toEqual(['devops']);
    expect(roles({ alertname: 'ContainerRestarting', service: 'api' })).toEqual(['devops']);
    expect(roles({ alertname: 'ApiHighLatency', severity: 'warning', service: 'api' })).toEqual([]);
    // "nodejs" is not "node": words, not substrings
    expect(roles({ alertname: 'X', service: 'nodejs-api' })).toEqual([]);
    const [oncall] = book.responsible([{ labels: { severity: 'critical' } }]);
    expect(oncall).toMatchObject({
      title: 'On-Call',
      name: '值班',
      phone: '13800138000',
      email: 'oncall@company.com',
    });
    expect(book.role('techlead')).toMatchObject({
      name: '技术负责人',
      phone: '13800138003',
      email: 'tech@company.com',
    });
    expect(book.role('dba')).toMatchObject({
      name: '数据库管理员',
      phone: '13800138001',
      email: 'dba@company.com',
    });
    expect(book.role('devops')).toMatchObject({
      name: '运维工程师',
      phone: '13800138002',
      email: 'devops@company.com',
    });
  });

  it('resolves role recipients to addresses', () => {
    expect(book.resolveRecipients(['role:dba', 'ops@x.io', 'role:dba'])).toEqual([
      'dba@company.com',
      'ops@x.io',
    ]);
  });

  it('uses configured area rules', () => {
    const b = new ContactBook(
      receiverSection.parse({
        areas: [{ name: 'queues', role: 'devops', labels: ['team'], match: 'kafka|rabbit.*' }],
      }),
    );
    expect(b.responsible([{ labels: { team: 'rabbitmq-ops' } }]).map((c) => c.role)).toEqual(['devops']);
    expect(b.responsible([{ labels: { service: 'postgres' } }])).toEqual([]);
  });
});

describe('retry policy', () => {
  const cfg = DEFAULT_RETRY;
  it('rides out a day-long channel outage at the defaults: the age limit binds, not the attempts', () => {
    let elapsed = 0;
    for (let attempt = 1; attempt < cfg.max_attempts; attempt++)
      elapsed += backoffDelay(cfg, attempt, () => 1);
    // Even with every delay at its shortest, the attempts last longer than max_age.
    expect(elapsed).toBeGreaterThan(cfg.max_age);
    expect(receiverSection.parse({}).retry).toEqual(cfg);
  });

  it('backs off exponentially with jitter inside [d·(1−jitter), d], capped', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = Math.min(cfg.max_delay, cfg.base * 2 ** (attempt - 1));
      expect(backoffDelay(cfg, attempt, () => 0)).toBe(d);
      expect(backoffDelay(cfg, attempt, () => 0.999999)).toBeGreaterThanOrEqual(
        Math.floor(d * (1 - cfg.jitter)),
      );
      for (let i = 0; i < 50; i++) {
        const v = backoffDelay(cfg, attempt);
        expect(v).toBeGreaterThanOrEqual(Math.floor(d * (1 - cfg.jitter)));
        expect(v).toBeLessThanOrEqual(d);
      }
    }
    expect(backoffDelay(cfg, 30, () => 0)).toBe(cfg.max_delay);
    expect(backoffDelay({ ...cfg, jitter: 0 }, 3, Math.random)).toBe(4000);
  });

  it('decides retry, dead letter on permanent failure, attempts and age limits; honours Retry-After', () => {
    const t0 = 1_000_000;
    expect(decide(cfg, { kind: 'success' }, 1, t0, t0)).toEqual({ kind: 'done' });
    expect(decide(cfg, { kind: 'failure', reason: 'SMTP 550' }, 1, t0, t0)).toMatchObject({ kind: 'dead' });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, 1, t0, t0, () => 0)).toEqual({
      kind: 'retry',
      delayMs: 1000,
      reason: 'x',
    });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, cfg.max_attempts, t0, t0)).toMatchObject({
      kind: 'dead',
    });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, cfg.max_attempts - 1, t0, t0)).toMatchObject({
      kind: 'retry',
    });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, 2, t0, t0 + cfg.max_age)).toMatchObject({
      kind: 'dead',
    });
    expect(
      decide(cfg, { kind: 'retryable', retryAfterMs: 2000, reason: '429' }, 1, t0, t0, () => 0),
    ).toMatchObject({
      delayMs: 2000,
    });
  });

  it('classifies SMTP and Slack errors', () => {
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 451 }))).toMatchObject({
      kind: 'retryable',
    });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 421 }))).toMatchObject({
      kind: 'retryable',
    });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 550 }))).toMatchObject({
      kind: 'failure',
    });
    expect(classifySmtpError(Object.assign(new Error('refused'), { code: 'ECONNECTION' }))).toMatchObject({
      kind: 'retryable',
    });
    const http = (status: number, headers: Record<string, string> = {}, data = '') =>
      Object.assign(new Error('http'), { original: { response: { status, headers, data } } });
    expect(classifySlackError(http(429, { 'retry-after': '2' }))).toEqual({
      kind: 'retryable',
      retryAfterMs: 2000,
      reason: 'HTTP 429',
      cause: 'rateLimited',
    });
    expect(classifySlackError(http(500))).toMatchObject({ kind: 'retryable', cause: 'serverError' });
    expect(classifySlackError(http(404, {}, 'no_service'))).toEqual({
      kind: 'failure',
      reason: 'HTTP 404 no_service',
      cause: 'clientError',
    });
    expect(classifySlackError(http(403, {}, 'invalid_token'))).toMatchObject({
      kind: 'failure',
      cause: 'authError',
    });
    expect(
      classifySmtpError(
        Object.assign(new Error('x'), {
          responseCode: 451,
          response: '451 4.7.1 Too many messages, slow down',
        }),
      ),
    ).toMatchObject({ kind: 'retryable', cause: 'rateLimited' });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 535 }))).toMatchObject({
      kind: 'failure',
      cause: 'authError',
    });
    expect(
      classifySlackError(
        Object.assign(new Error('net'), { original: { code: 'ECONNREFUSED', message: 'refused' } }),
      ),
    ).toMatchObject({
      kind: 'retryable',
    });
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

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

describe('payload (parse stage)', () => {
  it('accepts the real Alertmanager 0.25 payloads', () => {
    for (const f of ['apidown_0.json', 'apidown_1.json', 'apidown_2.json', 'prom_truncated.json']) {
      const w = fixture(f);
      expect(w.version).toBe('4');
    }
    expect(fixture('prom_truncated.json').truncatedAlerts).toBe(1);
  });

  it('names the bad field', () => {
    const good = JSON.parse(readFileSync(join(FIXTURES, 'apidown_0.json'), 'utf8')) as Record<
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
      expect(rec).toEqual({ jobs: plan.jobs, group: plan.group });
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
