import type { ResponsibleContact } from '../ingest/contacts.js';
import type { NotificationContent } from '../model/notification.js';
import { severityOf } from './text.js';

// Who a notification @mentions in a chat group: the people named on a paging notification,
// by mobile number (DingTalk, WeCom) or by Feishu user id. A mention makes the app ring.

/**
 * Whether a notification pages people: firing and critical (or an escalation, which is
 * critical by nature). Test notifications and resolutions mention no one.
 */
export function pages(c: NotificationContent): boolean {
  return (
    c.kind !== 'test' && c.status === 'firing' && (c.kind === 'escalation' || severityOf(c) === 'critical')
  );
}

/** A phone number as the services take it: digits (and a leading +), without spaces or dashes. */
export function mobileOf(phone: string): string | undefined {
  const m = phone.replace(/[\s()-]/g, '');
  return /^\+?\d{5,20}$/.test(m) ? m : undefined;
}

/** The responsible and on-duty people a paging notification mentions (everyone named on it). */
export function mentionsOf(c: NotificationContent): ResponsibleContact[] {
  return pages(c) ? c.contacts : [];
}

/** The mobile numbers of people to mention, unique, in the order they are named. */
export function mentionMobiles(people: readonly ResponsibleContact[]): string[] {
  return [...new Set(people.flatMap((p) => mobileOf(p.phone) ?? []))];
}

/** The Feishu user ids of people to mention, unique. */
export function mentionFeishuIds(people: readonly ResponsibleContact[]): string[] {
  return [...new Set(people.flatMap((p) => (p.feishu_user_id ? [p.feishu_user_id] : [])))];
}
