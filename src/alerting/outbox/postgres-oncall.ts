import type pg from 'pg';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type { EpisodeRef, EscalationEpisode } from './contract.js';
import type { EscalationUpdate } from '../model/notification.js';
import { overrideValues, toEpisode, toOverride, type EpisodeRow, type OverrideRow } from './rules.js';

// The on-call tables of the PostgreSQL outbox (as sqlite-oncall.ts), shared by the replicas.
// An episode starts on PostgreSQL's clock, and the escalation check of every replica reads the
// same clock, so replicas whose hosts disagree about the time still page at the same moment.

type Querier = Pick<pg.PoolClient, 'query'>;

/** PostgreSQL's clock in milliseconds. */
export const DB_NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

export function oncallSchemaSql(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.schedule_overrides (
  id TEXT PRIMARY KEY, schedule TEXT NOT NULL, person TEXT NOT NULL, starts_at BIGINT NOT NULL,
  ends_at BIGINT NOT NULL, comment TEXT NOT NULL, created_by TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.escalations (
  group_key TEXT NOT NULL, policy TEXT NOT NULL, receiver TEXT NOT NULL, started_at BIGINT NOT NULL,
  next_index INTEGER NOT NULL DEFAULT 0, content TEXT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (group_key, policy));`;
}

/** The on-call tables exist (made by an earlier start, or by a DBA). */
export async function oncallTablesPresent(q: Querier, s: string): Promise<boolean> {
  const r = await q.query<{ ok: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ok',
    [`${s}.schedule_overrides`, `${s}.escalations`],
  );
  return r.rows[0]?.ok === true;
}

export class PgOncallTables {
  private readonly t: (table: string) => string;

  constructor(schema: string) {
    this.t = (table) => `${schema}.${table}`;
  }

  /** Starts or continues the firing policies' episodes of groups and ends their others (in record's transaction). */
  async apply(q: Querier, updates: readonly EscalationUpdate[], now: number): Promise<void> {
    // The last update of a group in a batch wins, as with the groups table; keys in order (no deadlock).
    const last = new Map(updates.map((u) => [u.groupKey, u]));
    const sorted = [...last.values()].sort((a, b) => (a.groupKey < b.groupKey ? -1 : 1));
    for (const u of sorted) {
      if (u.firing.length)
        await q.query(
          `INSERT INTO ${this.t('escalations')} (group_key, policy, receiver, started_at, next_index, content, updated_at)
           SELECT $1, p, r, ${DB_NOW_MS}, 0, c, $5 FROM unnest($2::text[], $3::text[], $4::text[]) AS u(p, r, c)
           ON CONFLICT (group_key, policy) DO UPDATE SET receiver = excluded.receiver, content = excluded.content,
             updated_at = excluded.updated_at`,
          [
            u.groupKey,
            u.firing.map((f) => f.policy),
            u.firing.map((f) => f.receiver),
            u.firing.map((f) => JSON.stringify(f.content)),
            now,
          ],
        );
      await q.query(
        `DELETE FROM ${this.t('escalations')} WHERE group_key = $1 AND policy <> ALL($2::text[])`,
        [u.groupKey, u.firing.map((f) => f.policy)],
      );
    }
  }

  /** Moves an episode past a step when it is still as read (row-locked, so one replica wins). */
  async advance(q: Querier, ep: EpisodeRef, next: number): Promise<boolean> {
    const r = await q.query(
      `UPDATE ${this.t('escalations')} SET next_index = $1
       WHERE group_key = $2 AND policy = $3 AND started_at = $4 AND next_index = $5`,
      [next, ep.groupKey, ep.policy, ep.startedAt, ep.nextIndex],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async clock(q: Querier): Promise<number> {
    const r = await q.query<{ t: number }>(`SELECT ${DB_NOW_MS} AS t`);
    return Number(r.rows[0]?.t);
  }

  async episodes(q: Querier, limit: number): Promise<EscalationEpisode[]> {
    const r = await q.query<EpisodeRow>(
      `SELECT * FROM ${this.t('escalations')} ORDER BY started_at, group_key, policy LIMIT $1`,
      [limit],
    );
    return r.rows.map(toEpisode);
  }

  async listOverrides(q: Querier): Promise<ScheduleOverride[]> {
    const r = await q.query<OverrideRow>(
      `SELECT * FROM ${this.t('schedule_overrides')} ORDER BY starts_at, id`,
    );
    return r.rows.map(toOverride);
  }

  async addOverride(q: Querier, o: ScheduleOverride): Promise<void> {
    await q.query(
      `INSERT INTO ${this.t('schedule_overrides')} (id, schedule, person, starts_at, ends_at, comment, created_by,
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      overrideValues(o),
    );
  }

  async deleteOverride(q: Querier, schedule: string, id: string): Promise<boolean> {
    const r = await q.query(`DELETE FROM ${this.t('schedule_overrides')} WHERE schedule = $1 AND id = $2`, [
      schedule,
      id,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async prune(q: Querier, before: { overrides: number; escalations: number }): Promise<void> {
    await q.query(`DELETE FROM ${this.t('schedule_overrides')} WHERE ends_at < $1`, [before.overrides]);
    await q.query(`DELETE FROM ${this.t('escalations')} WHERE updated_at < $1`, [before.escalations]);
  }
}
