// Load generators shared by the receiver benchmarks: a closed loop (a fixed number of clients,
// each posting its next webhook when the last is answered), an open loop (webhooks posted on a
// fixed schedule whatever the answers), and the floor they are compared with: express parsing
// the same JSON bodies and answering, in a process of its own, as stackwatch runs in one.
import { Agent, request } from 'node:http';
import { REPO_ROOT } from '../tests/support/stackwatch.js';
import { freePort, startProcess, waitFor, type Proc } from '../tests/support/util.js';

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export interface LoadResult {
  seconds: number;
  /** Answer times in ms, sorted. */
  latencies: number[];
  codes: Map<number, number>;
}

/** Posts one body to `url`'s webhook endpoint; resolves with the status once the answer is read. */
function poster(url: string, token: string, maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const { hostname, port } = new URL(url);
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          path: '/api/v1/alerts',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** `concurrency` clients post `bodies` one after another, each waiting for its answer. */
export async function closedLoop(
  url: string,
  token: string,
  bodies: readonly string[],
  concurrency: number,
): Promise<LoadResult> {
  const { post, close } = poster(url, token, concurrency);
  const latencies: number[] = [];
  const codes = new Map<number, number>();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= bodies.length) return;
        const s = performance.now();
        const code = await post(bodies[i] as string);
        latencies.push(performance.now() - s);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  close();
  return { seconds, latencies: latencies.sort((a, b) => a - b), codes };
}

/**
 * Posts `body(i)` at `perSecond` for `seconds`, each at its scheduled instant whether or not the
 * earlier ones were answered (as Alertmanager's group timers do); the latency of each answer is
 * counted from its scheduled instant, so a client held back by a slow server is counted too.
 */
export async function openLoop(
  url: string,
  token: string,
  body: (i: number) => string,
  perSecond: number,
  seconds: number,
): Promise<LoadResult> {
  const { post, close } = poster(url, token, Infinity);
  const latencies: number[] = [];
  const codes = new Map<number, number>();
  const total = Math.round(perSecond * seconds);
  const bodies = Array.from({ length: total }, (_, i) => body(i));
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      post(bodies[i] as string).then(
        (code) => {
          latencies.push(performance.now() - due);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        },
        () => {
          codes.set(0, (codes.get(0) ?? 0) + 1);
        },
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - t0) / 1000;
  close();
  return { seconds: elapsed, latencies: latencies.sort((a, b) => a - b), codes };
}

export interface Floor {
  url: string;
  proc: Proc;
}

/**
 * The floor: express with its JSON body parser (the limit stackwatch allows), checking the
 * bearer token and answering 200 with a small JSON body. No validation, no storage.
 */
export async function startFloor(token: string): Promise<Floor> {
  const port = await freePort();
  const code = `
const express = require('express');
const app = express();
app.disable('x-powered-by');
app.post('/api/v1/alerts', express.json({ limit: '5mb' }), (req, res) => {
  if (req.headers.authorization !== 'Bearer ' + ${JSON.stringify(token)}) return res.status(401).end();
  res.json({ status: 'success', alerts: Array.isArray(req.body.alerts) ? req.body.alerts.length : 0 });
});
app.listen(${port}, '127.0.0.1', () => console.log('listening'));
`;
  const proc = startProcess(process.execPath, ['-e', code], { cwd: REPO_ROOT });
  await waitFor(
    () => proc.output().includes('listening') || undefined,
    20_000,
    'the express floor to listen',
  );
  return { url: `http://127.0.0.1:${port}`, proc };
}

export const codesText = (codes: ReadonlyMap<number, number>) =>
  [...codes].map(([code, n]) => `${n} × ${code}`).join(', ');
