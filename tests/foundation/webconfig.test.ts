import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

interface Reply {
  status: number;
  body: string;
}

function httpsGet(url: string, ca: Buffer, auth?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca, headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('web config: TLS and basic auth', () => {
  const tmp = tempDir('swweb');
  let sw: StackwatchHandle;
  let ca: Buffer;

  beforeAll(async () => {
    const cert = join(tmp.path, 'cert.pem');
    const key = join(tmp.path, 'key.pem');
    const r = await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    ca = readFileSync(cert);
    const webConfig = join(tmp.path, 'web-config.yml');
    writeFileSync(
      webConfig,
      [
        'tls_server_config:',
        `  cert_file: ${cert}`,
        `  key_file: ${key}`,
        'basic_auth_users:',
        `  prometheus: ${bcrypt.hashSync('correct horse', 10)}`,
      ].join('\n') + '\n',
    );
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
    await expect(fetch(`http://127.0.0.1:${sw.port}/metrics`)).rejects.toThrow();
  });

  it('keeps the liveness endpoint open for container health checks', async () => {
    expect((await httpsGet(`${sw.url}/-/healthy`, ca)).status).toBe(200);
    expect((await httpsGet(`${sw.url}/-/ready`, ca)).status).toBe(401);
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
