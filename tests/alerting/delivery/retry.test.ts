import { describe, expect, it } from 'vitest';
import { classifySmtpError } from '../../../src/alerting/channels/email.js';
import { classifySlackError, parseRetryAfter } from '../../../src/alerting/channels/slack.js';
import { backoffDelay, decide, DEFAULT_RETRY } from '../../../src/alerting/delivery/retry.js';
import { receiverSection } from '../../../src/config/receiver.js';

describe('retry policy', () => {
  const cfg = DEFAULT_RETRY;
  it('rides out a day-long channel outage at the defaults: the age limit binds, not the attempts', () => {
    let elapsed = 0;
    for (let attempt = 1; attempt < cfg.max_attempts; attempt++)
      elapsed += backoffDelay(cfg, attempt, () => 1);
    // Even with every delay at its shortest, the attempts last longer than max_age.
    expect(elapsed).toBeGreaterThan(cfg.max_age);
    expect(receiverSection.parse({}).retry).toEqual(cfg);
  });

  it('backs off exponentially with jitter inside [d·(1−jitter), d], capped', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = Math.min(cfg.max_delay, cfg.base * 2 ** (attempt - 1));
      expect(backoffDelay(cfg, attempt, () => 0)).toBe(d);
      expect(backoffDelay(cfg, attempt, () => 0.999999)).toBeGreaterThanOrEqual(
        Math.floor(d * (1 - cfg.jitter)),
      );
      for (let i = 0; i < 50; i++) {
        const v = backoffDelay(cfg, attempt);
        expect(v).toBeGreaterThanOrEqual(Math.floor(d * (1 - cfg.jitter)));
        expect(v).toBeLessThanOrEqual(d);
      }
    }
    expect(backoffDelay(cfg, 30, () => 0)).toBe(cfg.max_delay);
    expect(backoffDelay({ ...cfg, jitter: 0 }, 3, Math.random)).toBe(4000);
  });

  it('decides retry, dead letter on permanent failure, attempts and age limits; honours Retry-After', () => {
    const t0 = 1_000_000;
    expect(decide(cfg, { kind: 'success' }, 1, t0, t0)).toEqual({ kind: 'done' });
    expect(decide(cfg, { kind: 'failure', reason: 'SMTP 550' }, 1, t0, t0)).toMatchObject({ kind: 'dead' });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, 1, t0, t0, () => 0)).toEqual({
      kind: 'retry',
      delayMs: 1000,
      reason: 'x',
    });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, cfg.max_attempts, t0, t0)).toMatchObject({
      kind: 'dead',
    });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, cfg.max_attempts - 1, t0, t0)).toMatchObject({
      kind: 'retry',
    });
    expect(decide(cfg, { kind: 'retryable', reason: 'x' }, 2, t0, t0 + cfg.max_age)).toMatchObject({
      kind: 'dead',
    });
    expect(
      decide(cfg, { kind: 'retryable', retryAfterMs: 2000, reason: '429' }, 1, t0, t0, () => 0),
    ).toMatchObject({
      delayMs: 2000,
    });
  });

  it('classifies SMTP and Slack errors', () => {
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 451 }))).toMatchObject({
      kind: 'retryable',
    });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 421 }))).toMatchObject({
      kind: 'retryable',
    });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 550 }))).toMatchObject({
      kind: 'failure',
    });
    expect(classifySmtpError(Object.assign(new Error('refused'), { code: 'ECONNECTION' }))).toMatchObject({
      kind: 'retryable',
    });
    const http = (status: number, headers: Record<string, string> = {}, data = '') =>
      Object.assign(new Error('http'), { original: { response: { status, headers, data } } });
    expect(classifySlackError(http(429, { 'retry-after': '2' }))).toEqual({
      kind: 'retryable',
      retryAfterMs: 2000,
      reason: 'HTTP 429',
      cause: 'rateLimited',
    });
    expect(classifySlackError(http(500))).toMatchObject({ kind: 'retryable', cause: 'serverError' });
    expect(classifySlackError(http(404, {}, 'no_service'))).toEqual({
      kind: 'failure',
      reason: 'HTTP 404 no_service',
      cause: 'clientError',
    });
    expect(classifySlackError(http(403, {}, 'invalid_token'))).toMatchObject({
      kind: 'failure',
      cause: 'authError',
    });
    expect(
      classifySmtpError(
        Object.assign(new Error('x'), {
          responseCode: 451,
          response: '451 4.7.1 Too many messages, slow down',
        }),
      ),
    ).toMatchObject({ kind: 'retryable', cause: 'rateLimited' });
    expect(classifySmtpError(Object.assign(new Error('x'), { responseCode: 535 }))).toMatchObject({
      kind: 'failure',
      cause: 'authError',
    });
    expect(
      classifySlackError(
        Object.assign(new Error('net'), { original: { code: 'ECONNREFUSED', message: 'refused' } }),
      ),
    ).toMatchObject({
      kind: 'retryable',
    });
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
