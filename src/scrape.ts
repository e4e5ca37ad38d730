import type { Collector } from './collectors/collector.js';
import { errorText, type Logger } from './logger.js';
import { gauge, type MetricFamily } from './metrics/exposition.js';

export interface ScrapeResult {
  families: MetricFamily[];
  failed: string[];
}

class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`scrape deadline of ${ms} ms exceeded`);
  }
}

/**
 * Runs collectors concurrently and in isolation: each one races the shared deadline, a
 * throw or a miss marks only that collector failed. The answer is ready by the deadline
 * whatever the collectors do.
 */
export async function runCollectors(
  collectors: readonly Collector[],
  timeoutMs: number,
  logger: Logger,
): Promise<ScrapeResult> {
  const controller = new AbortController();
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new DeadlineExceeded(timeoutMs));
      reject(new DeadlineExceeded(timeoutMs));
    }, timeoutMs);
  });
  expired.catch(() => undefined);

  const success = gauge(
    'stackwatch_scrape_collector_success',
    'Whether a collector succeeded (1) or failed or missed the scrape deadline (0).',
  );
  const duration = gauge('stackwatch_scrape_collector_duration_seconds', 'Duration of a collector scrape.');
  const families: MetricFamily[] = [success, duration];
  const failed: string[] = [];

  const settled = await Promise.allSettled(
    collectors.map(async (c) => {
      const started = performance.now();
      try {
        const log = logger.child({ collector: c.name });
        const out = await Promise.race([
          c.collect({ signal: controller.signal, deadline, logger: log }),
          expired,
        ]);
        return { c, ok: true as const, out, seconds: (performance.now() - started) / 1000 };
      } catch (err) {
        return { c, ok: false as const, err, seconds: (performance.now() - started) / 1000 };
      }
    }),
  );
  clearTimeout(timer);

  for (const s of settled) {
    // The inner function catches everything, so every entry is fulfilled.
    if (s.status !== 'fulfilled') continue;
    const r = s.value;
    success.add({ collector: r.c.name }, r.ok ? 1 : 0);
    duration.add({ collector: r.c.name }, r.seconds);
    if (r.ok) {
      families.push(...r.out);
    } else {
      failed.push(r.c.name);
      logger.warn(
        { collector: r.c.name, err: errorText(r.err), duration_seconds: r.seconds },
        'collector failed',
      );
      if (r.c.failureFamilies) families.push(...r.c.failureFamilies());
    }
  }
  return { families, failed };
}

/** Longer than any scrape Prometheus makes (its timeout cannot exceed the scrape interval). */
export const MAX_SCRAPE_TIMEOUT_MS = 10 * 60_000;

/**
 * Scrape timeout: Prometheus's header minus the offset, else the configured default.
 * Never below 100 ms, so a tiny header still leaves time to answer; never above
 * MAX_SCRAPE_TIMEOUT_MS, so a huge one cannot overflow the timer (which would fire at once).
 */
export function scrapeTimeoutMs(header: string | undefined, offsetMs: number, defaultMs: number): number {
  const seconds = header === undefined ? NaN : Number.parseFloat(header);
  if (!Number.isFinite(seconds) || seconds <= 0) return defaultMs;
  return Math.min(MAX_SCRAPE_TIMEOUT_MS, Math.max(100, seconds * 1000 - offsetMs));
}
