import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { ChannelName, ReceiverConfig } from '../config/receiver.js';
import { scrubSecrets, urlPassword } from '../secrets.js';
import type { Config } from '../config/schema.js';
import { errorText, type Logger } from '../logger.js';
import type { Channel } from './channels/channel.js';
import { ConsoleChannel } from './channels/console.js';
import { EmailChannel } from './channels/email.js';
import { SlackChannel } from './channels/slack.js';
import { ContactBook } from './contacts.js';
import type { Labels } from './matchers.js';
import { ReceiverMetrics } from './metrics.js';
import { planEscalation, planWebhook } from './plan.js';
import type { Webhook } from './payload.js';
import { Redactor } from './redact.js';
import { routeTest, Router, type RouteTestResult } from './routing.js';
import { compileSilence, mutedBy, normaliseMatchers, type ActiveSilence, type Silence } from './silences.js';
import { PgStore } from './pg-store.js';
import { SqliteStore, type AlertStore } from './store.js';
import type {
  DeliveryResult,
  IngestRecord,
  Job,
  JobStatus,
  NotificationContent,
  RecordOutcome,
} from './types.js';
import { DeliveryWorker } from './worker.js';

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** Everything derived from the receiver configuration; swapped as a whole on reload. */
interface Setup {
  cfg: ReceiverConfig;
  router: Router;
  book: ContactBook;
  redactor: Redactor;
  configSilences: ActiveSilence[];
  email: Channel;
  slack?: SlackChannel;
  slackConsole: Channel;
  mailDomain: string;
}

export function mailDomainOf(from: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m?.[1] ?? 'stackwatch.local';
}

function buildSetup(cfg: ReceiverConfig, logger: Logger): Setup {
  const email: Channel = cfg.email.smtp_url
    ? new EmailChannel({
        smtpUrl: cfg.email.smtp_url,
        from: cfg.email.from,
        concurrency: cfg.email.concurrency,
        timeoutMs: cfg.email.timeout,
        insecureSkipVerify: cfg.email.tls_insecure_skip_verify,
        requireTls: cfg.email.require_tls,
      })
    : new ConsoleChannel('email', logger);
  const receiverUrls = new Map<string, string>();
  for (const r of cfg.receivers) if (r.slack_webhook_url) receiverUrls.set(r.name, r.slack_webhook_url);
  const slack =
    cfg.slack.webhook_url || receiverUrls.size
      ? new SlackChannel(cfg.slack.webhook_url, cfg.slack.timeout, receiverUrls)
      : undefined;
  return {
    cfg,
    router: new Router(cfg),
    book: new ContactBook(cfg),
    redactor: new Redactor(cfg.redact),
    configSilences: cfg.maintenance_windows.map((w, i) =>
      compileSilence({
        id: `config-${i}${w.name ? `-${w.name}` : ''}`,
        matchers: normaliseMatchers(w.matchers),
        startsAt: Date.parse(w.starts_at),
        endsAt: Date.parse(w.ends_at),
        comment: w.comment,
        createdBy: 'config',
        source: 'config',
      }),
    ),
    email,
    slack,
    slackConsole: new ConsoleChannel('slack', logger),
    mailDomain: mailDomainOf(cfg.email.from),
  };
}

interface Pending {
  rec: IngestRecord;
  resolve: (o: RecordOutcome) => void;
  reject: (e: unknown) => void;
}

export interface ReceiverOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  /** Overrides config.data_dir. */
  dataDir?: string;
  /** A store to use instead of SQLite under the data dir. */
  store?: AlertStore;
  now?: () => number;
}

/**
 * The alert receiver: parse → route → render → record → deliver. Ingest records planned jobs
 * durably (group commit) before answering; a worker delivers them; an escalation check and a
 * housekeeping pass run in the background.
 */
export class AlertReceiver {
  readonly metrics: ReceiverMetrics;
  private setup: Setup;
  private store?: AlertStore;
  private apiSilences: ActiveSilence[] = [];
  private readonly worker: DeliveryWorker;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly logger: Logger;
  private readonly now: () => number;
  private stopped = false;
  private opening?: Promise<boolean>;
  /** Why the outbox last failed to open, password-free; cleared when it opens. */
  private openError?: string;

  constructor(private readonly opts: ReceiverOptions) {
    this.logger = opts.logger.child({ component: 'receiver' });
    this.now = opts.now ?? Date.now;
    this.setup = buildSetup(opts.config.receiver, this.logger);
    this.store = opts.store;
    this.metrics = new ReceiverMetrics(opts.registry, async () => this.store?.counts());
    this.worker = new DeliveryWorker({
      store: () => this.store,
      channelFor: (job) => this.channelFor(job),
      policy: () => this.setup.cfg.retry,
      concurrency: () => ({
        email: this.setup.cfg.email.concurrency,
        slack: this.setup.cfg.slack.concurrency,
      }),
      metrics: this.metrics,
      logger: this.logger,
      now: this.now,
    });
  }

  get config(): ReceiverConfig {
    return this.setup.cfg;
  }

  get dataDir(): string {
    return this.opts.dataDir ?? this.opts.config.data_dir;
  }

  /** Opens the configured outbox; false (logged) when it cannot, and webhooks get 503 until it can. */
  private openStore(): Promise<boolean> {
    if (this.store) return Promise.resolve(true);
    this.opening ??= this.tryOpenStore().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async tryOpenStore(): Promise<boolean> {
    const st = this.setup.cfg.store;
    const where =
      st.type === 'postgres' ? { store: 'postgres', schema: st.schema } : { data_dir: this.dataDir };
    try {
      this.store =
        st.type === 'postgres'
          ? await PgStore.open({ dsn: st.dsn as string, schema: st.schema, claimTimeoutMs: st.claim_timeout })
          : new SqliteStore(this.dataDir);
      this.openError = undefined;
      this.logger.info(where, 'outbox opened');
      return true;
    } catch (err) {
      this.openError = scrubSecrets(errorText(err), [st.dsn && urlPassword(st.dsn)]);
      this.logger.error(
        { ...where, err: this.openError },
        'cannot open the outbox; webhooks are answered 503 until it opens',
      );
      return false;
    }
  }

  /**
   * Why webhooks cannot be accepted now (for `/-/ready`), or undefined when they can. Tries to
   * open a closed outbox first, so readiness returns as soon as the cause is fixed.
   */
  async notReadyReason(): Promise<string | undefined> {
    if (this.stopped) return 'the receiver is shutting down';
    if (await this.openStore()) return undefined;
    const st = this.setup.cfg.store;
    const where = st.type === 'postgres' ? `postgres schema ${st.schema}` : `data_dir ${this.dataDir}`;
    return `the outbox cannot be opened (${where}): ${this.openError ?? 'unknown error'}`;
  }

  async start(): Promise<void> {
    await this.openStore();
    if (this.store) await this.loadSilences();
    this.logStartup();
    this.worker.start();
    const cfg = this.setup.cfg;
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(
        () => void fn().catch((err) => this.logger.error({ err: errorText(err) }, 'background task failed')),
        ms,
      );
      t.unref();
      this.timers.push(t);
    };
    every(Math.max(100, cfg.escalation.check_interval), async () => void (await this.checkEscalations()));
    // Replicas sharing a PostgreSQL outbox see each other's maintenance windows within seconds.
    if (cfg.store.type === 'postgres') every(10_000, async () => this.loadSilences());
    every(60_000, async () => {
      if (!this.store && (await this.openStore())) await this.loadSilences();
      await this.store?.prune(this.now(), this.setup.cfg.retention, this.setup.cfg.dedup_window);
    });
  }

  private logStartup(): void {
    const cfg = this.setup.cfg;
    if (!cfg.webhook_token)
      this.logger.warn(
        'receiver.webhook_token (STACKWATCH_WEBHOOK_TOKEN) is not set: the webhook accepts unauthenticated posts',
      );
    if (!cfg.api_token && !cfg.webhook_token)
      this.logger.warn('receiver.api_token is not set: the /api/v1 read/operate API refuses every request');
    this.logger.info(
      {
        email: this.setup.email.console ? 'console' : 'smtp',
        slack: this.setup.slack ? 'webhook' : 'console',
        receivers: cfg.receivers.map((r) => r.name),
      },
      'alert receiver ready',
    );
  }

  /** Applies a new configuration; old channels close after their deliveries finish. */
  reload(config: Config): void {
    const old = this.setup;
    this.setup = buildSetup(config.receiver, this.logger);
    setTimeout(() => {
      void old.email.close();
      void old.slack?.close();
    }, 30_000).unref();
    this.worker.wake();
  }

  private channelFor(job: Job): Channel {
    if (job.channel === 'email') return this.setup.email;
    const slack = this.setup.slack;
    return slack && slack.urlFor(job) ? slack : this.setup.slackConsole;
  }

  private silences(): ActiveSilence[] {
    return [...this.setup.configSilences, ...this.apiSilences];
  }

  private async loadSilences(): Promise<void> {
    if (!this.store) return;
    this.apiSilences = (await this.store.listSilences()).map(compileSilence);
  }

  /** Plans a webhook (route, contacts, mute, dedup) and records it durably; resolves after commit. */
  async ingest(w: Webhook): Promise<RecordOutcome> {
    if (this.stopped) throw new StoreUnavailableError('the receiver is shutting down');
    if (!this.store && !(await this.openStore()))
      throw new StoreUnavailableError('the outbox is not available');
    const s = this.setup;
    const rec = planWebhook(w, {
      router: s.router,
      book: s.book,
      redactor: s.redactor,
      silences: this.silences(),
      now: this.now(),
      mailDomain: s.mailDomain,
    });
    const outcome = await new Promise<RecordOutcome>((resolve, reject) => {
      this.queue.push({ rec, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
    if (outcome.recorded > outcome.muted) this.worker.wake();
    return outcome;
  }

  /** Group commit: every webhook parsed in this turn of the event loop shares one transaction. */
  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      const store = this.store;
      if (!store) throw new StoreUnavailableError('the outbox is not available');
      const outcomes = await store.record(
        batch.map((p) => p.rec),
        this.now(),
        this.setup.cfg.dedup_window,
      );
      batch.forEach((p, i) => p.resolve(outcomes[i] as RecordOutcome));
    } catch (err) {
      this.logger.error(
        { err: errorText(err), webhooks: batch.length },
        'could not record webhooks; answering 503',
      );
      for (const p of batch) p.reject(err);
    }
  }

  /** Enqueues one escalation per critical group firing longer than `escalation.after`. */
  async checkEscalations(): Promise<number> {
    const s = this.setup;
    const store = this.store;
    if (!s.cfg.escalation.enabled || !store) return 0;
    const now = this.now();
    let n = 0;
    for (const g of await store.escalationCandidates(now, s.cfg.escalation.after)) {
      const jobs = planEscalation(g, {
        book: s.book,
        silences: this.silences(),
        now,
        role: s.cfg.escalation.role,
        channels: s.cfg.escalation.channels,
        afterMs: s.cfg.escalation.after,
        mailDomain: s.mailDomain,
      });
      const out = await store.recordEscalation(g.groupKey, jobs, now, s.cfg.dedup_window);
      n += out.recorded;
      if (out.recorded)
        this.logger.info(
          { group: g.groupKey, jobs: out.recorded },
          'critical alert escalated to the Tech Lead',
        );
    }
    if (n) this.worker.wake();
    return n;
  }

  routeTest(labels: Labels): RouteTestResult {
    const s = this.setup;
    const result = routeTest(s.router, s.book, labels);
    const muted = mutedBy(this.silences(), labels, this.now());
    return muted.length ? { ...result, muted_by: muted } : result;
  }

  contacts() {
    return this.setup.book.contacts;
  }

  async listNotifications(status: JobStatus | undefined, limit: number): Promise<Job[]> {
    if (!this.store) throw new StoreUnavailableError('the outbox is not available');
    return this.store.list({ status, limit });
  }

  async getNotification(id: number): Promise<Job | undefined> {
    if (!this.store) throw new StoreUnavailableError('the outbox is not available');
    return this.store.get(id);
  }

  /** Re-drives a dead letter; undefined when there is no such dead letter. */
  async retry(id: number): Promise<Job | undefined> {
    if (!this.store) throw new StoreUnavailableError('the outbox is not available');
    const job = await this.store.redrive(id, this.now());
    if (job) {
      this.logger.info({ id }, 'dead letter re-driven');
      this.worker.wake();
    }
    return job;
  }

  listSilences(): Silence[] {
    const strip = ({ compiled: _c, ...s }: ActiveSilence): Silence => s;
    return this.silences().map(strip);
  }

  async addSilence(input: {
    matchers: string[];
    startsAt: number;
    endsAt: number;
    comment: string;
    createdBy: string;
  }): Promise<Silence> {
    if (!this.store) throw new StoreUnavailableError('the outbox is not available');
    const s: Silence = { id: randomUUID(), source: 'api', ...input };
    compileSilence(s); // throws on a bad matcher before anything is stored
    await this.store.addSilence(s);
    await this.loadSilences();
    this.logger.info({ id: s.id, matchers: s.matchers }, 'maintenance window created');
    return s;
  }

  async deleteSilence(id: string): Promise<boolean> {
    if (!this.store) throw new StoreUnavailableError('the outbox is not available');
    const ok = await this.store.deleteSilence(id);
    if (ok) await this.loadSilences();
    return ok;
  }

  /** Sends one test notification through each configured channel directly (not through the outbox). */
  async sendTest(): Promise<
    { channel: ChannelName; mode: string; recipients: string[]; result: DeliveryResult }[]
  > {
    return sendTestNotifications(this.setup, false);
  }

  /** Finishes in-flight deliveries (bounded), then closes channels and the store. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.flush();
    await this.worker.stop(graceMs);
    await Promise.allSettled([this.setup.email.close(), this.setup.slack?.close()]);
    await this.store?.close();
    this.store = undefined;
    ReceiverMetrics.remove(this.opts.registry);
  }
}

export function testContent(cfg: ReceiverConfig, receiver: string): NotificationContent {
  const now = new Date().toISOString();
  return {
    kind: 'test',
    status: 'firing',
    groupKey: 'stackwatch-test',
    receiver,
    amReceiver: '',
    groupLabels: {},
    commonLabels: { alertname: 'StackwatchTest', severity: 'info' },
    commonAnnotations: { summary: 'Test notification from stackwatch.' },
    externalURL: '',
    truncatedAlerts: 0,
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'StackwatchTest', severity: 'info' },
        annotations: { summary: 'Test notification from stackwatch.' },
        startsAt: now,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: 'stackwatch-test',
      },
    ],
    contacts: new ContactBook(cfg).responsible([]),
  };
}

async function sendTestNotifications(s: Setup, close: boolean) {
  const cfg = s.cfg;
  const out: { channel: ChannelName; mode: string; recipients: string[]; result: DeliveryResult }[] = [];
  // The default receiver's email recipients; Slack to the default webhook.
  const def = s.router.receivers.get(cfg.route.receiver ?? '') ?? cfg.receivers[0];
  const recipients = s.book.resolveRecipients(
    def?.recipients.length ? def.recipients : cfg.receivers.flatMap((r) => r.recipients),
  );
  const content = testContent(cfg, def?.name ?? 'test');
  const base = { content, receiver: content.receiver, messageId: null, inReplyTo: null };
  out.push({
    channel: 'email',
    mode: s.email.console ? 'console' : 'smtp',
    recipients,
    result: await s.email.deliver({ ...base, recipients }),
  });
  const slackJob = { ...base, recipients: ['slack'] };
  const slack = s.slack && s.slack.urlFor(slackJob) ? s.slack : s.slackConsole;
  out.push({
    channel: 'slack',
    mode: slack.console ? 'console' : 'webhook',
    recipients: ['slack'],
    result: await slack.deliver(slackJob),
  });
  if (close) await Promise.allSettled([s.email.close(), s.slack?.close()]);
  return out;
}

/** For the CLI: build just enough to route-test or send-test without starting the service. */
export function offlineReceiver(config: Config, logger: Logger) {
  const setup = buildSetup(config.receiver, logger);
  return {
    routeTest: (labels: Labels) => {
      const result = routeTest(setup.router, setup.book, labels);
      const muted = mutedBy(setup.configSilences, labels, Date.now());
      return muted.length ? { ...result, muted_by: muted } : result;
    },
    sendTest: () => sendTestNotifications(setup, true),
  };
}
