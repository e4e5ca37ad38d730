// The shipped examples, run: examples/stackwatch.yml's heartbeats (the commented block,
// uncommented) in the built service, and examples/heartbeats.crontab's lines run by sh as cron
// would run them, with curl, against it. Only the host names and paths are this machine's.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { apiJson, REPO_ROOT, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { run, tempDir } from '../../support/util.js';

const API = 'api-token-0123456789';

/** The cron file's variables and jobs (the command after the five time fields). */
function readCrontab(text: string): {
  env: Record<string, string>;
  jobs: { schedule: string; command: string }[];
} {
  const env: Record<string, string> = {};
  const jobs: { schedule: string; command: string }[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const v = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (v) env[v[1]!] = v[2]!;
    else {
      const m = /^((?:\S+\s+){4}\S+)\s+(.*)$/.exec(line)!;
      jobs.push({ schedule: m[1]!, command: m[2]! });
    }
  }
  return { env, jobs };
}

/** The `heartbeats:` example commented out in examples/stackwatch.yml, as configuration. */
function exampleHeartbeats(): Record<string, unknown>[] {
  const lines = readFileSync(join(REPO_ROOT, 'examples', 'stackwatch.yml'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l === '  # heartbeats:');
  expect(start).toBeGreaterThan(0);
  const block: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith('  #   ')) break;
    block.push(l.slice('  # '.length));
  }
  return parseYaml(block.join('\n')) as Record<string, unknown>[];
}

describe('the example heartbeats and cron lines', () => {
  const tmp = tempDir('swcron');
  const cron = readCrontab(readFileSync(join(REPO_ROOT, 'examples', 'heartbeats.crontab'), 'utf8'));
  const heartbeats = exampleHeartbeats();
  const token = (name: string) => `token-of-${name}-0123456789`;
  let sw: StackwatchHandle;

  beforeAll(async () => {
    // The example's token files are the stackwatch host's; here each token is given inline.
    const configured = heartbeats.map(({ token_file: _file, ...h }) => ({
      ...h,
      token: token(String(h.name)),
    }));
    sw = await startStackwatch({
      config: stringifyYaml({
        receiver: {
          api_token: API,
          receivers: [
            { name: 'team-ops', channels: ['email'], recipients: ['ops@your-company.com'] },
            { name: 'team-ops-critical', channels: ['email'], recipients: ['oncall@your-company.com'] },
            { name: 'team-ops-warning', channels: ['email'], recipients: ['ops@your-company.com'] },
            { name: 'team-dba', channels: ['email'], recipients: ['role:dba'] },
          ],
          heartbeats: configured,
        },
      }),
    });
    for (const dir of ['etc', 'scripts', 'log']) mkdirSync(join(tmp.path, dir));
    for (const h of heartbeats)
      writeFileSync(
        join(tmp.path, 'etc', `heartbeat-${String(h.name)}.header`),
        `Authorization: Bearer ${token(String(h.name))}\n`,
        { mode: 0o600 },
      );
  });
  afterAll(async () => {
    await sw?.stop();
    tmp.cleanup();
  });

  const heartbeat = async (name: string) =>
    (
      await apiJson<{
        heartbeat: { status: string; reason: string | null; running: boolean; last_ping_at: string | null };
      }>(sw.url, API, `/api/v1/heartbeats/${name}`)
    ).heartbeat;

  /** Runs the job whose command calls `script`, with that script doing `body`. */
  const runJob = async (script: string, body: string) => {
    const job = cron.jobs.find((j) => j.command.includes(`/opt/agent-v3/scripts/${script}`));
    expect(job, script).toBeDefined();
    const path = join(tmp.path, 'scripts', script);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    const command = job!.command
      .replaceAll('/opt/agent-v3/scripts/', `${tmp.path}/scripts/`)
      .replaceAll('/etc/stackwatch/', `${tmp.path}/etc/`)
      .replaceAll('/var/log/', `${tmp.path}/log/`);
    const env = { PATH: process.env.PATH ?? '', SW: cron.env.SW!.replace('http://stackwatch:9879', sw.url) };
    return run('sh', ['-c', command], { env });
  };

  it('configures the heartbeats the cron lines ping', () => {
    expect(heartbeats.map((h) => h.name)).toEqual(['health-check', 'backup-test']);
    expect(cron.env.SW).toBe('http://stackwatch:9879/api/v1/heartbeats');
    expect(cron.jobs.map((j) => j.schedule)).toEqual(['0 * * * *', '0 4 * * 0']);
    for (const j of cron.jobs)
      expect(j.command).toContain('curl -fsS -m 10 --retry 3 -X POST -H @/etc/stackwatch/');
  });

  it('the hourly health check pings when it succeeds and reports a failure when it fails, quietly', async () => {
    const passed = await runJob('daily_health_check.sh', 'echo "=== checked ==="');
    expect(passed).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await heartbeat('health-check')).toMatchObject({ status: 'up', reason: null });
    expect(readFileSync(join(tmp.path, 'log', 'agent-v3-health.log'), 'utf8')).toContain('=== checked ===');

    const failed = await runJob('daily_health_check.sh', 'exit 1');
    expect(failed).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await heartbeat('health-check')).toMatchObject({ status: 'down', reason: 'failed' });
    // The next good run ends the incident.
    await runJob('daily_health_check.sh', 'true');
    expect(await heartbeat('health-check')).toMatchObject({ status: 'up' });
  });

  it('the weekly backup test reports its start before it runs, then its end', async () => {
    // The stand-in script looks at the heartbeat while it runs.
    const during = join(tmp.path, 'during.json');
    const look = `curl -s -H 'Authorization: Bearer ${API}' ${sw.url}/api/v1/heartbeats/backup-test > ${during}`;
    const passed = await runJob('weekly_backup_test.sh', look);
    expect(passed).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(JSON.parse(readFileSync(during, 'utf8'))).toMatchObject({
      heartbeat: { status: 'up', running: true },
    });
    expect(await heartbeat('backup-test')).toMatchObject({ status: 'up', running: false });

    await runJob('weekly_backup_test.sh', 'exit 3');
    expect(await heartbeat('backup-test')).toMatchObject({
      status: 'down',
      reason: 'failed',
      running: false,
    });
  });

  it('a wrong token makes the cron job say so (cron mails it)', async () => {
    writeFileSync(join(tmp.path, 'etc', 'heartbeat-health-check.header'), 'Authorization: Bearer wrong\n');
    const r = await runJob('daily_health_check.sh', 'true');
    expect(r.stderr).toMatch(/curl: \(22\) The requested URL returned error: 401/);
  });
});
