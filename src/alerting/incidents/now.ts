import type { Labels } from '../../matchers.js';
import type { ActiveAmSilence } from '../acknowledgement/alertmanager-silence.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import { mutedBy, type ActiveSilence, type Silence } from '../maintenance/windows.js';
import { fullLabels, type GroupEventDetail } from '../model/group-event.js';
import type { AlertStatus } from '../model/notification.js';
import type { GroupState } from '../outbox/contract.js';
import type { NextEscalation, OnCall, OnDuty } from './on-call.js';
import { severityOfDetail } from './timeline.js';

// "What is on fire and who has it": the groups firing now, most severe first, each with since
// when, its alerts, who acknowledged it, the next escalation step, the person on duty, and the
// maintenance windows and Alertmanager silences over it; and the groups resolved lately. A pure
// function of what the outbox, the window list and Alertmanager said at one moment.

export interface NowGroup {
  /** The incident it is in (its timeline's id). */
  incident: number;
  groupKey: string;
  alertname: string;
  severity: string;
  /** Its severity lane (`self` for stackwatch's own alerts, `critical`, `warning`, `other`)… */
  lane: string;
  /** …and the lane's rank: most severe first. */
  rank: number;
  /** Whether its lane is urgent (stackwatch's own, and the first severity: critical). */
  urgent: boolean;
  status: AlertStatus;
  sinceMs: number;
  lastAt: number;
  resolvedAt: number | null;
  firing: number;
  summary: string;
  groupLabels: Labels;
  /** The last webhook's alerts (as many as it kept), with their own labels. */
  alerts: { status: AlertStatus; summary: string; labels: Labels }[];
  more: number;
  ack?: Acknowledgement;
  next?: NextEscalation;
  onDuty?: OnDuty;
  /** Maintenance windows active now over any of its alerts. */
  windows: Silence[];
  /** Alertmanager silences active now over any of its alerts. */
  silences: Omit<ActiveAmSilence, 'covers'>[];
}

export interface NowView {
  now: number;
  firing: NowGroup[];
  resolved: NowGroup[];
  /** Whether Alertmanager's silences are shown: `off` (no alertmanager_url), `ok`, or why not. */
  silences: string;
}

export interface NowInput {
  states: readonly GroupState[];
  /** Active acknowledgements. */
  acks: readonly Acknowledgement[];
  onCall: OnCall;
  windows: readonly ActiveSilence[];
  amSilences: readonly ActiveAmSilence[];
  silencesNote: string;
  /** The severity lane of a group from its alerts, its rank (lower first) and whether it is urgent. */
  lane: (
    alerts: readonly { status: AlertStatus; labels: Labels }[],
    commonLabels: Labels,
  ) => { lane: string; rank: number; urgent: boolean };
  now: number;
}

function labelSets(d: GroupEventDetail): Labels[] {
  return d.alerts.length ? d.alerts.map((a) => fullLabels(d, a)) : [d.commonLabels];
}

/** The Now page's groups: firing (most severe, then unacknowledged, then longest firing first) and resolved. */
export function nowView(input: NowInput): NowView {
  const acks = new Map(input.acks.map((a) => [a.groupKey, a]));
  const groups = input.states.map((s): NowGroup => {
    const d = s.detail;
    const sets = labelSets(d);
    const windows = input.windows.filter((w) => sets.some((l) => mutedBy([w], l, input.now).length > 0));
    const silences = input.amSilences
      .filter((x) => sets.some((l) => x.covers(l)))
      .map(({ covers: _c, ...x }) => x);
    return {
      incident: s.incident,
      groupKey: s.groupKey,
      alertname: d.alertname,
      severity: severityOfDetail(d),
      ...input.lane(
        d.alerts.map((a) => ({ status: a.status, labels: fullLabels(d, a) })),
        d.commonLabels,
      ),
      status: s.status,
      sinceMs: s.sinceMs,
      lastAt: s.lastAt,
      resolvedAt: s.resolvedAt,
      firing: s.firing,
      summary: d.summary,
      groupLabels: d.groupLabels,
      alerts: d.alerts.map((a) => ({ status: a.status, summary: a.summary, labels: a.labels })),
      more: d.more,
      ack: acks.get(s.groupKey),
      next: s.status === 'firing' ? input.onCall.nextEscalation(s.groupKey) : undefined,
      onDuty: s.status === 'firing' ? input.onCall.onDutyFor(s.groupKey) : undefined,
      windows: windows.map(({ compiled: _c, ...w }) => w),
      silences,
    };
  });
  const firing = groups
    .filter((g) => g.status === 'firing')
    .sort((a, b) => a.rank - b.rank || Number(!!a.ack) - Number(!!b.ack) || a.sinceMs - b.sinceMs);
  const resolved = groups
    .filter((g) => g.status === 'resolved')
    .sort((a, b) => (b.resolvedAt ?? 0) - (a.resolvedAt ?? 0));
  return { now: input.now, firing, resolved, silences: input.silencesNote };
}
