// Two receiver replicas on one PostgreSQL outbox run one escalation policy: both check every
// step, and each step pages once; an override made through one replica pages its person
// when the other replica sends the step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oncallTeam } from '../../support/oncall.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { apiJson, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';

const TOKEN = 'paging-replica-token';

describe('escalation policies on two replicas sharing a PostgreSQL outbox', () => {
  let pg: PostgresServer;
  let smtp: SmtpHandle;
  let a: StackwatchHandle;
  let b: StackwatchHandle;
  const config = () => `receiver:
  webhook_token: ${TOKEN}
  store:
    type: postgres
    dsn: ${pg.dsn()}
    schema: paging
    claim_timeout: 5s
  email:
    smtp_url: ${smtp.url}
  digest: { enabled: false }
  retry:
    base: 200ms
  escalation:
    check_interval: 200ms
${oncallTeam()}  escalation_policies:
    - name: critical
      steps:
        - { after: 0s, notify: ['schedule:primary'], channels: [email] }
        - { after: 3s, notify: ['role:techlead'], channels: [email] }
        - { after: 6s, notify: [dave], channels: [email] }
  route:
    receiver: team-ops
    routes:
      - { matchers: ['severity="critical"'], receiver: team-pager }
  receivers:
    - { name: team-ops, recipients: [ops@your-company.com] }
    - { name: team-pager, recipients: [], escalation_policy: critical }
`;

  beforeAll(async () => {
    [pg, smtp] = await Promise.all([startPostgres(), startSmtp()]);
    [a, b] = await Promise.all([
      startStackwatch({ config: config() }),
      startStackwatch({ config: config() }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([smtp?.close(), pg?.destroy()]);
  });

  const fire = (sw: StackwatchHandle, alertname: string) =>
    postWebhook(sw.url, webhook({ alertname, severity: 'critical' }), TOKEN);
  const pagesTo = (alertname: string, to: string) =>
    smtp.mails.filter(
      (m) =>
        m.subject.startsWith('[ESCALATION]') && m.subject.includes(` ${alertname} `) && m.to.includes(to),
    );
  const api = <T>(sw: StackwatchHandle, path: string, init: RequestInit = {}) =>
    fetch(`${sw.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as T }));

  it('pages each step once, though the Alertmanager pair posts to both and both replicas check', async () => {
    const [x, y] = await Promise.all([fire(a, 'PairPaged'), fire(b, 'PairPaged')]);
    expect([x.status, y.status]).toEqual([200, 200]);
    await waitFor(() => pagesTo('PairPaged', 'dave@company.com').length > 0, 30_000, 'the third step');
    // A second copy of any step would have been recorded before a group that fires now is paged.
    expect((await fire(a, 'PairMarker')).status).toBe(200);
    await waitFor(() => pagesTo('PairMarker', 'alice@company.com').length > 0, 30_000, 'the marker page');
    for (const to of ['alice@company.com', 'tech@company.com', 'dave@company.com'])
      expect(pagesTo('PairPaged', to), to).toHaveLength(1);
    const listed = await apiJson<{ notifications: { kind: string; subject: string }[] }>(
      b.url,
      TOKEN,
      '/api/v1/notifications?limit=100',
    );
    expect(
      listed.notifications.filter((n) => n.kind === 'escalation' && n.subject.includes('PairPaged')),
    ).toHaveLength(3);
  });

  it('pages the person of an override made through the other replica', async () => {
    const made = await api<{ override: { id: string } }>(b, '/api/v1/schedules/primary/overrides', {
      method: 'POST',
      body: JSON.stringify({ person: 'bob', duration: '1h' }),
    });
    expect(made.status).toBe(201);
    expect((await fire(a, 'OverrideOnOther')).status).toBe(200);
    await waitFor(() => pagesTo('OverrideOnOther', 'bob@company.com').length > 0, 30_000, 'the page to Bob');
    expect(pagesTo('OverrideOnOther', 'alice@company.com')).toEqual([]);
    expect(
      (await api(a, `/api/v1/schedules/primary/overrides/${made.body.override.id}`, { method: 'DELETE' }))
        .status,
    ).toBe(200);
  });
});
