import { mkdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupCollector, IntegrityChecker, checkGzip } from '../../src/collectors/backup.js';
import { globToRegExp, splitGlob } from '../../src/collectors/glob.js';
import { backupsSection } from '../../src/config/host.js';
import { createLogger } from '../../src/logger.js';
import { samples, value } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

const DAY = 86_400;
const tmp = tempDir('swbak');
const dir = (name: string) => {
  const d = join(tmp.path, name);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A pg_dump-like SQL text of about `kb` kilobytes. */
function sqlDump(kb: number): Buffer {
  const lines = ['-- PostgreSQL database dump', 'COPY public.tasks (id, agent, status) FROM stdin;'];
  let size = 0;
  for (let i = 0; size < kb * 1024; i++) {
    const line = `${i}\tcoder-${i % 7}\tcompleted-${(i * 7919) % 10007}`;
    lines.push(line);
    size += line.length + 1;
  }
  lines.push('\\.', '-- PostgreSQL database dump complete', '');
  return Buffer.from(lines.join('\n'));
}

/** Writes a file and sets its mtime to `ageSeconds` ago (whole seconds, so values compare exactly). */
function writeBackup(path: string, content: Buffer, ageSeconds: number): number {
  writeFileSync(path, content);
  const mtime = Math.floor(Date.now() / 1000) - ageSeconds;
  utimesSync(path, mtime, mtime);
  return mtime;
}

describe('glob matcher', () => {
  it('splits the directory from the file-name pattern', () => {
    expect(splitGlob('/opt/backups/agent-v3/postgres_*.sql.gz')).toEqual({
      dir: '/opt/backups/agent-v3',
      name: 'postgres_*.sql.gz',
    });
    expect(splitGlob('/dump.gz')).toEqual({ dir: '/', name: 'dump.gz' });
  });

  it('matches like the shell', () => {
    const re = globToRegExp('postgres_*.sql.gz');
    expect(re.test('postgres_20240101.sql.gz')).toBe(true);
    expect(re.test('postgres_.sql.gz')).toBe(true);
    expect(re.test('postgres_20240101.sql')).toBe(false);
    expect(re.test('postgres_20240101.sqlxgz')).toBe(false);
    expect(re.test('redis_20240101.sql.gz')).toBe(false);
    expect(globToRegExp('db_??.gz').test('db_01.gz')).toBe(true);
    expect(globToRegExp('db_??.gz').test('db_1.gz')).toBe(false);
    expect(globToRegExp('db_[0-9]*.gz').test('db_7x.gz')).toBe(true);
    expect(globToRegExp('db_[!0-9]*.gz').test('db_7x.gz')).toBe(false);
    expect(globToRegExp('db_[!0-9]*.gz').test('db_x.gz')).toBe(true);
    expect(globToRegExp('a+b(1).gz').test('a+b(1).gz')).toBe(true);
    expect(globToRegExp('a+b(1).gz').test('aab(1).gz')).toBe(false);
    // As in the shell, a wildcard does not match a leading dot (editors' and rsync's temp files).
    expect(globToRegExp('*.gz').test('.dump.gz.tmp')).toBe(false);
    expect(globToRegExp('*.gz').test('.dump.gz')).toBe(false);
    expect(globToRegExp('.*.gz').test('.dump.gz')).toBe(true);
  });

  it('refuses wildcards in directories and relative globs in the configuration', () => {
    expect(backupsSection.safeParse([{ name: 'a', glob: '/opt/*/x.gz' }]).success).toBe(false);
    expect(backupsSection.safeParse([{ name: 'a', glob: 'backups/x.gz' }]).success).toBe(false);
    expect(backupsSection.safeParse([{ name: 'a', glob: '/opt/backups/x_*.gz' }]).success).toBe(true);
  });
});

describe('backups through /metrics', () => {
  let sw: StackwatchHandle;
  const mtimes: Record<string, number> = {};
  const sizes: Record<string, number> = {};
  const dump = sqlDump(512);

  beforeAll(async () => {
    const good = dir('good');
    // Made by the gzip tool itself, as a backup script would.
    writeFileSync(join(good, 'postgres_20240108.sql'), dump);
    const gz = await run('gzip', ['-9', join(good, 'postgres_20240108.sql')]);
    expect(gz.code).toBe(0);
    const newest = join(good, 'postgres_20240108.sql.gz');
    const content = readFileSync(newest);
    mtimes.good = writeBackup(newest, content, 3600);
    sizes.good = content.length;
    writeBackup(join(good, 'postgres_20240101.sql.gz'), gzipSync(dump), 8 * DAY);
    writeBackup(join(good, 'redis_20240108.rdb.gz'), gzipSync(Buffer.from('not this one')), 60);

    const truncated = gzipSync(dump);
    writeBackup(
      join(dir('truncated'), 'postgres_1.sql.gz'),
      truncated.subarray(0, truncated.length >> 1),
      60,
    );

    const corrupted = Buffer.from(gzipSync(dump));
    for (let i = 0; i < 16; i++) corrupted[(corrupted.length >> 1) + i] ^= 0xff;
    writeBackup(join(dir('corrupted'), 'postgres_1.sql.gz'), corrupted, 60);

    mtimes.stale = writeBackup(join(dir('stale'), 'postgres_1.sql.gz'), gzipSync(dump), 10 * DAY);
    dir('none');

    sw = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  backups:
    - { name: good, glob: '${tmp.path}/good/postgres_*.sql.gz', max_age: 1d }
    - { name: truncated, glob: '${tmp.path}/truncated/postgres_*.sql.gz' }
    - { name: corrupted, glob: '${tmp.path}/corrupted/postgres_*.sql.gz' }
    - { name: stale, glob: '${tmp.path}/stale/postgres_*.sql.gz', max_age: 8d }
    - { name: none, glob: '${tmp.path}/none/postgres_*.sql.gz' }
    - { name: nodir, glob: '${tmp.path}/does-not-exist/postgres_*.sql.gz' }
`,
      args: ['--log.level=debug'],
    });
  });
  afterAll(async () => {
    await sw?.stop();
  });

  const scrape = async () => (await fetch(`${sw.url}/metrics`)).text();
  const v = (text: string, name: string, backup: string) => value(text, name, { backup });

  it('reports the newest matching file: count, age, size, integrity', async () => {
    const text = await scrape();
    expect(v(text, 'stackwatch_backup_files', 'good')).toBe(2);
    expect(v(text, 'stackwatch_backup_size_bytes', 'good')).toBe(sizes.good);
    expect(v(text, 'stackwatch_backup_last_modified_timestamp_seconds', 'good')).toBe(mtimes.good);
    const age = v(text, 'stackwatch_backup_age_seconds', 'good') as number;
    expect(age).toBeGreaterThanOrEqual(3600);
    expect(age).toBeLessThan(3600 + 300);
    expect(v(text, 'stackwatch_backup_max_age_seconds', 'good')).toBe(DAY);
    expect(v(text, 'stackwatch_backup_integrity_ok', 'good')).toBe(1);
  });

  it('fails the integrity check of a truncated and of a corrupted gzip, and logs why', async () => {
    const text = await scrape();
    expect(v(text, 'stackwatch_backup_integrity_ok', 'truncated')).toBe(0);
    expect(v(text, 'stackwatch_backup_integrity_ok', 'corrupted')).toBe(0);
    expect(v(text, 'stackwatch_backup_files', 'truncated')).toBe(1);
    const failures = sw
      .logs()
      .split('\n')
      .filter((l) => l.includes('"backup integrity check failed"'))
      .map((l) => JSON.parse(l) as { backup: string; err: string });
    expect(failures.find((f) => f.backup === 'truncated')?.err).toMatch(/unexpected end of file/);
    expect(failures.find((f) => f.backup === 'corrupted')?.err).toBeTruthy();
  });

  it('shows a stale backup older than its max_age (the BackupTooOld condition)', async () => {
    const text = await scrape();
    expect(v(text, 'stackwatch_backup_last_modified_timestamp_seconds', 'stale')).toBe(mtimes.stale);
    expect(v(text, 'stackwatch_backup_age_seconds', 'stale')).toBeGreaterThan(
      v(text, 'stackwatch_backup_max_age_seconds', 'stale') as number,
    );
    expect(v(text, 'stackwatch_backup_integrity_ok', 'stale')).toBe(1);
  });

  it('reports 0 files and no age when nothing matches or the directory is missing', async () => {
    const text = await scrape();
    for (const b of ['none', 'nodir']) {
      expect(v(text, 'stackwatch_backup_files', b)).toBe(0);
      expect(v(text, 'stackwatch_backup_age_seconds', b)).toBeUndefined();
      expect(v(text, 'stackwatch_backup_integrity_ok', b)).toBeUndefined();
      expect(v(text, 'stackwatch_backup_max_age_seconds', b)).toBe(8 * DAY);
    }
    expect(
      samples(text, 'stackwatch_scrape_collector_success').filter((s) =>
        s.labels.collector?.startsWith('backup/'),
      ),
    ).toHaveLength(6);
    for (const s of samples(text, 'stackwatch_scrape_collector_success'))
      if (s.labels.collector?.startsWith('backup/')) expect(s.value).toBe(1);
  });

  it('checks a file again only when it changes', async () => {
    const first = await scrape();
    const checks = v(first, 'stackwatch_backup_integrity_checks_total', 'stale');
    expect(checks).toBe(1);
    await scrape();
    expect(v(await scrape(), 'stackwatch_backup_integrity_checks_total', 'stale')).toBe(1);

    // The same file rewritten (a new dump, now truncated): new size and mtime, checked again.
    const path = join(tmp.path, 'stale', 'postgres_1.sql.gz');
    const size = statSync(path).size;
    truncateSync(path, size - 100);
    const text = await scrape();
    expect(v(text, 'stackwatch_backup_integrity_checks_total', 'stale')).toBe(2);
    expect(v(text, 'stackwatch_backup_integrity_ok', 'stale')).toBe(0);
    expect(v(await scrape(), 'stackwatch_backup_integrity_checks_total', 'stale')).toBe(2);
    const checked = sw
      .logs()
      .split('\n')
      .filter((l) => l.includes('"backup integrity checked"') && l.includes('"backup":"stale"'));
    expect(checked).toHaveLength(2);
  });

  it('passes promtool check metrics', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: await scrape() });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('integrity checks in the background', () => {
  const logger = createLogger('error');

  it('answers a scrape before its deadline while a long check runs, then reports the result', async () => {
    const d = dir('slow');
    writeBackup(join(d, 'big_1.sql.gz'), gzipSync(sqlDump(64)), 60);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    // A real gzip check that first waits for the gate, standing in for a multi-GB file.
    const checker = new IntegrityChecker(async (path) => {
      started++;
      await gate;
      await checkGzip(path);
    });
    const cfg = backupsSection.parse([{ name: 'big', glob: `${d}/big_*.sql.gz` }])[0]!;
    const collector = new BackupCollector(cfg, checker);
    const ctx = () => ({ signal: new AbortController().signal, deadline: Date.now() + 500, logger });

    const first = await collector.collect(ctx());
    const names = first.filter((f) => f.samples.length).map((f) => f.name);
    expect(names).toContain('stackwatch_backup_age_seconds');
    expect(names).not.toContain('stackwatch_backup_integrity_ok');
    // A second scrape while the check is still running does not start another one.
    await collector.collect(ctx());
    expect(started).toBe(1);

    release();
    await checker.request(
      'big',
      { path: join(d, 'big_1.sql.gz'), ...statOf(join(d, 'big_1.sql.gz')) },
      logger,
    );
    const after = await collector.collect(ctx());
    expect(after.find((f) => f.name === 'stackwatch_backup_integrity_ok')?.samples).toEqual([
      { labels: { backup: 'big' }, value: 1 },
    ]);
    expect(after.find((f) => f.name === 'stackwatch_backup_integrity_checks_total')?.samples[0]?.value).toBe(
      1,
    );
    expect(started).toBe(1);
  });

  it('runs one check at a time', async () => {
    const d = dir('serial');
    const paths = [1, 2, 3].map((i) => {
      const p = join(d, `db_${i}.sql.gz`);
      writeBackup(p, gzipSync(sqlDump(16)), 60);
      return p;
    });
    let running = 0;
    let most = 0;
    const checker = new IntegrityChecker(async (path) => {
      running++;
      most = Math.max(most, running);
      await checkGzip(path);
      await new Promise((r) => setImmediate(r));
      running--;
    });
    const results = await Promise.all(
      paths.map((p, i) => checker.request(`b${i}`, { path: p, ...statOf(p) }, logger)),
    );
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(most).toBe(1);
  });
});

function statOf(path: string) {
  const st = statSync(path);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

afterAll(() => tmp.cleanup());
