import type { Job, NotificationContent } from '../model/notification.js';
import type { Channel } from './channel.js';

/** What a notification of a group says about acknowledgement at the moment it is delivered. */
export type AcknowledgementFor = (
  job: Pick<Job, 'content' | 'channel' | 'recipients' | 'slackWebhook'>,
) => NotificationContent['acknowledgement'];

/**
 * A channel that adds the Acknowledge link (or who acknowledged) to each notification as it
 * is delivered, not as it is recorded: a retry sent after someone acknowledged says so.
 */
export function acknowledging(inner: Channel, acknowledgementFor: AcknowledgementFor): Channel {
  return {
    name: inner.name,
    console: inner.console,
    deliver: (job) => {
      const acknowledgement = acknowledgementFor(job);
      return inner.deliver(acknowledgement ? { ...job, content: { ...job.content, acknowledgement } } : job);
    },
    // A digest carries many groups' non-critical notifications; each links to the console instead.
    deliverDigest: (digest) => inner.deliverDigest(digest),
    close: () => inner.close(),
  };
}
