import type Database from 'better-sqlite3';
import type { ScheduleOverride } from '../oncall/schedule.js';
import type { EpisodeRef, EscalationEpisode } from './contract.js';
import type { EscalationUpdate } from '../model/notification.js';
import { overrideValues, toEpisode, toOverride, type EpisodeRow, type OverrideRow } from './rules.js';

// The on-call tables of the SQLite outbox: schedule overrides made at run time, and the
// escalation policies' episodes (one per group and policy, from the first firing notification
// to the resolution, with the next step due).

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schedule_overrides (
  id TEXT PRIMARY KEY,
  schedule TEXT NOT NULL,
  person TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  comment TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS escalations (
  group_key TEXT NOT NULL,
  policy TEXT NOT NULL,
  receiver TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  next_index INTEGER NOT NULL DEFAULT 0,
  content TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (group_key, policy)
);
`;

export class SqliteOncallTables {
  private readonly st;

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.st = {
      overrides: db.prepare('SELECT * FROM schedule_overrides ORDER BY starts_at, id'),
      overrideAdd: db.prepare(
        `INSERT INTO schedule_overrides (id, schedule, person, starts_at, ends_at, comment, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      overrideDel: db.prepare('DELETE FROM schedule_overrides WHERE schedule = ? AND id = ?'),
      episodeFiring: db.prepare(
        `INSERT INTO escalations (group_key, policy, receiver, started_at, next_index, content, updated_at)
         VALUES (@group, @policy, @receiver, @now, 0, @content, @now)
         ON CONFLICT (group_key, policy) DO UPDATE SET receiver = excluded.receiver, content = excluded.content,
           updated_at = excluded.updated_at`,
      ),
      episodesEnd: db.prepare(
        'DELETE FROM escalations WHERE group_key = ? AND policy NOT IN (SELECT value FROM json_each(?))',
      ),
      episodes: db.prepare('SELECT * FROM escalations ORDER BY started_at, group_key, policy LIMIT ?'),
      advance: db.prepare(
        `UPDATE escalations SET next_index = @next
         WHERE group_key = @group AND policy = @policy AND started_at = @started AND next_index = @expected`,
      ),
      pruneOverrides: db.prepare('DELETE FROM schedule_overrides WHERE ends_at < ?'),
      pruneEpisodes: db.prepare('DELETE FROM escalations WHERE updated_at < ?'),
    };
  }

  /**
   * Starts or continues the firing policies' episodes of a group and ends its others (inside
   * record's transaction). An episode starts on the outbox's clock (clock()), as with PostgreSQL.
   */
  apply(u: EscalationUpdate, clock: number): void {
    for (const f of u.firing)
      this.st.episodeFiring.run({
        group: u.groupKey,
        policy: f.policy,
        receiver: f.receiver,
        content: JSON.stringify(f.content),
        now: clock,
      });
    this.st.episodesEnd.run(u.groupKey, JSON.stringify(u.firing.map((f) => f.policy)));
  }

  /** Moves an episode past a step when it is still as read; false when it is not (inside a transaction). */
  advance(ep: EpisodeRef, next: number): boolean {
    return (
      this.st.advance.run({
        next,
        group: ep.groupKey,
        policy: ep.policy,
        started: ep.startedAt,
        expected: ep.nextIndex,
      }).changes > 0
    );
  }

  episodes(limit: number): EscalationEpisode[] {
    return (this.st.episodes.all(limit) as EpisodeRow[]).map(toEpisode);
  }

  listOverrides(): ScheduleOverride[] {
    return (this.st.overrides.all() as OverrideRow[]).map(toOverride);
  }

  addOverride(o: ScheduleOverride): void {
    this.st.overrideAdd.run(...overrideValues(o));
  }

  deleteOverride(schedule: string, id: string): boolean {
    return this.st.overrideDel.run(schedule, id).changes > 0;
  }

  prune(before: { overrides: number; escalations: number }): void {
    this.st.pruneOverrides.run(before.overrides);
    this.st.pruneEpisodes.run(before.escalations);
  }
}
