// The exposition parser the tests read /metrics with: a captured stackwatch scrape (escaped label
// values, histograms with +Inf buckets), the corners of the format, its errors, and a round trip
// through stackwatch's own renderer.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gauge, renderFamilies } from '../../src/metrics/exposition.js';
import {
  ExpositionError,
  helpOf,
  matching,
  parseExposition,
  parseMetrics,
  samples,
  seriesCount,
  seriesKey,
  seriesNames,
  single,
  typeOf,
  value,
} from '../support/exposition.js';

const fixture = readFileSync(new URL('../fixtures/exposition/stackwatch.txt', import.meta.url), 'utf8');
const sampleLines = fixture.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('a captured stackwatch /metrics (tests/fixtures/exposition)', () => {
  const families = parseExposition(fixture);

  it('reads every sample line, each family with its TYPE and HELP lines', () => {
    expect(seriesCount(fixture)).toBe(sampleLines.length);
    expect(families.flatMap((f) => f.samples)).toHaveLength(sampleLines.length);
    expect(families.map((f) => f.name)).toEqual(
      [...fixture.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string),
    );
    expect(families.filter((f) => f.type === undefined || f.help === undefined)).toEqual([]);
    expect(typeOf(fixture, 'redis_up')).toBe('gauge');
    expect(typeOf(fixture, 'stackwatch_notifications_total')).toBe('counter');
    expect(helpOf(fixture, 'stackwatch_notifications_total')).toBe(
      'The total number of attempted notifications.',
    );
    expect(typeOf(fixture, 'no_such_family')).toBeUndefined();
  });

  it('unescapes label values with a double quote, a backslash and a newline', () => {
    expect(samples(fixture, 'redis_key_prefix_keys')).toEqual([
      { labels: { target: 'cache', db: 'db0', prefix: 'quote"d' }, value: 1 },
      { labels: { target: 'cache', db: 'db0', prefix: 'back\\slash' }, value: 2 },
      { labels: { target: 'cache', db: 'db0', prefix: 'new\nline' }, value: 3 },
      { labels: { target: 'cache', db: 'db0', prefix: 'llm_response' }, value: 4 },
    ]);
    expect(value(fixture, 'redis_key_prefix_keys', { prefix: 'new\nline' })).toBe(3);
  });

  it('writes each series back as the line wrote it', () => {
    expect([...parseMetrics(fixture).keys()]).toEqual(sampleLines.map((l) => l.slice(0, l.lastIndexOf(' '))));
    expect(
      parseMetrics(fixture).get('redis_key_prefix_keys{target="cache",db="db0",prefix="back\\\\slash"}'),
    ).toBe(2);
  });

  it('keeps a histogram together: buckets up to +Inf, _sum and _count', () => {
    const gc = families.find((f) => f.name === 'nodejs_gc_duration_seconds');
    expect(gc?.type).toBe('histogram');
    expect(new Set(gc?.samples.map((s) => s.name))).toEqual(
      new Set([
        'nodejs_gc_duration_seconds_bucket',
        'nodejs_gc_duration_seconds_sum',
        'nodejs_gc_duration_seconds_count',
      ]),
    );
    const kinds = matching(fixture, 'nodejs_gc_duration_seconds_count', {}).map(
      (s) => s.labels.kind as string,
    );
    expect(kinds.length).toBeGreaterThan(0);
    for (const kind of kinds) {
      const buckets = matching(fixture, 'nodejs_gc_duration_seconds_bucket', { kind });
      expect(buckets.at(-1)?.labels.le).toBe('+Inf');
      expect(buckets.at(-1)?.value).toBe(value(fixture, 'nodejs_gc_duration_seconds_count', { kind }));
      const counts = buckets.map((b) => b.value);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
    }
    const latency = families.find((f) => f.name === 'stackwatch_notification_latency_seconds');
    expect(latency?.samples.filter((s) => s.labels.le === '+Inf').map((s) => s.labels.integration)).toEqual([
      'email',
      'slack',
    ]);
  });

  it('names series by prefix, each once, in order', () => {
    expect(seriesNames(fixture, 'redis_key_prefix_')).toEqual([
      'redis_key_prefix_keys',
      'redis_key_prefix_keys_partial',
      'redis_key_prefix_scanned_keys',
      'redis_key_prefix_scan_duration_seconds',
    ]);
    expect(seriesCount(fixture, 'redis_key_prefix_')).toBe(7);
  });
});

describe('the text format', () => {
  it('reads NaN, +Inf, -Inf, exponents, timestamps, tabs and a trailing comma', () => {
    const text = [
      '# A comment that is neither HELP nor TYPE',
      '# TYPE m gauge',
      'm{a="1"} NaN',
      'm{a="2"} +Inf 1700000000000',
      'm{a="3",} -Inf',
      'm { a = "4" , b="x" }\t1.5e3\t-12',
      'm{a="5"} -0.25   ',
      'm{a="6"}7',
      '',
    ].join('\n');
    const [m] = parseExposition(text);
    expect(m?.samples).toEqual([
      { name: 'm', labels: { a: '1' }, value: NaN },
      { name: 'm', labels: { a: '2' }, value: Infinity, timestamp: 1700000000000 },
      { name: 'm', labels: { a: '3' }, value: -Infinity },
      { name: 'm', labels: { a: '4', b: 'x' }, value: 1500, timestamp: -12 },
      { name: 'm', labels: { a: '5' }, value: -0.25 },
      { name: 'm', labels: { a: '6' }, value: 7 },
    ]);
    // The {labels, value} form leaves the timestamp out, as assertions compare it.
    expect(samples(text, 'm')[1]).toEqual({ labels: { a: '2' }, value: Infinity });
  });

  it('reads label values with braces, commas, blanks and = inside, and unescapes HELP', () => {
    const text = [
      '# HELP h A help with a \\\\ backslash,\\na second line and "quotes".',
      'h{path="/a b}/c,d=e",q="\\"\\\\n\\n"} 1',
    ].join('\n');
    expect(helpOf(text, 'h')).toBe('A help with a \\ backslash,\na second line and "quotes".');
    expect(typeOf(text, 'h')).toBeUndefined();
    expect(samples(text, 'h')).toEqual([{ labels: { path: '/a b}/c,d=e', q: '"\\n\n' }, value: 1 }]);
  });

  it('groups a summary and an untyped family, and a sample without declarations is its own family', () => {
    const text = [
      '# TYPE s summary',
      's{quantile="0.5"} 1',
      's_sum 3',
      's_count 2',
      'loose_bucket 4',
      '# TYPE u untyped',
      'u 5',
    ].join('\n');
    expect(parseExposition(text).map((f) => [f.name, f.type, f.samples.map((s) => s.name)])).toEqual([
      ['s', 'summary', ['s', 's_sum', 's_count']],
      ['loose_bucket', undefined, ['loose_bucket']],
      ['u', 'untyped', ['u']],
    ]);
  });

  it('keeps duplicate series and their order; a lookup of one series refuses several', () => {
    const text = 'd{a="1",b="x"} 1\nd{a="2"} 2\nd{a="1",b="y"} 3\nd{a="1",b="x"} 4\n';
    expect(samples(text, 'd').map((s) => s.value)).toEqual([1, 2, 3, 4]);
    expect(matching(text, 'd', { a: '1' }).map((s) => s.value)).toEqual([1, 3, 4]);
    expect(value(text, 'd', { a: '1' })).toBe(1);
    expect(value(text, 'd', { a: '3' })).toBeUndefined();
    expect(single(text, 'd', { a: '2' })).toBe(2);
    expect(() => single(text, 'd', { a: '1', b: 'x' })).toThrow('d {"a":"1","b":"x"} matches 2 series');
    expect(parseMetrics(text).get('d{a="1",b="x"}')).toBe(4);
  });

  it('hands out copies: changing an answer does not change the next one', () => {
    const text = 'c{a="1"} 1\n';
    const first = samples(text, 'c');
    (first[0] as { labels: Record<string, string> }).labels.a = 'changed';
    first.push({ labels: {}, value: 9 });
    expect(samples(text, 'c')).toEqual([{ labels: { a: '1' }, value: 1 }]);
  });

  it.each([
    ['x{a="1} 1', 2, 'the value of label a is not closed'],
    ['x{a="\\t"} 1', 2, 'invalid escape \\t'],
    ['x{a="1",a="2"} 1', 2, 'label a written twice'],
    ['x{a=1} 1', 2, '" expected'],
    ['x{1a="1"} 1', 2, 'a label name expected'],
    ['x{a="1"}', 2, 'a value expected after x'],
    ['x', 2, 'a blank and a value expected after x'],
    ['x ', 2, 'a value expected after x'],
    ['x one', 2, 'invalid value "one"'],
    ['x 1 2.5', 2, 'invalid timestamp "2.5"'],
    ['x 1 2 3', 2, 'text after the timestamp'],
    ['x-y 1', 2, 'a blank and a value expected after x'],
    ['{a="1"} 1', 2, 'a metric name expected'],
    ['# TYPE y gauge\n# TYPE y counter', 3, 'a second TYPE line for y'],
    ['# TYPE y gaug', 2, 'unknown metric type "gaug"'],
    ['# HELP y one\n# HELP y two', 3, 'a second HELP line for y'],
    ['# HELP y a \\t tab', 2, 'invalid escape \\t in HELP'],
    ['z 1\n# TYPE z gauge', 3, 'the TYPE line of z after its samples'],
    ['# TYPE', 2, 'a metric name after # TYPE expected'],
  ])('refuses %j at line %i: %s', (body, line, reason) => {
    const text = `# HELP ok Fine.\n${body}\n`;
    let error: unknown;
    try {
      parseExposition(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ExpositionError);
    expect((error as ExpositionError).line).toBe(line);
    expect((error as ExpositionError).message).toContain(reason);
  });

  it('is linear: a label value of a million escapes and 200,000 series in one text', () => {
    const long = '\\"\\\\\\n'.repeat(350_000);
    const many = Array.from({ length: 200_000 }, (_, i) => `s{i="${i}"} ${i}`).join('\n');
    const text = `big{v="${long}"} 1\n${many}\n`;
    expect(samples(text, 'big')[0]?.labels.v).toBe('"\\\n'.repeat(350_000));
    expect(seriesCount(text, 's')).toBe(200_000);
    expect(value(text, 's', { i: '199999' })).toBe(199_999);
    // An unclosed value as long fails as fast.
    expect(() => parseExposition(`x{v="${long}`)).toThrow('is not closed');
  });
});

describe('what stackwatch writes, read back', () => {
  const labelValue = fc.string({ unit: 'binary', maxLength: 40 });
  // The renderer writes -0 as 0.
  const number = fc
    .oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0))
    .map((v) => (Object.is(v, -0) ? 0 : v));

  it('gives back every label value and value that the renderer wrote', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(labelValue, labelValue, number), { minLength: 1, maxLength: 20 }),
        (rows) => {
          const family = gauge('round_trip', 'A help \\ with\nescapes.');
          rows.forEach(([a, b, v], i) => family.add({ i: String(i), a, b }, v));
          const { text } = renderFamilies([family]);
          expect(helpOf(text, 'round_trip')).toBe('A help \\ with\nescapes.');
          expect(samples(text, 'round_trip')).toEqual(
            rows.map(([a, b, v], i) => ({ labels: { i: String(i), a, b }, value: v })),
          );
          for (const [i, [a, b]] of rows.entries())
            expect(parseMetrics(text).has(seriesKey('round_trip', { i: String(i), a, b }))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
