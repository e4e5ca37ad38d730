import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINGER } from '../../../src/routes/lingering-close.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';

const TOKEN = 'early-refusal-token';
const MiB = 1024 * 1024;
// Often enough for a lost answer to show: one run in two lost it for a real webhook.
const REPEAT = 20;

interface Upload {
  headers: Record<string, string>;
  /** The Content-Length of the head. */
  announced: number;
  /** Body bytes to write, fewer if the server closes the connection first; default: all. */
  body?: number;
  chunkBytes?: number;
  /** A pause between chunks (a slow client); none: as fast as the connection takes them. */
  intervalMs?: number;
}

interface Exchange {
  /** Everything the server sent back. */
  answer: string;
  /** Body bytes handed to the connection before it closed. */
  written: number;
  /** The error the client's connection ended with (EPIPE, ECONNRESET), if any. */
  error?: string;
}

/**
 * A client that does not wait for an early answer: it writes the announced body (or keeps
 * writing until the server closes) while reading whatever the server answers, as Alertmanager's
 * HTTP client does.
 */
function upload(port: number, u: Upload): Promise<Exchange> {
  return new Promise((resolve) => {
    // Half-open: like an HTTP client, it keeps writing its body after the server's end of stream.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    const chunk = Buffer.alloc(u.chunkBytes ?? 64 * 1024, 'x');
    let written = 0;
    let error: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const body = u.body ?? u.announced;
    const writeMore = (): void => {
      while (!socket.destroyed && written < body) {
        const piece = chunk.subarray(0, Math.min(chunk.length, body - written));
        written += piece.length;
        const more = socket.write(piece);
        if (u.intervalMs !== undefined) {
          timer = setTimeout(writeMore, u.intervalMs);
          return;
        }
        if (!more) {
          socket.once('drain', writeMore);
          return;
        }
      }
      if (written === body) socket.end();
    };
    socket.on('connect', () => {
      const head = Object.entries({ host: '127.0.0.1', ...u.headers, 'content-length': u.announced })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`POST /api/v1/alerts HTTP/1.1\r\n${head}\r\n`);
      writeMore();
    });
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer: Buffer.concat(received).toString('utf8'), written, error });
    });
  });
}

const statusLine = (e: Exchange) => e.answer.split('\r\n', 1)[0];
const errorText = (e: Exchange) =>
  (JSON.parse(e.answer.slice(e.answer.indexOf('\r\n\r\n') + 4)) as { error: string }).error;

describe('early refusals reach a client that is still sending its body', () => {
  let sw: StackwatchHandle;

  beforeAll(async () => {
    // The default max_body_bytes (1 MiB) is below every body announced here.
    sw = await startStackwatch({ config: `receiver:\n  webhook_token: ${TOKEN}\n` });
  });
  afterAll(async () => {
    await sw?.stop();
  });

  const JSON_CT = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
  // [case, headers, expected status line, expected error text]
  const REFUSALS: [string, Record<string, string>, string, RegExp][] = [
    ['over max_body_bytes', JSON_CT, 'HTTP/1.1 413 Payload Too Large', /body larger than 1048576 bytes/],
    ['no bearer token', { 'content-type': 'application/json' }, 'HTTP/1.1 401 Unauthorized', /bearer token/],
    [
      'not JSON',
      { ...JSON_CT, 'content-type': 'text/plain' },
      'HTTP/1.1 415 Unsupported Media Type',
      /Content-Type application\/json/,
    ],
  ];

  it.each(REFUSALS)(
    '%s: a client writing all of an 8 MiB body reads the answer every time',
    async (_case, headers, status, error) => {
      const exchanges: Exchange[] = [];
      for (let i = 0; i < REPEAT; i++) exchanges.push(await upload(sw.port, { headers, announced: 8 * MiB }));
      expect(exchanges.map(statusLine)).toEqual(Array(REPEAT).fill(status));
      // Every byte went out: no broken pipe for the client to retry as a network error.
      expect(exchanges.map((e) => [e.written, e.error])).toEqual(Array(REPEAT).fill([8 * MiB, undefined]));
      expect(errorText(exchanges[0] as Exchange)).toMatch(error);
    },
  );

  it('clients streaming an announced 100 MiB read the 413, and are stopped before the end', async () => {
    const announced = 100 * MiB;
    // Together: each is held until the time bound once the server stops reading it.
    const exchanges = await Promise.all(
      Array.from({ length: REPEAT }, () => upload(sw.port, { headers: JSON_CT, announced })),
    );
    expect(exchanges.map(statusLine)).toEqual(Array(REPEAT).fill('HTTP/1.1 413 Payload Too Large'));
    // The server stopped reading at its bound, long before the announced end.
    for (const e of exchanges) expect(e.written).toBeLessThan(announced);
  });

  it('a client that never stops sending is disconnected at the bound', async () => {
    let exchange: Exchange | undefined;
    void upload(sw.port, {
      headers: JSON_CT,
      announced: 100 * MiB,
      chunkBytes: 100,
      intervalMs: 50,
    }).then((e) => (exchange = e));
    // Generous against a loaded machine, and well before the server's 60 s request timeout.
    const closed = await waitFor(() => exchange, 4 * LINGER.ms, 'the server to close the connection');
    expect(statusLine(closed)).toBe('HTTP/1.1 413 Payload Too Large');
  });
});
