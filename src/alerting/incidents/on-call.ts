import { legacyEscalationOn, type ReceiverConfig } from '../../config/receiver.js';
import type { Contact, ContactBook } from '../ingest/contacts.js';
import type { EscalationEpisode, EscalationStatus } from '../outbox/contract.js';
import type { Roster } from '../oncall/roster.js';
import { stepAt, stepCount, type DueStep, type Policy } from '../escalation/policy.js';
import { resolveTargets } from '../escalation/steps.js';

// Who is on duty for a group, and what happens next if nobody acts: the two questions the Now
// page and the timelines ask. A group whose receiver names an escalation policy is answered by
// its episode: on duty is whom the policy's first step pages now (the person on duty in its
// schedule, overrides included), and next is the episode's next step, its targets as they will
// be when it is due. Other groups are answered by the escalation section: the contact table's
// critical role is on duty (whoever its schedule has on duty, when it names one), and critical
// alerts escalate once, `escalation.after` after they started, to `escalation.role`. An
// acknowledged group takes no step.

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
  /** How they were found, for the page: `contact table (role oncall)`, `policy critical, step 1: schedule:primary`. */
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
  /** The escalation section's groups: critical since when, escalated when. */
  escalations: readonly EscalationStatus[];
  /** The escalation policies' episodes in progress. */
  episodes: readonly EscalationEpisode[];
  acknowledged: ReadonlySet<string>;
  now: number;
}

/** What the answer is computed with: the configuration, the contact book, the roster and the policies. */
export interface OnCallConfig {
  cfg: Pick<ReceiverConfig, 'critical_roles' | 'escalation' | 'receivers'>;
  book: Pick<ContactBook, 'contacts' | 'roleAt'>;
  roster: Roster;
  policies: ReadonlyMap<string, Policy>;
}

/** A policy's step as the page names it: `policy critical, step 2 of 3: role:techlead`. */
function stepName(p: Policy, d: DueStep): string {
  const repeat = p.repeat ? `, repeat ${d.round} of ${p.repeat}` : '';
  const notify = p.steps[d.step]?.notify.join(', ') ?? '';
  return `policy ${p.name}, step ${d.step + 1} of ${p.steps.length}${repeat}: ${notify}`;
}

/** What a step does, as the page says it: `page Tech Lead Li Lei (policy critical, step 2 of 3: role:techlead)`. */
function paging(to: readonly DutyPerson[], p: Policy, d: DueStep): string {
  const names = to.map((x) => `${x.title} ${x.name}`.trim()).join(', ');
  return `page ${names || 'nobody'} (${stepName(p, d)})`;
}

/** The configuration's answer, for the groups of `state`. */
export function onCallOf(c: OnCallConfig, state: OnCallState): OnCall {
  const { cfg, book, roster, policies } = c;
  const { now } = state;
  const targets = (notify: readonly string[], at: number) =>
    resolveTargets(notify, { book: book as ContactBook, roster, at }).map(person);

  // Each group's episodes whose policy is still configured (a reload may have removed one).
  const episodes = new Map<string, { ep: EscalationEpisode; policy: Policy }[]>();
  for (const ep of state.episodes) {
    const policy = policies.get(ep.policy);
    if (!policy || !policy.steps.length) continue;
    const list = episodes.get(ep.groupKey) ?? [];
    list.push({ ep, policy });
    episodes.set(ep.groupKey, list);
  }

  // The escalation section: the contact table's critical role, one step to escalation.role.
  const role = cfg.critical_roles.find((r) => book.roleAt(r, now).length > 0);
  const schedule = role && book.contacts.find((x) => x.role.toLowerCase() === role.toLowerCase())?.schedule;
  const tableOnDuty: OnDuty | undefined = role
    ? {
        people: book.roleAt(role, now).map(person),
        source: `contact table (role ${role}${schedule ? `, schedule ${schedule}` : ''})`,
      }
    : undefined;
  const legacy = legacyEscalationOn(cfg);
  const byGroup = new Map(state.escalations.map((e) => [e.groupKey, e]));
  const leadContact = book.contacts.find((x) => x.role.toLowerCase() === cfg.escalation.role.toLowerCase());
  const legacyStep = `escalate to ${leadContact ? `${leadContact.title} ${leadContact.name}` : cfg.escalation.role}`;

  const legacyNext = (groupKey: string): NextEscalation | undefined => {
    const e = byGroup.get(groupKey);
    if (!legacy || !e) return undefined;
    if (e.escalatedAt !== null)
      return {
        state: 'escalated',
        at: e.escalatedAt,
        to: book.roleAt(cfg.escalation.role, e.escalatedAt).map(person),
        step: legacyStep,
      };
    if (state.acknowledged.has(groupKey)) return { state: 'acknowledged', step: legacyStep };
    const at = e.criticalSinceMs + cfg.escalation.after;
    return {
      state: 'due',
      at,
      to: book.roleAt(cfg.escalation.role, Math.max(at, now)).map(person),
      step: legacyStep,
    };
  };

  const policyNext = (list: readonly { ep: EscalationEpisode; policy: Policy }[]): NextEscalation => {
    const pending = list
      .filter(({ ep, policy }) => ep.nextIndex < stepCount(policy))
      .map(({ ep, policy }) => ({ policy, d: stepAt(policy, ep.startedAt, ep.nextIndex) }))
      .sort((a, b) => a.d.dueAt - b.d.dueAt);
    const first = pending[0];
    if (first) {
      const notify = first.policy.steps[first.d.step]?.notify ?? [];
      const to = targets(notify, Math.max(first.d.dueAt, now));
      const step = paging(to, first.policy, first.d);
      if (state.acknowledged.has(list[0]?.ep.groupKey ?? '')) return { state: 'acknowledged', step };
      return { state: 'due', at: first.d.dueAt, to, step };
    }
    // Every step of every round was sent: the latest one is the last step.
    const done = list
      .map(({ ep, policy }) => ({ policy, d: stepAt(policy, ep.startedAt, stepCount(policy) - 1) }))
      .sort((a, b) => b.d.dueAt - a.d.dueAt)[0] as { policy: Policy; d: DueStep };
    const to = targets(done.policy.steps[done.d.step]?.notify ?? [], done.d.dueAt);
    return { state: 'escalated', at: done.d.dueAt, to, step: paging(to, done.policy, done.d) };
  };

  return {
    onDutyFor: (groupKey) => {
      const first = episodes.get(groupKey)?.[0];
      if (!first) return tableOnDuty;
      const step = first.policy.steps[0];
      const notify = step?.notify ?? [];
      return {
        people: targets(notify, now),
        source: `policy ${first.policy.name}, step 1: ${notify.join(', ')}`,
      };
    },
    nextEscalation: (groupKey) => {
      const list = episodes.get(groupKey);
      return list ? policyNext(list) : legacyNext(groupKey);
    },
  };
}
