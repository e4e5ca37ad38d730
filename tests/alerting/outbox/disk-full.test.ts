import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSmallFs, type SmallFs } from '../../support/small-fs.js';
import { startSmtp, type SmtpHandle } from '../../support/smtp.js';
import { samples, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import {
  deliveryCounts,
  messages,
  notOnce,
  OPS,
  outboxDrained,
  received,
  STORM_TOKEN,
} from '../../support/storm.js';
import { waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';

// Mail only, to ops@; a slow SMTP answer is waited for (the test holds one) well past the test's steps.
const CONFIG = `receiver:
  webhook_token: ${STORM_TOKEN}
  escalation: { enabled: false }
  email: { timeout: 5m }
  retry: { base: 200ms, max_delay: 1s, max_attempts: 1000 }
  route: { receiver: team-ops }
  receivers:
    - { name: team-ops, channels: [email], recipients: ['${OPS}'] }
`;

describe('the outbox on a filesystem that fills up and frees again', () => {
  let fs: SmallFs;
  let smtp: SmtpHandle;
  let sw: StackwatchHandle | undefined;

  beforeAll(async () => {
    fs = mountSmallFs(16);
    smtp = await startSmtp();
  });
  afterAll(async () => {
    await sw?.stop('SIGKILL');
    await smtp?.close();
    fs?.cleanup();
  });

  it('answers 503 while full, sends nothing twice while running, and delivers everything accepted after', async () => {
    sw = await startStackwatch({ config: CONFIG, env: { SMTP_URL: smtp.url, STACKWATCH_DATA_DIR: fs.path } });
    const url = sw.url;
    const post = (name: string) => postWebhook(url, webhook({ alertname: name }), STORM_TOKEN);
    const metric = async (name: string) =>
      samples(await (await fetch(`${url}/metrics`)).text(), name)[0]?.value;

    // Accepted just before the disk fills: its mail is on its way, the SMTP server slow to answer.
    smtp.setDelay(600_000);
    const accepted = ['BeforeFull'];
    expect((await post('BeforeFull')).status).toBe(200);
    await waitFor(() => smtp.inProgress() === 1, 20_000, 'the mail to reach the SMTP server');

    fs.fill();
    // Webhooks are refused (Alertmanager sends them again) once the outbox cannot grow.
    let refused = 0;
    for (let i = 0; i < 500 && !refused; i++) {
      const { status } = await post(`WhileFull${i}`);
      if (status === 200) accepted.push(`WhileFull${i}`);
      else if (status === 503) refused++;
      else throw new Error(`answered ${status}`);
    }
    expect(refused).toBe(1);

    // The SMTP server takes the mail: delivered, but its result cannot be recorded.
    smtp.setDelay(0);
    await waitFor(
      () => (sw as StackwatchHandle).logs().includes('could not record delivery results'),
      20_000,
      'the result to be refused',
    );
    const ready = await fetch(`${url}/-/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/delivery results cannot be recorded in the outbox/);
    // Recording is tried again and again while the disk stays full; the mail is not sent again.
    await waitFor(
      async () => ((await metric('stackwatch_delivery_results_unrecorded')) ?? 0) > 0,
      20_000,
      'the gauge',
    );
    expect((await post('StillFull')).status).toBe(503);
    expect(smtp.mails.filter((m) => m.subject.includes('BeforeFull'))).toHaveLength(1);

    // Room again: the results are recorded, webhooks accepted, everything delivered once.
    fs.free();
    await waitFor(async () => (await fetch(`${url}/-/ready`)).status === 200, 30_000, 'readiness');
    expect((await post('AfterFree')).status).toBe(200);
    accepted.push('AfterFree');
    await outboxDrained(url);
    expect(await metric('stackwatch_delivery_results_unrecorded')).toBe(0);
    const { received: rs } = await received(url, messages(undefined, smtp));
    const counts = deliveryCounts(rs);
    expect(
      notOnce(
        counts,
        accepted.map((name) => `email ${OPS} ${name} firing`),
      ),
    ).toEqual([]);
    expect(rs).toHaveLength(accepted.length);
    expect(sw.logs()).toContain('delivery results recorded again');
  });
});
