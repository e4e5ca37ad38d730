import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { freePort, sleep } from './util.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** Header names lower-case, folded lines joined, RFC 2047 words decoded. */
  headers: Map<string, string>;
  subject: string;
  messageId: string;
  inReplyTo: string;
  references: string;
  /** Decoded text/plain and text/html parts ('' when absent). */
  text: string;
  html: string;
  at: number;
}

export interface SmtpFault {
  /** SMTP reply code to answer after DATA (421, 451, 550, …). */
  code: number;
  message?: string;
}

export interface SmtpHandle {
  port: number;
  url: string;
  mails: ReceivedMail[];
  /** Answers `code` for the next `count` messages (after DATA; queued after earlier faults), then accepts again. */
  failNext: (code: number, count: number, message?: string) => void;
  /** Answers `code` for every message until cleared with `failAlways(undefined)`. */
  failAlways: (code: number | undefined, message?: string) => void;
  /** Delays each answer by `ms` (a slow server); 0 also answers the held messages at once. */
  setDelay: (ms: number) => void;
  /**
   * Accepts at most `perSecond` messages a second with bursts of `burst` (a provider's sending
   * limit); past it answers `451 4.7.1 Too many messages, slow down`. Undefined turns it off.
   */
  rateLimit: (limit: { perSecond: number; burst: number } | undefined) => void;
  /** Messages refused for being over the rate limit. */
  overLimit: () => number;
  /** Messages that were refused so far (each attempt). */
  refused: () => number;
  /** Messages whose DATA arrived but that are not answered yet (a slow server). */
  inProgress: () => number;
  stop: () => Promise<void>;
  /** Listens again on the same port. */
  start: () => Promise<void>;
  close: () => Promise<void>;
  clear: () => void;
}

function decodeWords(s: string): string {
  return s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, _cs: string, enc: string, data: string) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString('utf8');
      const bytes = data
        .replace(/_/g, ' ')
        .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    });
}

function parseHeaders(block: string): Map<string, string> {
  const out = new Map<string, string>();
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = decodeWords(line.slice(i + 1).trim());
    out.set(name, out.has(name) ? `${out.get(name)}, ${value}` : value);
  }
  return out;
}

function decodeBody(body: string, encoding: string | undefined): string {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

function split(raw: string): { head: string; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  return m
    ? { head: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) }
    : { head: raw, body: '' };
}

/** Collects decoded text/plain and text/html parts of a (possibly multipart) message. */
function parts(head: Map<string, string>, body: string, out: { text: string; html: string }): void {
  const type = head.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const chunks = body.split(`--${boundary}`);
    for (const chunk of chunks.slice(1)) {
      if (chunk.startsWith('--')) break;
      const { head: h, body: b } = split(chunk.replace(/^\r?\n/, ''));
      parts(parseHeaders(h), b, out);
    }
    return;
  }
  const decoded = decodeBody(body, head.get('content-transfer-encoding'));
  if (/^text\/html/i.test(type)) out.html += decoded;
  else if (/^text\/plain/i.test(type)) out.text += decoded;
}

export function parseMail(raw: string, from = '', to: string[] = []): ReceivedMail {
  const { head, body } = split(raw);
  const headers = parseHeaders(head);
  const content = { text: '', html: '' };
  parts(headers, body, content);
  return {
    from,
    to,
    raw,
    headers,
    subject: headers.get('subject') ?? '',
    messageId: headers.get('message-id') ?? '',
    inReplyTo: headers.get('in-reply-to') ?? '',
    references: headers.get('references') ?? '',
    text: content.text,
    html: content.html,
    at: Date.now(),
  };
}

/** A real SMTP server (smtp-server) on a free loopback port that keeps what it receives. */
export async function startSmtp(): Promise<SmtpHandle> {
  const port = await freePort();
  const mails: ReceivedMail[] = [];
  const faults: SmtpFault[] = [];
  let always: SmtpFault | undefined;
  let delay = 0;
  let refusedCount = 0;
  let limit: { perSecond: number; burst: number } | undefined;
  let bucket = { tokens: 0, at: 0 };
  let overCount = 0;
  const withinLimit = (now: number): boolean => {
    if (!limit) return true;
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
  let pending = 0;
  const delayed = new Map<NodeJS.Timeout, () => void>();
  let server: SMTPServer | undefined;

  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      closeTimeout: 200,
      size: 10 * 1024 * 1024,
      onData(stream, session: SMTPServerSession, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          pending++;
          const answer = () => {
            pending--;
            const fault =
              faults.shift() ??
              always ??
              (withinLimit(Date.now())
                ? undefined
                : (overCount++, { code: 451, message: '4.7.1 Too many messages, slow down' }));
            if (fault) {
              refusedCount++;
              const err = new Error(fault.message ?? `fault ${fault.code}`) as Error & {
                responseCode: number;
              };
              err.responseCode = fault.code;
              return callback(err);
            }
            const raw = Buffer.concat(chunks).toString('utf8');
            mails.push(
              parseMail(
                raw,
                session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                session.envelope.rcptTo.map((r) => r.address),
              ),
            );
            callback();
          };
          if (delay > 0) {
            const t = setTimeout(() => {
              delayed.delete(t);
              answer();
            }, delay);
            delayed.set(t, answer);
          } else answer();
        });
      },
    });

  const start = async () => {
    server = make();
    server.on('error', () => {});
    for (let i = 0; ; i++) {
      try {
        await new Promise<void>((resolve, reject) => {
          const s = server as SMTPServer;
          s.server.once('error', reject);
          s.listen(port, '127.0.0.1', () => {
            s.server.off('error', reject);
            resolve();
          });
        });
        return;
      } catch (err) {
        if (i > 50) throw err;
        await sleep(100);
      }
    }
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    // Drop open (pooled) client connections too, as a crashed server would.
    const conns = (s as unknown as { connections: Set<{ close: () => void }> }).connections;
    for (const c of conns ?? []) c.close();
    await new Promise<void>((r) => s.close(() => r()));
  };
  await start();
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    failNext: (code, count, message) => {
      faults.push(...Array.from({ length: count }, () => ({ code, message })));
    },
    failAlways: (code, message) => {
      always = code === undefined ? undefined : { code, message };
    },
    setDelay: (ms) => {
      delay = ms;
      if (ms === 0) {
        // Answer the messages that are being held now.
        for (const [t, answer] of delayed) {
          clearTimeout(t);
          answer();
        }
        delayed.clear();
      }
    },
    rateLimit: (l) => {
      limit = l;
      bucket = { tokens: l?.burst ?? 0, at: Date.now() };
    },
    overLimit: () => overCount,
    refused: () => refusedCount,
    inProgress: () => pending,
    stop,
    start,
    close: stop,
    clear: () => {
      mails.length = 0;
    },
  };
}
