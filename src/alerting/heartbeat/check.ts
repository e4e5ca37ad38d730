import { WATCHDOG_NAME } from '../../config/heartbeats.js';
import { toMatcher } from '../../matchers.js';
import type { Logger } from '../../logger.js';
import type { Webhook } from '../ingest/payload.js';
import type { ActiveSilence } from '../maintenance/windows.js';
import type { AlertStore } from '../outbox/contract.js';
import { StoreUnavailableError } from '../outbox/open.js';
import type { Setup } from '../setup.js';
import {
  dueAt,
  newHeartbeat,
  step,
  type HeartbeatEvent,
  type HeartbeatState,
  type HeartbeatTiming,
} from './heartbeats.js';
import { incidentWebhook, planIncident, type HeartbeatSubject } from './notice.js';
import { splitWatchdog } from './watchdog.js';

export interface HeartbeatMonitorDeps {
  setup: () => Setup;
  store: () => AlertStore | undefined;
  /** Active maintenance windows: one over a page's labels mutes it. */
  windows: () => readonly ActiveSilence[];
  /** Wakes the delivery worker when a page or recovery was recorded. */
  wake: () => void;
  /** A recovery resolved this group: its acknowledgement ends. */
  resolved: (groupKey: string) => Promise<void>;
  /** A check of every deadline has completed. */
  checked: () => void;
  logger: Logger;
  now: () => number;
}

/** A heartbeat as the API, the console and the metrics show it. */
export interface HeartbeatView extends HeartbeatSubject {
  state: HeartbeatState;
  /** When it is next due (up only). */
  dueAt?: number;
}

/** A write lost to another replica is retried from the state that replica wrote; this many times at most. */
const MAX_ATTEMPTS = 20;

/**
 * The heartbeats' watcher: applies each signal (a job's ping, the Watchdog's arrival) and, on a
 * timer, the clock, to the state stored in the outbox. A change is written together with its
 * page or recovery notice, and only by the replica whose write wins (HeartbeatStore).
 */
export class HeartbeatMonitor {
  /** Deadlines are not judged within a grace of this watcher's start (HeartbeatTiming.notBefore). */
  private readonly startedAt: number;

  constructor(private readonly deps: HeartbeatMonitorDeps) {
    this.startedAt = deps.now();
  }

  /** What is watched: the Watchdog when enabled, then each job's heartbeat. */
  subjects(): HeartbeatSubject[] {
    const cfg = this.deps.setup().cfg;
    const out: HeartbeatSubject[] = [];
    if (cfg.watchdog.enabled)
      out.push({
        kind: 'watchdog',
        name: WATCHDOG_NAME,
        periodMs: cfg.watchdog.gap,
        graceMs: 0,
        receiver: cfg.watchdog.receiver,
      });
    for (const h of cfg.heartbeats)
      out.push({ kind: 'job', name: h.name, periodMs: h.period, graceMs: h.grace, receiver: h.receiver });
    return out;
  }

  /** A job's heartbeat and its token; undefined when none has this name. */
  job(name: string): { subject: HeartbeatSubject; token: string } | undefined {
    const h = this.deps.setup().cfg.heartbeats.find((x) => x.name === name);
    const subject = this.subjects().find((s) => s.kind === 'job' && s.name === name);
    return h && subject && { subject, token: h.token };
  }

  /** The Watchdog's timing is its gap; a watcher just started waits that long (a job: its grace). */
  private timing(s: HeartbeatSubject): HeartbeatTiming {
    return {
      periodMs: s.periodMs,
      graceMs: s.graceMs,
      notBefore: this.startedAt + (s.graceMs || s.periodMs),
    };
  }

  private requireStore(): AlertStore {
    const store = this.deps.store();
    if (!store) throw new StoreUnavailableError('the outbox is not available');
    return store;
  }

  /**
   * Takes the Watchdog's alerts out of a webhook and records their arrival (when the Watchdog
   * is enabled); the rest of the webhook, undefined when nothing else was in it.
   */
  async watchdog(w: Webhook): Promise<Webhook | undefined> {
    const cfg = this.deps.setup().cfg.watchdog;
    if (!cfg.enabled) return w;
    const split = splitWatchdog(w, cfg.matchers.map(toMatcher));
    const subject = this.subjects().find((s) => s.kind === 'watchdog');
    if (split.signal && subject) await this.apply(subject, split.signal);
    return split.rest;
  }

  /** A job's signal; its state after it. */
  async signal(subject: HeartbeatSubject, event: Exclude<HeartbeatEvent, 'check'>): Promise<HeartbeatView> {
    return this.view(subject, await this.apply(subject, event));
  }

  /** Checks every heartbeat's deadline; how many went down. */
  async check(): Promise<number> {
    const store = this.deps.store();
    if (!store) return 0;
    const stored = new Map((await store.listHeartbeats()).map((h) => [h.name, h]));
    const now = this.deps.now();
    let down = 0;
    for (const subject of this.subjects()) {
      const state = stored.get(subject.name);
      if (!state || !step(state, 'check', now, this.timing(subject))) continue;
      if ((await this.apply(subject, 'check')).status === 'down') down++;
    }
    this.deps.checked();
    return down;
  }

  /** Every watched heartbeat with its stored state. */
  async list(): Promise<HeartbeatView[]> {
    const stored = new Map((await this.requireStore().listHeartbeats()).map((h) => [h.name, h]));
    return this.subjects().map((s) => this.view(s, stored.get(s.name) ?? newHeartbeat(s.name)));
  }

  private view(subject: HeartbeatSubject, state: HeartbeatState): HeartbeatView {
    const due = dueAt(state, subject);
    return due === undefined ? { ...subject, state } : { ...subject, state, dueAt: due };
  }

  /**
   * Applies one event to the stored state and writes the change with its page or recovery
   * notice. When another replica wrote the heartbeat in between, the event is applied again
   * to what it wrote: so of two replicas seeing the same deadline pass, one pages.
   */
  private async apply(subject: HeartbeatSubject, event: HeartbeatEvent): Promise<HeartbeatState> {
    const store = this.requireStore();
    const { logger } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const state = (await store.getHeartbeat(subject.name)) ?? newHeartbeat(subject.name);
      const now = this.deps.now();
      const change = step(state, event, now, this.timing(subject));
      if (!change) return state;
      const s = this.deps.setup();
      const w = incidentWebhook(subject, change, {
        lastSeenAt: state.lastSeenAt,
        externalUrl: s.cfg.external_url,
      });
      const record = w && planIncident(w, subject, { setup: s, silences: this.deps.windows(), now });
      if (await store.saveHeartbeat(change.state, record, now, s.cfg.dedup_window)) {
        const fields = { heartbeat: subject.name, notifications: record?.jobs.length ?? 0 };
        if (change.page) logger.warn({ ...fields, reason: change.page.reason }, 'heartbeat is down; paging');
        if (change.recovery) {
          logger.info({ ...fields, reason: change.recovery.reason }, 'heartbeat is up again');
          if (w) await this.deps.resolved(w.groupKey);
        }
        if (record?.jobs.some((j) => j.status === 'pending')) this.deps.wake();
        return change.state;
      }
      if (attempt >= MAX_ATTEMPTS)
        throw new Error(
          `heartbeat ${subject.name} was changed by another replica ${MAX_ATTEMPTS} times in a row`,
        );
    }
  }
}
