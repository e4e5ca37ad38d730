import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CHANNELS } from '../config/receiver.js';
import type { BacklogStat } from './outbox/contract.js';
import { FAILURE_CAUSES } from './model/notification.js';

export const FAILURE_REASONS = ['retryable', 'permanent', 'dead_letter'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];
export const WEBHOOK_CODES = ['200', '400', '401', '413', '415', '503'] as const;

/** Where the receiver's gauges read their values at scrape time. */
export interface ReceiverMetricsSource {
  /** Pending and dead notifications (undefined while the outbox is closed). */
  counts: () => Promise<{ pending: number; dead: number } | undefined>;
  backlog: {
    stats: () => Promise<BacklogStat[] | undefined>;
    lanes: () => readonly string[];
    now: () => number;
  };
  /** Replicas sharing the outbox as this one counts them (undefined while it is closed). */
  replicas: () => number | undefined;
}

/** Receiver metrics, named like Alertmanager's own; every series starts at 0. */
export class ReceiverMetrics {
  readonly notifications: Counter<'integration'>;
  readonly failed: Counter<'integration' | 'reason'>;
  readonly latency: Histogram<'integration'>;
  readonly webhook: Counter<'code'>;
  readonly outboxDepth: Gauge;
  readonly deadLetters: Gauge;
  readonly errors: Counter<'integration' | 'reason'>;
  readonly digests: Counter<'integration'>;
  readonly digested: Counter<'integration'>;
  readonly rateLimitWaits: Counter<'integration'>;
  readonly rateLimitWaitSeconds: Counter<'integration'>;
  readonly backlog: Gauge<'channel' | 'lane'>;
  readonly oldestAge: Gauge<'channel' | 'lane'>;
  readonly escalationChecks: Counter;
  readonly escalationSteps: Counter<'policy' | 'step'>;
  readonly replicas: Gauge;

  constructor(registry: Registry, source: ReceiverMetricsSource) {
    const { counts, backlog, replicas } = source;
    this.notifications = new Counter({
      name: 'stackwatch_notifications_total',
      help: 'The total number of attempted notifications.',
      labelNames: ['integration'],
      registers: [registry],
    });
    this.failed = new Counter({
      name: 'stackwatch_notifications_failed_total',
      help: 'The total number of failed notification attempts, by reason (retryable, permanent, dead_letter).',
      labelNames: ['integration', 'reason'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'stackwatch_notification_latency_seconds',
      help: 'The latency of notification attempts in seconds.',
      labelNames: ['integration'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.webhook = new Counter({
      name: 'stackwatch_webhook_requests_total',
      help: 'Alertmanager webhook requests by HTTP status code.',
      labelNames: ['code'],
      registers: [registry],
    });
    let last = { pending: 0, dead: 0 };
    const refresh = async () => {
      try {
        const c = await counts();
        if (c) last = c;
      } catch {
        // keep the last known values while the store is unavailable
      }
      return last;
    };
    // Shows that the escalation timer is alive (a stalled one would leave criticals un-escalated).
    this.escalationChecks = new Counter({
      name: 'stackwatch_escalation_checks_total',
      help: 'Escalation checks completed (each looks for critical groups firing longer than escalation.after).',
      registers: [registry],
    });
    this.escalationSteps = new Counter({
      name: 'stackwatch_escalation_steps_total',
      help: 'Notifications recorded by escalation policy steps, by policy and step (1-based); policy "escalation" is the escalation section.',
      labelNames: ['policy', 'step'],
      registers: [registry],
    });
    this.outboxDepth = new Gauge({
      name: 'stackwatch_outbox_depth',
      help: 'Notifications recorded and waiting to be delivered (including retries).',
      registers: [registry],
      async collect() {
        this.set((await refresh()).pending);
      },
    });
    this.deadLetters = new Gauge({
      name: 'stackwatch_dead_letters',
      help: 'Notifications given up (permanent failure or retry budget exhausted), waiting for a re-drive.',
      registers: [registry],
      async collect() {
        this.set((await refresh()).dead);
      },
    });
    let lastReplicas = 1;
    this.replicas = new Gauge({
      name: 'stackwatch_receiver_replicas',
      help: 'Receiver replicas sharing the outbox, this one included, as this replica counts them; each paces a destination with its share of the budget.',
      registers: [registry],
      collect() {
        lastReplicas = replicas() ?? lastReplicas;
        this.set(lastReplicas);
      },
    });
    this.errors = new Counter({
      name: 'stackwatch_notification_errors_total',
      help: "Failed notification attempts by cause, named like Alertmanager's failure reasons (rateLimited, authError, clientError, serverError, other).",
      labelNames: ['integration', 'reason'],
      registers: [registry],
    });
    this.digests = new Counter({
      name: 'stackwatch_digests_total',
      help: 'Digest messages delivered, each carrying many notifications.',
      labelNames: ['integration'],
      registers: [registry],
    });
    this.digested = new Counter({
      name: 'stackwatch_digest_notifications_total',
      help: 'Notifications delivered inside a digest.',
      labelNames: ['integration'],
      registers: [registry],
    });
    this.rateLimitWaits = new Counter({
      name: 'stackwatch_rate_limit_waits_total',
      help: 'Pauses of a destination that answered with a rate limit (Retry-After).',
      labelNames: ['integration'],
      registers: [registry],
    });
    this.rateLimitWaitSeconds = new Counter({
      name: 'stackwatch_rate_limit_wait_seconds_total',
      help: 'Seconds of pause asked for by destinations that answered with a rate limit.',
      labelNames: ['integration'],
      registers: [registry],
    });
    let stats: BacklogStat[] = [];
    const refreshBacklog = async () => {
      try {
        const s = await backlog.stats();
        if (s) stats = s;
      } catch {
        // keep the last known values while the store is unavailable
      }
      return stats;
    };
    // Every channel and configured lane is exported, 0 when empty; a lane a reload removed
    // is shown while notifications still wait in it.
    const byLane = async (pick: (s: BacklogStat) => number, combine: (a: number, b: number) => number) => {
      const out = new Map<string, { channel: string; lane: string; value: number }>();
      for (const channel of CHANNELS)
        for (const lane of backlog.lanes()) out.set(`${channel}\0${lane}`, { channel, lane, value: 0 });
      for (const s of await refreshBacklog()) {
        const lane = s.lane || 'other';
        const k = `${s.channel}\0${lane}`;
        const prev = out.get(k)?.value ?? 0;
        out.set(k, { channel: s.channel, lane, value: combine(prev, pick(s)) });
      }
      return [...out.values()];
    };
    this.backlog = new Gauge({
      name: 'stackwatch_outbox_backlog',
      help: 'Pending notifications by channel and severity lane (retries included).',
      labelNames: ['channel', 'lane'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await byLane(
          (s) => s.pending,
          (a, b) => a + b,
        ))
          this.set({ channel: r.channel, lane: r.lane }, r.value);
      },
    });
    this.oldestAge = new Gauge({
      name: 'stackwatch_outbox_oldest_age_seconds',
      help: 'Age of the oldest pending notification by channel and severity lane; 0 when none waits.',
      labelNames: ['channel', 'lane'],
      registers: [registry],
      async collect() {
        this.reset();
        const now = backlog.now();
        for (const r of await byLane((s) => Math.max(0, (now - s.oldestCreatedAt) / 1000), Math.max))
          this.set({ channel: r.channel, lane: r.lane }, r.value);
      },
    });
    for (const integration of CHANNELS) {
      for (const reason of FAILURE_CAUSES) this.errors.inc({ integration, reason }, 0);
      this.digests.inc({ integration }, 0);
      this.digested.inc({ integration }, 0);
      this.rateLimitWaits.inc({ integration }, 0);
      this.rateLimitWaitSeconds.inc({ integration }, 0);
      this.notifications.inc({ integration }, 0);
      this.latency.zero({ integration });
      for (const reason of FAILURE_REASONS) this.failed.inc({ integration, reason }, 0);
    }
    for (const code of WEBHOOK_CODES) this.webhook.inc({ code }, 0);
  }

  /** Every step of every policy from 0, so a step that never fired is a series too. */
  initEscalationSteps(policies: readonly { name: string; steps: readonly unknown[] }[]): void {
    for (const p of policies)
      p.steps.forEach((_s, i) => this.escalationSteps.inc({ policy: p.name, step: String(i + 1) }, 0));
  }

  static remove(registry: Registry): void {
    for (const n of [
      'stackwatch_notifications_total',
      'stackwatch_notifications_failed_total',
      'stackwatch_notification_latency_seconds',
      'stackwatch_webhook_requests_total',
      'stackwatch_outbox_depth',
      'stackwatch_dead_letters',
      'stackwatch_notification_errors_total',
      'stackwatch_digests_total',
      'stackwatch_digest_notifications_total',
      'stackwatch_rate_limit_waits_total',
      'stackwatch_rate_limit_wait_seconds_total',
      'stackwatch_outbox_backlog',
      'stackwatch_outbox_oldest_age_seconds',
      'stackwatch_receiver_replicas',
      'stackwatch_escalation_steps_total',
    ])
      registry.removeSingleMetric(n);
  }
}
