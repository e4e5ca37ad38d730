import { describe, expect, it } from 'vitest';
import { gauge, markKept, renderFamilies } from '../../src/metrics/exposition.js';

describe('exposition', () => {
  it('escapes label values and merges families from several collectors', () => {
    const a = gauge('x_up', 'Up.').add({ target: 'a"b\\c\nd' }, 1);
    const b = gauge('x_up', 'Up.').add({ target: 'b' }, 0);
    const { text } = renderFamilies([a, b]);
    expect(text).toBe(
      '# HELP x_up Up.\n# TYPE x_up gauge\nx_up{target="a\\"b\\\\c\\nd"} 1\nx_up{target="b"} 0\n',
    );
  });
  it('drops a family whose type conflicts and exact duplicate series', () => {
    const a = gauge('y', 'Y.').add({ l: '1' }, 1).add({ l: '1' }, 2);
    const b = { name: 'y', help: 'Y.', type: 'counter' as const, samples: [{ labels: {}, value: 3 }] };
    const { text, conflicts } = renderFamilies([a, b]);
    expect(conflicts).toEqual(['y']);
    expect(text).toBe('# HELP y Y.\n# TYPE y gauge\ny{l="1"} 1\n');
  });
  it('renders special float values', () => {
    const { text } = renderFamilies([
      gauge('z', 'Z.').add({ a: '1' }, NaN).add({ a: '2' }, Infinity).add({ a: '3' }, -Infinity),
    ]);
    expect(text).toContain('z{a="1"} NaN\nz{a="2"} +Inf\nz{a="3"} -Inf\n');
  });
  it('writes a kept family as it stands, merged with another source or appended to', () => {
    const settings = markKept([gauge('pg_settings_x', 'X.').add({ server: 'a:5432' }, 1)]);
    const first = renderFamilies(settings).text;
    expect(renderFamilies(settings).text).toBe(first);
    expect(first).toBe(
      '# HELP pg_settings_x X.\n# TYPE pg_settings_x gauge\npg_settings_x{server="a:5432"} 1\n',
    );
    // A second target's family of the same name, and a duplicate of a kept series.
    const other = gauge('pg_settings_x', 'X.').add({ server: 'b:5432' }, 2).add({ server: 'a:5432' }, 9);
    expect(renderFamilies([...settings, other]).text).toBe(
      '# HELP pg_settings_x X.\n# TYPE pg_settings_x gauge\npg_settings_x{server="a:5432"} 1\npg_settings_x{server="b:5432"} 2\n',
    );
    settings[0]?.add({ server: 'c:5432' }, 3);
    expect(renderFamilies(settings).text).toContain(
      'pg_settings_x{server="a:5432"} 1\npg_settings_x{server="c:5432"} 3\n',
    );
    // The next sample's families are new objects: their values, not the kept text.
    const next = markKept([gauge('pg_settings_x', 'X.').add({ server: 'a:5432' }, 4)]);
    expect(renderFamilies(next).text).toContain('pg_settings_x{server="a:5432"} 4\n');
  });
});
