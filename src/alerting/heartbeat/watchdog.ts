import { matchesAll, type Matcher } from '../../matchers.js';
import type { Alert, Webhook } from '../ingest/payload.js';
import type { HeartbeatEvent } from './heartbeats.js';

// The alert pipeline's heartbeat: Prometheus's always-firing Watchdog alert, which Alertmanager
// sends to stackwatch every minute. Recognised here, taken out of the webhook (it is never
// delivered to people), and turned into a signal of the `watchdog` heartbeat.

export interface WatchdogSplit {
  /** The webhook without its Watchdog alerts; undefined when nothing else was in it. */
  rest: Webhook | undefined;
  /**
   * What the Watchdog alerts say: `ping` when one fires (the pipeline works end to end),
   * `fail` when they are all resolved (Alertmanager stopped hearing from Prometheus);
   * undefined when the webhook had none.
   */
  signal?: Extract<HeartbeatEvent, 'ping' | 'fail'>;
}

export function splitWatchdog(w: Webhook, matchers: readonly Matcher[]): WatchdogSplit {
  const watchdog: Alert[] = [];
  const others: Alert[] = [];
  for (const a of w.alerts) (matchesAll(matchers, a.labels) ? watchdog : others).push(a);
  if (!watchdog.length) return { rest: w };
  const signal = watchdog.some((a) => a.status === 'firing') ? 'ping' : 'fail';
  if (!others.length) return { rest: undefined, signal };
  const status = others.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
  return { rest: { ...w, status, alerts: others }, signal };
}
