import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a refused request's connection is kept open after its answer, and how much of its
 * body is read meanwhile.
 *
 * A client that sends its body without waiting for the answer (Alertmanager, Node's HTTP
 * client, curl) may only look at an early 401/413/415 after its next write. Closing the
 * connection with body bytes still unread makes the kernel send a reset: that write fails with a
 * broken pipe, the client drops the connection with the answer unread, and Alertmanager retries
 * as for a network error. So the connection is closed the way nginx does ("lingering close"):
 * half-closed once the answer is sent, its body read and discarded until the client has sent all
 * of it or stops sending, and closed then. A client that keeps sending is stopped by these
 * bounds: past `bytes` the connection is no longer read (its writes stall while it reads the
 * answer; the process spends nothing more on it), and at `ms` it is closed whatever its state.
 * A few seconds let a client on a slow link finish and read its answer; a fast one reaches the
 * bytes bound long before.
 */
export const LINGER: Readonly<{ ms: number; bytes: number }> = {
  ms: 5_000,
  bytes: 16 * 1024 * 1024,
};

/**
 * Makes the answer about to be sent on `res` the connection's last (`Connection: close`) and,
 * once it is sent, closes the connection without losing the answer: see {@link LINGER}.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  const socket = req.socket;
  // The body is read and dropped from now on (body parsing may have paused the request when it
  // refused it), until the bytes bound.
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER.bytes) req.pause();
  });
  req.resume();
  // Node's HTTP server closes a connection after its last response with socket.destroySoon()
  // (end, then destroy once flushed), which resets it when the request body is still unread.
  socket.destroySoon = () => linger(req, socket);
}

function linger(req: IncomingMessage, socket: Socket): void {
  // The answer is flushed before the half-close: the client reads it, then end of stream.
  socket.end();
  const destroy = () => socket.destroy();
  // Nothing more is coming: closing cannot reset the connection any more.
  const destroyWhenFlushed = () => {
    if (socket.writableFinished) destroy();
    else socket.once('finish', destroy);
  };
  if (req.complete) {
    destroyWhenFlushed();
    return;
  }
  const timer = setTimeout(destroy, LINGER.ms).unref();
  socket.once('close', () => clearTimeout(timer));
  req.once('end', destroyWhenFlushed);
  // The client has stopped sending (half-close).
  socket.once('end', destroyWhenFlushed);
}
