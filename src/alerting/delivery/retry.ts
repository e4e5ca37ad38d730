import type { DeliveryResult } from '../model/notification.js';

/** The one retry policy: exponential backoff with jitter, bounded by attempts and age. */
export interface RetryPolicyConfig {
  /** Delay after the first failed attempt (ms). */
  base: number;
  factor: number;
  /** Longest computed delay (ms); a server's Retry-After may ask for longer. */
  max_delay: number;
  /** Fraction of the delay that is random: the delay is in [d·(1−jitter), d]. */
  jitter: number;
  max_attempts: number;
  /** A notification older than this (ms since it was recorded) is given up. */
  max_age: number;
}

export const DEFAULT_RETRY: RetryPolicyConfig = {
  base: 1000,
  factor: 2,
  max_delay: 300_000,
  jitter: 0.5,
  // Delays grow to 5 minutes (2.5 at the shortest, with jitter): 600 attempts outlast max_age, so
  // a channel down for hours is retried for a day before its notifications become dead letters.
  max_attempts: 600,
  max_age: 86_400_000,
};

export type RetryDecision =
  { kind: 'done' } | { kind: 'retry'; delayMs: number; reason: string } | { kind: 'dead'; reason: string };

/** The backoff delay before attempt `attempts + 1`, given `attempts` failed attempts so far (≥ 1). */
export function backoffDelay(
  cfg: RetryPolicyConfig,
  attempts: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(cfg.max_delay, cfg.base * Math.pow(cfg.factor, Math.max(0, attempts - 1)));
  return Math.round(exp * (1 - cfg.jitter * random()));
}

/**
 * What to do after an attempt. `attempts` counts attempts made including this one;
 * `createdAt` is when the notification was recorded.
 */
export function decide(
  cfg: RetryPolicyConfig,
  result: DeliveryResult,
  attempts: number,
  createdAt: number,
  now: number,
  random: () => number = Math.random,
): RetryDecision {
  if (result.kind === 'success') return { kind: 'done' };
  if (result.kind === 'failure') return { kind: 'dead', reason: `permanent: ${result.reason}` };
  if (attempts >= cfg.max_attempts)
    return { kind: 'dead', reason: `gave up after ${attempts} attempts: ${result.reason}` };
  let delayMs = backoffDelay(cfg, attempts, random);
  if (result.retryAfterMs !== undefined && result.retryAfterMs > delayMs) delayMs = result.retryAfterMs;
  if (now + delayMs - createdAt > cfg.max_age)
    return {
      kind: 'dead',
      reason: `gave up after ${Math.round((now - createdAt) / 1000)} s: ${result.reason}`,
    };
  return { kind: 'retry', delayMs, reason: result.reason };
}
