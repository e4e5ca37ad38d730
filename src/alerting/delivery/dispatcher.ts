import type { Destination } from '../model/destination.js';
import type { Lanes } from './lanes.js';
import type { Pacer, RateBudget } from './pacing.js';
import type { DestinationQueue, Pending } from './pending.js';

export interface DigestPolicy {
  enabled: boolean;
  /** More non-urgent notifications than this waiting for one destination go out as a digest. */
  backlog: number;
  /** …or more than this recorded for the destination within `windowMs`: a flood. */
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
  | { kind: 'single'; entry: Pending; pace: PaceKey }
  | { kind: 'digest'; entries: Pending[]; urgent: boolean; destination: string; pace: PaceKey };

export interface DispatchPlan {
  sends: Send[];
  /** When to look again (undefined: only when woken by new work or a finished delivery). */
  wakeAt?: number;
}

export interface DispatchInput {
  /** The destinations of one channel with pending work (pending.ts). */
  queues: readonly DestinationQueue[];
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
 * The delivery policy, written once for every channel: which pending notifications of one
 * channel go now, alone or in a digest, and when to look again. It knows destinations and
 * their budgets, not channels.
 *
 * - For one group on one destination only the oldest pending notification is eligible (the
 *   index offers no other), so a firing refused with 429 is never overtaken by its resolved.
 * - Urgent lanes (stackwatch's own alerts, critical) go first and one by one while the
 *   destination's bucket has tokens; when more are waiting than the bucket holds, the last
 *   token carries the rest in one digest naming every one.
 * - Other lanes may only use the bucket above a reserve of `burst − 1` tokens, so urgent
 *   notifications always find tokens. In a flood — more than `backlog` of them waiting, or
 *   more than `arrivals` recorded for the destination within the window, however fast the
 *   destination takes them — they are held and go as a digest at most every `intervalMs`;
 *   only when a digest could not carry all that waited does the next follow as soon as the
 *   budget allows, so a large backlog drains at the destination's pace.
 * - Nothing polls: the plan says when the next token, pause end or digest is due.
 */
export class Dispatcher {
  /** The last non-urgent digest per destination, and whether it left notifications behind. */
  private readonly lastDigest = new Map<string, { at: number; full: boolean }>();

  constructor(private readonly deps: () => DispatchDeps) {}

  plan(input: DispatchInput): DispatchPlan {
    const { lanes, digest, pacer, paceOf } = this.deps();
    const { now } = input;
    let free = input.free;
    let wakeAt: number | undefined;
    const wake = (t: number) => {
      if (wakeAt === undefined || t < wakeAt) wakeAt = t;
    };
    const destinations = input.queues
      .map((q) => ({
        q,
        pace: paceOf(q.destination),
        urgent: q.count(lanes, true),
        rest: q.count(lanes, false),
        rank: q.bestRank(lanes, true),
      }))
      .filter((d) => d.urgent + d.rest > 0)
      .sort((a, b) => a.rank - b.rank);
    const sends: Send[] = [];

    // Urgent lanes first, over every destination, so they take the tokens before anything else.
    for (const d of destinations) {
      if (!d.urgent) continue;
      const bucket = pacer.bucket(d.pace.key, d.pace.budget);
      while (d.urgent > 0 && free > 0) {
        const tokens = Math.floor(bucket.available(now));
        if (tokens < 1) break;
        const share = digest.enabled && d.urgent > tokens && d.urgent > 1 && tokens === 1;
        const carried = d.q.take(lanes, true, share ? digest.maxUrgentItems : 1);
        if (!carried.length) break;
        bucket.tryTake(now);
        sends.push(
          carried.length === 1
            ? { kind: 'single', entry: carried[0] as Pending, pace: d.pace }
            : { kind: 'digest', entries: carried, urgent: true, destination: d.q.key, pace: d.pace },
        );
        d.urgent -= carried.length;
        free--;
      }
      if (d.urgent > 0 && free > 0) wake(now + Math.max(1, bucket.waitMs(now)));
    }

    // Then the other lanes, above the reserve, as digests in a flood.
    for (const d of destinations) {
      if (!d.rest || free <= 0) continue;
      if (d.urgent) continue; // urgent ones of this destination still wait for tokens
      const bucket = pacer.bucket(d.pace.key, d.pace.budget);
      const reserve = Math.max(0, d.pace.budget.burst - 1);
      const flood =
        digest.enabled &&
        (d.rest > digest.backlog || d.q.arrivalsSince(now - digest.windowMs) > digest.arrivals);
      if (!flood) {
        while (d.rest > 0 && free > 0) {
          if (!bucket.tryTake(now, reserve)) {
            wake(now + Math.max(1, bucket.waitMs(now, reserve)));
            break;
          }
          const [one] = d.q.take(lanes, false, 1);
          if (!one) break;
          sends.push({ kind: 'single', entry: one, pace: d.pace });
          d.rest--;
          free--;
        }
        continue;
      }
      const last = this.lastDigest.get(d.q.key);
      const nextDigest = last && !last.full ? last.at + digest.intervalMs : -Infinity;
      if (now < nextDigest) {
        wake(nextDigest);
        continue;
      }
      if (!bucket.tryTake(now, reserve)) {
        wake(now + Math.max(1, bucket.waitMs(now, reserve)));
        continue;
      }
      const carried = d.q.take(lanes, false, digest.maxItems);
      if (!carried.length) continue;
      const full = d.rest > carried.length;
      this.lastDigest.set(d.q.key, { at: now, full });
      sends.push(
        carried.length === 1
          ? { kind: 'single', entry: carried[0] as Pending, pace: d.pace }
          : { kind: 'digest', entries: carried, urgent: false, destination: d.q.key, pace: d.pace },
      );
      free--;
      // More than a digest carries: the next as soon as the budget allows. Otherwise what
      // arrives from now on wakes the worker, and waits for the interval.
      if (full) wake(now + Math.max(1, bucket.waitMs(now, reserve)));
    }
    return { sends, wakeAt };
  }
}
