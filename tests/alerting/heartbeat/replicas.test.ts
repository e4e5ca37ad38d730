// Two receiver replicas on one PostgreSQL outbox watch the same heartbeats: both check every
// deadline, and a late or failed heartbeat still pages once; a signal to either is seen by both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { apiJson, parseMetrics, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';

const API = 'api-token-0123456789';
const HOOK = 'hook-token-0123456789';
const TOKENS: Record<string, string> = {
  cleanup: 'hb-cleanup-0123456789',
  nightly: 'hb-nightly-0123456789',
};

describe('heartbeats on two replicas sharing a PostgreSQL outbox', () => {
  let pg: PostgresServer;
  let smtp: SmtpHandle;
  let a: StackwatchHandle;
  let b: StackwatchHandle;

  // dedup_window 0: a second page of the same incident would not be taken for a duplicate, so
  // one page shows that one replica recorded it.
  const config = () => `receiver:
  api_token: ${API}
  webhook_token: ${HOOK}
  dedup_window: 0s
  heartbeat_check_interval: 100ms
  store: { type: postgres, dsn: '${pg.dsn()}', schema: heartbeats }
  email: { smtp_url: '${smtp.url}' }
  receivers:
    - { name: team-ops, channels: [email], recipients: [ops@your-company.com] }
    - { name: team-ops-critical, channels: [email], recipients: [oncall@your-company.com] }
    - { name: team-ops-warning, channels: [email], recipients: [ops@your-company.com] }
  heartbeats:
    - { name: cleanup, period: 2s, grace: 1s, token: ${TOKENS.cleanup} }
    - { name: nightly, period: 1d, grace: 1h, token: ${TOKENS.nightly} }
`;

  beforeAll(async () => {
    [pg, smtp] = await Promise.all([startPostgres(), startSmtp()]);
    a = await startStackwatch({ config: config() });
    b = await startStackwatch({ config: config() });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([smtp?.close(), pg?.destroy()]);
  });

  const signal = (sw: StackwatchHandle, suffix = '', name = 'cleanup') =>
    fetch(`${sw.url}/api/v1/heartbeats/${name}${suffix}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS[name]}` },
    });
  const heartbeat = async (sw: StackwatchHandle, name = 'cleanup') =>
    (
      await apiJson<{ heartbeat: { status: string; reason: string | null; last_seen_at: string | null } }>(
        sw.url,
        API,
        `/api/v1/heartbeats/${name}`,
      )
    ).heartbeat;
  /** What was recorded about one heartbeat, oldest first. */
  const pages = async (name = 'cleanup') =>
    (
      await apiJson<{ notifications: { subject: string; alert_status: string; group_key: string }[] }>(
        a.url,
        API,
        '/api/v1/notifications?limit=1000',
      )
    ).notifications
      .filter((n) => n.group_key === `stackwatch:{heartbeat="${name}"}`)
      .reverse();
  const checks = async (sw: StackwatchHandle) =>
    parseMetrics(await (await fetch(`${sw.url}/metrics`)).text()).get('stackwatch_heartbeat_checks_total') ??
    NaN;
  /** Both replicas have completed `n` more checks of every deadline. */
  const bothChecked = async (n: number) => {
    const [fa, fb] = [await checks(a), await checks(b)];
    await waitFor(
      async () => (await checks(a)) >= fa + n && (await checks(b)) >= fb + n,
      20_000,
      'checks on both replicas',
    );
  };
  const logged = (msg: string) => [a, b].map((sw) => sw.logs().split(msg).length - 1).reduce((x, y) => x + y);

  it('both replicas check a late heartbeat; one records its page', async () => {
    expect((await signal(a)).status).toBe(200);
    // The replica that was not pinged sees the ping.
    expect((await heartbeat(b)).status).toBe('up');
    await waitFor(
      () => smtp.mails.find((m) => m.subject === '[FIRING:1] HeartbeatLate critical'),
      30_000,
      'the page',
    );
    await bothChecked(5);
    expect((await pages()).map((p) => p.subject)).toEqual(['[FIRING:1] HeartbeatLate critical']);
    expect(logged('"msg":"heartbeat is down; paging"')).toBe(1);
    expect(smtp.mails.filter((m) => m.subject === '[FIRING:1] HeartbeatLate critical')).toHaveLength(1);
  });

  it('a ping to either ends the incident once, and both replicas show it up', async () => {
    expect((await signal(b)).status).toBe(200);
    expect((await heartbeat(a)).status).toBe('up');
    // (Pinged every 2 s, it may be late again by now: a new incident, not a second recovery.)
    const statuses = (await pages()).map((p) => p.alert_status);
    expect(statuses.slice(0, 2)).toEqual(['firing', 'resolved']);
    expect(statuses.filter((s) => s === 'resolved')).toHaveLength(1);
    await waitFor(
      () => smtp.mails.find((m) => m.subject === '[RESOLVED] HeartbeatLate critical'),
      30_000,
      'recovery',
    );
  });

  it('the same failure reported to both replicas at once pages once', async () => {
    const [x, y] = await Promise.all([signal(a, '/fail', 'nightly'), signal(b, '/fail', 'nightly')]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect((await pages('nightly')).map((p) => p.subject)).toEqual(['[FIRING:1] HeartbeatFailed critical']);
    expect(await heartbeat(b, 'nightly')).toMatchObject({ status: 'down', reason: 'failed' });
  });

  it('the Watchdog posted to one replica is the pipeline heartbeat of both', async () => {
    const w = webhook({ alertname: 'Watchdog', severity: 'none' });
    const res = await postWebhook(a.url, w, HOOK);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'recorded', recorded: 0, duplicates: 0, muted: 0 });
    const seen = await heartbeat(b, 'watchdog');
    expect(seen.status).toBe('up');
    expect(seen.last_seen_at).toBe((await heartbeat(a, 'watchdog')).last_seen_at);
  });
});
