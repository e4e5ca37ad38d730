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
import { PendingIndex } from './pending.js';
import { messageIdFor } from '../model/identity.js';
import { decide, type RetryPolicyConfig } from './retry.js';
import type { AlertStore, AttemptOutcome, BacklogStat, OutboxChange } from '../outbox/contract.js';
import type { DeliveryResult, Job } from '../model/notification.js';

interface Pace extends PaceKey {
  channel: ChannelName;
  /** Pending notifications of the destination when it was dispatched (for the log). */
  queued: number;
}

/** A delivery result waiting to be written to the outbox, and the attempt waiting for it. */
interface Outcome {
  outcome: AttemptOutcome;
  resolve: () => void;
}

/** A webhook URL's secret path stays out of the log: scheme, host and the first path segment only. */
function redactDestination(key: string): string {
  return key.replace(/(https?:\/\/[^/]+\/[^/]*\/).*/, '$1…');
}

/** Waits between tries to record results the outbox refused: from the first to the last. */
const RECORD_RETRY_FIRST_MS = 100;
const RECORD_RETRY_MAX_MS = 5000;
/** After the outbox failed a read or a claim, the worker looks again after this. */
const OUTBOX_ERROR_PAUSE_MS = 1000;
/**
 * Rows claimed, and results recorded, per turn of the event loop: a digest of hundreds is
 * handled in slices, so that no webhook waits behind all of it.
 */
const SLICE = 100;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function slices<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += SLICE) out.push(items.slice(i, i + SLICE));
  return out;
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
  /** Where a digest's full list can be read in the console, if stackwatch's URL is known. */
  digestLink: (digestId: string) => string | undefined;
  mailDomain: () => string;
  /** Longest sleep with nothing due. */
  idleMs: () => number;
  metrics: ReceiverMetrics;
  logger: Logger;
  now?: () => number;
}

/**
 * Deliver stage. Keeps the pending work in memory (pending.ts: read from the outbox at start
 * and after a reload, then kept current by the changes the outbox announces), lets the
 * dispatcher (dispatcher.ts) choose what goes now (lanes, pacing, digests), claims just those
 * and delivers them with bounded concurrency per channel, so a slow SMTP server never blocks
 * ingest and a long backlog costs nothing per webhook. Jobs stay `pending` in the store while
 * in flight, so after a crash they are due again.
 *
 * A result the outbox cannot record (a full disk) is kept in memory and recording it is
 * retried with backoff; the notification stays this worker's, so it is not sent again, and no
 * new delivery starts until the results are recorded (`/-/ready` says why).
 */
export class DeliveryWorker {
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly busy = new Map<ChannelName, number>();
  private readonly pacer: Pacer;
  private readonly dispatchers = new Map<ChannelName, Dispatcher>();
  private readonly index: PendingIndex;
  /** The outbox the index follows, and how to stop following it. */
  private source?: AlertStore;
  private unwatch?: () => void;
  private loading?: Promise<void>;
  private loadAgain = false;
  private outcomes: Outcome[] = [];
  /** Delivered (or failed) attempts whose results the outbox refused, and why. */
  private unrecorded: Outcome[] = [];
  private recordError?: string;
  private recordRetryMs = 0;
  private recordTimer?: NodeJS.Timeout;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private again = false;
  private stopped = true;
  private readonly now: () => number;

  constructor(private readonly deps: WorkerDeps) {
    this.now = deps.now ?? Date.now;
    this.pacer = new Pacer(this.now);
    this.index = new PendingIndex(this.now);
  }

  private dispatcher(channel: ChannelName): Dispatcher {
    let d = this.dispatchers.get(channel);
    if (!d)
      this.dispatchers.set(
        channel,
        (d = new Dispatcher(() => ({
          lanes: this.deps.lanes(),
          digest: this.deps.digest(),
          pacer: this.pacer,
          paceOf: (destination) => this.deps.paceOf(channel, destination),
        }))),
      );
    return d;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Looks for due work at the next turn of the event loop; wakes in one turn make one look. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0);
  }

  /** Reads the pending work from the outbox again (after a configuration reload). */
  reload(): void {
    if (this.source) void this.load();
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  /** Pending notifications per channel and lane, from memory; undefined until the index is read. */
  backlogStats(): BacklogStat[] | undefined {
    return this.index.ready ? this.index.backlogStats() : undefined;
  }

  /** Pending notifications in all, from memory; undefined until the index is read. */
  pendingCount(): number | undefined {
    return this.index.ready ? this.index.size : undefined;
  }

  /** Delivery attempts whose results the outbox refused, held until it records them. */
  get unrecordedResults(): number {
    return this.unrecorded.length;
  }

  /** Why no delivery starts now, when the outbox cannot record results; undefined otherwise. */
  notReadyReason(): string | undefined {
    if (!this.unrecorded.length) return undefined;
    return (
      `delivery results cannot be recorded in the outbox (${this.unrecorded.length} attempts wait ` +
      `to be recorded: ${this.recordError ?? 'unknown error'}); no new delivery starts until they are`
    );
  }

  /** Follows the outbox's changes and reads its pending work (at start, and when it is opened again). */
  private follow(store: AlertStore): void {
    this.unwatch?.();
    this.source = store;
    this.unwatch = store.watchPending((change) => this.heard(change));
    void this.load();
  }

  private heard(change: OutboxChange): void {
    if (change.kind === 'resync') {
      void this.load();
      return;
    }
    this.index.apply(change);
    if (change.kind !== 'claimed') this.wake();
  }

  private load(): Promise<void> {
    if (this.loading) {
      this.loadAgain = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.loadAgain = false;
        const store = this.source;
        if (!store || this.stopped) return;
        const started = this.now();
        try {
          await this.index.load(
            (after, limit) => store.pendingPage(after, limit),
            () => this.inflight.keys(),
          );
          this.deps.logger.info(
            { pending: this.index.size, ms: this.now() - started },
            'pending notifications read from the outbox',
          );
        } catch (err) {
          this.deps.logger.error(
            { err: errorText(err) },
            'could not read the pending notifications; trying again',
          );
          await new Promise((r) => setTimeout(r, OUTBOX_ERROR_PAUSE_MS).unref());
          this.loadAgain = true;
        }
      } while (this.loadAgain && !this.stopped);
    })().finally(() => {
      this.loading = undefined;
      this.wake();
    });
    return this.loading;
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    this.ticking = true;
    let sleep = this.deps.idleMs();
    try {
      const store = this.deps.store();
      if (store && store !== this.source) this.follow(store);
      // Nothing new starts before the index is read, nor while results wait to be recorded.
      if (store && this.index.ready && !this.unrecorded.length) {
        const conc = this.deps.concurrency();
        this.index.arrivalCap = this.deps.digest().arrivals + 1;
        for (const channel of CHANNELS) {
          const free = conc[channel] - (this.busy.get(channel) ?? 0);
          if (free <= 0) continue;
          const queues = this.index.queuesOf(channel);
          if (!queues.length) continue;
          const now = this.now();
          const plan = this.dispatcher(channel).plan({ queues, now, free });
          if (plan.wakeAt !== undefined) sleep = Math.min(sleep, Math.max(1, plan.wakeAt - now));
          if (plan.sends.length) await this.dispatch(store, channel, plan.sends);
        }
        const due = this.index.wakeAt();
        if (due !== undefined) sleep = Math.min(sleep, Math.max(1, due - this.now()));
      }
    } catch (err) {
      this.deps.logger.error({ err: errorText(err) }, 'outbox read failed');
      sleep = Math.max(sleep, OUTBOX_ERROR_PAUSE_MS);
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

  private async dispatch(store: AlertStore, channel: ChannelName, sends: readonly Send[]) {
    const ids = sends.flatMap((s) => (s.kind === 'single' ? [s.entry.id] : s.entries.map((e) => e.id)));
    const jobs = new Map<number, Job>();
    const asked = new Set<number>();
    let failed: unknown;
    for (const [i, part] of slices(ids).entries()) {
      if (i) await nextTurn();
      try {
        for (const j of await store.claim(part, this.now())) jobs.set(j.id, j);
        for (const id of part) asked.add(id);
      } catch (err) {
        failed = err;
        break;
      }
    }
    // Those the outbox was not asked about go back; those it was asked about and did not give
    // were sent or claimed by another replica meanwhile: the index learns how they stand now.
    if (failed) this.index.untake(ids.filter((id) => !asked.has(id)));
    const missed = [...asked].filter((id) => !jobs.has(id));
    if (missed.length)
      await store
        .pendingRows(missed)
        .then((rows) => this.index.reconcile(missed, rows))
        .catch(() => this.index.untake(missed));
    for (const send of sends) {
      const head = send.kind === 'single' ? send.entry : send.entries[0];
      const pace: Pace = { ...send.pace, channel, queued: head?.group.queue.size ?? 0 };
      if (send.kind === 'single') {
        const job = jobs.get(send.entry.id);
        if (job) this.track([job], this.attempt(store, job, pace));
        continue;
      }
      const carried = send.entries.flatMap((e) => jobs.get(e.id) ?? []);
      if (carried.length === 1) this.track(carried, this.attempt(store, carried[0] as Job, pace));
      else if (carried.length > 1) this.track(carried, this.attemptDigest(store, carried, send.urgent, pace));
    }
    if (failed) throw failed;
  }

  /** Counts the jobs as in flight until their results are recorded. */
  private track(jobs: readonly Job[], work: Promise<void>): void {
    const channel = (jobs[0] as Job).channel;
    this.busy.set(channel, (this.busy.get(channel) ?? 0) + 1);
    const p = work.finally(() => {
      this.busy.set(channel, (this.busy.get(channel) ?? 1) - 1);
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
   * this turn of the event loop). A job stays in flight until its result is written, so it is
   * not picked up twice.
   */
  private record(store: AlertStore, outcome: AttemptOutcome): Promise<void> {
    return new Promise<void>((resolve) => {
      this.outcomes.push({ outcome, resolve });
      if (this.outcomes.length === 1) setImmediate(() => void this.flushOutcomes(store));
    });
  }

  private async flushOutcomes(store: AlertStore): Promise<void> {
    const all = this.outcomes;
    this.outcomes = [];
    for (const [i, batch] of slices(all).entries()) {
      if (i) await nextTurn();
      try {
        await store.complete(
          batch.map((b) => b.outcome),
          this.now(),
        );
        for (const b of batch) b.resolve();
      } catch (err) {
        this.holdUnrecorded(batch, err);
      }
    }
  }

  /**
   * Keeps results the outbox refused and tries again with backoff. Until they are recorded the
   * notifications stay in flight here (not due again, so not sent again) and nothing new is
   * claimed. Stopping gives up on them: they are sent once more after the restart.
   */
  private holdUnrecorded(batch: readonly Outcome[], err: unknown): void {
    const first = !this.unrecorded.length;
    this.unrecorded.push(...batch);
    this.recordError = errorText(err);
    if (first)
      this.deps.logger.error(
        { err: this.recordError, results: this.unrecorded.length },
        'could not record delivery results; holding them and starting no new delivery until they are recorded',
      );
    if (this.stopped) {
      void this.recordHeld(true);
      return;
    }
    if (this.recordTimer) return;
    this.recordRetryMs = Math.min(
      RECORD_RETRY_MAX_MS,
      Math.max(RECORD_RETRY_FIRST_MS, this.recordRetryMs * 2),
    );
    this.recordTimer = setTimeout(() => {
      this.recordTimer = undefined;
      void this.recordHeld(false);
    }, this.recordRetryMs);
  }

  /** Tries to record the held results; `last`: at shutdown, whatever the outcome. */
  private async recordHeld(last: boolean): Promise<void> {
    const held = this.unrecorded;
    if (!held.length) return;
    this.unrecorded = [];
    const store = this.deps.store() ?? this.source;
    try {
      if (!store) throw new Error('the outbox is not open');
      await store.complete(
        held.map((h) => h.outcome),
        this.now(),
      );
      this.recordRetryMs = 0;
      this.recordError = undefined;
      this.deps.logger.info({ results: held.length }, 'delivery results recorded again');
      for (const h of held) h.resolve();
      this.wake();
    } catch (err) {
      if (last) {
        this.deps.logger.error(
          { err: errorText(err), results: held.length },
          'delivery results not recorded at shutdown; those notifications are sent again after the restart',
        );
        for (const h of held) h.resolve();
        return;
      }
      this.holdUnrecorded(held, err);
    }
  }

  /** Stops taking new work and waits (bounded) for deliveries in flight. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
    await this.recordHeld(true);
    if (this.inflight.size === 0) return;
    await settleWithin(Promise.allSettled([...this.inflight.values()]), graceMs);
  }
}
