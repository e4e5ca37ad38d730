import type { ChannelName } from '../config/receiver.js';
import { CHANNELS } from '../config/receiver.js';
import { errorText, type Logger } from '../logger.js';
import { settleWithin } from '../wait.js';
import type { Channel } from './channels/channel.js';
import type { ReceiverMetrics } from './metrics.js';
import { decide, type RetryPolicyConfig } from './retry.js';
import type { AlertStore, AttemptOutcome } from './store.js';
import type { DeliveryResult, Job } from './types.js';

export interface WorkerDeps {
  store: () => AlertStore | undefined;
  channelFor: (job: Job) => Channel;
  policy: () => RetryPolicyConfig;
  concurrency: () => Record<ChannelName, number>;
  metrics: ReceiverMetrics;
  logger: Logger;
  now?: () => number;
}

const MAX_IDLE_MS = 1000;

/**
 * Deliver stage: pulls due jobs from the outbox, with bounded concurrency per channel, so a
 * slow SMTP server never blocks ingest. Jobs stay `pending` in the store while in flight, so
 * after a crash they are due again.
 */
export class DeliveryWorker {
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly busy: Record<ChannelName, number> = { email: 0, slack: 0 };
  /** A channel told to slow down (Slack 429) starts nothing new before this time. */
  private readonly pausedUntil: Record<ChannelName, number> = { email: 0, slack: 0 };
  private outcomes: { outcome: AttemptOutcome; resolve: () => void }[] = [];
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private again = false;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly deps: WorkerDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Looks for due work now (after ingest, after a delivery, after a re-drive). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    this.ticking = true;
    let sleep = MAX_IDLE_MS;
    try {
      const store = this.deps.store();
      if (store) {
        const now = this.now();
        const conc = this.deps.concurrency();
        const ids = new Set(this.inflight.keys());
        for (const channel of CHANNELS) {
          const free = conc[channel] - this.busy[channel];
          if (free <= 0) continue;
          if (this.pausedUntil[channel] > now) {
            sleep = Math.min(sleep, this.pausedUntil[channel] - now);
            continue;
          }
          const jobs = await store.due(channel, now, free, ids);
          for (const job of jobs) this.run(store, job);
        }
        const next = await store.nextDue();
        if (next !== undefined) sleep = Math.min(sleep, Math.max(next - this.now(), 5));
      }
    } catch (err) {
      this.deps.logger.error({ err: errorText(err) }, 'outbox read failed');
    } finally {
      this.ticking = false;
    }
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      sleep = 0;
    }
    this.timer = setTimeout(() => void this.tick(), sleep);
  }

  private run(store: AlertStore, job: Job): void {
    const channel = this.deps.channelFor(job);
    this.busy[job.channel]++;
    const p = this.attempt(store, job, channel).finally(() => {
      this.busy[job.channel]--;
      this.inflight.delete(job.id);
      this.wake();
    });
    this.inflight.set(job.id, p);
  }

  private async attempt(store: AlertStore, job: Job, channel: Channel): Promise<void> {
    const { metrics, logger } = this.deps;
    const integration = job.channel;
    const started = process.hrtime.bigint();
    let result: DeliveryResult;
    try {
      result = await channel.deliver(job);
    } catch (err) {
      result = { kind: 'retryable', reason: errorText(err) };
    }
    metrics.latency.observe({ integration }, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.notifications.inc({ integration });
    const now = this.now();
    const attempts = job.attempts + 1;
    const d = decide(this.deps.policy(), result, attempts, job.ageFrom, now);
    const log = { id: job.id, channel: job.channel, recipients: job.recipients, attempts };
    let outcome: AttemptOutcome;
    if (d.kind === 'done') {
      outcome = { id: job.id, attempts, kind: 'sent' };
      logger.debug({ ...log, console: channel.console }, 'notification delivered');
    } else if (d.kind === 'retry') {
      metrics.failed.inc({ integration, reason: 'retryable' });
      if (result.kind === 'retryable' && result.retryAfterMs !== undefined)
        this.pausedUntil[job.channel] = Math.max(this.pausedUntil[job.channel], now + result.retryAfterMs);
      outcome = { id: job.id, attempts, kind: 'retry', nextAttemptAt: now + d.delayMs, error: d.reason };
      logger.warn({ ...log, retry_in_ms: d.delayMs, reason: d.reason }, 'notification failed; will retry');
    } else {
      metrics.failed.inc({ integration, reason: result.kind === 'failure' ? 'permanent' : 'dead_letter' });
      outcome = { id: job.id, attempts, kind: 'dead', error: d.reason };
      logger.error({ ...log, reason: d.reason }, 'notification failed; moved to the dead letters');
    }
    await this.record(store, outcome);
  }

  /**
   * Results are written in batches (one transaction for all the attempts that finished in
   * this turn of the event loop). A job stays in flight until its result is
   * written, so it is not picked up twice.
   */
  private record(store: AlertStore, outcome: AttemptOutcome): Promise<void> {
    return new Promise<void>((resolve) => {
      this.outcomes.push({ outcome, resolve });
      if (this.outcomes.length === 1) setImmediate(() => void this.flushOutcomes(store));
    });
  }

  private async flushOutcomes(store: AlertStore): Promise<void> {
    const batch = this.outcomes;
    this.outcomes = [];
    try {
      await store.complete(
        batch.map((b) => b.outcome),
        this.now(),
      );
    } catch (err) {
      // Not written: the jobs stay due and are tried again.
      this.deps.logger.error(
        { err: errorText(err), results: batch.length },
        'could not record delivery results',
      );
    }
    for (const b of batch) b.resolve();
  }

  /** Stops taking new work and waits (bounded) for deliveries in flight. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inflight.size === 0) return;
    await settleWithin(Promise.allSettled([...this.inflight.values()]), graceMs);
  }
}
