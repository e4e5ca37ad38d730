import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infoFields, startRedis, type RedisHandle } from '../support/redis.js';
import { samples, value } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { freePort, run, tempDir, waitFor } from '../support/util.js';

const PASSWORD = 'default-pw-8d1f';
const ACL_PASSWORD = 'monitor-pw-3c2a';

// One Redis with CONFIG renamed away (as on managed Redis), a password on the default user,
// ACL users, a TLS port, and a slow log that only records commands over 200 ms.
describe('Redis collector against a real Redis 7', () => {
  let redis: RedisHandle;
  let sw: StackwatchHandle;
  const tmp = tempDir('swredis-t');
  const blockers: ChildProcess[] = [];
  let tlsPort: number;

  const scrape = async (path = '/metrics') => {
    const res = await fetch(`${sw.url}${path}`);
    expect(res.status).toBe(200);
    return await res.text();
  };

  beforeAll(async () => {
    const cert = join(tmp.path, 'cert.pem');
    const key = join(tmp.path, 'key.pem');
    const gen = await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    tlsPort = await freePort();
    redis = await startRedis({
      args: [
        '--requirepass',
        PASSWORD,
        '--rename-command',
        'CONFIG',
        '',
        '--maxmemory',
        '64mb',
        '--slowlog-log-slower-than',
        '200000',
        '--enable-debug-command',
        'yes',
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        cert,
        '--tls-key-file',
        key,
        '--tls-auth-clients',
        'no',
      ],
      password: PASSWORD,
    });
    await redis.cli([
      'ACL',
      'SETUSER',
      'monitor',
      'on',
      `>${ACL_PASSWORD}`,
      '~*',
      '+info',
      '+scan',
      '+slowlog',
    ]);
    await redis.cli(['ACL', 'SETUSER', 'infoonly', 'on', '>infoonly-pw', '+info', '+select']);

    // Keys: the manuals' cache families in db0, unrelated keys, and a second database.
    const cmds: string[] = [];
    for (let i = 0; i < 25; i++) cmds.push(`SET llm_response:${i} v`);
    for (let i = 0; i < 10; i++) cmds.push(`SET tool_result:${i} v EX 3600`);
    for (let i = 0; i < 5; i++) cmds.push(`SET user_session:${i} v EX 7200`);
    for (let i = 0; i < 3; i++) cmds.push(`SET config:${i} v`);
    cmds.push('SET config v', 'SET configuration:x v', 'SET llm_responses v', 'SET other v');
    await run('redis-cli', ['-p', String(redis.port), '-a', PASSWORD, '--no-auth-warning'], {
      input: cmds.join('\n') + '\n',
    });
    for (let i = 0; i < 4; i++) await redis.cli(['SET', `k${i}`, 'v'], { db: 2 });
    await redis.cli(['GET', 'llm_response:1']);
    await redis.cli(['GET', 'missing']);
    await redis.cli(['GET', 'missing2']);
    await redis.cli(['DEBUG', 'SLEEP', '0.25']);

    // Two clients blocked in BLPOP for the whole file.
    for (let i = 0; i < 2; i++) {
      blockers.push(
        spawn(
          'redis-cli',
          ['-p', String(redis.port), '-a', PASSWORD, '--no-auth-warning', 'BLPOP', `queue${i}`, '0'],
          { stdio: 'ignore' },
        ),
      );
    }
    await waitFor(
      async () => infoFields(await redis.cli(['INFO', 'clients'])).get('blocked_clients') === '2',
      10_000,
      'two blocked clients',
    );

    const pwFile = join(tmp.path, 'redis-password');
    writeFileSync(pwFile, PASSWORD + '\n', { mode: 0o600 });
    sw = await startStackwatch({
      config: `collectors:
  filesystem:
    enabled: false
  redis:
    targets:
      - name: main
        url: redis://127.0.0.1:${redis.port}
        password_file: ${pwFile}
      - name: acl
        url: redis://monitor:${ACL_PASSWORD}@127.0.0.1:${redis.port}
        key_prefixes: [tool_result]
      - name: infoonly
        url: redis://127.0.0.1:${redis.port}/2
        username: infoonly
        password: infoonly-pw
      - name: tls
        url: rediss://127.0.0.1:${tlsPort}/2
        password: ${PASSWORD}
        tls:
          ca_file: ${cert}
`,
    });
  });

  afterAll(async () => {
    for (const b of blockers) b.kill('SIGKILL');
    await sw?.stop();
    await redis?.close();
    tmp.cleanup();
  });

  it('reports every target up, through CONFIG renamed away, ACL users and TLS', async () => {
    const text = await scrape();
    for (const target of ['main', 'acl', 'infoonly', 'tls']) {
      expect(value(text, 'redis_up', { target }), target).toBe(1);
      expect(value(text, 'stackwatch_scrape_collector_success', { collector: `redis/${target}` })).toBe(1);
    }
    // maxmemory comes from INFO, since CONFIG GET is unavailable.
    expect(value(text, 'redis_memory_max_bytes', { target: 'main' })).toBe(64 * 1024 * 1024);
    const problems = sw
      .logs()
      .split('\n')
      .filter((l) => /"level":"(warn|error)"/.test(l) && /redis/i.test(l));
    expect(problems).toEqual([]);
  });

  it('counts keys per database as redis-cli reports them', async () => {
    const text = await scrape();
    const keyspace = infoFields(await redis.cli(['INFO', 'keyspace']));
    const theirs = [...keyspace].map(([db, v]) => ({ db, keys: Number(/keys=(\d+)/.exec(v)?.[1]) }));
    expect(theirs.length).toBe(2);
    for (const { db, keys } of theirs)
      expect(value(text, 'redis_db_keys', { target: 'main', db })).toBe(keys);
    const expiring = Number(/expires=(\d+)/.exec(keyspace.get('db0') ?? '')?.[1]);
    expect(value(text, 'redis_db_keys_expiring', { target: 'main', db: 'db0' })).toBe(expiring);
    expect(value(text, 'redis_db_keys', { target: 'main', db: 'db2' })).toBe(
      Number(await redis.cli(['DBSIZE'], { db: 2 })),
    );
  });

  it('counts keys per prefix as redis-cli --scan does', async () => {
    const text = await scrape();
    for (const prefix of ['llm_response', 'tool_result', 'user_session', 'config']) {
      const under = (await redis.cli(['--scan', '--pattern', `${prefix}:*`]))
        .split('\n')
        .filter(Boolean).length;
      const exact = Number(await redis.cli(['EXISTS', prefix]));
      expect(value(text, 'redis_key_prefix_keys', { target: 'main', prefix, db: 'db0' }), prefix).toBe(
        under + exact,
      );
    }
    expect(value(text, 'redis_key_prefix_keys_partial', { target: 'main' })).toBe(0);
    expect(value(text, 'redis_key_prefix_scanned_keys', { target: 'main' })).toBe(
      Number(await redis.cli(['DBSIZE'])),
    );
    // A per-target prefix list replaces the default one.
    expect(samples(text, 'redis_key_prefix_keys').filter((s) => s.labels.target === 'acl')).toEqual([
      { labels: { target: 'acl', db: 'db0', prefix: 'tool_result' }, value: 10 },
    ]);
    // The target's own database is scanned.
    expect(value(text, 'redis_key_prefix_scanned_keys', { target: 'tls', db: 'db2' })).toBe(4);
    // A user without SCAN gets no prefix series, and is still up.
    expect(value(text, 'redis_key_prefix_scanned_keys', { target: 'infoonly' })).toBeUndefined();
    expect(value(text, 'redis_up', { target: 'infoonly' })).toBe(1);
  });

  it('reports connected and blocked clients as redis-cli does', async () => {
    const text = await scrape();
    const clients = infoFields(await redis.cli(['INFO', 'clients']));
    expect(value(text, 'redis_blocked_clients', { target: 'main' })).toBe(2);
    expect(value(text, 'redis_blocked_clients', { target: 'main' })).toBe(
      Number(clients.get('blocked_clients')),
    );
    // redis-cli counts its own connection, which did not exist during the scrape.
    expect(value(text, 'redis_connected_clients', { target: 'main' })).toBe(
      Number(clients.get('connected_clients')) - 1,
    );
  });

  it('reports the slow log entry left by DEBUG SLEEP', async () => {
    const text = await scrape();
    const len = Number(await redis.cli(['SLOWLOG', 'LEN']));
    expect(len).toBeGreaterThan(0);
    expect(value(text, 'redis_slowlog_length', { target: 'main' })).toBe(len);
    // redis-cli prints an entry as lines: id, time, duration (µs), then the arguments.
    const last = (await redis.cli(['SLOWLOG', 'GET', '1'])).split('\n');
    expect(last).toContain('DEBUG');
    expect(value(text, 'redis_slowlog_last_id', { target: 'main' })).toBe(Number(last[0]));
    expect(value(text, 'redis_last_slow_execution_duration_seconds', { target: 'main' })).toBe(
      Number(last[2]) / 1e6,
    );
    expect(Number(last[2])).toBeGreaterThanOrEqual(250_000);
    // The ACL user allowed SLOWLOG sees it too; the INFO-only user is still up, without slow-log series.
    expect(value(text, 'redis_slowlog_length', { target: 'acl' })).toBe(len);
    expect(value(text, 'redis_slowlog_length', { target: 'infoonly' })).toBeUndefined();
  });

  it('reports memory, commandstats and keyspace hits as INFO does', async () => {
    const text = await scrape();
    const info = infoFields(await redis.cli(['INFO', 'all']));
    expect(value(text, 'redis_total_system_memory_bytes', { target: 'main' })).toBe(
      Number(info.get('total_system_memory')),
    );
    // used_memory moves by a few kilobytes with every client command between the two reads.
    const used = value(text, 'redis_memory_used_bytes', { target: 'main' }) as number;
    expect(Math.abs(used - Number(info.get('used_memory'))) / used).toBeLessThan(0.05);
    expect(value(text, 'redis_memory_used_rss_bytes', { target: 'main' })).toBeGreaterThan(0);
    expect(value(text, 'redis_keyspace_hits_total', { target: 'main' })).toBe(
      Number(info.get('keyspace_hits')),
    );
    expect(value(text, 'redis_keyspace_misses_total', { target: 'main' })).toBe(
      Number(info.get('keyspace_misses')),
    );
    for (const cmd of ['set', 'debug', 'blpop']) {
      const stat = info.get(`cmdstat_${cmd}`) ?? '';
      expect(value(text, 'redis_commands_total', { target: 'main', cmd }), cmd).toBe(
        Number(/calls=(\d+)/.exec(stat)?.[1]),
      );
      expect(value(text, 'redis_commands_duration_seconds_total', { target: 'main', cmd })).toBe(
        Number(/usec=(\d+)/.exec(stat)?.[1]) / 1e6,
      );
    }
    const inst = samples(text, 'redis_instance_info').find((s) => s.labels.target === 'main');
    expect(inst?.labels).toMatchObject({ role: 'master', redis_version: info.get('redis_version') });
  });

  it('serves each target alone on /probe, without the target label', async () => {
    const text = await scrape('/probe?target=acl');
    expect(samples(text, 'redis_up')).toEqual([{ labels: {}, value: 1 }]);
    expect(samples(text, 'redis_db_keys').map((s) => s.labels)).toContainEqual({ db: 'db0' });
    expect(text).not.toContain('stackwatch_scrape_collector_success{collector="redis/main"}');
    expect((await fetch(`${sw.url}/probe?target=redis://127.0.0.1:${redis.port}`)).status).toBe(400);
  });

  it('never shows a password in metrics or logs', async () => {
    const text = await scrape();
    for (const secret of [PASSWORD, ACL_PASSWORD, 'infoonly-pw']) {
      expect(text).not.toContain(secret);
      expect(sw.logs()).not.toContain(secret);
    }
  });

  it('passes promtool check metrics', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: await scrape() });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it("serves the last SCAN's key-prefix counts with their age until key_prefix_scan_interval has passed", async () => {
    const db = 5;
    for (let i = 0; i < 3; i++) await redis.cli(['SET', `tool_result:kept${i}`, 'x'], { db });
    const start = (interval: string) =>
      startStackwatch({
        config: `collectors:
  filesystem:
    enabled: false
  redis:
    key_prefix_scan_interval: ${interval}
    targets:
      - name: kept
        url: redis://:${PASSWORD}@127.0.0.1:${redis.port}/${db}
`,
      });
    const [hourly, always] = await Promise.all([start('1h'), start('0s')]);
    try {
      const read = async (h: StackwatchHandle) => {
        const text = await (await fetch(`${h.url}/metrics`)).text();
        return {
          keys: value(text, 'redis_key_prefix_keys', { target: 'kept', prefix: 'tool_result' }),
          scanned: value(text, 'redis_key_prefix_scanned_keys', { target: 'kept' }),
          age: value(text, 'redis_key_prefix_scan_age_seconds', { target: 'kept' }),
        };
      };
      // The first scrape waits for the first SCAN.
      const first = await read(hourly);
      expect(first).toMatchObject({ keys: 3, scanned: 3 });
      expect((await read(always)).keys).toBe(3);
      await redis.cli(['SET', 'tool_result:added', 'x'], { db });
      // Within the interval: the last SCAN's counts, older now; with 0, every scrape scans.
      const later = await read(hourly);
      expect(later).toMatchObject({ keys: 3, scanned: 3 });
      expect(later.age).toBeGreaterThanOrEqual(first.age as number);
      expect(await read(always)).toMatchObject({ keys: 4, scanned: 4 });
    } finally {
      await Promise.all([hourly.stop(), always.stop()]);
    }
  });

  it('caps commands and databases, marks a cut SCAN partial, and logs the real auth error', async () => {
    const other = await startStackwatch({
      config: `collectors:
  filesystem:
    enabled: false
  redis:
    max_commands: 3
    max_dbs: 1
    key_prefix_scan_max_keys: 10
    targets:
      - name: capped
        url: redis://:${PASSWORD}@127.0.0.1:${redis.port}
      - name: wrongpass
        url: redis://:not-the-password-77@127.0.0.1:${redis.port}
`,
    });
    try {
      const res = await fetch(`${other.url}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(samples(text, 'redis_commands_total')).toHaveLength(3);
      expect(samples(text, 'redis_db_keys').map((s) => s.labels.db)).toEqual(['db0']);
      expect(value(text, 'redis_key_prefix_keys_partial', { target: 'capped' })).toBe(1);
      expect(value(text, 'redis_key_prefix_scanned_keys', { target: 'capped' })).toBeLessThan(
        Number(await redis.cli(['DBSIZE'])),
      );
      expect(value(text, 'redis_up', { target: 'wrongpass' })).toBe(0);
      expect(value(text, 'stackwatch_scrape_collector_success', { collector: 'redis/wrongpass' })).toBe(0);
      await waitFor(() => other.logs().includes('WRONGPASS'), 5000, 'the auth error in the log');
      expect(other.logs()).not.toContain('not-the-password-77');
      expect(text).not.toContain('not-the-password-77');
      expect(other.logs()).toContain('redis://:***@127.0.0.1');
    } finally {
      await other.stop();
    }
  });
});
