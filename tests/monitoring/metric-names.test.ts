import { describe, it, expect } from 'vitest';
import {
  allRuleAndDashboardExprs,
  metricNamesInExpr,
  promqlErrors,
  recordingRuleNames,
} from '../support/promql.js';
import {
  allApplicationSeriesNames,
  allExporterSeriesNames,
  exporterMetricNames,
  prometheusSyntheticNames,
} from '../support/exporter-metric-names.js';

describe('metricNamesInExpr', () => {
  it('returns selector identifiers and __name__ matchers, not functions or labels', () => {
    expect(
      metricNamesInExpr(
        'sum by (job) (rate(a_total{code=~"5.."}[5m])) / on (job) group_left {__name__="b", x="y"} or histogram_quantile(0.9, rate(c_bucket[5m] offset 1m)) unless {__name__=~"d|e"}',
      ),
    ).toEqual(['a_total', 'b', 'c_bucket', 'd', 'e']);
    expect(metricNamesInExpr('job:http_request_error_ratio:rate5m > 0.01')).toEqual([
      'job:http_request_error_ratio:rate5m',
    ]);
    expect(metricNamesInExpr('vector(0) + time()')).toEqual([]);
  });

  it('promqlErrors finds syntax errors', () => {
    expect(promqlErrors('sum(rate(x[5m])')).not.toEqual([]);
    expect(promqlErrors('rate(x[$__rate_interval])')).not.toEqual([]);
    expect(promqlErrors('rate(x[5m])')).toEqual([]);
  });
});

describe('names used by rules and dashboards', () => {
  const exprs = allRuleAndDashboardExprs();
  const known = new Set<string>([
    ...allExporterSeriesNames(),
    ...allApplicationSeriesNames(),
    ...recordingRuleNames(),
    ...prometheusSyntheticNames,
  ]);

  it('collects rule and dashboard expressions', () => {
    expect(exprs.some((e) => e.source.startsWith('rules/'))).toBe(true);
    expect(exprs.some((e) => e.source.startsWith('dashboards/'))).toBe(true);
  });

  it('every expression parses', () => {
    for (const { source, expr } of exprs) expect(promqlErrors(expr), `${source}: ${expr}`).toEqual([]);
  });

  it('every metric name is exported by stackwatch, by the application (SPEC §1.3), or recorded by a rule', () => {
    const unknown = exprs.flatMap(({ source, expr }) =>
      metricNamesInExpr(expr)
        .filter((n) => !known.has(n))
        .map((n) => `${source}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('the exporter name list has no duplicates', () => {
    const all = Object.values(exporterMetricNames).flat();
    expect(new Set(all).size).toBe(all.length);
  });

  it('each area of the exporter is used by at least one rule or dashboard', () => {
    const used = new Set(exprs.flatMap((e) => metricNamesInExpr(e.expr)));
    for (const [area, names] of Object.entries(exporterMetricNames))
      expect(
        names.some((n) => used.has(n) || used.has(`${n}_bucket`)),
        area,
      ).toBe(true);
  });
});
