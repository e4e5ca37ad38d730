// The whole stack on loopback: Prometheus (1 s intervals) scrapes stackwatch and the fake
// application and evaluates the shipped rules; its alerts go through the real Alertmanager to
// stackwatch's receiver and arrive as mail at the real SMTP server. Every source stackwatch
// samples is real: PostgreSQL, Redis, a Docker engine, a gzip backup and a log file.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAlertmanager,
  testAlertmanagerConfig,
  type AlertmanagerHandle,
} from '../support/alertmanager.js';
import { BUSYBOX_IMAGE, startDockerEngine, type DockerEngine } from '../support/docker.js';
import { startFakeApp, type FakeAppHandle } from '../support/fakeapp.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startPrometheus, type PrometheusHandle } from '../support/prometheus.js';
import { startRedis, type RedisHandle } from '../support/redis.js';
import { startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import { samples, typeOf } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { makeCertificate } from '../support/tls.js';
import { run, tempDir, waitFor } from '../support/util.js';
import { allExporterSeriesNames, exporterMetricNames } from '../support/exporter-metric-names.js';
import { allPanels, loadDashboards, metricNamesInExpr, rulesDir } from '../support/promql.js';

const WEBHOOK_TOKEN = 'stack-webhook-token';

/**
 * The shipped rules with every `for:` cut to 3 s, so a minute-long condition of production
 * becomes seconds here; expressions, labels and annotations are unchanged.
 */
function rulesWithShortFor(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(rulesDir).filter((n) => n.endsWith('.yml'))) {
    const text = readFileSync(join(rulesDir, f), 'utf8');
    writeFileSync(join(dir, f), text.replace(/^(\s+)for: \S+$/gm, '$1for: 3s'));
  }
}

/** Grafana's variables for a query sent straight to Prometheus: every job and instance. */
function grafanaToPromql(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '15s')
    .replace(/\$__interval|\$\{__interval\}/g, '5s')
    .replace(/\$__range|\$\{__range\}/g, '1m')
    .replace(/\$\{(job|instance)(:[a-z]+)?\}|\$(job|instance)\b/g, '.*');
}

describe('whole stack: Prometheus rules → Alertmanager → stackwatch receiver → mail', () => {
  const tmp = tempDir('swstack');
  let pg: PostgresServer;
  let redis: RedisHandle;
  let docker: DockerEngine;
  let app: FakeAppHandle;
  let appTls: FakeAppHandle;
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let sw: StackwatchHandle;
  let am: AlertmanagerHandle;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    await makeCertificate(tmp.path, 30);
    const tls = {
      key: readFileSync(join(tmp.path, 'key.pem'), 'utf8'),
      cert: readFileSync(join(tmp.path, 'cert.pem'), 'utf8'),
    };
    [pg, redis, docker, app, appTls, smtp, slack] = await Promise.all([
      startPostgres(),
      startRedis(),
      startDockerEngine(),
      startFakeApp(),
      startFakeApp({ tls }),
      startSmtp(),
      startSlack(),
    ]);
    // A user-defined network gives the container an interface (the engine runs without the default
    // bridge); the memory limit feeds the memory-over-limit panel; dd does direct block I/O.
    await docker.docker(['network', 'create', 'stacknet']);
    await docker.docker([
      'run',
      '-d',
      '--name',
      'stack-worker',
      '--network',
      'none',
      '--health-cmd',
      'true',
      '--health-interval',
      '1s',
      BUSYBOX_IMAGE,
      'sleep',
      '3600',
    ]);
    await docker.docker([
      'run',
      '-d',
      '--name',
      'stack-api',
      '--network',
      'stacknet',
      '--memory',
      '64m',
      '--label',
      'com.docker.compose.service=api',
      BUSYBOX_IMAGE,
      'sh',
      '-c',
      'dd if=/dev/zero of=/io bs=1M count=8 oflag=direct; dd if=/io of=/dev/null bs=1M iflag=direct; sleep 3600',
    ]);
    await pg.psql(
      'create table jobs (id int primary key, name text); create index jobs_name on jobs (name);',
    );
    await redis.cli(['set', 'llm_response:1', 'x']);
    const backups = join(tmp.path, 'backups');
    mkdirSync(backups);
    writeFileSync(join(backups, 'postgres_20261126.sql.gz'), gzipSync('-- dump\n'.repeat(1000)));
    const appLog = join(tmp.path, 'app.log');
    writeFileSync(appLog, '2026-11-26 03:00:00 INFO started\n2026-11-26 03:00:01 ERROR upstream timeout\n');

    sw = await startStackwatch({
      config: `collectors:
  postgres:
    targets: [{ name: main, dsn: '${pg.dsn()}' }]
  redis:
    targets: [{ name: cache, url: '${redis.url}' }]
  docker:
    enabled: true
    host: ${docker.host}
    sample_interval: 1s
  probes:
    app_base_url: ${app.url}
    http:
      - name: app_tls
        url: ${appTls.url}/health
        tls: { ca_file: '${join(tmp.path, 'cert.pem')}' }
  backups:
    - { name: postgres, glob: '${backups}/postgres_*.sql.gz', max_age: 8d }
  logs:
    - { name: app, path: '${appLog}' }
receiver:
  webhook_token: ${WEBHOOK_TOKEN}
  email:
    smtp_url: ${smtp.url}
    from: 'stackwatch <alerts@stackwatch.test>'
  slack:
    webhook_url: ${slack.url}
`,
    });
    const tokenFile = join(tmp.path, 'token');
    writeFileSync(tokenFile, WEBHOOK_TOKEN);
    am = await startAlertmanager(testAlertmanagerConfig(`${sw.url}/api/v1/alerts`, tokenFile));

    rulesWithShortFor(join(tmp.path, 'rules'));
    prom = await startPrometheus(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
  external_labels: { cluster: test }
rule_files: ['${join(tmp.path, 'rules')}/*.yml']
alerting:
  alertmanagers:
    - static_configs: [{ targets: ['${new URL(am.url).host}'] }]
scrape_configs:
  - job_name: stackwatch
    static_configs: [{ targets: ['${new URL(sw.url).host}'] }]
  - job_name: agent-v3
    static_configs: [{ targets: ['${new URL(app.url).host}'] }]
`);
    // Traffic for the application's rate panels.
    app.metrics.tasksTotal.inc(10);
    app.metrics.tasksCompleted.inc(9);
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled([prom?.stop(), am?.stop(), sw?.stop()]);
    await Promise.allSettled([
      pg?.destroy(),
      redis?.close(),
      docker?.cleanup(),
      app?.close(),
      appTls?.close(),
    ]);
    await Promise.allSettled([smtp?.close(), slack?.close()]);
    tmp.cleanup();
  }, 120_000);

  /** Whether the engine reports block I/O for the container that did direct I/O. */
  const engineHasBlockIo = async () => {
    const stats = await docker.api<{ blkio_stats?: { io_service_bytes_recursive?: unknown[] | null } }>(
      '/containers/stack-api/stats?stream=false',
    );
    return (stats.blkio_stats?.io_service_bytes_recursive ?? []).length > 0;
  };

  it('every dashboard panel query on exporter metrics returns data from Prometheus', async () => {
    const exporterNames = new Set(allExporterSeriesNames());
    const queries = loadDashboards().flatMap(({ file, dashboard }) =>
      allPanels(dashboard.panels).flatMap((p) =>
        (p.targets ?? [])
          .filter((t) => typeof t.expr === 'string' && t.expr !== '')
          .map((t) => ({
            source: `${file}: ${p.title} (${t.refId})`,
            expr: grafanaToPromql(t.expr as string),
          })),
      ),
    );
    const onExporter = queries.filter((q) => metricNamesInExpr(q.expr).some((n) => exporterNames.has(n)));
    expect(onExporter.length).toBeGreaterThan(20);
    // Block I/O counters come from the engine's blkio stats. Where the kernel accounts no block
    // I/O to containers (seen on virtualised disks), the engine reports an empty list: then the
    // disk I/O panels must be empty too (stackwatch does not invent zeros) and every other
    // panel must have data.
    const isDiskIo = (q: { expr: string }) => /container_fs_(reads|writes)_bytes_total/.test(q.expr);
    const expectEmpty = (await engineHasBlockIo()) ? [] : onExporter.filter(isDiskIo);
    const mustHaveData = onExporter.filter((q) => !expectEmpty.includes(q));
    // Rates need two scrapes inside their window, and the stats sampler a first round.
    const empty = async () => {
      // Cache traffic while Prometheus watches, so the hit-rate panel has a non-zero denominator.
      await redis.cli(['get', 'llm_response:1']);
      await redis.cli(['get', 'llm_response:missing']);
      const out: string[] = [];
      for (const q of mustHaveData)
        if ((await prom.query(q.expr)).length === 0) out.push(`${q.source}: ${q.expr}`);
      return out;
    };
    let missing: string[] = [];
    await waitFor(
      async () => {
        missing = await empty();
        return missing.length === 0;
      },
      60_000,
      'every exporter panel to return data',
      1000,
    ).catch(() => undefined);
    expect(missing).toEqual([]);
    for (const q of expectEmpty) expect(await prom.query(q.expr), q.source).toEqual([]);
  }, 90_000);

  it('every name of the exporter list (which rules and dashboards may use) is in the real /metrics', async () => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    const absent = Object.entries(exporterMetricNames).flatMap(([area, names]) =>
      names.filter((n) => typeOf(text, n) === undefined).map((n) => `${area}: ${n}`),
    );
    // As above: block I/O counters exist only where the engine reports block I/O at all.
    const blockIo = ['docker: container_fs_reads_bytes_total', 'docker: container_fs_writes_bytes_total'];
    expect(absent).toEqual((await engineHasBlockIo()) ? [] : blockIo);
  });

  it('passes promtool check metrics with every collector and the receiver in one /metrics', async () => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    const collectors = samples(text, 'stackwatch_scrape_collector_success');
    expect(collectors.map((c) => c.labels.collector).sort()).toEqual(
      expect.arrayContaining(['docker', 'filesystem', 'postgres/main', 'redis/cache']),
    );
    expect(collectors.filter((c) => c.value !== 1)).toEqual([]);
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('PostgreSQL stopped: PostgresDown mails ops@ and oncall@ with the DBA contact; restarted: the resolved mail follows', async () => {
    const up = await prom.query('pg_up{job="stackwatch"}');
    expect(up.map((s) => s.value[1])).toEqual(['1']);

    await pg.stop();
    const firing = await waitFor(
      () => smtp.mails.find((m) => m.subject === '[FIRING:1] PostgresDown critical'),
      90_000,
      'the PostgresDown mail',
      250,
    );
    expect(firing.to.sort()).toEqual(['oncall@your-company.com', 'ops@your-company.com']);
    for (const s of ['数据库管理员', '13800138001', 'dba@company.com', '13800138000', 'oncall@company.com'])
      expect(firing.text).toContain(s);
    expect(firing.text).toContain('PostgreSQL is down.');
    expect(firing.text).toContain('docs/runbooks/postgres.md#postgresdown');
    // The alert that reached the mail is the one Prometheus evaluated from stackwatch's pg_up.
    expect((await prom.query('pg_up{job="stackwatch"}')).map((s) => s.value[1])).toEqual(['0']);

    await pg.start();
    const resolved = await waitFor(
      () => smtp.mails.find((m) => m.subject.startsWith('[RESOLVED] PostgresDown')),
      90_000,
      'the resolved PostgresDown mail',
      250,
    );
    expect(resolved.to.sort()).toEqual(['oncall@your-company.com', 'ops@your-company.com']);
    expect(resolved.inReplyTo).toBe(firing.messageId);
    expect(smtp.mails.filter((m) => m.subject === '[FIRING:1] PostgresDown critical')).toHaveLength(1);
  }, 200_000);
});
