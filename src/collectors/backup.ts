import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { z } from 'zod';
import type { backupsSection } from '../config/host.js';
import { errorText, type Logger } from '../logger.js';
import { counter, gauge, type MetricFamily } from '../metrics/exposition.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import { globToRegExp, splitGlob } from './glob.js';

export type BackupConfig = z.infer<typeof backupsSection>[number];

export interface BackupFile {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
}

/** The newest file: latest mtime, then the greater name (date-stamped names sort by date). */
export function newestFile(files: readonly BackupFile[]): BackupFile | undefined {
  let best: BackupFile | undefined;
  for (const f of files) {
    if (!best || f.mtimeMs > best.mtimeMs || (f.mtimeMs === best.mtimeMs && f.path > best.path)) best = f;
  }
  return best;
}

/** Regular files in the glob's directory whose names match its file-name pattern. */
export async function listMatches(pattern: string): Promise<BackupFile[]> {
  const { dir, name } = splitGlob(pattern);
  const re = globToRegExp(name);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: BackupFile[] = [];
  await Promise.all(
    entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && re.test(e.name))
      .map(async (e) => {
        const path = join(dir, e.name);
        try {
          const st = await stat(path);
          if (st.isFile()) out.push({ path, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
        } catch {
          // Removed between readdir and stat (backup rotation): not a candidate.
        }
      }),
  );
  return out;
}

/** Reads a gzip stream to its end; rejects with zlib's reason when it is truncated or corrupt. */
export async function checkGzip(path: string): Promise<void> {
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
  await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), createGunzip(), sink);
}

export interface IntegrityResult {
  ok: boolean;
  checkedAt: number;
}

const fileKey = (f: BackupFile) => `${f.path}\0${f.ino}\0${f.size}\0${f.mtimeMs}`;

/**
 * Runs integrity checks one at a time, in the background, and remembers each result by
 * path, inode, size and mtime: a file is read again only when it changed. Shared by every
 * backup collector (and across configuration reloads), so a multi-GB dump costs one core
 * at most and never blocks a scrape.
 */
export class IntegrityChecker {
  private readonly results = new Map<string, IntegrityResult>();
  private readonly pending = new Map<string, Promise<IntegrityResult>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly checks = new Map<string, number>();

  constructor(
    private readonly check: (path: string) => Promise<void> = checkGzip,
    private readonly maxRemembered = 1000,
  ) {}

  /** The result for this exact file version, if known. */
  known(f: BackupFile): IntegrityResult | undefined {
    return this.results.get(fileKey(f));
  }

  /** Whether a check of this file version is queued or running. */
  isPending(f: BackupFile): boolean {
    return this.pending.has(fileKey(f));
  }

  /** Checks run so far for a backup name. */
  checksFor(backup: string): number {
    return this.checks.get(backup) ?? 0;
  }

  /** Queues a check of this file version unless it is known or queued; resolves with its result. */
  request(backup: string, f: BackupFile, logger: Logger): Promise<IntegrityResult> {
    const key = fileKey(f);
    const done = this.results.get(key);
    if (done) return Promise.resolve(done);
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const run = this.queue.then(async () => {
      const started = Date.now();
      let ok = true;
      try {
        await this.check(f.path);
      } catch (err) {
        ok = false;
        logger.warn({ backup, path: f.path, err: errorText(err) }, 'backup integrity check failed');
      }
      this.checks.set(backup, (this.checks.get(backup) ?? 0) + 1);
      logger.debug(
        { backup, path: f.path, ok, size: f.size, duration_seconds: (Date.now() - started) / 1000 },
        'backup integrity checked',
      );
      const result = { ok, checkedAt: Date.now() };
      this.remember(key, result);
      this.pending.delete(key);
      return result;
    });
    this.queue = run.catch(() => undefined);
    this.pending.set(key, run);
    return run;
  }

  private remember(key: string, result: IntegrityResult): void {
    this.results.set(key, result);
    // Oldest first: a Map iterates in insertion order.
    while (this.results.size > this.maxRemembered) {
      const oldest = this.results.keys().next().value;
      if (oldest === undefined) break;
      this.results.delete(oldest);
    }
  }
}

/** One checker per process: checks never run in parallel, whatever the number of backups. */
export const sharedIntegrityChecker = new IntegrityChecker();

/** A scrape waits for a pending check at most until this long before its deadline. */
const DEADLINE_MARGIN_MS = 200;
/**
 * The scrape that finds a new file waits this long at most for its check (small files are
 * done by then); later scrapes do not wait while the check still runs.
 */
const MAX_WAIT_MS = 1000;

/**
 * The newest file matching a backup glob: age, size, number of matches, and whether the
 * gzip stream reads to its end. The integrity check runs in the background; the scrape
 * that finds a new file version waits briefly for it, and while it runs longer
 * `stackwatch_backup_integrity_ok` is omitted (scrapes do not wait) until it has finished.
 */
export class BackupCollector implements Collector {
  readonly name: string;

  constructor(
    private readonly cfg: BackupConfig,
    private readonly checker: IntegrityChecker = sharedIntegrityChecker,
    private readonly now: () => number = Date.now,
  ) {
    this.name = `backup/${cfg.name}`;
  }

  private get checksIntegrity(): boolean {
    if (this.cfg.integrity === 'auto') return /\.(gz|tgz)$/i.test(this.cfg.glob);
    return this.cfg.integrity === 'gzip';
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const backup = this.cfg.name;
    const labels = { backup };
    const files = await listMatches(this.cfg.glob);
    const newest = newestFile(files);
    const out: MetricFamily[] = [
      gauge('stackwatch_backup_files', 'Number of files matching the backup glob.').add(labels, files.length),
      gauge(
        'stackwatch_backup_max_age_seconds',
        'Configured maximum age of the newest backup (0: no limit).',
      ).add(labels, this.cfg.max_age / 1000),
    ];
    if (newest) {
      out.push(
        gauge(
          'stackwatch_backup_age_seconds',
          'Age of the newest file matching the backup glob, from its modification time.',
        ).add(labels, Math.max(0, (this.now() - newest.mtimeMs) / 1000)),
        gauge('stackwatch_backup_size_bytes', 'Size of the newest file matching the backup glob.').add(
          labels,
          newest.size,
        ),
        gauge(
          'stackwatch_backup_last_modified_timestamp_seconds',
          'Modification time of the newest file matching the backup glob.',
        ).add(labels, newest.mtimeMs / 1000),
      );
    }
    if (this.checksIntegrity) {
      if (newest) {
        const result = this.checker.known(newest) ?? (await this.waitForCheck(newest, ctx));
        if (result) {
          out.push(
            gauge(
              'stackwatch_backup_integrity_ok',
              'Whether the newest backup passed its integrity check (the gzip stream reads to its end). Checked in the background once per file version.',
            ).add(labels, result.ok ? 1 : 0),
          );
        }
      }
      out.push(
        counter(
          'stackwatch_backup_integrity_checks_total',
          'Integrity checks run for this backup; a file is checked again only when its size or mtime changes.',
        ).add(labels, this.checker.checksFor(backup)),
      );
    }
    return out;
  }

  private async waitForCheck(f: BackupFile, ctx: ScrapeContext): Promise<IntegrityResult | undefined> {
    const queued = this.checker.isPending(f);
    const check = this.checker.request(this.cfg.name, f, ctx.logger);
    if (queued) return undefined;
    const wait = Math.min(MAX_WAIT_MS, remainingMs(ctx) - DEADLINE_MARGIN_MS);
    if (wait <= 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const later = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), wait);
    });
    try {
      return await Promise.race([check, later]);
    } finally {
      clearTimeout(timer);
    }
  }
}
