import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerFixture as fixture } from '../../support/webhooks.js';
import type { Acknowledgement } from '../../../src/alerting/acknowledgement/tokens.js';
import { AlertReceiver } from '../../../src/alerting/receiver.js';
import { ContactBook } from '../../../src/alerting/ingest/contacts.js';
import { type Webhook } from '../../../src/alerting/ingest/payload.js';
import { planEscalation, planWebhook } from '../../../src/alerting/ingest/plan.js';
import { Redactor } from '../../../src/alerting/ingest/redact.js';
import { Router } from '../../../src/alerting/ingest/routing.js';
import { PgStore } from '../../../src/alerting/outbox/postgres.js';
import type { AlertStore } from '../../../src/alerting/outbox/contract.js';
import { SqliteStore } from '../../../src/alerting/outbox/sqlite.js';
import { validateConfig } from '../../../src/config/load.js';
import { DEFAULT_RECEIVERS, receiverSection } from '../../../src/config/receiver.js';
import { createLogger } from '../../../src/logger.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { startSlack } from '../../support/slack.js';
import { tempDir, waitFor } from '../../support/util.js';

const cfg = receiverSection.parse({});
const now = Date.parse('2026-11-22T11:00:00Z');
const ctx = {
  router: new Router(cfg),
  book: new ContactBook(cfg),
  redactor: new Redactor(cfg.redact),
  silences: [],
  now,
  mailDomain: 'sw.test',
};
const HOUR = 3_600_000;

/** The default tables with the critical receiver paging through an escalation policy. */
const paging = receiverSection.parse({
  people: [{ id: 'alice', name: 'Alice', email: 'alice@company.com' }],
  escalation_policies: [
    { name: 'critical', steps: [{ notify: ['alice'] }, { after: '5m', notify: ['alice'] }] },
  ],
  receivers: DEFAULT_RECEIVERS.map((r) =>
    r.name === 'team-ops-critical' ? { ...r, escalation_policy: 'critical' } : r,
  ),
});
const pagingCtx = { ...ctx, router: new Router(paging) };

/** An outbox made for a test: the receiver's store settings for it, raw SQL on it, and a way to open it. */
interface MadeOutbox {
  /** receiver.store, and the data directory (SQLite). */
  store: { type: 'sqlite' } | { type: 'postgres'; dsn: string; schema: string };
  dataDir?: string;
  /** The jobs table's name in SQL. */
  jobs: string;
  sql: (statements: string) => Promise<void>;
  open: () => Promise<AlertStore>;
}

/** A way to open fresh, empty outboxes of one kind. */
interface StoreKind {
  name: string;
  setup: () => Promise<void>;
  open: () => Promise<AlertStore>;
  /** A fresh outbox with this version's tables, closed again, for raw SQL. */
  make: () => Promise<MadeOutbox>;
  teardown: () => Promise<void>;
}

const dirs: { cleanup: () => void }[] = [];
const sqlite: StoreKind = {
  name: 'SQLite',
  setup: async () => undefined,
  open: async () => {
    const t = tempDir('swstore');
    dirs.push(t);
    return new SqliteStore(t.path);
  },
  make: async () => {
    const t = tempDir('swstore');
    dirs.push(t);
    await new SqliteStore(t.path).close();
    return {
      store: { type: 'sqlite' },
      dataDir: t.path,
      jobs: 'jobs',
      sql: async (statements) => {
        const db = new Database(join(t.path, 'receiver.sqlite'));
        try {
          db.exec(statements);
        } finally {
          db.close();
        }
      },
      open: async () => new SqliteStore(t.path),
    };
  },
  teardown: async () => dirs.splice(0).forEach((d) => d.cleanup()),
};

let server: PostgresServer | undefined;
let schemas = 0;
const postgres: StoreKind = {
  name: 'PostgreSQL',
  setup: async () => {
    server = await startPostgres();
  },
  // Each outbox in its own schema of the one server.
  open: () => PgStore.open({ dsn: server!.dsn(), schema: `outbox_${++schemas}`, claimTimeoutMs: 5 * 60_000 }),
  make: async () => {
    const schema = `outbox_${++schemas}`;
    const open = () => PgStore.open({ dsn: server!.dsn(), schema, claimTimeoutMs: 5 * 60_000 });
    await (await open()).close();
    return {
      store: { type: 'postgres', dsn: server!.dsn(), schema },
      jobs: `${schema}.jobs`,
      sql: async (statements) => void (await server!.psql(statements)),
      open,
    };
  },
  teardown: async () => {
    await server?.destroy();
  },
};

describe.each([sqlite, postgres])('$name outbox (record stage)', (kind) => {
  let store: AlertStore;
  const opened: AlertStore[] = [];
  const fresh = async () => {
    const s = await kind.open();
    opened.push(s);
    return s;
  };
  beforeAll(async () => {
    await kind.setup();
    store = await fresh();
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
    await kind.teardown();
  });

  it('dedups a repeated webhook through the UNIQUE key, inside one batch and across batches', async () => {
    const rec = planWebhook(fixture('apidown_0.json'), ctx);
    const [a, b] = await store.record([rec, rec], now, HOUR);
    expect(a).toEqual({ recorded: 2, duplicates: 0, muted: 0 });
    expect(b).toEqual({ recorded: 0, duplicates: 2, muted: 0 });
    const [c] = await store.record([planWebhook(fixture('apidown_0.json'), ctx)], now + 1000, HOUR);
    expect(c).toEqual({ recorded: 0, duplicates: 2, muted: 0 });
    // after the dedup window the same content is a new notification (e.g. a 12 h repeat)
    const [d] = await store.record([rec], now + 2 * HOUR, HOUR);
    expect(d!.recorded).toBe(2);
  });

  it('counts one replica while it alone uses the outbox', async () => {
    expect((await fresh()).replicas()).toBe(1);
  });

  it('threads the resolved mail to the firing one', async () => {
    const s = await fresh();
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    await s.record([planWebhook(fixture('apidown_1.json'), ctx)], now + 1, HOUR);
    await s.record([planWebhook(fixture('apidown_2.json'), ctx)], now + 2, HOUR);
    const mails = (await s.list({ limit: 10 })).filter((j) => j.channel === 'email').reverse();
    expect(mails.map((m) => m.alertStatus)).toEqual(['firing', 'firing', 'resolved']);
    const root = mails[0]!.messageId;
    expect(mails[0]!.inReplyTo).toBeNull();
    expect(mails[1]!.inReplyTo).toBe(root);
    expect(mails[2]!.inReplyTo).toBe(root);
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(3);
  });

  it('threads the same way when firing, still firing and resolved arrive in one batch', async () => {
    const s = await fresh();
    await s.record(
      ['apidown_0.json', 'apidown_1.json', 'apidown_2.json'].map((f) => planWebhook(fixture(f), ctx)),
      now,
      HOUR,
    );
    const mails = (await s.list({ limit: 10 })).filter((j) => j.channel === 'email').reverse();
    expect(mails.map((m) => m.alertStatus)).toEqual(['firing', 'firing', 'resolved']);
    expect(mails.map((m) => m.inReplyTo)).toEqual([null, mails[0]!.messageId, mails[0]!.messageId]);
    // The resolution ended the conversation: the next firing starts a new thread.
    const later = { ...ctx, now: now + 2 * HOUR };
    await s.record([planWebhook(fixture('apidown_0.json'), later)], later.now, HOUR);
    const [again] = (await s.list({ limit: 10 })).filter((j) => j.channel === 'email');
    expect(again).toMatchObject({ alertStatus: 'firing', inReplyTo: null });
    expect(again!.messageId).not.toBe(mails[0]!.messageId);
  });

  it('moves jobs through retry, dead letter and re-drive', async () => {
    const [job] = await store.due('email', now + 10 * HOUR, 1, new Set());
    expect(job).toBeDefined();
    await store.complete(
      [{ id: job!.id, attempts: 1, kind: 'retry', nextAttemptAt: now + 11 * HOUR, error: 'SMTP 451' }],
      now,
    );
    expect((await store.due('email', now + 10 * HOUR, 100, new Set())).map((j) => j.id)).not.toContain(
      job!.id,
    );
    await store.complete([{ id: job!.id, attempts: 2, kind: 'dead', error: 'permanent: SMTP 550' }], now);
    expect((await store.counts()).dead).toBe(1);
    const again = await store.redrive(job!.id, now + 12 * HOUR);
    expect(again).toMatchObject({ status: 'pending', attempts: 0, ageFrom: now + 12 * HOUR });
    expect(await store.redrive(job!.id, now)).toBeUndefined(); // not dead any more
    await store.complete([{ id: job!.id, attempts: 1, kind: 'sent' }], now + 12 * HOUR);
    expect(await store.get(job!.id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('escalates a firing critical group once, and not after it resolved', async () => {
    const s = await fresh();
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    const after = 30 * 60_000;
    expect(await s.escalationCandidates(now, after)).toEqual([]); // fired only 18 minutes ago
    const due = await s.escalationCandidates(now + HOUR, after);
    expect(due.map((g) => g.groupKey)).toEqual([fixture('apidown_0.json').groupKey]);
    const jobs = planEscalation(due[0]!, {
      book: ctx.book,
      silences: [],
      now,
      role: 'techlead',
      channels: ['email', 'slack'],
      afterMs: after,
      mailDomain: 'sw.test',
    });
    expect(jobs[0]!.recipients).toEqual(['tech@company.com']);
    expect(jobs[0]!.content.contacts[0]).toMatchObject({ role: 'techlead', reason: 'escalation' });
    expect((await s.recordEscalation(due[0]!.groupKey, jobs, now, HOUR)).recorded).toBe(2);
    expect(await s.escalationCandidates(now + HOUR, after)).toEqual([]);
    expect((await s.recordEscalation(due[0]!.groupKey, jobs, now, HOUR)).duplicates).toBe(2);
    // resolved: the group is forgotten; a late duplicate of the firing post does not reopen it
    await s.record([planWebhook(fixture('apidown_2.json'), ctx)], now + 1, HOUR);
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now + 2, HOUR);
    expect(await s.escalationCandidates(now + HOUR, after)).toEqual([]);
  });

  it('starts an escalation episode on the outbox clock, keeps its start while the group fires, ends it on resolve', async () => {
    const s = await fresh();
    const before = await s.clock();
    await s.record([planWebhook(fixture('apidown_0.json'), pagingCtx)], now, HOUR);
    const [ep] = await s.episodes(10);
    expect(ep).toMatchObject({ policy: 'critical', receiver: 'team-ops-critical', nextIndex: 0 });
    expect(ep!.groupKey).toBe(fixture('apidown_0.json').groupKey);
    expect(ep!.startedAt).toBeGreaterThanOrEqual(before);
    expect(ep!.startedAt).toBeLessThanOrEqual(await s.clock());
    expect(ep!.content.alerts).toHaveLength(2);
    // Still firing: the episode goes on from its first notification, with the latest alerts.
    await s.record([planWebhook(fixture('apidown_1.json'), pagingCtx)], now + 1000, HOUR);
    const [same] = await s.episodes(10);
    expect(same).toMatchObject({ startedAt: ep!.startedAt, nextIndex: 0 });
    expect(same!.content.alerts.map((a) => a.status)).toEqual(['firing']);

    // A step is recorded once: the episode moves past it in the same transaction.
    const jobs = planEscalation(
      { ...ep!, criticalSinceMs: ep!.startedAt },
      {
        book: ctx.book,
        silences: [],
        now,
        role: 'oncall',
        channels: ['email'],
        afterMs: 0,
        mailDomain: 'sw.test',
      },
    );
    expect(await s.recordStep(ep!, 1, jobs, now, HOUR)).toEqual({ recorded: 1, duplicates: 0, muted: 0 });
    expect(await s.recordStep(ep!, 1, jobs, now, HOUR)).toBeUndefined();
    expect((await s.episodes(10))[0]!.nextIndex).toBe(1);
    // The step is an event of the group's incident, once, with the notification it recorded.
    const events = await s.groupEvents(ep!.groupKey, 0, 10);
    const steps = events.filter((e) => e.kind === 'escalation');
    expect(steps).toHaveLength(1);
    expect(events.at(-1)).toBe(steps[0]);
    expect(await s.jobsByIds(steps[0]!.jobIds)).toMatchObject([{ kind: 'escalation' }]);

    // Resolved: the episode ends, and a step read before it records nothing.
    await s.record([planWebhook(fixture('apidown_2.json'), pagingCtx)], now + 2000, HOUR);
    expect(await s.episodes(10)).toEqual([]);
    expect(await s.recordStep({ ...ep!, nextIndex: 1 }, 2, jobs, now, HOUR)).toBeUndefined();
    // A late duplicate of the first post (an HA peer's copy) does not start a new episode.
    await s.record([planWebhook(fixture('apidown_0.json'), pagingCtx)], now + 3000, HOUR);
    expect(await s.episodes(10)).toEqual([]);
  });

  it('keeps the schedule overrides made at run time', async () => {
    const s = await fresh();
    const o = (id: string, start: number) => ({
      id,
      schedule: 'primary',
      person: 'dave',
      start,
      end: start + HOUR,
      comment: '值班 swap',
      createdBy: 'alice',
      createdAt: now,
      source: 'api' as const,
    });
    await s.addOverride(o('late', now + HOUR));
    await s.addOverride(o('early', now));
    expect((await s.listOverrides()).map((x) => x.id)).toEqual(['early', 'late']);
    expect((await s.listOverrides())[0]).toEqual(o('early', now));
    expect(await s.deleteOverride('secondary', 'early')).toBe(false);
    expect(await s.deleteOverride('primary', 'early')).toBe(true);
    // Pruned `retention` after they end.
    await s.prune(now + 2 * HOUR + HOUR / 2, HOUR, HOUR);
    expect((await s.listOverrides()).map((x) => x.id)).toEqual(['late']);
    await s.prune(now + 3 * HOUR + 1, HOUR, HOUR);
    expect(await s.listOverrides()).toEqual([]);
  });

  it('keeps maintenance windows', async () => {
    await store.addSilence({
      id: 's1',
      matchers: ['service="postgres"'],
      startsAt: now,
      endsAt: now + HOUR,
      comment: 'upgrade',
      createdBy: 'me',
      source: 'api',
    });
    expect((await store.listSilences()).map((s) => s.id)).toEqual(['s1']);
    expect(await store.endSilence('s1', now + 60_000)).toBe(true);
    expect(await store.endSilence('s1', now + 120_000)).toBe(false);
    expect((await store.listSilences())[0]!.endsAt).toBe(now + 60_000);
    expect(await store.deleteSilence('s1')).toBe(true);
    expect(await store.deleteSilence('s1')).toBe(false);
  });

  it('stores hostile strings in every field, as the other outbox does', async () => {
    // NUL (PostgreSQL refuses it in text) and unpaired UTF-16 halves (no UTF-8 form) become
    // U+FFFD in both outboxes; everything else is kept exactly.
    const hostile = [
      'nul\u0000key',
      'half\ud800',
      'low\udc00end',
      'emoji\u{1F600}',
      'c\u0001\u001f\u007f',
      'bidi\u202e',
      `q"'\\`,
      '<b>&amp;',
    ].join('|');
    const stored = hostile
      .split('\u0000')
      .join('\uFFFD')
      .replace('\ud800', '\uFFFD')
      .replace('\udc00', '\uFFFD');
    const s = await fresh();
    const w = fixture('apidown_0.json');
    const raw: Webhook = {
      ...w,
      groupKey: `{}:{alertname="${hostile}"}`,
      commonAnnotations: { summary: hostile },
      alerts: w.alerts.map((a) => ({
        ...a,
        labels: { ...a.labels, hostile },
        annotations: { ...a.annotations, description: hostile },
      })),
    };
    const [out] = await s.record([planWebhook(raw, ctx)], now, HOUR);
    expect(out!.recorded).toBeGreaterThan(0);
    const jobs = await s.list({ limit: 10 });
    expect(jobs).toHaveLength(out!.recorded);
    for (const j of jobs) {
      expect(j.groupKey).toBe(`{}:{alertname="${stored}"}`);
      expect(j.content.groupKey).toBe(`{}:{alertname="${stored}"}`);
      expect(j.content.alerts.map((a) => [a.labels.hostile, a.annotations.description])).toEqual(
        j.content.alerts.map(() => [stored, stored]),
      );
    }
    const first = jobs[0]!;
    await s.complete([{ id: first.id, attempts: 1, kind: 'dead', error: `SMTP 550 ${hostile}` }], now);
    expect((await s.get(first.id))?.lastError).toBe(`SMTP 550 ${stored}`);
    await s.addSilence({
      id: 'hostile',
      matchers: [`hostile="${hostile}"`],
      startsAt: now,
      endsAt: now + HOUR,
      comment: hostile,
      createdBy: hostile,
      source: 'api',
    });
    expect((await s.listSilences()).find((x) => x.id === 'hostile')).toMatchObject({
      matchers: [`hostile="${stored}"`],
      comment: stored,
      createdBy: stored,
    });
  });

  it('keeps one active acknowledgement per group, and its history when it ends', async () => {
    const s = await fresh();
    const ack = (id: string, by: string, at: number): Acknowledgement => ({
      id,
      groupKey: 'g1',
      alertname: 'ApiDown',
      groupLabels: { alertname: 'ApiDown' },
      by,
      via: 'ops@example.com',
      at,
      comment: '',
      silenceId: id === 'a2' ? 'am-silence-1' : null,
      silenceEndsAt: id === 'a2' ? at + HOUR : null,
      endedAt: null,
      endedBy: null,
    });
    await s.putAck(ack('a1', 'alice', now));
    await s.putAck(ack('a2', 'bob', now + 1000));
    const active = await s.listAcks({ active: true, limit: 10 });
    expect(active.map((a) => [a.id, a.by, a.silenceId])).toEqual([['a2', 'bob', 'am-silence-1']]);
    const all = await s.listAcks({ limit: 10 });
    expect(all.map((a) => [a.id, a.endedAt, a.endedBy])).toEqual([
      ['a2', null, null],
      ['a1', now + 1000, 'bob'],
    ]);
    const ended = await s.endAck('g1', 'carol', now + 2000);
    expect(ended).toMatchObject({ id: 'a2', endedAt: now + 2000, endedBy: 'carol' });
    expect(await s.endAck('g1', 'carol', now + 3000)).toBeUndefined();
    expect(await s.listAcks({ active: true, limit: 10 })).toEqual([]);
    // A name with NUL in it (PostgreSQL refuses NUL in text) is stored as in the other outbox.
    await s.putAck({ ...ack('a3', 'nul\u0000name', now + 4000), groupKey: 'g\u00002' });
    const [odd] = await s.listAcks({ active: true, limit: 10 });
    expect([odd?.by, odd?.groupKey]).toEqual(['nul\uFFFDname', 'g\uFFFD2']);
    expect(await s.endAck('g\u00002', 'x', now + 5000)).toMatchObject({ id: 'a3' });
  });

  it('keeps each webhook of a group as an event and the group as an incident: opened, resolved, reopened', async () => {
    const s = await fresh();
    const key = fixture('apidown_0.json').groupKey;
    const states = async () =>
      (await s.groupStates({ resolvedSince: 0, limit: 10 })).map((g) => [g.status, g.incident, g.firing]);
    const [first] = await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    const [opened] = await s.groupEvents(key, 0, 10);
    expect(opened).toMatchObject({ kind: 'webhook', status: 'firing', firing: 2, resolved: 0, at: now });
    expect(opened!.detail.alerts.map((a) => a.labels)).toEqual([
      { instance: 'api-1' },
      { instance: 'api-2' },
    ]);
    expect(opened!.sinceMs).toBe(Date.parse('2026-11-22T10:41:31.315Z'));
    // The event names the notifications recorded with it.
    const jobs = await s.jobsByIds(opened!.jobIds);
    expect(jobs.map((j) => j.channel).sort()).toEqual(['email', 'slack']);
    expect(opened!.jobIds).toHaveLength(first!.recorded);
    expect(await states()).toEqual([['firing', opened!.id, 2]]);
    // A duplicate (an HA replica's copy) is no event.
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now + 1, HOUR);
    expect(await s.groupEvents(key, 0, 10)).toHaveLength(1);

    await s.record([planWebhook(fixture('apidown_1.json'), ctx)], now + 2, HOUR);
    await s.record([planWebhook(fixture('apidown_2.json'), ctx)], now + 3, HOUR);
    expect(await states()).toEqual([['resolved', opened!.id, 0]]);
    expect((await s.groupStates({ resolvedSince: now + 4, limit: 10 })).length).toBe(0);
    const [state] = await s.groupStates({ resolvedSince: now + 3, limit: 10 });
    expect(state).toMatchObject({ resolvedAt: now + 3, groupKey: key });
    // Firing again after the dedup window: a new incident, opened by that webhook's event.
    await s.record(
      [planWebhook(fixture('apidown_0.json'), { ...ctx, now: now + 2 * HOUR })],
      now + 2 * HOUR,
      HOUR,
    );
    const events = await s.groupEvents(key, 0, 10);
    expect(events.map((e) => [e.status, e.firing, e.resolved])).toEqual([
      ['firing', 2, 0],
      ['firing', 1, 1],
      ['resolved', 0, 1],
      ['firing', 2, 0],
    ]);
    expect(events[0]!.firingSet).toBe(events[3]!.firingSet);
    expect(events[1]!.firingSet).not.toBe(events[0]!.firingSet);
    expect(await states()).toEqual([['firing', events[3]!.id, 2]]);
    expect((await s.groupEvent(events[3]!.id))?.groupKey).toBe(key);
    expect(await s.groupEvents(key, events[3]!.id, 10)).toHaveLength(1);
  });

  it('keeps the same events and incident when the webhooks arrive in one batch', async () => {
    const s = await fresh();
    const key = fixture('apidown_0.json').groupKey;
    // The group fires again later: its alerts start anew.
    const again = fixture('apidown_0.json');
    again.alerts = again.alerts.map((a) => ({ ...a, startsAt: '2026-11-22T10:59:00Z' }));
    await s.record(
      [
        ...['apidown_0.json', 'apidown_1.json', 'apidown_2.json'].map((f) => planWebhook(fixture(f), ctx)),
        planWebhook(again, ctx),
        planWebhook({ ...fixture('apidown_0.json'), groupKey: 'other' }, ctx),
      ],
      now,
      HOUR,
    );
    const events = await s.groupEvents(key, 0, 10);
    expect(events.map((e) => e.status)).toEqual(['firing', 'firing', 'resolved', 'firing']);
    const [state] = (await s.groupStates({ resolvedSince: 0, limit: 10 })).filter((g) => g.groupKey === key);
    expect(state!.sinceMs).toBe(Date.parse('2026-11-22T10:59:00Z'));
    const groups = await s.groupStates({ resolvedSince: 0, limit: 10 });
    expect(groups.map((g) => [g.groupKey, g.status, g.incident]).sort()).toEqual(
      [
        [key, 'firing', events[3]!.id],
        ['other', 'firing', (await s.groupEvents('other', 0, 1))[0]!.id],
      ].sort(),
    );
  });

  it('records an escalation as an event of its group, with its notifications, leaving the incident as it is', async () => {
    const s = await fresh();
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    const [due] = await s.escalationCandidates(now + HOUR, 30 * 60_000);
    expect(await s.escalationStatuses()).toEqual([
      { groupKey: due!.groupKey, criticalSinceMs: due!.criticalSinceMs, escalatedAt: null },
    ]);
    const jobs = planEscalation(due!, {
      book: ctx.book,
      silences: [],
      now: now + HOUR,
      role: 'techlead',
      channels: ['email'],
      afterMs: 30 * 60_000,
      mailDomain: 'sw.test',
    });
    await s.recordEscalation(due!.groupKey, jobs, now + HOUR, HOUR);
    const events = await s.groupEvents(due!.groupKey, 0, 10);
    expect(events.map((e) => e.kind)).toEqual(['webhook', 'escalation']);
    const [mail] = await s.jobsByIds(events[1]!.jobIds);
    expect(mail).toMatchObject({ kind: 'escalation', recipients: ['tech@company.com'] });
    expect((await s.escalationStatuses())[0]!.escalatedAt).toBe(now + HOUR);
    expect((await s.groupStates({ resolvedSince: 0, limit: 10 }))[0]).toMatchObject({
      incident: events[0]!.id,
      lastEvent: events[0]!.id,
    });
    // A second check that finds the group again records nothing, and no event.
    await s.recordEscalation(due!.groupKey, jobs, now + HOUR, HOUR);
    expect(await s.groupEvents(due!.groupKey, 0, 10)).toHaveLength(2);
  });

  it('prunes group events and states with the notifications, after retention', async () => {
    const s = await fresh();
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    await s.record(
      [planWebhook({ ...fixture('apidown_0.json'), groupKey: 'later' }, ctx)],
      now + 2 * HOUR,
      HOUR,
    );
    await s.prune(now + 3 * HOUR, 2 * HOUR, HOUR);
    expect(await s.groupEvents(fixture('apidown_0.json').groupKey, 0, 10)).toEqual([]);
    expect((await s.groupStates({ resolvedSince: 0, limit: 10 })).map((g) => g.groupKey)).toEqual(['later']);
  });

  it('keeps secrets: the first replica’s wins, a single-use one is taken once, expired ones are gone', async () => {
    const s = await fresh();
    expect(await s.secret('console_token', now)).toBeUndefined();
    expect(await s.initSecret('console_token', 'first', now)).toBe('first');
    expect(await s.initSecret('console_token', 'second', now)).toBe('first');
    await s.setSecret('console_token', 'rotated', now);
    expect(await s.secret('console_token', now)).toBe('rotated');
    await s.setSecret('nonce:a', '1', now, now + 1000);
    await s.setSecret('nonce:b', '1', now, now + 1000);
    await s.setSecret('nonce:c', '1', now, now + 1000);
    expect(await s.takeSecret('nonce:a', now + 999)).toBe(true);
    expect(await s.takeSecret('nonce:a', now + 999)).toBe(false);
    expect(await s.takeSecret('nonce:b', now + 1000)).toBe(false); // expired
    expect(await s.secret('nonce:c', now)).toBe('1');
    await s.deleteSecrets('nonce:');
    expect(await s.secret('nonce:c', now)).toBeUndefined();
    expect(await s.secret('console_token', now)).toBe('rotated');
    await s.setSecret('nonce:d', '1', now, now + 1000);
    await s.prune(now + 1000, HOUR, HOUR);
    expect(await s.takeSecret('nonce:d', now)).toBe(false);
  });

  it('lists notifications filtered by status, channel, receiver and group', async () => {
    const s = await fresh();
    await s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    const all = await s.list({ limit: 100 });
    expect(all.map((j) => j.channel).sort()).toEqual(['email', 'slack']);
    const [email] = await s.list({ channel: 'email', limit: 100 });
    expect(email!.channel).toBe('email');
    expect(await s.list({ channel: 'slack', status: 'dead', limit: 100 })).toEqual([]);
    expect((await s.list({ groupKey: email!.groupKey, receiver: email!.receiver, limit: 100 })).length).toBe(
      2,
    );
    expect(await s.list({ groupKey: 'another group', limit: 100 })).toEqual([]);
  });

  it('keeps a robot by its name, not its URL: receivers sharing a robot record one notification for it', async () => {
    const url = 'https://oapi.dingtalk.com/robot/send?access_token=robot-token-0123456789';
    const robots = receiverSection.parse({
      route: {
        receiver: 'ops',
        routes: [
          { matchers: ['severity="critical"'], receiver: 'dba', continue: true },
          { matchers: ['severity="critical"'], receiver: 'ops' },
        ],
      },
      receivers: [
        {
          name: 'ops',
          channels: ['dingtalk', 'wecom'],
          dingtalk_webhook_url: url,
          wecom_webhook_url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-ops',
        },
        { name: 'dba', channels: ['dingtalk'], dingtalk_webhook_url: url },
      ],
    });
    const s = await fresh();
    const rctx = { ...ctx, router: new Router(robots), book: new ContactBook(robots) };
    const [out] = await s.record([planWebhook(fixture('apidown_0.json'), rctx)], now, HOUR);
    // dba's and ops's DingTalk notifications of the same alerts are one message to their one robot.
    expect(out).toEqual({ recorded: 2, duplicates: 1, muted: 0 });
    const backlog = await s.backlog('dingtalk', ['critical', 'other'], now, 100);
    expect(backlog.map((b) => b.destination.names)).toEqual([
      [expect.stringMatching(/^dingtalk:[0-9a-f]{16}$/)],
    ]);
    expect(
      (await s.backlog('wecom', ['critical', 'other'], now, 100)).map((b) => b.destination.names[0]),
    ).toEqual([expect.stringMatching(/^wecom:[0-9a-f]{16}$/)]);
    expect(JSON.stringify(await s.list({ limit: 100 }))).not.toMatch(/robot-token|k-ops/);
  });

  it('delivers the Slack jobs of an outbox that named their webhook in the recipients to that webhook', async () => {
    // An outbox as the version before this column wrote it: a job to a receiver with a webhook of
    // its own had ["slack:<receiver>"] as its recipients; one to the default webhook ["slack"].
    const made = await kind.make();
    const content = planWebhook(fixture('apidown_0.json'), ctx).jobs[0]!.content;
    const t = Date.now();
    const row = (dedup: string, receiver: string, recipients: string) =>
      `(${t}, ${t}, ${t}, '${dedup}', 'alert', '${content.groupKey}', '${receiver}', 'slack', '${recipients}',
        'pending', 'firing', '${JSON.stringify({ ...content, receiver }).replaceAll("'", "''")}', ${t}, '')`;
    await made.sql(`ALTER TABLE ${made.jobs} DROP COLUMN slack_webhook;
      INSERT INTO ${made.jobs} (created_at, updated_at, age_from, dedup_key, kind, group_key, receiver, channel,
        recipients, status, alert_status, content, next_attempt_at, lane)
      VALUES ${row('old-own', 'team-db', '["slack:team-db"]')}, ${row('old-default', 'team-ops', '["slack"]')};`);

    const slack = await startSlack();
    const receiver = new AlertReceiver({
      config: validateConfig({
        receiver: {
          store: made.store,
          slack: { webhook_url: `${slack.url}/default` },
          route: { receiver: 'team-ops' },
          receivers: [
            { name: 'team-ops', channels: ['slack'] },
            { name: 'team-db', channels: ['slack'], slack_webhook_url: `${slack.url}/team-db` },
          ],
        },
      }),
      logger: createLogger('error'),
      registry: new Registry(),
      dataDir: made.dataDir,
    });
    try {
      await receiver.start();
      await waitFor(async () => (slack.requests.length >= 2 ? true : undefined), 10_000, 'both deliveries');
      expect(slack.requests.map((r) => r.path).sort()).toEqual([
        new URL(`${slack.url}/default`).pathname,
        new URL(`${slack.url}/team-db`).pathname,
      ]);
    } finally {
      await receiver.stop();
      await slack.close();
    }
    const s = await made.open();
    opened.push(s);
    const jobs = await s.list({ limit: 10 });
    expect(jobs.map((j) => [j.dedupKey, j.recipients, j.slackWebhook, j.status]).sort()).toEqual([
      ['old-default', ['slack'], null, 'sent'],
      ['old-own', ['slack'], 'team-db', 'sent'],
    ]);
  });

  it('fails loudly when the database is gone (the webhook answers 503)', async () => {
    const s = await kind.open();
    await s.close();
    await expect(s.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR)).rejects.toThrow(
      /database connection is not open|after calling end on the pool/,
    );
  });
});

describe('SQLite outbox durability settings', () => {
  const tmp = tempDir('swstore');
  const store = new SqliteStore(tmp.path);
  afterAll(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('records webhooks in WAL mode with synchronous=FULL, and delivery results without changing that', async () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    await store.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
    const [job] = await store.due('email', now, 1, new Set());
    await store.complete([{ id: job!.id, attempts: 1, kind: 'sent' }], now);
    expect(await store.get(job!.id)).toMatchObject({ status: 'sent' });
    // Results commit with synchronous=NORMAL; the connection is back to FULL for the next webhook.
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
  });
});

describe('PostgreSQL outbox shared by two replicas', () => {
  let pgServer: PostgresServer;
  let a: PgStore;
  let b: PgStore;
  const CLAIM = 60_000;
  beforeAll(async () => {
    pgServer = await startPostgres();
    // Opened at the same time, as replicas starting together: the schema is created once.
    [a, b] = (await Promise.all(
      [1, 2].map(() => PgStore.open({ dsn: pgServer.dsn(), schema: 'shared', claimTimeoutMs: CLAIM })),
    )) as [PgStore, PgStore];
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await pgServer?.destroy();
  });

  it('moves groups through their incidents in one statement per batch as SQLite does webhook by webhook', async () => {
    // Four groups, sixty webhooks firing or resolved at random, in batches of 1 to 12: the
    // states PostgreSQL computes for each batch in SQL are those SQLite computes one by one.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const webhooks = Array.from({ length: 60 }, (_, i) => {
      const w = fixture('apidown_0.json');
      const status = random() < 0.35 ? 'resolved' : 'firing';
      return {
        ...w,
        groupKey: `g${Math.floor(random() * 4)}`,
        status,
        alerts: w.alerts.map((a) => ({
          ...a,
          status,
          startsAt: new Date(now - Math.floor(random() * 50) * 60_000).toISOString(),
          fingerprint: `${a.fingerprint}-${i}`,
        })),
      } as Webhook;
    });
    const pgStore = await PgStore.open({ dsn: pgServer.dsn(), schema: 'folded', claimTimeoutMs: CLAIM });
    const dir = tempDir('swstore');
    const sqliteStore = new SqliteStore(dir.path);
    try {
      for (let i = 0, t = now; i < webhooks.length; t += 1000) {
        const size = 1 + Math.floor(random() * 12);
        const batch = webhooks.slice(i, i + size).map((w) => planWebhook(w, ctx));
        i += size;
        await pgStore.record(batch, t, HOUR);
        await sqliteStore.record(batch, t, HOUR);
        const [x, y] = await Promise.all(
          [pgStore, sqliteStore].map(async (st) =>
            (await st.groupStates({ resolvedSince: 0, limit: 10 })).sort((p, q) =>
              p.groupKey < q.groupKey ? -1 : 1,
            ),
          ),
        );
        expect(x).toEqual(y);
      }
      const states = await pgStore.groupStates({ resolvedSince: 0, limit: 10 });
      expect(new Set(states.map((g) => g.status))).toEqual(new Set(['firing', 'resolved']));
    } finally {
      await Promise.all([pgStore.close(), sqliteStore.close()]);
      dir.cleanup();
    }
  });

  it('records a webhook posted to both replicas at once only once', async () => {
    const rec = planWebhook(fixture('apidown_0.json'), ctx);
    const [[ra], [rb]] = await Promise.all([a.record([rec], now, HOUR), b.record([rec], now, HOUR)]);
    expect([ra!.recorded + rb!.recorded, ra!.duplicates + rb!.duplicates]).toEqual([2, 2]);
    expect((await a.counts()).pending).toBe(2);
  });

  it('hands each due job to one replica; a claim another replica holds is skipped until it expires', async () => {
    const [mineA, mineB] = await Promise.all([
      a.due('email', now, 10, new Set()),
      b.due('email', now, 10, new Set()),
    ]);
    expect(mineA.length + mineB.length).toBe(1);
    const job = (mineA[0] ?? mineB[0])!;
    const [holder, other] = mineA.length ? [a, b] : [b, a];
    expect(await other.due('email', now + CLAIM - 1, 10, new Set())).toEqual([]);
    // The holder vanished: once the lease is over the other replica takes the job.
    const taken = await other.due('email', now + CLAIM, 10, new Set());
    expect(taken.map((j) => j.id)).toEqual([job.id]);
    // The first holder's late result does not undo the new holder's claim.
    await holder.complete(
      [{ id: job.id, attempts: 1, kind: 'retry', nextAttemptAt: now + HOUR, error: 'late' }],
      now + CLAIM,
    );
    expect(await other.get(job.id)).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: now });
    await other.complete([{ id: job.id, attempts: 1, kind: 'sent' }], now + CLAIM);
    expect(await holder.get(job.id)).toMatchObject({ status: 'sent', attempts: 1 });
    expect(await holder.due('email', now + 2 * CLAIM, 10, new Set())).toEqual([]);
  });

  it('renews the lease of a delivery still in flight, so a slow one is not taken over; a dead holder’s lapses', async () => {
    const lease = 750;
    const [x, y] = (await Promise.all(
      [1, 2].map(() => PgStore.open({ dsn: pgServer.dsn(), schema: 'lease', claimTimeoutMs: lease })),
    )) as [PgStore, PgStore];
    try {
      const t0 = Date.now();
      await x.record([planWebhook(fixture('apidown_0.json'), ctx)], t0, HOUR);
      const [job] = await x.due('email', t0, 1, new Set());
      const claimedUntil = async () =>
        Number(await pgServer.psql(`select claimed_until from lease.jobs where id = ${job!.id}`));
      // The claim leases the job until t0 + lease; on a loaded machine the first renewal (every
      // third of the lease) may already have moved it on by the time this reads it.
      expect(await claimedUntil()).toBeGreaterThanOrEqual(t0 + lease);
      // Still delivering: the holder extends its lease past the first one's end.
      await waitFor(
        async () => ((await claimedUntil()) > t0 + lease ? true : undefined),
        10_000,
        'a renewal',
      );
      expect(await y.due('email', t0 + lease, 10, new Set())).toEqual([]);
      // The holder dies: its lease lapses and the other replica takes the job.
      await x.close();
      const taken = await waitFor(
        async () => {
          const jobs = await y.due('email', Date.now(), 10, new Set());
          return jobs.length ? jobs : undefined;
        },
        10_000,
        'the lapsed lease',
      );
      expect(taken.map((j) => j.id)).toEqual([job!.id]);
    } finally {
      await y.close();
    }
  });

  it('counts the replicas seen within claim_timeout: one that closes stops counting, one that died too, later', async () => {
    const lease = 750;
    const open = () => PgStore.open({ dsn: pgServer.dsn(), schema: 'count', claimTimeoutMs: lease });
    const x = await open();
    const y = await open();
    try {
      // y counted x when it opened; x counts y at its next renewal tick.
      expect(y.replicas()).toBe(2);
      await waitFor(() => x.replicas() === 2, 10_000, 'x to count y');
      await y.close();
      await waitFor(() => x.replicas() === 1, 10_000, 'x to stop counting the closed replica');
      // A replica that died leaves its row: counted until claim_timeout after it was last seen.
      await pgServer.psql(
        `insert into count.replicas values ('dead', (extract(epoch from clock_timestamp()) * 1000)::bigint)`,
      );
      await waitFor(() => x.replicas() === 2, 10_000, 'x to count the replica seen just now');
      await waitFor(() => x.replicas() === 1, 10_000, 'x to stop counting the dead replica');
      await x.prune(Date.now(), HOUR, HOUR);
      expect(await pgServer.psql('select owner from count.replicas')).toBe(x.owner);
    } finally {
      await Promise.all([x.close(), y.close().catch(() => undefined)]);
    }
  });

  it('sees the other replica’s acknowledgements, and gives an older outbox its acks table', async () => {
    await a.putAck({
      id: 'r1',
      groupKey: 'shared-group',
      alertname: 'ApiDown',
      groupLabels: {},
      by: 'alice',
      via: 'console',
      at: now,
      comment: '',
      silenceId: null,
      silenceEndsAt: null,
      endedAt: null,
      endedBy: null,
    });
    expect((await b.listAcks({ active: true, limit: 10 })).map((x) => x.by)).toEqual(['alice']);
    // An outbox made before acknowledgements existed: the table appears when a replica opens it.
    await pgServer.psql('DROP TABLE shared.acks');
    const upgraded = await PgStore.open({ dsn: pgServer.dsn(), schema: 'shared', claimTimeoutMs: CLAIM });
    try {
      expect(await upgraded.listAcks({ limit: 10 })).toEqual([]);
    } finally {
      await upgraded.close();
    }
  });

  it('lets one replica record an escalation step both found due, on PostgreSQL’s clock', async () => {
    const rec = planWebhook(fixture('apidown_0.json'), { ...pagingCtx, now: now + 5 * HOUR });
    await a.record([rec], now + 5 * HOUR, HOUR);
    const [ep] = (await b.episodes(10)).filter((e) => e.groupKey === rec.escalations!.groupKey);
    expect(Math.abs(ep!.startedAt - (await b.clock()))).toBeLessThan(60_000);
    const jobs = planEscalation(
      { ...ep!, criticalSinceMs: ep!.startedAt },
      {
        book: ctx.book,
        silences: [],
        now,
        role: 'techlead',
        channels: ['email', 'slack'],
        afterMs: 0,
        mailDomain: 'sw.test',
      },
    );
    const outcomes = await Promise.all([a, b].map((r) => r.recordStep(ep!, 1, jobs, now, HOUR)));
    expect(outcomes.filter((o) => o !== undefined)).toEqual([{ recorded: 2, duplicates: 0, muted: 0 }]);
  });

  it('sees the other replica’s maintenance windows', async () => {
    await a.addSilence({
      id: 'shared-1',
      matchers: ['service="postgres"'],
      startsAt: now,
      endsAt: now + HOUR,
      comment: 'failover drill',
      createdBy: 'dba',
      source: 'api',
    });
    expect((await b.listSilences()).map((s) => s.id)).toEqual(['shared-1']);
  });

  it('opens a schema a DBA made beforehand with a role that may not create anything', async () => {
    const setup = await PgStore.open({ dsn: pgServer.dsn(), schema: 'granted', claimTimeoutMs: CLAIM });
    await setup.close();
    await pgServer.psql(`create role outbox login password 'outbox-pw';
      grant usage on schema granted to outbox;
      grant select, insert, update, delete on all tables in schema granted to outbox;
      grant usage on all sequences in schema granted to outbox;`);
    expect(await pgServer.psql("select has_database_privilege('outbox', 'postgres', 'create')")).toBe('f');
    const limited = await PgStore.open({
      dsn: pgServer.dsn('postgres', 'outbox-pw').replace('postgres:outbox-pw@', 'outbox:outbox-pw@'),
      schema: 'granted',
      claimTimeoutMs: CLAIM,
    });
    try {
      const [out] = await limited.record([planWebhook(fixture('apidown_0.json'), ctx)], now, HOUR);
      expect(out).toEqual({ recorded: 2, duplicates: 0, muted: 0 });
    } finally {
      await limited.close();
    }
  });

  it('refuses to open (webhooks answer 503) when PostgreSQL cannot be reached', async () => {
    await expect(
      PgStore.open({
        dsn: 'postgres://postgres@127.0.0.1:1/postgres',
        schema: 'x',
        claimTimeoutMs: CLAIM,
        connectTimeoutMs: 1000,
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
