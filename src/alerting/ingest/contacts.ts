import type { ReceiverConfig } from '../../config/receiver.js';
import type { Labels } from '../../matchers.js';
import type { DutyRoster, Person } from '../oncall/roster.js';

export interface Contact {
  role: string;
  title: string;
  name: string;
  phone: string;
  email: string;
  responsibility: string;
  /** The schedule whose person on duty this contact is. */
  schedule?: string;
  /** That person's id, and the handles channels mention them by. */
  person?: string;
  slack_user_id?: string;
  /** Feishu user id (open_id or user_id): what a Feishu message @mentions. */
  feishu_user_id?: string;
}

export interface ResponsibleContact extends Contact {
  /** Why this contact is named: an area (`database`), `critical`, or `escalation`. */
  reason: string;
}

interface Area {
  name: string;
  role: string;
  labels: string[];
  re: RegExp;
}

/** Longer words cannot name an area; they are skipped, so an area regex never sees more than this. */
export const MAX_WORD_LENGTH = 128;

const isLower = (c: number) => c >= 97 && c <= 122;
const isUpper = (c: number) => c >= 65 && c <= 90;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Splits a label value into lower-case words: `postgres_exporter` → postgres, exporter;
 * `DiskSpaceLow` → disk, space, low; `HTTPServer` → http, server. One pass over the value
 * (label values come from webhooks: no regular expression that could backtrack).
 */
export function words(value: string): string[] {
  const out: string[] = [];
  let start = -1;
  const end = (i: number) => {
    if (start >= 0 && i - start <= MAX_WORD_LENGTH) out.push(value.slice(start, i).toLowerCase());
    start = -1;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isLower(c) && !isUpper(c) && !isDigit(c)) {
      end(i);
      continue;
    }
    if (start >= 0 && isUpper(c)) {
      const prev = value.charCodeAt(i - 1);
      // aB and 1B start a word at B; in ABc the word starts at B (an acronym ends before it).
      if (isLower(prev) || isDigit(prev) || (isUpper(prev) && isLower(value.charCodeAt(i + 1)))) end(i);
    }
    if (start < 0) start = i;
  }
  end(value.length);
  return out;
}

/** A contact as the person on duty: their name, phone, email and handles; title and role stay. */
export function onDutyContact(c: Contact, p: Person): Contact {
  const { slack_user_id: _slack, feishu_user_id: _feishu, ...rest } = c;
  const out: Contact = { ...rest, name: p.name, phone: p.phone, email: p.email, person: p.id };
  if (p.slack_user_id) out.slack_user_id = p.slack_user_id;
  if (p.feishu_user_id) out.feishu_user_id = p.feishu_user_id;
  return out;
}

/**
 * The contact table and the rules that decide who is responsible for an alert. A contact that
 * points at a schedule is whoever is on duty in it at the instant asked about (the roster);
 * without a roster, or with nobody on duty, it is the contact as configured.
 */
export class ContactBook {
  readonly contacts: Contact[];
  private readonly byRole: Map<string, Contact>;
  private readonly areas: Area[];
  private readonly criticalRoles: string[];

  constructor(
    cfg: Pick<ReceiverConfig, 'contacts' | 'areas' | 'critical_roles'>,
    private readonly roster?: DutyRoster,
  ) {
    this.contacts = cfg.contacts.map((c) => ({ ...c }));
    this.byRole = new Map(this.contacts.map((c) => [c.role.toLowerCase(), c]));
    this.areas = cfg.areas.map((a) => ({
      name: a.name,
      role: a.role,
      labels: a.labels,
      re: new RegExp(`^(?:${a.match})$`, 'i'),
    }));
    this.criticalRoles = cfg.critical_roles;
  }

  /** A role's contact at `at`; with a schedule, the first person on duty. */
  role(role: string, at = Date.now()): Contact | undefined {
    return this.roleAt(role, at)[0];
  }

  /** A role's contacts at `at`: one, or with a schedule each person on duty. */
  roleAt(role: string, at: number): Contact[] {
    const c = this.byRole.get(role.toLowerCase());
    if (!c) return [];
    const people = c.schedule && this.roster ? this.roster.onDuty(c.schedule, at) : [];
    return people.length ? people.map((p) => onDutyContact(c, p)) : [c];
  }

  /** The contact table at `at`: scheduled roles name whoever is on duty. */
  contactsAt(at: number): Contact[] {
    return this.contacts.flatMap((c) => this.roleAt(c.role, at));
  }

  /** The areas an alert belongs to, from the words of its area labels. */
  areasOf(labels: Labels): Area[] {
    return this.areas.filter((a) =>
      a.labels.some((l) => {
        const v = labels[l];
        return v !== undefined && words(v).some((w) => a.re.test(w));
      }),
    );
  }

  /**
   * Responsible contacts for a set of alerts at `at`: their areas' roles, plus the critical
   * roles when any is critical.
   */
  responsible(alerts: readonly { labels: Labels }[], at = Date.now()): ResponsibleContact[] {
    const out: ResponsibleContact[] = [];
    const named = new Set<string>();
    // Each role once, with the reason it was first named for.
    const add = (role: string, reason: string) => {
      const contacts = this.roleAt(role, at);
      const key = contacts[0]?.role;
      if (key === undefined || named.has(key)) return;
      named.add(key);
      for (const c of contacts) out.push({ ...c, reason });
    };
    if (alerts.some((a) => a.labels.severity === 'critical'))
      for (const r of this.criticalRoles) add(r, 'critical');
    for (const a of alerts) for (const area of this.areasOf(a.labels)) add(area.role, area.name);
    return out;
  }

  /**
   * Resolves `role:x` recipients to the contact's email at `at` (the people on duty, for a
   * scheduled role); addresses pass through. Sorted, unique.
   */
  resolveRecipients(recipients: readonly string[], at = Date.now()): string[] {
    const out = new Set<string>();
    for (const r of recipients) {
      if (r.startsWith('role:')) {
        for (const c of this.roleAt(r.slice(5), at)) if (c.email) out.add(c.email);
      } else out.add(r);
    }
    return [...out].sort();
  }
}
