import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, tempDir, waitFor, type Proc } from './util.js';

export interface PrometheusHandle {
  url: string;
  dir: string;
  proc: Proc;
  /** Instant query; returns the result vector. */
  query: (expr: string) => Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Active alerts as Prometheus evaluates them. */
  alerts: () => Promise<{ labels: Record<string, string>; state: string }[]>;
  stop: () => Promise<void>;
}

/**
 * A real Prometheus on a free loopback port with its own TSDB in a temp dir.
 * `config` is the prometheus.yml text; `files` are written next to it (rules, tokens).
 */
export async function startPrometheus(
  config: string,
  files: Record<string, string> = {},
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
  const proc = startProcess('prometheus', [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(tmp.path, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`prometheus exited: ${proc.output()}`);
      return (await fetch(`${url}/-/ready`)).ok;
    },
    30_000,
    'prometheus to be ready',
  );
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    dir: tmp.path,
    proc,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    alerts: async () =>
      (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).alerts,
    stop: async () => {
      await proc.stop();
      tmp.cleanup();
    },
  };
}
