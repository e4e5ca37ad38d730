import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics, startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';

const TOKEN = 'ingest-token';

/** A raw HTTP request, so that bodies and headers can be anything (bad UTF-8, no content type…). */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/api/v1/alerts`,
      { method: opts.method ?? 'POST', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const good = () => webhook({ alertname: 'BadInputBaseline', severity: 'warning' });
const withAlert = (patch: Record<string, unknown>) => {
  const w = good();
  return { ...w, alerts: [{ ...w.alerts[0], ...patch }] };
};
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const JSON_CT = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

// [name, body, headers, expected status, expected error text]
const CASES: [string, Buffer | string, Record<string, string>, number, RegExp][] = [
  ['empty body', '', JSON_CT, 400, /body: empty/],
  ['whitespace only', '  \n ', JSON_CT, 400, /body: empty/],
  ['invalid JSON', '{"version": "4",', JSON_CT, 400, /invalid JSON/],
  ['JSON array', '[]', JSON_CT, 400, /expected a JSON object, got an array/],
  ['JSON null', 'null', JSON_CT, 400, /got null/],
  ['JSON string', '"hello"', JSON_CT, 400, /got string/],
  ['wrong version', JSON.stringify({ ...good(), version: '3' }), JSON_CT, 400, /^.*version: expected "4"/],
  ['version as number', JSON.stringify({ ...good(), version: 4 }), JSON_CT, 400, /version/],
  ['missing alerts', JSON.stringify({ ...good(), alerts: undefined }), JSON_CT, 400, /alerts: is required/],
  ['empty alerts', JSON.stringify({ ...good(), alerts: [] }), JSON_CT, 400, /alerts: /],
  [
    'alerts not a list',
    JSON.stringify({ ...good(), alerts: { a: 1 } }),
    JSON_CT,
    400,
    /alerts: expected array/,
  ],
  [
    'missing groupKey',
    JSON.stringify({ ...good(), groupKey: undefined }),
    JSON_CT,
    400,
    /groupKey: is required/,
  ],
  ['status of wrong type', JSON.stringify({ ...good(), status: true }), JSON_CT, 400, /status/],
  ['unknown group status', JSON.stringify({ ...good(), status: 'pending' }), JSON_CT, 400, /status/],
  [
    'alert without status',
    JSON.stringify(withAlert({ status: undefined })),
    JSON_CT,
    400,
    /alerts\[0\]\.status: is required/,
  ],
  [
    'label value a number',
    JSON.stringify(withAlert({ labels: { alertname: 'X', n: 5 } })),
    JSON_CT,
    400,
    /alerts\[0\]\.labels\.n/,
  ],
  ['labels a list', JSON.stringify(withAlert({ labels: ['a'] })), JSON_CT, 400, /alerts\[0\]\.labels/],
  ['startsAt not a time', JSON.stringify(withAlert({ startsAt: 'yesterday' })), JSON_CT, 400, /startsAt/],
  [
    'negative truncatedAlerts',
    JSON.stringify({ ...good(), truncatedAlerts: -1 }),
    JSON_CT,
    400,
    /truncatedAlerts/,
  ],
  [
    'too many labels',
    JSON.stringify(
      withAlert({ labels: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`l${i}`, 'v'])) }),
    ),
    JSON_CT,
    400,
    /at most 256/,
  ],
  ['deep nesting as body', nested(100_000), JSON_CT, 400, /got an array/],
  [
    'deep nesting in labels',
    JSON.stringify(withAlert({ labels: { a: 'DEEP' } })).replace('"DEEP"', nested(100_000)),
    JSON_CT,
    400,
    /labels\.a/,
  ],
  [
    'huge body',
    JSON.stringify({ ...good(), padding: 'x'.repeat(2 * 1024 * 1024) }),
    JSON_CT,
    413,
    /larger than/,
  ],
  [
    'bad UTF-8',
    Buffer.concat([
      Buffer.from('{"version":"4","receiver":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]),
    JSON_CT,
    400,
    /not valid UTF-8/,
  ],
  [
    'text/plain',
    JSON.stringify(good()),
    { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` },
    415,
    /Content-Type/,
  ],
  [
    'form encoded',
    'a=b',
    { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${TOKEN}` },
    415,
    /Content-Type/,
  ],
  ['no content type', JSON.stringify(good()), { authorization: `Bearer ${TOKEN}` }, 415, /Content-Type/],
  [
    'gzip encoding',
    JSON.stringify(good()),
    { ...JSON_CT, 'content-encoding': 'gzip' },
    415,
    /Content-Encoding/,
  ],
  ['no token', JSON.stringify(good()), { 'content-type': 'application/json' }, 401, /bearer token/],
  [
    'wrong token',
    JSON.stringify(good()),
    { 'content-type': 'application/json', authorization: 'Bearer nope' },
    401,
    /bearer token/,
  ],
  [
    'basic instead of bearer',
    JSON.stringify(good()),
    {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
    },
    401,
    /bearer token/,
  ],
  [
    'token with a suffix',
    JSON.stringify(good()),
    { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}x` },
    401,
    /bearer token/,
  ],
];

describe('webhook ingest: bad input, property run, API, escalation', () => {
  let sw: StackwatchHandle;

  beforeAll(async () => {
    sw = await startStackwatch({
      config: `receiver:
  webhook_token: ${TOKEN}
  escalation:
    after: 30m
    check_interval: 200ms
`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${sw.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...init.headers },
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  type N = {
    id: number;
    status: string;
    channel: string;
    subject: string;
    recipients: string[];
    group_key: string;
    contacts: string[];
    kind: string;
    last_error: string | null;
  };
  const notifications = async () =>
    (await api<{ notifications: N[] }>('/api/v1/notifications?limit=1000')).body.notifications;

  it.each(CASES.map(([n, b, h, s, e]) => [n, s, b, h, e] as const))(
    '%s → %i',
    async (_name, status, body, headers, error) => {
      const r = await raw(sw.url, { body, headers });
      expect(r.status).toBe(status);
      const json = JSON.parse(r.body) as { error: string };
      expect(json.error).toMatch(error);
    },
  );

  it('GET is 405; unknown extra fields are tolerated', async () => {
    expect((await raw(sw.url, { method: 'GET', headers: JSON_CT })).status).toBe(405);
    const extra = {
      ...webhook({ alertname: 'ExtraFields' }),
      future: { nested: nested(1000) },
      alerts: webhook({ alertname: 'ExtraFields' }).alerts.map((a) => ({ ...a, newField: [1, 2] })),
    };
    const r = await postWebhook(sw.url, extra, TOKEN);
    expect(r.status).toBe(200);
  });

  it('property: 1,000 generated bodies never get a 5xx, never crash it, and lose nothing accepted', async () => {
    // Other tests of this file record notifications too: count only what this test adds.
    const before = (await notifications()).length;
    const accepted = await Promise.all(
      ['Before1', 'Before2', 'Before3'].map((n) =>
        postWebhook(sw.url, webhook({ alertname: n, severity: 'warning' }), TOKEN),
      ),
    );
    expect(accepted.map((a) => a.status)).toEqual([200, 200, 200]);

    const valid = webhook({ alertname: 'Prop', severity: 'critical', instances: ['a', 'b'] });
    const keys = [
      'receiver',
      'status',
      'alerts',
      'groupLabels',
      'commonLabels',
      'commonAnnotations',
      'externalURL',
      'version',
      'groupKey',
      'truncatedAlerts',
    ];
    const mutated = fc
      .tuple(fc.constantFrom(...keys), fc.jsonValue(), fc.string({ maxLength: 20 }))
      .map(([k, v, suffix]) => JSON.stringify({ ...valid, groupKey: `${valid.groupKey}${suffix}`, [k]: v }));
    const mutatedAlert = fc
      .tuple(
        fc.constantFrom(
          'status',
          'labels',
          'annotations',
          'startsAt',
          'endsAt',
          'fingerprint',
          'generatorURL',
        ),
        fc.jsonValue(),
      )
      .map(([k, v]) => JSON.stringify({ ...valid, alerts: [{ ...valid.alerts[0], [k]: v }] }));
    const labelValues = fc
      .dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 50 }), {
        maxKeys: 8,
      })
      .map((labels) =>
        JSON.stringify({
          ...valid,
          groupKey: JSON.stringify(labels),
          alerts: [{ ...valid.alerts[0], labels }],
        }),
      );
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      mutated,
      mutatedAlert,
      labelValues,
    );
    let recorded = 0;
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await raw(sw.url, { body: b, headers: JSON_CT });
        seen.add(r.status);
        expect(r.status).toBeLessThan(500);
        expect([200, 400]).toContain(r.status);
        if (r.status === 200) recorded += (JSON.parse(r.body) as { recorded: number }).recorded;
      }),
      { numRuns: 1000 },
    );
    expect(seen.has(200) && seen.has(400)).toBe(true);
    expect(sw.proc.child.exitCode).toBeNull();
    expect((await fetch(`${sw.url}/-/healthy`)).status).toBe(200);
    const all = await notifications();
    for (const n of ['Before1', 'Before2', 'Before3'])
      expect(all.filter((x) => x.subject === `[FIRING:1] ${n} warning`)).toHaveLength(1);
    const acceptedBefore = accepted.reduce((sum, a) => sum + (a.json as { recorded: number }).recorded, 0);
    expect(acceptedBefore).toBe(3);
    expect(all.length - before).toBeGreaterThanOrEqual(acceptedBefore + recorded);
  });

  it('API: bearer token required; route test, contacts', async () => {
    expect((await fetch(`${sw.url}/api/v1/contacts`)).status).toBe(401);
    expect(
      (await fetch(`${sw.url}/api/v1/contacts`, { headers: { authorization: 'Bearer wrong' } })).status,
    ).toBe(401);
    const contacts = (
      await api<{ contacts: { role: string; name: string; phone: string; email: string }[] }>(
        '/api/v1/contacts',
      )
    ).body.contacts;
    expect(contacts.map((c) => [c.role, c.name, c.phone, c.email])).toEqual([
      ['oncall', '值班', '13800138000', 'oncall@company.com'],
      ['dba', '数据库管理员', '13800138001', 'dba@company.com'],
      ['devops', '运维工程师', '13800138002', 'devops@company.com'],
      ['techlead', '技术负责人', '13800138003', 'tech@company.com'],
    ]);
    type RT = {
      receivers: { name: string; channels: string[]; recipients: string[] }[];
      contacts: { role: string }[];
    };
    const get = (await api<RT>('/api/v1/route-test?severity=critical&service=postgres')).body;
    expect(get.receivers).toEqual([
      {
        name: 'team-ops-critical',
        channels: ['email', 'slack'],
        recipients: ['oncall@your-company.com', 'ops@your-company.com'],
      },
    ]);
    expect(get.contacts.map((c) => c.role)).toEqual(['oncall', 'dba']);
    const post = (
      await api<RT>('/api/v1/route-test', {
        method: 'POST',
        body: JSON.stringify({ labels: { severity: 'warning', alertname: 'DiskSpaceLow' } }),
      })
    ).body;
    expect(post.receivers).toEqual([
      { name: 'team-ops-warning', channels: ['email'], recipients: ['ops@your-company.com'] },
    ]);
    expect(post.contacts.map((c) => c.role)).toEqual(['devops']);
    expect(
      (await api('/api/v1/route-test', { method: 'POST', body: JSON.stringify({ labels: { a: 1 } }) }))
        .status,
    ).toBe(400);
    // A body that is not JSON names no labels: the top-level route's receiver.
    const notJson = await api<RT>('/api/v1/route-test', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'severity=critical',
    });
    expect(notJson.status).toBe(200);
    expect(notJson.body.receivers.map((r) => r.name)).toEqual(['team-ops']);
    expect((await api('/api/v1/notifications?status=bogus')).status).toBe(400);
  });

  it('maintenance windows mute matching notifications, recorded as muted', async () => {
    const created = await api<{ silence: { id: string } }>('/api/v1/silences', {
      method: 'POST',
      body: JSON.stringify({
        matchers: ['service="postgres"'],
        duration: '1h',
        comment: 'P2 change: upgrade',
      }),
    });
    expect(created.status).toBe(201);
    const r = (
      await postWebhook(
        sw.url,
        webhook({ alertname: 'PgMaintenance', severity: 'warning', labels: { service: 'postgres' } }),
        TOKEN,
      )
    ).json;
    expect(r).toMatchObject({ recorded: 1, muted: 1 });
    const muted = (await notifications()).filter((n) => n.subject === '[FIRING:1] PgMaintenance warning');
    expect(muted.map((n) => n.status)).toEqual(['muted']);
    expect(muted[0]!.last_error).toContain(created.body.silence.id);
    type RT = { muted_by?: string[] };
    expect((await api<RT>('/api/v1/route-test?service=postgres')).body.muted_by).toEqual([
      created.body.silence.id,
    ]);
    const list = (await api<{ silences: { id: string }[] }>('/api/v1/silences')).body.silences;
    expect(list.map((s) => s.id)).toContain(created.body.silence.id);
    expect((await api(`/api/v1/silences/${created.body.silence.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await api(`/api/v1/silences/${created.body.silence.id}`, { method: 'DELETE' })).status).toBe(404);
    const after = (
      await postWebhook(
        sw.url,
        webhook({ alertname: 'PgAfterMaintenance', severity: 'warning', labels: { service: 'postgres' } }),
        TOKEN,
      )
    ).json;
    expect(after).toMatchObject({ recorded: 1, muted: 0 });
    expect(
      (
        await api('/api/v1/silences', {
          method: 'POST',
          body: JSON.stringify({ matchers: ['nope'], duration: '1h' }),
        })
      ).status,
    ).toBe(400);
  });

  it('escalates a critical alert still firing after 30 minutes to the Tech Lead, once', async () => {
    const startsAt = new Date(Date.now() - 45 * 60_000).toISOString();
    const body = webhook({
      alertname: 'DatabaseLongDown',
      severity: 'critical',
      labels: { service: 'postgres' },
      startsAt,
    });
    expect((await postWebhook(sw.url, body, TOKEN)).status).toBe(200);
    const esc = await waitFor(
      async () => {
        const e = (await notifications()).filter(
          (n) => n.kind === 'escalation' && n.subject.includes('DatabaseLongDown'),
        );
        return e.length === 2 ? e : undefined;
      },
      10_000,
      'escalation',
    );
    const email = esc.find((n) => n.channel === 'email')!;
    expect(email.recipients).toEqual(['tech@company.com']);
    expect(email.subject).toMatch(
      /^\[ESCALATION\] \[FIRING:1\] DatabaseLongDown critical firing for 4[5-9]m$/,
    );
    expect(email.contacts).toEqual(['techlead', 'oncall', 'dba']);
    // a fresh critical alert is not escalated; the same group is not escalated twice
    const checksCompleted = async () =>
      parseMetrics(await (await fetch(`${sw.url}/metrics`)).text()).get(
        'stackwatch_escalation_checks_total',
      ) ?? NaN;
    expect(
      (
        await postWebhook(
          sw.url,
          webhook({ alertname: 'FreshCritical', severity: 'critical', startsAt: new Date().toISOString() }),
          TOKEN,
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await postWebhook(
          sw.url,
          { ...body, alerts: body.alerts.map((a) => ({ ...a, annotations: { summary: 'changed' } })) },
          TOKEN,
        )
      ).status,
    ).toBe(200);
    // Three escalation checks that started after both posts have completed.
    const before = await checksCompleted();
    await waitFor(
      async () => ((await checksCompleted()) >= before + 4 ? true : undefined),
      10_000,
      'escalation checks',
    );
    const all = (await notifications()).filter((n) => n.kind === 'escalation');
    expect(all.filter((n) => n.subject.includes('DatabaseLongDown'))).toHaveLength(2);
    expect(all.filter((n) => n.subject.includes('FreshCritical'))).toHaveLength(0);
  });
});
