import { legacyEscalationOn } from '../config/receiver.js';
import type { Logger } from '../logger.js';
import type { Acknowledgements } from './acknowledgement/acknowledgements.js';
import { planEscalation } from './ingest/plan.js';
import type { ActiveSilence } from './maintenance/windows.js';
import type { AlertStore } from './outbox/contract.js';
import type { ReceiverMetrics } from './receiver-metrics.js';
import type { Setup } from './setup.js';
import { dueSteps } from './escalation/policy.js';
import { legacyStep, stepJobs } from './escalation/steps.js';

/** Episodes read per check at most (oldest first). */
const EPISODES_PER_CHECK = 1000;

export interface EscalationCheckDeps {
  setup: () => Setup;
  store: () => AlertStore | undefined;
  acknowledgements: Acknowledgements;
  windows: () => readonly ActiveSilence[];
  /** Reads the run-time schedule overrides again: another replica may have made one. */
  loadOverrides: (store: AlertStore) => Promise<void>;
  /** Wakes the delivery worker when something was recorded. */
  wake: () => void;
  metrics: ReceiverMetrics;
  logger: Logger;
}

/** What one check works with: the setup, the outbox, the acknowledged groups, the outbox's time. */
interface CheckRound {
  s: Setup;
  store: AlertStore;
  acked: ReadonlySet<string>;
  now: number;
}

/**
 * The escalation check, run every `escalation.check_interval` on the outbox's clock (the same
 * for every replica): the escalation section's one escalation per critical group firing longer
 * than `escalation.after`, and each escalation policy's steps as they come due. Groups someone
 * acknowledged are skipped; resolved groups have no episode any more. Each step is recorded
 * once, with the episode moved past it in the same transaction, so a step due while
 * stackwatch was down is sent once when it is back.
 */
export class EscalationCheck {
  private counted?: Setup;

  constructor(private readonly deps: EscalationCheckDeps) {}

  /** Enqueues the escalations due now; how many notifications were recorded. */
  async run(): Promise<number> {
    const { deps } = this;
    const s = deps.setup();
    const store = deps.store();
    const legacy = legacyEscalationOn(s.cfg);
    if (!store || (!legacy && !s.policies.size)) return 0;
    if (this.counted !== s) {
      deps.metrics.initEscalationSteps([...s.policies.values()]);
      this.counted = s;
    }
    const now = await store.clock();
    const acked = await deps.acknowledgements.activeGroups(store);
    const round: CheckRound = { s, store, acked, now };
    let n = 0;
    if (legacy) n += await this.legacy(round);
    if (s.policies.size) n += await this.policies(round);
    deps.metrics.escalationChecks.inc();
    if (n) deps.wake();
    return n;
  }

  /** The escalation section: to its role, once per critical episode of a group. */
  private async legacy({ s, store, acked, now }: CheckRound): Promise<number> {
    const { deps } = this;
    const esc = s.cfg.escalation;
    let n = 0;
    for (const g of await store.escalationCandidates(now, esc.after)) {
      if (acked.has(g.groupKey)) continue;
      const step = legacyStep(esc.role);
      const jobs = planEscalation(g, {
        book: s.book,
        silences: deps.windows(),
        now,
        role: esc.role,
        channels: esc.channels,
        afterMs: esc.after,
        mailDomain: s.mailDomain,
        step,
      });
      for (const j of jobs) j.lane = s.lanes.laneOf(j.content);
      const out = await store.recordEscalation(g.groupKey, jobs, now, s.cfg.dedup_window);
      n += out.recorded;
      if (out.recorded) {
        deps.metrics.escalationSteps.inc({ policy: step.policy, step: '1' }, out.recorded);
        deps.logger.info(
          { group: g.groupKey, jobs: out.recorded, role: esc.role, to: jobs[0]?.content.contacts[0]?.name },
          'critical alert escalated',
        );
      }
    }
    return n;
  }

  /** Escalation policies: each episode's steps that came due since the last check. */
  private async policies({ s, store, acked, now }: CheckRound): Promise<number> {
    const { deps } = this;
    const episodes = await store.episodes(EPISODES_PER_CHECK);
    // Read after the episodes: an override made before a group fired is seen by its first step.
    await deps.loadOverrides(store);
    let n = 0;
    for (const ep of episodes) {
      const policy = s.policies.get(ep.policy);
      // Acknowledged: no step is sent while it lasts. A policy a reload removed pages no more.
      if (!policy || acked.has(ep.groupKey)) continue;
      const due = dueSteps(policy, ep.startedAt, ep.nextIndex, now);
      const last = due.at(-1);
      if (!last) continue;
      const receiver = s.router.receivers.get(ep.receiver);
      const planned = due.map((d) => ({
        due: d,
        ...stepJobs(ep, policy, d, {
          book: s.book,
          roster: s.roster,
          at: now,
          silences: deps.windows(),
          mailDomain: s.mailDomain,
          receiver,
        }),
      }));
      const jobs = planned.flatMap((p) => p.jobs);
      for (const j of jobs) j.lane = s.lanes.laneOf(j.content);
      const out = await store.recordStep(ep, last.index + 1, jobs, now, s.cfg.dedup_window);
      if (!out) continue; // another replica sent it, or the group resolved meanwhile
      n += out.recorded;
      for (const p of planned) {
        deps.metrics.escalationSteps.inc(
          { policy: policy.name, step: String(p.due.step + 1) },
          p.jobs.length,
        );
        deps.logger.info(
          {
            group: ep.groupKey,
            policy: policy.name,
            step: p.due.step + 1,
            repeat: p.due.round,
            to: p.targets.map((t) => t.name),
            jobs: p.jobs.length,
          },
          'escalation policy step sent',
        );
      }
    }
    return n;
  }
}
