import type { ReceiverConfig } from '../../config/receiver.js';
import { errorText } from '../../logger.js';
import {
  activeSilences,
  createSilence,
  type ActiveAmSilence,
} from '../acknowledgement/alertmanager-silence.js';
import type { ContactBook } from '../ingest/contacts.js';
import { Lanes, laneOrderFromRoutes } from '../delivery/lanes.js';
import type { ActiveSilence } from '../maintenance/windows.js';
import type { AlertStore, EscalationEpisode, EscalationStatus } from '../outbox/contract.js';
import type { Roster } from '../oncall/roster.js';
import type { Policy } from '../escalation/policy.js';
import type { Acknowledgement } from '../acknowledgement/tokens.js';
import { postmortemMarkdown } from './markdown.js';
import { nowView, type NowView } from './now.js';
import { onCallOf, type NextEscalation, type OnCall, type OnDuty } from './on-call.js';
import { incidentTimeline, type Incident } from './timeline.js';

/** Resolved groups the Now page lists: those resolved within this long. */
export const RESOLVED_WITHIN_MS = 24 * 3_600_000;
/** Groups the Now page reads at most. */
const STATES_LIMIT = 5000;
/** Escalation policies' episodes the Now page reads at most. */
const EPISODES_LIMIT = 10_000;
/** Events one timeline reads at most. */
const EVENTS_LIMIT = 1000;
/** How long the Now page waits for Alertmanager's silences. */
const SILENCES_TIMEOUT_MS = 3000;

export interface IncidentsDeps {
  /** The open outbox; throws StoreUnavailableError when there is none (answered 503). */
  requireStore: () => AlertStore;
  config: () => ReceiverConfig;
  book: () => ContactBook;
  /** The people and schedules, with the overrides in force. */
  roster: () => Roster;
  policies: () => ReadonlyMap<string, Policy>;
  /** Every maintenance window kept (ended ones too), compiled. */
  windows: () => readonly ActiveSilence[];
  now: () => number;
}

/**
 * Incidents: the groups firing now with who has them (the Now page), one incident's timeline and
 * its postmortem draft, and the on-call answer the pages show (on-call.ts).
 */
export class Incidents {
  private ranking?: { cfg: ReceiverConfig; lanes: Lanes };

  constructor(private readonly deps: IncidentsDeps) {}

  /**
   * Who is on duty and what escalates next, as of now: from the escalation policies' episodes
   * and schedules, or the escalation section and the contact table (on-call.ts).
   */
  async onCall(): Promise<OnCall> {
    const store = this.deps.requireStore();
    const [escalations, episodes, acks] = await Promise.all([
      store.escalationStatuses(),
      store.episodes(EPISODES_LIMIT),
      store.listAcks({ active: true, limit: 10_000 }),
    ]);
    return this.onCallFrom(escalations, episodes, acks);
  }

  private onCallFrom(
    escalations: readonly EscalationStatus[],
    episodes: readonly EscalationEpisode[],
    acks: readonly Acknowledgement[],
  ): OnCall {
    const { deps } = this;
    return onCallOf(
      { cfg: deps.config(), book: deps.book(), roster: deps.roster(), policies: deps.policies() },
      { escalations, episodes, acknowledged: new Set(acks.map((a) => a.groupKey)), now: deps.now() },
    );
  }

  async onDutyFor(groupKey: string): Promise<OnDuty | undefined> {
    return (await this.onCall()).onDutyFor(groupKey);
  }

  async nextEscalation(groupKey: string): Promise<NextEscalation | undefined> {
    return (await this.onCall()).nextEscalation(groupKey);
  }

  /** The groups firing now and those resolved within a day, with everything the Now page shows. */
  async now(): Promise<NowView> {
    const store = this.deps.requireStore();
    const now = this.deps.now();
    const cfg = this.deps.config();
    const [states, acks, escalations, episodes, silences] = await Promise.all([
      store.groupStates({ resolvedSince: now - RESOLVED_WITHIN_MS, limit: STATES_LIMIT }),
      store.listAcks({ active: true, limit: 10_000 }),
      store.escalationStatuses(),
      store.episodes(EPISODES_LIMIT),
      this.amSilences(cfg),
    ]);
    const onCall = this.onCallFrom(escalations, episodes, acks);
    const lanes = this.lanes(cfg);
    return nowView({
      states,
      acks,
      onCall,
      windows: this.deps.windows(),
      amSilences: silences.list,
      silencesNote: silences.note,
      lane: (alerts, commonLabels) => {
        const lane = lanes.laneOf({ alerts, commonLabels });
        return { lane, rank: lanes.rank(lane), urgent: lanes.urgent(lane) };
      },
      now,
    });
  }

  /** The incident opened by group event `id`, with its timeline; undefined when none is kept. */
  async timeline(id: number): Promise<Incident | undefined> {
    const store = this.deps.requireStore();
    const opener = await store.groupEvent(id);
    if (!opener) return undefined;
    const events = await store.groupEvents(opener.groupKey, id, EVENTS_LIMIT + 1);
    const kept = events.slice(0, EVENTS_LIMIT);
    const [jobs, acks] = await Promise.all([
      store.jobsByIds(kept.flatMap((e) => e.jobIds)),
      store.groupAcks(opener.groupKey, 1000),
    ]);
    return incidentTimeline({
      events: kept,
      jobs,
      acks,
      windows: this.deps.windows(),
      now: this.deps.now(),
      truncated: events.length > EVENTS_LIMIT,
    });
  }

  /** The postmortem draft of an incident (Markdown). */
  async postmortem(id: number): Promise<string | undefined> {
    const incident = await this.timeline(id);
    const base = this.deps.config().external_url;
    return (
      incident &&
      postmortemMarkdown(incident, { now: this.deps.now(), link: base && `${base}/incidents/${id}` })
    );
  }

  /** The group key of an incident. */
  async groupOf(id: number): Promise<string | undefined> {
    return (await this.deps.requireStore().groupEvent(id))?.groupKey;
  }

  /**
   * Silences an incident's group in Alertmanager for `ms` (one equality matcher per group
   * label), without acknowledging it; the silence's id.
   */
  async silence(id: number, ms: number, by: string): Promise<string> {
    const cfg = this.deps.config();
    const store = this.deps.requireStore();
    const event = await store.groupEvent(id);
    if (!event) throw new Error('no such incident');
    if (!cfg.alertmanager_url) throw new Error('receiver.alertmanager_url is not set');
    const now = this.deps.now();
    return createSilence(cfg.alertmanager_url, {
      groupLabels: event.detail.groupLabels,
      startsAt: now,
      endsAt: now + ms,
      createdBy: by,
      comment: 'Silenced from the stackwatch console',
    });
  }

  private async amSilences(cfg: ReceiverConfig): Promise<{ list: ActiveAmSilence[]; note: string }> {
    if (!cfg.alertmanager_url) return { list: [], note: 'off' };
    try {
      return { list: await activeSilences(cfg.alertmanager_url, SILENCES_TIMEOUT_MS), note: 'ok' };
    } catch (err) {
      return { list: [], note: errorText(err) };
    }
  }

  /** Severity order for the Now page: the lanes' order, even when lanes are off for delivery. */
  private lanes(cfg: ReceiverConfig): Lanes {
    if (this.ranking?.cfg !== cfg)
      this.ranking = {
        cfg,
        lanes: new Lanes({
          enabled: true,
          label: cfg.lanes.label,
          order: cfg.lanes.order ?? laneOrderFromRoutes(cfg.route, cfg.lanes.label),
          selfMatchers: cfg.lanes.self_matchers,
        }),
      };
    return this.ranking.lanes;
  }
}
