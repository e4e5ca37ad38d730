import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rulesDir } from './promql.js';
import { freePort, startProcess, tempDir, waitFor, type Proc } from './util.js';

export interface PrometheusHandle {
  url: string;
  dir: string;
  proc: Proc;
  /** Instant query; returns the result vector. */
  query: (expr: string) => Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Active alerts as Prometheus evaluates them. */
  alerts: () => Promise<{ labels: Record<string, string>; state: string }[]>;
  /** Stops the process (Prometheus is down), keeping its port and TSDB. */
  halt: () => Promise<void>;
  /** Starts it again on the same port with the same TSDB, and waits until it is ready. */
  resume: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * A real Prometheus on a free loopback port with its own TSDB in a temp dir.
 * `config` is the prometheus.yml text; `files` are written next to it (rules, tokens).
 */
export async function startPrometheus(
  config: string,
  files: Record<string, string> = {},
  opts: { args?: string[] } = {},
): Promise<PrometheusHandle> {
  const tmp = tempDir('swprom');
  const port = await freePort();
  for (const [name, content] of Object.entries(files)) {
    const path = join(tmp.path, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
  const configFile = join(tmp.path, 'prometheus.yml');
  writeFileSync(configFile, config);
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const p = startProcess('prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(tmp.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(opts.args ?? []),
    ]);
    await waitFor(
      async () => {
        if (p.child.exitCode !== null) throw new Error(`prometheus exited: ${p.output()}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      30_000,
      'prometheus to be ready',
    );
    return p;
  };
  let proc = await launch();
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    dir: tmp.path,
    get proc() {
      return proc;
    },
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    alerts: async () =>
      (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).alerts,
    halt: () => proc.stop(),
    resume: async () => {
      proc = await launch();
    },
    stop: async () => {
      await proc.stop();
      tmp.cleanup();
    },
  };
}

/**
 * A Prometheus evaluating only the shipped Watchdog rule (monitoring/rules/watchdog.yml), every
 * second, alerting to the Alertmanager at `alertmanagerUrl`. With a 1 s resend delay its alerts
 * stay valid 4 s after the last evaluation: stopped, its Watchdog is resolved within seconds.
 */
export function startWatchdogPrometheus(alertmanagerUrl: string): Promise<PrometheusHandle> {
  return startPrometheus(
    `global:
  evaluation_interval: 1s
rule_files: ['rules/*.yml']
alerting:
  alertmanagers:
    - static_configs: [{ targets: ['${new URL(alertmanagerUrl).host}'] }]
`,
    { 'rules/watchdog.yml': readFileSync(join(rulesDir, 'watchdog.yml'), 'utf8') },
    { args: ['--rules.alert.resend-delay=1s'] },
  );
}
