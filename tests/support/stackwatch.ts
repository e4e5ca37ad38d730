import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, tempDir, waitFor, type Proc } from './util.js';

// The exposition lookups most tests import from here, read by the one parser in exposition.ts.
import { samples } from './exposition.js';
export { parseMetrics, samples } from './exposition.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

export interface StackwatchHandle {
  url: string;
  port: number;
  proc: Proc;
  dir: string;
  configFile?: string;
  logs: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export interface StartOptions {
  /** YAML written to a config file passed with --config.file. */
  config?: string;
  /** Extra flags. */
  args?: string[];
  /** Environment; by default none of the shortcut variables leak in from the test process. */
  env?: Record<string, string>;
  /** Reuse a directory (e.g. a data dir across restarts). */
  dir?: string;
  /** Scheme used to build `url` (https when a web config enables TLS). */
  scheme?: 'http' | 'https';
  /** Another build or Node.js (the benchmarks compare releases and runtimes); default this one's. */
  build?: { node: string; cli: string };
}

const SHORTCUTS = [
  'DATABASE_URL',
  'REDIS_URL',
  'DOCKER_HOST',
  'SMTP_URL',
  'SLACK_WEBHOOK_URL',
  'STACKWATCH_WEBHOOK_TOKEN',
  'STACKWATCH_DATA_DIR',
  'LOG_LEVEL',
];

/** Starts the built service (dist/cli.js) on a free loopback port and waits until it listens. */
export async function startStackwatch(opts: StartOptions = {}): Promise<StackwatchHandle> {
  const dir = opts.dir ?? tempDir('swt').path;
  const args = ['--web.listen-address=127.0.0.1:0', ...(opts.args ?? [])];
  let configFile: string | undefined;
  if (opts.config !== undefined) {
    configFile = join(dir, 'stackwatch.yml');
    writeFileSync(configFile, opts.config);
    args.push(`--config.file=${configFile}`);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SHORTCUTS.includes(k)) env[k] = v;
  Object.assign(env, { STACKWATCH_DATA_DIR: join(dir, 'data') }, opts.env);
  const { node, cli } = opts.build ?? { node: process.execPath, cli: CLI };
  const proc = startProcess(node, [cli, ...args], { env, cwd: dir });
  const port = await waitFor(
    () => {
      if (proc.child.exitCode !== null)
        throw new Error(`stackwatch exited ${proc.child.exitCode}: ${proc.output()}`);
      const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(proc.output());
      return m ? Number(m[1]) : undefined;
    },
    20_000,
    'stackwatch to listen',
  );
  const url = `${opts.scheme ?? 'http'}://127.0.0.1:${port}`;
  return { url, port, proc, dir, configFile, logs: proc.output, stop: (signal) => proc.stop(signal) };
}

/** GET of the receiver's read API with its bearer token, parsed as JSON. */
export async function apiJson<T>(baseUrl: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as T;
}

/**
 * Waits for `n` more escalation checks of the service than it has run now: what should have
 * been escalated by then was, so a group passed over was passed over, not late.
 */
export async function moreEscalationChecks(baseUrl: string, n: number): Promise<void> {
  const checks = async () =>
    samples(await (await fetch(`${baseUrl}/metrics`)).text(), 'stackwatch_escalation_checks_total')[0]
      ?.value ?? 0;
  const seen = await checks();
  await waitFor(async () => (await checks()) >= seen + n, 30_000, `${n} more escalation checks`);
}
