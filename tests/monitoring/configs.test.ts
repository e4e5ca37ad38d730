import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { freePort, sleep, startProcess, tempDir, waitFor, type Proc } from '../support/util.js';
import { repoRoot, ruleFileNames, rulesDir } from '../support/promql.js';

const promConfigPath = join(repoRoot, 'monitoring', 'prometheus.yml');
const amConfigPath = join(repoRoot, 'monitoring', 'alertmanager.yml');
const WEBHOOK = 'http://stackwatch:9879/api/v1/alerts';
const TOKEN_FILE = '/etc/alertmanager/stackwatch-token';

function run(cmd: string, args: string[], cwd = repoRoot) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

interface AmConfig {
  route: {
    receiver: string;
    group_by: string[];
    group_wait: string;
    group_interval: string;
    repeat_interval: string;
    routes: {
      matchers: string[];
      receiver: string;
      group_wait?: string;
      group_interval?: string;
      repeat_interval?: string;
    }[];
  };
  receivers: {
    name: string;
    webhook_configs?: {
      url: string;
      send_resolved: boolean;
      http_config: { authorization: { type: string; credentials_file: string } };
    }[];
  }[];
  inhibit_rules?: unknown[];
}

/** A copy of alertmanager.yml whose token file exists, optionally with the webhook URL replaced. */
function amCopy(dir: string, webhookUrl?: string, fast = false): { file: string; token: string } {
  const token = 'test-token-' + Math.random().toString(36).slice(2);
  const tokenFile = join(dir, 'stackwatch-token');
  writeFileSync(tokenFile, token + '\n');
  const cfg = parseYaml(readFileSync(amConfigPath, 'utf8')) as AmConfig;
  for (const r of cfg.receivers)
    for (const w of r.webhook_configs ?? []) {
      w.http_config.authorization.credentials_file = tokenFile;
      if (webhookUrl) w.url = webhookUrl;
    }
  if (fast) cfg.route.group_wait = '1s';
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, stringifyYaml(cfg));
  return { file, token };
}

describe('prometheus.yml', () => {
  it('passes promtool check config with every rule file loaded', () => {
    const tmp = tempDir('swpc');
    try {
      copyFileSync(promConfigPath, join(tmp.path, 'prometheus.yml'));
      mkdirSync(join(tmp.path, 'rules'));
      for (const f of ruleFileNames()) copyFileSync(join(rulesDir, f), join(tmp.path, 'rules', f));
      const r = run('promtool', ['check', 'config', 'prometheus.yml'], tmp.path);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain(`SUCCESS: ${ruleFileNames().length} rule files found`);
      expect(r.out).not.toMatch(/WARNING|FAILED/);
    } finally {
      tmp.cleanup();
    }
  });

  it('scrapes stackwatch and the application, loads the rules, alerts to Alertmanager', () => {
    const cfg = parseYaml(readFileSync(promConfigPath, 'utf8')) as {
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
    };
    expect(cfg.rule_files).toEqual(['rules/*.yml']);
    expect(cfg.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))).toEqual([
      'alertmanager:9093',
    ]);
    const targets = cfg.scrape_configs.flatMap((s) => (s.static_configs ?? []).flatMap((c) => c.targets));
    expect(targets).toContain('stackwatch:9879');
    expect(targets).toContain('app:8000');
  });
});

describe('alertmanager.yml', () => {
  const cfg = parseYaml(readFileSync(amConfigPath, 'utf8')) as AmConfig;

  it('passes amtool check-config', () => {
    const tmp = tempDir('swam');
    try {
      const { file } = amCopy(tmp.path);
      const r = run('amtool', ['check-config', file]);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain('SUCCESS');
      // and as shipped (the token path need not exist on the checking machine)
      const shipped = run('amtool', ['check-config', amConfigPath]);
      expect(shipped.code, shipped.out).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });

  it("has the manual's grouping and timing", () => {
    expect(cfg.route).toMatchObject({
      receiver: 'team-ops',
      group_by: ['alertname', 'cluster', 'service'],
      group_wait: '10s',
      group_interval: '10s',
      repeat_interval: '12h',
    });
  });

  it('every receiver posts to stackwatch with a bearer token file and resolved notices', () => {
    expect(cfg.receivers.map((r) => r.name).sort()).toEqual([
      'stackwatch-watchdog',
      'team-ops',
      'team-ops-critical',
      'team-ops-warning',
    ]);
    for (const r of cfg.receivers) {
      expect(r.webhook_configs, r.name).toHaveLength(1);
      expect(r.webhook_configs![0]).toEqual({
        url: WEBHOOK,
        send_resolved: true,
        http_config: { authorization: { type: 'Bearer', credentials_file: TOKEN_FILE } },
      });
    }
  });

  it('sends the Watchdog, first of all routes, to stackwatch every minute (its heartbeat)', () => {
    expect(cfg.route.routes[0]).toEqual({
      matchers: ['alertname="Watchdog"'],
      receiver: 'stackwatch-watchdog',
      group_wait: '0s',
      group_interval: '1m',
      repeat_interval: '1m',
    });
  });

  it.each([
    [['alertname=Watchdog', 'severity=none'], 'stackwatch-watchdog'],
    [['severity=critical', 'alertname=PostgresDown', 'service=postgres'], 'team-ops-critical'],
    [['severity=warning', 'alertname=DiskSpaceLow', 'service=host'], 'team-ops-warning'],
    [['severity=info', 'alertname=Something'], 'team-ops'],
    [['alertname=NoSeverity'], 'team-ops'],
  ])('routes %j to %s (amtool config routes test)', (labels, receiver) => {
    const r = run('amtool', ['config', 'routes', 'test', `--config.file=${amConfigPath}`, ...labels]);
    expect(r.code, r.out).toBe(0);
    expect(r.out.split('\n').filter((l) => l && !l.startsWith('Warning'))).toEqual([receiver]);
  });
});

describe('Alertmanager delivering to the webhook (real prometheus-alertmanager)', () => {
  interface Received {
    auth: string | undefined;
    body: { version: string; receiver: string; status: string; alerts: { labels: Record<string, string> }[] };
  }
  const received: Received[] = [];
  let server: Server;
  let am: Proc;
  let amUrl: string;
  let token: string;
  const tmp = tempDir('swamd');

  beforeAll(async () => {
    server = createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, body: JSON.parse(data) as Received['body'] });
        res.writeHead(200).end('{}');
      });
    });
    const hookPort = await freePort();
    await new Promise<void>((r) => server.listen(hookPort, '127.0.0.1', r));
    const copy = amCopy(tmp.path, `http://127.0.0.1:${hookPort}/api/v1/alerts`, true);
    token = copy.token;
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    am = startProcess('prometheus-alertmanager', [
      `--config.file=${copy.file}`,
      `--storage.path=${join(tmp.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    await waitFor(
      async () => {
        if (am.child.exitCode !== null) throw new Error(`alertmanager exited: ${am.output()}`);
        return (await fetch(`${amUrl}/-/ready`)).ok;
      },
      30_000,
      'alertmanager to be ready',
    );
  });

  afterAll(async () => {
    await am?.stop();
    await new Promise((r) => server?.close(r));
    tmp.cleanup();
  });

  it('routes by severity, sends the bearer token, and lets critical inhibit warning', async () => {
    const alert = (labels: Record<string, string>) => ({
      labels: { cluster: 'test', ...labels },
      annotations: { summary: 'Test.' },
    });
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        alert({ alertname: 'PostgresDown', severity: 'critical', service: 'postgres', target: 'main' }),
        alert({ alertname: 'HostHighCpuUsage', severity: 'warning', service: 'host', instance: 'h1' }),
        alert({ alertname: 'Unclassified', service: 'api' }),
        alert({
          alertname: 'DiskSpaceLow',
          severity: 'critical',
          service: 'host',
          instance: 'h1',
          mountpoint: '/',
        }),
        alert({
          alertname: 'DiskSpaceLow',
          severity: 'warning',
          service: 'host',
          instance: 'h1',
          mountpoint: '/',
        }),
      ]),
    });
    expect(res.ok, await res.text()).toBe(true);
    const byAlert = (name: string) =>
      received.filter((r) => r.body.alerts.some((a) => a.labels.alertname === name));
    await waitFor(
      () =>
        ['PostgresDown', 'HostHighCpuUsage', 'Unclassified', 'DiskSpaceLow'].every(
          (n) => byAlert(n).length > 0,
        ),
      20_000,
      'webhook deliveries',
    );
    await sleep(2500); // group_wait is 1s: an uninhibited warning group would have been sent by now
    for (const r of received) {
      expect(r.auth).toBe(`Bearer ${token}`);
      expect(r.body.version).toBe('4');
      expect(r.body.status).toBe('firing');
    }
    expect(byAlert('PostgresDown').map((r) => r.body.receiver)).toEqual(['team-ops-critical']);
    expect(byAlert('HostHighCpuUsage').map((r) => r.body.receiver)).toEqual(['team-ops-warning']);
    expect(byAlert('Unclassified').map((r) => r.body.receiver)).toEqual(['team-ops']);
    const disk = byAlert('DiskSpaceLow').flatMap((r) =>
      r.body.alerts.map((a) => `${r.body.receiver}:${a.labels.severity}`),
    );
    expect(disk).toEqual(['team-ops-critical:critical']);
  });
});
