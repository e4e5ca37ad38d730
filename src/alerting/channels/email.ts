import { Socket } from 'node:net';
import type { Transporter, TransportOptions } from 'nodemailer';
import { renderEmail } from '../render/email.js';
import type { DeliveryResult, Job } from '../model/notification.js';
import type { Channel, DigestDelivery } from './channel.js';

export interface EmailOptions {
  smtpUrl: string;
  from: string;
  concurrency: number;
  timeoutMs: number;
  insecureSkipVerify: boolean;
  /** Only over STARTTLS: never log in or send in the clear. */
  requireTls?: boolean;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

/** A 4xx reply that says the sender goes too fast (421/450/451 "rate", "too many", "throttled"). */
const SMTP_RATE_LIMIT = /rate|too many|throttl|slow down/i;

/**
 * SMTP reply classes: 4xx transient (retry), 5xx permanent (dead letter); no reply (network)
 * retries. The cause: rate limits, 530/535 authentication, other 5xx the client's, 4xx the server's.
 */
export function classifySmtpError(err: SmtpError): DeliveryResult {
  const code = err.responseCode;
  const reply = (err.response ?? err.message ?? '').replace(/\s+/g, ' ').slice(0, 200);
  // No STARTTLS with require_tls set: nothing was sent, and retrying will not change that.
  if (err.code === 'ETLS')
    return { kind: 'failure', reason: `ETLS: ${err.message.slice(0, 200)}`, cause: 'clientError' };
  const reason = `SMTP ${code}: ${reply}`;
  if (typeof code === 'number' && code >= 500)
    return { kind: 'failure', reason, cause: code === 530 || code === 535 ? 'authError' : 'clientError' };
  if (typeof code === 'number' && code >= 400)
    return { kind: 'retryable', reason, cause: SMTP_RATE_LIMIT.test(reply) ? 'rateLimited' : 'serverError' };
  if (err.code === 'EENVELOPE' || err.code === 'EMESSAGE')
    return { kind: 'failure', reason: `${err.code}: ${reply}`, cause: 'clientError' };
  if (err.code === 'EAUTH') return { kind: 'retryable', reason: `EAUTH: ${reply}`, cause: 'authError' };
  return { kind: 'retryable', reason: `${err.code ?? 'error'}: ${reply}`, cause: 'other' };
}

/** `smtp://user:pass@host:port` (STARTTLS when offered, port 587 by default) or `smtps://…` (TLS, 465). */
export function parseSmtpUrl(url: string): {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
} {
  const u = new URL(url);
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:')
    throw new Error(`receiver.email.smtp_url: expected smtp:// or smtps://, got ${u.protocol}//`);
  const secure = u.protocol === 'smtps:';
  const user = decodeURIComponent(u.username);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port) || (secure ? 465 : 587),
    secure,
    auth: user ? { user, pass: decodeURIComponent(u.password) } : undefined,
  };
}

/**
 * A socket without Nagle's delay, handed to nodemailer unconnected: nodemailer connects it
 * itself, under its connection timeout, and a refused or timed-out connection is then
 * nodemailer's own connection error, which removes that connection from the pool. (A
 * connection failure reported by `getSocket` instead leaves its pool slot taken for good:
 * after `concurrency` such failures, while the SMTP server is down, every later message
 * would wait forever for a free slot.)
 */
function noDelaySocket() {
  return (_o: unknown, cb: (err: Error | null, s?: { socket: Socket }) => void) => {
    // Kept by an unconnected socket and applied when it connects.
    cb(null, { socket: new Socket().setNoDelay(true) });
  };
}

/** Email over pooled SMTP (nodemailer): one SMTP transaction per recipient set. */
export class EmailChannel implements Channel {
  readonly name = 'email' as const;
  readonly console = false;
  /** nodemailer is loaded with the first message, so a service without SMTP never holds it. */
  private transport?: Promise<Transporter>;
  private readonly transportOptions: TransportOptions;

  constructor(private readonly opts: EmailOptions) {
    const server = parseSmtpUrl(opts.smtpUrl);
    this.transportOptions = {
      host: server.host,
      port: server.port,
      secure: server.secure,
      auth: server.auth,
      pool: true,
      maxConnections: opts.concurrency,
      maxMessages: 1000,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
      tls: { rejectUnauthorized: !opts.insecureSkipVerify },
      requireTLS: opts.requireTls,
      // Plain SMTP (STARTTLS when offered): a socket without Nagle's delay. nodemailer writes
      // the message and the final "." separately, and Nagle plus the server's delayed ACK add
      // about 40 ms per write; a pooled connection then manages about 7 messages a second.
      // (smtps:// keeps nodemailer's own TLS socket.)
      ...(server.secure ? {} : { getSocket: noDelaySocket() }),
    } as TransportOptions;
  }

  private transporter(): Promise<Transporter> {
    this.transport ??= import('nodemailer').then((m) => m.default.createTransport(this.transportOptions));
    return this.transport;
  }

  async deliver(
    job: Pick<Job, 'content' | 'recipients' | 'messageId' | 'inReplyTo'>,
  ): Promise<DeliveryResult> {
    const mail = renderEmail(job.content, job);
    try {
      await (
        await this.transporter()
      ).sendMail({
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

  /** A digest is a multipart (text and HTML) message of its own, with its own Message-ID. */
  async deliverDigest(d: DigestDelivery): Promise<DeliveryResult> {
    try {
      await (
        await this.transporter()
      ).sendMail({
        from: this.opts.from,
        to: d.recipients,
        subject: d.rendered.subject,
        text: d.rendered.text,
        html: d.rendered.html,
        messageId: d.messageId,
        headers: { 'X-Stackwatch-Kind': 'digest' },
      });
      return { kind: 'success' };
    } catch (err) {
      return classifySmtpError(err as SmtpError);
    }
  }

  async close(): Promise<void> {
    (await this.transport)?.close();
  }
}
