import { createHash } from 'node:crypto';
import type { Labels } from '../../matchers.js';
import type { Alert, Webhook } from '../ingest/payload.js';
import { planWebhook } from '../ingest/plan.js';
import { Router } from '../ingest/routing.js';
import type { ActiveSilence } from '../maintenance/windows.js';
import type { IngestRecord } from '../model/notification.js';
import type { Setup } from '../setup.js';
import type { HeartbeatChange, Incident, IncidentReason } from './heartbeats.js';

// stackwatch's own alerts about a heartbeat: an incident's page and its recovery notice, as an
// alert of a webhook stackwatch writes itself, planned like Alertmanager's (routing table or
// the heartbeat's receiver, contacts, maintenance windows, lanes) and recorded in the outbox.
// The alert's start is the incident's, so each incident has dedup keys of its own.

/** What is watched: the alert pipeline (the Watchdog), or a job. */
export interface HeartbeatSubject {
  kind: 'watchdog' | 'job';
  name: string;
  periodMs: number;
  graceMs: number;
  /** The receiver paged; undefined: the routing table routes by the alert's labels. */
  receiver?: string;
}

const RUNBOOKS = 'https://github.com/stackwatch/stackwatch/blob/main/docs/runbooks/stackwatch.md';
const NEVER = '0001-01-01T00:00:00Z';

/** The alert names, one per cause: the subject line says which. */
export const WATCHDOG_ALERT = 'WatchdogMissing';
export const HEARTBEAT_ALERTS: Record<IncidentReason, string> = {
  late: 'HeartbeatLate',
  failed: 'HeartbeatFailed',
  unfinished: 'HeartbeatUnfinished',
};

/** `6 s`, `5 min`, `1 h 5 min`, `7 d`. */
export function spanText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h >= 48 && m % 1440 === 0) return `${m / 1440} d`;
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

const iso = (ms: number) => new Date(ms).toISOString();

function labelsOf(subject: HeartbeatSubject, reason: IncidentReason): Labels {
  return subject.kind === 'watchdog'
    ? { alertname: WATCHDOG_ALERT, severity: 'critical', service: 'stackwatch' }
    : {
        alertname: HEARTBEAT_ALERTS[reason],
        heartbeat: subject.name,
        severity: 'critical',
        service: 'stackwatch',
      };
}

/** What the page says about the incident. */
function pageText(
  subject: HeartbeatSubject,
  incident: Incident,
  lastSeenAt: number | null,
): { summary: string; description: string } {
  const seen = lastSeenAt === null ? 'never' : iso(lastSeenAt);
  if (subject.kind === 'watchdog')
    return incident.reason === 'failed'
      ? {
          summary:
            'Alertmanager reports the Watchdog alert resolved: Prometheus has stopped sending alerts, or no longer evaluates the Watchdog rule.',
          description: `The Watchdog alert fires for as long as Prometheus evaluates its rules; Alertmanager resolved it at ${iso(incident.since)}. Until it fires again no alert of Prometheus reaches anyone.`,
        }
      : {
          summary: `The Watchdog alert has not arrived from Alertmanager for ${spanText(subject.periodMs)}: Prometheus or Alertmanager may be down.`,
          description: `The always-firing Watchdog alert last arrived at ${seen}; Alertmanager sends it every minute while Prometheus and Alertmanager work (receiver.watchdog.gap ${spanText(subject.periodMs)}). Until it arrives again no alert of Prometheus reaches anyone.`,
        };
  const every = `expected every ${spanText(subject.periodMs)}, grace ${spanText(subject.graceMs)}`;
  if (incident.reason === 'failed')
    return {
      summary: `Heartbeat ${subject.name} reported a failure.`,
      description: `The job behind heartbeat ${subject.name} reported a failure at ${iso(incident.since)} (${every}).`,
    };
  if (incident.reason === 'unfinished')
    return {
      summary: `Heartbeat ${subject.name} started and did not finish within ${spanText(subject.graceMs)}.`,
      description: `The job behind heartbeat ${subject.name} reported a start and neither a success nor a failure until ${iso(incident.since)} (${every}).`,
    };
  return {
    summary: `Heartbeat ${subject.name} is late: no ping since ${seen}.`,
    description: `The job behind heartbeat ${subject.name} has not pinged since ${seen} (${every}); it was due by ${iso(incident.since)}.`,
  };
}

/** What the recovery notice says. */
function recoveryText(subject: HeartbeatSubject, incident: Incident, at: number): string {
  const down = spanText(at - incident.since);
  return subject.kind === 'watchdog'
    ? `The Watchdog alert arrives from Alertmanager again: the alert pipeline works (silent for ${down}).`
    : `Heartbeat ${subject.name} pinged again at ${iso(at)}, ${down} after it went down (${incident.reason}).`;
}

/** The webhook stackwatch writes itself for a page (firing) or a recovery (resolved). */
export function incidentWebhook(
  subject: HeartbeatSubject,
  change: Pick<HeartbeatChange, 'page' | 'recovery'>,
  ctx: { lastSeenAt: number | null; externalUrl?: string },
): Webhook | undefined {
  const incident = change.page ?? change.recovery;
  if (!incident) return undefined;
  const labels = labelsOf(subject, incident.reason);
  const text = pageText(subject, incident, ctx.lastSeenAt);
  const alert: Alert = {
    status: change.recovery ? 'resolved' : 'firing',
    labels,
    annotations: {
      summary: change.recovery ? recoveryText(subject, incident, change.recovery.at) : text.summary,
      description: text.description,
      runbook_url: `${RUNBOOKS}#${labels.alertname?.toLowerCase()}`,
    },
    startsAt: iso(incident.since),
    endsAt: change.recovery ? iso(change.recovery.at) : NEVER,
    // The console's overview lists the heartbeats.
    generatorURL: ctx.externalUrl ? `${ctx.externalUrl}/` : '',
    fingerprint: createHash('sha256').update(`heartbeat\0${subject.name}`).digest('hex').slice(0, 16),
  };
  const groupLabels: Labels =
    subject.kind === 'watchdog' ? { alertname: WATCHDOG_ALERT } : { heartbeat: subject.name };
  return {
    version: '4',
    groupKey: `stackwatch:{${Object.entries(groupLabels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ')}}`,
    truncatedAlerts: 0,
    status: alert.status,
    receiver: 'stackwatch',
    groupLabels,
    commonLabels: labels,
    commonAnnotations: alert.annotations,
    externalURL: '',
    alerts: [alert],
  };
}

/**
 * The notifications of a page or recovery, planned like a webhook's: to the subject's receiver
 * (or where the routing table sends its labels), muted by a maintenance window over them, each
 * in its lane (with the defaults, the lane of stackwatch's own alerts).
 */
export function planIncident(
  w: Webhook,
  subject: HeartbeatSubject,
  ctx: { setup: Setup; silences: readonly ActiveSilence[]; now: number },
): IngestRecord {
  const s = ctx.setup;
  const router = subject.receiver
    ? new Router({ route: { receiver: subject.receiver }, receivers: s.cfg.receivers })
    : s.router;
  const rec = planWebhook(w, {
    router,
    book: s.book,
    redactor: s.redactor,
    now: ctx.now,
    mailDomain: s.mailDomain,
    silences: ctx.silences,
  });
  for (const j of rec.jobs) j.lane = s.lanes.laneOf(j.content);
  return rec;
}
