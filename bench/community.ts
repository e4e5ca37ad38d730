// The maintainer's drop-in check: every expression of the community's dashboards and alert rules
// in a folder (default ../shared/community, or the folder given as the first argument) is
// evaluated by one Prometheus that scrapes the anchor exporters and by one that scrapes
// stackwatch, both on the same real PostgreSQL, Redis, Docker engine and HTTPS server, with the
// job names the community uses. An expression counts when the anchors answer it (a non-empty
// result); the share is how many of those stackwatch answers too. The community files are read
// where they are, never copied into the repository.
//
//   npm run bench -- community            (or: node --import tsx bench/community.ts DIR)
import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { allPanels, templateVariableExpr, type GrafanaPanel } from '../tests/support/promql.js';
import { BUSYBOX_IMAGE, startDockerEngine } from '../tests/support/docker.js';
import { startFakeApp } from '../tests/support/fakeapp.js';
import { startPostgres } from '../tests/support/postgres.js';
import { startPrometheus, type PrometheusHandle } from '../tests/support/prometheus.js';
import { startRedis } from '../tests/support/redis.js';
import { REPO_ROOT, startStackwatch } from '../tests/support/stackwatch.js';
import { makeCertificate } from '../tests/support/tls.js';
import { freePort, sleep, startProcess, tempDir, waitFor } from '../tests/support/util.js';
import { machineNote, writeSection } from './_lib.js';

const dir = resolve(process.argv[2] ?? join(REPO_ROOT, '..', 'shared', 'community'));
/** Data of the cAdvisor stand-in, not dashboards or rules. */
const CADVISOR_DATA = 'cadvisor-anchor';
/** Seconds both Prometheus servers scrape before the expressions are evaluated: enough for rate(). */
const SCRAPE_FOR_S = 25;

interface Expression {
  /** Top folder of the file: the community source. */
  source: string;
  file: string;
  where: string;
  expr: string;
}

// ---------------------------------------------------------------- reading the community files

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    if (statSync(path).isDirectory()) return name === CADVISOR_DATA ? [] : filesUnder(path);
    return name.endsWith('.md') ? [] : [path];
  });
}

interface Dashboard {
  panels?: GrafanaPanel[];
  rows?: { panels?: GrafanaPanel[] }[];
  templating?: { list?: { name: string; query?: unknown; definition?: string }[] };
}

function dashboardExpressions(d: Dashboard): { where: string; expr: string }[] {
  const panels = allPanels([...(d.panels ?? []), ...(d.rows ?? []).flatMap((r) => r.panels ?? [])]);
  const out: { where: string; expr: string }[] = [];
  for (const p of panels)
    for (const t of p.targets ?? [])
      if (t.expr?.trim()) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const v of d.templating?.list ?? []) {
    const e = templateVariableExpr(v.query) ?? templateVariableExpr(v.definition);
    if (e) out.push({ where: `variable $${v.name}`, expr: e });
  }
  return out;
}

function ruleExpressions(doc: unknown): { where: string; expr: string }[] {
  const groups = (doc as { groups?: { rules?: { alert?: string; record?: string; expr?: unknown }[] }[] })
    ?.groups;
  return (groups ?? []).flatMap((g) =>
    (g.rules ?? []).flatMap((r) =>
      typeof r.expr === 'string' ? [{ where: r.alert ?? r.record ?? '?', expr: r.expr }] : [],
    ),
  );
}

function loadExpressions(root: string): Expression[] {
  const out: Expression[] = [];
  for (const path of filesUnder(root)) {
    const text = readFileSync(path, 'utf8');
    const file = relative(root, path);
    const source = file.split('/')[0] as string;
    let found: { where: string; expr: string }[];
    try {
      found = dashboardExpressions(JSON.parse(text) as Dashboard);
    } catch {
      found = ruleExpressions(parseYaml(text));
    }
    for (const f of found) out.push({ source, file, ...f });
  }
  return out;
}

// ---------------------------------------------------------------- making expressions evaluable

const COMPARISONS = new Set(['Eql', 'Neq', 'Gtr', 'Lss', 'Gte', 'Lte']);

/**
 * Grafana variables become "any value": a matcher on a variable matches everything (both sides
 * are scraped under the same job names, and instance values differ by design), a variable in a
 * range is 5m, anywhere else 1.
 */
export function substituteVariables(expr: string): string {
  return expr
    .replace(/(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*\$(?:[^"\\]|\\.)*)"/g, (_, op: string) =>
      op === '=' || op === '=~' ? '=~".*"' : '!~"__no_value__"',
    )
    .replace(/\[\s*\$\{?[A-Za-z_][A-Za-z0-9_:]*\}?\s*(:[^\]]*)?\]/g, (_, sub?: string) => `[5m${sub ?? ''}]`)
    .replace(/\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*/g, '1');
}

/**
 * Alert conditions answer nothing while all is well, on both sides. Every comparison gets
 * `bool`, so the question becomes "is there data to compare", which is what a dashboard or an
 * alert needs from an exporter.
 */
export function withBoolComparisons(expr: string): string {
  const inserts: number[] = [];
  const cursor = parser.parse(expr).cursor();
  do {
    if (!COMPARISONS.has(cursor.name) || cursor.node.parent?.name !== 'BinaryExpr') continue;
    if (cursor.node.nextSibling?.name === 'BoolModifier') continue;
    inserts.push(cursor.to);
  } while (cursor.next());
  let out = expr;
  for (const at of inserts.sort((a, b) => b - a)) out = `${out.slice(0, at)} bool${out.slice(at)}`;
  return out;
}

function parses(expr: string): boolean {
  let ok = true;
  parser.parse(expr).iterate({
    enter(n) {
      if (n.type.isError) ok = false;
    },
  });
  return ok;
}

// ---------------------------------------------------------------- the cAdvisor stand-in

/**
 * cAdvisor has no Debian package; its own test data stands in, as cAdvisor would serve it with
 * its default flags: kinds it disables by default dropped, sample timestamps removed.
 */
const CADVISOR_DISABLED =
  /^container_(memory_numa_|network_(tcp6?|udp6?)_usage|network_advance_tcp|cpu_schedstat_|processes|threads|file_descriptors|sockets|ulimits_|hugetlb_|referenced_bytes|llc_occupancy|memory_bandwidth|perf_|blkio_device_usage)/;

function cadvisorStandIn(): string {
  // prometheus.go adds the memory spec families for every container with a memory controller
  // (the test data's container has one: it reports memory usage).
  const memory = /^container_memory_usage_bytes(\{[^}]*\})/m.exec(
    readFileSync(join(dir, CADVISOR_DATA, 'prometheus_metrics'), 'utf8'),
  )?.[1];
  const spec = memory
    ? ['limit', 'swap_limit', 'reservation_limit'].flatMap((kind) => [
        `# HELP container_spec_memory_${kind}_bytes Memory ${kind.replace('_', ' ')} for the container.`,
        `# TYPE container_spec_memory_${kind}_bytes gauge`,
        `container_spec_memory_${kind}_bytes${memory} 0`,
      ])
    : [];
  const parts = ['prometheus_metrics', 'prometheus_machine_metrics'].map((f) =>
    readFileSync(join(dir, CADVISOR_DATA, f), 'utf8'),
  );
  const seen = new Set<string>();
  return (
    parts
      .join('\n')
      .split('\n')
      .filter((l) => {
        const name = l.startsWith('#') ? (l.split(' ')[2] ?? '') : (l.split(/[{ ]/)[0] ?? '');
        if (!l.trim() || CADVISOR_DISABLED.test(name)) return false;
        if (!l.startsWith('#')) return true;
        // Both files declare HELP/TYPE for the shared families.
        if (seen.has(l)) return false;
        seen.add(l);
        return true;
      })
      .map((l) => (l.startsWith('#') ? l : withoutTimestamp(l)))
      .concat(spec)
      .join('\n') + '\n'
  );
}

/** `name{labels} value timestamp` without the timestamp: a 2014 sample would be out of bounds. */
function withoutTimestamp(line: string): string {
  const labelsEnd = line.lastIndexOf('}');
  const nameEnd = labelsEnd >= 0 ? labelsEnd + 1 : line.indexOf(' ');
  const [value] = line.slice(nameEnd).trim().split(/\s+/);
  return `${line.slice(0, nameEnd)} ${value}`;
}

async function serve(body: string): Promise<{ server: Server; url: string }> {
  const port = await freePort();
  const server = createServer((_, res) =>
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body),
  );
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, url: `127.0.0.1:${port}` };
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  if (!existsSync(dir)) {
    process.stdout.write(`no community folder at ${dir}; give one as the first argument\n`);
    return;
  }
  const expressions = loadExpressions(dir);
  const tmp = tempDir('swcommunity');
  const stops: (() => Promise<unknown>)[] = [];
  try {
    // The real targets.
    const pgServer = await startPostgres();
    stops.push(() => pgServer.destroy());
    await pgServer.psql('create database app');
    await pgServer.psql(
      'create table orders(id int primary key, note text); insert into orders select g, g::text from generate_series(1, 1000) g; delete from orders where id <= 100; analyze orders',
    );
    await pgServer.psql("select pg_create_physical_replication_slot('standby1')");
    const redis = await startRedis();
    stops.push(() => redis.close());
    await redis.cli(['set', 'user_session:1', 'x']);
    await redis.cli(['set', 'config:a', 'y', 'EX', '3600']);
    const engine = await startDockerEngine();
    stops.push(() => engine.cleanup());
    // On a network of their own, so that they have network counters as cAdvisor's data has.
    await engine.docker(['network', 'create', 'swnet']);
    const run = (name: string, flags: string[], cmd: string[]) =>
      engine.docker(['run', '-d', '--network', 'swnet', '--name', name, ...flags, BUSYBOX_IMAGE, ...cmd]);
    await run(
      'api',
      [
        '--memory',
        '64m',
        '--cpus',
        '0.5',
        '-l',
        'com.docker.compose.service=api',
        '-l',
        'org.label-schema.group=monitoring',
      ],
      ['sh', '-c', 'while true; do echo x >/dev/null; sleep 0.2; done'],
    );
    await run('worker', [], ['sleep', '36000']);
    await makeCertificate(tmp.path, 30);
    const app = await startFakeApp({
      tls: {
        key: readFileSync(join(tmp.path, 'key.pem'), 'utf8'),
        cert: readFileSync(join(tmp.path, 'cert.pem'), 'utf8'),
      },
    });
    stops.push(() => app.close());
    const probeUrl = `${app.url.replace('127.0.0.1', 'localhost')}/health`;

    // The anchors.
    const exporter = async (bin: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
      const port = await freePort();
      const proc = startProcess(bin, [...args, `--web.listen-address=127.0.0.1:${port}`], {
        env: { ...process.env, ...env },
      });
      stops.push(() => proc.stop());
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).ok, 20_000, bin);
      return `127.0.0.1:${port}`;
    };
    const pgExporter = await exporter(
      '/usr/bin/prometheus-postgres-exporter',
      ['--extend.query-path=/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml'],
      { DATA_SOURCE_NAME: `${pgServer.dsn('postgres')}?sslmode=disable` },
    );
    const redisExporter = await exporter('/usr/bin/prometheus-redis-exporter', [`--redis.addr=${redis.url}`]);
    // node_exporter with the collectors stackwatch stands in for: filesystems and uname.
    const nodeExporter = await exporter('/usr/bin/prometheus-node-exporter', [
      '--collector.disable-defaults',
      '--collector.filesystem',
      '--collector.uname',
    ]);
    const blackboxConfig = join(tmp.path, 'blackbox.yml');
    writeFileSync(
      blackboxConfig,
      'modules:\n  http_2xx:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n      tls_config: { insecure_skip_verify: true }\n',
    );
    const blackbox = await exporter('/usr/bin/prometheus-blackbox-exporter', [
      `--config.file=${blackboxConfig}`,
    ]);
    const cadvisor = await serve(cadvisorStandIn());
    stops.push(() => new Promise((r) => cadvisor.server.close(r)));

    const sw = await startStackwatch({
      config: `
collectors:
  docker: { enabled: true, host: '${engine.host}', sample_interval: 2s }
  postgres:
    targets: [{ name: main, dsn: '${pgServer.dsn('postgres')}' }]
  redis:
    targets: [{ name: cache, url: '${redis.url}' }]
  probes:
    http: [{ name: web, url: '${probeUrl}', tls: { insecure_skip_verify: true } }]
`,
    });
    stops.push(() => sw.stop());
    const swTarget = new URL(sw.url).host;

    const job = (name: string, target: string, extra = '') =>
      `  - job_name: ${name}\n${extra}    static_configs: [{ targets: ['${target}'] }]\n`;
    const head = 'global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n';
    const anchorsProm = await startPrometheus(
      head +
        job('node', nodeExporter) +
        job('postgres', pgExporter) +
        job('redis', redisExporter) +
        job('cadvisor', cadvisor.url) +
        job(
          'blackbox',
          probeUrl,
          `    metrics_path: /probe\n    params: { module: [http_2xx] }\n    relabel_configs:\n      - { source_labels: [__address__], target_label: __param_target }\n      - { source_labels: [__param_target], target_label: instance }\n      - { target_label: __address__, replacement: '${blackbox}' }\n`,
        ),
    );
    stops.push(() => anchorsProm.stop());
    const collect = (kinds: string[]) => `    params: { 'collect[]': [${kinds.join(', ')}] }\n`;
    const swProm = await startPrometheus(
      head +
        job('node', swTarget, collect(['filesystem', 'uname'])) +
        job('postgres', swTarget, collect(['postgres'])) +
        job('redis', swTarget, collect(['redis'])) +
        job('cadvisor', swTarget, collect(['docker'])) +
        job('blackbox', swTarget, collect(['probe'])),
    );
    stops.push(() => swProm.stop());

    process.stdout.write(`${expressions.length} expressions from ${dir}; scraping for ${SCRAPE_FOR_S} s\n`);
    await sleep(SCRAPE_FOR_S * 1000);

    const results: (Expression & {
      evaluated: string;
      anchors: boolean;
      stackwatch: boolean;
      error?: string;
    })[] = [];
    const answers = async (prom: typeof anchorsProm, q: string) => {
      try {
        return { ok: (await prom.query(q)).length > 0 };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    };
    for (const e of expressions) {
      const substituted = substituteVariables(e.expr);
      if (!parses(substituted)) {
        results.push({
          ...e,
          evaluated: substituted,
          anchors: false,
          stackwatch: false,
          error: 'does not parse',
        });
        continue;
      }
      const evaluated = withBoolComparisons(substituted);
      const [a, s] = await Promise.all([answers(anchorsProm, evaluated), answers(swProm, evaluated)]);
      results.push({ ...e, evaluated, anchors: a.ok, stackwatch: s.ok, error: a.error });
    }
    report(results);
    await writeFamilies(anchorsProm, swProm);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    tmp.cleanup();
  }
}

/** Prometheus's own series for every target, and each runtime's own (Go, Node.js), not the exporter's. */
const SYNTHETIC = /^(up|scrape_.*|go_.*|process_.*|nodejs_.*|promhttp_.*)$/;
const ANCHOR_OF_JOB: Record<string, string> = {
  node: 'node_exporter (filesystem, uname)',
  postgres: 'postgres_exporter 0.11 + example queries',
  redis: 'redis_exporter',
  cadvisor: 'cAdvisor (its test data, default flags)',
  blackbox: 'blackbox_exporter (http prober)',
};

/** Families per job on each side, into the generated part of docs/COMPATIBILITY.md. */
async function writeFamilies(anchors: PrometheusHandle, stackwatch: PrometheusHandle): Promise<void> {
  const families = async (prom: PrometheusHandle) => {
    const byJob = new Map<string, Set<string>>();
    for (const r of await prom.query('group by (__name__, job) ({job=~".+"})')) {
      const name = r.metric.__name__ ?? '';
      if (SYNTHETIC.test(name)) continue;
      const job = r.metric.job ?? '';
      if (!byJob.has(job)) byJob.set(job, new Set());
      byJob.get(job)?.add(name);
    }
    return byJob;
  };
  const [theirs, ours] = await Promise.all([families(anchors), families(stackwatch)]);
  const list = (names: string[]) => (names.length ? names.map((n) => `\`${n}\``).join(', ') : '—');
  const sections = Object.entries(ANCHOR_OF_JOB).map(([job, anchor]) => {
    const t = theirs.get(job) ?? new Set<string>();
    const o = ours.get(job) ?? new Set<string>();
    const both = [...t].filter((n) => o.has(n)).sort();
    const missing = [...t].filter((n) => !o.has(n)).sort();
    const added = [...o].filter((n) => !t.has(n) && !n.startsWith('stackwatch_')).sort();
    return `### job="${job}": ${anchor}

${t.size} families on the anchor, ${both.length} of them from stackwatch as well.

- **Both** (${both.length}): ${list(both)}
- **Anchor only** (${missing.length}): ${list(missing)}
- **stackwatch only** (${added.length}): ${list(added)}
`;
  });
  const file = join(REPO_ROOT, 'docs', 'COMPATIBILITY.md');
  const marker = '<!-- generated by bench/community.ts: everything below -->';
  const doc = readFileSync(file, 'utf8');
  const at = doc.indexOf(marker);
  const head = at >= 0 ? doc.slice(0, at) : doc.trimEnd() + '\n\n';
  writeFileSync(
    file,
    `${head}${marker}\n\n## Families per anchor, as scraped in the check (${machineNote()})\n\n${sections.join('\n')}`,
  );
}

function report(
  results: {
    source: string;
    file: string;
    where: string;
    expr: string;
    anchors: boolean;
    stackwatch: boolean;
    error?: string;
  }[],
): void {
  const sources = [...new Set(results.map((r) => r.source))].sort();
  const rows = sources.map((source) => {
    const mine = results.filter((r) => r.source === source);
    const backed = mine.filter((r) => r.anchors);
    return {
      source,
      total: mine.length,
      backed: backed.length,
      answered: backed.filter((r) => r.stackwatch).length,
    };
  });
  const backed = results.filter((r) => r.anchors);
  const answered = backed.filter((r) => r.stackwatch);
  const share = (a: number, b: number) => (b ? (a / b).toFixed(2) : '—');
  const table = [
    '| Source | Expressions | Answered by the anchors | Also by stackwatch | Share |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) => `| ${r.source} | ${r.total} | ${r.backed} | ${r.answered} | ${share(r.answered, r.backed)} |`,
    ),
    `| **all** | ${results.length} | ${backed.length} | ${answered.length} | **${share(answered.length, backed.length)}** |`,
  ].join('\n');
  const misses = backed
    .filter((r) => !r.stackwatch)
    .map(
      (r) =>
        `- \`${r.file}\` (${r.where}): \`${r.expr.replace(/\s+/g, ' ').replace(/`/g, "'").slice(0, 160)}\``,
    );
  const body = `\`bench/community.ts\` (${machineNote()}): every expression of the dashboards and rule files in
\`../shared/community\` (the files stay there; \`SOURCES.md\` there names their repositories), evaluated
by a Prometheus scraping the anchors (postgres_exporter 0.11 with Debian's example queries,
redis_exporter, node_exporter with its filesystem and uname collectors, blackbox_exporter, and
cAdvisor's own test data as served with its default flags) and by one scraping a single
stackwatch through \`collect[]\`, both on the same PostgreSQL 15, Redis 7, Docker engine and
HTTPS server, with the community's job names. Grafana variables match any value; comparisons
get \`bool\`, so an alert counts when there is data to compare. An expression counts when the
anchors answer it. Target: ≥ 0.97 overall.

${table}

Expressions the anchors answer and stackwatch does not (${misses.length}):

${misses.join('\n') || '- none'}
`;
  process.stdout.write(`\n${table}\n\n${misses.join('\n')}\n`);
  writeSection('Community dashboards and alerts', body);
}

await main();
