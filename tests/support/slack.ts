import { createServer, type Server } from 'node:http';
import { freePort } from './util.js';

export interface SlackReply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface SlackRequest {
  path: string;
  body: unknown;
  raw: string;
  at: number;
  /** What the fake answered. */
  status: number;
}

export const SLACK_OK: SlackReply = { status: 200, body: 'ok' };
export const slackRateLimited = (retryAfterSeconds: number): SlackReply => ({
  status: 429,
  body: 'rate_limited',
  headers: { 'Retry-After': String(retryAfterSeconds) },
});
export const SLACK_SERVER_ERROR: SlackReply = { status: 500, body: 'internal_error' };
export const SLACK_NO_SERVICE: SlackReply = { status: 404, body: 'no_service' };

/** Slack's documented limit for an incoming webhook: about 1 message per second, short bursts. */
export interface SlackRateLimit {
  perSecond: number;
  burst: number;
  /** Retry-After (seconds) answered with a 429 past the limit. */
  retryAfterSeconds: number;
}

/** Slack's 429 body for a webhook over its rate. */
export const SLACK_RATE_LIMITED_BODY = '{"ok":false,"error":"rate_limited"}';

export interface SlackHandle {
  /** Incoming-webhook URL (any path is accepted; each path is recorded). */
  url: string;
  requests: SlackRequest[];
  /** Replies for the next requests, in order; then `200 ok` again. */
  replyNext: (...replies: SlackReply[]) => void;
  /** Reply used when no queued reply is left (default `200 ok`). */
  replyAlways: (reply: SlackReply) => void;
  /**
   * Behaves like Slack: each webhook URL (path) accepts `perSecond` with bursts of `burst`,
   * then answers 429 with Retry-After until the bucket refills; undefined turns it off.
   */
  rateLimit: (limit: SlackRateLimit | undefined) => void;
  /** Requests refused because they were over the rate limit (not queued replies). */
  overLimit: () => SlackRequest[];
  /** Requests answered 200. */
  delivered: () => SlackRequest[];
  clear: () => void;
  close: () => Promise<void>;
}

/** A local HTTP server that answers like Slack's incoming webhooks and records each request. */
export async function startSlack(): Promise<SlackHandle> {
  const requests: SlackRequest[] = [];
  let queue: SlackReply[] = [];
  let fallback: SlackReply = SLACK_OK;
  let limit: SlackRateLimit | undefined;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const over = new Set<SlackRequest>();
  /** Takes a token of this path's bucket; false when the path is over its rate. */
  const withinLimit = (path: string, now: number): boolean => {
    if (!limit) return true;
    const b = buckets.get(path) ?? { tokens: limit.burst, at: now };
    b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
    b.at = now;
    buckets.set(path, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // recorded as text
      }
      const path = req.url ?? '/';
      const at = Date.now();
      let reply = queue.shift() ?? fallback;
      const overRate = reply.status === 200 && !withinLimit(path, at);
      if (overRate && limit)
        reply = {
          status: 429,
          body: SLACK_RATE_LIMITED_BODY,
          headers: { 'Retry-After': String(limit.retryAfterSeconds), 'content-type': 'application/json' },
        };
      const request: SlackRequest = { path, body, raw, at, status: reply.status };
      requests.push(request);
      if (overRate) over.add(request);
      res.writeHead(reply.status, { 'content-type': 'text/html', ...reply.headers });
      res.end(reply.body);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`,
    requests,
    replyNext: (...replies) => {
      queue = replies;
    },
    replyAlways: (reply) => {
      fallback = reply;
    },
    rateLimit: (l) => {
      limit = l;
      buckets.clear();
    },
    overLimit: () => requests.filter((r) => over.has(r)),
    delivered: () => requests.filter((r) => r.status === 200),
    clear: () => {
      requests.length = 0;
      over.clear();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
