import { z } from 'zod';
import { parseMatcher } from '../matchers.js';
import { checkedTemplate, TemplateError } from '../templates/context.js';
import { duration } from './common.js';
import { checkHeartbeats, heartbeatSchema } from './heartbeats.js';
import { checkOncall, escalationPolicySchema, personSchema, scheduleSchema } from './oncall.js';

/** `name` for a label; Prometheus label-name syntax. */
const labelName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a label name ([A-Za-z_][A-Za-z0-9_]*)');

/** A regular expression source, compiled to check it (anchoring is applied where it is used). */
const regexSource = z.string().superRefine((v, ctx) => {
  try {
    new RegExp(v);
  } catch (err) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `invalid regular expression ${JSON.stringify(v)}: ${(err as Error).message}`,
    });
  }
});

/**
 * A label matcher: Alertmanager syntax (`severity="critical"`, `service=~"pg|redis"`) or the
 * structured form `{label, op, value}`. Parsed and checked in src/matchers.ts.
 */
export const matcherInput = z.union([
  z
    .string()
    .min(1)
    .superRefine((v, ctx) => {
      try {
        parseMatcher(v);
      } catch (err) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      }
    }),
  z
    .object({
      label: labelName,
      op: z.enum(['=', '!=', '=~', '!~']).default('='),
      value: z.string(),
    })
    .strict(),
]);
export type MatcherInput = z.infer<typeof matcherInput>;

export interface RouteInput {
  receiver?: string;
  matchers?: MatcherInput[];
  continue?: boolean;
  routes?: RouteInput[];
}

interface RouteRaw {
  receiver?: string;
  matchers?: z.input<typeof matcherInput>[];
  continue?: boolean;
  routes?: RouteRaw[];
}

export const routeSchema: z.ZodType<RouteInput, z.ZodTypeDef, RouteRaw> = z.lazy(() =>
  z
    .object({
      receiver: z.string().min(1).optional(),
      matchers: z.array(matcherInput).optional(),
      continue: z.boolean().optional(),
      routes: z.array(routeSchema).optional(),
    })
    .strict(),
);

export const CHANNELS = ['email', 'slack', 'dingtalk', 'wecom', 'feishu', 'webhook'] as const;
export type ChannelName = (typeof CHANNELS)[number];
/** The channels whose destination is a URL a receiver names: a chat robot, or an HTTP gateway. */
export const ROBOT_CHANNELS = ['dingtalk', 'wecom', 'feishu', 'webhook'] as const;
export type RobotChannelName = (typeof ROBOT_CHANNELS)[number];

/** A recipient: an email address or a contact role (`role:dba`). */
const recipient = z
  .string()
  .regex(
    /^(role:[A-Za-z0-9_-]+|[^\s@<>,;"]+@[^\s@<>,;"]+)$/,
    'must be an email address or role:<contact role>',
  );

const webUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must start with http:// or https://' });

/** An HTTP header name (RFC 9110 token). */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The body's content type as its headers give it (case-insensitive), if they do. */
export function contentTypeOf(headers: Record<string, string>): string | undefined {
  return Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
}

/**
 * The outgoing webhook of a receiver (an SMS or voice gateway): a request whose body is a
 * Liquid template of the notification, checked here so that a template that cannot render is
 * refused when the configuration loads, not at the first alert.
 */
export const outgoingWebhook = z
  .object({
    url: webUrl,
    method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
    /** Request headers; a secret value may come from a file (`Authorization_file: /run/secrets/sms`). */
    headers: z
      .record(z.string().regex(/^[^\r\n]*$/, 'must be one line'))
      .default({})
      .superRefine((h, ctx) => {
        for (const k of Object.keys(h))
          if (!headerName.test(k))
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: [k],
              message: `invalid header name ${JSON.stringify(k)}`,
            });
      }),
    /** The body: a Liquid template (docs/RECEIVER.md lists its variables). */
    body: z.string().min(1),
  })
  .strict()
  .superRefine((w, ctx) => {
    try {
      checkedTemplate(w.body, contentTypeOf(w.headers));
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['body'], message: `template: ${err.message}` });
    }
  });

export const receiverTarget = z
  .object({
    name: z.string().min(1),
    channels: z.array(z.enum(CHANNELS)).default(['email']),
    /** Email recipients: addresses or `role:<role>` from the contact table. */
    recipients: z.array(recipient).default([]),
    /** A Slack incoming-webhook URL for this receiver; defaults to receiver.slack.webhook_url. */
    slack_webhook_url: z.string().url().optional(),
    /** DingTalk custom robot (`https://oapi.dingtalk.com/robot/send?access_token=…`) and its signing secret (`SEC…`). */
    dingtalk_webhook_url: webUrl.optional(),
    dingtalk_secret: z.string().min(1).optional(),
    /** WeCom group robot (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`). */
    wecom_webhook_url: webUrl.optional(),
    /** Feishu custom bot (`https://open.feishu.cn/open-apis/bot/v2/hook/…`) and its signing secret. */
    feishu_webhook_url: webUrl.optional(),
    feishu_secret: z.string().min(1).optional(),
    /** The `webhook` channel's request. */
    webhook: outgoingWebhook.optional(),
    /** The escalation policy that pages people about this receiver's firing groups. */
    escalation_policy: z.string().optional(),
  })
  .strict();

/** The URL field that names a receiver's destination on a robot channel. */
export const ROBOT_URL_FIELD = {
  dingtalk: 'dingtalk_webhook_url',
  wecom: 'wecom_webhook_url',
  feishu: 'feishu_webhook_url',
  webhook: 'webhook',
} as const satisfies Record<RobotChannelName, keyof z.infer<typeof receiverTarget>>;

export const contactSchema = z
  .object({
    role: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be 1+ characters of A-Z a-z 0-9 _ -'),
    title: z.string().min(1),
    name: z.string().min(1),
    phone: z.string().default(''),
    email: z.string().default(''),
    responsibility: z.string().default(''),
    /** The person's Feishu user id (open_id `ou_…` or user_id): critical Feishu messages @mention it. */
    feishu_user_id: z.string().min(1).optional(),
    /** A schedule: the contact is whoever is on duty in it (their name, phone and email). */
    schedule: z.string().optional(),
  })
  .strict();

/** An area rule: label values (split into words) matching `match` make `role` responsible. */
export const areaSchema = z
  .object({
    name: z.string().min(1),
    role: z.string().min(1),
    labels: z.array(labelName).default(['service', 'component', 'job', 'alertname']),
    match: regexSource,
  })
  .strict();

const timestamp = z.string().refine((v) => !Number.isNaN(Date.parse(v)), {
  message: 'must be an RFC 3339 timestamp like 2025-01-31T22:00:00Z',
});

export const maintenanceWindowSchema = z
  .object({
    name: z.string().default(''),
    matchers: z.array(matcherInput).min(1),
    starts_at: timestamp,
    ends_at: timestamp,
    comment: z.string().default(''),
  })
  .strict();

export const DEFAULT_REDACT = 'api_key|apikey|password|passwd|token|secret|authorization|cookie|private_key';

export const DEFAULT_CONTACTS: z.input<typeof contactSchema>[] = [
  {
    role: 'oncall',
    title: 'On-Call',
    name: '值班',
    phone: '13800138000',
    email: 'oncall@company.com',
    responsibility: 'first responder',
  },
  {
    role: 'dba',
    title: 'DBA',
    name: '数据库管理员',
    phone: '13800138001',
    email: 'dba@company.com',
    responsibility: 'database problems',
  },
  {
    role: 'devops',
    title: 'DevOps',
    name: '运维工程师',
    phone: '13800138002',
    email: 'devops@company.com',
    responsibility: 'infrastructure',
  },
  {
    role: 'techlead',
    title: 'Tech Lead',
    name: '技术负责人',
    phone: '13800138003',
    email: 'tech@company.com',
    responsibility: 'technical decisions',
  },
];

export const DEFAULT_AREAS: z.input<typeof areaSchema>[] = [
  { name: 'database', role: 'dba', match: 'postgres|postgresql|pg|database|db|redis|sql' },
  {
    name: 'infrastructure',
    role: 'devops',
    match: 'host|disk|docker|container|containers|node|filesystem|fs|network|cpu|memory|mount',
  },
];

/** The Agent-V3 manual's routing table (SPEC §2.2). */
export const DEFAULT_ROUTE: RouteInput = {
  receiver: 'team-ops',
  routes: [
    { matchers: ['severity="critical"'], receiver: 'team-ops-critical' },
    { matchers: ['severity="warning"'], receiver: 'team-ops-warning' },
  ],
};

export const DEFAULT_RECEIVERS: z.input<typeof receiverTarget>[] = [
  { name: 'team-ops', channels: ['email', 'slack'], recipients: ['ops@your-company.com'] },
  {
    name: 'team-ops-critical',
    channels: ['email', 'slack'],
    recipients: ['ops@your-company.com', 'oncall@your-company.com'],
  },
  { name: 'team-ops-warning', channels: ['email'], recipients: ['ops@your-company.com'] },
];

const concurrency = z.number().int().min(1).max(64);

/** Pacing and client settings of a robot channel, with that service's documented limit as default. */
const robotSection = (d: { rate: number; burst: number; concurrency: number }) =>
  z
    .object({
      /** Messages in flight. */
      concurrency: concurrency.default(d.concurrency),
      /** Messages per second per robot (per URL), with bursts of `burst`; 0 is unpaced. */
      rate: z.number().min(0).default(d.rate),
      burst: z.number().int().min(1).default(d.burst),
      timeout: duration.default('10s'),
    })
    .strict()
    .default({});

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), { message: 'must start with http:// or https://' })
  .transform((u) => u.replace(/\/+$/, ''));

export const receiverSection = z
  .object({
    enabled: z.boolean().default(true),
    /** Bearer token Alertmanager must send; when unset the webhook is open (a warning is logged). */
    webhook_token: z.string().optional(),
    /** Bearer token for /api/v1/notifications, route-test, contacts, silences; defaults to webhook_token. */
    api_token: z.string().optional(),
    /**
     * The address people reach stackwatch at (e.g. https://stackwatch.example.com). With it,
     * firing notifications carry an Acknowledge link and digests link to their full list in the
     * console; without it they carry neither.
     */
    external_url: httpUrl.optional(),
    /** Alertmanager's address (API v2), for the silence an acknowledgement may create. */
    alertmanager_url: httpUrl.optional(),
    acknowledgement: z
      .object({
        /** How long an Acknowledge link stays valid after the notification is sent. */
        link_ttl: duration.default('7d'),
        /**
         * Key that signs Acknowledge links and console sessions; replicas must share it. Unset: one
         * derived from api_token (or webhook_token); with neither, a random key per process.
         */
        secret: z.string().min(16).optional(),
        /** Silence durations offered on the confirm page (the first is preselected). */
        silence_durations: z.array(duration).min(1).default(['1h', '4h', '24h']),
      })
      .strict()
      .default({}),
    /** Largest accepted webhook body. */
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024),
    email: z
      .object({
        /** smtp://user:pass@host:port or smtps://…; unset: mails are printed to the log (console channel). */
        smtp_url: z
          .string()
          .url()
          .refine((u) => /^smtps?:\/\//i.test(u), { message: 'must start with smtp:// or smtps://' })
          .optional(),
        from: z.string().default('stackwatch <stackwatch@localhost>'),
        /** SMTP connections (the pool) and messages started at once. */
        concurrency: concurrency.default(4),
        /** Messages per second to the SMTP server (0: unpaced, the default: set the provider's limit), with bursts of `burst`. */
        rate: z.number().min(0).default(0),
        burst: z.number().int().min(1).default(10),
        timeout: duration.default('30s'),
        /** Accept self-signed certificates on STARTTLS/SMTPS. */
        tls_insecure_skip_verify: z.boolean().default(false),
        /**
         * smtp:// only: refuse to send (nor to log in) unless the server upgrades to TLS with
         * STARTTLS, so a password or a mail never crosses the network in the clear.
         */
        require_tls: z.boolean().default(false),
      })
      .strict()
      .default({}),
    slack: z
      .object({
        /** Incoming-webhook URL; unset: messages are printed to the log (console channel). */
        webhook_url: z.string().url().optional(),
        concurrency: concurrency.default(2),
        /**
         * Messages per second per webhook URL (0: unpaced), with bursts of `burst`. Slack
         * documents about 1 a second with short bursts; a burst of 2 leaves a margin so that
         * network delay cannot land three messages in one second at Slack's end.
         */
        rate: z.number().min(0).default(1),
        burst: z.number().int().min(1).default(2),
        timeout: duration.default('10s'),
      })
      .strict()
      .default({}),
    /**
     * DingTalk custom robots: 20 messages a minute per robot, and past that the robot is refused
     * for 10 minutes (errcode 130101). 15 a minute with bursts of 4 keeps any minute at 19 at most.
     */
    dingtalk: robotSection({ rate: 0.25, burst: 4, concurrency: 2 }),
    /** WeCom group robots: 20 messages a minute per robot (errcode 45009 past it); paced as DingTalk. */
    wecom: robotSection({ rate: 0.25, burst: 4, concurrency: 2 }),
    /**
     * Feishu custom bots: 100 a minute and 5 a second per bot (9499 "too many request", 11232).
     * 1.5 a second with bursts of 3: at most 4 in any second and 93 in any minute.
     */
    feishu: robotSection({ rate: 1.5, burst: 3, concurrency: 2 }),
    /** Outgoing webhooks (SMS and voice gateways): per URL; set the gateway's own limit. */
    webhook: robotSection({ rate: 1, burst: 2, concurrency: 4 }),
    route: routeSchema.default(DEFAULT_ROUTE),
    receivers: z.array(receiverTarget).min(1).default(DEFAULT_RECEIVERS),
    contacts: z.array(contactSchema).default(DEFAULT_CONTACTS),
    areas: z.array(areaSchema).default(DEFAULT_AREAS),
    /** Roles named on every notification that has a critical alert. */
    critical_roles: z.array(z.string()).default(['oncall']),
    /** The people schedules and escalation policies name. */
    people: z.array(personSchema).default([]),
    /** Who is on duty: rotations and overrides in a time zone. */
    schedules: z.array(scheduleSchema).default([]),
    /** Steps that page people until someone acknowledges; a receiver names its policy. */
    escalation_policies: z.array(escalationPolicySchema(z.enum(CHANNELS))).default([]),
    /** A one-step policy for every critical group (see legacyEscalationOn). */
    escalation: z
      .object({
        /** Default: on, unless a receiver names an escalation policy. */
        enabled: z.boolean().optional(),
        /** A critical alert still firing this long after it started is escalated. */
        after: duration.default('30m'),
        role: z.string().default('techlead'),
        /** Escalations go to the role's email address and the default Slack webhook. */
        channels: z.array(z.enum(['email', 'slack'])).default(['email', 'slack']),
        check_interval: duration.default('30s'),
      })
      .strict()
      .default({}),
    maintenance_windows: z.array(maintenanceWindowSchema).default([]),
    retry: z
      .object({
        base: duration.default('1s'),
        factor: z.number().min(1).default(2),
        max_delay: duration.default('5m'),
        /** Fraction of each delay that is randomised (0: none, 1: full jitter). */
        jitter: z.number().min(0).max(1).default(0.5),
        max_attempts: z.number().int().min(1).default(600),
        max_age: duration.default('24h'),
      })
      .strict()
      .default({}),
    store: z
      .object({
        /**
         * sqlite: the outbox on local disk under data_dir, for one replica (independent of the
         * databases it alerts about). postgres: one outbox shared by every replica.
         */
        type: z.enum(['sqlite', 'postgres']).default('sqlite'),
        /** postgres://… (or dsn_file); required with type postgres. */
        dsn: z.string().optional(),
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier')
          .default('stackwatch'),
        /** A replica that claimed a notification and vanished: after this, another replica sends it. */
        claim_timeout: duration.default('5m'),
      })
      .strict()
      .refine((st) => st.type !== 'postgres' || !!st.dsn, {
        message: 'store.type postgres needs store.dsn (or store.dsn_file)',
        path: ['dsn'],
      })
      .default({}),
    /**
     * Severity lanes: due notifications are taken from the most important lane first, per
     * channel and destination. `order` defaults to the severities the routing table matches
     * (`severity="critical"`, then `severity="warning"`).
     */
    lanes: z
      .object({
        enabled: z.boolean().default(true),
        label: labelName.default('severity'),
        order: z.array(z.string().min(1)).optional(),
        /** stackwatch's own alerts: a lane above every severity, so they are not stuck behind a storm. */
        self_matchers: z.array(matcherInput).default(['service="stackwatch"']),
      })
      .strict()
      .default({}),
    /** In a storm, the non-urgent notifications waiting for a destination go out as one digest. */
    digest: z
      .object({
        enabled: z.boolean().default(true),
        /** More than this many waiting for one destination… */
        backlog: z.number().int().min(1).default(5),
        /** …or more than this many recorded for it within `window`. */
        arrivals: z.number().int().min(1).default(10),
        window: duration.default('1m'),
        /** Shortest time between two digests to one destination. */
        interval: duration.default('10s'),
        max_items: z.number().int().min(2).max(5000).default(500),
      })
      .strict()
      .default({}),
    /**
     * The alert pipeline's heartbeat: Prometheus's always-firing Watchdog alert, which Alertmanager
     * sends every minute. Recognised by `matchers`, recorded and never delivered; once it has
     * arrived, stackwatch pages on its own when it stays away longer than `gap`.
     */
    watchdog: z
      .object({
        enabled: z.boolean().default(true),
        matchers: z.array(matcherInput).min(1).default(['alertname="Watchdog"']),
        gap: duration.refine((ms) => ms >= 1000, { message: 'must be at least 1s' }).default('5m'),
        /** The receiver paged; unset: the routing table routes the page by its labels. */
        receiver: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** Heartbeats of jobs (cron jobs, backups), pinged at /api/v1/heartbeats/NAME. */
    heartbeats: z.array(heartbeatSchema).default([]),
    /** How often the Watchdog's gap and the heartbeats' deadlines are checked. */
    heartbeat_check_interval: duration
      .refine((ms) => ms >= 100, { message: 'must be at least 100ms' })
      .default('10s'),
    /** Labels/annotations whose NAME matches this (case-insensitive, unanchored) have their value redacted. */
    redact: regexSource.default(DEFAULT_REDACT),
    /** A second identical notification within this window is a duplicate (HA replicas, retries). */
    dedup_window: duration.default('1h'),
    /** Delivered and muted notifications are kept this long for the API. */
    retention: duration.default('7d'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const names = new Set(r.receivers.map((x) => x.name));
    const walk = (route: RouteInput, path: (string | number)[]) => {
      if (route.receiver !== undefined && !names.has(route.receiver))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [...path, 'receiver'],
          message: `unknown receiver ${JSON.stringify(route.receiver)} (receivers: ${[...names].join(', ')})`,
        });
      route.routes?.forEach((child, i) => walk(child, [...path, 'routes', i]));
    };
    // As in Alertmanager: the top-level route catches everything, so an alert cannot fall through.
    if (r.route.matchers?.length)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['route', 'matchers'],
        message: 'the top-level route matches every alert and takes no matchers; put them on a child route',
      });
    if (r.route.receiver === undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['route', 'receiver'],
        message: 'the top-level route needs a default receiver',
      });
    walk(r.route, ['route']);
    const roles = new Set(r.contacts.map((c) => c.role));
    r.receivers.forEach((rc, i) =>
      rc.recipients.forEach((rec, j) => {
        if (rec.startsWith('role:') && !roles.has(rec.slice(5)))
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['receivers', i, 'recipients', j],
            message: `unknown contact role ${JSON.stringify(rec)} (roles: ${[...roles].join(', ')})`,
          });
      }),
    );
    r.areas.forEach((a, i) => {
      if (!roles.has(a.role))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['areas', i, 'role'],
          message: `unknown contact role ${JSON.stringify(a.role)}`,
        });
    });
    r.critical_roles.forEach((role, i) => {
      if (!roles.has(role))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['critical_roles', i],
          message: `unknown contact role ${JSON.stringify(role)}`,
        });
    });
    checkHeartbeats(r, ctx);
    checkRobots(r.receivers, ctx);
    checkOncall(r, ctx);
    if (legacyEscalationOn(r) && !roles.has(r.escalation.role))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['escalation', 'role'],
        message: `unknown contact role ${JSON.stringify(r.escalation.role)}`,
      });
  });

export type ReceiverConfig = z.infer<typeof receiverSection>;

/**
 * A receiver that names a robot channel has that channel's URL; receivers that share a robot
 * (the same URL) share its secret too, since the robot has one.
 */
function checkRobots(receivers: readonly z.infer<typeof receiverTarget>[], ctx: z.RefinementCtx): void {
  const secrets = new Map<string, { secret: string | undefined; receiver: string }>();
  receivers.forEach((rc, i) => {
    for (const channel of ROBOT_CHANNELS) {
      const field = ROBOT_URL_FIELD[channel];
      if (rc.channels.includes(channel) && !rc[field])
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['receivers', i, field],
          message: `the ${channel} channel needs ${field} on receiver ${JSON.stringify(rc.name)}`,
        });
    }
    for (const [url, secret, field] of [
      [rc.dingtalk_webhook_url, rc.dingtalk_secret, 'dingtalk_secret'],
      [rc.feishu_webhook_url, rc.feishu_secret, 'feishu_secret'],
    ] as const) {
      if (!url) continue;
      const seen = secrets.get(url);
      if (!seen) secrets.set(url, { secret, receiver: rc.name });
      else if (seen.secret !== secret)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['receivers', i, field],
          message: `receivers ${JSON.stringify(seen.receiver)} and ${JSON.stringify(rc.name)} share a robot but not its ${field}`,
        });
    }
  });
}

/**
 * Whether the `escalation` section runs: as configured, else on unless a receiver names an
 * escalation policy (the policies take over from it).
 */
export function legacyEscalationOn(r: {
  escalation: { enabled?: boolean };
  receivers: readonly { escalation_policy?: string }[];
}): boolean {
  return r.escalation.enabled ?? !r.receivers.some((x) => x.escalation_policy !== undefined);
}
