import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/common.js';
import { FilesystemCollector, parseMounts, selectMounts } from '../../src/collectors/filesystem.js';
import type { Collector } from '../../src/collectors/collector.js';
import { parseConfigText } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { gauge, renderFamilies } from '../../src/metrics/exposition.js';
import { runCollectors, scrapeTimeoutMs } from '../../src/scrape.js';

const logger = createLogger('error');

describe('durations', () => {
  it('parses Prometheus-style durations to milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('s10')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});

describe('scrape timeout', () => {
  it('takes the Prometheus header minus the offset', () => {
    expect(scrapeTimeoutMs('10', 500, 30_000)).toBe(9500);
    expect(scrapeTimeoutMs('2.5', 500, 30_000)).toBe(2000);
  });
  it('falls back to the configured default for a missing or bad header', () => {
    expect(scrapeTimeoutMs(undefined, 500, 7000)).toBe(7000);
    expect(scrapeTimeoutMs('abc', 500, 7000)).toBe(7000);
    expect(scrapeTimeoutMs('-3', 500, 7000)).toBe(7000);
  });
  it('never goes below 100 ms', () => {
    expect(scrapeTimeoutMs('0.2', 500, 7000)).toBe(100);
  });
  it('never goes above ten minutes, however large the header', () => {
    expect(scrapeTimeoutMs('1e12', 500, 7000)).toBe(600_000);
    expect(scrapeTimeoutMs('1e400', 500, 7000)).toBe(7000);
  });
});

describe('exposition', () => {
  it('escapes label values and merges families from several collectors', () => {
    const a = gauge('x_up', 'Up.').add({ target: 'a"b\\c\nd' }, 1);
    const b = gauge('x_up', 'Up.').add({ target: 'b' }, 0);
    const { text } = renderFamilies([a, b]);
    expect(text).toBe(
      '# HELP x_up Up.\n# TYPE x_up gauge\nx_up{target="a\\"b\\\\c\\nd"} 1\nx_up{target="b"} 0\n',
    );
  });
  it('drops a family whose type conflicts and exact duplicate series', () => {
    const a = gauge('y', 'Y.').add({ l: '1' }, 1).add({ l: '1' }, 2);
    const b = { name: 'y', help: 'Y.', type: 'counter' as const, samples: [{ labels: {}, value: 3 }] };
    const { text, conflicts } = renderFamilies([a, b]);
    expect(conflicts).toEqual(['y']);
    expect(text).toBe('# HELP y Y.\n# TYPE y gauge\ny{l="1"} 1\n');
  });
  it('renders special float values', () => {
    const { text } = renderFamilies([
      gauge('z', 'Z.').add({ a: '1' }, NaN).add({ a: '2' }, Infinity).add({ a: '3' }, -Infinity),
    ]);
    expect(text).toContain('z{a="1"} NaN\nz{a="2"} +Inf\nz{a="3"} -Inf\n');
  });
});

describe('collector runner', () => {
  const ok: Collector = { name: 'ok', collect: async () => [gauge('ok_value', 'Ok.').add({}, 42)] };
  const throws: Collector = {
    name: 'broken',
    collect: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    },
    failureFamilies: () => [gauge('broken_up', 'Up.').add({}, 0)],
  };
  const hangs: Collector = { name: 'hung', collect: () => new Promise(() => undefined) };

  it('isolates a throwing and a hanging collector from the others', async () => {
    const r = await runCollectors([ok, throws, hangs], 300, logger);
    const { text } = renderFamilies(r.families);
    expect(text).toContain('stackwatch_scrape_collector_success{collector="ok"} 1');
    expect(text).toContain('stackwatch_scrape_collector_success{collector="broken"} 0');
    expect(text).toContain('stackwatch_scrape_collector_success{collector="hung"} 0');
    expect(text).toContain('ok_value 42');
    expect(text).toContain('broken_up 0');
    expect(r.failed.sort()).toEqual(['broken', 'hung']);
    // The error text goes to the log, never into a label.
    expect(text).not.toContain('ECONNREFUSED');
  });

  it('aborts the signal it gave a collector when the deadline passes', async () => {
    let aborted = false;
    const watcher: Collector = {
      name: 'watcher',
      collect: (ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    };
    await runCollectors([watcher], 100, logger);
    expect(aborted).toBe(true);
  });
});

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
