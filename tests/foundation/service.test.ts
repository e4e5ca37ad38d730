import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stackwatch } from '../../src/app.js';
import { DEFAULT_MOUNT_POINTS_EXCLUDE } from '../../src/config/schema.js';
import { gauge } from '../../src/metrics/exposition.js';
import { CLI, REPO_ROOT, samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, run, startProcess, tempDir, waitFor, type Proc } from '../support/util.js';

describe('stackwatch with no configuration and no environment', () => {
  let sw: StackwatchHandle;
  let nodeExporter: Proc;
  let nodeExporterUrl: string;

  beforeAll(async () => {
    sw = await startStackwatch();
    const port = await freePort();
    nodeExporter = startProcess('prometheus-node-exporter', [
      `--web.listen-address=127.0.0.1:${port}`,
      '--collector.disable-defaults',
      '--collector.filesystem',
      // Debian patches this default to also hide /run, /mnt and /media; stackwatch keeps upstream's.
      `--collector.filesystem.mount-points-exclude=^${DEFAULT_MOUNT_POINTS_EXCLUDE}`,
    ]);
    nodeExporterUrl = `http://127.0.0.1:${port}/metrics`;
    await waitFor(async () => (await fetch(nodeExporterUrl)).ok, 15_000, 'node_exporter');
  });
  afterAll(async () => {
    await sw?.stop();
    await nodeExporter?.stop();
  });

  it('serves self metrics and the root filesystem', async () => {
    const res = await fetch(`${sw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const text = await res.text();
    expect(samples(text, 'stackwatch_scrape_collector_success')).toContainEqual({
      labels: { collector: 'filesystem' },
      value: 1,
    });
    expect(
      samples(text, 'stackwatch_scrape_collector_duration_seconds').map((s) => s.labels.collector),
    ).toContain('filesystem');
    expect(samples(text, 'stackwatch_build_info')[0]?.labels.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(samples(text, 'stackwatch_config_last_reload_successful')).toEqual([{ labels: {}, value: 1 }]);
    expect(samples(text, 'process_resident_memory_bytes')[0]?.value).toBeGreaterThan(0);
    const root = samples(text, 'node_filesystem_size_bytes').find((s) => s.labels.mountpoint === '/');
    expect(root?.value).toBeGreaterThan(0);
  });

  it('reports the same size for / as node_exporter', async () => {
    const ours = samples(await (await fetch(`${sw.url}/metrics`)).text(), 'node_filesystem_size_bytes');
    const theirs = samples(await (await fetch(nodeExporterUrl)).text(), 'node_filesystem_size_bytes');
    const theirRoot = theirs.find((s) => s.labels.mountpoint === '/');
    expect(theirRoot).toBeDefined();
    const ourRoot = ours.find((s) => s.labels.mountpoint === '/');
    expect(ourRoot).toEqual(theirRoot);
    // Every mount node_exporter reports, stackwatch reports with the same labels.
    expect(ours.map((s) => s.labels).sort(byMount)).toEqual(theirs.map((s) => s.labels).sort(byMount));
  });

  it('passes promtool check metrics without a single remark', async () => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${sw.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${sw.url}/-/ready`)).status).toBe(200);
  });

  it('refuses /probe for anything but a configured target name', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data', 'localhost:5432', 'nope']) {
      const res = await fetch(`${sw.url}/probe?target=${encodeURIComponent(target)}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toContain('not a configured target name');
    }
    expect((await fetch(`${sw.url}/probe`)).status).toBe(400);
  });
});

const byMount = (a: Record<string, string>, b: Record<string, string>) =>
  (a.mountpoint ?? '').localeCompare(b.mountpoint ?? '');

describe("the README's run command", () => {
  it('npm start serves self and filesystem metrics with no file and an environment of PATH and HOME only', async () => {
    // `--ignore-scripts` skips the prestart build: the suite has built dist/ already, and a
    // rebuild here would rewrite files that other test files are loading.
    const dataDir = join(REPO_ROOT, 'data');
    const hadData = existsSync(dataDir);
    const proc = startProcess(
      'npm',
      ['start', '--silent', '--ignore-scripts', '--', '--web.listen-address=127.0.0.1:0'],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
        // Its own process group, so stopping it stops npm's node child too.
        detached: true,
      },
    );
    try {
      const port = await waitFor(
        () => Number(/"port":(\d+)[^\n]*"msg":"listening"/.exec(proc.output())?.[1]) || undefined,
        20_000,
        'npm start to listen',
      );
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(samples(text, 'node_filesystem_size_bytes').map((s) => s.labels.mountpoint)).toContain('/');
      expect(samples(text, 'stackwatch_build_info')).toHaveLength(1);
      // The receiver is on, with the console channel and the default data directory.
      expect(proc.output()).toContain('./data');
      expect(existsSync(dataDir)).toBe(true);
      // The console opens with the link in the log, as the README says.
      const link = /"url":"([^"]+\/login\/once\/[^"]+)"/.exec(proc.output())?.[1];
      expect(link).toBe(`http://127.0.0.1:${port}/login/once/${link?.split('/').pop()}`);
      const signIn = await fetch(`http://127.0.0.1:${port}/login/once`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ user: 'newcomer', nonce: link?.split('/').pop() ?? '' }).toString(),
        redirect: 'manual',
      });
      expect([signIn.status, signIn.headers.get('location')]).toEqual([303, '/']);
    } finally {
      await proc.stop();
      if (!hadData) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('scrape deadline', () => {
  let sw: Stackwatch;
  let url: string;
  const tmp = tempDir('swdl');

  beforeAll(async () => {
    sw = new Stackwatch({
      listenAddress: '127.0.0.1:0',
      env: { STACKWATCH_DATA_DIR: tmp.path },
      logLevel: 'error',
    });
    const addr = await sw.start();
    url = `http://127.0.0.1:${addr.port}`;
    sw.collectors.push(
      { name: 'hung', collect: () => new Promise(() => undefined) },
      { name: 'quick', collect: async () => [gauge('quick_value', 'A value.').add({}, 7)] },
    );
  });
  afterAll(async () => {
    await sw.stop(1000);
    tmp.cleanup();
  });

  it('cuts a hanging collector at the header deadline and answers with everything else', async () => {
    const started = Date.now();
    const res = await fetch(`${url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '2' } });
    const text = await res.text();
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    // Deadline semantics: 2 s header minus the 0.5 s offset; the answer cannot wait for the hung collector.
    expect(elapsed).toBeLessThan(2000);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(samples(text, 'stackwatch_scrape_collector_success')).toEqual(
      expect.arrayContaining([
        { labels: { collector: 'hung' }, value: 0 },
        { labels: { collector: 'quick' }, value: 1 },
        { labels: { collector: 'filesystem' }, value: 1 },
      ]),
    );
    expect(samples(text, 'quick_value')).toEqual([{ labels: {}, value: 7 }]);
    expect(samples(text, 'node_filesystem_size_bytes').length).toBeGreaterThan(0);
  });
});

describe('probe', () => {
  let sw: Stackwatch;
  let url: string;
  const tmp = tempDir('swpr');
  beforeAll(async () => {
    sw = new Stackwatch({
      listenAddress: '127.0.0.1:0',
      env: { STACKWATCH_DATA_DIR: tmp.path },
      logLevel: 'error',
    });
    url = `http://127.0.0.1:${(await sw.start()).port}`;
    sw.collectors.push(
      {
        name: 'db/main',
        target: 'main',
        collect: async () => [gauge('db_up', 'Up.').add({ target: 'main' }, 1)],
      },
      {
        name: 'db/other',
        target: 'other',
        collect: async () => [gauge('db_up', 'Up.').add({ target: 'other' }, 0)],
      },
    );
  });
  afterAll(async () => {
    await sw.stop(1000);
    tmp.cleanup();
  });

  it('scrapes only the named target, without the target label', async () => {
    const text = await (await fetch(`${url}/probe?target=main`)).text();
    expect(samples(text, 'db_up')).toEqual([{ labels: {}, value: 1 }]);
    expect(samples(text, 'stackwatch_scrape_collector_success')).toEqual([
      { labels: { collector: 'db/main' }, value: 1 },
    ]);
    expect(samples(text, 'node_filesystem_size_bytes')).toEqual([]);
  });

  it('keeps every target, told apart by the target label, in /metrics', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(samples(text, 'db_up')).toEqual([
      { labels: { target: 'main' }, value: 1 },
      { labels: { target: 'other' }, value: 0 },
    ]);
  });
});

describe('reload', () => {
  let sw: StackwatchHandle;
  const good =
    'global:\n  scrape_timeout: 5s\ncollectors:\n  filesystem:\n    enabled: true\n  uname:\n    enabled: true\n';
  beforeAll(async () => {
    sw = await startStackwatch({ config: good });
  });
  afterAll(async () => sw?.stop());

  const reloadGauge = async () =>
    samples(await (await fetch(`${sw.url}/metrics`)).text(), 'stackwatch_config_last_reload_successful')[0]
      ?.value;

  it('keeps serving the old config when the new file is bad (POST /-/reload)', async () => {
    writeFileSync(sw.configFile as string, good.replace('enabled: true', 'enabled: true\n    typo_key: 1'));
    const res = await fetch(`${sw.url}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toBe(
      'config: collectors.filesystem.typo_key: unknown key',
    );
    const metrics = await fetch(`${sw.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(samples(await metrics.text(), 'node_filesystem_size_bytes').length).toBeGreaterThan(0);
    expect(await reloadGauge()).toBe(0);
  });

  it('applies a good file on SIGHUP and reports success again', async () => {
    writeFileSync(sw.configFile as string, good.replaceAll('enabled: true', 'enabled: false'));
    sw.proc.child.kill('SIGHUP');
    await waitFor(async () => (await reloadGauge()) === 1, 10_000, 'reload after SIGHUP');
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    expect(samples(text, 'node_filesystem_size_bytes')).toEqual([]);
    expect(samples(text, 'stackwatch_scrape_collector_success')).toEqual([]);
  });

  it('rejects a bad file on SIGHUP and keeps running', async () => {
    writeFileSync(sw.configFile as string, 'collectors: [broken\n');
    sw.proc.child.kill('SIGHUP');
    await waitFor(async () => (await reloadGauge()) === 0, 10_000, 'failed reload after SIGHUP');
    expect(sw.logs()).toContain('config reload failed; keeping the running configuration');
    expect((await fetch(`${sw.url}/-/healthy`)).status).toBe(200);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    sw.proc.child.kill('SIGTERM');
    expect(await sw.proc.exited).toBe(0);
  });
});

describe('stackwatch check on the shipped example config', () => {
  it('is valid', async () => {
    const r = await run(process.execPath, [CLI, 'check-config', join(REPO_ROOT, 'examples/stackwatch.yml')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
