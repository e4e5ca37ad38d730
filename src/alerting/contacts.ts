import type { ReceiverConfig } from '../config/receiver.js';
import type { Labels } from './matchers.js';

export interface Contact {
  role: string;
  title: string;
  name: string;
  phone: string;
  email: string;
  responsibility: string;
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

/** Splits a label value into lower-case words: `postgres_exporter` → postgres, exporter; `DiskSpaceLow` → disk, space, low. */
export function words(value: string): string[] {
  return value
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
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
