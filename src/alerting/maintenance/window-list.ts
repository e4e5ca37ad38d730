import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logger.js';
import type { WindowStore } from '../outbox/contract.js';
import { compileSilence, type ActiveSilence, type Silence } from './windows.js';

export interface WindowListDeps {
  /** The open outbox; throws StoreUnavailableError when there is none (answered 503). */
  requireStore: () => WindowStore;
  /** The windows of the configuration file, compiled with it. */
  configWindows: () => readonly ActiveSilence[];
  logger: Logger;
  now: () => number;
}

/**
 * The maintenance windows in force: those of the configuration and those created through the
 * API or the console, kept in the outbox (shared by replicas) and held here compiled.
 */
export class WindowList {
  private stored: ActiveSilence[] = [];

  constructor(private readonly deps: WindowListDeps) {}

  /** Every window, compiled: what the mute stage and the escalation check consult. */
  active(): ActiveSilence[] {
    return [...this.deps.configWindows(), ...this.stored];
  }

  /** Reads the stored windows again (at start, after a change, and periodically with replicas). */
  async load(store: WindowStore | undefined): Promise<void> {
    if (!store) return;
    this.stored = (await store.listSilences()).map(compileSilence);
  }

  list(): Silence[] {
    const strip = ({ compiled: _c, ...s }: ActiveSilence): Silence => s;
    return this.active().map(strip);
  }

  async add(input: {
    matchers: string[];
    startsAt: number;
    endsAt: number;
    comment: string;
    createdBy: string;
  }): Promise<Silence> {
    const store = this.deps.requireStore();
    const s: Silence = { id: randomUUID(), source: 'api', ...input };
    compileSilence(s); // throws on a bad matcher before anything is stored
    await store.addSilence(s);
    await this.load(store);
    this.deps.logger.info({ id: s.id, matchers: s.matchers }, 'maintenance window created');
    return s;
  }

  /** Ends a maintenance window now, keeping it listed as ended. */
  async end(id: string): Promise<boolean> {
    const store = this.deps.requireStore();
    const ok = await store.endSilence(id, this.deps.now());
    if (ok) await this.load(store);
    return ok;
  }

  async delete(id: string): Promise<boolean> {
    const store = this.deps.requireStore();
    const ok = await store.deleteSilence(id);
    if (ok) await this.load(store);
    return ok;
  }
}
