import type { Logger } from '../logger.js';
import type { MetricFamily } from '../metrics/exposition.js';

export interface ScrapeContext {
  /** Aborted when the scrape deadline passes; pass it to every I/O call that takes one. */
  signal: AbortSignal;
  /** Epoch milliseconds by which the collector's result must be ready. */
  deadline: number;
  logger: Logger;
}

/**
 * One source of metrics. `collect` builds fresh families every call and may throw: the
 * scrape runner, not the collector, turns a failure into `success 0` and a log line.
 */
export interface Collector {
  /** Value of the `collector` label in stackwatch_scrape_collector_* (e.g. `postgres/main`). */
  readonly name: string;
  /** Named target this collector serves through `/probe?target=<target>`, if any. */
  readonly target?: string;
  collect(ctx: ScrapeContext): Promise<MetricFamily[]>;
  /**
   * Families to emit when `collect` failed or missed the deadline, e.g. `pg_up 0`, so a
   * hung target still reads as down rather than as absent.
   */
  failureFamilies?(): MetricFamily[];
  /** Starts background samplers, if the collector has any. */
  start?(): void;
  close?(): Promise<void>;
}

/** Milliseconds left until the deadline, never negative. */
export function remainingMs(ctx: ScrapeContext): number {
  return Math.max(0, ctx.deadline - Date.now());
}
