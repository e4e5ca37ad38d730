import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchPrefixes } from '../../src/collectors/redis.js';
import { INFO_FIELDS, infoFamilies, parseInfo } from '../../src/collectors/redis-info.js';
import { renderFamilies, type MetricFamily } from '../../src/metrics/exposition.js';
import { samples } from '../support/stackwatch.js';
import { run } from '../support/util.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/redis/${name}`, import.meta.url), 'utf8');
const primary = fixture('info-7.0-primary.txt');
const replica = fixture('info-7.0-replica.txt');
const opts = { labels: { target: 'cache' }, maxCommands: 100, maxDbs: 16, maxReplicas: 10 };
const render = (f: MetricFamily[]) => renderFamilies(f).text;

describe('parseInfo on INFO ALL captured from Redis 7.0', () => {
  const info = parseInfo(primary);

  it('reads fields, keyspace, commandstats and replicas', () => {
    expect(info.fields.get('redis_version')).toBe('7.0.15');
    expect(info.fields.get('maxmemory')).toBe('268435456');
    expect(info.fields.get('blocked_clients')).toBe('1');
    // CRLF line ends do not leak into values.
    expect([...info.fields.values()].some((v) => v.includes('\r'))).toBe(false);
    expect(info.keyspace).toEqual([
      { db: 'db0', keys: 9, expires: 2, avgTtlSeconds: 4642.812 },
      { db: 'db3', keys: 2, expires: 1, avgTtlSeconds: 47.908 },
    ]);
    expect(info.commands.find((c) => c.cmd === 'set')).toEqual({
      cmd: 'set',
      calls: 9,
      usec: 157,
      rejectedCalls: 0,
      failedCalls: 0,
    });
    expect(info.commands.find((c) => c.cmd === 'incr')?.failedCalls).toBe(1);
    expect(info.commands.some((c) => c.cmd.includes('|'))).toBe(true);
    expect(info.replicas).toEqual([{ ip: '127.0.0.1', port: '17380', state: 'online', offset: 566, lag: 0 }]);
  });

  it('accepts LF-only text and ignores blank and section lines', () => {
    const lf = parseInfo('# Server\nredis_version:7.0.15\n\n# Keyspace\ndb5:keys=3,expires=0,avg_ttl=0\n');
    expect(lf.fields.get('redis_version')).toBe('7.0.15');
    expect(lf.keyspace).toEqual([{ db: 'db5', keys: 3, expires: 0, avgTtlSeconds: 0 }]);
  });
});

describe('infoFamilies: redis_exporter names and labels', () => {
  const text = render(infoFamilies(parseInfo(primary), opts));

  it('maps the SPEC families with their values', () => {
    const one = (name: string) => samples(text, name);
    expect(one('redis_memory_used_bytes')).toEqual([{ labels: { target: 'cache' }, value: 1210800 }]);
    expect(one('redis_memory_max_bytes')[0]?.value).toBe(268435456);
    expect(one('redis_memory_used_rss_bytes')[0]?.value).toBe(7569408);
    expect(one('redis_total_system_memory_bytes')[0]?.value).toBe(25276026880);
    expect(one('redis_mem_fragmentation_ratio')[0]?.value).toBe(6.47);
    expect(one('redis_connected_clients')[0]?.value).toBe(2);
    expect(one('redis_blocked_clients')[0]?.value).toBe(1);
    expect(one('redis_rejected_connections_total')[0]?.value).toBe(0);
    expect(one('redis_keyspace_hits_total')[0]?.value).toBe(1);
    expect(one('redis_keyspace_misses_total')[0]?.value).toBe(1);
    expect(one('redis_uptime_in_seconds')[0]?.value).toBe(5);
    expect(one('redis_start_time_seconds')[0]?.value).toBe(Math.round(1795667036.811436 - 5));
    expect(one('redis_db_keys')).toEqual([
      { labels: { target: 'cache', db: 'db0' }, value: 9 },
      { labels: { target: 'cache', db: 'db3' }, value: 2 },
    ]);
    expect(one('redis_db_keys_expiring').map((s) => s.value)).toEqual([2, 1]);
    expect(one('redis_commands_total')).toContainEqual({ labels: { target: 'cache', cmd: 'set' }, value: 9 });
    expect(one('redis_commands_duration_seconds_total')).toContainEqual({
      labels: { target: 'cache', cmd: 'set' },
      value: 157e-6,
    });
    expect(one('redis_commands_failed_calls_total')).toContainEqual({
      labels: { target: 'cache', cmd: 'incr' },
      value: 1,
    });
    expect(one('redis_rdb_last_bgsave_status')[0]?.value).toBe(1);
    expect(one('redis_connected_slave_offset_bytes')).toEqual([
      {
        labels: { target: 'cache', slave_ip: '127.0.0.1', slave_port: '17380', slave_state: 'online' },
        value: 566,
      },
    ]);
  });

  it('puts redis_exporter labels on redis_instance_info', () => {
    expect(samples(text, 'redis_instance_info')).toEqual([
      {
        labels: {
          target: 'cache',
          role: 'master',
          redis_version: '7.0.15',
          redis_build_id: 'ae4d7c971a948f0',
          redis_mode: 'standalone',
          os: 'Linux 6.18.44-fc-v782 x86_64',
          maxmemory_policy: 'allkeys-lru',
          tcp_port: '17379',
          run_id: 'ecd94d91e90701876827a4274e863abd1b75b7dd',
          process_id: '14668',
        },
        value: 1,
      },
    ]);
  });

  it('describes a replica: link up, master address, role', () => {
    const r = render(infoFamilies(parseInfo(replica), opts));
    expect(samples(r, 'redis_master_link_up')[0]?.value).toBe(1);
    expect(samples(r, 'redis_slave_info')[0]?.labels).toEqual({
      target: 'cache',
      master_host: '127.0.0.1',
      master_port: '17379',
      read_only: '1',
    });
    expect(samples(r, 'redis_slave_repl_offset')[0]?.value).toBe(566);
    expect(samples(r, 'redis_instance_info')[0]?.labels.role).toBe('slave');
  });

  it('caps commands (most called first) and databases', () => {
    const info = parseInfo(primary);
    const capped = render(infoFamilies(info, { ...opts, maxCommands: 2, maxDbs: 1 }));
    const top2 = [...info.commands].sort((a, b) => b.calls - a.calls).slice(0, 2);
    expect(samples(capped, 'redis_commands_total').map((s) => s.labels.cmd)).toEqual(top2.map((c) => c.cmd));
    expect(samples(capped, 'redis_db_keys').map((s) => s.labels.db)).toEqual(['db0']);
  });

  it('always reports db0, so an empty Redis has redis_db_keys', () => {
    const empty = render(infoFamilies(parseInfo('# Keyspace\r\n'), opts));
    expect(samples(empty, 'redis_db_keys')).toEqual([{ labels: { target: 'cache', db: 'db0' }, value: 0 }]);
  });

  it('maps each INFO field to one metric name', () => {
    const names = Object.values(INFO_FIELDS).map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('passes promtool check metrics', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('matchPrefixes', () => {
  const prefixes = ['llm_response', 'config', 'config:v2'];
  it('matches the prefix itself or prefix + separator, nothing else', () => {
    expect(matchPrefixes('llm_response:abc', prefixes, ':')).toEqual(['llm_response']);
    expect(matchPrefixes('config', prefixes, ':')).toEqual(['config']);
    expect(matchPrefixes('configuration:x', prefixes, ':')).toEqual([]);
    expect(matchPrefixes('config:v2:x', prefixes, ':')).toEqual(['config', 'config:v2']);
    expect(matchPrefixes('llm_responses', prefixes, ':')).toEqual([]);
  });
  it('with an empty separator, any key starting with the prefix', () => {
    expect(matchPrefixes('llm_responses', prefixes, '')).toEqual(['llm_response']);
  });
});
