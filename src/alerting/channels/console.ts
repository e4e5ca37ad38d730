import type { ChannelName } from '../../config/receiver.js';
import type { Logger } from '../../logger.js';
import { renderConsole } from '../render/console.js';
import { subjectOf } from '../render/text.js';
import type { DeliveryResult, Job } from '../model/notification.js';
import type { Channel, DigestDelivery } from './channel.js';

/** An unconfigured channel: the notification is printed to the log, so a bare install shows what it would send. */
export class ConsoleChannel implements Channel {
  readonly console = true;

  constructor(
    readonly name: ChannelName,
    private readonly logger: Logger,
  ) {}

  async deliver(job: Pick<Job, 'content' | 'recipients'>): Promise<DeliveryResult> {
    this.logger.info(
      {
        channel: `${this.name} (console)`,
        recipients: job.recipients,
        subject: subjectOf(job.content),
        text: renderConsole(job.content),
      },
      'notification (console channel: not configured)',
    );
    return { kind: 'success' };
  }

  async deliverDigest(d: DigestDelivery): Promise<DeliveryResult> {
    this.logger.info(
      {
        channel: `${this.name} (console)`,
        recipients: d.recipients,
        subject: d.rendered.subject,
        text: d.rendered.text,
      },
      'digest (console channel: not configured)',
    );
    return { kind: 'success' };
  }

  async close(): Promise<void> {}
}
