import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load.js';
import { redactUrl } from '../../src/secrets.js';
import { CLI } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

const tmp = tempDir('swcfg');
afterAll(() => tmp.cleanup());

function errorOf(text: string, env: Record<string, string> = {}): string {
  try {
    parseConfigText(text, env, 'test.yml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('gives defaults with no file and no environment', () => {
    const c = loadConfig(undefined, {});
    expect(c.collectors.filesystem.enabled).toBe(true);
    expect(c.global.scrape_timeout).toBe(10_000);
    expect(c.global.scrape_timeout_offset).toBe(500);
    expect(c.collectors.postgres.targets).toEqual([]);
  });

  it('rejects an unknown key, naming its path', () => {
    expect(errorOf('collectors:\n  filesystem:\n    stat_timeout: 1s\n    bogus: 1\n')).toBe(
      'config: collectors.filesystem.bogus: unknown key',
    );
  });

  it('rejects a wrong type, naming the path and the bad value', () => {
    expect(errorOf('collectors:\n  filesystem:\n    enabled: "yes"\n')).toBe(
      'config: collectors.filesystem.enabled: expected boolean, got string ("yes")',
    );
    expect(errorOf('global:\n  scrape_timeout: 10 seconds\n')).toBe(
      'config: global.scrape_timeout: invalid duration "10 seconds" (use e.g. 500ms, 10s, 5m, 1h)',
    );
  });

  it('words each kind of refused value as it always has', () => {
    const cases: [string, string][] = [
      [
        'log_level: loud\n',
        `config: log_level: Invalid enum value. Expected 'debug' | 'info' | 'warn' | 'error', received 'loud' (value: "loud")`,
      ],
      ['log_level: 3\n', `config: log_level: expected 'debug' | 'info' | 'warn' | 'error', got number (3)`],
      [
        'collectors:\n  postgres:\n    pool_size: 1.5\n',
        'config: collectors.postgres.pool_size: expected integer, got float (1.5)',
      ],
      [
        'collectors:\n  postgres:\n    pool_size: 40\n',
        'config: collectors.postgres.pool_size: Number must be less than or equal to 20 (value: 40)',
      ],
      [
        'collectors:\n  docker:\n    max_containers: 0\n',
        'config: collectors.docker.max_containers: Number must be greater than 0 (value: 0)',
      ],
      [
        'collectors:\n  redis:\n    key_prefix_separator: "::::::::::"\n',
        'config: collectors.redis.key_prefix_separator: String must contain at most 8 character(s) (value: "::::::::::")',
      ],
      [
        'receiver:\n  acknowledgement:\n    silence_durations: []\n',
        'config: receiver.acknowledgement.silence_durations: Array must contain at least 1 element(s) (value: [])',
      ],
      [
        'collectors:\n  probes:\n    http: [{ name: a, url: "x", headers: 1 }]\n',
        'config: collectors.probes.http[0].url: Invalid url (value: [redacted])\nconfig: collectors.probes.http[0].url: must be an http:// or https:// URL\nconfig: collectors.probes.http[0].headers: expected object, got number (1)',
      ],
      // A value of the wrong type is reported once, not also for its length.
      [
        'collectors:\n  redis:\n    key_prefixes: [[]]\n',
        'config: collectors.redis.key_prefixes[0]: expected string, got array ([])',
      ],
    ];
    for (const [text, expected] of cases) expect(errorOf(text), text).toBe(expected);
  });

  it('reports a missing secret file with its path', () => {
    const msg = errorOf(
      'collectors:\n  postgres:\n    targets:\n      - name: main\n        dsn_file: /nonexistent/dsn\n',
    );
    expect(msg).toBe(
      'config: collectors.postgres.targets[0].dsn_file: cannot read secret file "/nonexistent/dsn": ENOENT',
    );
  });

  it('reads secrets from *_file paths, trimming the trailing newline', () => {
    const f = join(tmp.path, 'dsn');
    writeFileSync(f, 'postgres://u:p@127.0.0.1:5432/db\n');
    const c = parseConfigText(
      `collectors:\n  postgres:\n    targets:\n      - name: main\n        dsn_file: ${f}\n`,
      {},
    );
    expect(c.collectors.postgres.targets[0]?.dsn).toBe('postgres://u:p@127.0.0.1:5432/db');
  });

  it('reports bad YAML with its line', () => {
    expect(errorOf('global:\n  scrape_timeout: [1s\n')).toMatch(
      /^config: test\.yml line \d+ column \d+: invalid YAML: /,
    );
  });

  it('interpolates ${VAR} and ${VAR:-default}, and names an unset variable', () => {
    const c = parseConfigText('global:\n  scrape_timeout: ${T}\n  scrape_timeout_offset: ${O:-250ms}\n', {
      T: '3s',
    });
    expect(c.global.scrape_timeout).toBe(3000);
    expect(c.global.scrape_timeout_offset).toBe(250);
    expect(errorOf('log_level: ${NOPE}\n')).toBe('config: log_level: environment variable NOPE is not set');
  });

  it('takes the manuals’ environment names as shortcuts; the file wins', () => {
    const env = { DATABASE_URL: 'postgres://a@h/db', REDIS_URL: 'redis://h:6379', LOG_LEVEL: 'DEBUG' };
    const c = loadConfig(undefined, env);
    expect(c.collectors.postgres.targets).toEqual([{ name: 'default', dsn: 'postgres://a@h/db' }]);
    expect(c.collectors.redis.targets).toEqual([{ name: 'default', url: 'redis://h:6379' }]);
    expect(c.log_level).toBe('debug');
    const fromFile = parseConfigText('log_level: warn\n', env);
    expect(fromFile.log_level).toBe('warn');
  });

  it('never shows a secret-looking value in an error', () => {
    const msg = errorOf('collectors:\n  postgres:\n    targets:\n      - name: main\n        dsn: 42\n');
    expect(msg).toBe('config: collectors.postgres.targets[0].dsn: expected string, got number ([redacted])');
    expect(errorOf('receiver:\n  slack:\n    webhook_url: 7\n')).toContain('([redacted])');
    // Only the key itself decides: a key that merely contains "key" shows its value.
    expect(errorOf('collectors:\n  redis:\n    key_prefixes: 5\n')).toBe(
      'config: collectors.redis.key_prefixes: expected array, got number (5)',
    );
  });

  it('keeps path-valued keys that end in _path as paths, not secret files', () => {
    const c = parseConfigText('collectors:\n  filesystem:\n    mounts_path: /host/proc/1/mounts\n');
    expect(c.collectors.filesystem.mounts_path).toBe('/host/proc/1/mounts');
  });

  it('requires a DSN for a shared PostgreSQL outbox, and reads it from a file', () => {
    expect(errorOf('receiver:\n  store:\n    type: postgres\n')).toBe(
      'config: receiver.store.dsn: store.type postgres needs store.dsn (or store.dsn_file)',
    );
    const dsnFile = join(tmp.path, 'outbox-dsn');
    writeFileSync(dsnFile, 'postgres://receiver:s3cret@db:5432/alerts\n');
    const c = parseConfigText(
      `receiver:\n  store:\n    type: postgres\n    dsn_file: ${dsnFile}\n`,
      {},
      't.yml',
    );
    expect(c.receiver.store).toEqual({
      type: 'postgres',
      dsn: 'postgres://receiver:s3cret@db:5432/alerts',
      schema: 'stackwatch',
      claim_timeout: 300_000,
    });
    expect(loadConfig(undefined, {}).receiver.store.type).toBe('sqlite');
  });

  it('refuses matchers on the top-level route, which would let other alerts fall through', () => {
    expect(
      errorOf('receiver:\n  route:\n    receiver: team-ops\n    matchers: [\'severity="critical"\']\n'),
    ).toBe(
      'config: receiver.route.matchers: the top-level route matches every alert and takes no matchers; put them on a child route',
    );
  });

  it('names a critical role that is not in the contact table', () => {
    expect(errorOf('receiver:\n  critical_roles: [oncall, pager]\n')).toBe(
      'config: receiver.critical_roles[1]: unknown contact role "pager"',
    );
  });

  it('redacts passwords in connection URLs', () => {
    expect(redactUrl('postgres://user:s3cret@db:5432/app')).toBe('postgres://user:***@db:5432/app');
    expect(redactUrl('redis://:s3cret@cache:6379')).toBe('redis://:***@cache:6379');
  });
});

describe('stackwatch check-config', () => {
  it('exits 0 for a valid file', async () => {
    const f = join(tmp.path, 'ok.yml');
    writeFileSync(f, 'global:\n  scrape_timeout: 5s\n');
    const r = await run(process.execPath, [CLI, 'check-config', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration is valid');
  });

  it('exits 2 with one clear line for each kind of bad file', async () => {
    const cases: [string, string][] = [
      ['collectors:\n  filesystem:\n    bogus: 1\n', 'config: collectors.filesystem.bogus: unknown key'],
      [
        'collectors:\n  filesystem:\n    enabled: 3\n',
        'config: collectors.filesystem.enabled: expected boolean, got number (3)',
      ],
      [
        'receiver:\n  webhook_token_file: /nonexistent/token\n',
        'config: receiver.webhook_token_file: cannot read secret file "/nonexistent/token": ENOENT',
      ],
      ['global: [unclosed\n', 'invalid YAML'],
    ];
    for (const [i, [body, expected]] of cases.entries()) {
      const f = join(tmp.path, `bad${i}.yml`);
      writeFileSync(f, body);
      const r = await run(process.execPath, [CLI, 'check-config', f]);
      expect(r.code, body).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(expected);
    }
  });

  it('refuses to run on a Node.js older than 22, saying which to use', async () => {
    // What an operator on Node.js 20 sees (the SQLite binding would crash the process there).
    const asNode20 = `Object.defineProperty(process.versions, 'node', { value: '20.19.0' })`;
    const f = join(tmp.path, 'old-node.yml');
    writeFileSync(f, 'global:\n  scrape_timeout: 5s\n');
    const r = await run(process.execPath, [
      '--import',
      `data:text/javascript,${encodeURIComponent(asNode20)}`,
      CLI,
      'check-config',
      f,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'stackwatch: Node.js 20.19.0 is not supported; run it on Node.js 22 or 24 (LTS)',
    );
  });

  it('refuses to start on a bad config with exit code 2', async () => {
    const f = join(tmp.path, 'bad-start.yml');
    writeFileSync(f, 'nope: true\n');
    const r = await run(process.execPath, [CLI, `--config.file=${f}`, '--web.listen-address=127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('config: nope: unknown key');
  });
});

describe('heartbeats in the configuration', () => {
  const TOKEN = 'abcdefghijklmnopqrstu';
  const heartbeats = (...lines: string[]) =>
    `receiver:\n  api_token: api-token-0123456789\n  heartbeats:\n${lines.map((l) => `    - ${l}\n`).join('')}`;

  it('takes a job heartbeat with its defaults, and the Watchdog on by default', () => {
    const c = parseConfigText(heartbeats(`{ name: backup, period: 1d, token: ${TOKEN} }`), {}, 't.yml');
    expect(c.receiver.heartbeats).toEqual([
      { name: 'backup', period: 86_400_000, grace: 3_600_000, token: TOKEN },
    ]);
    expect(c.receiver.watchdog).toEqual({ enabled: true, matchers: ['alertname="Watchdog"'], gap: 300_000 });
    expect(c.receiver.heartbeat_check_interval).toBe(10_000);
  });

  it.each([
    [`{ name: backup, token: ${TOKEN} }`, 'config: receiver.heartbeats[0].period: is required'],
    [
      `{ name: backup, period: 500ms, token: ${TOKEN} }`,
      'config: receiver.heartbeats[0].period: must be at least 1s',
    ],
    [
      `{ name: watchdog, period: 1h, token: ${TOKEN} }`,
      `config: receiver.heartbeats[0].name: "watchdog" is the Alertmanager Watchdog's heartbeat; choose another name`,
    ],
    [
      `{ name: backup, period: 1h, receiver: nobody, token: ${TOKEN} }`,
      'config: receiver.heartbeats[0].receiver: unknown receiver "nobody" (receivers: team-ops, team-ops-critical, team-ops-warning)',
    ],
    [
      `{ name: backup, period: 1h, token: api-token-0123456789 }`,
      "config: receiver.heartbeats[0].token: must be this heartbeat's own token, not the same as api_token",
    ],
  ])('refuses %s', (line, message) => expect(errorOf(heartbeats(line))).toBe(message));

  it('refuses two heartbeats of one name, or sharing a token, without showing the token', () => {
    expect(
      errorOf(
        heartbeats(`{ name: a, period: 1h, token: ${TOKEN} }`, `{ name: a, period: 1h, token: ${TOKEN}x }`),
      ),
    ).toBe('config: receiver.heartbeats[1].name: duplicate heartbeat "a"');
    expect(
      errorOf(
        heartbeats(`{ name: a, period: 1h, token: ${TOKEN} }`, `{ name: b, period: 1h, token: ${TOKEN} }`),
      ),
    ).toBe(
      `config: receiver.heartbeats[1].token: must be this heartbeat's own token, not the same as heartbeat "a"`,
    );
    const short = errorOf(heartbeats('{ name: a, period: 1h, token: hunter2 }'));
    expect(short).toBe(
      'config: receiver.heartbeats[0].token: must be at least 16 characters (e.g. openssl rand -hex 16) (value: [redacted])',
    );
  });

  it('refuses a Watchdog gap under a second and an unknown receiver for its page', () => {
    expect(errorOf('receiver:\n  watchdog: { gap: 500ms }\n')).toBe(
      'config: receiver.watchdog.gap: must be at least 1s',
    );
    expect(errorOf('receiver:\n  watchdog: { receiver: nobody }\n')).toMatch(
      /^config: receiver\.watchdog\.receiver: unknown receiver "nobody"/,
    );
  });
});
