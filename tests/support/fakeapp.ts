// The agent platform's API as far as stackwatch sees it: health endpoints, /api/agents/status
// and the application metrics of SPEC §1.3 (prom-client). The only fake in the exporter's tests.
// In a test: `const app = await startFakeApp()`; from a shell:
// `npx tsx tests/support/fakeapp.ts --port 8080` (controlled through POST /-/control).
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { pathToFileURL } from 'node:url';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { freePort } from './util.js';

export interface RouteReply {
  status?: number;
  body?: string;
  contentType?: string;
  /** Answer after this many milliseconds. */
  delayMs?: number;
  /** Accept the request and never answer. */
  hang?: boolean;
}

export const HEALTH_PATHS = ['/health', '/health/db', '/health/redis'] as const;
export const AGENTS_PATH = '/api/agents/status';

export interface FakeAppOptions {
  port?: number;
  /** PEM key and certificate: serve HTTPS. */
  tls?: { key: string; cert: string };
  agents?: Record<string, string>;
}

export interface AppMetrics {
  registry: Registry;
  tasksTotal: Counter;
  tasksCompleted: Counter;
  tasksFailed: Counter;
  tasksActive: Gauge;
  taskDuration: Histogram;
  llmCalls: Counter;
  llmErrors: Counter;
  llmDuration: Histogram;
  cpu: Gauge;
  memory: Gauge;
  httpDuration: Histogram<'method' | 'route' | 'code'>;
}

export interface FakeAppHandle {
  url: string;
  port: number;
  metrics: AppMetrics;
  /** Replies of one path (merged over the default `200 {"status":"ok"}`). */
  setRoute: (path: string, reply: RouteReply) => void;
  /** Agents and their states, served as `{"agents":[{"name","status"}]}`. */
  setAgents: (agents: Record<string, string>) => void;
  /** Back to healthy routes and the initial agents. */
  reset: () => void;
  /** Requests received per path. */
  hits: (path: string) => number;
  close: () => Promise<void>;
}

/** The application metrics of SPEC §1.3 with the names the rules and dashboards use. */
export function createAppMetrics(): AppMetrics {
  const registry = new Registry();
  const r = [registry];
  // Counters without the _total suffix are named as the platform exports them; prom-client
  // appends nothing to counter names, so the exposed series are exactly these names.
  return {
    registry,
    tasksTotal: new Counter({ name: 'agent_tasks_total', help: 'Agent tasks started.', registers: r }),
    tasksCompleted: new Counter({
      name: 'agent_tasks_completed',
      help: 'Agent tasks completed.',
      registers: r,
    }),
    tasksFailed: new Counter({ name: 'agent_tasks_failed', help: 'Agent tasks failed.', registers: r }),
    tasksActive: new Gauge({ name: 'agent_tasks_active', help: 'Agent tasks running now.', registers: r }),
    taskDuration: new Histogram({
      name: 'agent_task_duration',
      help: 'Agent task duration in seconds.',
      buckets: [1, 5, 10, 30, 60, 120, 300],
      registers: r,
    }),
    llmCalls: new Counter({ name: 'llm_api_calls_total', help: 'LLM API calls.', registers: r }),
    llmErrors: new Counter({
      name: 'llm_api_errors_total',
      help: 'LLM API calls that failed.',
      registers: r,
    }),
    llmDuration: new Histogram({
      name: 'llm_api_duration_seconds',
      help: 'LLM API call duration in seconds.',
      buckets: [0.5, 1, 2, 5, 10, 30],
      registers: r,
    }),
    cpu: new Gauge({ name: 'system_cpu_usage', help: 'CPU usage ratio (0-1).', registers: r }),
    memory: new Gauge({ name: 'system_memory_usage', help: 'Memory usage ratio (0-1).', registers: r }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'API request duration in seconds.',
      labelNames: ['method', 'route', 'code'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: r,
    }),
  };
}

const DEFAULT_AGENTS: Record<string, string> = { planner: 'running', coder: 'running', reviewer: 'running' };

/** Body of POST /-/control: the same levers a test has in-process. */
export interface ControlRequest {
  route?: string;
  reply?: RouteReply;
  agents?: Record<string, string>;
  reset?: boolean;
  /** Counter increments and gauge values by metric name. */
  inc?: Record<string, number>;
  set?: Record<string, number>;
  /** Histogram observations by metric name. */
  observe?: Record<string, number[]>;
  /** Recorded API requests: `count` requests with `code` taking `seconds` each. */
  requests?: { code: string; seconds: number; count: number; route?: string; method?: string }[];
}

export function applyControl(m: AppMetrics, c: ControlRequest): void {
  const byName = new Map<string, Counter | Gauge | Histogram>([
    ['agent_tasks_total', m.tasksTotal],
    ['agent_tasks_completed', m.tasksCompleted],
    ['agent_tasks_failed', m.tasksFailed],
    ['agent_tasks_active', m.tasksActive],
    ['agent_task_duration', m.taskDuration],
    ['llm_api_calls_total', m.llmCalls],
    ['llm_api_errors_total', m.llmErrors],
    ['llm_api_duration_seconds', m.llmDuration],
    ['system_cpu_usage', m.cpu],
    ['system_memory_usage', m.memory],
  ]);
  const metric = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new Error(`unknown metric ${name}`);
    return found;
  };
  for (const [name, v] of Object.entries(c.inc ?? {})) (metric(name) as Counter | Gauge).inc(v);
  for (const [name, v] of Object.entries(c.set ?? {})) (metric(name) as Gauge).set(v);
  for (const [name, vs] of Object.entries(c.observe ?? {}))
    for (const v of vs) (metric(name) as Histogram).observe(v);
  for (const r of c.requests ?? [])
    for (let i = 0; i < r.count; i++)
      m.httpDuration.observe(
        { method: r.method ?? 'GET', route: r.route ?? '/api/tasks', code: r.code },
        r.seconds,
      );
}

export async function startFakeApp(opts: FakeAppOptions = {}): Promise<FakeAppHandle> {
  const metrics = createAppMetrics();
  const initialAgents = opts.agents ?? DEFAULT_AGENTS;
  let agents = { ...initialAgents };
  let routes = new Map<string, RouteReply>();
  const hits = new Map<string, number>();
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();

  const defaultBody = (path: string) =>
    path === AGENTS_PATH
      ? JSON.stringify({ agents: Object.entries(agents).map(([name, status]) => ({ name, status })) })
      : JSON.stringify({ status: 'ok' });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    if (path === '/-/control' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      try {
        const c = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ControlRequest;
        if (c.reset) handleApi.reset();
        if (c.route && c.reply) handleApi.setRoute(c.route, c.reply);
        if (c.agents) handleApi.setAgents(c.agents);
        applyControl(metrics, c);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } catch (err) {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: String(err) }));
      }
      return;
    }
    const known = (HEALTH_PATHS as readonly string[]).includes(path) || path === AGENTS_PATH;
    const reply = routes.get(path);
    if (!known && !reply) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const r: RouteReply = { status: 200, contentType: 'application/json', ...reply };
    if (r.hang) {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const started = performance.now();
    const send = () => {
      const status = r.status ?? 200;
      res.writeHead(status, { 'content-type': r.contentType ?? 'application/json' });
      res.end(r.body ?? defaultBody(path));
      metrics.httpDuration.observe(
        { method: req.method ?? 'GET', route: path, code: String(status) },
        (performance.now() - started) / 1000,
      );
    };
    if (r.delayMs) {
      const t = setTimeout(() => {
        timers.delete(t);
        send();
      }, r.delayMs);
      timers.add(t);
    } else send();
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, listener) : createHttpServer(listener);
  const port = opts.port ?? (await freePort());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  const handleApi = {
    setRoute: (path: string, reply: RouteReply) => {
      routes.set(path, reply);
    },
    setAgents: (a: Record<string, string>) => {
      agents = { ...a };
    },
    reset: () => {
      routes = new Map();
      agents = { ...initialAgents };
      for (const res of held) res.destroy();
    },
  };
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    metrics,
    ...handleApi,
    hits: (path) => hits.get(path) ?? 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : undefined;
  const app = await startFakeApp(port ? { port } : {});
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: app.url })}\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
