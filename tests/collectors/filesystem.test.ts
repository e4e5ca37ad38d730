// The filesystem collector where the shipped deployments run it: in a container with the host's
// `/` bind-mounted at /host. The container (busybox) runs stackwatch with this machine's Node.js
// (its /usr, /lib, /lib64) and the built dist/, all read-only bind mounts, as uid 1000 like
// the image, on a real engine.
import { readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { FilesystemCollector, parseMounts, selectMounts } from '../../src/collectors/filesystem.js';
import { createLogger } from '../../src/logger.js';
import { renderFamilies } from '../../src/metrics/exposition.js';
import { parseConfigText } from '../../src/config/load.js';
import { BUSYBOX_IMAGE, startDockerEngine, type DockerEngine } from '../support/docker.js';
import { REPO_ROOT, samples } from '../support/stackwatch.js';
import { freePort, tempDir, waitFor } from '../support/util.js';

const DEPLOY = join(REPO_ROOT, 'deploy');

/** The `collectors.filesystem` section the compose deployment gives stackwatch. */
const composeFilesystem = (
  parse(readFileSync(join(DEPLOY, 'stackwatch.yml'), 'utf8')) as {
    collectors: { filesystem: Record<string, string> };
  }
).collectors.filesystem;

/** The same section of the node DaemonSet's ConfigMap. */
const daemonSetFilesystem = (() => {
  const docs = parseAllDocuments(
    readFileSync(join(DEPLOY, 'kubernetes', 'stackwatch-node.yaml'), 'utf8'),
  ).map((d) => d.toJS() as { kind: string; data?: Record<string, string> });
  const text = docs.find((d) => d.kind === 'ConfigMap')?.data?.['stackwatch.yml'] as string;
  return (parse(text) as { collectors: { filesystem: Record<string, string> } }).collectors.filesystem;
})();

/** The stackwatch volume of deploy/docker-compose.yml that carries the host's root. */
const composeRootVolume = (
  parse(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { volumes?: string[] }>;
  }
).services.stackwatch?.volumes?.find((v) => v.startsWith('/:')) as string;

function hostMounts() {
  return parseMounts(readFileSync('/proc/1/mounts', 'utf8'));
}

describe('root_prefix: mount points as the host sees them', () => {
  const cfg = (root_prefix: string) =>
    parseConfigText(stringify({ collectors: { filesystem: { root_prefix } } }), {}).collectors.filesystem;

  it('keeps the host mount table as it is and strips the prefix from a container mount table', () => {
    const hostTable = ['/dev/vda1 / ext4 rw 0 0', '/dev/vda2 /boot ext4 rw 0 0'].join('\n');
    const containerTable = [
      'overlay / overlay rw 0 0',
      '/dev/vda1 /host ext4 ro 0 0',
      '/dev/vda2 /host/boot ext4 ro 0 0',
      '/dev/vdc /hostdata xfs rw 0 0',
    ].join('\n');
    const points = (text: string) => selectMounts(parseMounts(text), cfg('/host')).map((m) => m.mountpoint);
    expect(points(hostTable)).toEqual(['/', '/boot']);
    expect(points(containerTable)).toEqual(['/', '/boot', '/hostdata']);
    expect(selectMounts(parseMounts(containerTable), cfg('/host/')).map((m) => m.mountpoint)).toEqual([
      '/',
      '/boot',
      '/hostdata',
    ]);
  });

  it('marks a host mount missing under the prefix as device_error, and reports the others', async () => {
    const root = tempDir('swroot');
    try {
      const table = ['/dev/vda1 / ext4 rw 0 0', '/dev/vdb /srv/not-mounted-here ext4 rw 0 0'].join('\n');
      const collector = new FilesystemCollector(cfg(root.path), undefined, async () => table);
      const ctx = {
        signal: new AbortController().signal,
        deadline: Date.now() + 5000,
        logger: createLogger('error'),
      };
      const text = renderFamilies(await collector.collect(ctx)).text;
      // in the order the statfs calls return
      const errors = samples(text, 'node_filesystem_device_error');
      expect(
        errors.sort((a, b) => (a.labels.mountpoint as string).localeCompare(b.labels.mountpoint as string)),
      ).toEqual([
        { labels: { device: '/dev/vda1', fstype: 'ext4', mountpoint: '/' }, value: 0 },
        { labels: { device: '/dev/vdb', fstype: 'ext4', mountpoint: '/srv/not-mounted-here' }, value: 1 },
      ]);
      const st = statfsSync(root.path);
      expect(samples(text, 'node_filesystem_size_bytes')).toEqual([
        { labels: { device: '/dev/vda1', fstype: 'ext4', mountpoint: '/' }, value: st.blocks * st.bsize },
      ]);
    } finally {
      root.cleanup();
    }
  });
});

describe('in a container with the host root at /host', () => {
  let engine: DockerEngine;
  const dir = tempDir('swfs');

  beforeAll(async () => {
    // `/` shared inside the engine's namespace, as on a systemd host, so the compose file's
    // rslave mount is accepted here too.
    engine = await startDockerEngine({ sharedRoot: true });
  }, 90_000);
  afterAll(async () => {
    await engine?.cleanup();
    dir.cleanup();
  });

  /** Runs stackwatch with a filesystem-only configuration in a container; returns one scrape. */
  async function scrapeInContainer(opts: {
    name: string;
    filesystem: Record<string, string>;
    dockerFlags: string[];
  }): Promise<string> {
    const port = await freePort();
    const config = stringify({
      collectors: { filesystem: opts.filesystem, docker: { enabled: false } },
      receiver: { enabled: false },
    });
    const configFile = join(dir.path, `${opts.name}.yml`);
    writeFileSync(configFile, config);
    await engine.docker([
      'run',
      '-d',
      '--name',
      opts.name,
      '--network',
      'host',
      '--user',
      '1000:1000',
      // The Node.js that runs the suite, with the machine's libraries from /usr and /lib.
      ...['-v', '/usr:/usr:ro', '-v', '/lib:/lib:ro', '-v', '/lib64:/lib64:ro'],
      ...['-v', `${process.execPath}:/opt/node/bin/node:ro`],
      ...['-v', `${join(REPO_ROOT, 'dist')}:/app/dist:ro`],
      ...['-v', `${join(REPO_ROOT, 'node_modules')}:/app/node_modules:ro`],
      ...['-v', `${join(REPO_ROOT, 'package.json')}:/app/package.json:ro`],
      ...['-v', `${configFile}:/etc/stackwatch/stackwatch.yml:ro`],
      ...opts.dockerFlags,
      BUSYBOX_IMAGE,
      '/opt/node/bin/node',
      '/app/dist/cli.js',
      '--config.file=/etc/stackwatch/stackwatch.yml',
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    try {
      return await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/metrics`);
          return res.ok ? await res.text() : undefined;
        },
        20_000,
        `stackwatch in ${opts.name} to answer /metrics`,
        200,
      );
    } catch (err) {
      throw new Error(`${String(err)}\n${await engine.docker(['logs', opts.name]).catch(String)}`, {
        cause: err,
      });
    } finally {
      await engine.docker(['rm', '-f', opts.name]);
    }
  }

  /** What the host itself says about `/`: its device and its size. */
  function hostRoot() {
    const dev = hostMounts().find((m) => m.mountpoint === '/');
    const st = statfsSync('/');
    return { device: dev?.device, fstype: dev?.fstype, size: st.blocks * st.bsize, files: st.files };
  }

  function expectHostRoot(text: string) {
    const root = hostRoot();
    const size = samples(text, 'node_filesystem_size_bytes').filter((s) => s.labels.mountpoint === '/');
    expect(size).toEqual([
      { labels: { device: root.device, fstype: root.fstype, mountpoint: '/' }, value: root.size },
    ]);
    expect(samples(text, 'node_filesystem_files').find((s) => s.labels.mountpoint === '/')?.value).toBe(
      root.files,
    );
    expect(
      samples(text, 'node_filesystem_device_error').find((s) => s.labels.mountpoint === '/')?.value,
    ).toBe(0);
    expect(samples(text, 'stackwatch_scrape_collector_success')).toContainEqual({
      labels: { collector: 'filesystem' },
      value: 1,
    });
    // Every mount point is the host's: none keeps the container's /host prefix.
    const points = samples(text, 'node_filesystem_device_error').map((s) => s.labels.mountpoint as string);
    expect(points.filter((p) => p === '/host' || p.startsWith('/host/'))).toEqual([]);
    return points;
  }

  /** Reported mount points must be ones the host lists (read around the scrape: mounts come and go). */
  function expectOnlyHostMountPoints(points: string[], before: Set<string>) {
    const known = new Set([...before, ...hostMounts().map((m) => m.mountpoint)]);
    expect(points.filter((p) => !known.has(p))).toEqual([]);
  }

  it("the compose deployment: the compose file's root mount and deploy/stackwatch.yml", async () => {
    expect(composeRootVolume).toBe('/:/host:ro,rslave');
    const before = new Set(hostMounts().map((m) => m.mountpoint));
    const text = await scrapeInContainer({
      name: 'compose',
      filesystem: composeFilesystem,
      dockerFlags: ['-v', composeRootVolume],
    });
    expectOnlyHostMountPoints(expectHostRoot(text), before);
  });

  it('the documented alternative for a host whose / is not a shared mount (/:/host:ro)', async () => {
    const before = new Set(hostMounts().map((m) => m.mountpoint));
    const text = await scrapeInContainer({
      name: 'private-root',
      filesystem: composeFilesystem,
      dockerFlags: ['-v', '/:/host:ro'],
    });
    expectOnlyHostMountPoints(expectHostRoot(text), before);
  });

  it("the node DaemonSet's layout: the host's PID namespace, / at /host, its ConfigMap", async () => {
    const before = new Set(hostMounts().map((m) => m.mountpoint));
    const text = await scrapeInContainer({
      name: 'daemonset',
      filesystem: daemonSetFilesystem,
      // hostPID, and mountPropagation HostToContainer is an rslave bind mount
      dockerFlags: ['--pid', 'host', '-v', '/:/host:ro,rslave'],
    });
    expectOnlyHostMountPoints(expectHostRoot(text), before);
  });

  it("the container's own mount table: the prefix is stripped from the host's mounts", async () => {
    const text = await scrapeInContainer({
      name: 'own-table',
      filesystem: { mounts_path: '/proc/self/mounts', root_prefix: '/host' },
      dockerFlags: ['-v', '/:/host:ro'],
    });
    expectHostRoot(text);
  });
});
