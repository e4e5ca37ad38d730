// The alert receiver's public surface: the one module the service (app.ts, cli.ts), the HTTP
// routes and the console import. Everything else under src/alerting is internal to it.

export { AlertReceiver, StoreUnavailableError, type ReceiverOptions } from './receiver.js';
export {
  configNotes,
  consoleTokenCommand,
  routeTestCommand,
  sendTestCommand,
  templateTestCommand,
} from './commands.js';
export { decodeJson, parseWebhook } from './ingest/payload.js';
export type { Contact, ResponsibleContact } from './ingest/contacts.js';
export type { RouteTestResult } from './ingest/routing.js';
export type { Job, JobStatus } from './model/notification.js';
export type { ChannelPreview, TemplatePreview } from './channels/preview.js';
export { destinationText } from './model/destination.js';
export type { BacklogStat, StoreCounts } from './outbox/contract.js';
export { alertNameOf, subjectOf } from './render/text.js';
export { escapeHtml, safeUrl } from './render/escape.js';
export { ackNote, verifyAckToken, type Acknowledgement, type AckVerdict } from './acknowledgement/tokens.js';
export type { Silence } from './maintenance/windows.js';
export type { HeartbeatView } from './heartbeat/check.js';
export type { Person, ScheduleStatus } from './oncall/roster.js';
export type { ScheduleOverride } from './oncall/schedule.js';
export { overrideInput } from './oncall/override-list.js';
export { escalationWhy } from './render/text.js';
export type { Incident, TimelineEntry } from './incidents/timeline.js';
export { deliveryText } from './incidents/timeline.js';
export type { NowGroup, NowView } from './incidents/now.js';
export type { DutyPerson, NextEscalation, OnDuty } from './incidents/on-call.js';
