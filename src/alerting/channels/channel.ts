import type { ChannelName } from '../../config/receiver.js';
import type { DeliveryResult, Job } from '../types.js';

/** A delivery integration. `deliver` never throws: every outcome is a DeliveryResult. */
export interface Channel {
  readonly name: ChannelName;
  /** Printing to the log because the channel is not configured. */
  readonly console: boolean;
  deliver(
    job: Pick<Job, 'content' | 'recipients' | 'messageId' | 'inReplyTo' | 'receiver'>,
  ): Promise<DeliveryResult>;
  close(): Promise<void>;
}
