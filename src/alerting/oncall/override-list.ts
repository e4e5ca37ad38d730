import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logger.js';
import type { OverrideStore } from '../outbox/contract.js';
import { parseDuration } from '../../config/common.js';
import { parseZonedTime } from '../../zoned-time.js';
import type { ScheduleOverride } from './schedule.js';

/**
 * An override from an API body or a console form: `person` (an id), `start` (default now) and
 * `end` (wall-clock time in the schedule's zone, or RFC 3339) or `duration`; or what is wrong.
 */
export function overrideInput(
  b: Record<string, unknown>,
  ctx: { people: readonly { id: string }[]; timeZone: string; now: number },
): { person: string; start: number; end: number; comment: string } | string {
  const person = typeof b.person === 'string' ? b.person : '';
  if (!ctx.people.some((p) => p.id === person))
    return `person: expected one of ${ctx.people.map((p) => p.id).join(', ')}, got ${JSON.stringify(person.slice(0, 64))}`;
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const start = text(b.start) ? parseZonedTime(text(b.start), ctx.timeZone) : ctx.now;
  if (start === undefined)
    return `start: expected a time like 2026-10-01T09:00 (in ${ctx.timeZone}) or RFC 3339, got ${JSON.stringify(text(b.start).slice(0, 40))}`;
  let end = text(b.end) ? parseZonedTime(text(b.end), ctx.timeZone) : undefined;
  if (end === undefined && !text(b.end) && text(b.duration)) {
    const d = parseDuration(text(b.duration));
    if (d) end = start + d;
  }
  if (end === undefined)
    return `end: expected a time like 2026-10-02T09:00 (in ${ctx.timeZone}) or RFC 3339, or a duration like "12h"`;
  if (end <= start) return 'end: must be after start';
  if (end <= ctx.now) return 'end: is in the past';
  return { person, start, end, comment: typeof b.comment === 'string' ? b.comment.slice(0, 500) : '' };
}

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
