import { legacyEscalationOn } from '../config/receiver.js';
import type { Logger } from '../logger.js';
import type { Acknowledgements } from './acknowledgement/acknowledgements.js';
import { planEscalation } from './ingest/plan.js';
import type { ActiveSilence } from './maintenance/windows.js';
import type { AlertStore } from './outbox/contract.js';
import type { ReceiverMetrics } from './receiver-metrics.js';
import type { Setup } from './setup.js';

export interface EscalationCheckDeps {
  setup: () => Setup;
  store: () => AlertStore | undefined;
  acknowledgements: Acknowledgements;
  windows: () => readonly ActiveSilence[];
  /** Wakes the delivery worker when something was recorded. */
  wake: () => void;
  metrics: ReceiverMetrics;
  logger: Logger;
  now: () => number;
}

/**
 * The escalation check, run every `escalation.check_interval`: one escalation per critical group
 * firing longer than `escalation.after` and not acknowledged, recorded once per group.
 */
export class EscalationCheck {
  constructor(private readonly deps: EscalationCheckDeps) {}

  /** Enqueues the escalations due now; how many notifications were recorded. */
  async run(): Promise<number> {
    const { deps } = this;
    const s = deps.setup();
    const store = deps.store();
    if (!legacyEscalationOn(s.cfg) || !store) return 0;
    const now = deps.now();
    let n = 0;
    const acked = await deps.acknowledgements.activeGroups(store);
    for (const g of await store.escalationCandidates(now, s.cfg.escalation.after)) {
      if (acked.has(g.groupKey)) continue;
      const jobs = planEscalation(g, {
        book: s.book,
        silences: deps.windows(),
        now,
        role: s.cfg.escalation.role,
        channels: s.cfg.escalation.channels,
        afterMs: s.cfg.escalation.after,
        mailDomain: s.mailDomain,
      });
      for (const j of jobs) j.lane = s.lanes.laneOf(j.content);
      const out = await store.recordEscalation(g.groupKey, jobs, now, s.cfg.dedup_window);
      n += out.recorded;
      if (out.recorded)
        deps.logger.info(
          { group: g.groupKey, jobs: out.recorded },
          'critical alert escalated to the Tech Lead',
        );
    }
    deps.metrics.escalationChecks.inc();
    if (n) deps.wake();
    return n;
  }
}
