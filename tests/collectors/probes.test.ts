import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allProbes } from '../../src/collectors/http-probe.js';
import {
  jsonFailure,
  parseAgentStates,
  stateLabel,
  statusFailure,
} from '../../src/collectors/probe-checks.js';
import { probesSection } from '../../src/config/host.js';
import { startFakeApp, type FakeAppHandle } from '../support/fakeapp.js';
import { samples, value } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { makeCertificate } from '../support/tls.js';
import { freePort, run, startProcess, tempDir, waitFor, type Proc } from '../support/util.js';

const tmp = tempDir('swprobe');
let app: FakeAppHandle;
let appTls: FakeAppHandle;
let sw: StackwatchHandle;
let certExpiry: number;
let closedPort: number;

/** The URL with `localhost` for the address, so that the probe resolves a name. */
const byName = (url: string) => url.replace('127.0.0.1', 'localhost');

async function probe(target: string, timeoutHeader?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${sw.url}/probe?target=${target}`, {
    headers: timeoutHeader ? { 'X-Prometheus-Scrape-Timeout-Seconds': timeoutHeader } : {},
  });
  return { status: res.status, text: await res.text() };
}

/** Log lines (JSON) of stackwatch with the given message. */
const logLines = (msg: string) =>
  sw
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);

beforeAll(async () => {
  certExpiry = await makeCertificate(tmp.path, 20);
  app = await startFakeApp();
  appTls = await startFakeApp({
    tls: {
      key: readFileSync(join(tmp.path, 'key.pem'), 'utf8'),
      cert: readFileSync(join(tmp.path, 'cert.pem'), 'utf8'),
    },
  });
  closedPort = await freePort();
  const cert = join(tmp.path, 'cert.pem');
  sw = await startStackwatch({
    config: `
collectors:
  filesystem: { enabled: false }
  probes:
    app_base_url: ${app.url}
    http:
      - { name: tls_ca, url: '${appTls.url}/health', tls: { ca_file: ${cert} } }
      - { name: tls_untrusted, url: '${appTls.url}/health' }
      - { name: tls_insecure, url: '${appTls.url}/health', tls: { insecure_skip_verify: true } }
      - { name: tls_by_name, url: '${byName(appTls.url)}/health', tls: { insecure_skip_verify: true } }
      - { name: body_check, url: '${app.url}/health', body_regex: '"status":\\s*"ok"' }
      - name: json_check
        url: '${app.url}/health'
        json_checks: [{ path: status, equals: ok }]
      - { name: slow, url: '${app.url}/slow', timeout: 30s }
      - { name: refused, url: 'http://127.0.0.1:${closedPort}/health' }
      - { name: teapot, url: '${app.url}/teapot', expected_status: [418] }
`,
  });
});

afterAll(async () => {
  await sw?.stop();
  await app?.close();
  await appTls?.close();
  tmp.cleanup();
});

afterEach(() => {
  app.reset();
});

describe('default probes from app_base_url', () => {
  it('probes /health, /health/db, /health/redis and /api/agents/status', async () => {
    for (const [target, path] of [
      ['health', '/health'],
      ['health_db', '/health/db'],
      ['health_redis', '/health/redis'],
      ['agents', '/api/agents/status'],
    ] as const) {
      const before = app.hits(path);
      const { status, text } = await probe(target);
      expect(status).toBe(200);
      expect(value(text, 'probe_success')).toBe(1);
      expect(value(text, 'probe_http_status_code')).toBe(200);
      expect(samples(text, 'probe_http_duration_seconds').map((s) => s.labels.phase)).toEqual([
        'resolve',
        'connect',
        'tls',
        'processing',
        'transfer',
      ]);
      expect(value(text, 'probe_duration_seconds')).toBeGreaterThan(0);
      // /probe answers for one target: Prometheus's relabelling names it, as with blackbox.
      expect(samples(text, 'probe_success')[0]?.labels).toEqual({});
      expect(app.hits(path)).toBe(before + 1);
    }
  });

  it('turns /api/agents/status into one running gauge per agent', async () => {
    app.setAgents({ planner: 'running', coder: 'stopped', reviewer: 'error' });
    const { text } = await probe('agents');
    expect(value(text, 'probe_success')).toBe(1);
    expect(samples(text, 'probe_agent_running')).toEqual([
      { labels: { agent: 'planner' }, value: 1 },
      { labels: { agent: 'coder' }, value: 0 },
      { labels: { agent: 'reviewer' }, value: 0 },
    ]);
    expect(samples(text, 'probe_agent_state')).toEqual([
      { labels: { agent: 'planner', state: 'running' }, value: 1 },
      { labels: { agent: 'coder', state: 'stopped' }, value: 1 },
      { labels: { agent: 'reviewer', state: 'error' }, value: 1 },
    ]);
  });

  it('fails the agents probe when no agent is running, as the manual grep for "running" does', async () => {
    app.setAgents({ planner: 'stopped', coder: 'stopped' });
    const { text } = await probe('agents');
    expect(value(text, 'probe_success')).toBe(0);
    expect(samples(text, 'probe_agent_running').map((s) => s.value)).toEqual([0, 0]);
    await waitFor(() =>
      logLines('probe failed').some((l) => l.probe === 'agents' && l.reason === 'no agent is running'),
    );
  });
});

describe('failures', () => {
  it('reports a failing status with the code, and logs why', async () => {
    app.setRoute('/health/db', { status: 503, body: '{"status":"down","error":"connection refused"}' });
    const { text } = await probe('health_db');
    expect(value(text, 'probe_success')).toBe(0);
    expect(value(text, 'probe_http_status_code')).toBe(503);
    await waitFor(() =>
      logLines('probe failed').some((l) => l.probe === 'health_db' && l.reason === 'status 503 not in 2xx'),
    );
    // The reason is in the log only: no label carries it.
    expect(text).not.toContain('503 not in');
  });

  it('accepts the configured status codes only', async () => {
    app.setRoute('/teapot', { status: 418 });
    expect(value((await probe('teapot')).text, 'probe_success')).toBe(1);
    app.setRoute('/teapot', { status: 200 });
    expect(value((await probe('teapot')).text, 'probe_success')).toBe(0);
  });

  it('fails on a body that does not match the regex', async () => {
    expect(value((await probe('body_check')).text, 'probe_success')).toBe(1);
    expect(value((await probe('body_check')).text, 'probe_failed_due_to_regex')).toBe(0);
    app.setRoute('/health', { body: '{"status":"degraded"}' });
    const { text } = await probe('body_check');
    expect(value(text, 'probe_success')).toBe(0);
    expect(value(text, 'probe_failed_due_to_regex')).toBe(1);
    expect(value(text, 'probe_http_status_code')).toBe(200);
    // The default /health probe checks only the status, as `curl -sf` does.
    expect(value((await probe('health')).text, 'probe_success')).toBe(1);
  });

  it('fails on a JSON field with another value, and on a body that is not JSON', async () => {
    expect(value((await probe('json_check')).text, 'probe_success')).toBe(1);
    app.setRoute('/health', { body: '{"status":"degraded"}' });
    expect(value((await probe('json_check')).text, 'probe_success')).toBe(0);
    await waitFor(() =>
      logLines('probe failed').some(
        (l) => l.probe === 'json_check' && l.reason === 'JSON field status is "degraded", expected "ok"',
      ),
    );
    app.setRoute('/health', { body: '<html>ok</html>' });
    expect(value((await probe('json_check')).text, 'probe_success')).toBe(0);
    await waitFor(() =>
      logLines('probe failed').some(
        (l) => l.probe === 'json_check' && String(l.reason).startsWith('body is not JSON'),
      ),
    );
  });

  it('reports probe_success 0 before the scrape deadline when the server never answers', async () => {
    app.setRoute('/slow', { hang: true });
    const started = Date.now();
    const { status, text } = await probe('slow', '2');
    const elapsed = Date.now() - started;
    expect(status).toBe(200);
    expect(value(text, 'probe_success')).toBe(0);
    expect(value(text, 'probe_http_status_code')).toBe(0);
    // The probe's own 30 s timeout is capped by the 2 s scrape deadline (minus the 0.5 s offset).
    expect(elapsed).toBeLessThan(2000);
    await waitFor(() =>
      logLines('probe failed').some(
        (l) => l.probe === 'slow' && /^timed out after \d+ ms$/.test(String(l.reason)),
      ),
    );
  });

  it('reports a refused connection as probe_success 0 with status 0', async () => {
    const { status, text } = await probe('refused');
    expect(status).toBe(200);
    expect(value(text, 'probe_success')).toBe(0);
    expect(value(text, 'probe_http_status_code')).toBe(0);
    await waitFor(() =>
      logLines('probe failed').some((l) => l.probe === 'refused' && /ECONNREFUSED/.test(String(l.reason))),
    );
  });

  it('refuses an unknown target with 400', async () => {
    const res = await fetch(`${sw.url}/probe?target=${encodeURIComponent(app.url + '/health')}`);
    expect(res.status).toBe(400);
    expect((await fetch(`${sw.url}/probe?target=nope`)).status).toBe(400);
  });
});

describe('https', () => {
  it('trusts the configured CA and reports the certificate expiry', async () => {
    const { text } = await probe('tls_ca');
    expect(value(text, 'probe_success')).toBe(1);
    expect(value(text, 'probe_http_ssl')).toBe(1);
    expect(value(text, 'probe_ssl_earliest_cert_expiry')).toBe(certExpiry);
    expect(value(text, 'probe_http_duration_seconds', { phase: 'tls' })).toBeGreaterThan(0);
  });

  it('fails on an untrusted certificate and says so in the log', async () => {
    const { text } = await probe('tls_untrusted');
    expect(value(text, 'probe_success')).toBe(0);
    await waitFor(() =>
      logLines('probe failed').some(
        (l) => l.probe === 'tls_untrusted' && /self[- ]signed/i.test(String(l.reason)),
      ),
    );
  });

  it('accepts any certificate with insecure_skip_verify and still reports its expiry', async () => {
    const { text } = await probe('tls_insecure');
    expect(value(text, 'probe_success')).toBe(1);
    expect(value(text, 'probe_ssl_earliest_cert_expiry')).toBe(certExpiry);
  });
});

describe('compared with blackbox_exporter probing the same server', () => {
  let blackbox: Proc;
  let blackboxUrl: string;
  beforeAll(async () => {
    const port = await freePort();
    const config = join(tmp.path, 'blackbox.yml');
    writeFileSync(
      config,
      'modules:\n  https:\n    prober: http\n    http:\n      preferred_ip_protocol: ip4\n      tls_config: { insecure_skip_verify: true }\n',
    );
    blackbox = startProcess('/usr/bin/prometheus-blackbox-exporter', [
      `--config.file=${config}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    blackboxUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${blackboxUrl}/metrics`)).ok, 20_000, 'blackbox_exporter');
  });
  afterAll(async () => blackbox?.stop());

  it('has probe_http_version, probe_tls_version_info and probe_dns_lookup_time_seconds with its labels and values', async () => {
    const target = encodeURIComponent(`${byName(appTls.url)}/health`);
    const theirs = await (await fetch(`${blackboxUrl}/probe?module=https&target=${target}`)).text();
    const { text: ours } = await probe('tls_by_name');
    expect(value(theirs, 'probe_success')).toBe(1);
    expect(value(ours, 'probe_success')).toBe(1);
    expect(value(ours, 'probe_http_version')).toBe(value(theirs, 'probe_http_version'));
    expect(value(ours, 'probe_http_version')).toBe(1.1);
    expect(samples(ours, 'probe_tls_version_info')).toEqual(samples(theirs, 'probe_tls_version_info'));
    expect(samples(ours, 'probe_tls_version_info')[0]?.labels.version).toMatch(/^TLS 1\.[23]$/);
    expect(samples(theirs, 'probe_dns_lookup_time_seconds').map((s) => s.labels)).toEqual([{}]);
    expect(samples(ours, 'probe_dns_lookup_time_seconds').map((s) => s.labels)).toEqual([{}]);
    expect(value(ours, 'probe_dns_lookup_time_seconds')).toBeGreaterThan(0);
  });

  it('reports no TLS version for plain http, and HTTP 1.1', async () => {
    const { text } = await probe('health');
    expect(samples(text, 'probe_tls_version_info')).toEqual([]);
    expect(value(text, 'probe_http_version')).toBe(1.1);
  });
});

describe('/metrics', () => {
  it('labels every probe series with its target and passes promtool check metrics', async () => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    expect(
      samples(text, 'probe_success')
        .map((s) => s.labels.target)
        .sort(),
    ).toEqual(
      [
        'agents',
        'body_check',
        'health',
        'health_db',
        'health_redis',
        'json_check',
        'refused',
        'slow',
        'teapot',
        'tls_by_name',
        'tls_ca',
        'tls_insecure',
        'tls_untrusted',
      ].sort(),
    );
    for (const name of [
      'probe_duration_seconds',
      'probe_http_status_code',
      'probe_http_duration_seconds',
      'probe_http_version',
      'probe_dns_lookup_time_seconds',
      'probe_tls_version_info',
      'probe_agent_running',
    ])
      for (const s of samples(text, name)) expect(s.labels.target).toBeTruthy();
    expect(value(text, 'probe_ssl_earliest_cert_expiry', { target: 'tls_ca' })).toBe(certExpiry);
    expect(value(text, 'probe_agent_running', { target: 'agents', agent: 'coder' })).toBe(1);
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('probe checks (pure)', () => {
  it('reads agent states from the common /api/agents/status shapes', () => {
    const expected = [
      { agent: 'coder', state: 'running' },
      { agent: 'planner', state: 'stopped' },
    ];
    expect(
      parseAgentStates({
        agents: [
          { name: 'coder', status: 'running' },
          { name: 'planner', status: 'stopped' },
        ],
      }),
    ).toEqual(expected);
    expect(
      parseAgentStates([
        { id: 'coder', state: 'running' },
        { id: 'planner', state: 'stopped' },
      ]),
    ).toEqual(expected);
    expect(parseAgentStates({ coder: 'running', planner: 'stopped' })).toEqual(expected);
    expect(parseAgentStates({ data: { coder: { status: 'running' }, planner: { running: false } } })).toEqual(
      expected,
    );
    expect(parseAgentStates({ status: 'ok', uptime: 5 })).toBeUndefined();
    expect(parseAgentStates('running')).toBeUndefined();
    expect(parseAgentStates([{ name: 'coder' }])).toBeUndefined();
  });

  it('keeps state labels bounded', () => {
    expect(stateLabel(' Running ')).toBe('running');
    expect(stateLabel('error: connection refused to 10.0.0.5:5432')).toBe('other');
    expect(stateLabel('x'.repeat(33))).toBe('other');
  });

  it('checks JSON fields by dotted path', () => {
    const doc = { status: 'ok', checks: [{ name: 'db', ok: true }], version: 3 };
    expect(jsonFailure(doc, [{ path: 'status', equals: 'ok' }])).toBeUndefined();
    expect(jsonFailure(doc, [{ path: 'checks.0.ok', equals: true }])).toBeUndefined();
    expect(jsonFailure(doc, [{ path: 'version', matches: /^[3-9]$/ }])).toBeUndefined();
    expect(jsonFailure(doc, [{ path: 'checks.1.ok', equals: true }])).toBe('JSON field checks.1.ok missing');
    expect(jsonFailure(doc, [{ path: 'version', equals: '3' }])).toBe(
      'JSON field version is 3, expected "3"',
    );
    expect(statusFailure(204, [])).toBeUndefined();
    expect(statusFailure(301, [])).toBe('status 301 not in 2xx');
    expect(statusFailure(200, [418])).toBe('status 200 not in 418');
  });

  it('adds the manuals default probes for app_base_url; a configured probe of the same name replaces one', () => {
    const cfg = probesSection.parse({
      app_base_url: 'http://app:8080/prefix',
      http: [{ name: 'health', url: 'http://app:8080/healthz' }],
    });
    const probes = allProbes(cfg);
    expect(probes.map((p) => [p.name, p.url])).toEqual([
      ['health_db', 'http://app:8080/prefix/health/db'],
      ['health_redis', 'http://app:8080/prefix/health/redis'],
      ['agents', 'http://app:8080/prefix/api/agents/status'],
      ['health', 'http://app:8080/healthz'],
    ]);
    expect(
      probesSection.safeParse({
        http: [
          { name: 'a', url: 'http://x/' },
          { name: 'a', url: 'http://y/' },
        ],
      }).success,
    ).toBe(false);
    expect(probesSection.safeParse({ http: [{ name: 'a', url: 'file:///etc/passwd' }] }).success).toBe(false);
  });
});
