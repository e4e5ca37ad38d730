import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  allPanels,
  dashboardFileNames,
  dashboardsDir,
  loadDashboards,
  promqlErrors,
  repoRoot,
  substituteGrafanaVariables,
  templateVariableExpr,
} from '../support/promql.js';

const EXPECTED = {
  'overview.json': 'stackwatch-overview',
  'performance.json': 'stackwatch-performance',
  'infrastructure.json': 'stackwatch-infrastructure',
  'agent-system.json': 'stackwatch-agent-system',
};
const PANEL_TYPES = ['timeseries', 'stat', 'gauge', 'table'];
const dashboards = loadDashboards();

describe('dashboard set', () => {
  it('has the four dashboards with stable, unique uids', () => {
    expect(dashboardFileNames()).toEqual(Object.keys(EXPECTED).sort());
    for (const { file, dashboard } of dashboards)
      expect(dashboard.uid).toBe(EXPECTED[file as keyof typeof EXPECTED]);
    expect(new Set(dashboards.map((d) => d.dashboard.uid)).size).toBe(dashboards.length);
    for (const { dashboard } of dashboards) expect(dashboard.uid.length).toBeLessThanOrEqual(40);
  });

  it('the JSON is what generate.mjs produces', () => {
    const out = mkdtempSync(join(tmpdir(), 'sw-dash-'));
    try {
      const r = spawnSync(process.execPath, [join(dashboardsDir, 'generate.mjs'), out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      for (const f of dashboardFileNames())
        expect(
          readFileSync(join(out, f), 'utf8'),
          `${f} is out of date: run node monitoring/dashboards/generate.mjs`,
        ).toBe(readFileSync(join(dashboardsDir, f), 'utf8'));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe.each(dashboards.map((d) => [d.file, d.dashboard] as const))('%s', (_, d) => {
  it('declares its datasource input and requirements (Grafana classic export)', () => {
    expect(d.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    const req = d.__requires ?? [];
    expect(req).toContainEqual(expect.objectContaining({ type: 'grafana', id: 'grafana' }));
    expect(req).toContainEqual(expect.objectContaining({ type: 'datasource', id: 'prometheus' }));
    const used = new Set(
      allPanels(d.panels)
        .filter((p) => p.type !== 'row')
        .map((p) => p.type),
    );
    for (const t of used)
      expect(req, `panel plugin ${t} required`).toContainEqual(
        expect.objectContaining({ type: 'panel', id: t }),
      );
    expect((d as unknown as { id: unknown }).id).toBeNull();
  });

  it('has a datasource variable and multi-select job and instance variables', () => {
    const vars = d.templating?.list ?? [];
    const ds = vars.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'instance']) {
      const v = vars.find((x) => x.name === name);
      expect(v, name).toMatchObject({ type: 'query', multi: true, includeAll: true });
      expect(v!.datasource).toMatchObject({ type: 'prometheus', uid: '${datasource}' });
      const e = templateVariableExpr(v!.query);
      expect(e, `${name} query`).toBeTruthy();
      expect(promqlErrors(substituteGrafanaVariables(e!))).toEqual([]);
    }
    expect(templateVariableExpr(vars.find((x) => x.name === 'instance')!.query)).toContain('$job');
  });

  it('every panel is a known type, uses the datasource variable, has a unit and thresholds', () => {
    const panels = allPanels(d.panels).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(5);
    const ids = allPanels(d.panels).map((p) => p.id);
    expect(new Set(ids).size, 'panel ids unique').toBe(ids.length);
    for (const p of panels) {
      expect(PANEL_TYPES, p.title).toContain(p.type);
      expect(p.title).toBeTruthy();
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.fieldConfig?.defaults?.unit, `${p.title} unit`).toMatch(/\S/);
      const steps = p.fieldConfig?.defaults?.thresholds?.steps ?? [];
      expect(steps.length, `${p.title} thresholds`).toBeGreaterThan(0);
      expect((steps[0] as { value: unknown }).value, `${p.title}: first step is the base`).toBeNull();
      const values = steps.slice(1).map((s) => (s as { value: number }).value);
      expect(
        [...values].sort((a, b) => a - b),
        `${p.title}: steps ascending`,
      ).toEqual(values);
      expect(p.targets?.length, `${p.title} targets`).toBeGreaterThan(0);
      expect(p.gridPos!.x + p.gridPos!.w, `${p.title} fits the grid`).toBeLessThanOrEqual(24);
    }
  });

  it('every query parses as PromQL, rates use $__rate_interval and queries honour $job/$instance', () => {
    for (const p of allPanels(d.panels)) {
      for (const t of p.targets ?? []) {
        const expr = t.expr ?? '';
        expect(expr, `${p.title}/${t.refId}`).toMatch(/\S/);
        expect(promqlErrors(substituteGrafanaVariables(expr)), `${p.title}: ${expr}`).toEqual([]);
        for (const m of expr.matchAll(/\b(?:rate|irate|increase)\([^\]]*\[([^\]]+)\]/g))
          expect(m[1], `${p.title}: ${expr}`).toBe('$__rate_interval');
        expect(expr, `${p.title}: filtered by $job`).toContain('$job');
      }
    }
  });
});

describe('the manuals’ numbers in the dashboards', () => {
  const find = (uid: string, title: string) => {
    const d = dashboards.find((x) => x.dashboard.uid === uid)!.dashboard;
    const p = allPanels(d.panels).find((x) => x.title === title);
    expect(p, `${uid}: ${title}`).toBeTruthy();
    return p!;
  };
  const stepValues = (uid: string, title: string) =>
    (find(uid, title).fieldConfig!.defaults!.thresholds!.steps as { value: number | null }[]).map(
      (s) => s.value,
    );

  it.each([
    ['stackwatch-overview', 'Response time P95 (5m)', [null, 2, 5]],
    ['stackwatch-overview', 'Error ratio (5m)', [null, 0.01, 0.05]],
    ['stackwatch-overview', 'Request volume', [null, 10]],
    ['stackwatch-performance', 'API latency P95 by handler', [null, 2, 5]],
    ['stackwatch-infrastructure', 'CPU usage', [null, 0.8]],
    ['stackwatch-infrastructure', 'Memory usage', [null, 0.85, 0.95]],
    ['stackwatch-infrastructure', 'Disk space used', [null, 0.8, 0.9]],
    ['stackwatch-infrastructure', 'Redis memory', [null, 0.9]],
    ['stackwatch-infrastructure', 'PostgreSQL connections', [null, 80]],
    ['stackwatch-agent-system', 'Active tasks', [null, 100]],
    ['stackwatch-agent-system', 'LLM error ratio', [null, 0.05]],
    ['stackwatch-agent-system', 'Task duration P99', [null, 60]],
  ] as const)('%s / %s thresholds %j', (uid, title, expected) => {
    expect(stepValues(uid, title)).toEqual(expected);
  });

  it('Backup age turns red when BackupTooOld fires for the shipped weekly schedule', () => {
    const DAY = 86400;
    expect(stepValues('stackwatch-infrastructure', 'Backup age')).toEqual([null, 7 * DAY, 8 * DAY]);
    for (const file of ['deploy/stackwatch.yml', 'examples/stackwatch.yml']) {
      const cfg = parseYaml(readFileSync(join(repoRoot, file), 'utf8')) as {
        collectors: { backups: { max_age: string }[] };
      };
      expect(
        cfg.collectors.backups.map((b) => b.max_age),
        file,
      ).toEqual(['8d']);
    }
  });

  it.each(['stat', 'timeseries'])('Task success rate (%s): yellow below 95 %%, red below 90 %%', (type) => {
    const d = dashboards.find((x) => x.dashboard.uid === 'stackwatch-agent-system')!.dashboard;
    const p = allPanels(d.panels).find((x) => x.title === 'Task success rate' && x.type === type)!;
    expect(p.fieldConfig!.defaults!.thresholds!.steps).toEqual([
      { color: 'red', value: null },
      { color: 'yellow', value: 0.9 },
      { color: 'green', value: 0.95 },
    ]);
  });

  it("the Agent System task success rate is the guide's completed / total", () => {
    const expr = find('stackwatch-agent-system', 'Task success rate').targets![0]!.expr!.replace(/\s/g, '');
    expect(expr).toBe(
      'sum(rate(agent_tasks_completed{job=~"$job",instance=~"$instance"}[$__rate_interval]))/sum(rate(agent_tasks_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))',
    );
  });

  it('the SPEC §3.2 contents are there', () => {
    const titles = (uid: string) =>
      allPanels(dashboards.find((x) => x.dashboard.uid === uid)!.dashboard.panels).map((p) => p.title ?? '');
    const has = (uid: string, re: RegExp) =>
      expect(
        titles(uid).some((t) => re.test(t)),
        `${uid} ${re}`,
      ).toBe(true);
    has('stackwatch-overview', /Health endpoints/);
    has('stackwatch-overview', /Request volume/);
    has('stackwatch-overview', /Response time percentiles/);
    has('stackwatch-overview', /Error ratio/);
    has('stackwatch-performance', /API latency/);
    has('stackwatch-performance', /LLM call time/);
    has('stackwatch-performance', /execution time/);
    has('stackwatch-performance', /cache hit rate/);
    for (const re of [/CPU/, /Memory/, /Disk/, /network traffic/i, /PostgreSQL connections/, /Redis/])
      has('stackwatch-infrastructure', re);
    for (const re of [/Task success rate/, /LLM latency P95/, /Active tasks/, /LLM error ratio/])
      has('stackwatch-agent-system', re);
  });
});
