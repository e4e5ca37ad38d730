import type { Labels } from '../../matchers.js';
import { timeMs, type Alert } from '../ingest/payload.js';

/** An alert's (and a group's) status: model/notification.ts's AlertStatus, named apart from it. */
type AlertStatus = Alert['status'];

// What the outbox keeps of each webhook (and each escalation) of an Alertmanager group, for
// the console's Now page and the incident timelines: a small, bounded record written in the
// same transaction as the webhook's notifications. Its alerts are capped, so one webhook of
// 5,000 alerts keeps no more than one of 20.

/** Alerts a group event keeps in full; the others are counted in `more`. */
export const EVENT_ALERTS = 20;
/** Longest summary an event keeps of an alert. */
const SUMMARY_CHARS = 300;

/** One alert of a group event: the labels that are not the group's common labels, and its summary. */
export interface EventAlert {
  /** Alertmanager's fingerprint, else a digest of the labels. */
  fp: string;
  status: AlertStatus;
  startsAt: string;
  endsAt: string;
  /** Its labels apart from `commonLabels` (all its labels are both together). */
  labels: Labels;
  summary: string;
}

/** What an event shows of the group: its names, and (some of) its alerts. */
export interface GroupEventDetail {
  alertname: string;
  groupLabels: Labels;
  commonLabels: Labels;
  /** The common summary annotation, if any. */
  summary: string;
  alerts: EventAlert[];
  /** Alerts left out of `alerts`, Alertmanager's truncated alerts included. */
  more: number;
}

export type GroupEventKind = 'webhook' | 'escalation';

/** A group event before it is recorded. */
export interface GroupEventSpec {
  /** Redacted Alertmanager group key, as the group's notifications store it. */
  groupKey: string;
  kind: GroupEventKind;
  status: AlertStatus;
  firing: number;
  resolved: number;
  /** Digest of the set of firing alerts: two webhooks with the same firing alerts have the same one. */
  firingSet: string;
  /** Start of the oldest firing alert (of the oldest alert, when none fires). */
  sinceMs: number;
  detail: GroupEventDetail;
}

/** A recorded group event. */
export interface GroupEvent extends GroupEventSpec {
  id: number;
  at: number;
  /** The notifications recorded with it (in the same transaction). */
  jobIds: number[];
}

/** The webhook-shaped source of an event: a (redacted) webhook, or a notification's content. */
export interface EventSource {
  groupKey: string;
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Labels;
  truncatedAlerts: number;
  alerts: readonly Alert[];
}

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Alertmanager's fingerprint, or one made from the labels when the payload has none. */
export function alertKey(a: Pick<Alert, 'fingerprint' | 'labels'>): string {
  if (a.fingerprint) return a.fingerprint;
  const text = JSON.stringify(a.labels);
  return `l${fnv1a(text).toString(16).padStart(8, '0')}${fnv1a(text, 0x1b873593).toString(16).padStart(8, '0')}`;
}

/**
 * An order-independent digest of a set of alert keys (two sums of per-key hashes), in one
 * pass: the alerts of a webhook are never sorted for it.
 */
export function setDigest(keys: Iterable<string>): string {
  let a = 0;
  let b = 0;
  let n = 0;
  for (const k of keys) {
    a = (a + fnv1a(k)) >>> 0;
    b = (b ^ Math.imul(fnv1a(k, 0x9747b28c), 0x5bd1e995)) >>> 0;
    n++;
  }
  return `${n.toString(16)}-${a.toString(16).padStart(8, '0')}${b.toString(16).padStart(8, '0')}`;
}

function ownLabels(labels: Labels, common: Labels): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) if (common[k] !== v) out[k] = v;
  return out;
}

const clip = (s: string) => (s.length > SUMMARY_CHARS ? `${s.slice(0, SUMMARY_CHARS - 1)}…` : s);

/** The event a webhook (or an escalation's content) makes; linear in its alerts, pure. */
export function groupEventOf(src: EventSource, kind: GroupEventKind, now: number): GroupEventSpec {
  let firing = 0;
  let since = Infinity;
  let oldest = Infinity;
  const firingKeys: string[] = [];
  const alerts: EventAlert[] = [];
  for (const a of src.alerts) {
    const start = timeMs(a.startsAt) ?? now;
    oldest = Math.min(oldest, start);
    if (a.status === 'firing') {
      firing++;
      since = Math.min(since, start);
      firingKeys.push(alertKey(a));
    }
    if (alerts.length < EVENT_ALERTS)
      alerts.push({
        fp: alertKey(a),
        status: a.status,
        startsAt: a.startsAt,
        endsAt: a.endsAt,
        labels: ownLabels(a.labels, src.commonLabels),
        summary: clip(a.annotations.summary ?? a.annotations.description ?? ''),
      });
  }
  const status: AlertStatus = firing > 0 ? 'firing' : 'resolved';
  const pick = Number.isFinite(since) ? since : Number.isFinite(oldest) ? oldest : now;
  return {
    groupKey: src.groupKey,
    kind,
    status,
    firing,
    resolved: src.alerts.length - firing,
    firingSet: setDigest(firingKeys),
    sinceMs: pick,
    detail: {
      alertname:
        src.commonLabels.alertname ?? src.groupLabels.alertname ?? src.alerts[0]?.labels.alertname ?? 'alert',
      groupLabels: src.groupLabels,
      commonLabels: src.commonLabels,
      summary: clip(src.commonAnnotations.summary ?? ''),
      alerts,
      more: src.alerts.length - alerts.length + src.truncatedAlerts,
    },
  };
}

/** An event's alert with all its labels. */
export function fullLabels(detail: GroupEventDetail, a: EventAlert): Labels {
  return { ...detail.commonLabels, ...a.labels };
}
