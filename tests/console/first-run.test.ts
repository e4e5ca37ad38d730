import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { CLI, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { run, tempDir, waitFor } from '../support/util.js';

const LINK =
  /"url":"(http:\/\/127\.0\.0\.1:\d+\/login\/once\/[A-Za-z0-9_-]+)"[^\n]*"msg":"open the console: this link signs you in once"/;
const SIGNED_IN_HINT = 'the console signs in with its console token: `stackwatch console-token` prints it';

/** The sign-in link a service logged at start. */
const linkIn = (sw: StackwatchHandle) =>
  waitFor(() => LINK.exec(sw.logs())?.[1], 20_000, 'the sign-in link in the log');

/** `stackwatch console-token` where the service runs (its data directory, its configuration). */
async function consoleToken(sw: StackwatchHandle, ...args: string[]) {
  const config = sw.configFile ? [`--config.file=${sw.configFile}`] : [];
  return run(process.execPath, [CLI, 'console-token', ...config, ...args], {
    env: { ...process.env, STACKWATCH_DATA_DIR: join(sw.dir, 'data') },
    cwd: sw.dir,
  });
}

const form = (url: string, body: Record<string, string>, cookie?: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(body).toString(),
    redirect: 'manual',
  });
const sessionOf = (res: Response) =>
  /stackwatch_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
const home = (url: string, cookie?: string) =>
  fetch(`${url}/`, { headers: cookie ? { cookie } : {}, redirect: 'manual' });

describe('the console on a first start with no configuration', () => {
  let browser: Browser;
  let sw: StackwatchHandle;
  let pg: PostgresServer | undefined;
  const others: StackwatchHandle[] = [];
  const tmp = tempDir('swfirst');

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    // No file, no environment: no API token, no webhook token, no basic auth.
    sw = await startStackwatch({ dir: tmp.path });
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([sw?.stop(), ...others.map((o) => o.stop())]);
    await pg?.destroy();
    tmp.cleanup();
  });

  it('logs a link that signs in once; nothing else signs in', async () => {
    const link = await linkIn(sw);
    expect(link.startsWith(`${sw.url}/login/once/`)).toBe(true);
    const token = await consoleToken(sw);
    expect(token.code).toBe(0);
    const secret = token.stdout.trim();
    expect(secret).toMatch(/^swc_[A-Za-z0-9_-]{43}$/);
    // The token itself is never in the log; the outbox that keeps it is the service user's alone.
    expect(sw.logs()).not.toContain(secret);
    expect(statSync(join(sw.dir, 'data', 'receiver.sqlite')).mode & 0o777).toBe(0o600);
    expect(statSync(join(sw.dir, 'data')).mode & 0o777).toBe(0o700);

    // Nothing else gets in: no session, a wrong or empty token, a made-up link, the API.
    const nobody = await home(sw.url);
    expect([nobody.status, nobody.headers.get('location')]).toEqual([303, '/login?next=%2F']);
    for (const wrong of ['', 'swc_wrong', link.split('/').pop() as string]) {
      const res = await form(`${sw.url}/login`, { user: 'mallory', token: wrong });
      expect(res.status).toBe(401);
      expect(sessionOf(res)).toBeUndefined();
    }
    const madeUp = await form(`${sw.url}/login/once`, { user: 'mallory', nonce: 'A'.repeat(43) });
    expect(madeUp.status).toBe(410);
    const forged = await home(
      sw.url,
      'stackwatch_session=bWFsbG9yeQ.9999999999999.AAAAAAAAAAAAAAAA.' + 'A'.repeat(43),
    );
    expect(forged.status).toBe(303);
    for (const auth of [undefined, `Bearer ${secret}`]) {
      const api = await fetch(`${sw.url}/api/v1/notifications`, {
        headers: auth ? { authorization: auth } : {},
      });
      expect(api.status).toBe(403);
    }

    // The link, in a browser: a name, one button, and the console.
    const page = await browser.newPage();
    await page.goto(link);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Your name').fill('alice');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Now', exact: true }).waitFor();
    await page.getByText('Nothing is firing.').waitFor();
    expect(await page.locator('body > header').textContent()).toContain('Sign out alice');
    // Used once: the same link (in another browser) signs nobody in.
    const again = await browser.newPage();
    const second = await again.goto(link);
    expect(second?.status()).toBe(410);
    await again.getByText('This sign-in link was used already or has expired.').waitFor();
    const replay = await form(`${sw.url}/login/once`, {
      user: 'mallory',
      nonce: link.split('/').pop() as string,
    });
    expect(replay.status).toBe(410);
    await Promise.all([page.close(), again.close()]);
  });

  it('keeps the token across restarts, logs no new link once someone signed in, and rotates it', async () => {
    const before = (await consoleToken(sw)).stdout.trim();
    const signedIn = sessionOf(await form(`${sw.url}/login`, { user: 'bob', token: before }));
    expect(signedIn).toBeDefined();
    await sw.stop();
    sw = await startStackwatch({ dir: tmp.path });
    await waitFor(() => sw.logs().includes(SIGNED_IN_HINT), 20_000, 'the hint in the log');
    expect(LINK.test(sw.logs())).toBe(false);
    expect((await consoleToken(sw)).stdout.trim()).toBe(before);
    // The session made before the restart is still good: its key comes from the kept token.
    expect((await home(sw.url, signedIn)).status).toBe(200);

    const rotated = await consoleToken(sw, '--rotate');
    expect(rotated.code).toBe(0);
    const now = rotated.stdout.trim();
    expect(now).not.toBe(before);
    // Within seconds the service takes the new token: the old one and its sessions stop working.
    await waitFor(
      async () => (await form(`${sw.url}/login`, { user: 'bob', token: before })).status === 401,
      30_000,
      'the old token to be refused',
    );
    expect((await home(sw.url, signedIn)).status).toBe(303);
    const fresh = sessionOf(await form(`${sw.url}/login`, { user: 'bob', token: now }));
    expect((await home(sw.url, fresh)).status).toBe(200);
  });

  it('makes no token when an API token or basic auth is configured', async () => {
    const withToken = await startStackwatch({ config: 'receiver:\n  api_token: configured-api-token\n' });
    others.push(withToken);
    const webConfig = join(withToken.dir, 'web.yml');
    writeFileSync(webConfig, `basic_auth_users:\n  carol: ${bcrypt.hashSync('pw', 4)}\n`);
    const withBasic = await startStackwatch({ args: [`--web.config.file=${webConfig}`] });
    others.push(withBasic);
    for (const s of [withToken, withBasic])
      expect(s.logs()).not.toMatch(/console token|sign-in|signs you in/);
    const cli = await consoleToken(withToken);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('receiver.api_token (or webhook_token) is set');
    const signIn = await form(`${withToken.url}/login`, { user: 'x', token: 'configured-api-token' });
    expect(signIn.status).toBe(303);
  });

  it('shares one token among replicas of a PostgreSQL outbox: a link from one signs in on both', async () => {
    pg = await startPostgres();
    const config = `receiver:\n  store:\n    type: postgres\n    dsn: ${pg.dsn()}\n    schema: firstrun\n`;
    const [a, b] = await Promise.all([startStackwatch({ config }), startStackwatch({ config })]);
    others.push(a!, b!);
    const [linkA, linkB] = await Promise.all([linkIn(a!), linkIn(b!)]);
    const nonce = (l: string) => l.split('/').pop() as string;
    const res = await form(`${a!.url}/login/once`, { user: 'dave', nonce: nonce(linkA) });
    expect(res.status).toBe(303);
    const session = sessionOf(res);
    // The session is good on the other replica too, and the other replica's link died with the use.
    expect((await home(b!.url, session)).status).toBe(200);
    expect((await form(`${b!.url}/login/once`, { user: 'erin', nonce: nonce(linkB) })).status).toBe(410);
    const [ta, tb] = await Promise.all([consoleToken(a!), consoleToken(b!)]);
    expect(ta.stdout.trim()).toMatch(/^swc_/);
    expect(tb.stdout.trim()).toBe(ta.stdout.trim());
  }, 60_000);
});
