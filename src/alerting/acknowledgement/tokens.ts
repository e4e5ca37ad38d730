import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ReceiverConfig } from '../../config/receiver.js';

// Acknowledge links: a signed, expiring token bound to one Alertmanager group and one
// recipient. The token is the whole authorisation of the acknowledge page, so it is an HMAC
// over its claims; nothing in it is trusted before the signature checks out.

/** The claims an Acknowledge link carries. */
export interface AckClaims {
  /** Redacted Alertmanager group key, as stored with the group's notifications. */
  groupKey: string;
  /**
   * Who the notification went to, as its destination is named (destination.ts): an email
   * recipient list, or `slack` (the default webhook) / `slack:<receiver>` (a receiver's own).
   */
  recipient: string;
  /** Epoch milliseconds after which the link is refused. */
  expiresAt: number;
}

/** A recorded acknowledgement; `endedAt` is set when someone acknowledges it no longer. */
export interface Acknowledgement {
  id: string;
  groupKey: string;
  /** Alert name and group labels, to show the group without its notifications. */
  alertname: string;
  groupLabels: Record<string, string>;
  by: string;
  /** The recipient the link was sent to (`console` when acknowledged from the console). */
  via: string;
  at: number;
  comment: string;
  /** Alertmanager silence made with it, if any. */
  silenceId: string | null;
  silenceEndsAt: number | null;
  endedAt: number | null;
  endedBy: string | null;
}

export type AckVerdict =
  { ok: true; claims: AckClaims } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

/** Tokens longer than this are refused before any work is done on them. */
export const MAX_TOKEN_LENGTH = 2048;

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`stackwatch-ack-v1\0${payload}`).digest();
}

export function signAckToken(claims: AckClaims, secret: string): string {
  const payload = b64(JSON.stringify([claims.groupKey, claims.recipient, claims.expiresAt]));
  return `${payload}.${b64(mac(secret, payload))}`;
}

export function verifyAckToken(token: string, secret: string, now: number): AckVerdict {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { ok: false, reason: 'malformed' };
  const payload = m[1] as string;
  const given = Buffer.from(m[2] as string, 'base64url');
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'forged' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (
    !Array.isArray(parsed) ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'number'
  )
    return { ok: false, reason: 'malformed' };
  const claims: AckClaims = { groupKey: parsed[0], recipient: parsed[1], expiresAt: parsed[2] };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/**
 * The key that signs links and console sessions: the configured one, else one derived from
 * the API token (so replicas sharing the configuration agree), else the fallback: one derived
 * from the console's first-run token when there is one, else random for this process.
 */
export function signingKey(cfg: ReceiverConfig, fallback: () => string = randomKey): string {
  if (cfg.acknowledgement.secret) return cfg.acknowledgement.secret;
  const token = cfg.api_token ?? cfg.webhook_token;
  if (token) return keyFromToken(token);
  return fallback();
}

/** A signing key derived from a token: replicas that share the token agree on it. */
export function keyFromToken(token: string): string {
  return createHmac('sha256', token).update('stackwatch-signing-key').digest('hex');
}

let processKey: string | undefined;
function randomKey(): string {
  processKey ??= randomBytes(32).toString('hex');
  return processKey;
}

/** `Acknowledged by alice at 2026-12-01T23:40:00Z`, the line later notifications carry. */
export function ackNote(a: Pick<Acknowledgement, 'by' | 'at'>): string {
  return `Acknowledged by ${a.by} at ${new Date(a.at).toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

/** The link a notification to `recipient` carries, or undefined without `external_url`. */
export function ackLink(
  cfg: ReceiverConfig,
  secret: string,
  claims: Omit<AckClaims, 'expiresAt'>,
  now: number,
): string | undefined {
  if (!cfg.external_url) return undefined;
  const token = signAckToken({ ...claims, expiresAt: now + cfg.acknowledgement.link_ttl }, secret);
  return `${cfg.external_url}/acknowledge/${token}`;
}
