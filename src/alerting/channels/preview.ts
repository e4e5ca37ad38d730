import type { ChannelName } from '../../config/receiver.js';
import { ContactBook } from '../ingest/contacts.js';
import { destinationText, isRobotChannel, robotRecipients } from '../model/destination.js';
import type { Job, NotificationContent } from '../model/notification.js';
import { renderEmail } from '../render/email.js';
import { renderSlack } from '../render/slack.js';
import type { Setup } from '../setup.js';

// What each channel of a receiver would send for a notification, without sending it: for
// `stackwatch template-test`, so a template or a robot's message is seen before a storm.

export interface ChannelPreview {
  channel: ChannelName;
  /** Where it would go, as the console shows it (a robot by name, never its URL). */
  destination: string;
  /** The request line, its URL cut after the host: the rest may hold a token. */
  request?: string;
  /** Headers by name; values other than the content type are not shown. */
  headers?: Record<string, string>;
  /** The body (JSON indented) or, for email, the subject and text. */
  body: string;
  error?: string;
}

/** A critical notification naming the people it pages, for a receiver: what a template sees at 3 a.m. */
export function sampleContent(s: Setup, receiver: string, now = Date.now()): NotificationContent {
  const labels = {
    alertname: 'TemplateTest',
    severity: 'critical',
    service: 'postgres',
    instance: 'db-1:5432',
  };
  const alerts = [
    {
      status: 'firing' as const,
      labels,
      annotations: { summary: 'Sample critical notification from stackwatch template-test' },
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: '',
      fingerprint: 'template-test',
    },
  ];
  return {
    kind: 'alert',
    status: 'firing',
    groupKey: '{}:{alertname="TemplateTest"}',
    receiver,
    amReceiver: receiver,
    groupLabels: { alertname: 'TemplateTest' },
    commonLabels: labels,
    commonAnnotations: alerts[0]!.annotations,
    externalURL: '',
    truncatedAlerts: 0,
    alerts,
    contacts: new ContactBook(s.cfg).responsible(alerts),
    acknowledgement: s.cfg.external_url ? { link: `${s.cfg.external_url}/ack/template-test` } : undefined,
  };
}

const shortUrl = (url: string) => {
  const u = new URL(url);
  return `${u.origin}${u.pathname.length > 1 || u.search ? '/…' : ''}`;
};

const showBody = (body: string) => {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
};

/** Each channel of `receiver` (or just `only`) rendering `content`. */
export function previewChannels(
  s: Setup,
  receiver: string,
  content: NotificationContent,
  only?: ChannelName,
): ChannelPreview[] {
  const target = s.router.receivers.get(receiver);
  if (!target)
    throw new Error(
      `unknown receiver ${JSON.stringify(receiver)} (receivers: ${[...s.router.receivers.keys()].join(', ')})`,
    );
  const out: ChannelPreview[] = [];
  for (const channel of only ? [only] : target.channels) {
    if (channel === 'email') {
      const recipients = s.book.resolveRecipients(target.recipients);
      const mail = renderEmail(content, {});
      out.push({
        channel,
        destination: recipients.join(', '),
        body: `Subject: ${mail.subject}\n\n${mail.text}`,
      });
      continue;
    }
    if (channel === 'slack') {
      out.push({ channel, destination: 'Slack', body: JSON.stringify(renderSlack(content), null, 2) });
      continue;
    }
    if (!isRobotChannel(channel)) continue;
    const recipients = robotRecipients(channel, target);
    const live = s.robotChannels[channel].live;
    const destination = destinationText({ channel, recipients, slackWebhook: null });
    try {
      const req = live?.preview({ recipients, receiver }, content);
      if (!req) {
        out.push({ channel, destination, body: '', error: `receiver ${receiver} has no ${channel} robot` });
        continue;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [
          k,
          k.toLowerCase() === 'content-type' ? v : '[not shown]',
        ]),
      );
      out.push({
        channel,
        destination,
        request: `${req.method} ${shortUrl(req.url)}`,
        headers,
        body: showBody(req.body),
      });
    } catch (err) {
      out.push({ channel, destination, body: '', error: (err as Error).message });
    }
  }
  return out;
}

/** What template-test shows: a receiver's channels rendering a sample or a stored notification. */
export interface TemplatePreview {
  receiver: string;
  /** `a sample critical notification` or `notification 12 (dingtalk, sent)`. */
  what: string;
  previews: ChannelPreview[];
}

/**
 * A receiver's channels (or one) rendering a notification: the stored `job` (its receiver and
 * channel unless given), or a sample critical one for `receiver` (the route's by default).
 */
export function templatePreview(
  s: Setup,
  o: { receiver?: string; channel?: ChannelName; job?: Job },
): TemplatePreview {
  const receiver = o.receiver || o.job?.receiver || s.cfg.route.receiver || s.cfg.receivers[0]?.name || '';
  if (!o.job)
    return {
      receiver,
      what: 'a sample critical notification',
      previews: previewChannels(s, receiver, sampleContent(s, receiver), o.channel),
    };
  const channel = o.channel ?? (o.receiver ? undefined : o.job.channel);
  return {
    receiver,
    what: `notification ${o.job.id} (${o.job.channel}, ${o.job.status})`,
    previews: previewChannels(s, receiver, { ...o.job.content, receiver }, channel),
  };
}
