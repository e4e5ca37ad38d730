import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface PasswordCheckerOptions {
  /** Threads that run bcrypt; the event loop never does. */
  threads: number;
  /** Checks in flight or queued at most; more are refused at once as `busy`. */
  maxPending: number;
}

export type CheckResult = 'match' | 'mismatch' | 'busy';

// bcryptjs by absolute path: an eval'd worker has no module of its own to resolve from.
const BCRYPT = createRequire(import.meta.url).resolve('bcryptjs');
const WORKER_SOURCE = `
const bcrypt = require(${JSON.stringify(BCRYPT)});
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch {}
  parentPort.postMessage({ id, ok });
});`;

interface Thread {
  worker: Worker;
  pending: Map<number, (ok: boolean) => void>;
}

export function defaultPasswordCheckerOptions(): PasswordCheckerOptions {
  return { threads: Math.max(1, Math.min(2, availableParallelism() - 1)), maxPending: 8 };
}

/**
 * bcrypt comparisons on worker threads, a bounded number at a time. Under a flood of wrong
 * passwords the excess is refused without any hashing, so the flood costs the event loop
 * next to nothing and the threads at most `maxPending` comparisons.
 */
export class PasswordChecker {
  private readonly threads: (Thread | undefined)[];
  private nextId = 0;
  private inFlight = 0;

  constructor(private readonly opts: PasswordCheckerOptions = defaultPasswordCheckerOptions()) {
    this.threads = new Array<Thread | undefined>(opts.threads).fill(undefined);
  }

  async check(password: string, hash: string): Promise<CheckResult> {
    if (this.inFlight >= this.opts.maxPending) return 'busy';
    this.inFlight++;
    try {
      return (await this.compare(password, hash)) ? 'match' : 'mismatch';
    } finally {
      this.inFlight--;
    }
  }

  private compare(password: string, hash: string): Promise<boolean> {
    const thread = this.leastBusy();
    const id = ++this.nextId;
    return new Promise<boolean>((resolve) => {
      thread.pending.set(id, resolve);
      thread.worker.postMessage({ id, password, hash });
    });
  }

  private leastBusy(): Thread {
    let best = 0;
    for (let i = 0; i < this.threads.length; i++) {
      const t = this.threads[i];
      if (!t) {
        best = i;
        break;
      }
      if (t.pending.size < (this.threads[best]?.pending.size ?? 0)) best = i;
    }
    return this.threads[best] ?? this.spawn(best);
  }

  private spawn(slot: number): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // The threads never keep the process alive on their own.
    worker.unref();
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      thread.pending.get(id)?.(ok);
      thread.pending.delete(id);
    });
    const fail = () => {
      // A thread that died refuses what it held; the next check starts a new one.
      for (const resolve of thread.pending.values()) resolve(false);
      thread.pending.clear();
      if (this.threads[slot] === thread) this.threads[slot] = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    this.threads[slot] = thread;
    return thread;
  }

  async close(): Promise<void> {
    const threads = this.threads.splice(0).filter((t): t is Thread => t !== undefined);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}
