import {
  ROBOT_CHANNELS,
  type ChannelName,
  type ReceiverConfig,
  type RobotChannelName,
} from '../config/receiver.js';
import type { Logger } from '../logger.js';
import type { Channel } from './channels/channel.js';
import { ConsoleChannel } from './channels/console.js';
import { dingtalkService } from './channels/dingtalk.js';
import { EmailChannel } from './channels/email.js';
import { feishuService } from './channels/feishu.js';
import { RobotBook, RobotChannel, type RobotService } from './channels/robot.js';
import { webhookService } from './channels/webhook.js';
import { wecomService } from './channels/wecom.js';
import { SlackChannel } from './channels/slack.js';
import { ContactBook } from './ingest/contacts.js';
import { destinationOf, isRobotChannel, type Destination } from './model/destination.js';
import { SLACK_DIGEST_MAX_LINES } from './render/digest.js';
import type { DigestPolicy, PaceKey } from './delivery/dispatcher.js';
import { Lanes, laneOrderFromRoutes } from './delivery/lanes.js';
import { shareOf } from './delivery/pacing.js';
import type { Labels } from '../matchers.js';
import { Redactor } from './ingest/redact.js';
import { routeTest, Router, type RouteTestResult } from './ingest/routing.js';
import { compileSilence, mutedBy, normaliseMatchers, type ActiveSilence } from './maintenance/windows.js';
import type { Job } from './model/notification.js';
import { Roster } from './oncall/roster.js';
import type { ScheduleOverride } from './oncall/schedule.js';
import { compilePolicies, type Policy } from './escalation/policy.js';

/** Everything derived from the receiver configuration; swapped as a whole on reload. */
export interface Setup {
  cfg: ReceiverConfig;
  router: Router;
  book: ContactBook;
  redactor: Redactor;
  configSilences: ActiveSilence[];
  email: Channel;
  slack?: SlackChannel;
  slackConsole: Channel;
  /** The chat robots and outgoing webhooks of every receiver. */
  robots: RobotBook;
  /** A channel per robot channel: posting to its robots, or the log when none is configured. */
  robotChannels: Record<RobotChannelName, { live?: RobotChannel; console: Channel }>;
  mailDomain: string;
  lanes: Lanes;
  digest: DigestPolicy;
  /** People and schedules: who is on duty. */
  roster: Roster;
  policies: Map<string, Policy>;
}

export interface SetupOptions {
  /** Schedule overrides made at run time (the outbox's), besides the configuration's. */
  overrides?: () => readonly ScheduleOverride[];
}

export function mailDomainOf(from: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m?.[1] ?? 'stackwatch.local';
}

export function buildSetup(cfg: ReceiverConfig, logger: Logger, opts: SetupOptions = {}): Setup {
  const roster = new Roster(cfg, opts.overrides);
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
  const robots = new RobotBook(cfg.receivers);
  const services: Record<RobotChannelName, RobotService> = {
    dingtalk: dingtalkService,
    wecom: wecomService,
    feishu: feishuService,
    webhook: webhookService(() => robots),
  };
  const robotChannel = (c: RobotChannelName) => ({
    live: robots.has(c) ? new RobotChannel(services[c], robots, cfg[c].timeout) : undefined,
    console: new ConsoleChannel(c, logger),
  });
  const robotChannels = Object.fromEntries(ROBOT_CHANNELS.map((c) => [c, robotChannel(c)])) as Record<
    RobotChannelName,
    ReturnType<typeof robotChannel>
  >;
  return {
    cfg,
    router: new Router(cfg),
    book: new ContactBook(cfg, roster),
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
    robots,
    robotChannels,
    mailDomain: mailDomainOf(cfg.email.from),
    lanes: new Lanes({
      enabled: cfg.lanes.enabled,
      label: cfg.lanes.label,
      order: cfg.lanes.order ?? laneOrderFromRoutes(cfg.route, cfg.lanes.label),
      selfMatchers: cfg.lanes.self_matchers,
    }),
    digest: {
      enabled: cfg.digest.enabled,
      backlog: cfg.digest.backlog,
      arrivals: cfg.digest.arrivals,
      windowMs: cfg.digest.window,
      intervalMs: cfg.digest.interval,
      maxItems: cfg.digest.max_items,
      maxUrgentItems: SLACK_DIGEST_MAX_LINES,
    },
    roster,
    policies: compilePolicies(cfg),
  };
}

/**
 * The rate-limit key and budget of a destination: the SMTP server, or a Slack webhook URL.
 * `replicas` replicas sharing one outbox each pace it, so each takes its share of the budget.
 */
export function paceOf(s: Setup, channel: ChannelName, destination: Destination, replicas: number): PaceKey {
  const unpaced = { rate: 0, burst: 1 };
  if (channel === 'email')
    return s.email.console
      ? { key: 'email:console', budget: unpaced }
      : {
          key: 'email:smtp',
          budget: shareOf({ rate: s.cfg.email.rate, burst: s.cfg.email.burst }, replicas),
        };
  if (isRobotChannel(channel)) {
    // The robot's name, not its URL: one budget for every receiver that shares the robot. A
    // name the configuration no longer has (its URL changed) keeps a budget of its own.
    const robot = s.robots.robotFor(channel, { recipients: destination.names, receiver: '' });
    return s.robotChannels[channel].live
      ? {
          key: robot?.name ?? destination.key,
          budget: shareOf({ rate: s.cfg[channel].rate, burst: s.cfg[channel].burst }, replicas),
        }
      : { key: `${channel}:console`, budget: unpaced };
  }
  const url = s.slack?.urlFor(destination);
  return url
    ? { key: `slack:${url}`, budget: shareOf({ rate: s.cfg.slack.rate, burst: s.cfg.slack.burst }, replicas) }
    : { key: 'slack:console', budget: unpaced };
}

/** The channel a job is delivered by: Slack jobs without a webhook URL, robot jobs without a robot go to the log. */
export function channelFor(
  s: Setup,
  job: Pick<Job, 'channel' | 'recipients' | 'slackWebhook'> & { receiver?: string },
): Channel {
  if (job.channel === 'email') return s.email;
  if (isRobotChannel(job.channel)) {
    const c = s.robotChannels[job.channel];
    return c.live?.book.robotFor(job.channel, { recipients: job.recipients, receiver: job.receiver ?? '' })
      ? c.live
      : c.console;
  }
  return s.slack && s.slack.urlFor(destinationOf(job)) ? s.slack : s.slackConsole;
}

/** "Who would be told about these labels?", and which maintenance windows would mute it. */
export function routeTestWith(
  s: Setup,
  silences: readonly ActiveSilence[],
  labels: Labels,
  now: number,
): RouteTestResult {
  const result = routeTest(s.router, s.book, labels);
  const muted = mutedBy(silences, labels, now);
  return muted.length ? { ...result, muted_by: muted } : result;
}

/** Closes the setup's channels (after a reload, or when the service stops). */
export async function closeSetup(s: Setup): Promise<void> {
  await Promise.allSettled([
    s.email.close(),
    s.slack?.close(),
    ...Object.values(s.robotChannels).map((c) => c.live?.close()),
  ]);
}
