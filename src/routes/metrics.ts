import { Router } from 'express';
import type { Collector } from '../collectors/collector.js';
import { COLLECTOR_KINDS } from '../collectors/index.js';
import { errorText, type Logger } from '../logger.js';
import { renderFamilies, type MetricFamily } from '../metrics/exposition.js';
import { runCollectors, scrapeTimeoutMs, type ScrapeResult } from '../scrape.js';
import type { SelfMetrics } from '../selfmetrics.js';

export interface MetricsDeps {
  collectors: () => readonly Collector[];
  self: SelfMetrics;
  logger: Logger;
  timeouts: () => { offsetMs: number; defaultMs: number };
  /** Told about each full scrape (the console's overview shows the last one). */
  onScrape?: (result: ScrapeResult) => void;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * What each endpoint answers. In /metrics several targets share one scrape, told apart by
 * `target`; a /probe answer is one target, and Prometheus's relabelling names it, as with the
 * anchors' /probe.
 */
const ANSWERS = {
  metrics: { selfMetrics: true, targetLabel: true },
  probe: { selfMetrics: false, targetLabel: false },
} as const;

/** `/metrics` (every collector plus self metrics) and `/probe?target=<configured name>`. */
export function metricsRouter(deps: MetricsDeps): Router {
  const router = Router();

  const scrape = async (opts: {
    collectors: readonly Collector[];
    /** Prometheus's X-Prometheus-Scrape-Timeout-Seconds. */
    timeoutHeader: string | undefined;
    answer: keyof typeof ANSWERS;
  }) => {
    const { offsetMs, defaultMs } = deps.timeouts();
    const timeout = scrapeTimeoutMs(opts.timeoutHeader, offsetMs, defaultMs);
    const result = await runCollectors(opts.collectors, timeout, deps.logger);
    const answer = ANSWERS[opts.answer];
    if (answer.selfMetrics) deps.onScrape?.(result);
    const families = answer.targetLabel ? result.families : result.families.map(withoutTargetLabel);
    const { text, conflicts } = renderFamilies(families);
    if (conflicts.length)
      deps.logger.error({ families: conflicts }, 'metric families with conflicting types dropped');
    return answer.selfMetrics ? text + (await deps.self.registry.metrics()) : text;
  };

  router.get('/metrics', async (req, res) => {
    const requested = collectParameter(req.query);
    let collectors = deps.collectors();
    if (requested) {
      const chosen = selectCollectors(collectors, requested);
      if ('unknown' in chosen) {
        res.status(400).json({
          error: `unknown collector ${JSON.stringify(chosen.unknown.slice(0, 100))} in collect[]: give a kind (${COLLECTOR_KINDS.join(', ')}) or a configured collector's name`,
        });
        return;
      }
      collectors = chosen.selected;
    }
    try {
      const body = await scrape({
        collectors,
        timeoutHeader: req.header('X-Prometheus-Scrape-Timeout-Seconds'),
        answer: 'metrics',
      });
      res.type(CONTENT_TYPE).send(body);
    } catch (err) {
      deps.logger.error({ err: errorText(err) }, 'scrape failed');
      res.status(500).type('text/plain').send('scrape failed; see the stackwatch log\n');
    }
  });

  router.get('/probe', async (req, res) => {
    const target = req.query.target;
    if (typeof target !== 'string' || target === '') {
      res.status(400).json({ error: 'missing target parameter: give the name of a configured target' });
      return;
    }
    const selected = deps.collectors().filter((c) => c.target === target);
    if (selected.length === 0) {
      // Only configured names are accepted, never a URL or host: no request forgery through /probe.
      res.status(400).json({
        error: `unknown target ${JSON.stringify(target.slice(0, 100))}: not a configured target name`,
      });
      return;
    }
    try {
      res.type(CONTENT_TYPE).send(
        await scrape({
          collectors: selected,
          timeoutHeader: req.header('X-Prometheus-Scrape-Timeout-Seconds'),
          answer: 'probe',
        }),
      );
    } catch (err) {
      deps.logger.error({ err: errorText(err), target }, 'probe failed');
      res.status(500).type('text/plain').send('probe failed; see the stackwatch log\n');
    }
  });

  return router;
}

/** At most this many collect[] values are read, each at most this long: a request cannot cost more. */
const MAX_COLLECT_VALUES = 64;
const MAX_COLLECT_LENGTH = 200;

/** node_exporter's `collect[]` URL parameter (repeated), or undefined when absent. */
export function collectParameter(query: Record<string, unknown>): string[] | undefined {
  const raw = query.collect ?? query['collect[]'];
  if (raw === undefined) return undefined;
  const values = (Array.isArray(raw) ? raw : [raw]).slice(0, MAX_COLLECT_VALUES);
  return values.filter((v): v is string => typeof v === 'string').map((v) => v.slice(0, MAX_COLLECT_LENGTH));
}

/** `postgres` for `postgres/main`: the kind of collector, which collect[] may name instead of one collector. */
export function collectorGroup(c: Collector): string {
  const slash = c.name.indexOf('/');
  return slash < 0 ? c.name : c.name.slice(0, slash);
}

/**
 * The collectors a collect[] list names, by kind (`postgres`) or by name (`postgres/main`).
 * A kind with nothing configured selects nothing (one shipped scrape configuration fits every
 * installation); any other value is an error, as with node_exporter, so that a typo in a
 * scrape configuration shows as a failing target rather than as an empty job.
 */
export function selectCollectors(
  collectors: readonly Collector[],
  requested: readonly string[],
): { selected: Collector[] } | { unknown: string } {
  const wanted = new Set(requested);
  for (const name of wanted)
    if (!(COLLECTOR_KINDS as readonly string[]).includes(name) && !collectors.some((c) => c.name === name))
      return { unknown: name };
  return { selected: collectors.filter((c) => wanted.has(c.name) || wanted.has(collectorGroup(c))) };
}

function withoutTargetLabel(f: MetricFamily): MetricFamily {
  return {
    ...f,
    samples: f.samples.map((s) => {
      if (!('target' in s.labels)) return s;
      const { target: _target, ...labels } = s.labels;
      return { ...s, labels };
    }),
  };
}
