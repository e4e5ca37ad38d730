import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLACK_SERVER_ERROR, startSlack, type SlackHandle } from '../support/slack.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import { samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import {
  criticalName,
  deliveryCounts,
  messages,
  ONCALL,
  postStorm,
  received,
  STORM_TOKEN,
  stormName,
} from '../support/storm.js';
import { sleep, tempDir, waitFor } from '../support/util.js';

const GROUPS = 300;
const CRITICALS = 10;
const OPS = 'ops@your-company.com';
const CRITICAL_MAIL = [ONCALL, OPS].sort().join(',');
const CONFIG = `receiver:
  webhook_token: ${STORM_TOKEN}
  escalation: { enabled: false }
  email: { rate: 1, burst: 2 }
  retry: { base: 200ms, max_delay: 1s, max_attempts: 1000 }
`;

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
    await waitFor(
      async () => {
        const text = await (await fetch(`${sw!.url}/metrics`)).text();
        return samples(text, 'stackwatch_outbox_depth')[0]?.value === 0;
      },
      90_000,
      'the outbox to drain after the restart',
      250,
    );

    const msgs = messages(slack, smtp);
    const { received: rs } = await received(sw.url, msgs);
    const counts = deliveryCounts(rs);
    const problems: string[] = [];
    const once = (key: string) => {
      if (counts.get(key) !== 1) problems.push(`${key}: ${counts.get(key)}`);
    };
    for (let i = 0; i < GROUPS; i++) {
      once(`slack /services/T000/B000/XXXX ${stormName(i)} firing`);
      once(`email ${OPS} ${stormName(i)} firing`);
    }
    for (let i = 0; i < CRITICALS; i++) {
      once(`slack /services/T000/B000/XXXX ${criticalName(i)} firing`);
      once(`email ${CRITICAL_MAIL} ${criticalName(i)} firing`);
    }
    expect(problems).toEqual([]);
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
