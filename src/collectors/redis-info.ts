// Redis INFO text → metric families, with redis_exporter's names and labels so its
// dashboards and alerts work unchanged. Pure: tested on INFO captured from a real Redis 7.
import {
  counter,
  gauge,
  untyped,
  type FamilyBuilder,
  type Labels,
  type MetricFamily,
} from '../metrics/exposition.js';

export interface KeyspaceEntry {
  /** `db0`, as redis_exporter labels it. */
  db: string;
  keys: number;
  expires: number;
  avgTtlSeconds: number;
}

export interface CommandStat {
  /** `get`, `client|setname` (Redis 7 names subcommands with `|`). */
  cmd: string;
  calls: number;
  usec: number;
  rejectedCalls: number;
  failedCalls: number;
}

export interface ReplicaEntry {
  ip: string;
  port: string;
  state: string;
  offset: number;
  lag: number;
}

export interface RedisInfo {
  /** Every `key:value` line outside the keyspace, commandstats and replica lines. */
  fields: Map<string, string>;
  keyspace: KeyspaceEntry[];
  commands: CommandStat[];
  replicas: ReplicaEntry[];
}

/** `a=1,b=2` → {a: '1', b: '2'}. */
function parseKv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

const num = (v: string | undefined): number => (v === undefined ? NaN : Number(v));

/** Parses the text of `INFO` / `INFO ALL` (CRLF or LF lines, `# Section` headers). */
export function parseInfo(text: string): RedisInfo {
  const info: RedisInfo = { fields: new Map(), keyspace: [], commands: [], replicas: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1);
    if (/^db\d+$/.test(key)) {
      const kv = parseKv(value);
      info.keyspace.push({
        db: key,
        keys: num(kv.keys),
        expires: num(kv.expires),
        avgTtlSeconds: num(kv.avg_ttl) / 1000,
      });
    } else if (key.startsWith('cmdstat_')) {
      const kv = parseKv(value);
      info.commands.push({
        cmd: key.slice('cmdstat_'.length),
        calls: num(kv.calls),
        usec: num(kv.usec),
        rejectedCalls: num(kv.rejected_calls ?? '0'),
        failedCalls: num(kv.failed_calls ?? '0'),
      });
    } else if (/^slave\d+$/.test(key) && value.includes('=')) {
      const kv = parseKv(value);
      info.replicas.push({
        ip: kv.ip ?? '',
        port: kv.port ?? '',
        state: kv.state ?? '',
        offset: num(kv.offset),
        lag: num(kv.lag),
      });
    } else {
      info.fields.set(key, value);
    }
  }
  return info;
}

type Kind = 'gauge' | 'counter' | 'untyped';

interface FieldMetric {
  name: string;
  kind: Kind;
  help: string;
  /** Multiplier from INFO's unit to the metric's (µs → s). */
  scale?: number;
  /** For status fields: `ok` → 1, anything else → 0. */
  status?: boolean;
}

const g = (name: string, help: string, extra: Partial<FieldMetric> = {}): FieldMetric => ({
  name,
  kind: 'gauge',
  help,
  ...extra,
});
const c = (name: string, help: string, extra: Partial<FieldMetric> = {}): FieldMetric => ({
  name,
  kind: 'counter',
  help,
  ...extra,
});
// redis_exporter types these as counters without a `_total` suffix, which promtool refuses;
// untyped keeps its names (rate() works the same) and passes the lint.
const u = (name: string, help: string): FieldMetric => ({ name, kind: 'untyped', help });

/** INFO field → redis_exporter metric. Fields a Redis version lacks are simply absent. */
export const INFO_FIELDS: Record<string, FieldMetric> = {
  // Server
  uptime_in_seconds: g('redis_uptime_in_seconds', 'Seconds since the Redis server started.'),
  process_id: g('redis_process_id', 'Process ID of the Redis server.'),
  io_threads_active: g('redis_io_threads_active', 'Whether I/O threads are active.'),
  // Clients
  connected_clients: g('redis_connected_clients', 'Number of client connections (excluding replicas).'),
  blocked_clients: g('redis_blocked_clients', 'Clients blocked on BLPOP, BRPOP, WAIT and similar.'),
  tracking_clients: g('redis_tracking_clients', 'Clients being tracked (client-side caching).'),
  clients_in_timeout_table: g('redis_clients_in_timeout_table', 'Clients in the blocking timeout table.'),
  cluster_connections: g('redis_cluster_connections', 'Connections used by the cluster bus.'),
  maxclients: g('redis_config_maxclients', 'The maxclients setting, as reported by INFO.'),
  client_recent_max_input_buffer: g(
    'redis_client_recent_max_input_buffer_bytes',
    'Largest recent client input buffer in bytes.',
  ),
  client_recent_max_output_buffer: g(
    'redis_client_recent_max_output_buffer_bytes',
    'Largest recent client output buffer in bytes.',
  ),
  // Memory
  used_memory: g('redis_memory_used_bytes', 'Bytes allocated by Redis (used_memory).'),
  used_memory_rss: g('redis_memory_used_rss_bytes', 'Resident set size of the Redis process in bytes.'),
  used_memory_peak: g('redis_memory_used_peak_bytes', 'Peak memory used by Redis in bytes.'),
  used_memory_overhead: g('redis_memory_used_overhead_bytes', 'Memory used for internal overhead in bytes.'),
  used_memory_startup: g('redis_memory_used_startup_bytes', 'Memory used by Redis at startup in bytes.'),
  used_memory_dataset: g('redis_memory_used_dataset_bytes', 'Memory used by the dataset in bytes.'),
  used_memory_lua: g('redis_memory_used_lua_bytes', 'Memory used by the Lua engine in bytes.'),
  used_memory_scripts: g('redis_memory_used_scripts_bytes', 'Memory used by cached scripts in bytes.'),
  maxmemory: g(
    'redis_memory_max_bytes',
    'The maxmemory setting in bytes, read from INFO (works when CONFIG is disabled); 0 means no limit.',
  ),
  total_system_memory: g(
    'redis_total_system_memory_bytes',
    "Total memory of the Redis server's host in bytes.",
  ),
  mem_fragmentation_ratio: g('redis_mem_fragmentation_ratio', 'Ratio of RSS to used memory.'),
  mem_fragmentation_bytes: g('redis_mem_fragmentation_bytes', 'RSS minus used memory in bytes.'),
  mem_not_counted_for_evict: g(
    'redis_mem_not_counted_for_eviction_bytes',
    'Memory not counted for maxmemory eviction in bytes.',
  ),
  mem_clients_slaves: g('redis_mem_clients_slaves', 'Memory used by replica client buffers in bytes.'),
  mem_clients_normal: g('redis_mem_clients_normal', 'Memory used by normal client buffers in bytes.'),
  allocator_allocated: g('redis_allocator_allocated_bytes', 'Bytes allocated by the allocator.'),
  allocator_active: g('redis_allocator_active_bytes', 'Bytes in active allocator pages.'),
  allocator_resident: g('redis_allocator_resident_bytes', 'Bytes resident in the allocator.'),
  allocator_frag_ratio: g('redis_allocator_frag_ratio', 'Allocator fragmentation ratio.'),
  allocator_frag_bytes: g('redis_allocator_frag_bytes', 'Allocator fragmentation in bytes.'),
  allocator_rss_ratio: g('redis_allocator_rss_ratio', 'Allocator RSS ratio.'),
  allocator_rss_bytes: g('redis_allocator_rss_bytes', 'Allocator RSS overhead in bytes.'),
  active_defrag_running: g('redis_active_defrag_running', 'Whether active defragmentation is running.'),
  lazyfree_pending_objects: g('redis_lazyfree_pending_objects', 'Objects waiting to be freed lazily.'),
  number_of_cached_scripts: g('redis_number_of_cached_scripts', 'Number of cached Lua scripts.'),
  // Persistence
  loading: g('redis_loading_dump_file', 'Whether a dump file is being loaded.'),
  rdb_changes_since_last_save: g('redis_rdb_changes_since_last_save', 'Changes since the last RDB save.'),
  rdb_bgsave_in_progress: g('redis_rdb_bgsave_in_progress', 'Whether an RDB save is in progress.'),
  rdb_last_save_time: g(
    'redis_rdb_last_save_timestamp_seconds',
    'Unix time of the last successful RDB save.',
  ),
  rdb_last_bgsave_status: g('redis_rdb_last_bgsave_status', 'Whether the last RDB save succeeded.', {
    status: true,
  }),
  rdb_last_cow_size: g(
    'redis_rdb_last_cow_size_bytes',
    'Copy-on-write memory of the last RDB save in bytes.',
  ),
  aof_enabled: g('redis_aof_enabled', 'Whether AOF is enabled.'),
  aof_rewrite_in_progress: g('redis_aof_rewrite_in_progress', 'Whether an AOF rewrite is in progress.'),
  aof_rewrite_scheduled: g('redis_aof_rewrite_scheduled', 'Whether an AOF rewrite is scheduled.'),
  aof_last_bgrewrite_status: g('redis_aof_last_bgrewrite_status', 'Whether the last AOF rewrite succeeded.', {
    status: true,
  }),
  aof_last_write_status: g('redis_aof_last_write_status', 'Whether the last AOF write succeeded.', {
    status: true,
  }),
  aof_last_cow_size: g(
    'redis_aof_last_cow_size_bytes',
    'Copy-on-write memory of the last AOF rewrite in bytes.',
  ),
  module_fork_in_progress: g('redis_module_fork_in_progress', 'Whether a module fork is in progress.'),
  module_fork_last_cow_size: g(
    'redis_module_fork_last_cow_size',
    'Copy-on-write memory of the last module fork.',
  ),
  // Stats
  total_connections_received: c('redis_connections_received_total', 'Connections accepted by the server.'),
  total_commands_processed: c('redis_commands_processed_total', 'Commands processed by the server.'),
  total_net_input_bytes: c('redis_net_input_bytes_total', 'Bytes read from the network.'),
  total_net_output_bytes: c('redis_net_output_bytes_total', 'Bytes written to the network.'),
  rejected_connections: c('redis_rejected_connections_total', 'Connections rejected because of maxclients.'),
  expired_keys: c('redis_expired_keys_total', 'Keys expired.'),
  evicted_keys: c('redis_evicted_keys_total', 'Keys evicted because of maxmemory.'),
  keyspace_hits: c('redis_keyspace_hits_total', 'Successful key lookups.'),
  keyspace_misses: c('redis_keyspace_misses_total', 'Failed key lookups.'),
  expired_stale_perc: g(
    'redis_expired_stale_percentage',
    'Estimated percentage of expired keys still in memory.',
  ),
  expired_time_cap_reached_count: c(
    'redis_expired_time_cap_reached_total',
    'Times the active expiry cycle stopped early because of its time cap.',
  ),
  latest_fork_usec: g('redis_latest_fork_seconds', 'Duration of the latest fork in seconds.', {
    scale: 1e-6,
  }),
  pubsub_channels: g('redis_pubsub_channels', 'Pub/sub channels with subscribers.'),
  pubsub_patterns: g('redis_pubsub_patterns', 'Pub/sub patterns with subscribers.'),
  sync_full: g('redis_replica_resyncs_full', 'Full resyncs with replicas.'),
  sync_partial_ok: g('redis_replica_partial_resync_accepted', 'Accepted partial resync requests.'),
  sync_partial_err: g('redis_replica_partial_resync_denied', 'Denied partial resync requests.'),
  slave_expires_tracked_keys: g(
    'redis_slave_expires_tracked_keys',
    'Keys tracked for expiry on a writable replica.',
  ),
  active_defrag_hits: g('redis_defrag_hits', 'Value reallocations done by active defragmentation.'),
  active_defrag_misses: g('redis_defrag_misses', 'Aborted value reallocations by active defragmentation.'),
  active_defrag_key_hits: g('redis_defrag_key_hits', 'Keys actively defragmented.'),
  active_defrag_key_misses: g('redis_defrag_key_misses', 'Keys skipped by active defragmentation.'),
  tracking_total_keys: g('redis_tracking_total_keys', 'Keys tracked for client-side caching.'),
  tracking_total_items: g('redis_tracking_total_items', 'Items tracked for client-side caching.'),
  tracking_total_prefixes: g('redis_tracking_total_prefixes', 'Prefixes tracked for client-side caching.'),
  total_error_replies: u('redis_total_error_replies', 'Error replies sent by the server (a counter).'),
  unexpected_error_replies: u('redis_unexpected_error_replies', 'Unexpected error replies (a counter).'),
  dump_payload_sanitizations: u(
    'redis_dump_payload_sanitizations',
    'Deep dump payload sanitizations (a counter).',
  ),
  total_reads_processed: u('redis_total_reads_processed', 'Read events processed (a counter).'),
  total_writes_processed: u('redis_total_writes_processed', 'Write events processed (a counter).'),
  io_threaded_reads_processed: u(
    'redis_io_threaded_reads_processed',
    'Reads processed by I/O threads (a counter).',
  ),
  io_threaded_writes_processed: u(
    'redis_io_threaded_writes_processed',
    'Writes processed by I/O threads (a counter).',
  ),
  // Replication
  connected_slaves: g('redis_connected_slaves', 'Number of connected replicas.'),
  master_repl_offset: g('redis_master_repl_offset', 'Replication offset of this server.'),
  second_repl_offset: g('redis_second_repl_offset', 'Offset up to which replication IDs are accepted.'),
  repl_backlog_active: g('redis_repl_backlog_is_active', 'Whether the replication backlog is active.'),
  repl_backlog_size: g('redis_replication_backlog_bytes', 'Size of the replication backlog in bytes.'),
  repl_backlog_first_byte_offset: g(
    'redis_repl_backlog_first_byte_offset',
    'First offset in the replication backlog.',
  ),
  repl_backlog_histlen: g('redis_repl_backlog_history_bytes', 'Bytes of data in the replication backlog.'),
  master_last_io_seconds_ago: g(
    'redis_master_last_io_seconds_ago',
    'Seconds since the last interaction with the master.',
  ),
  master_sync_in_progress: g(
    'redis_master_sync_in_progress',
    'Whether the replica is syncing with its master.',
  ),
  slave_repl_offset: g('redis_slave_repl_offset', 'Replication offset of this replica.'),
  slave_priority: g('redis_slave_priority', 'Priority of this replica for promotion.'),
  // CPU
  used_cpu_sys: c('redis_cpu_sys_seconds_total', 'System CPU seconds used by Redis.'),
  used_cpu_user: c('redis_cpu_user_seconds_total', 'User CPU seconds used by Redis.'),
  used_cpu_sys_children: c(
    'redis_cpu_sys_children_seconds_total',
    'System CPU seconds used by child processes.',
  ),
  used_cpu_user_children: c(
    'redis_cpu_user_children_seconds_total',
    'User CPU seconds used by child processes.',
  ),
  used_cpu_sys_main_thread: c(
    'redis_cpu_sys_main_thread_seconds_total',
    'System CPU seconds of the main thread.',
  ),
  used_cpu_user_main_thread: c(
    'redis_cpu_user_main_thread_seconds_total',
    'User CPU seconds of the main thread.',
  ),
  // Cluster
  cluster_enabled: g('redis_cluster_enabled', 'Whether Redis Cluster is enabled.'),
};

/** redis_exporter's redis_instance_info labels, all taken from INFO. */
export const INSTANCE_INFO_LABELS = [
  'role',
  'redis_version',
  'redis_build_id',
  'redis_mode',
  'os',
  'maxmemory_policy',
  'tcp_port',
  'run_id',
  'process_id',
] as const;

export interface InfoFamilyOptions {
  /** Added to every sample (the configured target name on /metrics). */
  labels: Labels;
  /** Cap on `cmd` label values: the most-called commands are kept. */
  maxCommands: number;
  /** Cap on `db` label values. */
  maxDbs: number;
  /** Cap on replicas listed with their address. */
  maxReplicas: number;
}

function familyFor(m: FieldMetric): FamilyBuilder {
  if (m.kind === 'counter') return counter(m.name, m.help);
  if (m.kind === 'untyped') return untyped(m.name, m.help);
  return gauge(m.name, m.help);
}

/** Builds redis_exporter's families from parsed INFO. */
export function infoFamilies(info: RedisInfo, opts: InfoFamilyOptions): MetricFamily[] {
  const base = opts.labels;
  const out: MetricFamily[] = [];

  for (const [field, m] of Object.entries(INFO_FIELDS)) {
    const raw = info.fields.get(field);
    if (raw === undefined) continue;
    const value = m.status ? (raw === 'ok' ? 1 : 0) : Number(raw) * (m.scale ?? 1);
    if (Number.isNaN(value)) continue;
    out.push(familyFor(m).add({ ...base }, value));
  }

  const uptime = Number(info.fields.get('uptime_in_seconds'));
  const serverUsec = Number(info.fields.get('server_time_usec'));
  if (Number.isFinite(uptime) && Number.isFinite(serverUsec)) {
    out.push(
      gauge('redis_start_time_seconds', 'Unix time the Redis server started.').add(
        { ...base },
        Math.round(serverUsec / 1e6 - uptime),
      ),
    );
  }

  const masterLink = info.fields.get('master_link_status');
  if (masterLink !== undefined) {
    out.push(
      gauge('redis_master_link_up', 'Whether the replica is connected to its master.').add(
        { ...base },
        masterLink === 'up' ? 1 : 0,
      ),
    );
  }

  const instance: Labels = { ...base };
  for (const l of INSTANCE_INFO_LABELS) instance[l] = info.fields.get(l) ?? '';
  out.push(gauge('redis_instance_info', 'Information about the Redis instance.').add(instance, 1));

  if (info.fields.get('role') === 'slave') {
    out.push(
      gauge('redis_slave_info', 'Information about the master of this replica.').add(
        {
          ...base,
          master_host: info.fields.get('master_host') ?? '',
          master_port: info.fields.get('master_port') ?? '',
          read_only: info.fields.get('slave_read_only') ?? '',
        },
        1,
      ),
    );
  }

  out.push(...keyspaceFamilies(info.keyspace, opts));
  out.push(...commandFamilies(info.commands, opts));

  const slaveOffset = gauge(
    'redis_connected_slave_offset_bytes',
    'Replication offset of a connected replica.',
  );
  const slaveLag = gauge('redis_connected_slave_lag_seconds', 'Lag of a connected replica in seconds.');
  for (const r of info.replicas.slice(0, opts.maxReplicas)) {
    const labels = { ...base, slave_ip: r.ip, slave_port: r.port, slave_state: r.state };
    if (Number.isFinite(r.offset)) slaveOffset.add(labels, r.offset);
    if (Number.isFinite(r.lag)) slaveLag.add(labels, r.lag);
  }
  out.push(slaveOffset, slaveLag);

  return out;
}

function keyspaceFamilies(keyspace: KeyspaceEntry[], opts: InfoFamilyOptions): MetricFamily[] {
  const keys = gauge('redis_db_keys', 'Total number of keys by DB.');
  const expiring = gauge('redis_db_keys_expiring', 'Total number of expiring keys by DB.');
  const avgTtl = gauge('redis_db_avg_ttl_seconds', 'Average TTL of expiring keys by DB, in seconds.');
  // INFO lists only non-empty DBs; db0 is always reported so an empty Redis still has the series.
  const byDb = new Map(keyspace.map((k) => [k.db, k]));
  if (!byDb.has('db0')) byDb.set('db0', { db: 'db0', keys: 0, expires: 0, avgTtlSeconds: 0 });
  const dbs = [...byDb.values()]
    .sort((a, b) => Number(a.db.slice(2)) - Number(b.db.slice(2)))
    .slice(0, opts.maxDbs);
  for (const k of dbs) {
    const labels = { ...opts.labels, db: k.db };
    keys.add(labels, k.keys);
    expiring.add(labels, k.expires);
    avgTtl.add(labels, k.avgTtlSeconds);
  }
  return [keys, expiring, avgTtl];
}

function commandFamilies(commands: CommandStat[], opts: InfoFamilyOptions): MetricFamily[] {
  const calls = counter('redis_commands_total', 'Total number of calls per command.');
  const duration = counter(
    'redis_commands_duration_seconds_total',
    'Total time spent per command, in seconds.',
  );
  const rejected = counter('redis_commands_rejected_calls_total', 'Rejected calls per command.');
  const failed = counter('redis_commands_failed_calls_total', 'Failed calls per command.');
  const top = [...commands]
    .sort((a, b) => b.calls - a.calls || a.cmd.localeCompare(b.cmd))
    .slice(0, opts.maxCommands);
  for (const s of top) {
    const labels = { ...opts.labels, cmd: s.cmd };
    calls.add(labels, s.calls);
    duration.add(labels, s.usec / 1e6);
    rejected.add(labels, s.rejectedCalls);
    failed.add(labels, s.failedCalls);
  }
  return [calls, duration, rejected, failed];
}
