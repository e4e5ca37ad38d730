import { readFile, statfs as fsStatfs } from 'node:fs/promises';
import type { z } from 'zod';
import type { filesystemSection } from '../config/schema.js';
import { errorText } from '../logger.js';
import { gauge, type MetricFamily } from '../metrics/exposition.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';

export type FilesystemConfig = z.infer<typeof filesystemSection>;

export interface MountEntry {
  device: string;
  mountpoint: string;
  fstype: string;
  options: string[];
}

export interface StatfsResult {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

/** `\040`-style octal escapes in /proc/mounts fields. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/<pid>/mounts text. Pure, so it is tested on captured files. */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.push({
      device: unescapeMountField(f[0] as string),
      mountpoint: unescapeMountField(f[1] as string),
      fstype: f[2] as string,
      options: (f[3] as string).split(','),
    });
  }
  return out;
}

/**
 * A mount point as the host sees it, as node_exporter's `--path.rootfs` does: the host root's
 * prefix is stripped where present (a container's own mount table lists `/host`, `/host/boot`),
 * and a mount point without it is already the host's (the host's table, read through
 * `/host/proc/1/mounts` or with the host's PID namespace, lists `/`, `/boot`). Unlike
 * node_exporter, only whole path components are stripped, so `/hostdata` stays itself.
 */
export function hostMountPoint(mountpoint: string, rootPrefix: string): string {
  const prefix = rootPrefix.replace(/\/+$/, '');
  if (!prefix) return mountpoint;
  if (mountpoint === prefix) return '/';
  if (mountpoint.startsWith(prefix + '/')) return mountpoint.slice(prefix.length);
  return mountpoint;
}

/** Where the collector reads a host mount point's statistics: under the host root's prefix. */
export function statPath(mountpoint: string, rootPrefix: string): string {
  const prefix = rootPrefix.replace(/\/+$/, '');
  return prefix + (mountpoint === '/' && prefix ? '' : mountpoint);
}

/** Mounts node_exporter would report, after its mount-point and fs-type excludes. */
export function selectMounts(
  mounts: MountEntry[],
  cfg: Pick<FilesystemConfig, 'mount_points_exclude' | 'fs_types_exclude' | 'root_prefix'>,
): MountEntry[] {
  const seen = new Set<string>();
  const out: MountEntry[] = [];
  for (const m of mounts) {
    const mp = hostMountPoint(m.mountpoint, cfg.root_prefix);
    if (cfg.mount_points_exclude.test(mp) || cfg.fs_types_exclude.test(m.fstype)) continue;
    // A mount point listed twice (over-mounted) is reported once, as the kernel resolves it.
    const key = `${m.device}\0${mp}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ...m, mountpoint: mp });
  }
  return out;
}

type StatfsFn = (path: string) => Promise<StatfsResult>;

/**
 * node_exporter's filesystem collector. A statfs that has not returned within
 * `stat_timeout` marks the mount `device_error 1`; while it stays pending, later scrapes
 * do not call statfs on that mount again, so a hung NFS/FUSE mount costs nothing per scrape.
 */
export class FilesystemCollector implements Collector {
  readonly name = 'filesystem';
  private readonly stuck = new Map<string, Promise<unknown>>();

  constructor(
    private readonly cfg: FilesystemConfig,
    private readonly statfs: StatfsFn = (p) => fsStatfs(p),
    private readonly readMounts: () => Promise<string> = () => readMountsFile(cfg.mounts_path),
  ) {}

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const mounts = selectMounts(parseMounts(await this.readMounts()), this.cfg);
    const size = gauge('node_filesystem_size_bytes', 'Filesystem size in bytes.');
    const free = gauge('node_filesystem_free_bytes', 'Filesystem free space in bytes.');
    const avail = gauge(
      'node_filesystem_avail_bytes',
      'Filesystem space available to non-root users in bytes.',
    );
    const files = gauge('node_filesystem_files', 'Filesystem total file nodes.');
    const filesFree = gauge('node_filesystem_files_free', 'Filesystem total free file nodes.');
    const readonly = gauge('node_filesystem_readonly', 'Filesystem read-only status.');
    const deviceError = gauge(
      'node_filesystem_device_error',
      'Whether an error occurred while getting statistics for the given device.',
    );

    const timeout = Math.min(this.cfg.stat_timeout, remainingMs(ctx));
    await Promise.all(
      mounts.map(async (m) => {
        const labels = { device: m.device, fstype: m.fstype, mountpoint: m.mountpoint };
        readonly.add(labels, m.options.includes('ro') ? 1 : 0);
        const st = await this.statWithTimeout(statPath(m.mountpoint, this.cfg.root_prefix), timeout, ctx);
        if (!st) {
          deviceError.add(labels, 1);
          return;
        }
        deviceError.add(labels, 0);
        size.add(labels, st.blocks * st.bsize);
        free.add(labels, st.bfree * st.bsize);
        avail.add(labels, st.bavail * st.bsize);
        files.add(labels, st.files);
        filesFree.add(labels, st.ffree);
      }),
    );
    return [size, free, avail, files, filesFree, readonly, deviceError];
  }

  private async statWithTimeout(
    path: string,
    timeoutMs: number,
    ctx: ScrapeContext,
  ): Promise<StatfsResult | undefined> {
    if (this.stuck.has(path)) return undefined;
    const call = this.statfs(path);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const r = await Promise.race([call, timedOut]);
      if (r !== 'timeout') return r;
      ctx.logger.warn(
        { mountpoint: path, timeout_ms: timeoutMs },
        'statfs timed out; mount marked stuck until it returns',
      );
      const settle = call.then(
        () => undefined,
        () => undefined,
      );
      this.stuck.set(path, settle);
      void settle.then(() => {
        this.stuck.delete(path);
        ctx.logger.info({ mountpoint: path }, 'stuck mount returned');
      });
      return undefined;
    } catch (err) {
      ctx.logger.debug({ mountpoint: path, err: errorText(err) }, 'statfs failed');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readMountsFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    // Without access to PID 1's view (unprivileged, some sandboxes) fall back to our own.
    if (file === '/proc/1/mounts') return readFile('/proc/mounts', 'utf8');
    throw err;
  }
}
