import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { z } from 'zod';
import type { httpProbe, probesSection } from '../config/host.js';
import { redactUrl } from '../secrets.js';
import { gauge, type MetricFamily } from '../metrics/exposition.js';
import { VERSION } from '../version.js';
import { remainingMs, type Collector, type ScrapeContext } from './collector.js';
import {
  agentLabel,
  bodyFailure,
  jsonFailure,
  parseAgentStates,
  stateLabel,
  statusFailure,
} from './probe-checks.js';

export type HttpProbeConfig = z.infer<typeof httpProbe>;
export type ProbesConfig = z.infer<typeof probesSection>;

/** blackbox_exporter's phases of probe_http_duration_seconds. */
export const PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;
type Phase = (typeof PHASES)[number];

const MAX_REDIRECTS = 10;
/** The probe gives up this long before the scrape deadline, so its failure is still reported. */
const DEADLINE_MARGIN_MS = 100;

/** The manuals' health checks (`curl -sf $BASE/health` …) as named probes. */
export function defaultProbes(cfg: ProbesConfig): HttpProbeConfig[] {
  if (!cfg.app_base_url) return [];
  const base = cfg.app_base_url.endsWith('/') ? cfg.app_base_url : cfg.app_base_url + '/';
  const make = (name: string, path: string, extra: Partial<HttpProbeConfig> = {}): HttpProbeConfig => ({
    name,
    url: new URL(path, base).toString(),
    method: 'GET',
    headers: {},
    timeout: cfg.app_timeout,
    expected_status: [],
    json_checks: [],
    follow_redirects: true,
    max_body_bytes: 1024 * 1024,
    tls: cfg.app_tls,
    ...extra,
  });
  return [
    make('health', 'health'),
    make('health_db', 'health/db'),
    make('health_redis', 'health/redis'),
    make('agents', 'api/agents/status', {
      agents: { running_states: ['running'], max_agents: 100, require_running: true },
    }),
  ];
}

/** Configured probes plus the defaults; a configured probe replaces a default of the same name. */
export function allProbes(cfg: ProbesConfig): HttpProbeConfig[] {
  const own = new Set(cfg.http.map((p) => p.name));
  return [...defaultProbes(cfg).filter((p) => !own.has(p.name)), ...cfg.http];
}

interface Exchange {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  phases: Record<Phase, number>;
  /** Earliest notAfter over the served chain, epoch seconds. */
  certExpiry?: number;
  /** The response's HTTP version, e.g. `1.1`. */
  httpVersion: string;
  /** The negotiated TLS version as blackbox names it (`TLS 1.3`), for https. */
  tlsVersion?: string;
}

/** Node's `TLSv1.3` as Go's tls.VersionName, which blackbox_exporter puts in probe_tls_version_info. */
export function tlsVersionName(protocol: string | null): string | undefined {
  const m = /^TLSv(\d)(?:\.(\d))?$/.exec(protocol ?? '');
  return m ? `TLS ${m[1]}.${m[2] ?? '0'}` : undefined;
}

class ProbeFailure extends Error {}

function earliestExpiry(cert: PeerCertificate | undefined): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<string>();
  let cur = cert as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined;
  while (cur && cur.valid_to && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    const t = Date.parse(cur.valid_to) / 1000;
    if (Number.isFinite(t) && (earliest === undefined || t < earliest)) earliest = t;
    cur = cur.issuerCertificate as typeof cur;
  }
  return earliest;
}

/** One HTTP exchange on a fresh connection, timed by phase like blackbox's httptrace. */
function exchange(
  url: URL,
  p: HttpProbeConfig,
  method: string,
  headers: Record<string, string>,
  timeoutMs: number,
) {
  return new Promise<Exchange>((resolve, reject) => {
    const t0 = performance.now();
    let tResolved = t0;
    let tConnected: number | undefined;
    let tTls: number | undefined;
    let tFirstByte: number | undefined;
    let certExpiry: number | undefined;
    let tlsVersion: string | undefined;
    const https = url.protocol === 'https:';
    const options = {
      method,
      headers: { 'user-agent': `stackwatch/${VERSION}`, ...headers },
      agent: false as const,
      ...(https
        ? {
            ca: p.tls.ca,
            cert: p.tls.cert,
            key: p.tls.key,
            servername: p.tls.server_name,
            rejectUnauthorized: !p.tls.insecure_skip_verify,
          }
        : {}),
    };
    const req = (https ? httpsRequest : httpRequest)(url, options);
    const timer = setTimeout(
      () => req.destroy(new ProbeFailure(`timed out after ${Math.round(timeoutMs)} ms`)),
      timeoutMs,
    );
    const done = (err: Error | undefined, value?: Exchange) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as Exchange);
    };
    req.on('socket', (socket: Socket) => {
      socket.on('lookup', () => (tResolved = performance.now()));
      socket.on('connect', () => (tConnected = performance.now()));
      socket.on('secureConnect', () => {
        tTls = performance.now();
        certExpiry = earliestExpiry((socket as TLSSocket).getPeerCertificate(true));
        tlsVersion = tlsVersionName((socket as TLSSocket).getProtocol());
      });
    });
    req.on('error', (err) => done(err));
    req.on('response', (res) => {
      tFirstByte = performance.now();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > p.max_body_bytes) {
          req.destroy(new ProbeFailure(`body larger than max_body_bytes (${p.max_body_bytes})`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err) => done(err));
      res.on('end', () => {
        const tEnd = performance.now();
        const connected = tConnected ?? tResolved;
        const ready = tTls ?? connected;
        const first = tFirstByte ?? tEnd;
        done(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          certExpiry,
          httpVersion: res.httpVersion,
          tlsVersion,
          phases: {
            resolve: (tResolved - t0) / 1000,
            connect: (connected - tResolved) / 1000,
            tls: (ready - connected) / 1000,
            processing: (first - ready) / 1000,
            transfer: (tEnd - first) / 1000,
          },
        });
      });
    });
    req.end();
  });
}

export interface ProbeOutcome {
  success: boolean;
  /** Why it failed, for the log; never a label. */
  reason?: string;
  durationSeconds: number;
  status: number;
  phases: Record<Phase, number>;
  redirects: number;
  ssl: boolean;
  contentLength: number;
  certExpiry?: number;
  /** Of the final response; 0 without one. */
  httpVersion: number;
  tlsVersion?: string;
  /** Name resolution of the first request (blackbox resolves the target once, before it). */
  dnsLookupSeconds: number;
  failedDueToRegex?: boolean;
  agents?: { agent: string; state: string; running: boolean }[];
}

/** Runs one probe within `timeoutMs`; never throws (a failure is an outcome with a reason). */
export async function runProbe(p: HttpProbeConfig, timeoutMs: number): Promise<ProbeOutcome> {
  const started = performance.now();
  const phases: Record<Phase, number> = { resolve: 0, connect: 0, tls: 0, processing: 0, transfer: 0 };
  const out: ProbeOutcome = {
    success: false,
    durationSeconds: 0,
    status: 0,
    phases,
    redirects: 0,
    ssl: false,
    contentLength: -1,
    httpVersion: 0,
    dnsLookupSeconds: 0,
  };
  const finish = (reason?: string) => {
    out.durationSeconds = (performance.now() - started) / 1000;
    out.success = reason === undefined;
    if (reason !== undefined) out.reason = reason;
    return out;
  };
  if (timeoutMs <= 0) return finish('no time left before the scrape deadline');

  let url = new URL(p.url);
  let method: string = p.method;
  let headers = { ...p.headers };
  let ex: Exchange;
  for (;;) {
    const left = timeoutMs - (performance.now() - started);
    try {
      if (left <= 0) throw new ProbeFailure(`timed out after ${Math.round(timeoutMs)} ms`);
      ex = await exchange(url, p, method, headers, left);
    } catch (err) {
      return finish(err instanceof Error ? err.message : String(err));
    }
    if (out.redirects === 0) out.dnsLookupSeconds = ex.phases.resolve;
    for (const ph of PHASES) phases[ph] += ex.phases[ph];
    if (ex.certExpiry !== undefined)
      out.certExpiry = out.certExpiry === undefined ? ex.certExpiry : Math.min(out.certExpiry, ex.certExpiry);
    const location = ex.headers.location;
    if (!p.follow_redirects || ![301, 302, 303, 307, 308].includes(ex.status) || !location) break;
    if (out.redirects >= MAX_REDIRECTS) return finish(`more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      return finish(`redirect to unsupported scheme ${next.protocol}`);
    // Credentials in custom headers stay with the origin they were configured for.
    if (next.origin !== url.origin) headers = {};
    if (ex.status === 303) method = 'GET';
    url = next;
    out.redirects++;
  }
  out.status = ex.status;
  out.ssl = url.protocol === 'https:';
  out.httpVersion = Number(ex.httpVersion) || 0;
  out.tlsVersion = ex.tlsVersion;
  const cl = Number(ex.headers['content-length']);
  out.contentLength = Number.isFinite(cl) && ex.headers['content-length'] !== undefined ? cl : -1;

  const statusReason = statusFailure(ex.status, p.expected_status);
  if (statusReason) return finish(statusReason);
  const body = ex.body.toString('utf8');
  if (p.body_regex || p.body_not_regex) {
    const bodyReason = bodyFailure(body, p.body_regex, p.body_not_regex);
    out.failedDueToRegex = bodyReason !== undefined;
    if (bodyReason) return finish(bodyReason);
  }
  if (p.json_checks.length || p.agents) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch (err) {
      return finish(`body is not JSON: ${(err as Error).message}`);
    }
    const jsonReason = jsonFailure(doc, p.json_checks);
    if (jsonReason) return finish(jsonReason);
    if (p.agents) {
      const states = parseAgentStates(doc);
      if (!states) return finish('body has no recognisable list of agents and states');
      const running = new Set(p.agents.running_states.map((s) => s.toLowerCase()));
      out.agents = states.map((s) => ({ ...s, running: running.has(s.state.trim().toLowerCase()) }));
      if (p.agents.require_running && !out.agents.some((a) => a.running))
        return finish('no agent is running');
    }
  }
  return finish();
}

/**
 * A blackbox_exporter-style HTTP probe of one configured target. Each scrape runs the probe
 * on a fresh connection; its timeout is capped by the scrape deadline so `probe_success 0`
 * is reported in time. Why a probe failed goes to the log, once per change of reason.
 */
export class HttpProbeCollector implements Collector {
  readonly name: string;
  readonly target: string;
  private lastReason: string | undefined;

  constructor(private readonly p: HttpProbeConfig) {
    this.name = `probe/${p.name}`;
    this.target = p.name;
  }

  async collect(ctx: ScrapeContext): Promise<MetricFamily[]> {
    const timeout = Math.min(this.p.timeout, remainingMs(ctx) - DEADLINE_MARGIN_MS);
    const o = await runProbe(this.p, timeout);
    this.logOutcome(o, ctx);
    return this.families(o);
  }

  failureFamilies(): MetricFamily[] {
    return [gauge('probe_success', 'Whether the probe succeeded.').add({ target: this.target }, 0)];
  }

  private logOutcome(o: ProbeOutcome, ctx: ScrapeContext): void {
    const fields = { probe: this.p.name, url: redactUrl(this.p.url), status: o.status, reason: o.reason };
    if (o.reason !== this.lastReason) {
      if (o.reason !== undefined) ctx.logger.warn(fields, 'probe failed');
      else ctx.logger.info({ probe: this.p.name }, 'probe succeeded again');
    } else if (o.reason !== undefined) {
      ctx.logger.debug(fields, 'probe failed');
    }
    this.lastReason = o.reason;
    const cap = this.p.agents?.max_agents;
    if (o.agents && cap !== undefined && o.agents.length > cap)
      ctx.logger.warn(
        { probe: this.p.name, agents: o.agents.length, max_agents: cap },
        'agents beyond max_agents dropped',
      );
  }

  private families(o: ProbeOutcome): MetricFamily[] {
    const target = this.target;
    const t = { target };
    const out: MetricFamily[] = [
      gauge('probe_success', 'Whether the probe succeeded.').add(t, o.success ? 1 : 0),
      gauge('probe_duration_seconds', 'How long the probe took to complete in seconds.').add(
        t,
        o.durationSeconds,
      ),
      gauge('probe_http_status_code', 'Response HTTP status code (0 when there was no response).').add(
        t,
        o.status,
      ),
      gauge('probe_http_redirects', 'The number of redirects.').add(t, o.redirects),
      gauge('probe_http_version', 'Returns the version of HTTP of the probe response (0 without one).').add(
        t,
        o.httpVersion,
      ),
      gauge('probe_dns_lookup_time_seconds', 'Returns the time taken for probe dns lookup in seconds.').add(
        t,
        o.dnsLookupSeconds,
      ),
      gauge('probe_http_ssl', 'Indicates if SSL was used for the final redirect.').add(t, o.ssl ? 1 : 0),
      gauge('probe_http_content_length', 'Length of HTTP content response (-1 when unknown).').add(
        t,
        o.contentLength,
      ),
    ];
    const phases = gauge(
      'probe_http_duration_seconds',
      'Duration of http request by phase, summed over all redirects.',
    );
    for (const phase of PHASES) phases.add({ target, phase }, o.phases[phase]);
    out.push(phases);
    if (o.certExpiry !== undefined)
      out.push(
        gauge('probe_ssl_earliest_cert_expiry', 'Returns last SSL chain expiry in unixtime.').add(
          t,
          o.certExpiry,
        ),
      );
    if (o.tlsVersion !== undefined)
      out.push(
        gauge('probe_tls_version_info', 'Returns the TLS version used or NaN when unknown.').add(
          { target, version: o.tlsVersion },
          1,
        ),
      );
    if (o.failedDueToRegex !== undefined)
      out.push(
        gauge('probe_failed_due_to_regex', 'Indicates if probe failed due to regex.').add(
          t,
          o.failedDueToRegex ? 1 : 0,
        ),
      );
    if (o.agents && this.p.agents) {
      const running = gauge(
        'probe_agent_running',
        'Whether an agent listed by the probed status endpoint is running (1) or not (0).',
      );
      const state = gauge(
        'probe_agent_state',
        'State of an agent listed by the probed status endpoint (always 1).',
      );
      const cap = this.p.agents.max_agents;
      for (const a of o.agents.slice(0, cap)) {
        const agent = agentLabel(a.agent);
        running.add({ target, agent }, a.running ? 1 : 0);
        state.add({ target, agent, state: stateLabel(a.state) }, 1);
      }
      out.push(
        running,
        state,
        gauge('probe_agents', 'Number of agents listed by the probed status endpoint.').add(
          t,
          o.agents.length,
        ),
      );
    }
    return out;
  }
}
