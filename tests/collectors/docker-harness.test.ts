import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, startDockerEngine, type DockerEngine } from '../support/docker.js';

describe('Docker engine harness', () => {
  let engine: DockerEngine;

  beforeAll(async () => {
    engine = await startDockerEngine();
  });
  afterAll(async () => {
    await engine?.cleanup();
  });

  it('starts an engine with its own socket that runs the imported busybox image', async () => {
    const version = await engine.api<{ ApiVersion: string }>('/version');
    expect(version.ApiVersion).toMatch(/^1\.\d+$/);
    const id = await engine.runContainer('smoke', [], ['sh', '-c', 'echo hello; sleep 60']);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const inspect = await engine.api<{ State: { Running: boolean }; Config: { Image: string } }>(
      `/containers/${id}/json`,
    );
    expect(inspect.State.Running).toBe(true);
    expect(inspect.Config.Image).toBe(BUSYBOX_IMAGE);
    expect(await engine.docker(['logs', 'smoke'])).toBe('hello');
  });

  it('stops dockerd, its containerd and containers, unmounts and removes the directory', async () => {
    const pid = engine.proc.child.pid as number;
    await engine.cleanup();
    expect(existsSync(engine.dir)).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(engine.dir);
    // No containerd, shim or container process mentions the directory any more.
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(engine.dir);
        } catch {
          return false;
        }
      });
    expect(left).toEqual([]);
  });
});
