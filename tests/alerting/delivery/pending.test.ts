import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTE } from '../../../src/config/receiver.js';
import { Lanes, laneOrderFromRoutes, OTHER_LANE } from '../../../src/alerting/delivery/lanes.js';
import { PendingIndex } from '../../../src/alerting/delivery/pending.js';
import { destinationOf } from '../../../src/alerting/model/destination.js';
import type { PendingEntry } from '../../../src/alerting/outbox/contract.js';

const lanes = new Lanes({
  enabled: true,
  label: 'severity',
  order: laneOrderFromRoutes(DEFAULT_ROUTE, 'severity'),
  selfMatchers: [],
});
const mail = destinationOf({ channel: 'email', recipients: ['ops@x.test'], slackWebhook: null });

let nextId = 1;
function entry(o: Partial<PendingEntry> = {}): PendingEntry {
  const id = o.id ?? nextId++;
  return {
    id,
    channel: 'email',
    createdAt: 0,
    nextAttemptAt: 0,
    heldUntil: 0,
    groupKey: `g${id}`,
    destination: mail,
    lane: OTHER_LANE,
    ...o,
  };
}

function setup() {
  let now = 0;
  const index = new PendingIndex(() => now);
  return {
    index,
    set now(t: number) {
      now = t;
    },
    /** Takes what may go now from the one destination: urgent lanes, then the others. */
    take: (n = 100) => {
      const q = index.queuesOf('email')[0];
      if (!q) return [];
      return [...q.take(lanes, true, n), ...q.take(lanes, false, n)].map((p) => p.id);
    },
  };
}

describe('pending index', () => {
  it('offers the oldest of each group, most important lane first, and the next once it is done', () => {
    const h = setup();
    const [firing, resolved] = [entry({ groupKey: 'G' }), entry({ groupKey: 'G' })];
    const crit = entry({ lane: 'critical' });
    h.index.apply({ kind: 'pending', entries: [firing, resolved, crit] });
    expect(h.take()).toEqual([crit.id, firing.id]);
    expect(h.take()).toEqual([]); // taken until their results are recorded
    h.index.apply({ kind: 'done', ids: [firing.id, crit.id] });
    expect(h.take()).toEqual([resolved.id]);
  });

  it('holds a retried notification, and its group, until its retry time; wakes for it', () => {
    const h = setup();
    const [first, second] = [entry({ groupKey: 'G' }), entry({ groupKey: 'G' })];
    h.index.apply({ kind: 'pending', entries: [first, second] });
    expect(h.take()).toEqual([first.id]);
    h.index.apply({ kind: 'retry', retries: [{ id: first.id, nextAttemptAt: 5000 }] });
    expect(h.take()).toEqual([]);
    expect(h.index.wakeAt()).toBe(5000);
    h.now = 5000;
    expect(h.take()).toEqual([first.id]);
  });

  it('leaves what another replica claimed alone until its lease ends', () => {
    const h = setup();
    const e = entry();
    h.index.apply({ kind: 'pending', entries: [e] });
    h.index.apply({ kind: 'claimed', ids: [e.id], until: 60_000 });
    expect(h.take()).toEqual([]);
    expect(h.index.wakeAt()).toBe(60_000);
    h.now = 60_000;
    expect(h.take()).toEqual([e.id]);
    // A claim heard for one this process is delivering does not take it away.
    h.index.apply({ kind: 'claimed', ids: [e.id], until: 120_000 });
    h.index.apply({ kind: 'done', ids: [e.id] });
    expect(h.index.size).toBe(0);
  });

  it('after a claim that missed: drops what is no longer pending, waits for what another holds', () => {
    const h = setup();
    const [gone, held] = [entry(), entry()];
    h.index.apply({ kind: 'pending', entries: [gone, held] });
    expect(h.take()).toEqual([gone.id, held.id]);
    h.index.reconcile([gone.id, held.id], [{ ...held, heldUntil: 30_000 }]);
    expect(h.index.has(gone.id)).toBe(false);
    expect(h.take()).toEqual([]);
    h.now = 30_000;
    expect(h.take()).toEqual([held.id]);
  });

  it('puts a re-driven older notification back in front of its group', () => {
    const h = setup();
    const later = entry({ groupKey: 'G' });
    h.index.apply({ kind: 'pending', entries: [later] });
    h.index.apply({ kind: 'pending', entries: [entry({ id: 0, groupKey: 'G' })] });
    expect(h.take()).toEqual([0]);
  });

  it('is read in pages; changes heard meanwhile and the deliveries in flight apply on top', async () => {
    const h = setup();
    const rows = Array.from({ length: 25 }, () => entry());
    const inFlight = rows[3]!.id;
    const pages: number[] = [];
    let first = true;
    await h.index.load(
      async (after, limit) => {
        pages.push(after);
        const page = rows.filter((r) => r.id > after).slice(0, limit);
        if (first) {
          first = false;
          // Heard while the outbox is read: one sent, one recorded after the read began.
          h.index.apply({ kind: 'done', ids: [rows[0]!.id] });
          h.index.apply({ kind: 'pending', entries: [entry({ id: 1000 })] });
          expect(h.index.ready).toBe(false);
        }
        return page;
      },
      () => [inFlight],
      10,
    );
    expect(pages).toEqual([0, rows[9]!.id, rows[19]!.id]);
    expect(h.index.ready).toBe(true);
    expect(h.index.size).toBe(25);
    const offered = h.take();
    expect(offered).not.toContain(rows[0]!.id);
    expect(offered).not.toContain(inFlight);
    expect(offered).toContain(1000);
    expect(offered).toHaveLength(24);
  });

  it('counts the backlog per channel and lane with the oldest, and each arrival per destination', () => {
    const h = setup();
    const [oldest, second, crit] = [
      entry({ createdAt: 10 }),
      entry({ createdAt: 20 }),
      entry({ createdAt: 30, lane: 'critical' }),
    ];
    h.index.apply({ kind: 'pending', entries: [oldest, second, crit] });
    h.index.apply({ kind: 'done', ids: [oldest.id] });
    expect(h.index.backlogStats().sort((x, y) => x.lane.localeCompare(y.lane))).toEqual([
      { channel: 'email', lane: 'critical', pending: 1, oldestCreatedAt: 30 },
      { channel: 'email', lane: OTHER_LANE, pending: 1, oldestCreatedAt: 20 },
    ]);
    const q = h.index.queuesOf('email')[0]!;
    expect(q.arrivalsSince(15)).toBe(2);
  });
});
