import { LEGACY_POLICY } from '../../config/oncall.js';
import { onDutyContact, type ContactBook, type ResponsibleContact } from '../ingest/contacts.js';
import { escalationJobs } from '../ingest/plan.js';
import type { ReceiverTarget } from '../ingest/routing.js';
import { timeMs } from '../ingest/payload.js';
import type { ActiveSilence } from '../maintenance/windows.js';
import type { EscalationEpisode } from '../outbox/contract.js';
import type { Roster } from '../oncall/roster.js';
import type { EscalationStepRef, JobSpec } from '../model/notification.js';
import type { DueStep, Policy } from './policy.js';

// What a policy's step sends: its targets resolved to people at the instant it is sent (who
// is on duty then, overrides included), and the jobs that page them.

export interface TargetContext {
  book: ContactBook;
  roster: Roster;
  at: number;
}

const REASON = 'escalation';

/** A step's targets as contacts, each person once, in the order the step names them. */
export function resolveTargets(notify: readonly string[], ctx: TargetContext): ResponsibleContact[] {
  const out: ResponsibleContact[] = [];
  const seen = new Set<string>();
  const add = (c: Omit<ResponsibleContact, 'reason'>) => {
    const key = c.person ? `person:${c.person}` : `role:${c.role}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ ...c, reason: REASON });
  };
  for (const t of notify) {
    if (t.startsWith('schedule:')) {
      const schedule = t.slice(9);
      // As the contact whose role the schedule staffs, when there is one (`On-Call`).
      const base = ctx.book.contacts.find((c) => c.schedule === schedule) ?? {
        role: t,
        title: 'On call',
        name: schedule,
        phone: '',
        email: '',
        responsibility: `on duty in ${schedule}`,
      };
      for (const p of ctx.roster.onDuty(schedule, ctx.at)) add({ ...onDutyContact(base, p), schedule });
    } else if (t.startsWith('role:')) for (const c of ctx.book.roleAt(t.slice(5), ctx.at)) add(c);
    else {
      const p = ctx.roster.person(t);
      if (p)
        add(
          onDutyContact(
            { role: `person:${p.id}`, title: '', name: p.name, phone: '', email: '', responsibility: '' },
            p,
          ),
        );
    }
  }
  return out;
}

/** Since when the episode's alerts fire: the oldest firing alert's start, else the episode's. */
function firingSince(ep: EscalationEpisode): number {
  const starts = ep.content.alerts
    .filter((a) => a.status === 'firing')
    .map((a) => timeMs(a.startsAt))
    .filter((t): t is number => t !== undefined);
  return starts.length ? Math.min(...starts) : ep.startedAt;
}

/** The jobs of one step of a policy for one episode, muted when the group's alerts all are. */
export function stepJobs(
  ep: EscalationEpisode,
  policy: Policy,
  due: DueStep,
  ctx: TargetContext & {
    silences: readonly ActiveSilence[];
    mailDomain: string;
    /** The receiver that names the policy (its Slack webhook and robots). */
    receiver?: ReceiverTarget;
  },
): { jobs: JobSpec[]; targets: ResponsibleContact[] } {
  const step = policy.steps[due.step];
  if (!step) return { jobs: [], targets: [] };
  const targets = resolveTargets(step.notify, ctx);
  const jobs = escalationJobs(
    { groupKey: ep.groupKey, criticalSinceMs: firingSince(ep), content: ep.content },
    {
      targets,
      silences: ctx.silences,
      now: ctx.at,
      channels: step.channels,
      afterMs: due.round * policy.repeatInterval + step.after,
      mailDomain: ctx.mailDomain,
      receiver: ctx.receiver,
      // Sent once per policy, step, round and episode (the episode is its first notification).
      episode: [policy.name, due.step, due.round, ep.startedAt].join('\0'),
      step: {
        policy: policy.name,
        step: due.step + 1,
        steps: policy.steps.length,
        repeat: due.round,
        repeats: policy.repeat,
        notify: step.notify,
      },
    },
  );
  return { jobs, targets };
}

/** The escalation section's one step, as the API and the metrics name it. */
export function legacyStep(role: string): EscalationStepRef {
  return { policy: LEGACY_POLICY, step: 1, steps: 1, repeat: 0, repeats: 0, notify: [`role:${role}`] };
}
