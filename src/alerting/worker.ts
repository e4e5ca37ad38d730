import type { ChannelName } from '../config/receiver.js';
import { CHANNELS } from '../config/receiver.js';
import { errorText, type Logger } from '../logger.js';
import type { Channel } from './channels/channel.js';
import type { ReceiverMetrics } from './metrics.js';
import { decide, type RetryPolicyConfig } from './retry.js';
import type { AlertStore } from './store.js';
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
        const next = await store.nextDue(now);
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
    try {
      if (d.kind === 'done') {
        await store.markSent(job.id, attempts, now);
        logger.debug({ ...log, console: channel.console }, 'notification delivered');
      } else if (d.kind === 'retry') {
        metrics.failed.inc({ integration, reason: 'retryable' });
        if (result.kind === 'retryable' && result.retryAfterMs !== undefined)
          this.pausedUntil[job.channel] = Math.max(this.pausedUntil[job.channel], now + result.retryAfterMs);
        await store.markRetry(job.id, attempts, now + d.delayMs, d.reason, now);
        logger.warn({ ...log, retry_in_ms: d.delayMs, reason: d.reason }, 'notification failed; will retry');
      } else {
        metrics.failed.inc({ integration, reason: result.kind === 'failure' ? 'permanent' : 'dead_letter' });
        await store.markDead(job.id, attempts, d.reason, now);
        logger.error({ ...log, reason: d.reason }, 'notification failed; moved to the dead letters');
      }
    } catch (err) {
      // The attempt's outcome could not be written: the job stays due and is tried again.
      logger.error({ ...log, err: errorText(err) }, 'could not record a delivery result');
    }
  }

  /** Stops taking new work and waits (bounded) for deliveries in flight. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight.values()]),
      new Promise<void>((r) => (timer = setTimeout(r, graceMs))),
    ]);
    clearTimeout(timer);
  }
}
