import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { tempDir } from '../support/util.js';
import { postWebhook, webhook } from '../support/webhooks.js';

const USER = 'oncall-lead';
const PASSWORD = 'correct horse battery';
const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/** The console behind the web config's basic auth: no login form, the user name is recorded. */
describe('console behind basic auth', () => {
  const tmp = tempDir('swconba');
  let sw: StackwatchHandle;

  beforeAll(async () => {
    const webConfig = join(tmp.path, 'web.yml');
    writeFileSync(webConfig, `basic_auth_users:\n  ${USER}: ${bcrypt.hashSync(PASSWORD, 4)}\n`);
    // No api_token: with basic auth the console needs none.
    sw = await startStackwatch({
      config: 'receiver:\n  external_url: http://stackwatch.test\n',
      args: [`--web.config.file=${webConfig}`],
    });
  });
  afterAll(async () => {
    await sw?.stop();
    tmp.cleanup();
  });

  const get = (path: string, headers: Record<string, string> = { authorization: auth }) =>
    fetch(`${sw.url}${path}`, { headers, redirect: 'manual' });
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${sw.url}${path}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] as string;

  it('asks for basic auth, then shows the console with the user signed in', async () => {
    expect((await get('/', {})).status).toBe(401);
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain(`Signed in as ${USER}`);
    expect(html).not.toContain('Sign out');
    expect(html).toContain('<h1>Now</h1>');
  });

  it('acknowledges a group from its notification page, recording the basic-auth user', async () => {
    expect(
      (await postWebhook(sw.url, webhook({ alertname: 'QueueBacklog', severity: 'warning' }))).status,
    ).toBe(200);
    const list = await (await get('/notifications?alertname=QueueBacklog')).text();
    const id = /href="\/notifications\/(\d+)"/.exec(list)?.[1] as string;
    const detail = await (await get(`/notifications/${id}`)).text();
    expect(detail).toContain('Acknowledge this group');
    const group = /name="group" value="([^"]+)"/.exec(detail)?.[1] as string;
    const groupKey = group.replace(/&quot;/g, '"');

    const noToken = await post('/acknowledgements', { group: groupKey });
    expect(noToken.status).toBe(403);
    const otherSite = await post(
      '/acknowledgements',
      { group: groupKey, csrf: csrfOf(detail) },
      { origin: 'http://evil.test' },
    );
    expect(otherSite.status).toBe(403);
    expect(await otherSite.text()).toContain('cross-site request refused');

    const ok = await post('/acknowledgements', { group: groupKey, csrf: csrfOf(detail), comment: 'looking' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/acknowledgements?done=acknowledged');
    const acks = await (await get('/acknowledgements?done=acknowledged')).text();
    expect(acks).toContain('Acknowledged: the group will not be escalated.');
    expect(acks).toMatch(new RegExp(`${USER} at \\d{4}-`));
    expect(acks).toContain('looking');
  });

  it('serves Acknowledge links without basic auth: the token is their authorisation', async () => {
    const res = await get('/acknowledge/not-a-token', {});
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This is not an Acknowledge link stackwatch made.');
  });
});
