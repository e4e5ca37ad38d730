import type { ChannelName } from '../../config/receiver.js';
import type { Destination } from '../model/destination.js';
import type { RenderedDigest } from '../render/digest.js';
import type { DeliveryResult, Job } from '../model/notification.js';

/** A digest ready to send: where to, and as which message. */
export interface DigestDelivery {
  recipients: string[];
  /** The destination of the notifications it carries (one for all of them). */
  destination: Destination;
  receiver: string;
  rendered: RenderedDigest;
  /** Email: the digest's own Message-ID. */
  messageId?: string;
}

/** A delivery integration. `deliver` never throws: every outcome is a DeliveryResult. */
export interface Channel {
  readonly name: ChannelName;
  /** Printing to the log because the channel is not configured. */
  readonly console: boolean;
  deliver(
    job: Pick<
      Job,
      'content' | 'channel' | 'recipients' | 'slackWebhook' | 'messageId' | 'inReplyTo' | 'receiver'
    >,
  ): Promise<DeliveryResult>;
  /** Sends one digest carrying many notifications. */
  deliverDigest(digest: DigestDelivery): Promise<DeliveryResult>;
  close(): Promise<void>;
}
