import type { ChannelName, ReceiverConfig } from '../../config/receiver.js';
import { ContactBook } from '../ingest/contacts.js';
import { channelFor, closeSetup, type Setup } from '../setup.js';
import type { DeliveryResult, NotificationContent } from '../model/notification.js';

export interface SendTestResult {
  channel: ChannelName;
  mode: string;
  recipients: string[];
  result: DeliveryResult;
}

export function testContent(cfg: ReceiverConfig, receiver: string): NotificationContent {
  const now = new Date().toISOString();
  return {
    kind: 'test',
    status: 'firing',
    groupKey: 'stackwatch-test',
    receiver,
    amReceiver: '',
    groupLabels: {},
    commonLabels: { alertname: 'StackwatchTest', severity: 'info' },
    commonAnnotations: { summary: 'Test notification from stackwatch.' },
    externalURL: '',
    truncatedAlerts: 0,
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'StackwatchTest', severity: 'info' },
        annotations: { summary: 'Test notification from stackwatch.' },
        startsAt: now,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: 'stackwatch-test',
      },
    ],
    contacts: new ContactBook(cfg).responsible([]),
  };
}

/** One test notification through each channel, directly (not through the outbox). */
export async function sendTestNotifications(
  s: Setup,
  opts: { closeAfter: boolean },
): Promise<SendTestResult[]> {
  const cfg = s.cfg;
  const out: SendTestResult[] = [];
  // The default receiver's email recipients; Slack to the default webhook.
  const def = s.router.receivers.get(cfg.route.receiver ?? '') ?? cfg.receivers[0];
  const recipients = s.book.resolveRecipients(
    def?.recipients.length ? def.recipients : cfg.receivers.flatMap((r) => r.recipients),
  );
  const content = testContent(cfg, def?.name ?? 'test');
  const base = { content, receiver: content.receiver, messageId: null, inReplyTo: null };
  out.push({
    channel: 'email',
    mode: s.email.console ? 'console' : 'smtp',
    recipients,
    result: await s.email.deliver({ ...base, channel: 'email', recipients, slackWebhook: null }),
  });
  const slackJob = { ...base, channel: 'slack' as const, recipients: ['slack'], slackWebhook: null };
  const slack = channelFor(s, slackJob);
  out.push({
    channel: 'slack',
    mode: slack.console ? 'console' : 'webhook',
    recipients: ['slack'],
    result: await slack.deliver(slackJob),
  });
  // Each robot once, as its first receiver names it.
  for (const robot of s.robots.all()) {
    const job = {
      ...base,
      channel: robot.channel,
      recipients: [robot.name],
      receiver: robot.receivers[0] ?? '',
      slackWebhook: null,
    };
    const channel = channelFor(s, job);
    out.push({
      channel: robot.channel,
      mode: channel.console ? 'console' : 'robot',
      recipients: [robot.name],
      result: await channel.deliver(job),
    });
  }
  if (opts.closeAfter) await closeSetup(s);
  return out;
}
