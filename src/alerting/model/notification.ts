import type { ChannelName } from '../../config/receiver.js';
import type { ResponsibleContact } from '../ingest/contacts.js';
import type { Labels } from '../../matchers.js';
import type { Alert, Webhook } from '../ingest/payload.js';
import type { GroupEventSpec } from './group-event.js';

export type NotificationKind = 'alert' | 'escalation' | 'test';
export type AlertStatus = 'firing' | 'resolved';
export type JobStatus = 'pending' | 'sent' | 'dead' | 'muted';

/** What a notification says; stored as JSON (already redacted) and rendered at delivery. */
export interface NotificationContent {
  kind: NotificationKind;
  status: AlertStatus;
  /** Redacted Alertmanager group key. */
  groupKey: string;
  /** stackwatch receiver (routing table) and the Alertmanager receiver that posted. */
  receiver: string;
  amReceiver: string;
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Labels;
  externalURL: string;
  truncatedAlerts: number;
  alerts: Alert[];
  contacts: ResponsibleContact[];
  /** Escalations: since when the critical alerts fire, and the configured threshold. */
  escalation?: { firingSinceMs: number; afterMs: number; step?: EscalationStepRef };
  /** Added at delivery, never stored: the Acknowledge link, and who acknowledged the group. */
  acknowledgement?: { link?: string; note?: string };
}

/** Why an escalation notification was sent: its policy, step and round. */
export interface EscalationStepRef {
  /** The policy's name (`escalation` for the escalation section). */
  policy: string;
  /** 1-based, of `steps`. */
  step: number;
  steps: number;
  /** 0 for the first round, n for the n-th repeat, of `repeats`. */
  repeat: number;
  repeats: number;
  /** The step's targets as configured (`schedule:primary`, `role:techlead`, `alice`). */
  notify: string[];
}

/** A notification job as planned before it is recorded in the outbox. */
export interface JobSpec {
  dedupKey: string;
  channel: ChannelName;
  /** Email addresses; `slack` for Slack (shown only: the webhook is `slackWebhook`). */
  recipients: string[];
  /** Slack: the routing receiver whose own webhook URL applies; null: the default webhook (and email). */
  slackWebhook: string | null;
  status: 'pending' | 'muted';
  content: NotificationContent;
  /** Email threading: the key of the conversation and this message's own Message-ID. */
  threadKey?: string;
  messageId?: string;
  /** Why it is muted (maintenance window ids). */
  mutedBy?: string[];
  /** Severity lane (lanes.ts), set before it is recorded. */
  lane?: string;
}

/** A job as stored in the outbox. */
export interface Job {
  id: number;
  createdAt: number;
  updatedAt: number;
  /** Start of the retry age budget: recording time, or the last re-drive. */
  ageFrom: number;
  dedupKey: string;
  kind: NotificationKind;
  groupKey: string;
  receiver: string;
  channel: ChannelName;
  recipients: string[];
  /** As JobSpec's: the receiver whose own Slack webhook URL applies, null the default one. */
  slackWebhook: string | null;
  status: JobStatus;
  alertStatus: AlertStatus;
  content: NotificationContent;
  messageId: string | null;
  inReplyTo: string | null;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  sentAt: number | null;
  /** Severity lane it is delivered in. */
  lane: string;
  /** The digest that delivered it; null when sent on its own. */
  digest: string | null;
}

/** Escalation state of one Alertmanager group, updated with each webhook. */
export interface GroupUpdate {
  groupKey: string;
  /** Start of the oldest firing critical alert; null when none fires any more. */
  criticalSinceMs: number | null;
  content: NotificationContent | null;
}

/**
 * A webhook's word on its group's escalation policies: the policies its firing notifications
 * start or continue (with the content their steps carry); the group's other episodes end.
 */
export interface EscalationUpdate {
  groupKey: string;
  firing: { policy: string; receiver: string; content: NotificationContent }[];
}

/** Everything one webhook writes, in one transaction. */
export interface IngestRecord {
  jobs: JobSpec[];
  group?: GroupUpdate;
  /** Set when a receiver names an escalation policy. */
  escalations?: EscalationUpdate;
  /** What the group's timeline keeps of the webhook (group-event.ts). */
  event?: GroupEventSpec;
}

export interface RecordOutcome {
  recorded: number;
  duplicates: number;
  muted: number;
}

/** Why an attempt failed, named like Alertmanager 0.34's failure reasons; `other` for network errors. */
export const FAILURE_CAUSES = ['rateLimited', 'authError', 'clientError', 'serverError', 'other'] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

/** Delivery result of one attempt: a tagged union the retry policy acts on. */
export type DeliveryResult =
  | { kind: 'success' }
  | { kind: 'retryable'; retryAfterMs?: number; reason: string; cause?: FailureCause }
  | { kind: 'failure'; reason: string; cause?: FailureCause };

/** Some of a webhook's alerts to one receiver: the notification its jobs carry. */
export interface Notification {
  receiver: string;
  /** Indexes into the webhook's alerts, in order. */
  alerts: number[];
  /** The maintenance windows muting it; absent when it is delivered. */
  mutedBy?: string[];
}

/** A planned webhook (plan.ts): its jobs before maintenance windows, and how to plan parts of them again. */
export interface WebhookPlan extends IngestRecord {
  /** The webhook as received: maintenance windows match its labels before redaction. */
  webhook: Webhook;
  /** When it was planned: the Message-IDs' time, and the instant windows are checked at. */
  now: number;
  /**
   * Its notifications: the alerts that reach the same receiver, in the order the alerts reach
   * them; alerts `apart` go to notifications of their own.
   */
  notifications(apart?: (alert: number) => boolean): Notification[];
  /** The jobs of one notification (content, contacts, dedup key, threading); pure. */
  jobsOf(n: Notification): JobSpec[];
}
