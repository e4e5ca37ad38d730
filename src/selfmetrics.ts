import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { VERSION } from './version.js';

/**
 * stackwatch's own long-lived metrics (build info, reloads, process, receiver counters).
 * Collector series are not kept here: they are built fresh per scrape in runCollectors.
 */
export class SelfMetrics {
  readonly registry = new Registry();
  readonly reloadSuccessful: Gauge;
  readonly reloadTimestamp: Gauge;
  /** The last reload attempt's result, and when the configuration last loaded. */
  lastReload = { ok: true, at: Date.now() };

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // These gauges end in _total, which `promtool check metrics` rejects; their per-type
    // siblings (nodejs_active_handles{type}, …) carry the same information.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(name);
    }
    const buildInfo = new Gauge({
      name: 'stackwatch_build_info',
      help: 'A metric with a constant 1 value labeled by version and Node.js version from which stackwatch was built.',
      labelNames: ['version', 'nodeversion'],
      registers: [this.registry],
    });
    buildInfo.set({ version: VERSION, nodeversion: process.version }, 1);
    this.reloadSuccessful = new Gauge({
      name: 'stackwatch_config_last_reload_successful',
      help: 'Whether the last configuration reload attempt was successful.',
      registers: [this.registry],
    });
    this.reloadTimestamp = new Gauge({
      name: 'stackwatch_config_last_reload_success_timestamp_seconds',
      help: 'Timestamp of the last successful configuration reload.',
      registers: [this.registry],
    });
    this.recordReload(true);
  }

  recordReload(ok: boolean): void {
    this.reloadSuccessful.set(ok ? 1 : 0);
    this.lastReload = { ok, at: ok ? Date.now() : this.lastReload.at };
    if (ok) this.reloadTimestamp.set(this.lastReload.at / 1000);
  }
}
