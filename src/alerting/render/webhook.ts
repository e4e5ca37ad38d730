// What an outgoing webhook's body template is given (src/templates/context.ts names the
// variables): a notification, or a digest, as plain values.

import type { TemplateContact, TemplateContext } from '../../templates/context.js';
import type { ResponsibleContact } from '../ingest/contacts.js';
import type { NotificationContent } from '../model/notification.js';
import type { RenderedDigest } from './digest.js';
import { mentionsOf, mobileOf } from './mentions.js';
import type { RobotInput } from './robots.js';
import { renderConsole } from './console.js';
import { alertNameOf, severityOf, subjectOf } from './text.js';

function contact(p: ResponsibleContact): TemplateContact {
  return {
    role: p.role,
    title: p.title,
    name: p.name,
    phone: p.phone,
    email: p.email,
    reason: p.reason,
    feishu_user_id: p.feishu_user_id ?? '',
  };
}

function withPhones(people: readonly ResponsibleContact[]): {
  mentions: TemplateContact[];
  mention_phones: string[];
} {
  const called = people.filter((p) => mobileOf(p.phone));
  return {
    mentions: called.map(contact),
    mention_phones: [...new Set(called.map((p) => mobileOf(p.phone) as string))],
  };
}

export function notificationContext(c: NotificationContent, now = Date.now()): TemplateContext {
  const mentions = mentionsOf(c);
  return {
    kind: c.kind,
    status: c.status,
    severity: severityOf(c),
    alertname: alertNameOf(c),
    subject: subjectOf(c, now),
    summary: c.commonAnnotations.summary ?? c.alerts[0]?.annotations.summary ?? '',
    description: c.commonAnnotations.description ?? '',
    text: renderConsole(c, now),
    receiver: c.receiver,
    group_key: c.groupKey,
    external_url: c.externalURL,
    ack_url: c.acknowledgement?.link ?? '',
    ack_note: c.acknowledgement?.note ?? '',
    alerts: c.alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      starts_at: a.startsAt,
      ends_at: a.endsAt,
      generator_url: a.generatorURL,
      fingerprint: a.fingerprint,
    })),
    group_labels: c.groupLabels,
    common_labels: c.commonLabels,
    common_annotations: c.commonAnnotations,
    contacts: c.contacts.map(contact),
    ...withPhones(mentions),
    critical:
      mentions.length > 0 || (c.status === 'firing' && severityOf(c) === 'critical' && c.kind !== 'test'),
    digest: null,
  };
}

export function digestContext(r: RenderedDigest, receiver: string): TemplateContext {
  const paging = r.mentions.length > 0;
  return {
    kind: 'digest',
    status: /\d+ firing/.test(r.subject) ? 'firing' : 'resolved',
    severity: paging ? 'critical' : '',
    alertname: '',
    subject: r.subject,
    summary: '',
    description: '',
    text: r.text,
    receiver,
    group_key: '',
    external_url: '',
    ack_url: '',
    ack_note: '',
    alerts: [],
    group_labels: {},
    common_labels: {},
    common_annotations: {},
    contacts: r.mentions.map(contact),
    ...withPhones(r.mentions),
    critical: paging,
    digest: { id: r.id, count: r.count },
  };
}

export function templateContext(input: RobotInput, receiver: string): TemplateContext {
  return 'content' in input ? notificationContext(input.content) : digestContext(input.digest, receiver);
}
