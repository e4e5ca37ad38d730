import { createHash } from 'node:crypto';
import { ROBOT_CHANNELS, type ChannelName, type RobotChannelName } from '../../config/receiver.js';

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

export function isRobotChannel(channel: ChannelName): channel is RobotChannelName {
  return (ROBOT_CHANNELS as readonly string[]).includes(channel);
}

/**
 * A robot's name: its channel and a hash of its URL (`dingtalk:3f2a9c1e5b7d4a60`). The URL
 * itself holds the robot's token, so it is never stored, logged or put in a dedup key; the
 * name is its recipient, and receivers that share a robot share one destination (one budget,
 * one digest, one dedup key for the same alerts).
 */
export function robotName(channel: RobotChannelName, url: string): string {
  return `${channel}:${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

/** The URL that names a receiver's robot (or gateway) on a robot channel, if it has one. */
export function robotUrlOf(
  channel: RobotChannelName,
  receiver: {
    dingtalk_webhook_url?: string;
    wecom_webhook_url?: string;
    feishu_webhook_url?: string;
    webhook?: { url: string };
  },
): string | undefined {
  if (channel === 'dingtalk') return receiver.dingtalk_webhook_url;
  if (channel === 'wecom') return receiver.wecom_webhook_url;
  if (channel === 'feishu') return receiver.feishu_webhook_url;
  return receiver.webhook?.url;
}

/** A robot channel job's recipients: the receiver's robot by name, none without one. */
export function robotRecipients(
  channel: RobotChannelName,
  receiver: Parameters<typeof robotUrlOf>[1],
): string[] {
  const url = robotUrlOf(channel, receiver);
  return url ? [robotName(channel, url)] : [];
}

const ROBOT_TEXT: Record<RobotChannelName, string> = {
  dingtalk: 'DingTalk robot',
  wecom: 'WeCom robot',
  feishu: 'Feishu bot',
  webhook: 'Webhook',
};

/** How a person reads the destination: the email recipients, the Slack webhook, or the robot used. */
export function destinationText(n: Addressed): string {
  if (isRobotChannel(n.channel))
    return `${ROBOT_TEXT[n.channel]} ${n.recipients.map((r) => r.slice(r.indexOf(':') + 1)).join(', ')}`;
  if (n.channel !== 'slack') return n.recipients.join(', ');
  return n.slackWebhook === null ? 'Slack' : `Slack (${n.slackWebhook}'s webhook)`;
}

/** The receiver whose own Slack webhook a notification to it uses; null: the default webhook. */
export function slackWebhookOf(receiver: { name: string; slack_webhook_url?: string }): string | null {
  return receiver.slack_webhook_url ? receiver.name : null;
}
