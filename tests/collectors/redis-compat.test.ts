import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../support/redis.js';
import { parseExposition, samples } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, startProcess, waitFor, type Proc } from '../support/util.js';

/** The Redis families SPEC §1.2 requires, with redis_exporter's names. */
const SPEC_FAMILIES = [
  'redis_up',
  'redis_memory_used_bytes',
  'redis_memory_max_bytes',
  'redis_memory_used_rss_bytes',
  'redis_mem_fragmentation_ratio',
  'redis_connected_clients',
  'redis_blocked_clients',
  'redis_rejected_connections_total',
  'redis_keyspace_hits_total',
  'redis_keyspace_misses_total',
  'redis_evicted_keys_total',
  'redis_expired_keys_total',
  'redis_db_keys',
  'redis_db_keys_expiring',
  'redis_commands_total',
  'redis_commands_duration_seconds_total',
  'redis_slowlog_length',
  'redis_instance_info',
  'redis_uptime_in_seconds',
];

/** Family name → {type, label-name sets of the samples named like the family}, for each family with a TYPE line. */
function families(text: string): Map<string, { type: string; labelSets: Set<string> }> {
  const out = new Map<string, { type: string; labelSets: Set<string> }>();
  for (const f of parseExposition(text)) {
    if (f.type === undefined) continue;
    const labelSets = new Set<string>();
    for (const s of f.samples) {
      if (s.name !== f.name) continue;
      labelSets.add(
        Object.keys(s.labels)
          .filter((k) => k !== 'target')
          .sort()
          .join(','),
      );
    }
    out.set(f.name, { type: f.type, labelSets });
  }
  return out;
}

// stackwatch types these counters without `_total` as untyped (promtool refuses them as counters).
const RETYPED = new Set([
  'redis_total_error_replies',
  'redis_unexpected_error_replies',
  'redis_dump_payload_sanitizations',
  'redis_total_reads_processed',
  'redis_total_writes_processed',
  'redis_io_threaded_reads_processed',
  'redis_io_threaded_writes_processed',
  'redis_expired_time_cap_reached_total',
]);

/** redis_exporter families stackwatch does not export, and why. */
const LEFT_OUT = [
  // promtool: "metric names should not contain abbreviated units".
  'redis_aof_current_rewrite_duration_sec',
  'redis_aof_last_rewrite_duration_sec',
  // Read with CONFIG GET, which managed Redis disables; redis_memory_max_bytes comes from INFO.
  'redis_config_io_threads',
  'redis_config_maxmemory',
  // redis_exporter's own key-group scrape timing (and not in base units).
  'redis_last_key_groups_scrape_duration_milliseconds',
  // A summary per command: cardinality without a cap, and not in base units.
  'redis_latency_percentiles_usec',
  // promtool: a gauge must not end in _total.
  'redis_migrate_cached_sockets_total',
  'redis_rdb_current_bgsave_duration_sec',
  'redis_rdb_last_bgsave_duration_sec',
  // redis_exporter's own request errors; stackwatch_scrape_collector_success says the same.
  'redis_target_scrape_request_errors_total',
].sort();

describe('names and labels compatible with redis_exporter on the same Redis', () => {
  let redis: RedisHandle;
  let exporter: Proc;
  let exporterUrl: string;
  let sw: StackwatchHandle;
  let ours: Map<string, { type: string; labelSets: Set<string> }>;
  let theirs: Map<string, { type: string; labelSets: Set<string> }>;
  let oursText: string;
  let theirsText: string;

  beforeAll(async () => {
    redis = await startRedis({ args: ['--slowlog-log-slower-than', '0'] });
    await redis.cli(['SET', 'llm_response:1', 'v']);
    await redis.cli(['SET', 'session', 'v', 'EX', '600']);
    await redis.cli(['SET', 'x', 'v'], { db: 4 });
    await redis.cli(['GET', 'nothing']);
    const port = await freePort();
    exporter = startProcess('/usr/bin/prometheus-redis-exporter', [
      `--redis.addr=${redis.url}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    exporterUrl = `http://127.0.0.1:${port}/metrics`;
    await waitFor(async () => (await fetch(exporterUrl)).ok, 15_000, 'redis_exporter');
    sw = await startStackwatch({
      config: `collectors:
  filesystem:
    enabled: false
  redis:
    targets:
      - name: cache
        url: ${redis.url}
`,
    });
    // Both have scraped once, so both see the other's commands in commandstats.
    await fetch(`${sw.url}/metrics`);
    theirsText = await (await fetch(exporterUrl)).text();
    oursText = await (await fetch(`${sw.url}/metrics`)).text();
    ours = families(oursText);
    theirs = families(theirsText);
  });
  afterAll(async () => {
    await sw?.stop();
    await exporter?.stop();
    await redis?.close();
  });

  it('exports every SPEC family with redis_exporter’s type and label names', () => {
    for (const name of SPEC_FAMILIES) {
      const t = theirs.get(name);
      const o = ours.get(name);
      expect(t, `redis_exporter lacks ${name}`).toBeDefined();
      expect(o, `stackwatch lacks ${name}`).toBeDefined();
      expect(o?.type, name).toBe(t?.type);
      expect([...(o?.labelSets ?? [])], name).toEqual([...(t?.labelSets ?? [])]);
    }
  });

  it('exports every other redis_exporter Redis family, except the ones left out on purpose', () => {
    // redis_exporter_* are its self metrics; stackwatch's are stackwatch_*.
    const missing = [...theirs.keys()]
      .filter((n) => n.startsWith('redis_') && !n.startsWith('redis_exporter_') && !ours.has(n))
      .sort();
    expect(missing).toEqual(LEFT_OUT);
  });

  it('uses the same label names (and type, unless retyped) on every family both export', () => {
    const shared = [...ours.keys()].filter((n) => theirs.has(n));
    for (const name of shared) {
      expect([...ours.get(name)!.labelSets], name).toEqual([...theirs.get(name)!.labelSets]);
      if (!RETYPED.has(name)) expect(ours.get(name)!.type, name).toBe(theirs.get(name)!.type);
    }
  });

  it('reports the same values where both read the same state', () => {
    for (const db of ['db0', 'db4']) {
      const o = samples(oursText, 'redis_db_keys').find((s) => s.labels.db === db)?.value;
      const t = samples(theirsText, 'redis_db_keys').find((s) => s.labels.db === db)?.value;
      expect(o, db).toBe(t);
    }
    for (const name of ['redis_db_keys_expiring', 'redis_memory_max_bytes', 'redis_keyspace_misses_total']) {
      expect(samples(oursText, name)[0]?.value, name).toBe(samples(theirsText, name)[0]?.value);
    }
    const oi = samples(oursText, 'redis_instance_info')[0]?.labels;
    const ti = samples(theirsText, 'redis_instance_info')[0]?.labels;
    expect({ ...oi, target: undefined }).toEqual({ ...ti, target: undefined });
  });
});
