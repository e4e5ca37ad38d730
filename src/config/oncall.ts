import { z } from 'zod';
import { isTimeZone, parseZonedTime } from '../zoned-time.js';
import { duration } from './common.js';

// Reaching the person on duty: people, their schedules (rotations and overrides) and the
// escalation policies that page them step by step. The cross-references (a rotation's
// participants, a step's targets, a receiver's policy) are checked by checkOncall once the
// whole receiver section is parsed.

/** Person ids, schedule and policy names: safe in URLs, dedup keys and calendar UIDs. */
const oncallId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');

const emailAddress = z
  .string()
  .regex(/^([^\s@<>,;"]+@[^\s@<>,;"]+)?$/, 'must be an email address')
  .default('');

export const personSchema = z
  .object({
    id: oncallId,
    name: z.string().min(1),
    email: emailAddress,
    phone: z.string().default(''),
    /** The Slack member id (`U012AB3CD`) a Slack page mentions. */
    slack_user_id: z
      .string()
      .regex(/^[UW][A-Z0-9]{2,20}$/, 'must be a Slack member id like U012AB3CD')
      .optional(),
    /** The Feishu user id (`ou_…`) a Feishu page mentions. */
    feishu_user_id: z.string().min(1).max(128).optional(),
  })
  .strict();

/** A shift length: hours are elapsed time; days and weeks are calendar days in the schedule's zone. */
export const SHIFT = /^([1-9][0-9]{0,3})([hdw])$/;

export const rotationSchema = z
  .object({
    name: z.string().default(''),
    /** Person ids, in the order they take the shifts. */
    participants: z.array(oncallId).min(1),
    shift: z.string().regex(SHIFT, 'must be a shift length like 12h, 1d or 1w'),
    /** When a shift begins, from which the shifts repeat: wall-clock time in the schedule's zone. */
    handoff: z.string().min(1),
  })
  .strict();

export const overrideSchema = z
  .object({
    person: oncallId,
    /** Wall-clock time in the schedule's zone (`2026-10-01T09:00`) or RFC 3339 with an offset. */
    start: z.string().min(1),
    end: z.string().min(1),
    comment: z.string().default(''),
  })
  .strict();

export const scheduleSchema = z
  .object({
    name: oncallId,
    time_zone: z.string().refine(isTimeZone, (v) => ({
      message: `unknown time zone ${JSON.stringify(v)} (an IANA name like Asia/Shanghai or Europe/Berlin)`,
    })),
    rotations: z.array(rotationSchema).min(1),
    overrides: z.array(overrideSchema).default([]),
  })
  .strict();

/** A step's target: `schedule:NAME` (who is on duty), `role:NAME` (a contact) or a person id. */
const target = z
  .string()
  .regex(/^((schedule|role):)?[A-Za-z0-9_.-]+$/, 'must be schedule:NAME, role:NAME or a person id');

/** Escalation policies, with the channel names of the receiver section. */
export function escalationPolicySchema<C extends z.ZodTypeAny>(channel: C) {
  return z
    .object({
      name: oncallId,
      steps: z
        .array(
          z
            .object({
              /** Delay from the first notification of the group (of this round, when repeating). */
              after: duration.default(0),
              notify: z.array(target).min(1),
              channels: z.array(channel).min(1).default(['email', 'slack']),
            })
            .strict(),
        )
        .min(1)
        .max(20),
      /** Rounds after the first: the whole policy is run 1 + repeat times. */
      repeat: z.number().int().min(0).max(100).default(0),
      /** From the start of one round to the start of the next (needed with repeat). */
      repeat_interval: duration.optional(),
    })
    .strict();
}

/** The part of the receiver section the on-call checks read. */
export interface OncallSection {
  people: { id: string }[];
  schedules: {
    name: string;
    time_zone: string;
    rotations: { participants: string[]; handoff: string }[];
    overrides: { person: string; start: string; end: string }[];
  }[];
  escalation_policies: {
    name: string;
    steps: { after: number; notify: string[] }[];
    repeat: number;
    repeat_interval?: number;
  }[];
  contacts: { role: string; schedule?: string }[];
  receivers: { escalation_policy?: string }[];
}

type Path = (string | number)[];

/** How the `escalation` section, a one-step policy, is named in metrics and the API. */
export const LEGACY_POLICY = 'escalation';

/** Each name once in a list. */
function unique(names: readonly string[], path: (i: number) => Path, what: string, ctx: z.RefinementCtx) {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: path(i),
        message: `duplicate ${what} ${JSON.stringify(n)}`,
      });
    seen.add(n);
  });
}

/** The cross-references of people, schedules, policies, contacts and receivers. */
export function checkOncall(r: OncallSection, ctx: z.RefinementCtx): void {
  const issue = (path: Path, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  const people = new Set(r.people.map((p) => p.id));
  const schedules = new Set(r.schedules.map((s) => s.name));
  const policies = new Set(r.escalation_policies.map((p) => p.name));
  const roles = new Set(r.contacts.map((c) => c.role));
  const known = (id: string, path: Path) => {
    if (!people.has(id))
      issue(path, `unknown person ${JSON.stringify(id)} (people: ${[...people].join(', ') || 'none'})`);
  };
  unique(
    r.people.map((p) => p.id),
    (i) => ['people', i, 'id'],
    'person id',
    ctx,
  );
  unique(
    r.schedules.map((s) => s.name),
    (i) => ['schedules', i, 'name'],
    'schedule',
    ctx,
  );
  unique(
    r.escalation_policies.map((p) => p.name),
    (i) => ['escalation_policies', i, 'name'],
    'policy',
    ctx,
  );
  r.escalation_policies.forEach((p, i) => {
    if (p.name === LEGACY_POLICY)
      issue(
        ['escalation_policies', i, 'name'],
        `${JSON.stringify(LEGACY_POLICY)} names the escalation section`,
      );
  });

  r.schedules.forEach((s, i) => {
    const zone = isTimeZone(s.time_zone) ? s.time_zone : 'UTC';
    s.rotations.forEach((rot, j) => {
      rot.participants.forEach((p, k) => known(p, ['schedules', i, 'rotations', j, 'participants', k]));
      if (parseZonedTime(rot.handoff, zone) === undefined)
        issue(
          ['schedules', i, 'rotations', j, 'handoff'],
          `invalid time ${JSON.stringify(rot.handoff)} (wall-clock time in ${zone} like 2026-01-05T09:00)`,
        );
    });
    s.overrides.forEach((o, j) => {
      known(o.person, ['schedules', i, 'overrides', j, 'person']);
      const start = parseZonedTime(o.start, zone);
      const end = parseZonedTime(o.end, zone);
      for (const [key, v, t] of [
        ['start', o.start, start],
        ['end', o.end, end],
      ] as const)
        if (t === undefined)
          issue(
            ['schedules', i, 'overrides', j, key],
            `invalid time ${JSON.stringify(v)} (wall-clock time in ${zone} like 2026-10-01T09:00, or RFC 3339)`,
          );
      if (start !== undefined && end !== undefined && end <= start)
        issue(['schedules', i, 'overrides', j, 'end'], 'must be after start');
    });
  });

  r.contacts.forEach((c, i) => {
    if (c.schedule !== undefined && !schedules.has(c.schedule))
      issue(['contacts', i, 'schedule'], `unknown schedule ${JSON.stringify(c.schedule)}`);
  });
  r.receivers.forEach((rc, i) => {
    if (rc.escalation_policy !== undefined && !policies.has(rc.escalation_policy))
      issue(
        ['receivers', i, 'escalation_policy'],
        `unknown escalation policy ${JSON.stringify(rc.escalation_policy)} (policies: ${[...policies].join(', ') || 'none'})`,
      );
  });

  r.escalation_policies.forEach((p, i) => {
    p.steps.forEach((step, j) => {
      const previous = p.steps[j - 1];
      if (previous && step.after < previous.after)
        issue(['escalation_policies', i, 'steps', j, 'after'], 'must not be earlier than the step before it');
      step.notify.forEach((t, k) => {
        const path = ['escalation_policies', i, 'steps', j, 'notify', k];
        if (t.startsWith('schedule:')) {
          if (!schedules.has(t.slice(9))) issue(path, `unknown schedule ${JSON.stringify(t.slice(9))}`);
        } else if (t.startsWith('role:')) {
          if (!roles.has(t.slice(5))) issue(path, `unknown contact role ${JSON.stringify(t.slice(5))}`);
        } else known(t, path);
      });
    });
    const last = p.steps.at(-1)?.after ?? 0;
    if (p.repeat > 0 && p.repeat_interval === undefined)
      issue(
        ['escalation_policies', i, 'repeat_interval'],
        'is required with repeat: the time from the start of one round to the start of the next',
      );
    else if (p.repeat_interval !== undefined && p.repeat_interval <= last)
      issue(
        ['escalation_policies', i, 'repeat_interval'],
        "must be longer than the last step's after, so that rounds do not overlap",
      );
  });
}
