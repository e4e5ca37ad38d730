import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlack, type SlackHandle } from '../../support/slack.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { matching } from '../../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import {
  CRITICAL_MAIL,
  criticalName,
  deliveryCounts,
  messages,
  notOnce,
  ONCALL,
  OPS,
  outboxDrained,
  postStorm,
  received,
  resolvedBeforeFiring,
  STORM_CRITICALS as CRITICALS,
  STORM_GROUPS as GROUPS,
  stormConfig,
  stormName,
  TEAM_WEBHOOK,
  timeToCritical,
} from '../../support/storm.js';
import { waitFor } from '../../support/util.js';

/** The defaults, except a test-speed retry and an SMTP server that takes 1 message a second. */
/** The defaults; with `criticalSlackUrl` the critical receiver has a webhook of its own. */
const config = (slackUrl: string, criticalSlackUrl?: string) =>
  stormConfig(
    '2s',
    criticalSlackUrl
      ? // One Slack request at a time: a 429's pause then always applies before the team
        // webhook's next message starts (with two in flight, the second one may already be on
        // its way when the 429 arrives, as it would be with Slack itself).
        `  slack: { webhook_url: '${slackUrl}', concurrency: 1 }
  receivers:
    - { name: team-ops, channels: [email, slack], recipients: ['${OPS}'] }
    - { name: team-ops-critical, channels: [email, slack], recipients: ['${OPS}', '${ONCALL}'], slack_webhook_url: '${criticalSlackUrl}' }
    - { name: team-ops-warning, channels: [email], recipients: ['${OPS}'] }
`
      : '',
  );

async function metric(sw: StackwatchHandle, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${sw.url}/metrics`)).text();
  return matching(text, name, labels).reduce((n, s) => n + s.value, 0);
}

/** Every storm group once on Slack's team webhook and to ops@, every critical once to oncall@ and ops@. */
function expectEveryGroupOnce(counts: Map<string, number>, statuses: readonly ('firing' | 'resolved')[]) {
  const keys = statuses.flatMap((status) => [
    ...Array.from({ length: GROUPS }, (_, i) =>
      [`slack ${TEAM_WEBHOOK}`, `email ${OPS}`].map((d) => `${d} ${stormName(i)} ${status}`),
    ).flat(),
    ...Array.from({ length: CRITICALS }, (_, i) => `email ${CRITICAL_MAIL} ${criticalName(i)} ${status}`),
  ]);
  expect(notOnce(counts, keys)).toEqual([]);
}

describe('alert storm: 300 groups then 10 criticals against Slack-like limits and a 1 message/s SMTP server', () => {
  let slack: SlackHandle;
  let smtp: SmtpHandle;
  let sw: StackwatchHandle | undefined;

  beforeAll(async () => {
    [slack, smtp] = await Promise.all([startSlack(), startSmtp()]);
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await Promise.all([slack?.close(), smtp?.close()]);
  });

  it('criticals first, inside every budget, each group delivered exactly once, never resolved before firing', async () => {
    slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 1 });
    smtp.rateLimit({ perSecond: 1, burst: 3 });
    sw = await startStackwatch({
      config: config(slack.url),
      env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url },
    });

    const firing = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS });
    expect(firing.codes.every((c) => c === 200)).toBe(true);
    // The resolveds follow at once, while many firings still wait: none may overtake its firing.
    const resolved = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS, status: 'resolved' });
    expect(resolved.codes.every((c) => c === 200)).toBe(true);
    await outboxDrained(sw.url);

    const msgs = messages(slack, smtp);
    const { received: rs, digestSizes } = await received(sw.url, msgs);
    // Slack and the SMTP server were never pushed past their limits.
    expect(slack.overLimit()).toEqual([]);
    expect(smtp.overLimit()).toBe(0);
    expect(await metric(sw, 'stackwatch_notification_errors_total', { reason: 'rateLimited' })).toBe(0);

    // Exactly once per destination, alone or in a digest; Slack's one webhook carries the criticals too.
    const counts = deliveryCounts(rs);
    expectEveryGroupOnce(counts, ['firing', 'resolved']);
    for (let i = 0; i < CRITICALS; i++)
      for (const status of ['firing', 'resolved'])
        expect(counts.get(`slack ${TEAM_WEBHOOK} ${criticalName(i)} ${status}`), criticalName(i)).toBe(1);
    expect(rs.length).toBe(2 * (GROUPS + CRITICALS) * 2);
    expect(resolvedBeforeFiring(rs)).toEqual([]);
    // A digest's header counts what the API lists as delivered by it.
    for (const m of msgs.filter((x) => x.digest)) {
      const n = Number(/(\d+) notifications?/.exec(m.subject)?.[1]);
      expect(n, m.subject).toBe(digestSizes.get(m.digest as string));
    }

    // Lanes: every critical firing reached Slack and oncall@ before the non-critical firings drained.
    const lastStormFiring = (channel: string) =>
      Math.max(
        ...rs
          .filter((r) => r.channel === channel && r.status === 'firing' && r.alertname.startsWith('Storm'))
          .map((r) => r.at),
      );
    const slackTimes = timeToCritical(rs, firing.criticalAcceptedAt, (r) => r.channel === 'slack');
    const mailTimes = timeToCritical(rs, firing.criticalAcceptedAt, (r) => r.destination === CRITICAL_MAIL);
    expect(slackTimes.every(Number.isFinite) && mailTimes.every(Number.isFinite)).toBe(true);
    for (const name of firing.criticalAcceptedAt.keys()) {
      const onSlack = rs.find((r) => r.alertname === name && r.status === 'firing' && r.channel === 'slack')!;
      const byMail = rs.find(
        (r) => r.alertname === name && r.status === 'firing' && r.destination === CRITICAL_MAIL,
      )!;
      expect(onSlack.at, `${name} on Slack`).toBeLessThan(lastStormFiring('slack'));
      expect(byMail.at, `${name} by mail`).toBeLessThan(lastStormFiring('email'));
    }

    // What the humans received: a small fraction of the 620 notifications per channel.
    const slackMessages = msgs.filter((m) => m.channel === 'slack').length;
    const opsMails = msgs.filter((m) => m.channel === 'email' && m.destination === OPS).length;
    const criticalMails = msgs.filter((m) => m.channel === 'email' && m.destination === CRITICAL_MAIL).length;
    console.log(
      `storm: ${slackMessages} Slack messages, ${opsMails} mails to ops@, ${criticalMails} mails to oncall@+ops@ for 620 notifications each; ` +
        `time to critical: Slack ${slackTimes.map((t) => t.toFixed(1)).join(' ')} s, mail ${mailTimes.map((t) => t.toFixed(1)).join(' ')} s`,
    );
    expect(slackMessages).toBeLessThan(620 / 10);
    expect(opsMails).toBeLessThan(600 / 10);
    expect(await metric(sw, 'stackwatch_digests_total', { integration: 'slack' })).toBe(
      msgs.filter((m) => m.channel === 'slack' && m.digest).length,
    );
    expect(await metric(sw, 'stackwatch_outbox_backlog')).toBe(0);
    expect(await metric(sw, 'stackwatch_outbox_oldest_age_seconds')).toBe(0);
    await sw.stop();
    sw = undefined;
  });

  it('Retry-After 30 on the team webhook pauses it alone: criticals on their own webhook and by mail go on, nothing is lost', async () => {
    slack.clear();
    smtp.clear();
    slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 30 });
    const criticalUrl = slack.url.replace('XXXX', 'CRIT');
    sw = await startStackwatch({
      config: config(slack.url, criticalUrl),
      env: { SMTP_URL: smtp.url },
    });
    // Slack refuses the team webhook's first message with Retry-After: 30.
    slack.replyNext({
      status: 429,
      body: '{"ok":false,"error":"rate_limited"}',
      headers: { 'Retry-After': '30' },
    });
    const pausedAt = Date.now();
    const firing = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS });
    expect(firing.codes.every((c) => c === 200)).toBe(true);
    // Criticals on their own webhook and by mail arrive while the team webhook is paused.
    await waitFor(
      () => {
        const rsNow = messages(slack, smtp);
        const onSlack = rsNow.filter((m) => m.destination.endsWith('/CRIT')).length;
        const mails = rsNow.filter((m) => m.destination === CRITICAL_MAIL).length;
        return onSlack > 0 && mails > 0 && Date.now() - pausedAt < 25_000 ? true : undefined;
      },
      25_000,
      'criticals during the pause',
    );
    const team = () => slack.requests.filter((r) => r.path.endsWith('/XXXX'));
    expect(team().map((r) => r.status)).toEqual([429]); // nothing else tried during the pause
    await outboxDrained(sw.url);
    const teamRequests = team();
    expect(teamRequests[1]!.at - teamRequests[0]!.at).toBeGreaterThanOrEqual(30_000);
    expect(slack.overLimit()).toEqual([]);
    expect(teamRequests.filter((r) => r.status === 429)).toHaveLength(1);

    const { received: rs } = await received(sw.url, messages(slack, smtp));
    const counts = deliveryCounts(rs);
    expectEveryGroupOnce(counts, ['firing']);
    for (let i = 0; i < CRITICALS; i++)
      expect(counts.get(`slack /services/T000/B000/CRIT ${criticalName(i)} firing`), criticalName(i)).toBe(1);
    expect(await metric(sw, 'stackwatch_rate_limit_waits_total', { integration: 'slack' })).toBe(1);
    expect(
      await metric(sw, 'stackwatch_notification_errors_total', {
        integration: 'slack',
        reason: 'rateLimited',
      }),
    ).toBe(1);
    // One line when the destination starts limiting and one when it stops, not one per refusal.
    expect(sw.logs().match(/destination is rate-limiting; pausing it/g)).toHaveLength(1);
    expect(sw.logs().match(/destination stopped rate-limiting/g)).toHaveLength(1);
  });
});
