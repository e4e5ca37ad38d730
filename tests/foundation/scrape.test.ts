import { describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collectors/collector.js';
import { createLogger } from '../../src/logger.js';
import { gauge, renderFamilies } from '../../src/metrics/exposition.js';
import { runCollectors, scrapeTimeoutMs } from '../../src/scrape.js';

describe('scrape timeout', () => {
  it('takes the Prometheus header minus the offset', () => {
    expect(scrapeTimeoutMs('10', 500, 30_000)).toBe(9500);
    expect(scrapeTimeoutMs('2.5', 500, 30_000)).toBe(2000);
  });
  it('falls back to the configured default for a missing or bad header', () => {
    expect(scrapeTimeoutMs(undefined, 500, 7000)).toBe(7000);
    expect(scrapeTimeoutMs('abc', 500, 7000)).toBe(7000);
    expect(scrapeTimeoutMs('-3', 500, 7000)).toBe(7000);
  });
  it('never goes below 100 ms', () => {
    expect(scrapeTimeoutMs('0.2', 500, 7000)).toBe(100);
  });
  it('never goes above ten minutes, however large the header', () => {
    expect(scrapeTimeoutMs('1e12', 500, 7000)).toBe(600_000);
    expect(scrapeTimeoutMs('1e400', 500, 7000)).toBe(7000);
  });
});
const logger = createLogger('error');

describe('collector runner', () => {
  const ok: Collector = { name: 'ok', collect: async () => [gauge('ok_value', 'Ok.').add({}, 42)] };
  const throws: Collector = {
    name: 'broken',
    collect: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    },
    failureFamilies: () => [gauge('broken_up', 'Up.').add({}, 0)],
  };
  const hangs: Collector = { name: 'hung', collect: () => new Promise(() => undefined) };

  it('isolates a throwing and a hanging collector from the others', async () => {
    const r = await runCollectors([ok, throws, hangs], 300, logger);
    const { text } = renderFamilies(r.families);
    expect(text).toContain('stackwatch_scrape_collector_success{collector="ok"} 1');
    expect(text).toContain('stackwatch_scrape_collector_success{collector="broken"} 0');
    expect(text).toContain('stackwatch_scrape_collector_success{collector="hung"} 0');
    expect(text).toContain('ok_value 42');
    expect(text).toContain('broken_up 0');
    expect(r.failed.sort()).toEqual(['broken', 'hung']);
    // The error text goes to the log, never into a label.
    expect(text).not.toContain('ECONNREFUSED');
  });

  it('aborts the signal it gave a collector when the deadline passes', async () => {
    let aborted = false;
    const watcher: Collector = {
      name: 'watcher',
      collect: (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    };
    await runCollectors([watcher], 100, logger);
    expect(aborted).toBe(true);
  });
});
