/**
 * Metric names stackwatch's exporter and receiver export, by area (hand-maintained).
 * Rules and dashboards may use only these, the application metrics of SPEC §1.3, and the
 * recording rules in monitoring/rules. A drift test compares this list with the real /metrics.
 */
export const exporterMetricNames = {
  self: [
    'stackwatch_scrape_collector_success',
    'stackwatch_scrape_collector_duration_seconds',
    'stackwatch_build_info',
    'stackwatch_config_last_reload_successful',
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
  ],
  filesystem: [
    'node_filesystem_size_bytes',
    'node_filesystem_free_bytes',
    'node_filesystem_avail_bytes',
    'node_filesystem_files',
    'node_filesystem_files_free',
    'node_filesystem_readonly',
    'node_filesystem_device_error',
  ],
  docker: [
    'container_cpu_usage_seconds_total',
    'container_memory_usage_bytes',
    'container_memory_working_set_bytes',
    'container_spec_memory_limit_bytes',
    'container_network_receive_bytes_total',
    'container_network_transmit_bytes_total',
    'container_fs_reads_bytes_total',
    'container_fs_writes_bytes_total',
    'container_last_seen',
    'container_start_time_seconds',
    'docker_up',
    'container_state',
    'container_health_status',
    'container_restarts_total',
    'container_exit_code',
    'container_oom_killed',
  ],
  postgres: [
    'pg_up',
    'pg_stat_activity_count',
    'pg_stat_activity_max_tx_duration',
    'pg_locks_count',
    'pg_database_size_bytes',
    'pg_stat_database_xact_commit',
    'pg_stat_database_xact_rollback',
    'pg_stat_database_blks_read',
    'pg_stat_database_blks_hit',
    'pg_stat_database_deadlocks',
    'pg_stat_database_numbackends',
    'pg_settings_max_connections',
    'pg_stat_statements_calls_total',
    'pg_stat_statements_seconds_total',
    'pg_replication_lag_seconds',
    'pg_locks_waiting',
    'pg_blocked_sessions',
    'pg_stat_activity_max_query_duration_seconds',
    'pg_stat_user_indexes_idx_scan_total',
    'pg_unused_indexes',
  ],
  redis: [
    'redis_up',
    'redis_memory_used_bytes',
    'redis_memory_max_bytes',
    'redis_memory_used_rss_bytes',
    'redis_total_system_memory_bytes',
    'redis_mem_fragmentation_ratio',
    'redis_connected_clients',
    'redis_blocked_clients',
    'redis_rejected_connections_total',
    'redis_keyspace_hits_total',
    'redis_keyspace_misses_total',
    'redis_evicted_keys_total',
    'redis_expired_keys_total',
    'redis_db_keys',
    'redis_commands_total',
    'redis_commands_duration_seconds_total',
    'redis_slowlog_length',
    'redis_uptime_in_seconds',
    'redis_net_input_bytes_total',
    'redis_net_output_bytes_total',
    'redis_key_prefix_keys',
  ],
  probes: [
    'probe_success',
    'probe_duration_seconds',
    'probe_http_status_code',
    'probe_http_duration_seconds',
    'probe_ssl_earliest_cert_expiry',
    'probe_agent_running',
  ],
  backups: [
    'stackwatch_backup_age_seconds',
    'stackwatch_backup_max_age_seconds',
    'stackwatch_backup_size_bytes',
    'stackwatch_backup_integrity_ok',
    'stackwatch_backup_files',
  ],
  logs: ['stackwatch_log_lines_total'],
  receiver: [
    'stackwatch_notifications_total',
    'stackwatch_notifications_failed_total',
    'stackwatch_notification_latency_seconds',
    'stackwatch_outbox_depth',
    'stackwatch_dead_letters',
    'stackwatch_outbox_backlog',
    'stackwatch_outbox_oldest_age_seconds',
    'stackwatch_notification_errors_total',
    'stackwatch_digests_total',
    'stackwatch_digest_notifications_total',
    'stackwatch_rate_limit_waits_total',
    'stackwatch_rate_limit_wait_seconds_total',
    'stackwatch_webhook_requests_total',
    'stackwatch_receiver_replicas',
    'stackwatch_heartbeat_up',
    'stackwatch_heartbeat_last_seen_timestamp_seconds',
    'stackwatch_heartbeat_checks_total',
  ],
} as const;

/** Histograms among them: queries may use their _bucket, _sum and _count series. */
export const exporterHistograms = ['stackwatch_notification_latency_seconds'] as const;

/** The application's own metrics (SPEC §1.3), exported by the agent platform, not by stackwatch. */
export const applicationMetricNames = [
  'agent_tasks_total',
  'agent_tasks_completed',
  'agent_tasks_failed',
  'agent_tasks_active',
  'agent_task_duration',
  'llm_api_calls_total',
  'llm_api_errors_total',
  'llm_api_duration_seconds',
  'system_cpu_usage',
  'system_memory_usage',
  'http_request_duration_seconds',
] as const;

export const applicationHistograms = [
  'agent_task_duration',
  'llm_api_duration_seconds',
  'http_request_duration_seconds',
] as const;

/** Series Prometheus itself adds to every target. */
export const prometheusSyntheticNames = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'] as const;

function withHistogramSeries(names: readonly string[], histograms: readonly string[]): string[] {
  return names.flatMap((n) =>
    (histograms as readonly string[]).includes(n) ? [`${n}_bucket`, `${n}_sum`, `${n}_count`] : [n],
  );
}

/** Every series name an exporter-side query may select (histograms expanded to their series). */
export function allExporterSeriesNames(): string[] {
  return withHistogramSeries(Object.values(exporterMetricNames).flat(), exporterHistograms);
}

export function allApplicationSeriesNames(): string[] {
  return withHistogramSeries(applicationMetricNames, applicationHistograms);
}
