import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logger.js';
import type { OverrideStore } from '../outbox/contract.js';
import type { ScheduleOverride } from './schedule.js';

export interface OverrideListDeps {
  /** The open outbox; throws StoreUnavailableError when there is none (answered 503). */
  requireStore: () => OverrideStore;
  logger: Logger;
  now: () => number;
}

/**
 * The overrides created through the API or the console: kept in the outbox (they survive a
 * restart and replicas share them) and held here for the roster, which adds the
 * configuration's own.
 */
export class OverrideList {
  private stored: ScheduleOverride[] = [];

  constructor(private readonly deps: OverrideListDeps) {}

  list(): readonly ScheduleOverride[] {
    return this.stored;
  }

  /** Reads the stored overrides again (at start, after a change, before each escalation check). */
  async load(store: OverrideStore | undefined): Promise<void> {
    if (!store) return;
    this.stored = await store.listOverrides();
  }

  async add(input: Omit<ScheduleOverride, 'id' | 'createdAt' | 'source'>): Promise<ScheduleOverride> {
    const store = this.deps.requireStore();
    const o: ScheduleOverride = { id: randomUUID(), ...input, createdAt: this.deps.now(), source: 'api' };
    await store.addOverride(o);
    await this.load(store);
    this.deps.logger.info(
      { id: o.id, schedule: o.schedule, person: o.person, by: o.createdBy },
      'schedule override created',
    );
    return o;
  }

  /** Deletes an API override of a schedule; false when it has none with this id. */
  async delete(schedule: string, id: string, by: string): Promise<boolean> {
    const store = this.deps.requireStore();
    const ok = await store.deleteOverride(schedule, id);
    if (ok) {
      await this.load(store);
      this.deps.logger.info({ id, schedule, by }, 'schedule override deleted');
    }
    return ok;
  }
}
