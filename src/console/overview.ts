import type { ScrapeResult } from '../scrape.js';

/** What the console's overview shows of the last scrape. */
export interface ScrapeSummary {
  at: number;
  collectors: { name: string; success: boolean; seconds: number }[];
  /** `pg_up`, `redis_up`, `docker_up`, `probe_success`… one row per series. */
  targets: { metric: string; labels: Record<string, string>; up: boolean }[];
}

/** `<target>_up` of one word (not `redis_master_link_up`), and the prober's success. */
const UP_METRIC = /^[a-z]+_up$|^probe_success$/;
/** More series than this are not listed (the metrics endpoint has them all). */
const MAX_TARGETS = 200;

/** Reads the overview out of a scrape's families (no second scrape for the console). */
export function summariseScrape(result: ScrapeResult, at: number): ScrapeSummary {
  const seconds = new Map<string, number>();
  const success = new Map<string, boolean>();
  const targets: ScrapeSummary['targets'] = [];
  for (const f of result.families) {
    if (f.name === 'stackwatch_scrape_collector_success')
      for (const s of f.samples) success.set(s.labels.collector ?? '', s.value === 1);
    else if (f.name === 'stackwatch_scrape_collector_duration_seconds')
      for (const s of f.samples) seconds.set(s.labels.collector ?? '', s.value);
    else if (UP_METRIC.test(f.name))
      for (const s of f.samples)
        if (targets.length < MAX_TARGETS)
          targets.push({ metric: f.name, labels: s.labels, up: s.value === 1 });
  }
  return {
    at,
    collectors: [...success].map(([name, ok]) => ({ name, success: ok, seconds: seconds.get(name) ?? 0 })),
    targets,
  };
}
