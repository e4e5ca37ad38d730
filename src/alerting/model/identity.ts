import { createHash } from 'node:crypto';

// A notification's identity outside the outbox: the Message-ID of its email, and the
// conversation (thread) it belongs to.

export function shortHash(text: string, n = 24): string {
  return createHash('sha256').update(text).digest('hex').slice(0, n);
}

/**
 * A Message-ID unique to this notification: the same group repeated after the dedup window
 * (Alertmanager's repeat_interval) is a new message, and mail systems drop a second message
 * with a Message-ID they have seen. Copies of one webhook are deduped before this is stored.
 */
export function messageIdFor(key: string, recordedAt: number, domain: string): string {
  return `<${shortHash(`${key}\0${recordedAt}`, 32)}@${domain}>`;
}

/** Conversation of an email thread: one per group, receiver and recipient set. */
export function threadKey(groupKey: string, receiver: string, recipients: readonly string[]): string {
  return shortHash(JSON.stringify([groupKey, receiver, [...recipients].sort()]), 32);
}
