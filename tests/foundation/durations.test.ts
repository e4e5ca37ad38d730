import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/common.js';

describe('durations', () => {
  it('parses Prometheus-style durations to milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('s10')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});
