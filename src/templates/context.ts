import { compileTemplate, TemplateError, type CompiledTemplate } from './engine.js';

export { TemplateError };

// What a webhook body template is given: one notification (or one digest of many), as plain
// values with snake_case names. docs/RECEIVER.md lists these variables; the configuration is
// checked against them when it loads.

export interface TemplateContact {
  role: string;
  title: string;
  name: string;
  phone: string;
  email: string;
  /** Why this person is named: an area (`database`), `critical`, `escalation`. */
  reason: string;
  feishu_user_id: string;
}

export interface TemplateAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string;
  generator_url: string;
  fingerprint: string;
}

export interface TemplateContext {
  /** `alert`, `escalation`, `test`, or `digest` (many notifications in one message). */
  kind: 'alert' | 'escalation' | 'test' | 'digest';
  status: 'firing' | 'resolved';
  severity: string;
  alertname: string;
  /** `[FIRING:2] DiskSpaceLow critical`, as the email's subject. */
  subject: string;
  summary: string;
  description: string;
  /** The whole notification as plain text (the email's text part). */
  text: string;
  receiver: string;
  group_key: string;
  external_url: string;
  /** The Acknowledge link of a firing notification; empty when there is none. */
  ack_url: string;
  /** Who acknowledged the group, when someone has. */
  ack_note: string;
  alerts: TemplateAlert[];
  group_labels: Record<string, string>;
  common_labels: Record<string, string>;
  common_annotations: Record<string, string>;
  /** The responsible people, as in the email's table. */
  contacts: TemplateContact[];
  /** Critical firing notifications: the responsible people with a phone (whom to call); else empty. */
  mentions: TemplateContact[];
  /** The mentions' phone numbers. */
  mention_phones: string[];
  /** Whether it is critical and firing: the notifications that page. */
  critical: boolean;
  /** A digest: its id and how many notifications it carries; null for a single notification. */
  digest: { id: string; count: number } | null;
}

const ONCALL: TemplateContact = {
  role: 'oncall',
  title: 'On-Call',
  name: '值班',
  phone: '13800138000',
  email: 'oncall@company.com',
  reason: 'critical',
  feishu_user_id: 'ou_0123456789abcdef',
};

const SAMPLE_ALERT: TemplateAlert = {
  status: 'firing',
  labels: { alertname: 'PostgresDown', severity: 'critical', service: 'postgres', instance: 'db-1:5432' },
  annotations: {
    summary: 'PostgreSQL "db-1" is down',
    description: 'pg_up has been 0 for 1 minute.\nConnections to "db-1:5432" are refused.',
    runbook_url: 'https://runbooks.example.com/postgres-down',
  },
  starts_at: '2026-01-31T03:00:00.000Z',
  ends_at: '0001-01-01T00:00:00Z',
  generator_url: 'http://prometheus:9090/graph',
  fingerprint: '3f2a9c1e5b7d4a60',
};

/**
 * Notifications a template is rendered with when the configuration loads: a critical firing
 * one with people to call, and a resolved digest without any, so both branches of a template
 * are tried before a real notification needs them.
 */
export const SAMPLE_CONTEXTS: readonly TemplateContext[] = [
  {
    kind: 'alert',
    status: 'firing',
    severity: 'critical',
    alertname: 'PostgresDown',
    subject: '[FIRING:1] PostgresDown critical',
    summary: SAMPLE_ALERT.annotations.summary as string,
    description: SAMPLE_ALERT.annotations.description as string,
    text: `[FIRING:1] PostgresDown critical\n\nSummary: ${SAMPLE_ALERT.annotations.summary}`,
    receiver: 'team-ops-critical',
    group_key: '{}:{alertname="PostgresDown"}',
    external_url: 'http://alertmanager:9093',
    ack_url: 'https://stackwatch.example.com/ack/sample-token',
    ack_note: '',
    alerts: [SAMPLE_ALERT],
    group_labels: { alertname: 'PostgresDown' },
    common_labels: SAMPLE_ALERT.labels,
    common_annotations: SAMPLE_ALERT.annotations,
    contacts: [
      ONCALL,
      {
        ...ONCALL,
        role: 'dba',
        title: 'DBA',
        name: '数据库管理员',
        phone: '13800138001',
        reason: 'database',
      },
    ],
    mentions: [ONCALL],
    mention_phones: [ONCALL.phone],
    critical: true,
    digest: null,
  },
  {
    kind: 'digest',
    status: 'resolved',
    severity: '',
    alertname: '',
    subject: '[DIGEST] 12 notifications: 12 resolved',
    summary: '',
    description: '',
    text: '[DIGEST] 12 notifications: 12 resolved\n\n- [RESOLVED] DiskSpaceLow warning',
    receiver: 'team-ops',
    group_key: '',
    external_url: '',
    ack_url: '',
    ack_note: '',
    alerts: [],
    group_labels: {},
    common_labels: {},
    common_annotations: {},
    contacts: [],
    mentions: [],
    mention_phones: [],
    critical: false,
    digest: { id: 'd17-12', count: 12 },
  },
];

const VARIABLES = new Set(Object.keys(SAMPLE_CONTEXTS[0] as TemplateContext));

/** Whether a body of this content type must be JSON (the default content type is JSON). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType === undefined || /\bjson\b/i.test(contentType);
}

/**
 * Compiles a webhook body template and tries it: every variable it reads must be one a
 * template is given, it must render for each sample notification, and a JSON body must come
 * out as JSON. Throws a TemplateError that says what to fix.
 */
export function checkedTemplate(source: string, contentType: string | undefined): CompiledTemplate {
  const template = compileTemplate(source);
  const unknown = [...new Set(template.variables.map((v) => String(v[0])))].filter((v) => !VARIABLES.has(v));
  if (unknown.length)
    throw new TemplateError(
      `unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (a template is given: ${[...VARIABLES].join(', ')})`,
    );
  for (const sample of SAMPLE_CONTEXTS) {
    let out: string;
    try {
      out = template.render(sample);
    } catch (err) {
      throw new TemplateError(
        `fails to render a sample ${sample.kind} notification: ${(err as Error).message}`,
      );
    }
    if (!isJsonContentType(contentType)) continue;
    try {
      JSON.parse(out);
    } catch (err) {
      throw new TemplateError(
        `renders a sample ${sample.kind} notification as invalid JSON (${(err as Error).message}); write values with the json filter, e.g. {{ summary | json }}`,
      );
    }
  }
  return template;
}
