// The heartbeats table, written once for both stores: SQLite reads BIGINT as an integer
// column, so one definition and one pair of writes serve both dialects; only the parameter
// placeholders differ (`?` in SQLite, `$1` in PostgreSQL).
import type { HeartbeatState, HeartbeatStatus, IncidentReason } from '../heartbeat/heartbeats.js';

export function heartbeatsTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  name TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  last_seen_at BIGINT,
  last_ping_at BIGINT,
  started_at BIGINT,
  incident_reason TEXT,
  incident_since BIGINT,
  version BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
)`;
}

export interface HeartbeatRow {
  name: string;
  status: HeartbeatStatus;
  last_seen_at: number | null;
  last_ping_at: number | null;
  started_at: number | null;
  incident_reason: IncidentReason | null;
  incident_since: number | null;
  version: number;
}

export function toHeartbeat(r: HeartbeatRow): HeartbeatState {
  return {
    name: r.name,
    status: r.status,
    lastSeenAt: r.last_seen_at,
    lastPingAt: r.last_ping_at,
    startedAt: r.started_at,
    incident:
      r.incident_reason && r.incident_since !== null
        ? { reason: r.incident_reason, since: r.incident_since }
        : null,
    version: r.version,
  };
}

const COLUMNS = [
  'status',
  'last_seen_at',
  'last_ping_at',
  'started_at',
  'incident_reason',
  'incident_since',
  'version',
  'updated_at',
  'name',
] as const;

/**
 * The write of a heartbeat's next state, and its parameters: the first write inserts the row
 * unless another replica did; a later one updates it only from the version it was computed
 * from. Either changes one row, or none when another replica wrote first.
 */
export function heartbeatWrite(
  table: string,
  s: HeartbeatState,
  now: number,
  placeholder: (i: number) => string,
): { sql: string; values: (string | number | null)[] } {
  const values: (string | number | null)[] = [
    s.status,
    s.lastSeenAt,
    s.lastPingAt,
    s.startedAt,
    s.incident?.reason ?? null,
    s.incident?.since ?? null,
    s.version,
    now,
    s.name,
  ];
  if (s.version === 1)
    return {
      sql: `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_c, i) => placeholder(i + 1)).join(', ')})
            ON CONFLICT (name) DO NOTHING`,
      values,
    };
  const set = COLUMNS.slice(0, -1).map((c, i) => `${c} = ${placeholder(i + 1)}`);
  return {
    sql: `UPDATE ${table} SET ${set.join(', ')} WHERE name = ${placeholder(COLUMNS.length)}
            AND version = ${placeholder(COLUMNS.length + 1)}`,
    values: [...values, s.version - 1],
  };
}
