import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackChannel } from '../../../src/alerting/channels/slack.js';
import { testContent } from '../../../src/alerting/channels/send-test.js';
import { receiverSection } from '../../../src/config/receiver.js';
import { startSlack, type SlackHandle } from '../../support/slack.js';

describe('Slack channel', () => {
  let slack: SlackHandle;
  beforeAll(async () => {
    slack = await startSlack();
  });
  afterAll(async () => {
    await slack?.close();
  });

  it('posts only the message: no client option (the 10 s timeout) in the JSON body', async () => {
    const channel = new SlackChannel(slack.url, 10_000);
    const content = testContent(receiverSection.parse({}), 'team-ops');
    const result = await channel.deliver({
      content,
      channel: 'slack',
      recipients: ['slack'],
      slackWebhook: null,
    });
    expect(result).toEqual({ kind: 'success' });
    const [posted] = slack.requests;
    expect(Object.keys(posted!.body as object).sort()).toEqual(['attachments', 'text']);
    expect(posted!.raw).not.toContain('timeout');
    await channel.close();
  });
});
