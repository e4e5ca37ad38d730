import { parser } from '@prometheus-io/lezer-promql';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const rulesDir = join(repoRoot, 'monitoring', 'rules');
export const dashboardsDir = join(repoRoot, 'monitoring', 'dashboards');

/**
 * Replaces Grafana template variables with values that keep the query valid PromQL:
 * range variables become durations, everything else a plain label value.
 */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '5m')
    .replace(/\$__interval|\$\{__interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{[^}]+\}/g, 'x')
    .replace(/\$[A-Za-z_][A-Za-z0-9_]*/g, 'x');
}

export interface ParseProblem {
  from: number;
  to: number;
  text: string;
}

/** Syntax errors found by the lezer PromQL grammar (empty when the expression parses cleanly). */
export function promqlErrors(expr: string): ParseProblem[] {
  const problems: ParseProblem[] = [];
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        problems.push({ from: node.from, to: node.to, text: expr.slice(node.from, node.to) });
    },
  });
  return problems;
}

function unquote(literal: string): string {
  const quote = literal[0];
  if (quote === '`') return literal.slice(1, -1);
  return literal.slice(1, -1).replace(/\\(.)/g, '$1');
}

/**
 * Metric names an expression selects: the identifier of every vector selector, and the value of
 * `__name__="…"` matchers (regex matchers `__name__=~"a|b"` contribute their plain alternatives).
 */
export function metricNamesInExpr(expr: string): string[] {
  const names = new Set<string>();
  const tree = parser.parse(expr);
  const cursor = tree.cursor();
  const text = (from: number, to: number) => expr.slice(from, to);
  do {
    const n = cursor.node;
    if (n.name === 'VectorSelector') {
      const id = n.getChild('Identifier');
      if (id) names.add(text(id.from, id.to));
    } else if (n.name === 'UnquotedLabelMatcher' || n.name === 'LabelMatcher') {
      const label = n.getChild('LabelName');
      const op = n.getChild('MatchOp');
      const value = n.getChild('StringLiteral');
      if (label && op && value && text(label.from, label.to) === '__name__') {
        const opText = text(op.from, op.to);
        const v = unquote(text(value.from, value.to));
        if (opText === '=') names.add(v);
        else if (opText === '=~') {
          for (const alt of v.split('|')) if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(alt)) names.add(alt);
        }
      }
    }
  } while (cursor.next());
  return [...names].sort();
}

export interface RuleFile {
  file: string;
  groups: {
    name: string;
    interval?: string;
    rules: {
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }[];
  }[];
}

export function ruleFileNames(): string[] {
  return readdirSync(rulesDir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort();
}

export function loadRuleFiles(): RuleFile[] {
  return ruleFileNames().map((file) => ({
    file,
    ...(parseYaml(readFileSync(join(rulesDir, file), 'utf8')) as Omit<RuleFile, 'file'>),
  }));
}

export function dashboardFileNames(): string[] {
  return readdirSync(dashboardsDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

// Minimal shape of the Grafana classic JSON parts the tests look at.
export interface GrafanaTarget {
  expr?: string;
  refId?: string;
  datasource?: unknown;
}
export interface GrafanaPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: unknown;
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { mode?: string; steps?: unknown[] } } };
  gridPos?: { x: number; y: number; w: number; h: number };
}
export interface GrafanaDashboard {
  uid: string;
  title: string;
  __inputs?: { name: string; type: string; pluginId: string }[];
  __requires?: { type: string; id: string }[];
  templating?: {
    list: {
      name: string;
      type: string;
      query?: unknown;
      multi?: boolean;
      includeAll?: boolean;
      datasource?: unknown;
    }[];
  };
  panels: GrafanaPanel[];
}

export function loadDashboards(): { file: string; dashboard: GrafanaDashboard }[] {
  return dashboardFileNames().map((file) => ({
    file,
    dashboard: JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as GrafanaDashboard,
  }));
}

/** Every panel, including those nested in collapsed rows. */
export function allPanels(panels: GrafanaPanel[]): GrafanaPanel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** PromQL inside a templating query such as `label_values(up{job=~"$job"}, instance)`. */
export function templateVariableExpr(query: unknown): string | undefined {
  const q = typeof query === 'string' ? query : (query as { query?: string } | undefined)?.query;
  if (!q) return undefined;
  const m = /^\s*(?:label_values|query_result)\((.*)\)\s*$/s.exec(q);
  if (!m) return undefined;
  const inner = m[1]!;
  if (q.trim().startsWith('query_result')) return inner;
  // label_values(metric_selector, label) or label_values(label)
  const lastComma = inner.lastIndexOf(',');
  return lastComma === -1 ? undefined : inner.slice(0, lastComma).trim();
}

/**
 * Every PromQL expression the monitoring assets evaluate: rule expressions, dashboard panel targets
 * and templating queries. Dashboard expressions have their Grafana variables substituted.
 */
export function allRuleAndDashboardExprs(): { source: string; expr: string }[] {
  const out: { source: string; expr: string }[] = [];
  for (const rf of loadRuleFiles()) {
    for (const g of rf.groups) {
      for (const r of g.rules) {
        out.push({ source: `rules/${rf.file}:${g.name}:${r.alert ?? r.record}`, expr: r.expr });
      }
    }
  }
  for (const { file, dashboard } of loadDashboards()) {
    for (const p of allPanels(dashboard.panels)) {
      for (const t of p.targets ?? []) {
        if (t.expr)
          out.push({
            source: `dashboards/${file}:${p.title}:${t.refId}`,
            expr: substituteGrafanaVariables(t.expr),
          });
      }
    }
    for (const v of dashboard.templating?.list ?? []) {
      const e = templateVariableExpr(v.query);
      if (e) out.push({ source: `dashboards/${file}:$${v.name}`, expr: substituteGrafanaVariables(e) });
    }
  }
  return out;
}

/** Names of the recording rules defined in monitoring/rules. */
export function recordingRuleNames(): string[] {
  return loadRuleFiles().flatMap((rf) =>
    rf.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))),
  );
}
