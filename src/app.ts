import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import type { Collector } from './collectors/collector.js';
import { buildCollectors } from './collectors/index.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, errorText, type Logger } from './logger.js';
import { alertsRouter } from './routes/alerts.js';
import { consoleRouter } from './console/router.js';
import { summariseScrape, type ScrapeSummary } from './console/overview.js';
import { apiRouter } from './routes/api.js';
import { heartbeatsRouter } from './routes/heartbeats.js';
import { metricsRouter } from './routes/metrics.js';
import { SelfMetrics } from './selfmetrics.js';
import { PasswordChecker } from './password-check.js';
import { requestOrigin } from './request-origin.js';
import { basicAuth, loadWebConfig, type WebConfig } from './webconfig.js';
import { AlertReceiver } from './alerting/index.js';

export interface StackwatchOptions {
  configFile?: string;
  webConfigFile?: string;
  listenAddress: string;
  /** `--log.level` wins over the config file and LOG_LEVEL. */
  logLevel?: Config['log_level'];
  env?: Record<string, string | undefined>;
}

/**
 * Routes that carry their own auth (bearer tokens, the signed token of an Acknowledge link)
 * or must answer liveness probes unauthenticated.
 */
const BASIC_AUTH_EXEMPT = /^\/(api\/v1\/|-\/healthy$|acknowledge\/)/;

export function parseListenAddress(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new ConfigError(`--web.listen-address: expected [host]:port, got ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2];
  return { host: host || undefined, port: Number(m[3]) };
}

/** The running service: configuration, collectors and HTTP server, with reload and shutdown. */
export class Stackwatch {
  readonly self = new SelfMetrics();
  logger: Logger;
  config: Config;
  collectors: Collector[] = [];
  receiver?: AlertReceiver;
  private server?: Server;
  private web?: WebConfig;
  private ready = false;
  private readonly passwords = new PasswordChecker();
  private lastScrape?: ScrapeSummary;
  private address?: AddressInfo;

  constructor(private readonly opts: StackwatchOptions) {
    // Both throw ConfigError on a bad file; the CLI turns that into exit code 2.
    const warnings: string[] = [];
    const onWarning = (w: string) => warnings.push(w);
    this.config = loadConfig(opts.configFile, opts.env ?? process.env, { onWarning });
    this.logger = createLogger(opts.logLevel ?? this.config.log_level);
    this.web = opts.webConfigFile ? loadWebConfig(opts.webConfigFile, { onWarning }) : undefined;
    for (const w of warnings) this.logger.warn(w);
  }

  /** Re-reads the config file. A bad file keeps the running config and reports failure. */
  async reload(): Promise<{ ok: true } | { ok: false; error: string }> {
    let next: Config;
    let web = this.web;
    try {
      const onWarning = (w: string) => this.logger.warn(w);
      next = loadConfig(this.opts.configFile, this.opts.env ?? process.env, { onWarning });
      // The web config too, as exporter-toolkit re-reads it: new users, passwords or certificate.
      if (this.opts.webConfigFile) {
        web = loadWebConfig(this.opts.webConfigFile, { onWarning });
        if (!!web.tls !== !!this.web?.tls)
          throw new ConfigError(
            `${this.opts.webConfigFile}: turning TLS ${web.tls ? 'on' : 'off'} needs a restart`,
          );
      }
    } catch (err) {
      this.self.recordReload(false);
      const error = errorText(err);
      this.logger.error({ err: error }, 'config reload failed; keeping the running configuration');
      return { ok: false, error };
    }
    const old = this.collectors;
    this.config = next;
    if (web !== this.web) {
      this.web = web;
      if (web?.tls && this.server instanceof HttpsServer) this.server.setSecureContext(web.tls);
    }
    this.logger.level = this.opts.logLevel ?? next.log_level;
    this.collectors = await this.startCollectors(next);
    await closeAll(old, this.logger);
    this.receiver?.reload(next);
    await this.openConsole();
    this.self.recordReload(true);
    this.logger.info({ collectors: this.collectors.map((c) => c.name) }, 'configuration reloaded');
    return { ok: true };
  }

  private async startCollectors(config: Config): Promise<Collector[]> {
    const collectors = await buildCollectors(config, this.logger);
    for (const c of collectors) c.start?.();
    return collectors;
  }

  buildApp(): Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    // Headers and users are read per request, so a reload that changes the web config applies at once.
    app.use((_req, res, next) => {
      for (const [k, v] of Object.entries(this.web?.headers ?? {})) res.setHeader(k, v);
      next();
    });
    app.use(requestOrigin({ allowedHosts: () => this.config.global.allowed_hosts }));
    let auth: { users?: Map<string, string>; check?: RequestHandler } = {};
    app.use((req, res, next) => {
      const users = this.web?.users;
      if (!users) return next();
      if (auth.users !== users)
        auth = {
          users,
          check: basicAuth({ users, exempt: (r) => BASIC_AUTH_EXEMPT.test(r.path), checker: this.passwords }),
        };
      return (auth.check as RequestHandler)(req, res, next);
    });

    app.get('/-/healthy', (_req, res) => void res.type('text/plain').send('Healthy.\n'));
    // About taking traffic (webhooks need the outbox), where /-/healthy is about the process.
    app.get('/-/ready', async (_req, res) => {
      const reason = this.ready ? await this.receiver?.notReadyReason() : 'starting or stopping';
      if (!reason) res.type('text/plain').send('Ready.\n');
      else res.status(503).type('text/plain').send(`Not ready: ${reason}\n`);
    });
    app.post('/-/reload', async (_req, res) => {
      const r = await this.reload();
      if (r.ok) res.json({ status: 'reloaded' });
      else res.status(500).json({ error: r.error });
    });
    const receiver = () => this.receiver;
    app.use(alertsRouter({ receiver, logger: this.logger }));
    app.use(apiRouter({ receiver, logger: this.logger }));
    app.use(heartbeatsRouter({ receiver, logger: this.logger }));
    app.use(
      metricsRouter({
        collectors: () => this.collectors,
        self: this.self,
        logger: this.logger,
        timeouts: () => ({
          offsetMs: this.config.global.scrape_timeout_offset,
          defaultMs: this.config.global.scrape_timeout,
        }),
        onScrape: (result) => (this.lastScrape = summariseScrape(result, Date.now())),
      }),
    );
    app.use(
      consoleRouter({
        receiver,
        basicAuth: () => Boolean(this.web?.users),
        lastScrape: () => this.lastScrape,
        lastReload: () => this.self.lastReload,
        registry: this.self.registry,
        logger: this.logger,
      }),
    );
    return app;
  }

  async start(): Promise<AddressInfo> {
    this.collectors = await this.startCollectors(this.config);
    if (this.config.receiver.enabled) {
      this.receiver = new AlertReceiver({
        config: this.config,
        logger: this.logger,
        registry: this.self.registry,
      });
      await this.receiver.start();
    }
    const app = this.buildApp();
    const server = this.web?.tls ? createHttpsServer(this.web.tls, app) : createHttpServer(app);
    this.server = server;
    // Bound how long a slow client can hold a connection open.
    server.headersTimeout = 30_000;
    server.requestTimeout = 60_000;
    const { host, port } = parseListenAddress(this.opts.listenAddress);
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
    this.ready = true;
    const addr = server.address() as AddressInfo;
    this.address = addr;
    this.logger.info(
      {
        address: addr.address,
        port: addr.port,
        tls: Boolean(this.web?.tls),
        basic_auth: Boolean(this.web?.users),
        collectors: this.collectors.map((c) => c.name),
      },
      'listening',
    );
    await this.openConsole();
    return addr;
  }

  /**
   * The console's first run: with neither an API token nor basic auth, the console signs in
   * with a token stackwatch makes and keeps in the outbox, and the log gets a one-time
   * sign-in link to the configured address, else to this host over loopback.
   */
  private async openConsole(): Promise<void> {
    const r = this.receiver;
    const addr = this.address;
    if (!r || !addr || this.web?.users || r.config.api_token || r.config.webhook_token) return;
    await r.consoleToken.enable(
      r.config.external_url ?? localUrl(addr, this.opts.listenAddress, this.web, this.config),
    );
  }

  /** Stops accepting requests, lets in-flight work finish (bounded), closes collectors. */
  async stop(graceMs = 10_000): Promise<void> {
    this.ready = false;
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    }
    // After the HTTP server: nothing new is accepted, in-flight deliveries finish.
    await this.receiver?.stop(graceMs);
    await closeAll(this.collectors, this.logger);
    await this.passwords.close();
    this.logger.info('stopped');
  }
}

/**
 * This service's address as a browser on this host reaches it: the listen address's host when
 * it names one (the first of `allowed_hosts` when they are set), else `localhost`.
 */
function localUrl(addr: AddressInfo, listen: string, web: WebConfig | undefined, config: Config): string {
  const { host } = parseListenAddress(listen);
  const wildcard = !host || host === '0.0.0.0' || host === '::';
  const name = config.global.allowed_hosts[0] ?? (wildcard ? 'localhost' : host);
  return `${web?.tls ? 'https' : 'http'}://${name.includes(':') ? `[${name}]` : name}:${addr.port}`;
}

async function closeAll(collectors: readonly Collector[], logger: Logger): Promise<void> {
  const results = await Promise.allSettled(collectors.map((c) => c.close?.()));
  results.forEach((r, i) => {
    if (r.status === 'rejected')
      logger.warn({ collector: collectors[i]?.name, err: errorText(r.reason) }, 'collector close failed');
  });
}
