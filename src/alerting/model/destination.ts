import type { ChannelName } from '../../config/receiver.js';

/** What a notification is addressed by: its channel, email recipients and Slack webhook. */
export interface Addressed {
  channel: ChannelName;
  recipients: readonly string[];
  /** Slack: the receiver whose own webhook URL applies; null: the default webhook (and email). */
  slackWebhook: string | null;
}

/** Where a notification goes on its channel. */
export interface Destination {
  /** Slack: the receiver whose own webhook URL applies; null: the default webhook (and email). */
  slackWebhook: string | null;
  /**
   * Its name: the email recipients, or `slack` (the default webhook) / `slack:<receiver>` (a
   * receiver's own webhook). Dedup keys and Acknowledge links carry this name, as they did when
   * a Slack notification's recipients were written so: keys already recorded and links already
   * sent stay valid.
   */
  names: readonly string[];
  /** One per destination of a channel: the dispatcher keeps each apart (pacing, digests, order). */
  key: string;
}

/** The destination of a notification, named in one place for planning, dispatch and delivery. */
export function destinationOf(n: Addressed): Destination {
  const names =
    n.channel === 'slack' ? [n.slackWebhook === null ? 'slack' : `slack:${n.slackWebhook}`] : n.recipients;
  return { slackWebhook: n.channel === 'slack' ? n.slackWebhook : null, names, key: JSON.stringify(names) };
}

/** How a person reads the destination: the email recipients, or the Slack webhook used. */
export function destinationText(n: Addressed): string {
  if (n.channel !== 'slack') return n.recipients.join(', ');
  return n.slackWebhook === null ? 'Slack' : `Slack (${n.slackWebhook}'s webhook)`;
}

/** The receiver whose own Slack webhook a notification to it uses; null: the default webhook. */
export function slackWebhookOf(receiver: { name: string; slack_webhook_url?: string }): string | null {
  return receiver.slack_webhook_url ? receiver.name : null;
}
