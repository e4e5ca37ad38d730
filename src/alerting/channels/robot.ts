import type { ReceiverConfig, RobotChannelName } from '../../config/receiver.js';
import { contentTypeOf, ROBOT_CHANNELS } from '../../config/receiver.js';
import type { CompiledTemplate } from '../../templates/engine.js';
import { checkedTemplate } from '../../templates/context.js';
import { robotName, robotUrlOf } from '../model/destination.js';
import type { DeliveryResult, Job, NotificationContent } from '../model/notification.js';
import type { RobotInput } from '../render/robots.js';
import type { Channel, DigestDelivery } from './channel.js';
import { parseRetryAfter } from './slack.js';

// The chat robots and outgoing webhooks: one destination per URL (a robot shared by several
// receivers is one), named by a hash of the URL; each service (dingtalk.ts, wecom.ts,
// feishu.ts, webhook.ts) says how a message is rendered, signed and how its answer reads.

/** A robot (or gateway) as configured: its URL and secret stay in memory, never in the outbox or the log. */
export interface Robot {
  channel: RobotChannelName;
  /** `dingtalk:3f2a9c1e5b7d4a60`: its recipient, dedup and pacing name. */
  name: string;
  url: string;
  secret?: string;
  /** The receivers that name it, in configuration order. */
  receivers: string[];
}

/** A receiver's outgoing webhook request, its body template compiled. */
export interface WebhookSpec {
  method: string;
  headers: Record<string, string>;
  template: CompiledTemplate;
}

/** Every robot of the configuration, by name and by receiver. */
export class RobotBook {
  private readonly byName = new Map<string, Robot>();
  private readonly byReceiver = new Map<string, Robot>();
  private readonly webhooks = new Map<string, WebhookSpec>();

  constructor(receivers: ReceiverConfig['receivers']) {
    for (const rc of receivers)
      for (const channel of ROBOT_CHANNELS) {
        const url = robotUrlOf(channel, rc);
        if (!url) continue;
        const name = robotName(channel, url);
        let robot = this.byName.get(name);
        if (!robot) {
          const secret =
            channel === 'dingtalk' ? rc.dingtalk_secret : channel === 'feishu' ? rc.feishu_secret : undefined;
          this.byName.set(name, (robot = { channel, name, url, secret, receivers: [] }));
        }
        robot.receivers.push(rc.name);
        this.byReceiver.set(`${channel}\0${rc.name}`, robot);
        // Compiled here, when a webhook is configured: the template engine is loaded only then.
        if (channel === 'webhook' && rc.webhook)
          this.webhooks.set(rc.name, {
            method: rc.webhook.method,
            headers: rc.webhook.headers,
            template: checkedTemplate(rc.webhook.body, contentTypeOf(rc.webhook.headers)),
          });
      }
  }

  /** Every robot, in configuration order. */
  all(): Robot[] {
    return [...this.byName.values()];
  }

  has(channel: RobotChannelName): boolean {
    return [...this.byName.values()].some((r) => r.channel === channel);
  }

  /**
   * The robot a job goes to: the one it names, or — when the configuration no longer has that
   * robot (its URL changed) — the receiver's robot on that channel now.
   */
  robotFor(
    channel: RobotChannelName,
    job: { recipients: readonly string[]; receiver: string },
  ): Robot | undefined {
    const named = this.byName.get(job.recipients[0] ?? '');
    if (named?.channel === channel) return named;
    return this.byReceiver.get(`${channel}\0${job.receiver}`);
  }

  /** The webhook request of a receiver that posts to this robot, else of the first that does. */
  webhookFor(robot: Robot, receiver: string): WebhookSpec | undefined {
    const own = robot.receivers.includes(receiver) ? this.webhooks.get(receiver) : undefined;
    return own ?? this.webhooks.get(robot.receivers[0] ?? '');
  }
}

/** An HTTP request ready to send (signature included). */
export interface RobotRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

export interface RobotReply {
  status: number;
  headers: Headers;
  text: string;
}

/** One service: how its messages are made and signed, and what its answers mean. */
export interface RobotService {
  readonly channel: RobotChannelName;
  request(robot: Robot, input: RobotInput, receiver: string, now: number): RobotRequest;
  classify(reply: RobotReply): DeliveryResult;
}

/** A reply's JSON body, when it has one. */
export function replyJson(reply: RobotReply): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(reply.text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A chat service's answer: its error code and body, or — when the answer is a success (code 0)
 * or has no code to read — the result at once (an answer without a code is read by its status).
 */
export function errcodeOf(
  reply: RobotReply,
  service: string,
): { code: number; body: Record<string, unknown> } | DeliveryResult {
  const body = replyJson(reply);
  const code = typeof body?.errcode === 'number' ? body.errcode : undefined;
  if (body === undefined || code === undefined)
    return reply.status === 200 ? { kind: 'success' } : classifyHttpStatus(reply, service);
  return code === 0 ? { kind: 'success' } : { code, body };
}

/** An HTTP answer by its status alone: 429 waits, 5xx retries, 401/403 authError, other 4xx clientError. */
export function classifyHttpStatus(reply: RobotReply, service: string): DeliveryResult {
  const reason = `${service} HTTP ${reply.status}${reply.text ? ` ${reply.text.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`;
  if (reply.status === 429)
    return {
      kind: 'retryable',
      retryAfterMs: parseRetryAfter(reply.headers.get('retry-after') ?? undefined) ?? 1000,
      reason,
      cause: 'rateLimited',
    };
  if (reply.status >= 500) return { kind: 'retryable', reason, cause: 'serverError' };
  return {
    kind: 'failure',
    reason,
    cause: reply.status === 401 || reply.status === 403 ? 'authError' : 'clientError',
  };
}

interface FetchError extends Error {
  cause?: { code?: string; message?: string };
}

/** The URL carries the robot's token: it is cut out of any error text. */
function withoutUrl(text: string, url: string): string {
  const origin = (() => {
    try {
      return new URL(url).origin;
    } catch {
      return '';
    }
  })();
  return text.split(url).join(origin ? `${origin}/…` : '…');
}

/** Posts a robot's messages with one client per process (fetch), bounded by `timeoutMs`. */
export class RobotChannel implements Channel {
  readonly console = false;
  readonly name: RobotChannelName;

  constructor(
    private readonly service: RobotService,
    readonly book: RobotBook,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.name = service.channel;
  }

  deliver(job: Pick<Job, 'content' | 'recipients' | 'receiver'>): Promise<DeliveryResult> {
    return this.send(job, { content: job.content });
  }

  deliverDigest(d: DigestDelivery): Promise<DeliveryResult> {
    return this.send({ recipients: d.recipients, receiver: d.receiver }, { digest: d.rendered });
  }

  /** The request a notification would be sent as (template-test shows it; nothing is sent). */
  preview(job: { recipients: readonly string[]; receiver: string }, content: NotificationContent) {
    const robot = this.book.robotFor(this.name, job);
    return robot ? this.service.request(robot, { content }, job.receiver, this.now()) : undefined;
  }

  private async send(
    job: { recipients: readonly string[]; receiver: string },
    input: RobotInput,
  ): Promise<DeliveryResult> {
    const robot = this.book.robotFor(this.name, job);
    if (!robot)
      return { kind: 'failure', reason: `no ${this.name} robot configured for receiver ${job.receiver}` };
    let req: RobotRequest;
    try {
      req = this.service.request(robot, input, job.receiver, this.now());
    } catch (err) {
      // A template that renders for the samples but not for this notification.
      return {
        kind: 'failure',
        reason: `${this.name}: ${(err as Error).message.slice(0, 200)}`,
        cause: 'clientError',
      };
    }
    let reply: RobotReply;
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
      reply = { status: res.status, headers: res.headers, text: (await res.text()).slice(0, 4096) };
    } catch (err) {
      const e = err as FetchError;
      const code = e.cause?.code ?? e.name;
      const message = e.cause?.message ?? e.message;
      return {
        kind: 'retryable',
        reason: withoutUrl(`${code}: ${message}`.slice(0, 200), robot.url),
        cause: 'other',
      };
    }
    const result = this.service.classify(reply);
    return result.kind === 'success' ? result : { ...result, reason: withoutUrl(result.reason, robot.url) };
  }

  async close(): Promise<void> {}
}
