import { Router } from 'express';
import type { Collector } from '../collectors/collector.js';
import { errorText, type Logger } from '../logger.js';
import { renderFamilies, type MetricFamily } from '../metrics/exposition.js';
import { runCollectors, scrapeTimeoutMs } from '../scrape.js';
import type { SelfMetrics } from '../selfmetrics.js';

export interface MetricsDeps {
  collectors: () => readonly Collector[];
  self: SelfMetrics;
  logger: Logger;
  timeouts: () => { offsetMs: number; defaultMs: number };
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `/metrics` (every collector plus self metrics) and `/probe?target=<configured name>`. */
export function metricsRouter(deps: MetricsDeps): Router {
  const router = Router();

  const scrape = async (collectors: readonly Collector[], header: string | undefined, withSelf: boolean) => {
    const { offsetMs, defaultMs } = deps.timeouts();
    const timeout = scrapeTimeoutMs(header, offsetMs, defaultMs);
    const result = await runCollectors(collectors, timeout, deps.logger);
    // In /metrics several targets share one scrape, told apart by `target`; a /probe answer
    // is one target, and Prometheus's relabelling names it, as with the anchors' /probe.
    const families = withSelf ? result.families : result.families.map(withoutTargetLabel);
    const { text, conflicts } = renderFamilies(families);
    if (conflicts.length)
      deps.logger.error({ families: conflicts }, 'metric families with conflicting types dropped');
    return withSelf ? text + (await deps.self.registry.metrics()) : text;
  };

  router.get('/metrics', async (req, res) => {
    try {
      const body = await scrape(deps.collectors(), req.header('X-Prometheus-Scrape-Timeout-Seconds'), true);
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
      res
        .type(CONTENT_TYPE)
        .send(await scrape(selected, req.header('X-Prometheus-Scrape-Timeout-Seconds'), false));
    } catch (err) {
      deps.logger.error({ err: errorText(err), target }, 'probe failed');
      res.status(500).type('text/plain').send('probe failed; see the stackwatch log\n');
    }
  });

  return router;
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
