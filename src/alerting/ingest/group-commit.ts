import { errorText, type Logger } from '../../logger.js';
import { StoreUnavailableError } from '../outbox/open.js';
import type { Stage } from '../model/stage.js';
import type { AlertStore } from '../outbox/contract.js';
import type { IngestRecord, RecordOutcome } from '../model/notification.js';

interface Pending {
  rec: IngestRecord;
  resolve: (o: RecordOutcome) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  store: () => AlertStore | undefined;
  dedupWindowMs: () => number;
  now: () => number;
  logger: Logger;
}

/**
 * Record stage: every webhook planned in this turn of the event loop shares one transaction,
 * and each caller is answered once that transaction commits (or fails).
 */
export class GroupCommit implements Stage<IngestRecord, RecordOutcome> {
  readonly name = 'record';
  private queue: Pending[] = [];
  private flushScheduled = false;

  constructor(private readonly opts: GroupCommitOptions) {}

  run(rec: IngestRecord): Promise<RecordOutcome> {
    return new Promise<RecordOutcome>((resolve, reject) => {
      this.queue.push({ rec, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Commits what is queued now (also at shutdown, so no caller waits forever). */
  async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      const store = this.opts.store();
      if (!store) throw new StoreUnavailableError('the outbox is not available');
      const outcomes = await store.record(
        batch.map((p) => p.rec),
        this.opts.now(),
        this.opts.dedupWindowMs(),
      );
      batch.forEach((p, i) => p.resolve(outcomes[i] as RecordOutcome));
    } catch (err) {
      this.opts.logger.error(
        { err: errorText(err), webhooks: batch.length },
        'could not record webhooks; answering 503',
      );
      for (const p of batch) p.reject(err);
    }
  }
}
