import type { Registry } from 'prom-client';
import type { ReceiverConfig } from '../config/receiver.js';
import type { Config } from '../config/schema.js';
import { errorText, type Logger } from '../logger.js';
import { Acknowledgements } from './acknowledgement/acknowledgements.js';
import { acknowledging } from './channels/acknowledging.js';
import { GroupCommit } from './ingest/group-commit.js';
import type { Labels } from '../matchers.js';
import { ReceiverMetrics } from './receiver-metrics.js';
import { openOutbox, StoreUnavailableError } from './outbox/open.js';
import type { JobFilter } from './outbox/contract.js';
import type { Webhook } from './ingest/payload.js';
import { muteWebhook } from './ingest/mute.js';
import { planNotifications } from './ingest/plan.js';
import type { RouteTestResult } from './ingest/routing.js';
import { sendTestNotifications, type SendTestResult } from './channels/send-test.js';
import { templatePreview, type TemplatePreview } from './channels/preview.js';
import type { ChannelName } from '../config/receiver.js';
import { buildSetup, channelFor, closeSetup, paceOf, routeTestWith, type Setup } from './setup.js';
import { EscalationCheck } from './escalation.js';
import { WindowList } from './maintenance/window-list.js';
import { OverrideList } from './oncall/override-list.js';
import { calendarFeed, calendarToken, calendarTokenOk } from './oncall/calendar.js';
import type { ScheduleStatus } from './oncall/roster.js';
import type { ScheduleOverride } from './oncall/schedule.js';
import { Incidents } from './incidents/incidents.js';
import { ConsoleToken } from './access/console-token.js';
import type { NextEscalation, OnDuty } from './incidents/on-call.js';
import type { Silence } from './maintenance/windows.js';
import { alertNameOf } from './render/text.js';
import { pipe, type Stage } from './model/stage.js';
import { storableText } from './outbox/storable.js';
import type { AlertStore } from './outbox/contract.js';
import type { IngestRecord, Job, JobStatus, RecordOutcome, WebhookPlan } from './model/notification.js';
import { DeliveryWorker } from './delivery/worker.js';
import { HeartbeatMonitor } from './heartbeat/check.js';
import { HeartbeatMetrics } from './heartbeat/metrics.js';

export { StoreUnavailableError };

/** Longest scan of recent notifications for a filter the outbox has no column for (alert name). */
const SCAN_LIMIT = 5000;

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
 * The alert receiver. Its pipeline, composed in the constructor and drawn in
 * docs/ARCHITECTURE.md: a webhook is planned (plan.ts: route, contacts, dedup key), its alerts
 * under a maintenance window are split off as muted (mute.ts), it is recorded durably with
 * others of the same event-loop turn (group-commit.ts) before the caller is answered, and queued
 * for the delivery worker (worker.ts), which renders each job through its channel
 * (channels/*.ts) and records the result. An escalation check and a
 * housekeeping pass run in the background.
 */
export class AlertReceiver {
  readonly metrics: ReceiverMetrics;
  private setup: Setup;
  private store?: AlertStore;
  readonly acknowledgements: Acknowledgements;
  /** The Now page, incident timelines and postmortem drafts. */
  readonly incidents: Incidents;
  /** The console's first-run token (when neither an API token nor basic auth is configured). */
  readonly consoleToken: ConsoleToken;
  private readonly windows: WindowList;
  private readonly overrides: OverrideList;
  private readonly escalations: EscalationCheck;
  /** The Watchdog's and the jobs' heartbeats. */
  readonly heartbeats: HeartbeatMonitor;
  private readonly worker: DeliveryWorker;
  private readonly recorder: GroupCommit;
  private readonly ingestPipeline: Stage<Webhook, RecordOutcome>;
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
    this.overrides = new OverrideList({
      requireStore: () => this.requireStore(),
      logger: this.logger,
      now: this.now,
    });
    this.setup = buildSetup(opts.config.receiver, this.logger, { overrides: () => this.overrides.list() });
    this.store = opts.store;
    this.metrics = new ReceiverMetrics(opts.registry, {
      counts: async () => this.store?.counts(),
      backlog: {
        stats: async () => this.store?.backlogStats(),
        lanes: () => this.setup.lanes.names,
        now: this.now,
      },
      replicas: () => this.store?.replicas(),
    });
    this.consoleToken = new ConsoleToken({ store: () => this.store, logger: this.logger, now: this.now });
    this.acknowledgements = new Acknowledgements({
      requireStore: () => this.requireStore(),
      config: () => this.setup.cfg,
      consoleToken: () => this.consoleToken.current(),
      logger: this.logger,
      now: this.now,
    });
    this.windows = new WindowList({
      requireStore: () => this.requireStore(),
      configWindows: () => this.setup.configSilences,
      logger: this.logger,
      now: this.now,
    });
    this.incidents = new Incidents({
      requireStore: () => this.requireStore(),
      config: () => this.setup.cfg,
      book: () => this.setup.book,
      roster: () => this.setup.roster,
      policies: () => this.setup.policies,
      windows: () => this.windows.active(),
      now: this.now,
    });
    this.worker = new DeliveryWorker({
      store: () => this.store,
      // Each notification says, as it is delivered, who acknowledged its group (or links to the page).
      channelFor: (job) =>
        acknowledging(channelFor(this.setup, job), (j) => this.acknowledgements.forDelivery(j)),
      policy: () => this.setup.cfg.retry,
      concurrency: () => {
        const cfg = this.setup.cfg;
        return {
          email: cfg.email.concurrency,
          slack: cfg.slack.concurrency,
          dingtalk: cfg.dingtalk.concurrency,
          wecom: cfg.wecom.concurrency,
          feishu: cfg.feishu.concurrency,
          webhook: cfg.webhook.concurrency,
        };
      },
      lanes: () => this.setup.lanes,
      digest: () => this.setup.digest,
      paceOf: (channel, destination) => paceOf(this.setup, channel, destination, this.store?.replicas() ?? 1),
      digestLink: (id) => {
        const base = this.setup.cfg.external_url;
        return base ? `${base}/notifications?digest=${encodeURIComponent(id)}` : undefined;
      },
      mailDomain: () => this.setup.mailDomain,
      // Other replicas record into a shared outbox without waking this one.
      idleMs: () => (this.setup.cfg.store.type === 'postgres' ? 1000 : 30_000),
      metrics: this.metrics,
      logger: this.logger,
      now: this.now,
    });
    this.escalations = new EscalationCheck({
      setup: () => this.setup,
      store: () => this.store,
      acknowledgements: this.acknowledgements,
      windows: () => this.windows.active(),
      loadOverrides: (store) => this.overrides.load(store),
      wake: () => this.worker.wake(),
      metrics: this.metrics,
      logger: this.logger,
    });
    const heartbeatMetrics = new HeartbeatMetrics(opts.registry, () => this.heartbeats.list());
    this.heartbeats = new HeartbeatMonitor({
      setup: () => this.setup,
      store: () => this.store,
      windows: () => this.windows.active(),
      wake: () => this.worker.wake(),
      resolved: (groupKey) => this.groupResolved(groupKey),
      checked: () => heartbeatMetrics.checks.inc(),
      logger: this.logger,
      now: this.now,
    });
    this.recorder = new GroupCommit({
      store: () => this.store,
      dedupWindowMs: () => this.setup.cfg.dedup_window,
      now: this.now,
      logger: this.logger,
    });
    const plan: Stage<Webhook, WebhookPlan> = {
      name: 'plan',
      run: (w) => {
        const s = this.setup;
        return planNotifications(w, {
          router: s.router,
          book: s.book,
          redactor: s.redactor,
          now: this.now(),
          mailDomain: s.mailDomain,
        });
      },
    };
    const mute: Stage<WebhookPlan, IngestRecord> = {
      name: 'mute',
      run: (planned) => {
        const rec = muteWebhook(planned, { silences: this.windows.active(), now: planned.now });
        for (const j of rec.jobs) j.lane = this.setup.lanes.laneOf(j.content);
        return rec;
      },
    };
    const queue: Stage<RecordOutcome, RecordOutcome> = {
      name: 'queue',
      run: (outcome) => {
        // Muted jobs are recorded but never delivered: nothing new for the worker.
        if (outcome.recorded > outcome.muted) this.worker.wake();
        return outcome;
      },
    };
    this.ingestPipeline = pipe(pipe(pipe(plan, mute), this.recorder), queue);
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
    this.opening ??= openOutbox(this.setup.cfg.store, { dataDir: this.dataDir, logger: this.logger })
      .then((opened) => {
        if ('store' in opened) {
          this.store ??= opened.store;
          this.openError = undefined;
        } else this.openError = opened.error;
        return this.store !== undefined;
      })
      .finally(() => (this.opening = undefined));
    return this.opening;
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

  /** The open outbox, for the API calls that need one (answered 503 otherwise). */
  private requireStore(): AlertStore {
    if (!this.store) throw new StoreUnavailableError('the outbox is not available');
    return this.store;
  }

  async start(): Promise<void> {
    await this.openStore();
    if (this.store) await this.loadShared();
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
    every(cfg.heartbeat_check_interval, async () => void (await this.heartbeats.check()));
    // Replicas sharing a PostgreSQL outbox see each other's maintenance windows within seconds.
    if (cfg.store.type === 'postgres') every(10_000, async () => this.loadShared());
    // A rotated console token (or the outbox opening late) is seen within seconds.
    every(10_000, () => this.consoleToken.load());
    every(60_000, async () => {
      if (!this.store && (await this.openStore())) await this.loadShared();
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
        ...Object.fromEntries(
          Object.entries(this.setup.robotChannels).map(([c, ch]) => [c, ch.live ? 'robot' : 'console']),
        ),
        receivers: cfg.receivers.map((r) => r.name),
      },
      'alert receiver ready',
    );
    if (!cfg.external_url)
      this.logger.info('receiver.external_url is not set: notifications carry no Acknowledge link');
  }

  /** Signs Acknowledge links and console sessions. */
  get signingKey(): string {
    return this.acknowledgements.signingKey;
  }

  /** Applies a new configuration; old channels close after their deliveries finish. */
  reload(config: Config): void {
    const old = this.setup;
    this.setup = buildSetup(config.receiver, this.logger, { overrides: () => this.overrides.list() });
    setTimeout(() => void closeSetup(old), 30_000).unref();
    this.worker.wake();
  }

  /** What replicas sharing an outbox share besides jobs: maintenance windows, acknowledgements, overrides. */
  private async loadShared(): Promise<void> {
    await Promise.all([
      this.windows.load(this.store),
      this.acknowledgements.load(),
      this.overrides.load(this.store),
    ]);
  }

  /** Runs a webhook through the ingest pipeline; resolves once its jobs are committed. */
  async ingest(w: Webhook): Promise<RecordOutcome> {
    if (this.stopped) throw new StoreUnavailableError('the receiver is shutting down');
    if (!(await this.openStore())) throw new StoreUnavailableError('the outbox is not available');
    // The Watchdog is recorded as the alert pipeline's heartbeat, never delivered.
    const rest = await this.heartbeats.watchdog(w);
    if (!rest) return { recorded: 0, duplicates: 0, muted: 0 };
    const outcome = await this.ingestPipeline.run(rest);
    if (rest.status === 'resolved') await this.groupResolved(w.groupKey);
    return outcome;
  }

  /** A group that resolved is no longer acknowledged: it may page and escalate again. */
  private groupResolved(groupKey: string): Promise<void> {
    return this.acknowledgements.groupResolved(storableText(this.setup.redactor.groupKey(groupKey)));
  }

  /** Enqueues one escalation per critical group firing longer than `escalation.after`. */
  async checkEscalations(): Promise<number> {
    return this.escalations.run();
  }

  /** The person on duty for a group (incidents/on-call.ts: where on-call schedules plug in). */
  onDutyFor(groupKey: string): Promise<OnDuty | undefined> {
    return this.incidents.onDutyFor(groupKey);
  }

  /** The group's next escalation step and when, unless someone acknowledges it first. */
  nextEscalation(groupKey: string): Promise<NextEscalation | undefined> {
    return this.incidents.nextEscalation(groupKey);
  }

  routeTest(labels: Labels): RouteTestResult {
    return routeTestWith(this.setup, this.windows.active(), labels, this.now());
  }

  /** The contact table now: a role on a schedule names whoever is on duty. */
  contacts() {
    return this.setup.book.contactsAt(this.now());
  }

  /** Each schedule now: on duty, the next handoff, overrides, and `weeks` of shifts. */
  schedules(weeks: number): ScheduleStatus[] {
    const now = this.now();
    return this.setup.roster.names().flatMap((n) => this.setup.roster.status(n, now, weeks) ?? []);
  }

  schedule(name: string, weeks: number): ScheduleStatus | undefined {
    return this.setup.roster.status(name, this.now(), weeks);
  }

  /** People schedules and policies page (for the override forms). */
  people() {
    return this.setup.cfg.people;
  }

  /** Puts a person on duty in a schedule for a window (stored in the outbox). */
  addOverride(input: Parameters<OverrideList['add']>[0]): Promise<ScheduleOverride> {
    return this.overrides.add(input);
  }

  deleteOverride(schedule: string, id: string, by: string): Promise<boolean> {
    return this.overrides.delete(schedule, id, by);
  }

  /** A schedule's shifts as an iCalendar feed, or undefined when there is no such schedule. */
  calendar(name: string, weeks: number): string | undefined {
    const now = this.now();
    const status = this.setup.roster.status(name, now, weeks);
    if (!status) return undefined;
    return calendarFeed({
      schedule: name,
      timeZone: status.timeZone,
      duties: status.shifts,
      person: (id) => this.setup.roster.person(id),
      now,
      domain: this.setup.mailDomain,
    });
  }

  /** The read-only link's token of a schedule's calendar, and its check. */
  calendarToken(name: string): string {
    return calendarToken(this.signingKey, name);
  }

  calendarTokenOk(name: string, token: unknown): boolean {
    return calendarTokenOk(this.signingKey, name, token);
  }

  async listNotifications(status: JobStatus | undefined, limit: number, digest?: string): Promise<Job[]> {
    return this.findNotifications({ status, digest }, limit);
  }

  /** Notifications matching a filter, newest first; the alert name is matched on a bounded scan. */
  async findNotifications(filter: JobFilter & { alertname?: string }, limit: number): Promise<Job[]> {
    const store = this.requireStore();
    const { alertname, ...columns } = filter;
    if (!alertname) return store.list({ ...columns, limit });
    const out: Job[] = [];
    for (const j of await store.list({ ...columns, limit: SCAN_LIMIT })) {
      if (alertNameOf(j.content) === alertname) out.push(j);
      if (out.length >= limit) break;
    }
    return out;
  }

  async counts() {
    return this.requireStore().counts();
  }

  /** Waiting notifications per channel and lane. */
  async backlog() {
    return this.requireStore().backlogStats();
  }

  async getNotification(id: number): Promise<Job | undefined> {
    return this.requireStore().get(id);
  }

  /** Re-drives a dead letter; undefined when there is no such dead letter. */
  async retry(id: number): Promise<Job | undefined> {
    const job = await this.requireStore().redrive(id, this.now());
    if (job) {
      this.logger.info({ id }, 'dead letter re-driven');
      this.worker.wake();
    }
    return job;
  }

  listSilences(): Silence[] {
    return this.windows.list();
  }

  addSilence(input: Parameters<WindowList['add']>[0]): Promise<Silence> {
    return this.windows.add(input);
  }

  /** Ends a maintenance window now, keeping it listed as ended. */
  endSilence(id: string): Promise<boolean> {
    return this.windows.end(id);
  }

  deleteSilence(id: string): Promise<boolean> {
    return this.windows.delete(id);
  }

  /**
   * What each channel of a receiver would send for a sample critical notification or a stored
   * one (`id`), rendered and not sent; undefined when there is no such notification.
   */
  async templateTest(o: {
    receiver?: string;
    channel?: ChannelName;
    id?: number;
  }): Promise<TemplatePreview | undefined> {
    const job = o.id === undefined ? undefined : await this.requireStore().get(o.id);
    if (o.id !== undefined && !job) return undefined;
    return templatePreview(this.setup, { receiver: o.receiver, channel: o.channel, job });
  }

  /** Sends one test notification through each configured channel directly (not through the outbox). */
  async sendTest(): Promise<SendTestResult[]> {
    return sendTestNotifications(this.setup, { closeAfter: false });
  }

  /** Finishes in-flight deliveries (bounded), then closes channels and the store. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.recorder.flush();
    await this.worker.stop(graceMs);
    await closeSetup(this.setup);
    await this.store?.close();
    this.store = undefined;
    ReceiverMetrics.remove(this.opts.registry);
    HeartbeatMetrics.remove(this.opts.registry);
  }
}
