// A heartbeat as pure functions of (state, event, now): a job's heartbeat (pinged by a cron
// job), and the alert pipeline's, whose pings are Alertmanager's Watchdog alert. The stored
// state is the outbox's (HeartbeatStore); what changes is written by one replica only
// (check.ts), which also records the page or the recovery notice that goes with it.

/** `new`: never signalled; `up`: signalled in time; `down`: an incident is open until the next ping. */
export type HeartbeatStatus = 'new' | 'up' | 'down';

/** Why a heartbeat is down: no ping in time, a reported failure, or a run that never finished. */
export type IncidentReason = 'late' | 'failed' | 'unfinished';

/** A ping (the job succeeded; the Watchdog arrived), a run started, a failure, or a check of the clock. */
export type HeartbeatEvent = 'ping' | 'start' | 'fail' | 'check';

export const SIGNALS = ['ping', 'start', 'fail'] as const satisfies readonly HeartbeatEvent[];

export interface Incident {
  reason: IncidentReason;
  /** When it began: the deadline that passed, or the failure's arrival. */
  since: number;
}

export interface HeartbeatState {
  name: string;
  status: HeartbeatStatus;
  /** Last signal of any kind (ping, start, fail); null when never. */
  lastSeenAt: number | null;
  /** Last ping; null when never. */
  lastPingAt: number | null;
  /** A run reported started and not finished (by a ping or a failure) yet. */
  startedAt: number | null;
  /** While down: why, and since when. */
  incident: Incident | null;
  /** Writes of the row so far (0: none): a write applies only to the version it was computed from. */
  version: number;
}

export interface HeartbeatTiming {
  /** Expected time between pings (the Watchdog: its gap). */
  periodMs: number;
  /** How much later than `period` a ping may be, and how long a started run may take. */
  graceMs: number;
  /**
   * No deadline is judged before this instant: a watcher that has just started first gives
   * the signals a chance to arrive (those sent while it was down were lost, not missed).
   */
  notBefore: number;
}

/** What one event does: the next state, and the page or recovery notice it brings. */
export interface HeartbeatChange {
  state: HeartbeatState;
  /** An incident has begun: page once. */
  page?: Incident;
  /** The open incident has ended at `at`: say so once. */
  recovery?: Incident & { at: number };
}

export function newHeartbeat(name: string): HeartbeatState {
  return {
    name,
    status: 'new',
    lastSeenAt: null,
    lastPingAt: null,
    startedAt: null,
    incident: null,
    version: 0,
  };
}

/**
 * When an `up` heartbeat is due: the end of the started run's grace, or of the period and grace
 * after the last ping. Undefined when nothing is awaited (never signalled, or already down).
 */
export function dueAt(
  s: HeartbeatState,
  t: Pick<HeartbeatTiming, 'periodMs' | 'graceMs'>,
): number | undefined {
  if (s.status !== 'up') return undefined;
  if (s.startedAt !== null) return s.startedAt + t.graceMs;
  if (s.lastPingAt !== null) return s.lastPingAt + t.periodMs + t.graceMs;
  return undefined;
}

/**
 * One event applied at `now`; undefined when it changes nothing. An incident pages once when
 * it begins, whatever follows (more failures, a late run); the next ping ends it.
 */
export function step(
  s: HeartbeatState,
  event: HeartbeatEvent,
  now: number,
  t: HeartbeatTiming,
): HeartbeatChange | undefined {
  const next = { ...s, version: s.version + 1 };
  switch (event) {
    case 'ping': {
      const change: HeartbeatChange = {
        state: { ...next, status: 'up', lastSeenAt: now, lastPingAt: now, startedAt: null, incident: null },
      };
      if (s.status === 'down' && s.incident) change.recovery = { ...s.incident, at: now };
      return change;
    }
    case 'start':
      return {
        state: { ...next, status: s.status === 'down' ? 'down' : 'up', lastSeenAt: now, startedAt: now },
      };
    case 'fail': {
      const state: HeartbeatState = { ...next, lastSeenAt: now, startedAt: null };
      if (s.status === 'down') return { state };
      const page: Incident = { reason: 'failed', since: now };
      return { state: { ...state, status: 'down', incident: page }, page };
    }
    case 'check': {
      const due = dueAt(s, t);
      if (due === undefined || now < Math.max(due, t.notBefore)) return undefined;
      // The deadline, not the instant a check noticed it: every replica names the incident alike.
      const page: Incident = { reason: s.startedAt !== null ? 'unfinished' : 'late', since: due };
      return { state: { ...next, status: 'down', startedAt: null, incident: page }, page };
    }
  }
}
