import type { ChannelName } from '../../config/receiver.js';
import type { Destination } from '../model/destination.js';
import type { BacklogStat, OutboxChange, PendingEntry } from '../outbox/contract.js';
import { MinHeap } from './heap.js';
import type { Lanes } from './lanes.js';

// The delivery worker's view of the pending work, held in memory so that choosing what to send
// costs what is sent, not what waits: per destination and lane the notifications that may go
// now (the oldest of each group, when due), and when the next one becomes due. It is read from
// the outbox in pages at start (and after a reload or a lost notification connection) and kept
// current by the changes the outbox announces as they commit (OutboxChange): recorded,
// claimed by another replica, retried, done.

/** Where a notification stands in the index. */
type State =
  /** Behind an older notification of its group. */
  | 'queued'
  /** The oldest of its group and due: it may go now. */
  | 'ready'
  /** The oldest of its group, waiting for its retry time or for another replica's lease. */
  | 'waiting'
  /** Being delivered by this process, until its result is recorded. */
  | 'taken';

/** A pending notification in the index: what ordering and pacing need, no content. */
export interface Pending {
  readonly id: number;
  readonly createdAt: number;
  nextAttemptAt: number;
  /** Another replica's lease on it (0: none). */
  heldUntil: number;
  readonly lane: string;
  readonly group: Group;
  state: State;
  /** Bumped at every change of state: a heap item of an earlier state is stale. */
  seq: number;
}

/** The pending notifications of one group for one destination, oldest first. */
interface Group {
  readonly key: string;
  readonly queue: DestinationQueue;
  nodes: Pending[];
  /** Index of the oldest in `nodes` (the ones before it are gone). */
  start: number;
  /** Its notifications being delivered by this process: while any is, none other may go. */
  taken: number;
  /** The oldest, when it is ready or waiting. */
  active?: Pending;
}

interface Item {
  node: Pending;
  seq: number;
  /** Ready heaps: the id; timers: when it becomes due. */
  at: number;
}

const live = (item: Item) => item.node.seq === item.seq;
/** A notification another replica's transaction had locked when it was claimed is tried again after this. */
const RECLAIM_DELAY_MS = 250;
/** Stale heap items are dropped in one pass once they outnumber the live ones by this much. */
const COMPACT_SLACK = 1024;

function compactIfStale(heap: MinHeap<Item>, liveCount: number): void {
  if (heap.size > 2 * liveCount + COMPACT_SLACK) heap.compact(live);
}

/** One destination of one channel: its ready notifications by lane, and when they arrived. */
export class DestinationQueue {
  private readonly lanes = new Map<string, { heap: MinHeap<Item>; count: number }>();
  /** Recording times of the latest arrivals (at most about 2 × `cap`), for flood control. */
  private arrived: number[] = [];
  /** Notifications of this destination in the index. */
  size = 0;

  constructor(
    readonly key: string,
    readonly channel: ChannelName,
    readonly destination: Destination,
  ) {}

  private lane(name: string) {
    let l = this.lanes.get(name);
    if (!l) this.lanes.set(name, (l = { heap: new MinHeap<Item>((a, b) => a.at < b.at), count: 0 }));
    return l;
  }

  /** Ready notifications in the urgent lanes, or in the others. */
  count(lanes: Lanes, urgent: boolean): number {
    let n = 0;
    for (const [name, l] of this.lanes) if (l.count && lanes.urgent(name) === urgent) n += l.count;
    return n;
  }

  /** The rank of the most important lane with ready notifications of that kind (Infinity: none). */
  bestRank(lanes: Lanes, urgent: boolean): number {
    let best = Infinity;
    for (const [name, l] of this.lanes)
      if (l.count && lanes.urgent(name) === urgent) best = Math.min(best, lanes.rank(name));
    return best;
  }

  /**
   * Takes up to `n` ready notifications of the urgent lanes (or of the others), the most
   * important lane first and the oldest first within it; they are the worker's until their
   * results are recorded.
   */
  take(lanes: Lanes, urgent: boolean, n: number): Pending[] {
    const from = [...this.lanes]
      .filter(([name, l]) => l.count > 0 && lanes.urgent(name) === urgent)
      .map(([name, l]) => ({ rank: lanes.rank(name), l }));
    const out: Pending[] = [];
    while (out.length < n) {
      let best: { rank: number; l: (typeof from)[number]['l']; top: Item } | undefined;
      for (const f of from) {
        const top = f.l.heap.peekLive(live);
        if (!top) continue;
        if (!best || f.rank < best.rank || (f.rank === best.rank && top.at < best.top.at))
          best = { ...f, top };
      }
      if (!best) break;
      best.l.heap.pop();
      best.l.count--;
      const node = best.top.node;
      node.state = 'taken';
      node.seq++;
      node.group.taken++;
      node.group.active = undefined;
      out.push(node);
    }
    return out;
  }

  /** Notifications recorded for this destination after `since` (counted up to the arrival cap). */
  arrivalsSince(since: number): number {
    let n = 0;
    for (const t of this.arrived) if (t > since) n++;
    return n;
  }

  arrive(createdAt: number, cap: number): void {
    this.arrived.push(createdAt);
    if (this.arrived.length > 2 * cap) this.arrived = this.arrived.slice(-cap);
  }

  ready(node: Pending): void {
    const l = this.lane(node.lane);
    node.state = 'ready';
    node.seq++;
    l.heap.push({ node, seq: node.seq, at: node.id });
    l.count++;
  }

  unready(node: Pending): void {
    const l = this.lane(node.lane);
    l.count--;
    compactIfStale(l.heap, l.count);
  }

  /** Forgets every ready notification (the index is being read again). */
  clear(): void {
    this.lanes.clear();
    this.size = 0;
  }
}

interface LaneStat {
  channel: ChannelName;
  lane: string;
  count: number;
  /** Oldest first, removed lazily. */
  oldest: MinHeap<Pending>;
}

/**
 * The pending work in memory. About 300 bytes per pending notification (its entry, its place in
 * its group's queue and in one heap); a group's key is held once however many of its
 * notifications wait.
 */
export class PendingIndex {
  private readonly nodes = new Map<number, Pending>();
  private readonly groups = new Map<string, Group>();
  private readonly queues = new Map<string, DestinationQueue>();
  /** Waiting notifications by the time they become due. */
  private readonly timers = new MinHeap<Item>((a, b) => a.at < b.at);
  private waiting = 0;
  private readonly stats = new Map<string, LaneStat>();
  /** Changes heard while the index is read from the outbox: applied once it is read. */
  private heard?: OutboxChange[];
  private loaded = false;
  /** Arrivals remembered per destination: one more than the flood threshold is enough. */
  arrivalCap = 11;

  constructor(private readonly now: () => number) {}

  /** Whether the index holds the outbox's pending work (false until read, and while read again). */
  get ready(): boolean {
    return this.loaded && !this.heard;
  }

  get size(): number {
    return this.nodes.size;
  }

  has(id: number): boolean {
    return this.nodes.has(id);
  }

  /** Applies a change the outbox announced (kept for later while the index is being read). */
  apply(change: OutboxChange): void {
    if (this.heard) {
      this.heard.push(change);
      return;
    }
    switch (change.kind) {
      case 'pending':
        for (const e of change.entries) this.add(e);
        return;
      case 'claimed':
        for (const id of change.ids) this.holdElsewhere(id, change.until);
        return;
      case 'retry':
        for (const r of change.retries) this.retry(r.id, r.nextAttemptAt);
        return;
      case 'done':
        for (const id of change.ids) this.remove(id);
        return;
      case 'resync':
        return; // the worker reads the index again
    }
  }

  /**
   * Reads the pending work from the outbox in pages of `pageSize` rows by id, yielding to the
   * event loop between pages, then applies the changes heard meanwhile. `taken` are the
   * notifications this process is delivering: they stay its own.
   */
  async load(
    read: (after: number, limit: number) => Promise<PendingEntry[]>,
    taken: () => Iterable<number>,
    pageSize = 2000,
  ): Promise<void> {
    this.heard = [];
    this.loaded = false;
    this.nodes.clear();
    this.groups.clear();
    for (const q of this.queues.values()) q.clear();
    this.timers.compact(() => false);
    this.waiting = 0;
    this.stats.clear();
    try {
      let after = 0;
      for (;;) {
        const page = await read(after, pageSize);
        for (const e of page) this.add(e);
        if (page.length < pageSize) break;
        after = (page[page.length - 1] as PendingEntry).id;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.heard = undefined;
      throw err;
    }
    const heard = this.heard;
    this.heard = undefined;
    for (const c of heard) this.apply(c);
    for (const id of taken()) this.markTaken(id);
    this.loaded = true;
  }

  private queueOf(e: PendingEntry): DestinationQueue {
    const key = `${e.channel}\0${e.destination.key}`;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = new DestinationQueue(e.destination.key, e.channel, e.destination)));
    return q;
  }

  private add(e: PendingEntry): void {
    if (this.nodes.has(e.id)) return;
    const queue = this.queueOf(e);
    const key = `${e.channel}\0${e.destination.key}\0${e.groupKey}`;
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { key, queue, nodes: [], start: 0, taken: 0 }));
    const node: Pending = {
      id: e.id,
      createdAt: e.createdAt,
      nextAttemptAt: e.nextAttemptAt,
      heldUntil: e.heldUntil,
      lane: e.lane,
      group,
      state: 'queued',
      seq: 0,
    };
    const list = group.nodes;
    // Almost always the newest of its group; an older one (re-driven) goes in its place.
    let i = list.length;
    while (i > group.start && (list[i - 1] as Pending).id > node.id) i--;
    list.splice(i, 0, node);
    this.nodes.set(node.id, node);
    queue.size++;
    queue.arrive(node.createdAt, this.arrivalCap);
    this.stat(queue.channel, node.lane, 1, node);
    this.refresh(group);
  }

  private remove(id: number): void {
    const node = this.nodes.get(id);
    if (!node) return;
    const group = node.group;
    if (node.state === 'taken') group.taken--;
    this.deactivate(node);
    this.nodes.delete(id);
    group.queue.size--;
    this.stat(group.queue.channel, node.lane, -1);
    if (group.nodes[group.start] === node) {
      group.start++;
      if (group.start > 32 && group.start * 2 > group.nodes.length) {
        group.nodes = group.nodes.slice(group.start);
        group.start = 0;
      }
    } else {
      const i = group.nodes.indexOf(node, group.start);
      if (i >= 0) group.nodes.splice(i, 1);
    }
    this.refresh(group);
  }

  private retry(id: number, nextAttemptAt: number): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.nextAttemptAt = nextAttemptAt;
    node.heldUntil = 0;
    this.release(node);
  }

  private holdElsewhere(id: number, until: number): void {
    const node = this.nodes.get(id);
    // Being delivered here: this process's claim stands (at least once, if both hold it).
    if (!node || node.state === 'taken') return;
    node.heldUntil = until;
    this.deactivate(node);
    this.refresh(node.group);
  }

  /** Back to its group's queue (a claim that did not succeed, a retry). */
  private release(node: Pending): void {
    if (node.state === 'taken') {
      node.group.taken--;
      node.state = 'queued';
      node.seq++;
    } else this.deactivate(node);
    this.refresh(node.group);
  }

  /** Being delivered by this process (after the index was read again). */
  private markTaken(id: number): void {
    const node = this.nodes.get(id);
    if (!node || node.state === 'taken') return;
    this.deactivate(node);
    node.state = 'taken';
    node.seq++;
    node.group.taken++;
    this.refresh(node.group);
  }

  /**
   * After a claim that did not get every notification: `rows` are those of `ids` still
   * pending as they are now (another replica's lease, a later retry time); the others are no
   * longer pending.
   */
  reconcile(ids: readonly number[], rows: readonly PendingEntry[]): void {
    const now = new Map(rows.map((r) => [r.id, r]));
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (!node) continue;
      const row = now.get(id);
      if (!row) {
        this.remove(id);
        continue;
      }
      node.nextAttemptAt = row.nextAttemptAt;
      // Pending and held by no one: a transaction of another replica had it locked. Look again shortly.
      node.heldUntil = row.heldUntil || this.now() + RECLAIM_DELAY_MS;
      this.release(node);
    }
  }

  /** Gives back notifications taken for a delivery that was not started (the claim failed). */
  untake(ids: readonly number[]): void {
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (node?.state === 'taken') this.release(node);
    }
  }

  /** Makes the oldest of the group ready or waiting, unless one of the group is being delivered. */
  private refresh(group: Group): void {
    const head = group.nodes[group.start];
    if (group.active && (group.active !== head || group.taken > 0)) this.deactivate(group.active);
    if (!head) {
      if (group.nodes.length) group.nodes = [];
      group.start = 0;
      if (group.taken === 0) this.groups.delete(group.key);
      return;
    }
    if (group.taken > 0 || group.active === head || head.state === 'taken') return;
    group.active = head;
    const due = Math.max(head.nextAttemptAt, head.heldUntil);
    if (due > this.now()) {
      head.state = 'waiting';
      head.seq++;
      this.timers.push({ node: head, seq: head.seq, at: due });
      this.waiting++;
    } else group.queue.ready(head);
  }

  private deactivate(node: Pending): void {
    if (node.state === 'ready') node.group.queue.unready(node);
    else if (node.state === 'waiting') {
      this.waiting--;
      compactIfStale(this.timers, this.waiting);
    } else return;
    node.state = 'queued';
    node.seq++;
    if (node.group.active === node) node.group.active = undefined;
  }

  /** Moves the waiting notifications that are due by now to their destinations' ready lanes. */
  private promote(now: number): void {
    for (;;) {
      const top = this.timers.peekLive(live);
      if (!top || top.at > now) return;
      this.timers.pop();
      this.waiting--;
      top.node.group.queue.ready(top.node);
    }
  }

  /** The destinations of a channel with notifications that may go now. */
  queuesOf(channel: ChannelName): DestinationQueue[] {
    this.promote(this.now());
    const out: DestinationQueue[] = [];
    for (const q of this.queues.values()) if (q.channel === channel && q.size > 0) out.push(q);
    return out;
  }

  /** When the next waiting notification becomes due (undefined: none waits). */
  wakeAt(): number | undefined {
    return this.timers.peekLive(live)?.at;
  }

  private stat(channel: ChannelName, lane: string, delta: 1 | -1, node?: Pending): void {
    const key = `${channel}\0${lane}`;
    let s = this.stats.get(key);
    if (!s)
      this.stats.set(
        key,
        (s = {
          channel,
          lane,
          count: 0,
          oldest: new MinHeap<Pending>(
            (a, b) => a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id),
          ),
        }),
      );
    s.count += delta;
    if (node) s.oldest.push(node);
    else if (s.oldest.size > 2 * s.count + COMPACT_SLACK) s.oldest.compact((n) => this.nodes.get(n.id) === n);
  }

  /** Pending notifications per channel and lane, and since when the oldest waits. */
  backlogStats(): BacklogStat[] {
    const out: BacklogStat[] = [];
    for (const s of this.stats.values()) {
      if (s.count <= 0) continue;
      const oldest = s.oldest.peekLive((n) => this.nodes.get(n.id) === n);
      out.push({
        channel: s.channel,
        lane: s.lane,
        pending: s.count,
        oldestCreatedAt: oldest?.createdAt ?? 0,
      });
    }
    return out;
  }
}
