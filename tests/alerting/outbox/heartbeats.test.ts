import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newHeartbeat, step, type HeartbeatState } from '../../../src/alerting/heartbeat/heartbeats.js';
import {
  incidentWebhook,
  planIncident,
  type HeartbeatSubject,
} from '../../../src/alerting/heartbeat/notice.js';
import type { AlertStore } from '../../../src/alerting/outbox/contract.js';
import { PgStore } from '../../../src/alerting/outbox/postgres.js';
import { SqliteStore } from '../../../src/alerting/outbox/sqlite.js';
import { buildSetup } from '../../../src/alerting/setup.js';
import { receiverSection } from '../../../src/config/receiver.js';
import { createLogger } from '../../../src/logger.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { tempDir } from '../../support/util.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-01T03:00:00Z');
const setup = buildSetup(receiverSection.parse({}), createLogger('error'));
const subject: HeartbeatSubject = { kind: 'job', name: 'backup', periodMs: HOUR, graceMs: 600_000 };
const timing = { ...subject, notBefore: 0 };

/** The page a late `backup` brings, planned as the receiver plans it. */
function latePage(up: HeartbeatState, now: number) {
  const change = step(up, 'check', now, timing)!;
  const w = incidentWebhook(subject, change, { lastSeenAt: up.lastSeenAt })!;
  return { state: change.state, record: planIncident(w, subject, { setup, silences: [], now }) };
}

interface Kind {
  name: string;
  setup: () => Promise<void>;
  /** A fresh outbox, and a second handle on the same one (another replica, or after a restart). */
  fresh: () => Promise<{ open: () => Promise<AlertStore>; dropHeartbeats: () => Promise<void> }>;
  teardown: () => Promise<void>;
}

const dirs: { cleanup: () => void }[] = [];
const sqlite: Kind = {
  name: 'SQLite',
  setup: async () => undefined,
  fresh: async () => {
    const t = tempDir('swhb');
    dirs.push(t);
    return {
      open: async () => new SqliteStore(t.path),
      dropHeartbeats: async () => {
        const db = new Database(join(t.path, 'receiver.sqlite'));
        db.exec('DROP TABLE heartbeats');
        db.close();
      },
    };
  },
  teardown: async () => dirs.splice(0).forEach((d) => d.cleanup()),
};

let server: PostgresServer | undefined;
let schemas = 0;
const postgres: Kind = {
  name: 'PostgreSQL',
  setup: async () => {
    server = await startPostgres();
  },
  fresh: async () => {
    const schema = `hb_${++schemas}`;
    return {
      open: () => PgStore.open({ dsn: server!.dsn(), schema, claimTimeoutMs: 60_000 }),
      dropHeartbeats: async () => void (await server!.psql(`DROP TABLE ${schema}.heartbeats`)),
    };
  },
  teardown: async () => {
    await server?.destroy();
  },
};

describe.each([sqlite, postgres])('$name outbox: heartbeats', (kind) => {
  const opened: AlertStore[] = [];
  const open = async (o: { open: () => Promise<AlertStore> }) => {
    const s = await o.open();
    opened.push(s);
    return s;
  };
  beforeAll(() => kind.setup(), 60_000);
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
    await kind.teardown();
  });

  it('keeps a heartbeat across a restart', async () => {
    const outbox = await kind.fresh();
    const a = await open(outbox);
    expect(await a.listHeartbeats()).toEqual([]);
    const up = step(newHeartbeat('backup'), 'ping', T0, timing)!.state;
    expect(await a.saveHeartbeat(up, undefined, T0, HOUR)).toBe(true);
    await a.close();
    const b = await open(outbox);
    expect(await b.getHeartbeat('backup')).toEqual(up);
    expect(await b.listHeartbeats()).toEqual([up]);
    expect(await b.getHeartbeat('nightly')).toBeUndefined();
  });

  it('of two replicas writing from the same state, one wins and only its page is recorded', async () => {
    const outbox = await kind.fresh();
    const [a, b] = [await open(outbox), await open(outbox)];
    // Both see the first ping as a first write: one inserts the row.
    const up = step(newHeartbeat('backup'), 'ping', T0, timing)!.state;
    const first = await Promise.all([
      a.saveHeartbeat(up, undefined, T0, HOUR),
      b.saveHeartbeat(up, undefined, T0, HOUR),
    ]);
    expect(first.filter(Boolean)).toHaveLength(1);
    // Both find it late, a minute apart: one records the page, in the same transaction.
    const [pa, pb] = [latePage(up, T0 + 71 * 60_000), latePage(up, T0 + 72 * 60_000)];
    expect(pa.record.jobs.map((j) => j.channel).sort()).toEqual(['email', 'slack']);
    const won = await Promise.all([
      a.saveHeartbeat(pa.state, pa.record, T0 + 71 * 60_000, HOUR),
      b.saveHeartbeat(pb.state, pb.record, T0 + 72 * 60_000, HOUR),
    ]);
    expect(won.filter(Boolean)).toHaveLength(1);
    const jobs = await a.list({ limit: 10 });
    expect(jobs).toHaveLength(2);
    expect(jobs.every((j) => j.groupKey === 'stackwatch:{heartbeat="backup"}' && j.lane === 'self')).toBe(
      true,
    );
    expect(await b.getHeartbeat('backup')).toMatchObject({
      status: 'down',
      version: 2,
      incident: { reason: 'late' },
    });
    // A write from a state that is no longer the stored one changes nothing.
    expect(await a.saveHeartbeat(pa.state, pa.record, T0 + 73 * 60_000, HOUR)).toBe(false);
    expect(await a.list({ limit: 10 })).toHaveLength(2);
  });

  it('records a critical page as the group escalation watches', async () => {
    const s = await open(await kind.fresh());
    const up = step(newHeartbeat('backup'), 'ping', T0, timing)!.state;
    await s.saveHeartbeat(up, undefined, T0, HOUR);
    const page = latePage(up, T0 + 71 * 60_000);
    await s.saveHeartbeat(page.state, page.record, T0 + 71 * 60_000, HOUR);
    const [candidate] = await s.escalationCandidates(T0 + 3 * HOUR, 30 * 60_000);
    expect(candidate).toMatchObject({
      groupKey: 'stackwatch:{heartbeat="backup"}',
      criticalSinceMs: T0 + 70 * 60_000,
    });
  });

  it('an outbox made before heartbeats gets their table when it opens', async () => {
    const outbox = await kind.fresh();
    await (await outbox.open()).close();
    await outbox.dropHeartbeats();
    const s = await open(outbox);
    expect(await s.listHeartbeats()).toEqual([]);
    expect(
      await s.saveHeartbeat(step(newHeartbeat('x'), 'fail', T0, timing)!.state, undefined, T0, HOUR),
    ).toBe(true);
  });
});
