import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small filesystem of its own (tmpfs, as root) that a test fills up and frees again. */
export interface SmallFs {
  /** A directory on it, for a data dir. */
  path: string;
  /** Writes a file until the filesystem has no room left. */
  fill: () => void;
  /** Removes that file. */
  free: () => void;
  /** Unmounts it and removes its mount point. */
  cleanup: () => void;
}

export function mountSmallFs(sizeMb: number): SmallFs {
  const mountPoint = mkdtempSync(join(tmpdir(), 'swfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', mountPoint]);
  const path = join(mountPoint, 'data');
  mkdirSync(path, { mode: 0o700 });
  const filler = join(mountPoint, 'filler');
  return {
    path,
    fill: () => {
      const fd = openSync(filler, 'a');
      try {
        // Ever smaller writes until not one block is left.
        for (let size = 1 << 20; size >= 512;) {
          try {
            writeSync(fd, Buffer.alloc(size));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            size >>= 1;
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    cleanup: () => {
      try {
        execFileSync('umount', [mountPoint]);
      } catch {
        execFileSync('umount', ['-l', mountPoint]);
      }
      rmSync(mountPoint, { recursive: true, force: true });
    },
  };
}
