import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { makeCertificateFiles } from '../support/tls.js';
import { run, tempDir } from '../support/util.js';

interface Reply {
  status: number;
  body: string;
}

function httpsGet(url: string, ca: Buffer, auth?: string, method = 'GET'): Promise<Reply & { cert: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca,
        method,
        // A fresh TLS session each time, so a reloaded certificate is what the handshake shows.
        agent: false,
        headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {},
      },
      (res) => {
        let body = '';
        const cert = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const makeCert = (dir: string, name: string) => makeCertificateFiles(dir, 2, name);

const webConfigText = (cert: { cert: string; key: string }, user: string, password: string) =>
  [
    'tls_server_config:',
    `  cert_file: ${cert.cert}`,
    `  key_file: ${cert.key}`,
    'basic_auth_users:',
    `  ${user}: ${bcrypt.hashSync(password, 10)}`,
  ].join('\n') + '\n';

describe('web config: TLS and basic auth', () => {
  const tmp = tempDir('swweb');
  let sw: StackwatchHandle;
  let ca: Buffer;

  let webConfig: string;

  beforeAll(async () => {
    const cert = await makeCert(tmp.path, 'cert');
    ca = readFileSync(cert.cert);
    webConfig = join(tmp.path, 'web-config.yml');
    writeFileSync(webConfig, webConfigText(cert, 'prometheus', 'correct horse'));
    sw = await startStackwatch({ args: [`--web.config.file=${webConfig}`], scheme: 'https' });
  });
  afterAll(async () => {
    await sw?.stop();
    tmp.cleanup();
  });

  it('serves metrics over TLS to the right user', async () => {
    const r = await httpsGet(`${sw.url}/metrics`, ca, 'prometheus:correct horse');
    expect(r.status).toBe(200);
    expect(r.body).toContain('node_filesystem_size_bytes');
  });

  it('refuses a wrong password, an unknown user and no credentials', async () => {
    for (const auth of ['prometheus:wrong', 'mallory:correct horse', undefined]) {
      const r = await httpsGet(`${sw.url}/metrics`, ca, auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.body).not.toContain('node_filesystem');
    }
  });

  it('refuses plain HTTP on the TLS port', async () => {
    // The TLS listener drops a plain-HTTP request without an HTTP answer.
    await expect(fetch(`http://127.0.0.1:${sw.port}/metrics`)).rejects.toThrow('fetch failed');
  });

  it('keeps the liveness endpoint open for container health checks', async () => {
    expect((await httpsGet(`${sw.url}/-/healthy`, ca)).status).toBe(200);
    expect((await httpsGet(`${sw.url}/-/ready`, ca)).status).toBe(401);
  });

  it('re-reads the web config on reload: a new password and certificate apply at once, a bad file changes nothing', async () => {
    const before = await httpsGet(`${sw.url}/metrics`, ca, 'prometheus:correct horse');
    expect(before.status).toBe(200);
    const next = await makeCert(tmp.path, 'cert2');
    const ca2 = readFileSync(next.cert);
    writeFileSync(webConfig, webConfigText(next, 'prometheus', 'battery staple'));
    expect((await httpsGet(`${sw.url}/-/reload`, ca, 'prometheus:correct horse', 'POST')).status).toBe(200);
    const after = await httpsGet(`${sw.url}/metrics`, ca2, 'prometheus:battery staple');
    expect(after.status).toBe(200);
    expect(after.cert).not.toBe(before.cert);
    expect((await httpsGet(`${sw.url}/metrics`, ca2, 'prometheus:correct horse')).status).toBe(401);

    writeFileSync(webConfig, 'basic_auth_users: [not, a, map]\n');
    const refused = await httpsGet(`${sw.url}/-/reload`, ca2, 'prometheus:battery staple', 'POST');
    expect(refused.status).toBe(500);
    expect(refused.body).toContain(webConfig);
    const still = await httpsGet(`${sw.url}/metrics`, ca2, 'prometheus:battery staple');
    expect(still.status).toBe(200);
    expect(still.body).toMatch(/^stackwatch_config_last_reload_successful 0$/m);
  });

  it('rejects a web config with an unknown key, naming it', async () => {
    const bad = join(tmp.path, 'bad-web.yml');
    writeFileSync(bad, 'basic_auth_users:\n  a: $2y$10$abcdefghijklmnopqrstuv\nbasic_auth_user: {}\n');
    const r = await run(process.execPath, [
      CLI,
      `--web.config.file=${bad}`,
      '--web.listen-address=127.0.0.1:0',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`web config: ${bad}: (root): unknown key basic_auth_user`);
  });
});
