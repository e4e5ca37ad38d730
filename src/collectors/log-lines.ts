import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { z } from 'zod';
import type { logsSection } from '../config/host.js';
import { errorText, type Logger } from '../logger.js';
import { counter, gauge, type MetricFamily } from '../metrics/exposition.js';
import type { Collector, ScrapeContext } from './collector.js';
import { classifyLine, LOG_LEVEL_LABELS, type LogLevelLabel } from './log-level.js';

export type LogConfig = z.infer<typeof logsSection>[number];

const CHUNK = 64 * 1024;
/** Longer lines are classified by their first MAX_LINE bytes (the level is near the start). */
const MAX_LINE = 16 * 1024;
const NEWLINE = 0x0a;

export interface FollowLimits {
  /** Stop reading (and continue at the next poll) at this epoch-ms time. */
  deadline: number;
  /** Stop reading after this many bytes in one poll. */
  maxBytes: number;
}

export type ReopenReason = 'rotated' | 'truncated';

/**
 * Follows one log file like `tail -F`: remembers the open file, its inode and the offset
 * read so far, and reads only what was appended since. Rename-and-create rotation: the old
 * file's tail is read to its end through the still-open handle, then the new file from 0.
 * Copy-truncate: a file smaller than the offset is read again from 0. A last line without
 * its newline waits until it is completed.
 */
export class LogFollower {
  readonly counts = new Map<LogLevelLabel, number>(LOG_LEVEL_LABELS.map((l) => [l, 0]));
  readonly reopens = new Map<ReopenReason, number>([
    ['rotated', 0],
    ['truncated', 0],
  ]);
  present = false;
  /** Bytes read from log files so far: grows by what was appended, never by a re-read. */
  bytesRead = 0;
  private fh: FileHandle | undefined;
  private ino = -1;
  private dev = -1;
  private offset = 0;
  /** The unterminated last line so far (at most MAX_LINE characters). */
  private partial = '';
  /** Set when starting mid-line at the end of an existing file: that line's rest is not a line. */
  private skipToNewline = false;
  private firstPoll = true;
  private lock: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly startAt: 'end' | 'beginning',
  ) {}

  /** Reads what was appended since the last poll; polls never overlap. */
  poll(limits: FollowLimits, logger: Logger): Promise<void> {
    const run = this.lock.then(() => this.pollOnce(limits, logger));
    this.lock = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.lock;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private async pollOnce(limits: FollowLimits, logger: Logger): Promise<void> {
    const first = this.firstPoll;
    this.firstPoll = false;
    let st: Stats | undefined;
    try {
      st = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const budget = { bytes: limits.maxBytes, deadline: limits.deadline };

    if (this.fh) {
      const replaced = st !== undefined && (st.ino !== this.ino || st.dev !== this.dev);
      if (!replaced) {
        // Same file (or renamed away with no successor yet: the writer may still append to it).
        const size = (await this.fh.stat()).size;
        if (size < this.offset) {
          logger.info(
            { log: this.path, offset: this.offset, size },
            'log file truncated; reading from the start',
          );
          this.bump('truncated');
          this.offset = 0;
          this.dropPartial();
        }
        this.present = st !== undefined;
        await this.readAvailable(size, budget);
        return;
      }
      // Rotated: finish the old file, then switch.
      const oldSize = (await this.fh.stat()).size;
      const done = await this.readAvailable(oldSize, budget);
      if (!done) return; // out of budget; the rest of the old file comes first next time
      this.flushPartial();
      await this.fh.close().catch(() => undefined);
      this.fh = undefined;
      this.bump('rotated');
      logger.info({ log: this.path }, 'log file rotated; reading the new file from the start');
    }

    this.present = st !== undefined;
    if (!st) return;
    if (!st.isFile()) throw new Error(`${this.path} is not a regular file`);
    this.fh = await open(this.path, 'r');
    const opened = await this.fh.stat();
    this.ino = opened.ino;
    this.dev = opened.dev;
    this.offset = 0;
    this.dropPartial();
    if (first && this.startAt === 'end' && opened.size > 0) {
      this.offset = opened.size;
      const last = Buffer.alloc(1);
      await this.fh.read(last, 0, 1, opened.size - 1);
      this.skipToNewline = last[0] !== NEWLINE;
    }
    await this.readAvailable(opened.size, budget);
  }

  /** Reads from the offset up to `size`; false when the budget ran out first. */
  private async readAvailable(size: number, budget: { bytes: number; deadline: number }): Promise<boolean> {
    const fh = this.fh;
    if (!fh) return true;
    const buf = Buffer.allocUnsafe(CHUNK);
    while (this.offset < size) {
      if (budget.bytes <= 0 || Date.now() >= budget.deadline) return false;
      const want = Math.min(CHUNK, size - this.offset, budget.bytes);
      const { bytesRead } = await fh.read(buf, 0, want, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      this.bytesRead += bytesRead;
      budget.bytes -= bytesRead;
      this.consume(buf.subarray(0, bytesRead));
    }
    return true;
  }

  private consume(chunk: Buffer): void {
    // latin1 keeps every byte as one character: a multi-byte character split across chunks
    // cannot throw or merge lines, and level words are ASCII.
    const text = chunk.toString('latin1');
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        this.keepPartial(text, start, text.length);
        return;
      }
      if (this.partial.length === 0) this.endLine(text.slice(start, Math.min(nl, start + MAX_LINE)));
      else {
        this.keepPartial(text, start, nl);
        this.endLine(this.partial);
      }
      start = nl + 1;
    }
  }

  private keepPartial(text: string, from: number, to: number): void {
    const room = MAX_LINE - this.partial.length;
    if (room > 0 && to > from) this.partial += text.slice(from, Math.min(to, from + room));
  }

  private endLine(line: string): void {
    this.partial = '';
    if (this.skipToNewline) {
      this.skipToNewline = false;
      return;
    }
    const level = classifyLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    this.counts.set(level, (this.counts.get(level) ?? 0) + 1);
  }

  /** A rotated file will not grow any more: its unterminated last line is a line. */
  private flushPartial(): void {
    if (this.partial.length > 0) this.endLine(this.partial);
    this.skipToNewline = false;
  }

  private dropPartial(): void {
    this.partial = '';
  }

  private bump(reason: ReopenReason): void {
    this.reopens.set(reason, (this.reopens.get(reason) ?? 0) + 1);
  }
}

/** Bytes read per scrape at most; a backlog larger than this is read over the next scrapes. */
const MAX_BYTES_PER_SCRAPE = 256 * 1024 * 1024;
/** Reading stops this long before the scrape deadline so the answer is on time. */
const DEADLINE_MARGIN_MS = 100;

/**
 * `stackwatch_log_lines_total{log,level}` for one configured file. The file is read
 * incrementally on each scrape; counters start at zero when stackwatch starts.
 */
export class LogLinesCollector implements Collector {
  readonly name: string;
  private readonly follower: LogFollower;

  constructor(private readonly cfg: LogConfig) {
    this.name = `log/${cfg.name}`;
    this.follower = new LogFollower(cfg.path, cfg.start_at);
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    try {
      await this.follower.poll(
        { deadline: ctx.deadline - DEADLINE_MARGIN_MS, maxBytes: MAX_BYTES_PER_SCRAPE },
        ctx.logger,
      );
    } catch (err) {
      ctx.logger.warn(
        { log: this.cfg.name, path: this.cfg.path, err: errorText(err) },
        'cannot read log file',
      );
      throw err;
    }
    return this.families();
  }

  /** The counters so far: a failed read does not make the series disappear. */
  failureFamilies(): MetricFamily[] {
    return this.families();
  }

  private families(): MetricFamily[] {
    const log = this.cfg.name;
    const lines = counter(
      'stackwatch_log_lines_total',
      'Lines appended to an application log file since stackwatch started, by level.',
    );
    for (const [level, n] of this.follower.counts) lines.add({ log, level }, n);
    const reopens = counter(
      'stackwatch_log_reopens_total',
      'Times a followed log file was reopened because it was rotated or truncated.',
    );
    for (const [reason, n] of this.follower.reopens) reopens.add({ log, reason }, n);
    const present = gauge('stackwatch_log_file_present', 'Whether the log file exists (1) or not (0).').add(
      { log },
      this.follower.present ? 1 : 0,
    );
    const read = counter(
      'stackwatch_log_read_bytes_total',
      'Bytes read from the log file (appended data only).',
    ).add({ log }, this.follower.bytesRead);
    return [lines, reopens, present, read];
  }

  async close(): Promise<void> {
    await this.follower.close();
  }
}
