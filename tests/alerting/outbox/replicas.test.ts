// Two receiver replicas sharing one PostgreSQL outbox, as behind an Alertmanager HA pair:
// the pair posts every group to both, and a person still gets one mail; a replica killed
// with what it accepted still undelivered leaves the work to the other; together the
// replicas stay inside a Slack webhook's rate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';
import { startSlack, type SlackHandle } from '../../support/slack.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { matching } from '../../support/exposition.js';
import { samples, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { pool, postWebhook, webhook } from '../../support/webhooks.js';

const TOKEN = 'replica-token';
const GROUPS = 100;

/**
 * A replica's configuration: the shared outbox in `schema` with a short claim timeout, one
 * message per group (no digests, no escalations), quick retries, and the channels in `channels`.
 */
const replicaConfig = (pg: PostgresServer, schema: string, channels: string) => `receiver:
  webhook_token: ${TOKEN}
  store:
    type: postgres
    dsn: ${pg.dsn()}
    schema: ${schema}
    claim_timeout: 2s
  digest: { enabled: false }
  escalation:
    enabled: false
  retry:
    base: 200ms
    max_delay: 1s
    max_attempts: 1000
${channels}`;

describe('two receiver replicas on one PostgreSQL outbox', () => {
  let pg: PostgresServer;
  let smtp: SmtpHandle;
  let a: StackwatchHandle;
  let b: StackwatchHandle;
  // One mail per group: this checks each group's own message, not storm digests.
  const config = () =>
    replicaConfig(
      pg,
      'replicas',
      `  email:
    smtp_url: ${smtp.url}
    concurrency: 4
`,
    );
  const start = () => startStackwatch({ config: config() });

  beforeAll(async () => {
    [pg, smtp] = await Promise.all([startPostgres(), startSmtp()]);
    [a, b] = await Promise.all([start(), start()]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([smtp?.close(), pg?.destroy()]);
  });

  const mailsPerSubject = () => {
    const counts = new Map<string, number>();
    for (const m of smtp.mails) counts.set(m.subject, (counts.get(m.subject) ?? 0) + 1);
    return counts;
  };
  const post = (sw: StackwatchHandle, body: unknown) => postWebhook(sw.url, body, TOKEN);

  it('mails each group once when Alertmanager posts it to both replicas at the same time', async () => {
    const bodies = Array.from({ length: GROUPS }, (_, i) =>
      webhook({ alertname: `Pair${i}`, severity: 'warning' }),
    );
    const answers = await pool(bodies, 10, async (body) => {
      const [x, y] = await Promise.all([post(a, body), post(b, body)]);
      return [x, y];
    });
    for (const [x, y] of answers) {
      expect([x!.status, y!.status]).toEqual([200, 200]);
      const recorded =
        (x!.json as { recorded: number }).recorded + (y!.json as { recorded: number }).recorded;
      expect(recorded).toBe(1);
    }
    // A sentinel posted last is delivered after anything the pair could have queued.
    expect((await post(a, webhook({ alertname: 'PairSentinel', severity: 'warning' }))).status).toBe(200);
    await waitFor(
      () => mailsPerSubject().get('[FIRING:1] PairSentinel warning'),
      30_000,
      'the sentinel mail',
    );
    await waitFor(() => smtp.mails.length >= GROUPS + 1, 30_000, 'every group mailed');
    const counts = mailsPerSubject();
    for (let i = 0; i < GROUPS; i++) expect(counts.get(`[FIRING:1] Pair${i} warning`), `Pair${i}`).toBe(1);
    expect(smtp.mails).toHaveLength(GROUPS + 1);
    // Both replicas delivered: the work is shared, not mirrored.
    const sent = async (sw: StackwatchHandle) =>
      samples(await (await fetch(`${sw.url}/metrics`)).text(), 'stackwatch_notifications_total').find(
        (s) => s.labels.integration === 'email',
      )?.value ?? 0;
    const [sentA, sentB] = await Promise.all([sent(a), sent(b)]);
    expect(sentA + sentB).toBe(GROUPS + 1);
    expect(sentA).toBeGreaterThan(0);
    expect(sentB).toBeGreaterThan(0);
  });

  it('answers 503 while the shared outbox is down (Alertmanager retries), and records again once it is back', async () => {
    await pg.stop();
    try {
      const down = await post(b, webhook({ alertname: 'WhileDown', severity: 'warning' }));
      expect(down.status).toBe(503);
      expect(down.json).toEqual({ error: expect.stringContaining('could not be recorded') });
    } finally {
      await pg.start();
    }
    const back = await waitFor(
      async () => {
        const r = await post(b, webhook({ alertname: 'WhileDown', severity: 'warning' }));
        return r.status === 200 ? r : undefined;
      },
      20_000,
      'the outbox to record again',
    );
    expect((back.json as { recorded: number }).recorded).toBe(1);
    await waitFor(() => mailsPerSubject().get('[FIRING:1] WhileDown warning'), 30_000, 'the mail');
    expect(mailsPerSubject().get('[FIRING:1] WhileDown warning')).toBe(1);
  });

  it('delivers what a replica accepted after that replica is killed with SMTP down', async () => {
    smtp.clear();
    await smtp.stop();
    const bodies = Array.from({ length: GROUPS }, (_, i) =>
      webhook({ alertname: `Orphan${i}`, severity: 'warning' }),
    );
    const answers = await pool(bodies, 10, (body) => post(a, body));
    expect(answers.every((r) => r.status === 200 && (r.json as { recorded: number }).recorded === 1)).toBe(
      true,
    );
    // Killed while its attempts fail and some of its claims may still be held.
    await a.stop('SIGKILL');
    await smtp.start();
    await waitFor(() => smtp.mails.length >= GROUPS, 60_000, 'the other replica to mail everything', 200);
    const counts = mailsPerSubject();
    for (let i = 0; i < GROUPS; i++)
      expect(counts.get(`[FIRING:1] Orphan${i} warning`), `Orphan${i}`).toBe(1);
    const text = await (await fetch(`${b.url}/metrics`)).text();
    expect(samples(text, 'stackwatch_outbox_depth')[0]?.value).toBe(0);
    a = await start();
  });
});

describe('two receiver replicas pacing one Slack webhook', () => {
  const PACED = 12;
  let pg: PostgresServer;
  let slack: SlackHandle;
  let a: StackwatchHandle;
  let b: StackwatchHandle;
  // One message per group, each taking a token of the webhook's budget.
  const config = () =>
    replicaConfig(
      pg,
      'pacing',
      `  route: { receiver: team-slack }
  receivers:
    - { name: team-slack, channels: [slack] }
  slack:
    webhook_url: ${slack.url}
    rate: 1
    burst: 2
`,
    );
  const start = () => startStackwatch({ config: config() });
  const post = (sw: StackwatchHandle, body: unknown) => postWebhook(sw.url, body, TOKEN);
  const metric = async (sw: StackwatchHandle, name: string, labels: Record<string, string> = {}) =>
    matching(await (await fetch(`${sw.url}/metrics`)).text(), name, labels).reduce((n, s) => n + s.value, 0);

  beforeAll(async () => {
    [pg, slack] = await Promise.all([startPostgres(), startSlack()]);
    // Slack's limit for one webhook: about 1 a second, short bursts, then 429.
    slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 1 });
    [a, b] = await Promise.all([start(), start()]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([slack?.close(), pg?.destroy()]);
  });

  it('each takes its share of the budget, so Slack refuses nothing; a stopped replica gives its share back', async () => {
    for (const sw of [a, b])
      await waitFor(
        async () => (await metric(sw, 'stackwatch_receiver_replicas')) === 2,
        10_000,
        'each replica to count two',
      );
    const name = (i: number) => `Pace${String(i).padStart(2, '0')}`;
    const answers = await pool(
      Array.from({ length: PACED }, (_, i) => webhook({ alertname: name(i), severity: 'warning' })),
      PACED,
      (body) => Promise.all([post(a, body), post(b, body)]),
    );
    for (const [x, y] of answers) expect([x!.status, y!.status]).toEqual([200, 200]);
    await waitFor(() => slack.delivered().length >= PACED, 40_000, 'every group on Slack', 200);
    for (let i = 0; i < PACED; i++)
      expect(slack.delivered().filter((r) => r.raw.includes(name(i))).length, name(i)).toBe(1);
    expect(slack.overLimit()).toEqual([]);
    // Both replicas delivered: the budget was shared, not used by one replica alone.
    const sent = (sw: StackwatchHandle) =>
      metric(sw, 'stackwatch_notifications_total', { integration: 'slack' });
    const [sentA, sentB] = await Promise.all([sent(a), sent(b)]);
    expect(sentA + sentB).toBe(PACED);
    expect(sentA).toBeGreaterThan(0);
    expect(sentB).toBeGreaterThan(0);

    // Stopped cleanly, b no longer counts: a paces with the whole budget again.
    await b.stop();
    await waitFor(
      async () => (await metric(a, 'stackwatch_receiver_replicas')) === 1,
      10_000,
      'a to count itself alone',
    );
  });
});
