import type { Destination } from '../model/destination.js';
import type { BacklogEntry } from '../outbox/contract.js';
import type { Lanes } from './lanes.js';
import type { Pacer, RateBudget } from './pacing.js';

export interface DigestPolicy {
  enabled: boolean;
  /** More non-urgent notifications than this waiting for one destination go out as a digest. */
  backlog: number;
  /** …or more than this recorded for the destination within `windowMs`. */
  arrivals: number;
  windowMs: number;
  /** Shortest time between two digests to one destination. */
  intervalMs: number;
  /** Notifications one digest carries at most (the rest wait for the next). */
  maxItems: number;
  /** Urgent notifications one shared digest carries at most (it names every one). */
  maxUrgentItems: number;
}

/** The rate-limit key of a destination and its budget. */
export interface PaceKey {
  key: string;
  budget: RateBudget;
}

export type Send =
  | { kind: 'single'; entry: BacklogEntry; pace: PaceKey }
  | { kind: 'digest'; entries: BacklogEntry[]; urgent: boolean; destination: string; pace: PaceKey };

export interface DispatchPlan {
  sends: Send[];
  /** When to look again (undefined: only when woken by new work or a finished delivery). */
  wakeAt?: number;
}

export interface DispatchInput {
  entries: readonly BacklogEntry[];
  inFlight: ReadonlySet<number>;
  now: number;
  /** Deliveries this channel may start now (its concurrency minus those running). */
  free: number;
}

export interface DispatchDeps {
  lanes: Lanes;
  digest: DigestPolicy;
  pacer: Pacer;
  /** The rate-limit key of a destination (a Slack webhook URL, the SMTP server) and its budget. */
  paceOf: (destination: Destination) => PaceKey;
}

/**
 * The delivery policy, written once: which pending notifications of one channel go now, alone
 * or in a digest, and when to look again.
 *
 * - For one group on one destination only the oldest pending notification is eligible, so a
 *   firing refused with 429 is never overtaken by its later resolved.
 * - Urgent lanes (stackwatch's own alerts, critical) go first and one by one while the
 *   destination's bucket has tokens; when more are waiting than the bucket holds, the last
 *   token carries the rest in one digest naming every one.
 * - Other lanes may only use the bucket above a reserve of `burst − 1` tokens, so urgent
 *   notifications always find tokens. Past the backlog or arrival threshold they go as a
 *   digest at most every `intervalMs`.
 * - Nothing polls: the plan says when the next token, pause end, retry or digest is due.
 */
export class Dispatcher {
  private readonly lastDigestAt = new Map<string, number>();
  /** Recording times of notifications already dispatched, per destination, within the window. */
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly deps: () => DispatchDeps) {}

  plan(input: DispatchInput): DispatchPlan {
    const { lanes, digest, pacer, paceOf } = this.deps();
    const { now } = input;
    let free = input.free;
    let wakeAt: number | undefined;
    const wake = (t: number) => {
      if (wakeAt === undefined || t < wakeAt) wakeAt = t;
    };

    // Eligible: the oldest pending notification of each group on each destination, when due.
    const heads = new Set<string>();
    const byDestination = new Map<string, { destination: Destination; list: BacklogEntry[] }>();
    const sorted = [...input.entries].sort((a, b) => a.id - b.id);
    for (const e of sorted) {
      const head = `${e.destination.key}\0${e.groupKey}`;
      if (heads.has(head)) continue;
      heads.add(head);
      if (input.inFlight.has(e.id)) continue;
      if (e.nextAttemptAt > now) {
        wake(e.nextAttemptAt);
        continue;
      }
      let d = byDestination.get(e.destination.key);
      if (!d) byDestination.set(e.destination.key, (d = { destination: e.destination, list: [] }));
      d.list.push(e);
    }
    const order = (a: BacklogEntry, b: BacklogEntry) =>
      lanes.rank(a.lane) - lanes.rank(b.lane) || a.id - b.id;
    const destinations = [...byDestination].map(([key, { destination, list }]) => ({
      key,
      pace: paceOf(destination),
      urgent: list.filter((e) => lanes.urgent(e.lane)).sort(order),
      rest: list.filter((e) => !lanes.urgent(e.lane)).sort(order),
    }));
    destinations.sort((a, b) => bestRank(a.urgent, lanes) - bestRank(b.urgent, lanes));
    const sends: Send[] = [];

    // Urgent lanes first, over every destination, so they take the tokens before anything else.
    for (const d of destinations) {
      if (!d.urgent.length) continue;
      const bucket = pacer.bucket(d.pace.key, d.pace.budget);
      let waiting = d.urgent;
      while (waiting.length && free > 0) {
        const tokens = Math.floor(bucket.available(now));
        if (tokens < 1) break;
        const share = digest.enabled && waiting.length > tokens && waiting.length > 1;
        if (share && tokens === 1) {
          const carried = waiting.slice(0, digest.maxUrgentItems);
          bucket.tryTake(now);
          sends.push({ kind: 'digest', entries: carried, urgent: true, destination: d.key, pace: d.pace });
          this.dispatched(d.key, carried, now, digest.windowMs);
          waiting = waiting.slice(carried.length);
        } else {
          const first = waiting[0] as BacklogEntry;
          bucket.tryTake(now);
          sends.push({ kind: 'single', entry: first, pace: d.pace });
          this.dispatched(d.key, [first], now, digest.windowMs);
          waiting = waiting.slice(1);
        }
        free--;
      }
      if (waiting.length && free > 0) wake(now + Math.max(1, bucket.waitMs(now)));
      d.urgent = waiting;
    }

    // Then the other lanes, above the reserve, as digests in a storm.
    for (const d of destinations) {
      if (!d.rest.length || free <= 0) continue;
      const bucket = pacer.bucket(d.pace.key, d.pace.budget);
      const reserve = Math.max(0, d.pace.budget.burst - 1);
      if (d.urgent.length) continue; // urgent ones of this destination still wait for tokens
      const storm =
        digest.enabled &&
        d.rest.length > 1 &&
        (d.rest.length > digest.backlog ||
          this.arrivals(d.key, d.rest, now, digest.windowMs) > digest.arrivals);
      if (!storm) {
        for (const e of d.rest) {
          if (free <= 0) break;
          if (!bucket.tryTake(now, reserve)) {
            wake(now + Math.max(1, bucket.waitMs(now, reserve)));
            break;
          }
          sends.push({ kind: 'single', entry: e, pace: d.pace });
          this.dispatched(d.key, [e], now, digest.windowMs);
          free--;
        }
        continue;
      }
      const nextDigest = (this.lastDigestAt.get(d.key) ?? -Infinity) + digest.intervalMs;
      if (now < nextDigest) {
        wake(nextDigest);
        continue;
      }
      if (!bucket.tryTake(now, reserve)) {
        wake(now + Math.max(1, bucket.waitMs(now, reserve)));
        continue;
      }
      const carried = d.rest.slice(0, digest.maxItems);
      sends.push({ kind: 'digest', entries: carried, urgent: false, destination: d.key, pace: d.pace });
      this.dispatched(d.key, carried, now, digest.windowMs);
      this.lastDigestAt.set(d.key, now);
      free--;
      if (d.rest.length > carried.length) wake(now + digest.intervalMs);
    }
    return { sends, wakeAt };
  }

  /** Notifications recorded for a destination within the window: waiting ones and dispatched ones. */
  private arrivals(
    destination: string,
    waiting: readonly BacklogEntry[],
    now: number,
    windowMs: number,
  ): number {
    const since = now - windowMs;
    const sent = (this.recent.get(destination) ?? []).filter((t) => t > since).length;
    return sent + waiting.filter((e) => e.createdAt > since).length;
  }

  private dispatched(
    destination: string,
    entries: readonly BacklogEntry[],
    now: number,
    windowMs: number,
  ): void {
    const since = now - windowMs;
    const kept = (this.recent.get(destination) ?? []).filter((t) => t > since);
    for (const e of entries) if (e.createdAt > since) kept.push(e.createdAt);
    // Bounded: only whether the threshold is passed matters, not the exact count past it.
    this.recent.set(destination, kept.slice(-this.deps().digest.arrivals - 1));
  }
}

function bestRank(entries: readonly BacklogEntry[], lanes: Lanes): number {
  return entries.length ? lanes.rank((entries[0] as BacklogEntry).lane) : Infinity;
}
