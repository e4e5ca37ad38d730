import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { freePort, startProcess, tempDir, waitFor, type Proc } from './util.js';

export interface AlertmanagerHandle {
  url: string;
  dir: string;
  proc: Proc;
  /** POST /api/v2/alerts. */
  postAlerts: (alerts: PostableAlert[]) => Promise<void>;
  /** Active alerts as Alertmanager sees them. */
  alerts: () => Promise<{ labels: Record<string, string>; status: { state: string } }[]>;
  /** Stops the process (Alertmanager is down), keeping its port and storage. */
  halt: () => Promise<void>;
  /** Starts it again on the same port with the same storage, and waits until it is ready. */
  resume: () => Promise<void>;
  stop: () => Promise<void>;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * A real prometheus-alertmanager (0.25) without clustering, on a free loopback port with its
 * own storage. `config` is the alertmanager.yml text; `files` are written next to it.
 */
export async function startAlertmanager(
  config: string,
  files: Record<string, string> = {},
): Promise<AlertmanagerHandle> {
  const tmp = tempDir('swam');
  for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp.path, name), content);
  const configFile = join(tmp.path, 'alertmanager.yml');
  writeFileSync(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const p = startProcess('prometheus-alertmanager', [
      `--config.file=${configFile}`,
      `--storage.path=${join(tmp.path, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ]);
    await waitFor(
      async () => {
        if (p.child.exitCode !== null) throw new Error(`alertmanager exited: ${p.output()}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      30_000,
      'alertmanager to be ready',
    );
    return p;
  };
  let proc = await launch();
  return {
    url,
    dir: tmp.path,
    get proc() {
      return proc;
    },
    postAlerts: async (alerts) => {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok) throw new Error(`alertmanager POST /api/v2/alerts: ${res.status} ${await res.text()}`);
    },
    alerts: async () =>
      (await (await fetch(`${url}/api/v2/alerts`)).json()) as Awaited<
        ReturnType<AlertmanagerHandle['alerts']>
      >,
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
 * An alertmanager.yml with the manuals' routing and grouping, timings shortened for tests, and
 * the Watchdog route of monitoring/alertmanager.yml: the Watchdog to stackwatch every second.
 */
export function testAlertmanagerConfig(webhookUrl: string, tokenFile: string): string {
  const receiver = (name: string) => `  - name: ${name}
    webhook_configs:
      - url: ${webhookUrl}
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials_file: ${tokenFile}
`;
  return `global:
  resolve_timeout: 5m
route:
  receiver: team-ops
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 12h
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: stackwatch-watchdog
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 1s
    - matchers: ['severity="critical"']
      receiver: team-ops-critical
    - matchers: ['severity="warning"']
      receiver: team-ops-warning
receivers:
${receiver('team-ops')}${receiver('team-ops-critical')}${receiver('team-ops-warning')}${receiver('stackwatch-watchdog')}`;
}
