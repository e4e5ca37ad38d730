// The image built from the repository's Dockerfile, unchanged, with the classic builder on a
// private engine, from base-image stand-ins (tests/support/standins.ts: the Debian release by
// debootstrap plus the Node.js line the Dockerfile names, cached between runs), then run as
// deploy/docker-compose.yml runs it: its mounts, deploy/stackwatch.yml, the Docker socket with
// the socket's group.
import { chownSync, cpSync, mkdirSync, readFileSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseMounts } from '../../src/collectors/filesystem.js';
import { startDockerEngine, type DockerEngine } from '../support/docker.js';
import { importStandins, type BaseImage } from '../support/standins.js';
import { REPO_ROOT, samples } from '../support/stackwatch.js';
import { freePort, run, tempDir, waitFor } from '../support/util.js';

const IMAGE = 'stackwatch:test';

const composeService = (
  parse(readFileSync(join(REPO_ROOT, 'deploy', 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { volumes: string[]; command: string[] }>;
  }
).services.stackwatch as { volumes: string[]; command: string[] };

describe('the image', () => {
  let engine: DockerEngine;
  const tmp = tempDir('swimg');
  let buildSeconds = 0;
  let bases: BaseImage[] = [];

  /** The classic builder, with the host's network for npm (the engine has no bridge). */
  const build = async (args: string[]) => {
    const r = await run('docker', ['build', '--network', 'host', ...args], {
      env: { ...process.env, DOCKER_HOST: engine.host, DOCKER_BUILDKIT: '0' },
    });
    if (r.code !== 0)
      throw new Error(
        `docker build ${args.join(' ')}: exit ${r.code}\n${(r.stdout + r.stderr).slice(-6000)}`,
      );
    return r.stdout;
  };

  beforeAll(async () => {
    // `/` shared inside the engine's namespace, so the compose file's rslave mount is accepted.
    engine = await startDockerEngine({ sharedRoot: true });
    bases = await importStandins(engine);
    const started = Date.now();
    await build(['-t', IMAGE, REPO_ROOT]);
    buildSeconds = (Date.now() - started) / 1000;
  }, 900_000);
  afterAll(async () => {
    await engine?.cleanup();
    tmp.cleanup();
  });

  /**
   * `docker run` with the compose file's stackwatch volumes (its ./stackwatch.yml, the socket,
   * the host root) and group, the data volume replaced by `dataDir` when given; the command's
   * flags plus a listen address of our choosing (the engine has no bridge: host network).
   */
  async function runLikeCompose(name: string, opts: { port: number; dataDir?: string }): Promise<void> {
    const volumes = composeService.volumes.flatMap((v) => {
      const [source, target, mode] = v.split(':') as [string, string, string | undefined];
      if (source === './stackwatch.yml')
        return [`${join(REPO_ROOT, 'deploy', 'stackwatch.yml')}:${target}:${mode}`];
      if (source === '/var/run/docker.sock') return [`${engine.socket}:${target}:${mode}`];
      if (target === '/var/lib/stackwatch')
        return [opts.dataDir ? `${opts.dataDir}:${target}` : `${name}-data:${target}`];
      if (source.startsWith('/') && !source.startsWith('/opt')) return [v];
      return []; // the backup directory and the application's log volume belong to other services
    });
    await engine.docker([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'host',
      '--group-add',
      String(statSync(engine.socket).gid),
      // The image's HEALTHCHECK command, checked every 2 s instead of 30 s, and given 30 s instead
      // of 5 s: on a loaded machine a Node.js start alone can take seconds.
      '--health-interval',
      '2s',
      '--health-timeout',
      '30s',
      ...volumes.flatMap((v) => ['-v', v]),
      IMAGE,
      ...composeService.command,
      `--web.listen-address=:${opts.port}`,
    ]);
  }

  const health = async (name: string) =>
    JSON.parse(await engine.docker(['inspect', '-f', '{{json .State.Health}}', name])) as {
      Status: string;
      Log: { Output: string }[] | null;
    };

  describe('run as the compose file runs it', () => {
    let port: number;
    let metrics: string;

    beforeAll(async () => {
      port = await freePort();
      await runLikeCompose('stackwatch', { port });
      await waitFor(
        async () => (await health('stackwatch')).Status === 'healthy',
        60_000,
        'a healthy container',
        500,
      );
      metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    }, 90_000);

    it('is healthy on a listen port of its flags, and runs as node, not root', async () => {
      expect((await health('stackwatch')).Status).toBe('healthy');
      // The Node.js line and the Debian release the Dockerfile's base image names.
      const base = bases.at(-1) as BaseImage;
      expect(await engine.docker(['exec', 'stackwatch', 'node', '-p', 'process.versions.node'])).toMatch(
        new RegExp(`^${base.nodeMajor}\\.`),
      );
      expect(
        await engine.docker([
          'exec',
          'stackwatch',
          'sh',
          '-c',
          '. /etc/os-release && echo $VERSION_CODENAME',
        ]),
      ).toBe(base.suite);
      expect(await engine.docker(['exec', 'stackwatch', 'id', '-un'])).toBe('node');
      expect(await engine.docker(['exec', 'stackwatch', 'id', '-u'])).toBe('1000');
      const size = Number(await engine.docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE]));
      console.log(`image ${Math.round(size / 1e6)} MB, built in ${buildSeconds.toFixed(0)} s`);
    });

    it("reports the host's / in node_filesystem_*", () => {
      const root = parseMounts(readFileSync('/proc/1/mounts', 'utf8')).find((m) => m.mountpoint === '/');
      const st = statfsSync('/');
      expect(
        samples(metrics, 'node_filesystem_size_bytes').filter((s) => s.labels.mountpoint === '/'),
      ).toEqual([
        {
          labels: { device: root?.device, fstype: root?.fstype, mountpoint: '/' },
          value: st.blocks * st.bsize,
        },
      ]);
      expect(samples(metrics, 'node_filesystem_avail_bytes').some((s) => s.labels.mountpoint === '/')).toBe(
        true,
      );
    });

    it('samples containers through the mounted socket, with the socket group', async () => {
      expect(samples(metrics, 'docker_up')).toEqual([{ labels: {}, value: 1 }]);
      const text = await waitFor(
        async () => {
          const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return samples(t, 'container_memory_usage_bytes').some((s) => s.labels.name === 'stackwatch')
            ? t
            : undefined;
        },
        30_000,
        'its own container in the Docker metrics',
        500,
      );
      expect(samples(text, 'container_last_seen').map((s) => s.labels.name)).toContain('stackwatch');
    });

    it('keeps its outbox in the data volume', async () => {
      expect(await engine.docker(['exec', 'stackwatch', 'ls', '/var/lib/stackwatch'])).toMatch(/\S/);
    });
  });

  it('is not ready, and unhealthy with the reason, while the data directory is not writable', async () => {
    const dataDir = join(tmp.path, 'root-owned-data');
    mkdirSync(dataDir, { mode: 0o755 });
    chownSync(dataDir, 0, 0);
    const port = await freePort();
    await runLikeCompose('unwritable', { port, dataDir });
    const ready = await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
        return { status: r.status, body: await r.text() };
      },
      30_000,
      'the service to answer',
      500,
    );
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(
      /^Not ready: the outbox cannot be opened \(data_dir \/var\/lib\/stackwatch\): unable to open database file/,
    );
    expect((await fetch(`http://127.0.0.1:${port}/-/healthy`)).status).toBe(200);
    const h = await waitFor(
      async () => {
        const s = await health('unwritable');
        return s.Status === 'unhealthy' ? s : undefined;
      },
      60_000,
      'the container to turn unhealthy',
      500,
    );
    expect(h.Log?.at(-1)?.Output).toContain('Not ready: the outbox cannot be opened');
    // Given to the image's user, it turns ready without a restart.
    chownSync(dataDir, 1000, 1000);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200,
      10_000,
      'ready',
    );
    await waitFor(
      async () => (await health('unwritable')).Status === 'healthy',
      30_000,
      'healthy again',
      500,
    );
  }, 120_000);

  it('.dockerignore keeps deploy/.env and deploy/secrets from the build daemon', async () => {
    // A copy of the repository with the operator's secrets in place, as deploy/README.md makes them.
    const ctx = join(tmp.path, 'context');
    cpSync(REPO_ROOT, ctx, {
      recursive: true,
      filter: (src) => !/^(node_modules|\.git|dist)(\/|$)/.test(relative(REPO_ROOT, src)),
    });
    mkdirSync(join(ctx, 'deploy', 'secrets'), { recursive: true });
    writeFileSync(join(ctx, 'deploy', 'secrets', 'stackwatch-token'), 'token\n');
    writeFileSync(join(ctx, 'deploy', '.env'), 'POSTGRES_PASSWORD=pw\n');
    writeFileSync(
      join(ctx, 'context.Dockerfile'),
      `FROM ${(bases.at(-1) as BaseImage).name}\nCOPY . /context\n`,
    );
    await build(['-f', join(ctx, 'context.Dockerfile'), '-t', 'local/context:1', ctx]);
    const listed = await engine.docker([
      'run',
      '--rm',
      '--network',
      'none',
      'local/context:1',
      'find',
      '/context/deploy',
    ]);
    expect(listed).toContain('/context/deploy/docker-compose.yml');
    expect(listed).not.toMatch(/\/context\/deploy\/(secrets|\.env)/);
  }, 120_000);
});
