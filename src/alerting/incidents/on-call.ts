import type { ReceiverConfig } from '../../config/receiver.js';
import type { Contact, ContactBook } from '../ingest/contacts.js';
import type { EscalationStatus } from '../outbox/contract.js';

// Who is on duty for a group, and what happens next if nobody acts: the two questions the Now
// page and the timelines ask. They are answered through one small interface, so that on-call
// schedules and escalation policies with several steps replace the answer without touching
// the pages. Today's answer is the configuration's: the contact table's critical role is on
// duty, and a group's critical alerts escalate once, `escalation.after` after they started,
// to `escalation.role`, unless the group is acknowledged.

/** Someone to call: a contact of the contact table, or a person of an on-call schedule. */
export interface DutyPerson {
  name: string;
  /** What they are: `On-Call`, `Tech Lead`, a schedule's name. */
  title: string;
  phone: string;
  email: string;
}

/** The people on duty for a group (usually one), and where that answer comes from. */
export interface OnDuty {
  people: DutyPerson[];
  /** How they were found, for the page: `contact table (role oncall)`. */
  source: string;
}

/** The next escalation step of a group. */
export type NextEscalation =
  /** The step is due at `at` unless someone acknowledges the group first. */
  | { state: 'due'; at: number; to: DutyPerson[]; step: string }
  /** The last step was taken at `at`; no further step follows. */
  | { state: 'escalated'; at: number; to: DutyPerson[]; step: string }
  /** Someone acknowledged the group: no step is taken. */
  | { state: 'acknowledged'; step: string };

const person = (c: Contact): DutyPerson => ({ name: c.name, title: c.title, phone: c.phone, email: c.email });

/** Who is on duty and what comes next, for any group; evaluated against one moment's state. */
export interface OnCall {
  onDutyFor(groupKey: string): OnDuty | undefined;
  /** Undefined when the group escalates no further (nothing critical fires, or escalation is off). */
  nextEscalation(groupKey: string): NextEscalation | undefined;
}

/** What the answer is read from: the outbox's escalation bookkeeping and acknowledgements, at `now`. */
export interface OnCallState {
  escalations: readonly EscalationStatus[];
  acknowledged: ReadonlySet<string>;
  now: number;
}

/** The configuration's answer: the contact table's critical role, one escalation step. */
export function contactTableOnCall(
  cfg: Pick<ReceiverConfig, 'critical_roles' | 'escalation'>,
  book: Pick<ContactBook, 'role'>,
  state: OnCallState,
): OnCall {
  const role = cfg.critical_roles.find((r) => book.role(r));
  const onDuty = role ? book.role(role) : undefined;
  const contact = book.role(cfg.escalation.role);
  const lead = contact ? [person(contact)] : [];
  const byGroup = new Map(state.escalations.map((e) => [e.groupKey, e]));
  const step = `escalate to ${contact ? `${contact.title} ${contact.name}` : cfg.escalation.role}`;
  return {
    onDutyFor: () => onDuty && { people: [person(onDuty)], source: `contact table (role ${role})` },
    nextEscalation: (groupKey) => {
      const e = byGroup.get(groupKey);
      if (!cfg.escalation.enabled || !e) return undefined;
      if (e.escalatedAt !== null) return { state: 'escalated', at: e.escalatedAt, to: lead, step };
      if (state.acknowledged.has(groupKey)) return { state: 'acknowledged', step };
      return { state: 'due', at: e.criticalSinceMs + cfg.escalation.after, to: lead, step };
    },
  };
}
