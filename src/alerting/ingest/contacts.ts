import type { ReceiverConfig } from '../../config/receiver.js';
import type { Labels } from '../../matchers.js';

export interface Contact {
  role: string;
  title: string;
  name: string;
  phone: string;
  email: string;
  responsibility: string;
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

/** The contact table and the rules that decide who is responsible for an alert. */
export class ContactBook {
  readonly contacts: Contact[];
  private readonly byRole: Map<string, Contact>;
  private readonly areas: Area[];
  private readonly criticalRoles: string[];

  constructor(cfg: Pick<ReceiverConfig, 'contacts' | 'areas' | 'critical_roles'>) {
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

  role(role: string): Contact | undefined {
    return this.byRole.get(role.toLowerCase());
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

  /** Responsible contacts for a set of alerts: their areas' roles, plus the critical roles when any is critical. */
  responsible(alerts: readonly { labels: Labels }[]): ResponsibleContact[] {
    const out = new Map<string, ResponsibleContact>();
    const add = (role: string, reason: string) => {
      const c = this.role(role);
      if (c && !out.has(c.role)) out.set(c.role, { ...c, reason });
    };
    if (alerts.some((a) => a.labels.severity === 'critical'))
      for (const r of this.criticalRoles) add(r, 'critical');
    for (const a of alerts) for (const area of this.areasOf(a.labels)) add(area.role, area.name);
    return [...out.values()];
  }

  /** Resolves `role:x` recipients to the contact's email; addresses pass through. Sorted, unique. */
  resolveRecipients(recipients: readonly string[]): string[] {
    const out = new Set<string>();
    for (const r of recipients) {
      if (r.startsWith('role:')) {
        const c = this.role(r.slice(5));
        if (c?.email) out.add(c.email);
      } else out.add(r);
    }
    return [...out].sort();
  }
}
