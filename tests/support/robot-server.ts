// What the chat-robot and gateway fakes share: a loopback HTTP server that records every
// request with the answer it got, and a sliding-window counter for a service's rate limit.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { freePort } from './util.js';

export interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  raw: string;
  body: unknown;
  at: number;
  status: number;
  reply: Record<string, unknown>;
  /** Why the fake refused it (its error code), undefined when delivered. */
  refused?: number | string;
}

export interface Answer {
  status: number;
  reply: Record<string, unknown>;
  refused?: number | string;
  headers?: Record<string, string>;
}

export interface RecordingServer {
  base: string;
  requests: RecordedRequest[];
  close: () => Promise<void>;
}

/** Starts a server that answers each request with `answer` and records both. */
export async function startRecordingServer(
  answer: (req: Omit<RecordedRequest, 'status' | 'reply' | 'refused'>) => Answer,
): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const u = new URL(req.url ?? '/', 'http://fake');
      const seen = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        raw,
        body,
        at: Date.now(),
      };
      const a = answer(seen);
      requests.push({ ...seen, status: a.status, reply: a.reply, refused: a.refused });
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.reply));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Messages accepted within the last `windowMs`, per robot: a service's "N per minute". */
export class SlidingWindow {
  private readonly accepted = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Whether one more message fits now; counts it when it does. */
  take(robot: string, now: number): boolean {
    const kept = (this.accepted.get(robot) ?? []).filter((t) => t > now - this.windowMs);
    this.accepted.set(robot, kept);
    if (kept.length >= this.limit) return false;
    kept.push(now);
    return true;
  }

  /** Whether one more would fit, without counting it. */
  fits(robot: string, now: number): boolean {
    return (this.accepted.get(robot) ?? []).filter((t) => t > now - this.windowMs).length < this.limit;
  }
}
