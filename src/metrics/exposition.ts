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

const NEEDS_ESCAPE = /[\\\n"]/;

/**
 * A label value as the text format writes it. Nearly every value needs no escaping; those pass
 * through after one scan instead of three replaces.
 */
export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
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
  let text = '';
  for (const k of Object.keys(labels))
    text += `${text ? ',' : '{'}${k}="${escapeLabelValue(labels[k] ?? '')}"`;
  return text ? text + '}' : '';
}

/** Sample arrays whose collector hands them over unchanged until its next sample. */
const keptSamples = new WeakSet<readonly Sample[]>();
/** Their rendered lines, by identity. */
const renderedSamples = new WeakMap<readonly Sample[], { name: string; length: number; text: string }>();

/**
 * Marks families a collector keeps and hands over scrape after scrape until it reads them again
 * (PostgreSQL's settings, the background sample's sizes and table statistics): their lines are
 * written once per sample, not once per scrape. A kept family is not changed afterwards; one
 * appended to anyway is written again.
 */
export function markKept<T extends MetricFamily>(families: T[]): T[] {
  for (const f of families) keptSamples.add(f.samples);
  return families;
}

/** One family's samples from one source, each series once. */
function renderSamples(name: string, samples: readonly Sample[], seen: Set<string>): string {
  let text = '';
  for (const s of samples) {
    const series = name + (s.suffix ?? '') + formatLabels(s.labels);
    if (seen.has(series)) continue;
    seen.add(series);
    text += `${series} ${formatValue(s.value)}\n`;
  }
  return text;
}

/**
 * Merges families of the same name (several targets emit `pg_up`), drops exact duplicate
 * series (the exposition format forbids them) and renders text. Returns the names of
 * families that were dropped because their type disagreed with an earlier one.
 */
export function renderFamilies(families: Iterable<MetricFamily>): { text: string; conflicts: string[] } {
  // A family's samples stay in the arrays the collectors built; merging only lists them.
  const merged = new Map<string, { family: MetricFamily; parts: Sample[][] }>();
  const conflicts: string[] = [];
  for (const f of families) {
    const prev = merged.get(f.name);
    if (!prev) merged.set(f.name, { family: f, parts: [f.samples] });
    else if (prev.family.type !== f.type) conflicts.push(f.name);
    else prev.parts.push(f.samples);
  }
  let text = '';
  for (const { family: f, parts } of merged.values()) {
    if (!parts.some((p) => p.length > 0)) continue;
    text += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    const only = parts.length === 1 ? parts[0] : undefined;
    if (only && keptSamples.has(only)) {
      const kept = renderedSamples.get(only);
      if (kept && kept.name === f.name && kept.length === only.length) {
        text += kept.text;
        continue;
      }
      const rendered = renderSamples(f.name, only, new Set());
      renderedSamples.set(only, { name: f.name, length: only.length, text: rendered });
      text += rendered;
      continue;
    }
    const seen = new Set<string>();
    for (const samples of parts) text += renderSamples(f.name, samples, seen);
  }
  return { text, conflicts };
}
