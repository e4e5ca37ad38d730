/** A destination's rate budget: `rate` messages per second with bursts of `burst`; rate 0 is unpaced. */
export interface RateBudget {
  rate: number;
  burst: number;
}

/**
 * One replica's share of a destination's budget when `replicas` replicas of a shared outbox
 * each pace it with their own bucket: the rate divided among them and the burst too (at least
 * one message), so that together they stay inside the destination's limit. Unpaced stays unpaced.
 */
export function shareOf(budget: RateBudget, replicas: number): RateBudget {
  const n = Math.max(1, Math.floor(replicas));
  if (n === 1 || budget.rate <= 0) return budget;
  return { rate: budget.rate / n, burst: Math.max(1, Math.floor(budget.burst / n)) };
}

/**
 * A token bucket for one destination (a Slack webhook URL, an SMTP server). stackwatch takes
 * a token before each message, so it stays inside the destination's limit instead of finding
 * it by a 429. A `Retry-After` empties the bucket until the pause ends: after it, one message
 * goes, then the rate again (not a burst that the destination would refuse at once).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;

  constructor(
    private budget: RateBudget,
    now: number,
  ) {
    this.tokens = budget.burst;
    this.last = now;
  }

  get unpaced(): boolean {
    return this.budget.rate <= 0;
  }

  /** A reload may change the budget; tokens already earned stay, up to the new burst. */
  setBudget(budget: RateBudget): void {
    this.budget = budget;
    this.tokens = Math.min(this.tokens, budget.burst);
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.budget.burst, this.tokens + ((now - this.last) / 1000) * this.budget.rate);
    this.last = now;
  }

  /** Tokens available now (fractional). */
  available(now: number): number {
    if (now < this.pausedUntil) return 0;
    if (this.unpaced) return Infinity;
    this.refill(now);
    return this.tokens;
  }

  /**
   * Takes one token when `1 + reserve` are available. A reserve keeps tokens for urgent
   * messages: non-urgent ones may only use the bucket while it holds more than the reserve.
   */
  tryTake(now: number, reserve = 0): boolean {
    if (this.available(now) < 1 + Math.min(reserve, this.budget.burst - 1)) return false;
    if (!this.unpaced) this.tokens -= 1;
    return true;
  }

  /** Milliseconds until `1 + reserve` tokens are available: 0 when they are now. */
  waitMs(now: number, reserve = 0): number {
    if (now < this.pausedUntil) return this.pausedUntil - now + this.waitAfterPause(reserve);
    if (this.unpaced) return 0;
    const need = 1 + Math.min(reserve, this.budget.burst - 1) - this.available(now);
    return need <= 0 ? 0 : Math.ceil((need / this.budget.rate) * 1000);
  }

  private waitAfterPause(reserve: number): number {
    if (this.unpaced) return 0;
    return Math.ceil((Math.min(reserve, this.budget.burst - 1) / this.budget.rate) * 1000);
  }

  /** The destination asked for a pause (Retry-After): nothing before `until`, then one token. */
  pause(until: number): void {
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.tokens = this.unpaced ? 0 : 1;
    this.last = until;
  }

  paused(now: number): boolean {
    return now < this.pausedUntil;
  }

  /** When the current pause ends (0 when not paused). */
  pauseEnd(now: number): number {
    return now < this.pausedUntil ? this.pausedUntil : 0;
  }
}

/** A change in a destination's limiting state, logged once (not once per refusal). */
export type LimitTransition =
  | { kind: 'started'; destination: string; retryAfterMs: number }
  | { kind: 'stopped'; destination: string; limitedMs: number; refusals: number };

/**
 * One bucket per destination, and whether each destination is limiting: from its first
 * rate-limit answer until a message to it is delivered again.
 */
export class Pacer {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly limiting = new Map<string, { since: number; refusals: number }>();

  constructor(private readonly now: () => number) {}

  bucket(destination: string, budget: RateBudget): TokenBucket {
    let b = this.buckets.get(destination);
    if (!b) this.buckets.set(destination, (b = new TokenBucket(budget, this.now())));
    else b.setBudget(budget);
    return b;
  }

  /** A rate-limit answer: pauses that destination only. */
  rateLimited(destination: string, budget: RateBudget, retryAfterMs: number): LimitTransition | undefined {
    const now = this.now();
    this.bucket(destination, budget).pause(now + retryAfterMs);
    const state = this.limiting.get(destination);
    if (state) {
      state.refusals++;
      return undefined;
    }
    this.limiting.set(destination, { since: now, refusals: 1 });
    return { kind: 'started', destination, retryAfterMs };
  }

  /** A delivery went through: a limiting destination has stopped limiting. */
  delivered(destination: string): LimitTransition | undefined {
    const state = this.limiting.get(destination);
    if (!state) return undefined;
    this.limiting.delete(destination);
    return { kind: 'stopped', destination, limitedMs: this.now() - state.since, refusals: state.refusals };
  }

  isLimiting(destination: string): boolean {
    return this.limiting.has(destination);
  }
}
