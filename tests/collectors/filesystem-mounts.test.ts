import { describe, expect, it } from 'vitest';
import { FilesystemCollector, parseMounts, selectMounts } from '../../src/collectors/filesystem.js';
import { parseConfigText } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { renderFamilies } from '../../src/metrics/exposition.js';
const logger = createLogger('error');

describe('filesystem collector', () => {
  const mounts = [
    '/dev/vda1 / ext4 rw,relatime 0 0',
    'proc /proc proc rw,nosuid 0 0',
    'tmpfs /run/credentials/x.service tmpfs ro 0 0',
    'overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0',
    '/dev/vdb /mnt/with\\040space xfs ro,relatime 0 0',
    'nfs:/export /mnt/nfs nfs4 rw 0 0',
  ].join('\n');
  const cfg = parseConfigText('{}', {}).collectors.filesystem;

  it('parses mounts and applies node_exporter default excludes', () => {
    const selected = selectMounts(parseMounts(mounts), cfg);
    expect(selected.map((m) => m.mountpoint)).toEqual(['/', '/mnt/with space', '/mnt/nfs']);
    expect(selected[1]?.options).toContain('ro');
  });

  it('marks a hung mount as device_error without stalling, and skips it while it is stuck', async () => {
    let hungCalls = 0;
    const statfs = async (p: string) => {
      if (p === '/mnt/nfs') {
        hungCalls++;
        return await new Promise<never>(() => undefined);
      }
      return { bsize: 4096, blocks: 100, bfree: 50, bavail: 40, files: 10, ffree: 5 };
    };
    const c = new FilesystemCollector({ ...cfg, stat_timeout: 100 }, statfs, async () => mounts);
    const ctx = { signal: new AbortController().signal, deadline: Date.now() + 5000, logger };
    for (let i = 0; i < 3; i++) {
      const { text } = renderFamilies(await c.collect(ctx));
      expect(text).toContain(
        'node_filesystem_device_error{device="nfs:/export",fstype="nfs4",mountpoint="/mnt/nfs"} 1',
      );
      expect(text).toContain(
        'node_filesystem_size_bytes{device="/dev/vda1",fstype="ext4",mountpoint="/"} 409600',
      );
      expect(text).toContain(
        'node_filesystem_readonly{device="/dev/vdb",fstype="xfs",mountpoint="/mnt/with space"} 1',
      );
      expect(text).not.toContain('node_filesystem_size_bytes{device="nfs:/export"');
    }
    expect(hungCalls).toBe(1);
  });
});
