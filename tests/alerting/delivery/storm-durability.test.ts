import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLACK_SERVER_ERROR, startSlack, type SlackHandle } from '../../support/slack.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import {
  CRITICAL_MAIL,
  criticalName,
  deliveryCounts,
  messages,
  notOnce,
  OPS,
  outboxDrained,
  postStorm,
  received,
  STORM_CRITICALS as CRITICALS,
  STORM_GROUPS as GROUPS,
  stormConfig,
  stormName,
  TEAM_WEBHOOK,
} from '../../support/storm.js';
import { sleep, tempDir } from '../../support/util.js';

const CONFIG = stormConfig('1s');

describe('kill -9 in the middle of a storm', () => {
  let slack: SlackHandle;
  let smtp: SmtpHandle;
  let sw: StackwatchHandle | undefined;
  const dir = tempDir('swstorm');
  const start = () =>
    startStackwatch({
      config: CONFIG,
      dir: dir.path,
      env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url },
    });

  beforeAll(async () => {
    [slack, smtp] = await Promise.all([startSlack(), startSmtp()]);
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await Promise.all([slack?.close(), smtp?.close()]);
    dir.cleanup();
  });

  it('after the restart nothing accepted is lost or doubled, and criticals still go first', async () => {
    // Both channels fail while the storm is recorded, so the whole storm waits in the outbox.
    slack.replyAlways(SLACK_SERVER_ERROR);
    await smtp.stop();
    sw = await start();
    const storm = await postStorm(sw.url, { groups: GROUPS, criticals: CRITICALS });
    expect(storm.codes.every((c) => c === 200)).toBe(true);
    await sw.stop('SIGKILL');

    slack.replyAlways({ status: 200, body: 'ok' });
    slack.rateLimit({ perSecond: 1, burst: 3, retryAfterSeconds: 1 });
    slack.clear();
    await smtp.start();
    smtp.rateLimit({ perSecond: 1, burst: 3 });
    await sleep(1200); // every retry is due again when the new process starts
    sw = await start();
    await outboxDrained(sw.url);

    const msgs = messages(slack, smtp);
    const { received: rs } = await received(sw.url, msgs);
    const counts = deliveryCounts(rs);
    const keys = [
      ...Array.from({ length: GROUPS }, (_, i) =>
        [`slack ${TEAM_WEBHOOK}`, `email ${OPS}`].map((d) => `${d} ${stormName(i)} firing`),
      ),
      ...Array.from({ length: CRITICALS }, (_, i) =>
        [`slack ${TEAM_WEBHOOK}`, `email ${CRITICAL_MAIL}`].map((d) => `${d} ${criticalName(i)} firing`),
      ),
    ].flat();
    expect(notOnce(counts, keys)).toEqual([]);
    expect(rs.length).toBe(2 * (GROUPS + CRITICALS));
    expect(slack.overLimit()).toEqual([]);

    // Lanes: on Slack (one webhook for both) every critical arrives before the first storm group.
    const slackRs = rs.filter((r) => r.channel === 'slack');
    const lastCritical = Math.max(
      ...slackRs.filter((r) => r.alertname.startsWith('Crit')).map((r) => r.message),
    );
    const firstStorm = Math.min(
      ...slackRs.filter((r) => r.alertname.startsWith('Storm')).map((r) => r.message),
    );
    expect(lastCritical).toBeLessThan(firstStorm);
    // By mail the SMTP server is shared: the criticals' mails come before the storm's.
    const mailRs = rs.filter((r) => r.channel === 'email');
    const lastCriticalMail = Math.max(
      ...mailRs.filter((r) => r.destination === CRITICAL_MAIL).map((r) => r.at),
    );
    const firstStormMail = Math.min(...mailRs.filter((r) => r.destination === OPS).map((r) => r.at));
    expect(lastCriticalMail).toBeLessThanOrEqual(firstStormMail);
  });
});
