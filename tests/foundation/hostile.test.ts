import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { CLI, samples, startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { startSmtp, type SmtpHandle } from '../support/smtp.js';
import { run, tempDir, waitFor } from '../support/util.js';
import { postWebhook, webhook } from '../support/webhooks.js';

const TOKEN = 'hostile-token';
const BODY_LIMIT = 1024 * 1024;
const LABEL_LIMIT = 64 * 1024;

// Alertmanager's HA peer timeout: a webhook answered later than this is posted again by the other replica.
const PEER_TIMEOUT_MS = 15_000;

/** Posts a webhook as Alertmanager would; the status, or a throw when no answer came within the peer timeout. */
async function postAsAlertmanager(url: string, body: unknown): Promise<number> {
  const res = await fetch(`${url}/api/v1/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Every line a stackwatch process wrote is a JSON object (the log), nothing else. */
function nonJsonLines(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => {
      try {
        return typeof JSON.parse(l) !== 'object';
      } catch {
        return true;
      }
    });
}

/** Starts `work`, and while it runs asks /-/healthy; both answers (latencies are in bench/hostile.ts). */
async function healthyDuring<T>(
  url: string,
  work: () => Promise<T>,
): Promise<{ result: T; healthy: number }> {
  const pending = work();
  // Give the request time to reach the server before the health check is sent.
  await new Promise((r) => setTimeout(r, 20));
  const healthy = (await fetch(`${url}/-/healthy`)).status;
  return { result: await pending, healthy };
}

/** A webhook whose alerts carry `value` in every label that names an area, with a matching group key. */
function withLongLabels(value: string, alerts: number, groupKey: string) {
  const base = webhook({ alertname: 'Hostile', severity: 'warning' });
  const labels = { alertname: value, service: value, component: value, job: value, severity: 'warning' };
  return {
    ...base,
    groupKey,
    commonLabels: {},
    groupLabels: {},
    alerts: Array.from({ length: alerts }, (_, i) => ({
      ...base.alerts[0],
      labels: { ...labels, instance: `i-${i}` },
      fingerprint: `hostile${i}`.padEnd(16, '0'),
    })),
  };
}

describe('hostile webhooks against a PostgreSQL outbox', () => {
  let pg: PostgresServer;
  let sw: StackwatchHandle;

  beforeAll(async () => {
    pg = await startPostgres();
    sw = await startStackwatch({
      config: `receiver:
  webhook_token: ${TOKEN}
  store:
    type: postgres
    dsn: ${pg.dsn()}
    schema: hostile
`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
    await pg?.destroy();
  });

  it('answers a webhook of long capital-letter and identifier runs at the body limit, and health checks meanwhile', async () => {
    // The shapes that made the word splitter and the group-key redaction backtrack.
    const value = 'A'.repeat(LABEL_LIMIT - 1024);
    const body = withLongLabels(value, 3, 'a'.repeat(LABEL_LIMIT - 1024));
    expect(JSON.stringify(body).length).toBeLessThan(BODY_LIMIT);
    const { result, healthy } = await healthyDuring(sw.url, () => postAsAlertmanager(sw.url, body));
    expect(result).toBe(200);
    expect(healthy).toBe(200);
  });

  it('records a group key holding a NUL character instead of refusing it for ever', async () => {
    const body = { ...webhook({ alertname: 'NulKey' }), groupKey: '{}:{alertname="Nul\u0000Key"}' };
    const first = await postWebhook(sw.url, body, TOKEN);
    expect(first).toMatchObject({ status: 200, json: { status: 'recorded' } });
    // Alertmanager's retry of the same webhook is a duplicate, not another failure.
    const again = await postWebhook(sw.url, body, TOKEN);
    expect(again.status).toBe(200);
    const res = await fetch(`${sw.url}/api/v1/notifications?limit=50`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const list = (await res.json()) as { notifications: { group_key: string }[] };
    expect(list.notifications.map((n) => n.group_key)).toContain('{}:{alertname="Nul\uFFFDKey"}');
  });

  it('property: adversarial label shapes at the body limit are each answered, with /-/healthy answered meanwhile', async () => {
    // Runs of the characters regular expressions tend to choke on, repeated up to the label limit.
    const unit = fc.constantFrom(
      'A',
      'a',
      'aA',
      'Aa',
      '_',
      '1',
      '=',
      '"',
      '\\',
      '\\"',
      'a="',
      ' ',
      '-',
      '\u0000',
    );
    const shape = fc
      .tuple(fc.array(unit, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 4 }))
      .map(([parts, alerts]) => {
        const piece = parts.join('');
        // Four area labels per alert and half a value in the group key, within the body limit once escaped.
        const budget = Math.floor((BODY_LIMIT * 0.9) / (alerts * 4 + 0.5));
        const escaped = JSON.stringify(piece).length - 2;
        const repeats = Math.floor(Math.min(budget / escaped, (LABEL_LIMIT - 16) / piece.length));
        return { value: piece.repeat(repeats), alerts };
      });
    await fc.assert(
      fc.asyncProperty(shape, async ({ value, alerts }) => {
        const body = withLongLabels(value, alerts, `{}:{alertname="${value.slice(0, LABEL_LIMIT / 2)}"}`);
        const { result, healthy } = await healthyDuring(sw.url, () => postAsAlertmanager(sw.url, body));
        expect(result).toBe(200);
        expect(healthy).toBe(200);
      }),
      { numRuns: 12 },
    );
  });
});

describe('hostile requests against the HTTP server', () => {
  const tmp = tempDir('swhostile');
  let sw: StackwatchHandle;

  beforeAll(async () => {
    const webConfig = join(tmp.path, 'web-config.yml');
    writeFileSync(webConfig, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('right password', 10)}\n`);
    sw = await startStackwatch({
      args: [`--web.config.file=${webConfig}`],
      config: `receiver:\n  webhook_token: ${TOKEN}\n`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
    tmp.cleanup();
  });

  const basic = (password: string) => ({
    authorization: `Basic ${Buffer.from(`prometheus:${password}`).toString('base64')}`,
  });

  it('keeps answering webhooks while a flood of wrong passwords is checked', async () => {
    const order: string[] = [];
    const failures = Array.from({ length: 30 }, (_, i) =>
      fetch(`${sw.url}/metrics`, { headers: basic(`wrong ${i}`) }).then((r) => {
        order.push('refusal');
        return r.status;
      }),
    );
    const hook = postWebhook(sw.url, webhook({ alertname: 'DuringFlood' }), TOKEN).then((r) => {
      order.push('webhook');
      return r.status;
    });
    const [statuses, hookStatus] = await Promise.all([Promise.all(failures), hook]);
    expect(hookStatus).toBe(200);
    // Every one refused: 401 after a check, 429 when too many checks were already in progress.
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(statuses).toContain(401);
    // The webhook did not wait for every password check to finish.
    expect(order.indexOf('webhook')).toBeLessThan(order.length - 1);
    // The right password still works after the flood.
    expect((await fetch(`${sw.url}/metrics`, { headers: basic('right password') })).status).toBe(200);
  });

  it('refuses requests without credentials at once, without a password check', async () => {
    const order: string[] = [];
    const checks = Array.from({ length: 20 }, (_, i) =>
      fetch(`${sw.url}/metrics`, { headers: basic(`wrong again ${i}`) }).then(() => order.push('check')),
    );
    await new Promise((r) => setTimeout(r, 20));
    const bare = Array.from({ length: 20 }, () =>
      fetch(`${sw.url}/metrics`).then((r) => {
        order.push('bare');
        return r.status;
      }),
    );
    const statuses = await Promise.all(bare);
    await Promise.all(checks);
    expect(new Set(statuses)).toEqual(new Set([401]));
    // Requests with no credentials did not queue behind the password checks.
    expect(order.lastIndexOf('bare')).toBeLessThan(order.lastIndexOf('check'));
  });

  it('bounds a huge scrape-timeout header: collectors still succeed and every output line is JSON', async () => {
    const res = await fetch(`${sw.url}/metrics`, {
      headers: { ...basic('right password'), 'x-prometheus-scrape-timeout-seconds': '1e12' },
    });
    expect(res.status).toBe(200);
    const success = samples(await res.text(), 'stackwatch_scrape_collector_success');
    expect(success.length).toBeGreaterThan(0);
    expect(success.filter((s) => s.value !== 1)).toEqual([]);
    expect(nonJsonLines(sw.logs())).toEqual([]);
  });
});

describe('configuration errors never show secrets', () => {
  const tmp = tempDir('swsecret');
  afterAll(() => tmp.cleanup());

  const badProbe = `collectors:
  probes:
    http:
      - name: api
        url: http://127.0.0.1:1/healthz
        headers:
          X-Api-Key: 8675309123
`;

  it('check-config names the field but not a probe header value', async () => {
    const file = join(tmp.path, 'probe.yml');
    writeFileSync(file, badProbe);
    const r = await run(process.execPath, [CLI, 'check-config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('X-Api-Key');
    expect(r.stderr).not.toContain('8675309123');
  });

  it('check-config does not show the password of a URL given where another type was expected', async () => {
    const file = join(tmp.path, 'url.yml');
    writeFileSync(
      file,
      'collectors:\n  probes:\n    http:\n      - name: api\n        url: http://127.0.0.1:1/\n        timeout: http://ops:hunter2@example.test/\n',
    );
    const r = await run(process.execPath, [CLI, 'check-config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('timeout');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('POST /-/reload and the log do not show a probe header value', async () => {
    const sw = await startStackwatch({ config: 'log_level: info\n' });
    try {
      writeFileSync(sw.configFile as string, badProbe);
      const res = await fetch(`${sw.url}/-/reload`, { method: 'POST' });
      const body = await res.text();
      expect(res.status).toBe(500);
      expect(body).toContain('X-Api-Key');
      expect(body).not.toContain('8675309123');
      expect(sw.logs()).toContain('config reload failed');
      expect(sw.logs()).not.toContain('8675309123');
    } finally {
      await sw.stop();
    }
  });
});

/** A request with headers fetch will not send (Host) or a body it will not withhold. */
function rawRequest(
  url: string,
  opts: { method: string; path: string; headers: Record<string, string> },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${opts.path}`, { method: opts.method, headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends only the head of a POST that announces `length` bytes, and reads the answer's status line. */
function announceBody(port: number, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `POST /api/v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{`,
      ),
    );
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString();
      if (head.includes('\r\n')) {
        resolve(head.slice(0, head.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

describe('browsers, careless deployments and oversized bodies', () => {
  const tmp = tempDir('swdeploy');
  let smtp: SmtpHandle;
  let sw: StackwatchHandle;
  let tokenFile: string;

  beforeAll(async () => {
    smtp = await startSmtp();
    tokenFile = join(tmp.path, 'webhook-token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    chmodSync(tokenFile, 0o644);
    sw = await startStackwatch({
      config: `global:
  allowed_hosts: [127.0.0.1, stackwatch.internal]
receiver:
  webhook_token_file: ${tokenFile}
  escalation:
    enabled: false
  email:
    smtp_url: ${smtp.url}
    require_tls: true
  retry:
    base: 100ms
    max_delay: 200ms
`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
    await smtp?.stop();
    tmp.cleanup();
  });

  it('refuses a reload a page on another site asks for, and accepts one from curl', async () => {
    const fromPage = await fetch(`${sw.url}/-/reload`, {
      method: 'POST',
      headers: { origin: 'http://evil.test', 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(fromPage.status).toBe(403);
    const fetched = await fetch(`${sw.url}/-/reload`, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(fetched.status).toBe(403);
    expect((await fetch(`${sw.url}/-/reload`, { method: 'POST' })).status).toBe(200);
  });

  it('answers only the allowed host names, except for liveness', async () => {
    const path = '/metrics';
    expect(
      (await rawRequest(sw.url, { method: 'GET', path, headers: { host: 'rebound.evil.test' } })).status,
    ).toBe(421);
    expect(
      (await rawRequest(sw.url, { method: 'GET', path, headers: { host: 'stackwatch.internal:9879' } }))
        .status,
    ).toBe(200);
    expect(
      (await rawRequest(sw.url, { method: 'GET', path: '/-/healthy', headers: { host: '10.1.2.3:9879' } }))
        .status,
    ).toBe(200);
  });

  it('refuses a body over the limit from its Content-Length, without waiting for it', async () => {
    expect(await announceBody(sw.port, 100 * 1024 * 1024)).toMatch(/^HTTP\/1\.1 413/);
  });

  it('sends no mail to an SMTP server without STARTTLS when TLS is required', async () => {
    const posted = await postWebhook(sw.url, webhook({ alertname: 'NeedsTls' }), TOKEN);
    expect(posted.status).toBe(200);
    const job = await waitFor(async () => {
      const res = await fetch(`${sw.url}/api/v1/notifications?limit=10`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const list = (await res.json()) as { notifications: { channel: string; last_error: string | null }[] };
      return list.notifications.find((n) => n.channel === 'email' && n.last_error);
    });
    expect(job.last_error).toMatch(/STARTTLS|TLS/i);
    expect(smtp.mails).toEqual([]);
  });

  it('keeps its outbox readable by its own user only', () => {
    const data = join(sw.dir, 'data');
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(statSync(join(data, 'receiver.sqlite')).mode & 0o777).toBe(0o600);
  });

  it('warns at start and in check-config about a secret file others can read', async () => {
    expect(sw.logs()).toMatch(/secret file .*webhook-token.* can be read by any user/);
    const r = await run(process.execPath, [CLI, 'check-config', sw.configFile as string]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /warning: .*webhook_token_file: secret file .* can be read by any user \(mode 0644\)/,
    );
  });
});
