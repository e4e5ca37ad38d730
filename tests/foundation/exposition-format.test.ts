import { describe, expect, it } from 'vitest';
import { gauge, renderFamilies } from '../../src/metrics/exposition.js';

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
});
