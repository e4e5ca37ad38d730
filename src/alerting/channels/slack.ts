import type { IncomingWebhook } from '@slack/webhook';
import { destinationOf, type Destination } from '../model/destination.js';
import { renderSlack } from '../render/slack.js';
import type { DeliveryResult, Job } from '../model/notification.js';
import type { SlackMessage } from '../render/slack.js';
import type { Channel, DigestDelivery } from './channel.js';

interface SlackError extends Error {
  code?: string;
  original?: {
    code?: string;
    message?: string;
    response?: { status: number; headers?: Record<string, unknown>; data?: unknown };
  };
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(v: unknown, now = Date.now()): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const text = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * 429 honours Retry-After; 5xx and network errors retry; other 4xx (404 no_service, 400
 * invalid_blocks) fail. The cause as Alertmanager names it: 401/403 authError, other 4xx clientError.
 */
export function classifySlackError(err: SlackError): DeliveryResult {
  const res = err.original?.response;
  if (res) {
    const body =
      typeof res.data === 'string'
        ? res.data.slice(0, 100)
        : res.data
          ? JSON.stringify(res.data).slice(0, 100)
          : '';
    const reason = `HTTP ${res.status}${body ? ` ${body}` : ''}`;
    if (res.status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers?.['retry-after']) ?? 1000;
      return { kind: 'retryable', retryAfterMs, reason, cause: 'rateLimited' };
    }
    if (res.status >= 500) return { kind: 'retryable', reason, cause: 'serverError' };
    return {
      kind: 'failure',
      reason,
      cause: res.status === 401 || res.status === 403 ? 'authError' : 'clientError',
    };
  }
  const code = err.original?.code ?? err.code ?? 'error';
  return {
    kind: 'retryable',
    reason: `${code}: ${(err.original?.message ?? err.message).slice(0, 160)}`,
    cause: 'other',
  };
}

/**
 * The fetch @slack/webhook sends with. The library (8) keeps only the status and body of a
 * refusal; a refusal here is an error with the whole response, so a 429's Retry-After is
 * honoured, and a network error or timeout is named by its code, as the reasons always read.
 */
export function slackFetch(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    let res: Response;
    try {
      res = await fetch(input, init);
    } catch (err) {
      const e = err as Error & { cause?: { code?: unknown; message?: string } };
      if (e.name === 'TimeoutError')
        throw Object.assign(new Error(`timeout of ${timeoutMs}ms exceeded`), { code: 'ECONNABORTED' });
      if (typeof e.cause?.code === 'string')
        throw Object.assign(new Error(e.cause.message ?? e.message), { code: e.cause.code });
      throw err;
    }
    if (res.ok) return res;
    const response = { status: res.status, headers: Object.fromEntries(res.headers), data: await res.text() };
    throw Object.assign(new Error(`HTTP ${res.status}`), { response });
  };
}

/** Slack incoming webhooks (@slack/webhook), one client per webhook URL. */
export class SlackChannel implements Channel {
  readonly name = 'slack' as const;
  readonly console = false;
  private readonly hooks = new Map<string, IncomingWebhook>();

  constructor(
    private readonly defaultUrl: string | undefined,
    private readonly timeoutMs: number,
    /** Per-receiver webhook URLs. */
    private readonly receiverUrls: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** @slack/webhook is loaded with the first message, so a service without Slack never holds it. */
  private async hook(url: string): Promise<IncomingWebhook> {
    let h = this.hooks.get(url);
    if (!h) {
      const { IncomingWebhook } = await import('@slack/webhook');
      h =
        this.hooks.get(url) ??
        new IncomingWebhook(url, { timeout: this.timeoutMs, fetch: slackFetch(this.timeoutMs) });
      this.hooks.set(url, h);
    }
    return h;
  }

  /** A receiver's own webhook URL, else (or when the receiver no longer has one) the default. */
  urlFor(d: Pick<Destination, 'slackWebhook'>): string | undefined {
    if (d.slackWebhook === null) return this.defaultUrl;
    return this.receiverUrls.get(d.slackWebhook) ?? this.defaultUrl;
  }

  async deliver(
    job: Pick<Job, 'content' | 'channel' | 'recipients' | 'slackWebhook'>,
  ): Promise<DeliveryResult> {
    const url = this.urlFor(destinationOf(job));
    if (!url) return { kind: 'failure', reason: 'no Slack webhook URL configured for this receiver' };
    return this.post(url, renderSlack(job.content));
  }

  async deliverDigest(d: DigestDelivery): Promise<DeliveryResult> {
    const url = this.urlFor(d.destination);
    if (!url) return { kind: 'failure', reason: 'no Slack webhook URL configured for this receiver' };
    return this.post(url, d.rendered.slack);
  }

  private async post(url: string, msg: SlackMessage): Promise<DeliveryResult> {
    try {
      await (await this.hook(url)).send(msg as unknown as Parameters<IncomingWebhook['send']>[0]);
      return { kind: 'success' };
    } catch (err) {
      return classifySlackError(err as SlackError);
    }
  }

  async close(): Promise<void> {
    this.hooks.clear();
  }
}
