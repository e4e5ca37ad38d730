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

export interface SlackHandle {
  /** Incoming-webhook URL (any path is accepted; each path is recorded). */
  url: string;
  requests: SlackRequest[];
  /** Replies for the next requests, in order; then `200 ok` again. */
  replyNext: (...replies: SlackReply[]) => void;
  /** Reply used when no queued reply is left (default `200 ok`). */
  replyAlways: (reply: SlackReply) => void;
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
      const reply = queue.shift() ?? fallback;
      requests.push({ path: req.url ?? '/', body, raw, at: Date.now(), status: reply.status });
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
    delivered: () => requests.filter((r) => r.status === 200),
    clear: () => {
      requests.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
