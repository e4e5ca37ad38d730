import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContactBook } from '../../src/alerting/ingest/contacts.js';
import { parseWebhook, type Webhook } from '../../src/alerting/ingest/payload.js';
import { Redactor } from '../../src/alerting/ingest/redact.js';
import { Router } from '../../src/alerting/ingest/routing.js';
import { receiverSection } from '../../src/config/receiver.js';

/** Alertmanager v4 webhook bodies for tests, shaped like the captured 0.25 fixtures. */
export interface WebhookOptions {
  alertname: string;
  severity?: string;
  status?: 'firing' | 'resolved';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  instances?: string[];
}

export function webhook(o: WebhookOptions) {
  const status = o.status ?? 'firing';
  const common: Record<string, string> = {
    alertname: o.alertname,
    ...(o.severity ? { severity: o.severity } : {}),
    ...o.labels,
  };
  const startsAt = o.startsAt ?? '2026-11-22T10:41:31.315643124Z';
  const alerts = (o.instances ?? ['i-1']).map((instance, i) => ({
    status,
    labels: { ...common, instance },
    annotations: { summary: `${o.alertname} on ${instance}`, ...o.annotations },
    startsAt,
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-22T10:51:00Z',
    generatorURL: 'http://prometheus.test:9090/graph?g0.expr=up',
    fingerprint: `${o.alertname}-${i}`.padEnd(16, '0').slice(0, 16),
  }));
  return {
    receiver: 'team-ops',
    status,
    alerts,
    groupLabels: { alertname: o.alertname },
    commonLabels: common,
    commonAnnotations: {},
    externalURL: 'http://alertmanager.test:9093',
    version: '4',
    groupKey: `{}:{alertname="${o.alertname}"}`,
    truncatedAlerts: 0,
  };
}

export async function postWebhook(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, json };
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

/** The captured Alertmanager 0.25 webhook bodies (tests/fixtures/alertmanager-0.25). */
export const ALERTMANAGER_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'alertmanager-0.25');

/** One captured webhook, parsed as the receiver parses it. */
export function alertmanagerFixture(name: string): Webhook {
  const r = parseWebhook(JSON.parse(readFileSync(join(ALERTMANAGER_FIXTURES, name), 'utf8')));
  if (!r.ok) throw new Error(r.error);
  return r.webhook;
}

/** The planning tables of a receiver configured with nothing: routes, contacts, redaction. */
export function defaultPlanning() {
  const defaults = receiverSection.parse({});
  return {
    defaults,
    router: new Router(defaults),
    book: new ContactBook(defaults),
    redactor: new Redactor(defaults.redact),
  };
}
