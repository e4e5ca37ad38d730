import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CHANNELS } from '../config/receiver.js';

export const FAILURE_REASONS = ['retryable', 'permanent', 'dead_letter'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];
export const WEBHOOK_CODES = ['200', '400', '401', '413', '415', '503'] as const;

/** Receiver metrics, named like Alertmanager's own; every series starts at 0. */
export class ReceiverMetrics {
  readonly notifications: Counter<'integration'>;
  readonly failed: Counter<'integration' | 'reason'>;
  readonly latency: Histogram<'integration'>;
  readonly webhook: Counter<'code'>;
  readonly outboxDepth: Gauge;
  readonly deadLetters: Gauge;
  readonly escalationChecks: Counter;

  constructor(registry: Registry, counts: () => Promise<{ pending: number; dead: number } | undefined>) {
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
    for (const integration of CHANNELS) {
      this.notifications.inc({ integration }, 0);
      this.latency.zero({ integration });
      for (const reason of FAILURE_REASONS) this.failed.inc({ integration, reason }, 0);
    }
    for (const code of WEBHOOK_CODES) this.webhook.inc({ code }, 0);
  }

  static remove(registry: Registry): void {
    for (const n of [
      'stackwatch_notifications_total',
      'stackwatch_notifications_failed_total',
      'stackwatch_notification_latency_seconds',
      'stackwatch_webhook_requests_total',
      'stackwatch_outbox_depth',
      'stackwatch_dead_letters',
    ])
      registry.removeSingleMetric(n);
  }
}
