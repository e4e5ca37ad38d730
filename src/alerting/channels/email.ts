import nodemailer, { type Transporter } from 'nodemailer';
import { renderEmail } from '../render.js';
import type { DeliveryResult, Job } from '../types.js';
import type { Channel } from './channel.js';

export interface EmailOptions {
  smtpUrl: string;
  from: string;
  concurrency: number;
  timeoutMs: number;
  insecureSkipVerify: boolean;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

/** SMTP reply classes: 4xx transient (retry), 5xx permanent (dead letter); no reply (network) retries. */
export function classifySmtpError(err: SmtpError): DeliveryResult {
  const code = err.responseCode;
  const reply = (err.response ?? err.message ?? '').replace(/\s+/g, ' ').slice(0, 200);
  if (typeof code === 'number' && code >= 500) return { kind: 'failure', reason: `SMTP ${code}: ${reply}` };
  if (typeof code === 'number' && code >= 400) return { kind: 'retryable', reason: `SMTP ${code}: ${reply}` };
  if (err.code === 'EENVELOPE' || err.code === 'EMESSAGE')
    return { kind: 'failure', reason: `${err.code}: ${reply}` };
  return { kind: 'retryable', reason: `${err.code ?? 'error'}: ${reply}` };
}

/** Email over pooled SMTP (nodemailer): one SMTP transaction per recipient set. */
export class EmailChannel implements Channel {
  readonly name = 'email' as const;
  readonly console = false;
  private readonly transport: Transporter;

  constructor(private readonly opts: EmailOptions) {
    this.transport = nodemailer.createTransport({
      url: opts.smtpUrl,
      pool: true,
      maxConnections: opts.concurrency,
      maxMessages: 1000,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
      tls: { rejectUnauthorized: !opts.insecureSkipVerify },
    } as nodemailer.TransportOptions);
  }

  async deliver(
    job: Pick<Job, 'content' | 'recipients' | 'messageId' | 'inReplyTo'>,
  ): Promise<DeliveryResult> {
    const mail = renderEmail(job.content, job);
    try {
      await this.transport.sendMail({
        from: this.opts.from,
        to: job.recipients,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: job.messageId ?? undefined,
        inReplyTo: job.inReplyTo ?? undefined,
        references: job.inReplyTo ?? undefined,
        headers: { 'X-Stackwatch-Kind': job.content.kind },
      });
      return { kind: 'success' };
    } catch (err) {
      return classifySmtpError(err as SmtpError);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
