import { join } from 'node:path';
import { run } from './util.js';

/**
 * A self-signed certificate for 127.0.0.1 made by openssl, written as key.pem and cert.pem into
 * `dir`; returns its notAfter in epoch seconds.
 */
export async function makeCertificate(dir: string, days: number): Promise<number> {
  return (await makeCertificateFiles(dir, days)).notAfter;
}

/** The same, as `<name>.pem` and `<name>-key.pem` (default cert.pem and key.pem), with the paths. */
export async function makeCertificateFiles(
  dir: string,
  days: number,
  name?: string,
): Promise<{ cert: string; key: string; notAfter: number }> {
  const key = join(dir, name ? `${name}-key.pem` : 'key.pem');
  const cert = join(dir, `${name ?? 'cert'}.pem`);
  const made = await run('openssl', [
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
    String(days),
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  if (made.code !== 0) throw new Error(`openssl req: ${made.stderr}`);
  const end = await run('openssl', ['x509', '-in', cert, '-noout', '-enddate']);
  const m = /notAfter=(.+)/.exec(end.stdout);
  if (!m) throw new Error(`openssl x509: ${end.stdout}${end.stderr}`);
  return { cert, key, notAfter: Date.parse(m[1] as string) / 1000 };
}
