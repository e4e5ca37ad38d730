// Prometheus text exposition (version 0.0.4) for series built fresh on every scrape.
// Collectors return plain families; nothing is kept between scrapes, so a removed
// container or dropped database disappears from the next scrape by construction.

export type MetricType = 'gauge' | 'counter' | 'untyped' | 'histogram' | 'summary';
export type Labels = Record<string, string>;

export interface Sample {
  /** Appended to the family name, e.g. `_bucket`, `_sum`; empty for plain gauges/counters. */
  suffix?: string;
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** Builds one family; `add` is chainable so collectors read as tables of values. */
export class FamilyBuilder implements MetricFamily {
  readonly samples: Sample[] = [];
  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly help: string,
  ) {}
  add(labels: Labels, value: number, suffix?: string): this {
    this.samples.push(suffix ? { labels, value, suffix } : { labels, value });
    return this;
  }
}

export const gauge = (name: string, help: string) => new FamilyBuilder(name, 'gauge', help);
export const counter = (name: string, help: string) => new FamilyBuilder(name, 'counter', help);
export const untyped = (name: string, help: string) => new FamilyBuilder(name, 'untyped', help);

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${escapeLabelValue(labels[k] ?? '')}"`).join(',') + '}';
}

/**
 * Merges families of the same name (several targets emit `pg_up`), drops exact duplicate
 * series (the exposition format forbids them) and renders text. Returns the names of
 * families that were dropped because their type disagreed with an earlier one.
 */
export function renderFamilies(families: Iterable<MetricFamily>): { text: string; conflicts: string[] } {
  const merged = new Map<string, MetricFamily>();
  const conflicts: string[] = [];
  for (const f of families) {
    const prev = merged.get(f.name);
    if (!prev) {
      merged.set(f.name, { name: f.name, help: f.help, type: f.type, samples: [...f.samples] });
    } else if (prev.type !== f.type) {
      conflicts.push(f.name);
    } else {
      prev.samples.push(...f.samples);
    }
  }
  const out: string[] = [];
  for (const f of merged.values()) {
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    const seen = new Set<string>();
    for (const s of f.samples) {
      const line = `${f.name}${s.suffix ?? ''}${formatLabels(s.labels)}`;
      if (seen.has(line)) continue;
      seen.add(line);
      out.push(`${line} ${formatValue(s.value)}`);
    }
  }
  return { text: out.length ? out.join('\n') + '\n' : '', conflicts };
}
