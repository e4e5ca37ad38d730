// Prometheus text exposition (version 0.0.4) read back for assertions: one parser, one pass over
// the text, and the lookups the tests make, all built on it. It is strict where the format is
// (a malformed line, an unknown escape, a second TYPE or HELP line of a family, a TYPE line after
// the family's samples, a label written twice are errors naming the line), so a test that reads
// stackwatch's or an exporter's output also checks that Prometheus could read it.

export type Labels = Record<string, string>;

export const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export interface ParsedSample {
  /** The sample's own name: the family's, or with `_bucket`, `_sum`, `_count` in a histogram or summary. */
  name: string;
  /** Label values unescaped, in the order the line writes them. */
  labels: Labels;
  /** `NaN`, `+Inf` and `-Inf` as NaN, Infinity and -Infinity. */
  value: number;
  /** Milliseconds since the epoch, when the line carries a timestamp. */
  timestamp?: number;
}

export interface ParsedFamily {
  name: string;
  /** From its `# TYPE` line; undefined when there is none (Prometheus reads the family as untyped). */
  type?: MetricType;
  /** From its `# HELP` line, unescaped; undefined when there is none. */
  help?: string;
  /** In text order, duplicates kept. */
  samples: ParsedSample[];
}

/** A sample as the assertions compare it. */
export interface Sample {
  labels: Labels;
  value: number;
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    reason: string,
    text: string,
  ) {
    super(`exposition line ${line}: ${reason}: ${JSON.stringify(text.slice(0, 200))}`);
    this.name = 'ExpositionError';
  }
}

interface Parsed {
  families: ParsedFamily[];
  byFamily: Map<string, ParsedFamily>;
  /** Sample name → its samples in text order. */
  bySample: Map<string, ParsedSample[]>;
  /** Every sample in text order. */
  all: ParsedSample[];
}

const TYPES: ReadonlySet<string> = new Set(METRIC_TYPES);
const SUFFIXES = ['_bucket', '_sum', '_count'] as const;

const isBlank = (c: number) => c === 32 || c === 9;
const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isNameStart = (c: number) => isLetter(c) || c === 58;
const isNameChar = (c: number) => isNameStart(c) || isDigit(c);
const isLabelChar = (c: number) => isLetter(c) || isDigit(c);

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF = /^[+-]?inf(?:inity)?$/i;
const TIMESTAMP = /^-?\d+$/;

function parseValue(token: string): number | undefined {
  if (FLOAT.test(token)) return Number(token);
  if (INF.test(token)) return token.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(token)) return NaN;
  return undefined;
}

/** Reads the whole text once; every line is looked at once and every character of it a bounded number of times. */
function parse(text: string): Parsed {
  const families: ParsedFamily[] = [];
  const byFamily = new Map<string, ParsedFamily>();
  const bySample = new Map<string, ParsedSample[]>();
  const all: ParsedSample[] = [];
  const declare = (name: string): ParsedFamily => {
    let f = byFamily.get(name);
    if (!f) {
      f = { name, samples: [] };
      byFamily.set(name, f);
      families.push(f);
    }
    return f;
  };
  /** The family a sample belongs to: its own name's, else the histogram or summary it is a part of. */
  const familyOf = (name: string): ParsedFamily => {
    const own = byFamily.get(name);
    if (own) return own;
    for (const suffix of SUFFIXES) {
      if (!name.endsWith(suffix)) continue;
      const base = byFamily.get(name.slice(0, -suffix.length));
      if (base?.type === 'histogram' || (base?.type === 'summary' && suffix !== '_bucket')) return base;
    }
    return declare(name);
  };

  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    const end = line.length;
    const fail = (reason: string): never => {
      throw new ExpositionError(n + 1, reason, line);
    };
    const skipBlanks = (from: number) => {
      let i = from;
      while (i < end && isBlank(line.charCodeAt(i))) i++;
      return i;
    };
    const readName = (from: number) => {
      let i = from;
      if (i < end && isNameStart(line.charCodeAt(i))) while (i < end && isNameChar(line.charCodeAt(i))) i++;
      return i;
    };

    let i = skipBlanks(0);
    if (i === end) continue;

    if (line.charCodeAt(i) === 35 /* # */) {
      i = skipBlanks(i + 1);
      const kwStart = i;
      while (i < end && !isBlank(line.charCodeAt(i))) i++;
      const keyword = line.slice(kwStart, i);
      if (keyword !== 'HELP' && keyword !== 'TYPE') continue; // a plain comment
      const nameStart = skipBlanks(i);
      i = readName(nameStart);
      if (i === nameStart) fail(`a metric name after # ${keyword} expected`);
      if (i < end && !isBlank(line.charCodeAt(i)))
        fail(`invalid character in the metric name after # ${keyword}`);
      const family = declare(line.slice(nameStart, i));
      const restStart = skipBlanks(i);
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail(`a second HELP line for ${family.name}`);
        family.help = unescapeHelp(line.slice(restStart), fail);
      } else {
        let typeEnd = end;
        while (typeEnd > restStart && isBlank(line.charCodeAt(typeEnd - 1))) typeEnd--;
        const type = line.slice(restStart, typeEnd);
        if (!TYPES.has(type)) fail(`unknown metric type ${JSON.stringify(type)}`);
        if (family.type !== undefined) fail(`a second TYPE line for ${family.name}`);
        if (family.samples.length > 0) fail(`the TYPE line of ${family.name} after its samples`);
        family.type = type as MetricType;
      }
      continue;
    }

    const nameStart = i;
    i = readName(i);
    if (i === nameStart) fail('a metric name expected');
    const name = line.slice(nameStart, i);
    const labels: Labels = {};
    const afterName = skipBlanks(i);
    if (line.charCodeAt(afterName) === 123 /* { */) {
      i = afterName + 1;
      for (;;) {
        i = skipBlanks(i);
        if (line.charCodeAt(i) === 125 /* } */) break;
        const labelStart = i;
        if (i < end && isLetter(line.charCodeAt(i))) while (i < end && isLabelChar(line.charCodeAt(i))) i++;
        if (i === labelStart) fail('a label name expected');
        const label = line.slice(labelStart, i);
        if (label === '__proto__') fail('label name __proto__');
        if (Object.hasOwn(labels, label)) fail(`label ${label} written twice`);
        i = skipBlanks(i);
        if (line.charCodeAt(i) !== 61 /* = */) fail(`= expected after label ${label}`);
        i = skipBlanks(i + 1);
        if (line.charCodeAt(i) !== 34 /* " */) fail(`" expected to open the value of label ${label}`);
        i++;
        let labelValue = '';
        let run = i;
        for (;;) {
          if (i >= end) fail(`the value of label ${label} is not closed`);
          const c = line.charCodeAt(i);
          if (c === 34) break;
          if (c === 92 /* \ */) {
            const e = line[i + 1];
            const decoded = e === '\\' ? '\\' : e === '"' ? '"' : e === 'n' ? '\n' : undefined;
            if (decoded === undefined) fail(`invalid escape \\${e ?? ''} in the value of label ${label}`);
            labelValue += line.slice(run, i) + decoded;
            i += 2;
            run = i;
          } else i++;
        }
        labels[label] = labelValue + line.slice(run, i);
        i = skipBlanks(i + 1);
        const c = line.charCodeAt(i);
        if (c === 44 /* , */) i++;
        else if (c !== 125) fail(`, or } expected after the value of label ${label}`);
      }
      i++;
    } else if (i === afterName) fail(`a blank and a value expected after ${name}`);
    i = skipBlanks(i);
    const valueStart = i;
    if (i === end) fail(`a value expected after ${name}`);
    while (i < end && !isBlank(line.charCodeAt(i))) i++;
    const value = parseValue(line.slice(valueStart, i));
    if (value === undefined) fail(`invalid value ${JSON.stringify(line.slice(valueStart, i))}`);
    const sample: ParsedSample = { name, labels, value: value as number };
    i = skipBlanks(i);
    if (i < end) {
      const tsStart = i;
      while (i < end && !isBlank(line.charCodeAt(i))) i++;
      const ts = line.slice(tsStart, i);
      if (!TIMESTAMP.test(ts)) fail(`invalid timestamp ${JSON.stringify(ts)}`);
      sample.timestamp = Number(ts);
      if (skipBlanks(i) < end) fail('text after the timestamp');
    }
    familyOf(name).samples.push(sample);
    all.push(sample);
    const same = bySample.get(name);
    if (same) same.push(sample);
    else bySample.set(name, [sample]);
  }
  return { families, byFamily, bySample, all };
}

function unescapeHelp(text: string, fail: (reason: string) => never): string {
  let out = '';
  let run = 0;
  for (let i = text.indexOf('\\'); i >= 0; i = text.indexOf('\\', run)) {
    const e = text[i + 1];
    const decoded = e === '\\' ? '\\' : e === 'n' ? '\n' : undefined;
    if (decoded === undefined) fail(`invalid escape \\${e ?? ''} in HELP`);
    out += text.slice(run, i) + decoded;
    run = i + 2;
  }
  return out + text.slice(run);
}

/** Every family of the text in the order they first appear, with their samples. */
export function parseExposition(text: string): ParsedFamily[] {
  return parse(text).families;
}

// The lookups below ask many questions of one scrape; the last few texts are parsed once.
const recent: { text: string; parsed: Parsed }[] = [];
function read(text: string): Parsed {
  const hit = recent.find((r) => r.text === text);
  if (hit) return hit.parsed;
  const parsed = parse(text);
  recent.unshift({ text, parsed });
  recent.length = Math.min(recent.length, 4);
  return parsed;
}

const copy = (s: ParsedSample): Sample => ({ labels: { ...s.labels }, value: s.value });
const hasLabels = (s: ParsedSample, labels: Labels) =>
  Object.entries(labels).every(([k, v]) => s.labels[k] === v);

const escapeLabelValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** The series as the exposition writes it: `name` or `name{a="1",b="2"}`, labels in their order. */
export function seriesKey(name: string, labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return pairs.length ? `${name}{${pairs.join(',')}}` : name;
}

/** `name{labels}` (as {@link seriesKey} writes it) → value; a series written twice keeps its last value. */
export function parseMetrics(text: string): Map<string, number> {
  return new Map(read(text).all.map((s) => [seriesKey(s.name, s.labels), s.value]));
}

/** The samples named `name` (a histogram's are `name_bucket`, …) as {labels, value}, in text order. */
export function samples(text: string, name: string): Sample[] {
  return (read(text).bySample.get(name) ?? []).map(copy);
}

/** The samples named `name` whose labels include `labels`, in text order. */
export function matching(text: string, name: string, labels: Labels): Sample[] {
  return (read(text).bySample.get(name) ?? []).filter((s) => hasLabels(s, labels)).map(copy);
}

/** The value of the first sample named `name` whose labels include `labels`; undefined when there is none. */
export function value(text: string, name: string, labels: Labels = {}): number | undefined {
  return read(text)
    .bySample.get(name)
    ?.find((s) => hasLabels(s, labels))?.value;
}

/** As {@link value}, but more than one matching sample is an error: the labels name one series. */
export function single(text: string, name: string, labels: Labels = {}): number | undefined {
  const found = matching(text, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

/** The type of family `name` from its `# TYPE` line; undefined when it has none. */
export function typeOf(text: string, name: string): MetricType | undefined {
  return read(text).byFamily.get(name)?.type;
}

/** The text of family `name`'s `# HELP` line, unescaped; undefined when it has none. */
export function helpOf(text: string, name: string): string | undefined {
  return read(text).byFamily.get(name)?.help;
}

/** The names of the samples, each once, in the order they first appear; only those starting with `prefix` if given. */
export function seriesNames(text: string, prefix = ''): string[] {
  return [...read(text).bySample.keys()].filter((n) => n.startsWith(prefix));
}

/** How many samples there are whose name starts with `prefix` (all of them with ''). */
export function seriesCount(text: string, prefix = ''): number {
  let count = 0;
  for (const [name, list] of read(text).bySample) if (name.startsWith(prefix)) count += list.length;
  return count;
}
