import type { ChannelName } from '../../config/receiver.js';
import { CHANNELS } from '../../config/receiver.js';
import { errorText, type Logger } from '../../logger.js';
import { settleWithin } from '../../wait.js';
import type { Channel } from '../channels/channel.js';
import { destinationOf, type Destination } from '../model/destination.js';
import type { ReceiverMetrics } from '../receiver-metrics.js';
import { renderDigest } from '../render/digest.js';
import { Dispatcher, type DigestPolicy, type PaceKey, type Send } from './dispatcher.js';
import type { Lanes } from './lanes.js';
import { Pacer } from './pacing.js';
import { messageIdFor } from '../model/identity.js';
import { decide, type RetryPolicyConfig } from './retry.js';
import { BACKLOG_READ_LIMIT, type AlertStore, type AttemptOutcome } from '../outbox/contract.js';
import type { DeliveryResult, Job } from '../model/notification.js';

interface Pace extends PaceKey {
  channel: ChannelName;
  /** Pending notifications of the channel when it was dispatched (for the log). */
  queued: number;
}

/** A webhook URL's secret path stays out of the log: scheme, host and the first path segment only. */
function redactDestination(key: string): string {
  return key.replace(/(https?:\/\/[^/]+\/[^/]*\/).*/, '$1…');
}

export interface WorkerDeps {
  store: () => AlertStore | undefined;
  channelFor: (job: Job) => Channel;
  policy: () => RetryPolicyConfig;
  concurrency: () => Record<ChannelName, number>;
  lanes: () => Lanes;
  digest: () => DigestPolicy;
  /** The rate-limit key and budget of a destination of a channel. */
  paceOf: (channel: ChannelName, destination: Destination) => PaceKey;
  /** Where a digest's full list can be read (the notifications API), if known. */
  digestLink: (digestId: string) => string | undefined;
  mailDomain: () => string;
  /** Longest sleep with nothing due: short when other replicas may record work (a shared outbox). */
  idleMs: () => number;
  metrics: ReceiverMetrics;
  logger: Logger;
  now?: () => number;
}

/**
 * Deliver stage: reads the pending notifications of each channel, lets the dispatcher
 * (dispatch.ts) choose what goes now (lanes, pacing, digests), and delivers with bounded
 * concurrency per channel, so a slow SMTP server never blocks ingest. Jobs stay `pending` in
 * the store while in flight, so after a crash they are due again. The worker sleeps until the
 * next token, pause end, retry or digest is due, or until new work wakes it.
 */
export class DeliveryWorker {
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly busy = Object.fromEntries(CHANNELS.map((c) => [c, 0])) as Record<ChannelName, number>;
  private readonly pacer: Pacer;
  private readonly dispatchers: Record<ChannelName, Dispatcher>;
  private outcomes: { outcome: AttemptOutcome; resolve: () => void }[] = [];
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private again = false;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly deps: WorkerDeps) {
    this.now = deps.now ?? Date.now;
    this.pacer = new Pacer(this.now);
    const dispatcher = (channel: ChannelName) =>
      new Dispatcher(() => ({
        lanes: deps.lanes(),
        digest: deps.digest(),
        pacer: this.pacer,
        paceOf: (destination) => deps.paceOf(channel, destination),
      }));
    this.dispatchers = Object.fromEntries(CHANNELS.map((c) => [c, dispatcher(c)])) as Record<
      ChannelName,
      Dispatcher
    >;
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
    let sleep = this.deps.idleMs();
    try {
      const store = this.deps.store();
      if (store) {
        const conc = this.deps.concurrency();
        const lanes = this.deps.lanes();
        for (const channel of CHANNELS) {
          const free = conc[channel] - this.busy[channel];
          if (free <= 0) continue;
          const now = this.now();
          const entries = await store.backlog(channel, lanes.names, now, BACKLOG_READ_LIMIT);
          if (!entries.length) continue;
          const plan = this.dispatchers[channel].plan({
            entries,
            inFlight: new Set(this.inflight.keys()),
            now,
            free,
          });
          if (plan.wakeAt !== undefined) sleep = Math.min(sleep, Math.max(1, plan.wakeAt - now));
          if (plan.sends.length) await this.dispatch(store, channel, plan.sends, entries.length);
        }
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

  private async dispatch(store: AlertStore, channel: ChannelName, sends: readonly Send[], queued: number) {
    const ids = sends.flatMap((s) => (s.kind === 'single' ? [s.entry.id] : s.entries.map((e) => e.id)));
    const jobs = new Map((await store.claim(ids, this.now())).map((j) => [j.id, j]));
    for (const send of sends) {
      const pace: Pace = { ...send.pace, channel, queued };
      if (send.kind === 'single') {
        const job = jobs.get(send.entry.id);
        if (job) this.track([job], this.attempt(store, job, pace));
        continue;
      }
      const carried = send.entries.flatMap((e) => jobs.get(e.id) ?? []);
      if (carried.length === 1) this.track(carried, this.attempt(store, carried[0] as Job, pace));
      else if (carried.length > 1) this.track(carried, this.attemptDigest(store, carried, send.urgent, pace));
    }
  }

  /** Counts the jobs as in flight until their results are recorded. */
  private track(jobs: readonly Job[], work: Promise<void>): void {
    const channel = (jobs[0] as Job).channel;
    this.busy[channel]++;
    const p = work.finally(() => {
      this.busy[channel]--;
      for (const j of jobs) this.inflight.delete(j.id);
      this.wake();
    });
    for (const j of jobs) this.inflight.set(j.id, p);
  }

  private async deliver(
    fn: () => Promise<DeliveryResult>,
    integration: ChannelName,
  ): Promise<DeliveryResult> {
    const started = process.hrtime.bigint();
    let result: DeliveryResult;
    try {
      result = await fn();
    } catch (err) {
      result = { kind: 'retryable', reason: errorText(err), cause: 'other' };
    }
    const { metrics } = this.deps;
    metrics.latency.observe({ integration }, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.notifications.inc({ integration });
    if (result.kind !== 'success') metrics.errors.inc({ integration, reason: result.cause ?? 'other' });
    return result;
  }

  /** Pacing feedback: a rate-limit answer pauses that destination only; a delivery ends its limiting. */
  private paceFeedback(result: DeliveryResult, pace: Pace): void {
    const { metrics, logger } = this.deps;
    if (result.kind === 'success') {
      const t = this.pacer.delivered(pace.key);
      if (t?.kind === 'stopped')
        logger.info(
          { destination: redactDestination(pace.key), limited_ms: t.limitedMs, refusals: t.refusals },
          'destination stopped rate-limiting',
        );
      return;
    }
    if (result.kind !== 'retryable' || result.cause !== 'rateLimited') return;
    const waitMs = result.retryAfterMs ?? 1000;
    metrics.rateLimitWaits.inc({ integration: pace.channel });
    metrics.rateLimitWaitSeconds.inc({ integration: pace.channel }, waitMs / 1000);
    const t = this.pacer.rateLimited(pace.key, pace.budget, waitMs);
    if (t?.kind === 'started')
      logger.warn(
        { destination: redactDestination(pace.key), retry_after_ms: waitMs, queued: pace.queued },
        'destination is rate-limiting; pausing it',
      );
  }

  private async attempt(store: AlertStore, job: Job, pace: Pace): Promise<void> {
    const channel = this.deps.channelFor(job);
    const result = await this.deliver(() => channel.deliver(job), job.channel);
    this.paceFeedback(result, pace);
    const outcome = this.decideFor(job, result, channel.console);
    await this.record(store, outcome);
  }

  /** One digest for many notifications: each is recorded as delivered by it, or retried with it. */
  private async attemptDigest(
    store: AlertStore,
    jobs: readonly Job[],
    urgent: boolean,
    pace: Pace,
  ): Promise<void> {
    const first = jobs[0] as Job;
    const lanes = this.deps.lanes();
    const now = this.now();
    const id = `d${Math.min(...jobs.map((j) => j.id))}-${jobs.length}`;
    const rendered = renderDigest({
      id,
      items: jobs.map((j) => ({
        id: j.id,
        content: j.content,
        lane: j.lane || 'other',
        rank: lanes.rank(j.lane),
      })),
      urgent,
      listUrl: this.deps.digestLink(id),
      now,
    });
    const messageId = first.channel === 'email' ? messageIdFor(id, now, this.deps.mailDomain()) : undefined;
    const channel = this.deps.channelFor(first);
    const result = await this.deliver(
      () =>
        channel.deliverDigest({
          recipients: first.recipients,
          destination: destinationOf(first),
          receiver: first.receiver,
          rendered,
          messageId,
        }),
      first.channel,
    );
    this.paceFeedback(result, pace);
    const { metrics, logger } = this.deps;
    if (result.kind === 'success') {
      metrics.digests.inc({ integration: first.channel });
      metrics.digested.inc({ integration: first.channel }, jobs.length);
      logger.info(
        {
          digest: id,
          channel: first.channel,
          recipients: first.recipients,
          notifications: jobs.length,
          urgent,
        },
        'digest delivered',
      );
    }
    await Promise.all(
      jobs.map((job) => {
        const outcome = this.decideFor(job, result, channel.console);
        if (outcome.kind === 'sent') outcome.digest = { id, messageId };
        return this.record(store, outcome);
      }),
    );
  }

  private decideFor(job: Job, result: DeliveryResult, console: boolean): AttemptOutcome {
    const { metrics, logger } = this.deps;
    const integration = job.channel;
    const now = this.now();
    const attempts = job.attempts + 1;
    const d = decide(this.deps.policy(), result, attempts, job.ageFrom, now);
    const log = { id: job.id, channel: job.channel, recipients: job.recipients, attempts };
    if (d.kind === 'done') {
      logger.debug({ ...log, console }, 'notification delivered');
      return { id: job.id, attempts, kind: 'sent' };
    }
    if (d.kind === 'retry') {
      metrics.failed.inc({ integration, reason: 'retryable' });
      // A rate limit is logged once per destination (when it starts and stops), not per refusal.
      const level = result.kind === 'retryable' && result.cause === 'rateLimited' ? 'debug' : 'warn';
      logger[level]({ ...log, retry_in_ms: d.delayMs, reason: d.reason }, 'notification failed; will retry');
      return { id: job.id, attempts, kind: 'retry', nextAttemptAt: now + d.delayMs, error: d.reason };
    }
    metrics.failed.inc({ integration, reason: result.kind === 'failure' ? 'permanent' : 'dead_letter' });
    logger.error({ ...log, reason: d.reason }, 'notification failed; moved to the dead letters');
    return { id: job.id, attempts, kind: 'dead', error: d.reason };
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
