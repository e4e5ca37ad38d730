import { compilePolicies } from '../../src/alerting/escalation/policy.js';
import { Incidents, type IncidentsDeps } from '../../src/alerting/incidents/incidents.js';
import { Roster } from '../../src/alerting/oncall/roster.js';
import type { AlertStore } from '../../src/alerting/outbox/contract.js';
import type { ReceiverConfig } from '../../src/config/receiver.js';

/**
 * The incidents reader over an outbox as the receiver wires it: people, schedules and policies
 * from `cfg`, the contact table from `book`, no maintenance window unless given, its own clock.
 */
export function incidentsOver(opts: {
  store: AlertStore;
  cfg: ReceiverConfig;
  book: ReturnType<IncidentsDeps['book']>;
  windows?: IncidentsDeps['windows'];
  now: () => number;
}): Incidents {
  return new Incidents({
    requireStore: () => opts.store,
    config: () => opts.cfg,
    book: () => opts.book,
    roster: () => new Roster(opts.cfg),
    policies: () => compilePolicies(opts.cfg),
    windows: opts.windows ?? (() => []),
    now: opts.now,
  });
}
