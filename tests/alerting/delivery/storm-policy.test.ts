import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTE } from '../../../src/config/receiver.js';
import {
  digestOrder,
  renderDigest,
  SLACK_DIGEST_MAX_LINES,
  type DigestItem,
} from '../../../src/alerting/render/digest.js';
import { destinationOf } from '../../../src/alerting/model/destination.js';
import { Dispatcher, type DigestPolicy, type Send } from '../../../src/alerting/delivery/dispatcher.js';
import type { BacklogEntry } from '../../../src/alerting/outbox/contract.js';
import { Lanes, laneOrderFromRoutes, OTHER_LANE, SELF_LANE } from '../../../src/alerting/delivery/lanes.js';
import { Pacer, shareOf, TokenBucket } from '../../../src/alerting/delivery/pacing.js';
import { SLACK_MAX_BLOCKS, SLACK_MAX_TEXT } from '../../../src/alerting/render/slack.js';
import type { NotificationContent } from '../../../src/alerting/model/notification.js';

const lanes = new Lanes({
  enabled: true,
  label: 'severity',
  order: laneOrderFromRoutes(DEFAULT_ROUTE, 'severity'),
  selfMatchers: ['service="stackwatch"'],
});

function content(o: {
  name: string;
  severity?: string;
  status?: 'firing' | 'resolved';
  service?: string;
}): NotificationContent {
  const labels: Record<string, string> = { alertname: o.name };
  if (o.severity) labels.severity = o.severity;
  if (o.service) labels.service = o.service;
  const status = o.status ?? 'firing';
  return {
    kind: 'alert',
    status,
    groupKey: `{}:{alertname="${o.name}"}`,
    receiver: 'team-ops',
    amReceiver: 'team-ops',
    groupLabels: { alertname: o.name },
    commonLabels: labels,
    commonAnnotations: { summary: `${o.name} is broken` },
    externalURL: '',
    truncatedAlerts: 0,
    alerts: [
      {
        status,
        labels,
        annotations: {},
        startsAt: '2026-12-01T00:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: o.name,
      },
    ],
    contacts: [],
  };
}

describe('severity lanes', () => {
  it('defaults the order to the routing table severities, with the self lane above and other below', () => {
    expect(lanes.names).toEqual([SELF_LANE, 'critical', 'warning', OTHER_LANE]);
    expect(lanes.laneOf(content({ name: 'A', severity: 'critical' }))).toBe('critical');
    expect(lanes.laneOf(content({ name: 'A', severity: 'warning' }))).toBe('warning');
    expect(lanes.laneOf(content({ name: 'A' }))).toBe(OTHER_LANE);
    expect(lanes.laneOf(content({ name: 'A', severity: 'info' }))).toBe(OTHER_LANE);
    expect(
      lanes.laneOf(content({ name: 'StackwatchDeadLetters', severity: 'warning', service: 'stackwatch' })),
    ).toBe(SELF_LANE);
    expect(lanes.urgent(SELF_LANE) && lanes.urgent('critical')).toBe(true);
    expect(lanes.urgent('warning') || lanes.urgent(OTHER_LANE)).toBe(false);
  });

  it('takes the most important firing alert of a group; a configured label and order; off is one lane', () => {
    const mixed = content({ name: 'Mixed', severity: 'warning' });
    mixed.alerts.push({ ...mixed.alerts[0]!, labels: { alertname: 'Mixed', severity: 'critical' } });
    expect(lanes.laneOf(mixed)).toBe('critical');
    mixed.alerts[1]!.status = 'resolved';
    expect(lanes.laneOf(mixed)).toBe('warning');
    const custom = new Lanes({ enabled: true, label: 'priority', order: ['P1', 'P2'], selfMatchers: [] });
    expect(custom.names).toEqual(['P1', 'P2', OTHER_LANE]);
    const p1 = content({ name: 'X' });
    p1.alerts[0]!.labels.priority = 'P1';
    expect(custom.laneOf(p1)).toBe('P1');
    const off = new Lanes({ enabled: false, label: 'severity', order: ['critical'], selfMatchers: [] });
    expect(off.laneOf(content({ name: 'A', severity: 'critical' }))).toBe(OTHER_LANE);
    expect(off.urgent('critical')).toBe(false);
    expect(lanes.rank('removed-by-reload')).toBe(lanes.rank(OTHER_LANE));
  });
});

describe('token bucket and pacer', () => {
  it('allows a burst, then the rate; a reserve keeps tokens for urgent messages', () => {
    const b = new TokenBucket({ rate: 1, burst: 2 }, 0);
    expect(b.tryTake(0, 1)).toBe(true); // non-urgent: only while above the reserve
    expect(b.tryTake(0, 1)).toBe(false);
    expect(b.waitMs(0, 1)).toBe(1000);
    expect(b.tryTake(0)).toBe(true); // urgent takes the reserve
    expect(b.tryTake(0)).toBe(false);
    expect(b.waitMs(0)).toBe(1000);
    expect(b.tryTake(1000)).toBe(true);
    expect(b.tryTake(1500)).toBe(false);
    expect(b.available(10_000)).toBe(2);
  });

  it('gives each of n replicas sharing an outbox its share of a budget: rate / n, burst at least 1', () => {
    expect(shareOf({ rate: 1, burst: 2 }, 1)).toEqual({ rate: 1, burst: 2 });
    expect(shareOf({ rate: 1, burst: 2 }, 2)).toEqual({ rate: 0.5, burst: 1 });
    expect(shareOf({ rate: 3, burst: 10 }, 3)).toEqual({ rate: 1, burst: 3 });
    expect(shareOf({ rate: 1, burst: 2 }, 5)).toEqual({ rate: 0.2, burst: 1 });
    expect(shareOf({ rate: 0, burst: 10 }, 4)).toEqual({ rate: 0, burst: 10 }); // unpaced stays unpaced
    expect(shareOf({ rate: 1, burst: 2 }, 0)).toEqual({ rate: 1, burst: 2 }); // never fewer than itself
    // Together the replicas stay inside the budget: the sum of their rates and bursts.
    for (const n of [1, 2, 3, 4, 7]) {
      const share = shareOf({ rate: 2, burst: 10 }, n);
      expect(share.rate * n).toBeCloseTo(2);
      expect(share.burst * n).toBeLessThanOrEqual(10);
    }
  });

  it('a Retry-After pause empties the bucket until it ends, then allows one message, not a burst', () => {
    const b = new TokenBucket({ rate: 1, burst: 3 }, 0);
    b.pause(30_000);
    expect(b.available(29_999)).toBe(0);
    expect(b.waitMs(10_000)).toBe(20_000);
    expect(b.tryTake(30_000)).toBe(true);
    expect(b.tryTake(30_000)).toBe(false);
    expect(b.tryTake(31_000)).toBe(true);
    const unpaced = new TokenBucket({ rate: 0, burst: 1 }, 0);
    for (let i = 0; i < 100; i++) expect(unpaced.tryTake(0)).toBe(true);
  });

  it('pauses one destination only and reports the start and the end of limiting once', () => {
    let now = 0;
    const pacer = new Pacer(() => now);
    const budget = { rate: 1, burst: 2 };
    expect(pacer.rateLimited('slack:A', budget, 30_000)).toEqual({
      kind: 'started',
      destination: 'slack:A',
      retryAfterMs: 30_000,
    });
    expect(pacer.rateLimited('slack:A', budget, 30_000)).toBeUndefined(); // no second "started"
    expect(pacer.bucket('slack:A', budget).paused(1000)).toBe(true);
    expect(pacer.bucket('slack:B', budget).paused(1000)).toBe(false);
    expect(pacer.bucket('email:smtp', budget).tryTake(1000)).toBe(true);
    now = 31_000;
    expect(pacer.delivered('slack:A')).toEqual({
      kind: 'stopped',
      destination: 'slack:A',
      limitedMs: 31_000,
      refusals: 2,
    });
    expect(pacer.delivered('slack:A')).toBeUndefined();
  });
});

const POLICY: DigestPolicy = {
  enabled: true,
  backlog: 5,
  arrivals: 10,
  windowMs: 60_000,
  intervalMs: 10_000,
  maxItems: 500,
  maxUrgentItems: SLACK_DIGEST_MAX_LINES,
};

function harness(policy: DigestPolicy = POLICY, budget = { rate: 1, burst: 2 }) {
  let now = 0;
  const pacer = new Pacer(() => now);
  const d = new Dispatcher(() => ({
    lanes,
    digest: policy,
    pacer,
    paceOf: () => ({ key: 'slack:X', budget }),
  }));
  return {
    pacer,
    set now(t: number) {
      now = t;
    },
    plan: (entries: BacklogEntry[], inFlight: number[] = [], free = 10) =>
      d.plan({ entries, inFlight: new Set(inFlight), now, free }),
  };
}

let nextId = 1;
function entry(lane: string, o: Partial<BacklogEntry> = {}): BacklogEntry {
  const id = nextId++;
  const destination = destinationOf({ channel: 'slack', recipients: ['slack'], slackWebhook: null });
  return { id, createdAt: 0, nextAttemptAt: 0, groupKey: `g${id}`, destination, lane, ...o };
}
const ids = (sends: Send[]) =>
  sends.map((s) =>
    s.kind === 'single' ? s.entry.id : { digest: s.entries.map((e) => e.id), urgent: s.urgent },
  );

describe('dispatcher', () => {
  it('takes critical before the rest even when the rest was recorded first', () => {
    const h = harness();
    const old = [entry(OTHER_LANE), entry('warning')];
    const crit = entry('critical');
    const plan = h.plan([...old, crit]);
    // The critical first; the non-urgent one only above the reserve (one token left of two: none).
    expect(ids(plan.sends)).toEqual([crit.id]);
    expect(plan.wakeAt).toBe(1000);
  });

  it('sends criticals one by one while tokens last; the last token carries the rest, naming every one', () => {
    const h = harness();
    const crit = Array.from({ length: 6 }, () => entry('critical'));
    const plan = h.plan(crit);
    expect(ids(plan.sends)).toEqual([crit[0]!.id, { digest: crit.slice(1).map((e) => e.id), urgent: true }]);
    const three = harness(POLICY, { rate: 1, burst: 3 });
    const two = [entry('critical'), entry('critical')];
    expect(ids(three.plan(two).sends)).toEqual(two.map((e) => e.id)); // within the budget: alone
  });

  it('never sends a resolved while its firing waits (a 429 retry), and wakes for that retry', () => {
    const h = harness(POLICY, { rate: 0, burst: 1 });
    const firing = entry('critical', { groupKey: 'G', nextAttemptAt: 30_000 });
    const resolved = entry('critical', { groupKey: 'G' });
    const other = entry('critical');
    const plan = h.plan([resolved, firing, other]);
    expect(ids(plan.sends)).toEqual([other.id]);
    expect(plan.wakeAt).toBe(30_000);
    // In flight counts as waiting too.
    const flying = entry('critical', { groupKey: 'H' });
    const after = entry('critical', { groupKey: 'H' });
    expect(ids(h.plan([flying, after], [flying.id]).sends)).toEqual([]);
  });

  it('past the backlog threshold the non-urgent ones go as one digest, then at most every interval', () => {
    const h = harness(POLICY, { rate: 10, burst: 2 });
    const rest = Array.from({ length: 8 }, () => entry(OTHER_LANE));
    const warn = entry('warning');
    const first = h.plan([...rest, warn]);
    expect(ids(first.sends)).toEqual([{ digest: [warn.id, ...rest.map((e) => e.id)], urgent: false }]);
    const more = Array.from({ length: 8 }, () => entry(OTHER_LANE));
    h.now = 5000;
    expect(h.plan(more)).toEqual({ sends: [], wakeAt: 10_000 });
    h.now = 10_000;
    expect(ids(h.plan(more).sends)).toEqual([{ digest: more.map((e) => e.id), urgent: false }]);
  });

  it('counts arrivals in the window: a steady stream turns into digests too', () => {
    const h = harness(POLICY, { rate: 100, burst: 100 });
    let singles = 0;
    for (let i = 0; i < 12; i++) {
      h.now = i * 100;
      const sends = h.plan([entry(OTHER_LANE, { createdAt: i * 100 })]).sends;
      singles += sends.filter((s) => s.kind === 'single').length;
    }
    expect(singles).toBe(12); // a digest of one is just that notification
    h.now = 1300;
    const two = [entry(OTHER_LANE, { createdAt: 1300 }), entry(OTHER_LANE, { createdAt: 1300 })];
    expect(ids(h.plan(two).sends)).toEqual([{ digest: two.map((e) => e.id), urgent: false }]);
  });

  it('with digests and lanes off it is first recorded, first sent, as the budget allows', () => {
    const off = new Lanes({ enabled: false, label: 'severity', order: [], selfMatchers: [] });
    const pacer = new Pacer(() => 0);
    const d = new Dispatcher(() => ({
      lanes: off,
      digest: { ...POLICY, enabled: false },
      pacer,
      paceOf: () => ({ key: 'k', budget: { rate: 0, burst: 1 } }),
    }));
    const es = [entry(OTHER_LANE), entry(OTHER_LANE), entry(OTHER_LANE)];
    const plan = d.plan({ entries: es, inFlight: new Set(), now: 0, free: 2 });
    expect(ids(plan.sends)).toEqual([es[0]!.id, es[1]!.id]);
  });
});

describe('digest rendering', () => {
  const items = (n: number, severity?: string): DigestItem[] =>
    Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      content: content({
        name: `Storm${String(i).padStart(4, '0')}`,
        severity,
        status: i % 3 ? 'firing' : 'resolved',
      }),
      lane: severity ?? OTHER_LANE,
      rank: lanes.rank(severity ?? OTHER_LANE),
    }));

  it('puts the most important first and counts firing and resolved', () => {
    const list = [...items(3), ...items(2, 'warning').map((x) => ({ ...x, id: x.id + 10 }))];
    const ordered = digestOrder(list);
    expect(ordered.map((x) => x.lane)).toEqual(['warning', 'warning', OTHER_LANE, OTHER_LANE, OTHER_LANE]);
    const d = renderDigest({
      id: 'd1-5',
      items: list,
      urgent: false,
      listUrl: 'https://sw.example/api/v1/notifications?digest=d1-5',
    });
    expect(d.subject).toBe('[DIGEST] 5 notifications: 3 firing, 2 resolved');
    expect(d.text).toContain('Full list: https://sw.example/api/v1/notifications?digest=d1-5');
    expect(d.html).toContain('<a href="https://sw.example/api/v1/notifications?digest=d1-5">Full list</a>');
    expect(d.text.indexOf('[FIRING:1] Storm0001 warning')).toBeLessThan(
      d.text.indexOf('[FIRING:1] Storm0001 — '),
    );
  });

  it('fits 300 notifications into Slack limits with "+N more", and names every one in the email', () => {
    const d = renderDigest({ id: 'd1-300', items: items(300), urgent: false });
    const blocks = d.slack.attachments[0]!.blocks;
    expect(blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
    for (const b of blocks) {
      const text = (b.text as { text?: string } | undefined)?.text ?? '';
      expect(text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT);
    }
    expect(JSON.stringify(d.slack).length).toBeLessThan(40_000);
    expect(d.slackShown).toBeGreaterThan(0);
    expect(JSON.stringify(blocks)).toContain(`+${300 - d.slackShown} more notifications`);
    for (let i = 0; i < 300; i++) expect(d.text).toContain(`Storm${String(i).padStart(4, '0')}`);
  });

  it('an urgent digest names every critical in Slack and escapes alert content', () => {
    const crit = items(40, 'critical');
    crit[0]!.content.commonAnnotations.summary = '<!channel> & <script>';
    const d = renderDigest({ id: 'd1-40', items: crit, urgent: true });
    expect(d.subject).toMatch(/^\[CRITICAL DIGEST\] 40 notifications/);
    expect(d.slackShown).toBe(40);
    const slackText = JSON.stringify(d.slack);
    for (let i = 0; i < 40; i++) expect(slackText).toContain(`Storm${String(i).padStart(4, '0')}`);
    expect(slackText).not.toContain('<!channel>');
    expect(slackText).toContain('&lt;!channel&gt; &amp; &lt;script&gt;');
    expect(d.html).not.toContain('<script>');
  });
});
