import { Counter, Gauge, type Registry } from 'prom-client';
import type { HeartbeatView } from './check.js';

const NAMES = [
  'stackwatch_heartbeat_last_seen_timestamp_seconds',
  'stackwatch_heartbeat_up',
  'stackwatch_heartbeat_checks_total',
] as const;

/**
 * The heartbeats' state at scrape time, read from the outbox (so every replica shows the
 * same): each job's heartbeat, and the Watchdog's (`name="watchdog"`) once it has arrived.
 */
export class HeartbeatMetrics {
  /** Shows that the check timer is alive: a stalled one would leave late heartbeats unpaged. */
  readonly checks: Counter;

  constructor(registry: Registry, list: () => Promise<HeartbeatView[]>) {
    let last: HeartbeatView[] = [];
    let reading: Promise<HeartbeatView[]> | undefined;
    // Both gauges of one scrape share one read; while the outbox is unavailable the last one stands.
    const read = () =>
      (reading ??= list()
        .then((views) => (last = views.filter((v) => v.kind === 'job' || v.state.status !== 'new')))
        .catch(() => last)
        .finally(() => setImmediate(() => (reading = undefined))));
    new Gauge({
      name: 'stackwatch_heartbeat_last_seen_timestamp_seconds',
      help: 'When the heartbeat last signalled (a ping, a start or a failure; the Watchdog: arrived), in seconds since the epoch; 0 when never.',
      labelNames: ['name'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const v of await read()) this.set({ name: v.name }, (v.state.lastSeenAt ?? 0) / 1000);
      },
    });
    new Gauge({
      name: 'stackwatch_heartbeat_up',
      help: 'Whether the heartbeat is up: 1 when it signalled in time, 0 when it is late, failed, unfinished or never signalled.',
      labelNames: ['name'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const v of await read()) this.set({ name: v.name }, v.state.status === 'up' ? 1 : 0);
      },
    });
    this.checks = new Counter({
      name: 'stackwatch_heartbeat_checks_total',
      help: "Checks of the heartbeats' deadlines completed (each pages the heartbeats that became late).",
      registers: [registry],
    });
  }

  static remove(registry: Registry): void {
    for (const n of NAMES) registry.removeSingleMetric(n);
  }
}
