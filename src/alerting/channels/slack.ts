import type { IncomingWebhook } from '@slack/webhook';
import { renderSlack } from '../render.js';
import type { DeliveryResult, Job } from '../types.js';
import type { Channel } from './channel.js';

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

/** 429 honours Retry-After; 5xx and network errors retry; other 4xx (404 no_service, 400 invalid_blocks) fail. */
export function classifySlackError(err: SlackError): DeliveryResult {
  const res = err.original?.response;
  if (res) {
    const body = typeof res.data === 'string' ? res.data.slice(0, 100) : '';
    const reason = `HTTP ${res.status}${body ? ` ${body}` : ''}`;
    if (res.status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers?.['retry-after']) ?? 1000;
      return { kind: 'retryable', retryAfterMs, reason };
    }
    if (res.status >= 500) return { kind: 'retryable', reason };
    return { kind: 'failure', reason };
  }
  const code = err.original?.code ?? err.code ?? 'error';
  return { kind: 'retryable', reason: `${code}: ${(err.original?.message ?? err.message).slice(0, 160)}` };
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
      h = this.hooks.get(url) ?? new IncomingWebhook(url, { timeout: this.timeoutMs });
      this.hooks.set(url, h);
    }
    return h;
  }

  urlFor(job: Pick<Job, 'recipients' | 'receiver'>): string | undefined {
    const r = job.recipients[0] ?? 'slack';
    if (r.startsWith('slack:')) return this.receiverUrls.get(r.slice(6)) ?? this.defaultUrl;
    return this.defaultUrl;
  }

  async deliver(job: Pick<Job, 'content' | 'recipients' | 'receiver'>): Promise<DeliveryResult> {
    const url = this.urlFor(job);
    if (!url) return { kind: 'failure', reason: 'no Slack webhook URL configured for this receiver' };
    try {
      const msg = renderSlack(job.content);
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
