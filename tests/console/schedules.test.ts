import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { value } from '../support/exposition.js';
import { parseCalendar } from '../support/ical.js';
import { oncallTeam, shanghaiWall } from '../support/oncall.js';
import { apiJson, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';

const API_TOKEN = 'schedules-console-token';
const HOUR = 3_600_000;
const HOSTILE = `<img src=x onerror="document.title='pwned'">`;

/** The console's On call page: who is on duty, the shifts ahead, overrides made and deleted from a form. */
describe('console: On call', () => {
  let sw: StackwatchHandle;
  let cookie = '';

  beforeAll(async () => {
    sw = await startStackwatch({
      config: `receiver:
  api_token: ${API_TOKEN}
${oncallTeam()}`,
    });
    const res = await fetch(`${sw.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user: 'carol', token: API_TOKEN, next: '/schedules' }).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  });
  afterAll(async () => {
    await sw?.stop();
  });

  const get = async (path: string) => {
    const res = await fetch(`${sw.url}${path}`, { headers: { cookie }, redirect: 'manual' });
    return { status: res.status, html: await res.text() };
  };
  const post = (path: string, form: Record<string, string>) =>
    fetch(`${sw.url}${path}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] as string;
  const onDutyIn = (html: string) => /<dt>On duty now<\/dt><dd><strong>([^<]+)<\/strong>/.exec(html)?.[1];
  const onDutyApi = async () =>
    (
      await apiJson<{ schedules: { on_duty: { id: string }[] }[] }>(sw.url, API_TOKEN, '/api/v1/schedules')
    ).schedules[0]!.on_duty.map((p) => p.id);

  it('shows who is on duty with their phone, the next handoff, the shifts ahead and a calendar link', async () => {
    const { status, html } = await get('/schedules');
    expect(status).toBe(200);
    expect(html).toContain('<a href="/schedules" aria-current="page">On call</a>');
    expect(onDutyIn(html)).toBe('Alice Wang');
    expect(html).toContain('<a href="tel:13800138010">13800138010</a>');
    expect(html).toMatch(
      /<dt>Next handoff<\/dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d \+08:00 \([^)]+\) to Bob Li<\/dd>/,
    );
    expect(html).toContain('weekly: Alice Wang → Bob Li → Carol Zhang, every 1w');
    // The read-only calendar link opens the feed without signing in.
    const link = /<a href="([^"]+calendar\.ics\?token=[^"]+)">Subscribe<\/a>/.exec(html)?.[1] as string;
    const feed = await fetch(`${sw.url}${link.replace(/&amp;/g, '&')}`);
    expect(feed.status).toBe(200);
    expect(parseCalendar(await feed.text()).events[0]!.summary).toBe('On call: Alice Wang (primary)');
    // The contact table names her as On-Call.
    expect((await get('/contacts')).html).toMatch(
      /<td data-label="Title">On-Call<\/td><td data-label="Name">Alice Wang<\/td>/,
    );
  });

  it('adds an override from the form, shows it (its comment as text), and deletes it', async () => {
    const page = await get('/schedules');
    const refused = await post('/schedules/primary/overrides', {
      csrf: csrfOf(page.html),
      person: 'bob',
      start: shanghaiWall(Date.now() + HOUR),
      end: shanghaiWall(Date.now()),
      comment: 'backwards',
    });
    expect(refused.status).toBe(400);
    const refusedHtml = await refused.text();
    expect(refusedHtml).toContain('end: must be after start');
    expect(refusedHtml).toContain('value="backwards"');

    const created = await post('/schedules/primary/overrides', {
      csrf: csrfOf(page.html),
      person: 'bob',
      start: shanghaiWall(Date.now() - 60_000),
      end: shanghaiWall(Date.now() + 2 * HOUR),
      comment: HOSTILE,
    });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/schedules?done=override_created');
    const after = await get('/schedules?done=override_created');
    expect(after.html).toContain('Override added: that person is on duty for its window.');
    expect(onDutyIn(after.html)).toBe('Bob Li');
    expect(after.html).not.toContain('<img');
    expect(after.html).toContain('&lt;img src=x onerror=');
    expect(after.html).toMatch(/<td data-label="By">carol<\/td>/);
    expect(await onDutyApi()).toEqual(['bob']);

    const del = /<form method="post" action="(\/schedules\/primary\/overrides\/[^"]+\/delete)"/.exec(
      after.html,
    )?.[1];
    expect(del).toBeDefined();
    const deleted = await post(del as string, { csrf: csrfOf(after.html) });
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/schedules?done=override_deleted');
    expect(onDutyIn((await get('/schedules')).html)).toBe('Alice Wang');
    expect(await onDutyApi()).toEqual(['alice']);
    // A form without the CSRF token changes nothing.
    expect((await post('/schedules/primary/overrides', { person: 'bob', start: '', end: '' })).status).toBe(
      403,
    );

    const metrics = await (await fetch(`${sw.url}/metrics`)).text();
    expect(value(metrics, 'stackwatch_console_actions_total', { action: 'override_create' })).toBe(1);
    expect(value(metrics, 'stackwatch_console_actions_total', { action: 'override_delete' })).toBe(1);
  });
});
