// Job heartbeats end to end: the built service, a real SMTP server, cron-like pings over HTTP,
// and a restart of stackwatch in the middle of the incidents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp, type ReceivedMail, type SmtpHandle } from '../../support/smtp.js';
import { apiJson, parseMetrics, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { webhook } from '../../support/webhooks.js';

const API = 'api-token-0123456789';
const HOOK = 'hook-token-0123456789';
const TOKENS = {
  'health-check': 'hb-health-check-0123456789',
  'nightly-backup': 'hb-nightly-backup-0123456789',
  'backup-test': 'hb-backup-test-0123456789',
  hourly: 'hb-hourly-0123456789',
};
type Name = keyof typeof TOKENS;

const config = (smtpUrl: string) => `receiver:
  api_token: ${API}
  webhook_token: ${HOOK}
  heartbeat_check_interval: 200ms
  email:
    smtp_url: ${smtpUrl}
    from: 'stackwatch <alerts@stackwatch.test>'
  receivers:
    - { name: team-ops, channels: [email], recipients: [ops@your-company.com] }
    - { name: team-ops-critical, channels: [email], recipients: [ops@your-company.com, oncall@your-company.com] }
    - { name: team-ops-warning, channels: [email], recipients: [ops@your-company.com] }
    - { name: oncall-mail, channels: [email], recipients: [oncall@your-company.com] }
  heartbeats:
    # The hourly health check: routed by the routing table (critical → team-ops-critical).
    - { name: health-check, period: 2s, grace: 1s, token: ${TOKENS['health-check']} }
    - { name: nightly-backup, period: 1d, grace: 1h, receiver: oncall-mail, token: ${TOKENS['nightly-backup']} }
    - { name: backup-test, period: 7d, grace: 2s, receiver: oncall-mail, token: ${TOKENS['backup-test']} }
    - { name: hourly, period: 3s, grace: 1s, receiver: oncall-mail, token: ${TOKENS.hourly} }
`;

interface Heartbeat {
  name: string;
  status: string;
  reason: string | null;
  running: boolean;
  last_seen_at: string | null;
  down_since: string | null;
}
interface Notification {
  id: number;
  subject: string;
  group_key: string;
  alert_status: string;
  recipients: string[];
  lane: string;
}

describe('job heartbeats (built service, real SMTP server)', () => {
  let smtp: SmtpHandle;
  let sw: StackwatchHandle;

  beforeAll(async () => {
    smtp = await startSmtp();
    sw = await startStackwatch({ config: config(smtp.url) });
  });
  afterAll(async () => {
    await sw?.stop();
    await smtp?.close();
  });

  const signal = (name: string, suffix = '', token: string = TOKENS[name as Name]) =>
    fetch(`${sw.url}/api/v1/heartbeats/${name}${suffix}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
  const ok = async (name: Name, suffix = '') => {
    const res = await signal(name, suffix);
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { heartbeat: Heartbeat }).heartbeat;
  };
  const heartbeats = async () =>
    new Map(
      (await apiJson<{ heartbeats: Heartbeat[] }>(sw.url, API, '/api/v1/heartbeats')).heartbeats.map((h) => [
        h.name,
        h,
      ]),
    );
  /** The notifications recorded about one heartbeat, oldest first. */
  const recorded = async (name: Name) =>
    (
      await apiJson<{ notifications: Notification[] }>(sw.url, API, '/api/v1/notifications?limit=1000')
    ).notifications
      .filter((n) => n.group_key === `stackwatch:{heartbeat="${name}"}`)
      .reverse();
  const mailAbout = (name: Name, subject: string) =>
    waitFor(
      () => smtp.mails.find((m) => m.subject === subject && m.text.includes(`heartbeat=${name} `)),
      30_000,
      `mail "${subject}" about ${name}`,
    );
  const metrics = async () => parseMetrics(await (await fetch(`${sw.url}/metrics`)).text());
  const checks = async () => (await metrics()).get('stackwatch_heartbeat_checks_total') ?? NaN;
  /** Waits until `n` more deadline checks have completed: whatever they would record is recorded. */
  const moreChecks = async (n: number) => {
    const from = await checks();
    await waitFor(async () => (await checks()) >= from + n, 20_000, `${n} heartbeat checks`);
  };

  it('a heartbeat token pings its own heartbeat and can do nothing else', async () => {
    const token = TOKENS['health-check'];
    const get = (path: string, t: string) =>
      fetch(`${sw.url}${path}`, { headers: { authorization: `Bearer ${t}` } });
    for (const path of [
      '/api/v1/notifications',
      '/api/v1/heartbeats',
      '/api/v1/contacts',
      '/api/v1/silences',
    ])
      expect((await get(path, token)).status, path).toBe(401);
    const alerts = await fetch(`${sw.url}/api/v1/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(webhook({ alertname: 'Forged', severity: 'critical' })),
    });
    expect(alerts.status).toBe(401);
    const silence = await fetch(`${sw.url}/api/v1/silences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: ['heartbeat="health-check"'], duration: '1h' }),
    });
    expect(silence.status).toBe(401);
    const login = await fetch(`${sw.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user: 'mallory', token }).toString(),
      redirect: 'manual',
    });
    expect(login.status).toBe(401);
    // Nor another heartbeat, nor with the API's or the webhook's token.
    for (const t of [TOKENS['nightly-backup'], API, HOOK, '']) {
      const res = await signal('health-check', '/fail', t);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="stackwatch"');
    }
    expect((await signal('no-such-job', '', token)).status).toBe(404);
    const get405 = await get('/api/v1/heartbeats/health-check/start', token);
    expect(get405.status).toBe(405);
    expect(get405.headers.get('allow')).toBe('POST');
    // Nothing of that reached the heartbeat or the outbox.
    expect((await heartbeats()).get('health-check')).toMatchObject({ status: 'new', last_seen_at: null });
    expect(await recorded('health-check')).toEqual([]);
    expect(
      (await apiJson<{ notifications: unknown[] }>(sw.url, API, '/api/v1/notifications')).notifications,
    ).toEqual([]);
  });

  let firing: Record<'health-check' | 'nightly-backup' | 'backup-test', ReceivedMail>;

  it('a late heartbeat, a reported failure and a run that never finished each page once', async () => {
    expect(await ok('health-check')).toMatchObject({ status: 'up', reason: null });
    expect(await ok('backup-test', '/start')).toMatchObject({ status: 'up', running: true });
    expect(await ok('nightly-backup', '/fail')).toMatchObject({ status: 'down', reason: 'failed' });

    const late = await mailAbout('health-check', '[FIRING:1] HeartbeatLate critical');
    expect(late.to.sort()).toEqual(['oncall@your-company.com', 'ops@your-company.com']);
    expect(late.text).toContain('Summary: Heartbeat health-check is late: no ping since');
    expect(late.text).toContain('docs/runbooks/stackwatch.md#heartbeatlate');
    const failed = await mailAbout('nightly-backup', '[FIRING:1] HeartbeatFailed critical');
    expect(failed.to).toEqual(['oncall@your-company.com']);
    expect(failed.text).toContain('Summary: Heartbeat nightly-backup reported a failure.');
    const unfinished = await mailAbout('backup-test', '[FIRING:1] HeartbeatUnfinished critical');
    expect(unfinished.to).toEqual(['oncall@your-company.com']);
    expect(unfinished.text).toContain('Heartbeat backup-test started and did not finish within 2 s.');
    firing = { 'health-check': late, 'nightly-backup': failed, 'backup-test': unfinished };

    // A second failure of a heartbeat already down is no new incident.
    expect(await ok('nightly-backup', '/fail')).toMatchObject({ status: 'down', reason: 'failed' });
    await moreChecks(3);
    for (const name of ['health-check', 'nightly-backup', 'backup-test'] as const) {
      const jobs = await recorded(name);
      expect(
        jobs.map((j) => j.alert_status),
        name,
      ).toEqual(['firing']);
      expect(jobs[0]!.lane).toBe('self');
    }
    const hb = await heartbeats();
    expect(hb.get('health-check')).toMatchObject({ status: 'down', reason: 'late' });
    expect(hb.get('backup-test')).toMatchObject({ status: 'down', reason: 'unfinished', running: false });
    const m = await metrics();
    expect(m.get('stackwatch_heartbeat_up{name="health-check"}')).toBe(0);
    expect(m.get('stackwatch_heartbeat_last_seen_timestamp_seconds{name="health-check"}')).toBe(
      Date.parse(hb.get('health-check')!.last_seen_at!) / 1000,
    );
    // The Watchdog has never arrived: not exported, but listed as new.
    expect(m.has('stackwatch_heartbeat_up{name="watchdog"}')).toBe(false);
    expect(hb.get('watchdog')).toMatchObject({ status: 'new' });
  });

  it('a restart in the middle neither forgets a heartbeat nor pages again', async () => {
    const before = await heartbeats();
    const pinged = await ok('hourly');
    await sw.stop();
    // hourly is due while stackwatch is down (period 3 s + grace 1 s after its ping).
    await waitFor(() => Date.now() > Date.parse(pinged.last_seen_at!) + 4500, 10_000, 'hourly to be due');
    sw = await startStackwatch({ config: config(smtp.url), dir: sw.dir });

    const late = await mailAbout('hourly', '[FIRING:1] HeartbeatLate critical');
    expect(late.text).toContain(`no ping since ${pinged.last_seen_at}`);
    await moreChecks(3);
    const after = await heartbeats();
    for (const name of ['health-check', 'nightly-backup', 'backup-test'] as const) {
      expect(after.get(name), name).toEqual(before.get(name));
      expect(
        (await recorded(name)).map((j) => j.alert_status),
        name,
      ).toEqual(['firing']);
    }
    expect((await recorded('hourly')).map((j) => j.alert_status)).toEqual(['firing']);
  });

  it('the next success says each has recovered, once, in the thread of its page', async () => {
    for (const name of ['health-check', 'nightly-backup', 'backup-test'] as const) {
      expect(await ok(name)).toMatchObject({ status: 'up', reason: null, down_since: null });
      // The recovery was recorded with the ping; a second ping records nothing more.
      expect(await ok(name)).toMatchObject({ status: 'up' });
      // (health-check, pinged every 2 s, may be late again by now: a new incident, not a recovery.)
      const statuses = (await recorded(name)).map((j) => j.alert_status);
      expect(statuses.slice(0, 2), name).toEqual(['firing', 'resolved']);
      expect(
        statuses.filter((s) => s === 'resolved'),
        name,
      ).toHaveLength(1);
    }
    for (const [name, reason] of [
      ['health-check', 'HeartbeatLate'],
      ['nightly-backup', 'HeartbeatFailed'],
      ['backup-test', 'HeartbeatUnfinished'],
    ] as const) {
      const resolved = await mailAbout(name, `[RESOLVED] ${reason} critical`);
      expect(resolved.inReplyTo).toBe(firing[name].messageId);
      expect(resolved.text).toContain(`Heartbeat ${name} pinged again at`);
    }
    expect((await metrics()).get('stackwatch_heartbeat_up{name="health-check"}')).toBe(1);
  });
});
