// Generates the Grafana dashboards in this directory: `node monitoring/dashboards/generate.mjs [outdir]`.
// Edit panels here, regenerate, and commit both; tests/monitoring checks the JSON matches this file.
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
const OUT = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));
const DS = { type: 'prometheus', uid: '${datasource}' };
const F = '{job=~"$job",instance=~"$instance"}';
const f = (extra) => `{job=~"$job",instance=~"$instance",${extra}}`;
const RI = '$__rate_interval';
const DAY = 86400;

const steps = (...pairs) => pairs.map(([color, value]) => ({ color, value }));
const GREEN = steps(['green', null]);
const up = (warn, crit) => (crit === undefined ? steps(['green', null], ['red', warn]) : steps(['green', null], ['yellow', warn], ['red', crit]));
const down = (warn, crit) => (crit === undefined ? steps(['red', null], ['green', warn]) : steps(['red', null], ['yellow', crit], ['green', warn]));
const UPDOWN = { type: 'value', options: { 0: { text: 'DOWN', color: 'red', index: 0 }, 1: { text: 'UP', color: 'green', index: 1 } } };

let nextId = 1;
function panel(type, title, targets, { unit, thresholds = GREEN, w = 12, h = 8, description, mappings, min, max, instant, thresholdsStyle, options, legendMode } = {}) {
  if (!unit) throw new Error(`unit for ${title}`);
  const p = {
    id: nextId++,
    type,
    title,
    ...(description ? { description } : {}),
    datasource: DS,
    gridPos: { h, w, x: 0, y: 0 },
    fieldConfig: {
      defaults: {
        unit,
        ...(min !== undefined ? { min } : {}),
        ...(max !== undefined ? { max } : {}),
        thresholds: { mode: 'absolute', steps: thresholds },
        ...(mappings ? { mappings: [mappings] } : { mappings: [] }),
        color: { mode: type === 'timeseries' ? 'palette-classic' : 'thresholds' },
        ...(type === 'timeseries'
          ? { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false, thresholdsStyle: { mode: thresholdsStyle ?? (thresholds.length > 1 ? 'line' : 'off') } } }
          : {}),
      },
      overrides: [],
    },
    options: options ?? defaultOptions(type, legendMode),
    targets: targets.map(([expr, legendFormat], i) => ({
      datasource: DS,
      expr,
      legendFormat: legendFormat ?? '__auto',
      refId: String.fromCharCode(65 + i),
      ...(type === 'table' || instant ? { instant: true, range: false, format: type === 'table' ? 'table' : 'time_series' } : { range: true }),
    })),
  };
  return p;
}
function defaultOptions(type, legendMode) {
  switch (type) {
    case 'timeseries':
      return { legend: { displayMode: legendMode ?? 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } };
    case 'stat':
      return { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'area', justifyMode: 'auto', textMode: 'auto', orientation: 'auto' };
    case 'gauge':
      return { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, showThresholdLabels: false, showThresholdMarkers: true, orientation: 'auto' };
    case 'table':
      return { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false } };
  }
}
function row(title) {
  return { id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: 0 }, panels: [] };
}
function layout(items) {
  let x = 0, y = 0, rowH = 0;
  for (const p of items) {
    if (p.type === 'row') {
      if (x > 0) { y += rowH; x = 0; rowH = 0; }
      p.gridPos.y = y; y += 1; continue;
    }
    if (x + p.gridPos.w > 24) { y += rowH; x = 0; rowH = 0; }
    p.gridPos.x = x; p.gridPos.y = y; x += p.gridPos.w; rowH = Math.max(rowH, p.gridPos.h);
  }
  return items;
}
const usedTypes = new Set();
function dashboard(uid, title, description, tags, items) {
  for (const p of items) if (p.type !== 'row') usedTypes.add(p.type);
  const types = [...new Set(items.filter((p) => p.type !== 'row').map((p) => p.type))].sort();
  const names = { timeseries: 'Time series', stat: 'Stat', gauge: 'Gauge', table: 'Table' };
  return {
    __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', description: 'Prometheus that scrapes stackwatch and the application', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
    __elements: {},
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ...types.map((t) => ({ type: 'panel', id: t, name: names[t], version: '' })),
    ],
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [{ asDropdown: true, icon: 'external link', includeVars: true, keepTime: true, tags: ['stackwatch'], title: 'stackwatch dashboards', type: 'dashboards' }],
    panels: layout(items),
    refresh: '30s',
    schemaVersion: 38,
    tags: ['stackwatch', ...tags],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: { selected: false, text: 'Prometheus', value: '${DS_PROMETHEUS}' }, hide: 0, includeAll: false, multi: false, options: [], refresh: 1, regex: '', skipUrlSync: false },
        { name: 'job', label: 'Job', type: 'query', datasource: DS, definition: 'label_values(up, job)', query: { query: 'label_values(up, job)', refId: 'PrometheusVariableQueryEditor-VariableQuery' }, multi: true, includeAll: true, allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] }, hide: 0, options: [], refresh: 2, regex: '', sort: 1, skipUrlSync: false },
        { name: 'instance', label: 'Instance', type: 'query', datasource: DS, definition: 'label_values(up{job=~"$job"}, instance)', query: { query: 'label_values(up{job=~"$job"}, instance)', refId: 'PrometheusVariableQueryEditor-VariableQuery' }, multi: true, includeAll: true, allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] }, hide: 0, options: [], refresh: 2, regex: '', sort: 1, skipUrlSync: false },
      ],
    },
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    title,
    uid,
    version: 1,
    weekStart: '',
  };
}
const write = (file, d) => { writeFileSync(`${OUT}/${file}`, JSON.stringify(d, null, 2) + '\n'); nextId = 1; };

// ---------------- Overview
const reqRate = `sum by (job) (rate(http_request_duration_seconds_count${F}[${RI}]))`;
write('overview.json', dashboard('stackwatch-overview', 'stackwatch / Overview',
  'Agent-V3 overview: service status, request volume trend, response-time distribution, error rate (thresholds from the Agent-V3 operations manual).',
  ['overview'], [
  row('Service status'),
  panel('stat', 'Health endpoints', [[`min by (target) (probe_success${F})`, '{{target}}']], { unit: 'none', thresholds: down(1), mappings: UPDOWN, w: 8, h: 5, description: 'stackwatch HTTP probes of /health, /health/db, /health/redis, /api/agents/status.' }),
  panel('stat', 'PostgreSQL', [[`min by (target) (pg_up${F})`, '{{target}}']], { unit: 'none', thresholds: down(1), mappings: UPDOWN, w: 4, h: 5 }),
  panel('stat', 'Redis', [[`min by (target) (redis_up${F})`, '{{target}}']], { unit: 'none', thresholds: down(1), mappings: UPDOWN, w: 4, h: 5 }),
  panel('stat', 'Containers not running', [[`count(max without (state) (container_state${f('state=~"created|paused|restarting|removing|exited|dead"')}) == 1) or vector(0)`, 'not running']], { unit: 'none', thresholds: up(1), w: 4, h: 5, description: 'Includes containers that exited with code 0 (finished jobs); the ContainerNotRunning alert does not.' }),
  panel('stat', 'Dead letters', [[`sum(stackwatch_dead_letters${F}) or vector(0)`, 'dead letters']], { unit: 'none', thresholds: up(1), w: 4, h: 5, description: 'Notifications stackwatch gave up delivering.' }),
  row('Traffic'),
  panel('timeseries', 'Request volume', [[`${reqRate} * 60`, '{{job}}']], { unit: 'reqpm', thresholds: down(10), thresholdsStyle: 'line', w: 12, description: 'Requests per minute. Warning below 10 req/min (ApiLowRequestVolume).' }),
  panel('stat', 'Requests per minute (5m)', [[`sum(job:http_requests:rate5m{job=~"$job"}) * 60`, 'req/min']], { unit: 'reqpm', thresholds: down(10), w: 4, h: 8 }),
  panel('stat', 'Response time P95 (5m)', [[`max(job:http_request_duration_seconds:p95_rate5m{job=~"$job"})`, 'P95']], { unit: 's', thresholds: up(2, 5), w: 4, h: 8, description: 'Warning above 2 s, critical above 5 s.' }),
  panel('stat', 'Error ratio (5m)', [[`max(job:http_request_error_ratio:rate5m{job=~"$job"})`, '5xx']], { unit: 'percentunit', thresholds: up(0.01, 0.05), w: 4, h: 8, description: 'Share of 5xx answers. Warning above 1 %, critical above 5 %.' }),
  row('Response time distribution'),
  panel('timeseries', 'Response time percentiles', [
    [`histogram_quantile(0.50, sum by (le) (rate(http_request_duration_seconds_bucket${F}[${RI}])))`, 'P50'],
    [`histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket${F}[${RI}])))`, 'P95'],
    [`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket${F}[${RI}])))`, 'P99'],
  ], { unit: 's', thresholds: up(2, 5), w: 12, description: 'P95 thresholds: warning 2 s, critical 5 s.' }),
  panel('timeseries', 'Requests by latency bucket', [[`sum by (le) (rate(http_request_duration_seconds_bucket${F}[${RI}]))`, '≤ {{le}} s']], { unit: 'reqps', w: 12, description: 'Cumulative request rate per histogram bucket upper bound.' }),
  row('Errors'),
  panel('timeseries', 'Error ratio', [[`sum by (job) (rate(http_request_duration_seconds_count${f('code=~"5.."')}[${RI}])) / (sum by (job) (rate(http_request_duration_seconds_count${F}[${RI}])) > 0)`, '{{job}}']], { unit: 'percentunit', thresholds: up(0.01, 0.05), min: 0, w: 12, description: '5xx answers / all requests. Warning above 1 %, critical above 5 %.' }),
  panel('table', 'Responses by status code', [[`sum by (code) (rate(http_request_duration_seconds_count${F}[${RI}]))`, '{{code}}']], { unit: 'reqps', w: 6 }),
  panel('table', 'Errors by handler', [[`topk(10, sum by (handler, code) (rate(http_request_duration_seconds_count${f('code=~"5.."')}[${RI}])))`, '{{handler}} {{code}}']], { unit: 'reqps', w: 6 }),
  panel('timeseries', 'Application log errors', [[`sum by (level) (rate(stackwatch_log_lines_total${f('level=~"ERROR|CRITICAL"')}[${RI}])) * 60`, '{{level}}']], { unit: 'suffix: lines/min', w: 24, h: 7, description: 'The manual\'s grep "ERROR\\|CRITICAL" app.log, counted by stackwatch.' }),
]));

// ---------------- Performance
write('performance.json', dashboard('stackwatch-performance', 'stackwatch / Performance',
  'API latency, LLM call time, task (tool) execution time, cache hit rate, slow statements.', ['performance'], [
  row('API latency'),
  panel('timeseries', 'API latency P95 by handler', [[`histogram_quantile(0.95, sum by (handler, le) (rate(http_request_duration_seconds_bucket${F}[${RI}])))`, '{{handler}}']], { unit: 's', thresholds: up(2, 5), w: 12, description: 'Warning above 2 s, critical above 5 s.' }),
  panel('timeseries', 'Request rate by handler', [[`sum by (handler) (rate(http_request_duration_seconds_count${F}[${RI}]))`, '{{handler}}']], { unit: 'reqps', w: 12 }),
  panel('table', 'Slowest handlers (mean)', [[`topk(10, sum by (handler) (rate(http_request_duration_seconds_sum${F}[${RI}])) / (sum by (handler) (rate(http_request_duration_seconds_count${F}[${RI}])) > 0))`, '{{handler}}']], { unit: 's', thresholds: up(2, 5), w: 24, h: 7 }),
  row('LLM calls'),
  panel('timeseries', 'LLM call time', [
    [`histogram_quantile(0.50, sum by (le) (rate(llm_api_duration_seconds_bucket${F}[${RI}])))`, 'P50'],
    [`histogram_quantile(0.95, sum by (le) (rate(llm_api_duration_seconds_bucket${F}[${RI}])))`, 'P95'],
    [`histogram_quantile(0.99, sum by (le) (rate(llm_api_duration_seconds_bucket${F}[${RI}])))`, 'P99'],
  ], { unit: 's', w: 12 }),
  panel('timeseries', 'LLM calls', [
    [`sum(rate(llm_api_calls_total${F}[${RI}]))`, 'calls'],
    [`sum(rate(llm_api_errors_total${F}[${RI}]))`, 'errors'],
  ], { unit: 'reqps', w: 6 }),
  panel('gauge', 'LLM error ratio (5m)', [[`max(job:llm_api_error_ratio:rate5m{job=~"$job"})`, 'errors / calls']], { unit: 'percentunit', thresholds: up(0.05), min: 0, max: 0.2, w: 6, description: 'Warning above 5 % (LLMErrorRate).' }),
  row('Task execution'),
  panel('timeseries', 'Task (tool) execution time', [
    [`histogram_quantile(0.50, sum by (le) (rate(agent_task_duration_bucket${F}[${RI}])))`, 'P50'],
    [`histogram_quantile(0.95, sum by (le) (rate(agent_task_duration_bucket${F}[${RI}])))`, 'P95'],
    [`histogram_quantile(0.99, sum by (le) (rate(agent_task_duration_bucket${F}[${RI}])))`, 'P99'],
  ], { unit: 's', thresholds: up(60), w: 12, description: 'From the agent_task_duration histogram (the platform exports no separate tool histogram). P99 warning above 60 s.' }),
  panel('timeseries', 'Task mean duration', [[`sum(rate(agent_task_duration_sum${F}[${RI}])) / (sum(rate(agent_task_duration_count${F}[${RI}])) > 0)`, 'mean']], { unit: 's', thresholds: up(60), w: 12 }),
  row('Caches and database'),
  panel('timeseries', 'Redis cache hit rate', [[`sum by (target) (rate(redis_keyspace_hits_total${F}[${RI}])) / ((sum by (target) (rate(redis_keyspace_hits_total${F}[${RI}])) + sum by (target) (rate(redis_keyspace_misses_total${F}[${RI}]))) > 0)`, '{{target}}']], { unit: 'percentunit', min: 0, max: 1, w: 8 }),
  panel('timeseries', 'PostgreSQL buffer cache hit rate', [[`sum by (target, datname) (rate(pg_stat_database_blks_hit${F}[${RI}])) / ((sum by (target, datname) (rate(pg_stat_database_blks_hit${F}[${RI}])) + sum by (target, datname) (rate(pg_stat_database_blks_read${F}[${RI}]))) > 0)`, '{{target}} {{datname}}']], { unit: 'percentunit', min: 0, max: 1, w: 8 }),
  panel('timeseries', 'Redis command latency (mean)', [[`topk(10, sum by (cmd) (rate(redis_commands_duration_seconds_total${F}[${RI}])) / (sum by (cmd) (rate(redis_commands_total${F}[${RI}])) > 0))`, '{{cmd}}']], { unit: 's', w: 8 }),
  panel('table', 'Slowest statements (mean time)', [[`topk(10, sum by (target, datname, user, queryid) (rate(pg_stat_statements_seconds_total${F}[${RI}])) / (sum by (target, datname, user, queryid) (rate(pg_stat_statements_calls_total${F}[${RI}])) > 0))`, '{{queryid}}']], { unit: 's', w: 12, description: 'The manual\'s slow-query view (pg_stat_statements ORDER BY mean_time DESC LIMIT 10), over the selected rate window.' }),
  panel('table', 'Longest running queries', [[`topk(10, pg_stat_activity_max_query_duration_seconds${F})`, '{{target}} {{datname}}']], { unit: 's', thresholds: up(300), w: 12 }),
]));

// ---------------- Infrastructure
write('infrastructure.json', dashboard('stackwatch-infrastructure', 'stackwatch / Infrastructure',
  'CPU, memory, disk, network traffic, database connections, Redis performance, containers, backups (thresholds from the Agent-V3 operations manual).', ['infrastructure'], [
  row('CPU and memory'),
  panel('gauge', 'CPU usage', [[`max by (instance) (system_cpu_usage${F})`, '{{instance}}']], { unit: 'percentunit', min: 0, max: 1, thresholds: up(0.8), w: 6, description: 'Warning above 80 %.' }),
  panel('gauge', 'Memory usage', [[`max by (instance) (system_memory_usage${F})`, '{{instance}}']], { unit: 'percentunit', min: 0, max: 1, thresholds: up(0.85, 0.95), w: 6, description: 'Warning above 85 %, critical above 95 %.' }),
  panel('timeseries', 'Container CPU', [[`sum by (name) (rate(container_cpu_usage_seconds_total${F}[${RI}]))`, '{{name}}']], { unit: 'percentunit', w: 12, description: 'CPU seconds per second (1 = one core), the docker stats CPU %.' }),
  panel('timeseries', 'Container memory (working set)', [[`sum by (name) (container_memory_working_set_bytes${F})`, '{{name}}']], { unit: 'bytes', w: 12 }),
  panel('timeseries', 'Container memory / limit', [[`sum by (name) (container_memory_working_set_bytes${F}) / (sum by (name) (container_spec_memory_limit_bytes${F}) > 0)`, '{{name}}']], { unit: 'percentunit', thresholds: up(0.85, 0.95), min: 0, w: 12 }),
  row('Disk'),
  panel('gauge', 'Disk space used', [[`1 - instance:node_filesystem_avail:ratio${F}`, '{{instance}} {{mountpoint}}']], { unit: 'percentunit', min: 0, max: 1, thresholds: up(0.8, 0.9), w: 12, description: 'Used = 1 − available / size. Warning below 20 % free, critical below 10 % free.' }),
  panel('table', 'Filesystems', [
    [`node_filesystem_size_bytes${F}`, 'size'],
    [`node_filesystem_avail_bytes${F}`, 'available'],
  ], { unit: 'bytes', w: 12 }),
  panel('timeseries', 'Container disk I/O', [
    [`sum by (name) (rate(container_fs_reads_bytes_total${F}[${RI}]))`, '{{name}} read'],
    [`-sum by (name) (rate(container_fs_writes_bytes_total${F}[${RI}]))`, '{{name}} write'],
  ], { unit: 'Bps', w: 12 }),
  row('Network'),
  panel('timeseries', 'Container network traffic', [
    [`sum by (name) (rate(container_network_receive_bytes_total${F}[${RI}]))`, '{{name}} in'],
    [`-sum by (name) (rate(container_network_transmit_bytes_total${F}[${RI}]))`, '{{name}} out'],
  ], { unit: 'Bps', w: 12 }),
  row('Database'),
  panel('timeseries', 'PostgreSQL connections', [
    [`sum by (target, state) (pg_stat_activity_count${F})`, '{{target}} {{state}}'],
    [`max by (target) (pg_settings_max_connections${F})`, '{{target}} max_connections'],
  ], { unit: 'short', thresholds: up(80), w: 12, description: 'Warning above 80 connections.' }),
  panel('stat', 'PostgreSQL connections (total)', [[`sum by (target) (pg_stat_activity_count${F})`, '{{target}}']], { unit: 'short', thresholds: up(80), w: 4 }),
  panel('stat', 'Waiting locks', [[`sum by (target) (pg_locks_waiting${F}) or vector(0)`, '{{target}}']], { unit: 'short', thresholds: up(1), w: 4 }),
  panel('stat', 'Blocked sessions', [[`sum by (target) (pg_blocked_sessions${F}) or vector(0)`, '{{target}}']], { unit: 'short', thresholds: up(1), w: 4 }),
  panel('timeseries', 'Transactions', [
    [`sum by (target) (rate(pg_stat_database_xact_commit${F}[${RI}]))`, '{{target}} commit'],
    [`sum by (target) (rate(pg_stat_database_xact_rollback${F}[${RI}]))`, '{{target}} rollback'],
  ], { unit: 'ops', w: 12 }),
  panel('table', 'Database size', [[`pg_database_size_bytes${F}`, '{{datname}}']], { unit: 'bytes', w: 6 }),
  panel('table', 'Unused indexes', [[`pg_unused_indexes${F}`, '{{datname}}']], { unit: 'short', w: 6 }),
  row('Redis'),
  panel('gauge', 'Redis memory', [[`instance:redis_memory_used:ratio${F}`, '{{target}}']], { unit: 'percentunit', min: 0, max: 1, thresholds: up(0.9), w: 6, description: 'Of maxmemory, or of system memory when maxmemory is 0. Warning above 90 %.' }),
  panel('timeseries', 'Redis commands', [[`sum by (target) (rate(redis_commands_total${F}[${RI}]))`, '{{target}}']], { unit: 'ops', w: 6 }),
  panel('timeseries', 'Redis clients', [
    [`sum by (target) (redis_connected_clients${F})`, '{{target}} connected'],
    [`sum by (target) (redis_blocked_clients${F})`, '{{target}} blocked'],
  ], { unit: 'short', w: 6 }),
  panel('timeseries', 'Redis evictions and expirations', [
    [`sum by (target) (rate(redis_evicted_keys_total${F}[${RI}]))`, '{{target}} evicted'],
    [`sum by (target) (rate(redis_expired_keys_total${F}[${RI}]))`, '{{target}} expired'],
  ], { unit: 'ops', w: 6 }),
  panel('timeseries', 'Keys per cache family', [[`sum by (target, prefix) (redis_key_prefix_keys${F})`, '{{target}} {{prefix}}']], { unit: 'short', w: 12, description: 'llm_response, tool_result, user_session, config.' }),
  panel('timeseries', 'Redis memory used', [
    [`sum by (target) (redis_memory_used_bytes${F})`, '{{target}} used'],
    [`sum by (target) (redis_memory_used_rss_bytes${F})`, '{{target}} rss'],
  ], { unit: 'bytes', w: 12 }),
  row('Containers and backups'),
  panel('table', 'Container state', [[`max by (name, image, state) (container_state${F}) == 1`, '{{name}}']], { unit: 'none', w: 8 }),
  panel('table', 'Container restarts', [[`max by (name) (container_restarts_total${F})`, '{{name}}']], { unit: 'short', thresholds: up(3), w: 8 }),
  // BackupTooOld compares each backup with its own max_age; one panel can show one bound, so the
  // colours follow the shipped weekly schedule (max_age: 8d): yellow after 7 days, red when it fires.
  panel('table', 'Backup age', [[`max by (backup) (stackwatch_backup_age_seconds${F})`, '{{backup}}']], { unit: 's', thresholds: up(7 * DAY, 8 * DAY), w: 8, description: 'Alert threshold: each backup\'s configured schedule bound (stackwatch_backup_max_age_seconds). Colours for the weekly schedule: yellow after 7 days, red after 8 (max_age: 8d).' }),
  panel('table', 'Backup integrity', [[`min by (backup) (stackwatch_backup_integrity_ok${F})`, '{{backup}}']], { unit: 'none', thresholds: down(1), mappings: { type: 'value', options: { 0: { text: 'FAILED', color: 'red', index: 0 }, 1: { text: 'OK', color: 'green', index: 1 } } }, w: 8 }),
  panel('table', 'Backup size', [[`max by (backup) (stackwatch_backup_size_bytes${F})`, '{{backup}}']], { unit: 'bytes', w: 8 }),
  row('stackwatch'),
  panel('table', 'Collector success', [[`min by (instance, collector) (stackwatch_scrape_collector_success${F})`, '{{collector}}']], { unit: 'none', thresholds: down(1), mappings: UPDOWN, w: 8 }),
  panel('timeseries', 'Collector duration', [[`max by (collector) (stackwatch_scrape_collector_duration_seconds${F})`, '{{collector}}']], { unit: 's', w: 8 }),
  panel('timeseries', 'Notifications', [
    [`sum by (integration) (rate(stackwatch_notifications_total${F}[${RI}]))`, '{{integration}} sent'],
    [`sum by (integration, reason) (rate(stackwatch_notifications_failed_total${F}[${RI}]))`, '{{integration}} failed ({{reason}})'],
  ], { unit: 'ops', w: 8 }),
  panel('timeseries', 'Notification latency P95', [[`histogram_quantile(0.95, sum by (le) (rate(stackwatch_notification_latency_seconds_bucket${F}[${RI}])))`, 'P95']], { unit: 's', w: 8 }),
  panel('timeseries', 'Outbox and dead letters', [
    [`sum(stackwatch_outbox_depth${F})`, 'outbox'],
    [`sum(stackwatch_dead_letters${F})`, 'dead letters'],
  ], { unit: 'short', thresholds: up(1), w: 8 }),
  panel('timeseries', 'Process memory (RSS)', [[`process_resident_memory_bytes${F}`, '{{job}} {{instance}}']], { unit: 'bytes', w: 8 }),
]));

// ---------------- Agent System
const success = `sum(rate(agent_tasks_completed${F}[${RI}])) / sum(rate(agent_tasks_total${F}[${RI}]))`;
// Neither manual gives a success-rate threshold and no rule alerts on it (TaskFailed counts failures
// per second): yellow below 95 % mirrors the guide's 5 % LLM error bound, red below 90 %.
const SUCCESS = down(0.95, 0.9);
write('agent-system.json', dashboard('stackwatch-agent-system', 'stackwatch / Agent System',
  'Agent Framework guide dashboard: task success rate, LLM latency P95, active tasks, LLM error ratio.', ['agent'], [
  row('Tasks'),
  panel('stat', 'Task success rate', [[success, 'success']], { unit: 'percentunit', thresholds: SUCCESS, min: 0, max: 1, w: 6, h: 6, description: 'sum(rate(agent_tasks_completed)) / sum(rate(agent_tasks_total)), as in the Agent Framework guide. Yellow below 95 %, red below 90 % (no alert; TaskFailed fires on failures per second).' }),
  panel('stat', 'Active tasks', [[`sum(agent_tasks_active${F})`, 'active']], { unit: 'short', thresholds: up(100), w: 6, h: 6, description: 'Warning above 100 per instance (AgentTooManyActiveTasks).' }),
  panel('stat', 'Failed tasks', [[`sum(rate(agent_tasks_failed${F}[${RI}]))`, 'failed/s']], { unit: 'suffix: tasks/s', thresholds: up(0.1), w: 6, h: 6, description: 'Critical above 0.1 per second (TaskFailed).' }),
  panel('stat', 'LLM error ratio', [[`sum(rate(llm_api_errors_total${F}[${RI}])) / (sum(rate(llm_api_calls_total${F}[${RI}])) > 0)`, 'errors / calls']], { unit: 'percentunit', thresholds: up(0.05), w: 6, h: 6, description: 'Warning above 5 % (LLMErrorRate).' }),
  panel('timeseries', 'Task success rate', [[success, 'success rate']], { unit: 'percentunit', thresholds: SUCCESS, min: 0, max: 1, w: 12 }),
  panel('timeseries', 'Tasks', [
    [`sum(rate(agent_tasks_total${F}[${RI}]))`, 'started'],
    [`sum(rate(agent_tasks_completed${F}[${RI}]))`, 'completed'],
    [`sum(rate(agent_tasks_failed${F}[${RI}]))`, 'failed'],
  ], { unit: 'suffix: tasks/s', thresholds: up(0.1), thresholdsStyle: 'off', w: 12 }),
  panel('timeseries', 'Active tasks by instance', [[`sum by (instance) (agent_tasks_active${F})`, '{{instance}}']], { unit: 'short', thresholds: up(100), w: 12 }),
  panel('timeseries', 'Task duration P99', [[`histogram_quantile(0.99, sum by (le) (rate(agent_task_duration_bucket${F}[${RI}])))`, 'P99']], { unit: 's', thresholds: up(60), w: 12, description: 'Warning above 60 s (HighLatency).' }),
  row('LLM'),
  panel('timeseries', 'LLM latency P95', [[`histogram_quantile(0.95, sum by (le) (rate(llm_api_duration_seconds_bucket${F}[${RI}])))`, 'P95']], { unit: 's', w: 12 }),
  panel('timeseries', 'LLM error ratio', [[`sum by (job) (rate(llm_api_errors_total${F}[${RI}])) / (sum by (job) (rate(llm_api_calls_total${F}[${RI}])) > 0)`, '{{job}}']], { unit: 'percentunit', thresholds: up(0.05), min: 0, w: 12 }),
  panel('timeseries', 'LLM calls', [
    [`sum(rate(llm_api_calls_total${F}[${RI}]))`, 'calls'],
    [`sum(rate(llm_api_errors_total${F}[${RI}]))`, 'errors'],
  ], { unit: 'reqps', w: 12 }),
  panel('table', 'Agents', [[`max by (target, agent) (probe_agent_running${F})`, '{{agent}}']], { unit: 'none', thresholds: down(1), mappings: { type: 'value', options: { 0: { text: 'not running', color: 'red', index: 0 }, 1: { text: 'running', color: 'green', index: 1 } } }, w: 12, description: 'State reported by /api/agents/status.' }),
]));
