import { closeSync, fsync, openSync } from 'node:fs';

/**
 * Makes SQLite's commits durable without blocking the event loop. The connection commits with
 * `synchronous=NORMAL` (its write-ahead log written, not yet flushed: a commit that survives
 * kill -9, not yet power loss), and an answer that must survive power loss waits for `sync()`:
 * an fsync of the write-ahead log on libuv's thread pool, the flush `synchronous=FULL` would
 * have made inside the commit, on the event loop. Callers of one moment share one fsync; one
 * that comes while an fsync runs waits for the next, which starts after its commit.
 */
export class WalSync {
  private fd?: number;
  private running?: Promise<void>;
  private next?: Promise<void>;

  constructor(private readonly walPath: string) {}

  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.flush().finally(() => (this.running = undefined));
      return this.running;
    }
    // The running fsync may have started before this caller's commit: one more after it.
    this.next ??= this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.sync();
  }

  private flush(): Promise<void> {
    // The log exists once the first transaction is written, and lives as long as the connection.
    this.fd ??= openSync(this.walPath, 'r');
    const fd = this.fd;
    return new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /** Closes the log's descriptor once no fsync uses it. */
  async close(): Promise<void> {
    await this.next?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
