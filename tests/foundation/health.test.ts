// Liveness, readiness and `stackwatch healthcheck` (the image's HEALTHCHECK), as Docker,
// Kubernetes and an operator see them.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTarget, serviceArgs } from '../../src/healthcheck.js';
import { postWebhook, webhook } from '../support/webhooks.js';
import { CLI, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { makeCertificateFiles } from '../support/tls.js';
import { freePort, run, tempDir, waitFor } from '../support/util.js';

const healthcheck = async (args: string[]) => {
  const r = await run(process.execPath, [CLI, 'healthcheck', ...args]);
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
};

describe('readiness while the outbox cannot be opened', () => {
  const tmp = tempDir('swready');
  // The data directory's parent is a file: the outbox cannot be created, as with an unwritable volume.
  const blocker = join(tmp.path, 'volume');
  const dataDir = join(blocker, 'stackwatch');
  let sw: StackwatchHandle;

  beforeAll(async () => {
    writeFileSync(blocker, '');
    sw = await startStackwatch({ config: `data_dir: ${dataDir}\n`, dir: tmp.path });
  });
  afterAll(async () => {
    await sw?.stop();
    tmp.cleanup();
  });

  it('is not ready, with the reason, while /-/healthy stays about the process', async () => {
    const ready = await fetch(`${sw.url}/-/ready`);
    expect(ready.status).toBe(503);
    const body = await ready.text();
    expect(body).toMatch(/^Not ready: the outbox cannot be opened \(data_dir .*\): .*ENOTDIR/);
    expect(body).toContain(`(data_dir ${dataDir})`);
    expect((await fetch(`${sw.url}/-/healthy`)).status).toBe(200);
    expect((await postWebhook(sw.url, webhook({ alertname: 'DiskSpaceLow' }))).status).toBe(503);
  });

  it('the health check fails and says why', async () => {
    const r = await healthcheck([`--web.listen-address=127.0.0.1:${sw.port}`]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `http://127.0.0.1:${sw.port}/-/ready: HTTP 503 Not ready: the outbox cannot be opened`,
    );
  });

  it('turns ready as soon as the volume is fixed, and webhooks are accepted', async () => {
    rmSync(blocker);
    mkdirSync(blocker);
    const ready = await fetch(`${sw.url}/-/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('Ready.\n');
    expect((await postWebhook(sw.url, webhook({ alertname: 'DiskSpaceLow' }))).status).toBe(200);
    expect(await healthcheck([`--web.listen-address=127.0.0.1:${sw.port}`])).toEqual({
      code: 0,
      out: `http://127.0.0.1:${sw.port}: healthy and ready`,
    });
  });
});

describe('stackwatch healthcheck', () => {
  const tmp = tempDir('swhc');
  let tlsService: StackwatchHandle;
  let webConfig: string;

  beforeAll(async () => {
    const cert = await makeCertificateFiles(tmp.path, 2);
    webConfig = join(tmp.path, 'web-config.yml');
    writeFileSync(webConfig, `tls_server_config:\n  cert_file: ${cert.cert}\n  key_file: ${cert.key}\n`);
    tlsService = await startStackwatch({ args: [`--web.config.file=${webConfig}`], scheme: 'https' });
  });
  afterAll(async () => {
    await tlsService?.stop();
    tmp.cleanup();
  });

  it('follows the listen address and the web config: https when TLS is on', async () => {
    const flags = [`--web.listen-address=127.0.0.1:${tlsService.port}`, `--web.config.file=${webConfig}`];
    expect(await healthcheck(flags)).toEqual({
      code: 0,
      out: `https://127.0.0.1:${tlsService.port}: healthy and ready`,
    });
    // Plain HTTP to the TLS port is what the old hard-wired check did: never healthy.
    const plain = await healthcheck([`--web.listen-address=127.0.0.1:${tlsService.port}`]);
    expect(plain.code).toBe(1);
  });

  it('fails when nothing listens', async () => {
    const port = await freePort();
    const r = await healthcheck([`--web.listen-address=127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`http://127.0.0.1:${port}: connect ECONNREFUSED`);
  });

  it('passes with basic auth on, where readiness cannot be asked without a password', async () => {
    const auth = join(tmp.path, 'auth.yml');
    // the check has no password to send
    writeFileSync(auth, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('secret', 4)}\n`);
    const sw = await startStackwatch({ args: [`--web.config.file=${auth}`] });
    try {
      await waitFor(
        async () => (await fetch(`${sw.url}/-/ready`)).status === 401,
        5000,
        '/-/ready to ask for auth',
      );
      expect(
        await healthcheck([`--web.listen-address=127.0.0.1:${sw.port}`, `--web.config.file=${auth}`]),
      ).toEqual({
        code: 0,
        out: `http://127.0.0.1:${sw.port}: healthy (readiness needs basic auth, not checked)`,
      });
    } finally {
      await sw.stop();
    }
  });

  it("reads the running service's flags from its command line, and only the service's", () => {
    expect(serviceArgs(['node', CLI, '--web.listen-address=:9443', '--config.file=/etc/s.yml'], CLI)).toEqual(
      ['--web.listen-address=:9443', '--config.file=/etc/s.yml'],
    );
    expect(serviceArgs(['node', CLI], CLI)).toEqual([]);
    expect(serviceArgs(['node', CLI, 'healthcheck'], CLI)).toBeUndefined();
    expect(serviceArgs(['node', '/other/cli.js', '--web.listen-address=:1'], CLI)).toBeUndefined();
    expect(serviceArgs(['sh'], CLI)).toBeUndefined();
  });

  it('probes loopback for a wildcard listen address', () => {
    expect(probeTarget(':9879', false).baseUrl).toBe('http://127.0.0.1:9879');
    expect(probeTarget('0.0.0.0:9879', true).baseUrl).toBe('https://127.0.0.1:9879');
    expect(probeTarget('[::]:9879', false).baseUrl).toBe('http://[::1]:9879');
    expect(probeTarget('10.1.2.3:8080', false).baseUrl).toBe('http://10.1.2.3:8080');
  });
});
