import { describe, expect, it } from 'vitest';
import { matches, parseMatcher } from '../../src/matchers.js';

describe('matchers', () => {
  it('parses Alertmanager matcher syntax', () => {
    expect(parseMatcher('severity="critical"')).toMatchObject({
      label: 'severity',
      op: '=',
      value: 'critical',
    });
    expect(parseMatcher('service=~"pg|redis"')).toMatchObject({ op: '=~', value: 'pg|redis' });
    expect(parseMatcher('env!=dev')).toMatchObject({ op: '!=', value: 'dev' });
    expect(parseMatcher('a!~"x\\"y"')).toMatchObject({ op: '!~', value: 'x"y' });
    expect(() => parseMatcher('severity')).toThrow(/invalid matcher/);
    expect(() => parseMatcher('a=~"("')).toThrow(/invalid regular expression/);
  });

  it('anchors regexes at both ends and treats a missing label as empty', () => {
    const m = parseMatcher('service=~"postgres"');
    expect(matches(m, { service: 'postgres' })).toBe(true);
    expect(matches(m, { service: 'postgres-replica' })).toBe(false);
    expect(matches(m, { service: 'my-postgres' })).toBe(false);
    expect(matches(parseMatcher('service!~"db.*"'), { service: 'dbmain' })).toBe(false);
    expect(matches(parseMatcher('service!~"db.*"'), { service: 'api' })).toBe(true);
    expect(matches(parseMatcher('service!~"db.*"'), {})).toBe(true);
    expect(matches(parseMatcher('team=""'), {})).toBe(true);
    expect(matches(parseMatcher('team!=""'), {})).toBe(false);
  });
});
