import type { Labels } from '../matchers.js';
import { CHANNELS } from '../config/receiver.js';
import { csrfField, externalLink, h, iso, raw, type Html } from './html.js';
import type { ScrapeSummary } from './overview.js';
import { zonedIso } from '../zoned-time.js';
import {
  ackNote,
  alertNameOf,
  destinationText,
  escalationWhy,
  subjectOf,
  type Acknowledgement,
  type BacklogStat,
  type Contact,
  type HeartbeatView,
  type Job,
  type Person,
  type ResponsibleContact,
  type RouteTestResult,
  type ScheduleStatus,
  type Silence,
  type StoreCounts,
  type TemplatePreview,
} from '../alerting/index.js';

// The console's pages as pure functions of what they show. Every alert-derived string goes
// through `h`, which escapes it.

export const labelText = (l: Labels) =>
  Object.entries(l)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');

export const status = (s: string) => h`<span class="status ${s}">${s}</span>`;

export function durationText(ms: number): string {
  if (ms < 59_500) return `${Math.max(0, Math.round(ms / 1000))} s`;
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/** A POST button carrying the CSRF token and optional hidden fields. */
export function postButton(
  action: string,
  label: string,
  csrf: string | undefined,
  opts: { fields?: Record<string, string>; kind?: 'danger' | 'secondary' } = {},
): Html {
  const fields = Object.entries(opts.fields ?? {}).map(
    ([k, v]) => h`<input type="hidden" name="${k}" value="${v}">`,
  );
  return h`<form method="post" action="${action}" class="inline">${csrfField(csrf)}${fields}<button type="submit"${opts.kind ? raw(` class="${opts.kind}"`) : ''}>${label}</button></form>`;
}

export function loginPage(opts: {
  error?: string;
  disabled?: string;
  next?: string;
  firstRun?: boolean;
}): Html {
  if (opts.disabled) return h`<p class="notice error" role="alert">${opts.disabled}</p>`;
  const intro = opts.firstRun
    ? h`<p>Sign in with the console token. On its first start stackwatch logged a link that signs you in once; or run <code>stackwatch console-token</code> where stackwatch runs to print the token. Setting <code>receiver.api_token</code> or basic auth replaces it.</p>`
    : h`<p>Sign in with the receiver's API token (<code>receiver.api_token</code>).</p>`;
  return h`<form method="post" action="/login" class="stack">
${intro}
<label>Your name (recorded with what you do)<input name="user" autocomplete="username" required maxlength="100"></label>
<label>${opts.firstRun ? 'Console token' : 'API token'}<input name="token" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="${opts.next ?? '/'}">
<button type="submit">Sign in</button></form>`;
}

/** The page a first-run sign-in link opens: a name, and one button that uses the link up. */
export function signInLinkPage(d: { nonce: string; error?: string }): Html {
  return h`<form method="post" action="/login/once" class="stack">
<p>This link signs you in to the console once.</p>
${d.error ? h`<p class="notice error" role="alert">${d.error}</p>` : ''}
<label>Your name (recorded with what you do)<input name="user" autocomplete="username" required maxlength="100"></label>
<input type="hidden" name="nonce" value="${d.nonce}">
<button type="submit">Sign in</button></form>`;
}

export interface OverviewData {
  scrape?: ScrapeSummary;
  counts?: StoreCounts;
  /** Waiting notifications per channel and severity lane, and how old the oldest is. */
  backlog: BacklogStat[];
  now: number;
  lastReload: { ok: boolean; at: number };
  activeAcks: number;
  activeWindows: number;
  receiverEnabled: boolean;
  /** The Watchdog's and the jobs' heartbeats (absent while the outbox is unavailable). */
  heartbeats?: HeartbeatView[];
}

export function overviewPage(d: OverviewData): Html {
  const card = (label: string, value: string | number, href?: string) =>
    h`<div class="card">${href ? h`<a href="${href}">${label}</a>` : label}<b>${value}</b></div>`;
  const cards = d.counts
    ? h`<div class="cards">
${card('Waiting to be sent', d.counts.pending, '/notifications?status=pending')}
${card('Dead letters', d.counts.dead, '/dead-letters')}
${card('Sent', d.counts.sent, '/notifications?status=sent')}
${card('Muted', d.counts.muted, '/notifications?status=muted')}
${card('Acknowledged groups', d.activeAcks, '/acknowledgements')}
${card('Maintenance windows', d.activeWindows, '/maintenance')}</div>`
    : h`<p class="notice error">${d.receiverEnabled ? 'The outbox is not available.' : 'The alert receiver is disabled.'}</p>`;
  const backlog = h`<h2>Backlog per lane</h2>${
    d.backlog.length
      ? h`<div class="table-wrap"><table><thead><tr><th>Channel</th><th>Lane</th><th>Waiting</th><th>Oldest</th></tr></thead><tbody>${d.backlog.map(
          (b) =>
            h`<tr><td>${b.channel}</td><td>${b.lane}</td><td><a href="/notifications?status=pending&amp;channel=${b.channel}">${b.pending}</a></td><td>${Math.round((d.now - b.oldestCreatedAt) / 1000)} s</td></tr>`,
        )}</tbody></table></div>`
      : h`<p class="muted-text">Nothing is waiting to be sent.</p>`
  }`;
  const s = d.scrape;
  const collectors = s
    ? h`<h2>Collectors <span class="muted-text">last scrape ${iso(s.at)}</span></h2>
<div class="table-wrap"><table class="responsive"><thead><tr><th>Collector</th><th>Last scrape</th><th>Duration</th></tr></thead><tbody>${s.collectors.map(
        (c) =>
          h`<tr><td data-label="Collector">${c.name}</td><td data-label="Last scrape">${status(c.success ? 'up' : 'down')} ${c.success ? 'succeeded' : 'failed'}</td><td data-label="Duration">${c.seconds.toFixed(3)} s</td></tr>`,
      )}</tbody></table></div>
<h2>Targets</h2>${
        s.targets.length
          ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Series</th><th>State</th></tr></thead><tbody>${s.targets.map(
              (t) =>
                h`<tr><td data-label="Series"><code>${t.metric}{${labelText(t.labels)}}</code></td><td data-label="State">${status(t.up ? 'up' : 'down')}</td></tr>`,
            )}</tbody></table></div>`
          : h`<p class="muted-text">No target series in the last scrape.</p>`
      }`
    : h`<h2>Collectors</h2><p class="muted-text">Not scraped yet: the overview shows the last scrape of <a href="/metrics">/metrics</a>.</p>`;
  const reload = h`<h2>Configuration</h2><p>Last reload ${d.lastReload.ok ? 'succeeded' : h`<strong>failed</strong> (the running configuration is kept)`}; last successful load ${iso(d.lastReload.at)}.</p>`;
  return h`${cards}${heartbeatsSection(d.heartbeats, d.now)}${backlog}${collectors}${reload}`;
}

/** The heartbeats: is the Watchdog arriving, is each job on time, and since when is one down. */
function heartbeatsSection(views: HeartbeatView[] | undefined, now: number): Html {
  if (!views) return h``;
  const ago = (ms: number | null) => (ms === null ? 'never' : h`${iso(ms)} (${durationText(now - ms)} ago)`);
  const rows = views.map((v) => {
    const s = v.state;
    const name =
      v.kind === 'watchdog'
        ? h`Watchdog <span class="muted-text">(Prometheus → Alertmanager)</span>`
        : v.name;
    const state =
      s.status === 'down'
        ? h`${status('down')} ${s.incident?.reason ?? ''}`
        : s.status === 'up'
          ? h`${status('up')}${s.startedAt !== null ? h` running since ${iso(s.startedAt)}` : ''}`
          : h`${status('new')} ${v.kind === 'watchdog' ? 'not arrived yet' : 'never signalled'}`;
    const when =
      s.status === 'down' && s.incident
        ? h`down since ${iso(s.incident.since)}`
        : v.dueAt !== undefined
          ? h`due by ${iso(v.dueAt)}`
          : '';
    return h`<tr><td data-label="Heartbeat">${name}</td><td data-label="State">${state}</td><td data-label="Last signal">${ago(s.lastSeenAt)}</td><td data-label="Deadline">${when}</td></tr>`;
  });
  return h`<h2>Heartbeats</h2>${
    views.length
      ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Heartbeat</th><th>State</th><th>Last signal</th><th>Deadline</th></tr></thead><tbody>${rows}</tbody></table></div>`
      : h`<p class="muted-text">None: the Watchdog is disabled and no job has a heartbeat (receiver.heartbeats).</p>`
  }`;
}

export interface NotificationFilter {
  status?: string;
  channel?: string;
  receiver?: string;
  alertname?: string;
  digest?: string;
}

function select(name: string, label: string, options: readonly string[], value: string | undefined): Html {
  return h`<label>${label}<select name="${name}"><option value="">any</option>${options.map(
    (o) => h`<option${o === value ? raw(' selected') : ''}>${o}</option>`,
  )}</select></label>`;
}

function jobRow(j: Job, csrf: string | undefined, ack: Acknowledgement | undefined): Html {
  const reason = j.lastError ?? escalationWhy(j.content);
  return h`<tr>
<td data-label="Id"><a href="/notifications/${j.id}">#${j.id}</a></td>
<td data-label="Recorded">${iso(j.createdAt)}</td>
<td data-label="Status">${status(j.status)}</td>
<td data-label="Channel">${j.channel}</td>
<td data-label="Receiver">${j.receiver}</td>
<td data-label="Subject" class="wrap">${subjectOf(j.content, j.createdAt)}${ack ? h`<br><span class="muted-text">${ackNote(ack)}</span>` : ''}</td>
<td data-label="To" class="wrap">${destinationText(j)}</td>
<td data-label="Attempts">${j.attempts}</td>
<td data-label="Reason" class="wrap">${reason}${j.digest ? h` <a href="/notifications?digest=${encodeURIComponent(j.digest)}">sent in a digest</a>` : ''}</td>
<td data-label="">${j.status === 'dead' ? postButton(`/notifications/${j.id}/redrive`, 'Re-drive', csrf) : ''}</td>
</tr>`;
}

export function notificationsPage(d: {
  jobs: Job[];
  filter: NotificationFilter;
  receivers: string[];
  csrf?: string;
  ackOf: (groupKey: string) => Acknowledgement | undefined;
  action: string;
  showFilters: boolean;
}): Html {
  const f = d.filter;
  const filters = d.showFilters
    ? h`<form method="get" action="${d.action}" class="filters" role="search">
${select('status', 'Status', ['pending', 'sent', 'dead', 'muted'], f.status)}
${select('channel', 'Channel', CHANNELS, f.channel)}
${select('receiver', 'Receiver', d.receivers, f.receiver)}
<label>Alert name<input name="alertname" value="${f.alertname ?? ''}" maxlength="200"></label>
<button type="submit">Filter</button></form>`
    : '';
  const table = d.jobs.length
    ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Id</th><th>Recorded</th><th>Status</th><th>Channel</th><th>Receiver</th><th>Subject</th><th>To</th><th>Attempts</th><th>Reason</th><th></th></tr></thead><tbody>${d.jobs.map(
        (j) => jobRow(j, d.csrf, d.ackOf(j.groupKey)),
      )}</tbody></table></div>`
    : h`<p>No notifications match.</p>`;
  const digest = f.digest
    ? h`<p class="notice ok">The notifications digest <code>${f.digest}</code> carried. <a href="${d.action}">All notifications</a></p>`
    : '';
  return h`${filters}${digest}<p class="muted-text">${d.jobs.length} shown, newest first.</p>${table}`;
}

/** The silence choice of an acknowledgement form (only when Alertmanager is configured). */
function silenceSelect(durations: readonly number[], alertmanager: boolean): Html | '' {
  if (!alertmanager) return '';
  return h`<label>Silence the group in Alertmanager<select name="silence"><option value="">no silence</option>${durations.map(
    (ms, i) => h`<option value="${ms}"${i === 0 ? raw(' selected') : ''}>for ${durationText(ms)}</option>`,
  )}</select></label>`;
}

export function notificationPage(
  j: Job,
  csrf: string | undefined,
  ack: Acknowledgement | undefined,
  silence: { durations: readonly number[]; alertmanager: boolean },
): Html {
  const c = j.content;
  const ackForm =
    !ack && j.kind !== 'test'
      ? h`<h2>Acknowledge this group</h2><form method="post" action="/acknowledgements" class="stack">${csrfField(csrf)}<input type="hidden" name="group" value="${j.groupKey}">${silenceSelect(silence.durations, silence.alertmanager)}<label>Comment (optional)<input name="comment" maxlength="500"></label><div><button type="submit">Acknowledge</button></div></form>`
      : '';
  const alerts = c.alerts.map(
    (a) =>
      h`<tr><td data-label="Status">${status(a.status)}</td><td data-label="Summary" class="wrap">${a.annotations.summary ?? a.labels.alertname ?? ''}</td><td data-label="Labels" class="wrap"><code>${labelText(a.labels)}</code></td><td data-label="Started">${a.startsAt}</td><td data-label="Links">${a.generatorURL ? externalLink(a.generatorURL, 'Source') : ''}${a.annotations.runbook_url ? h` ${externalLink(a.annotations.runbook_url, 'Runbook')}` : ''}</td></tr>`,
  );
  return h`<dl>
<dt>Subject</dt><dd>${subjectOf(c, j.createdAt)}</dd>
<dt>Status</dt><dd>${status(j.status)} ${j.status === 'dead' ? postButton(`/notifications/${j.id}/redrive`, 'Re-drive', csrf) : ''}</dd>
<dt>Kind</dt><dd>${j.kind}</dd>
<dt>Channel</dt><dd>${j.channel}</dd>
<dt>Receiver</dt><dd>${j.receiver} (Alertmanager receiver ${c.amReceiver})</dd>
<dt>To</dt><dd>${destinationText(j)}</dd>
<dt>Attempts</dt><dd>${j.attempts}</dd>
<dt>Last error / reason</dt><dd>${j.lastError ?? 'none'}</dd>
${j.kind === 'escalation' ? h`<dt>Why sent</dt><dd>${escalationWhy(c) || 'escalation'}</dd>` : ''}
<dt>Digest</dt><dd>${j.digest ? h`<a href="/notifications?digest=${encodeURIComponent(j.digest)}">${j.digest}</a> (all it carried)` : 'sent on its own'}</dd>
<dt>Lane</dt><dd>${j.lane}</dd>
<dt>Recorded</dt><dd>${iso(j.createdAt)}</dd>
<dt>Updated</dt><dd>${iso(j.updatedAt)}</dd>
<dt>Sent</dt><dd>${j.sentAt ? iso(j.sentAt) : 'not yet'}</dd>
${j.status === 'pending' ? h`<dt>Next attempt</dt><dd>${iso(j.nextAttemptAt)}</dd>` : ''}
<dt>Message-ID</dt><dd><code>${j.messageId ?? ''}</code></dd>
<dt>Group</dt><dd><code>${j.groupKey}</code> <a href="/notifications?alertname=${encodeURIComponent(alertNameOf(c))}">all of ${alertNameOf(c)}</a></dd>
<dt>Acknowledged</dt><dd>${ack ? ackNote(ack) : 'no'}</dd>
<dt>Contacts</dt><dd>${c.contacts.map((p) => `${p.title} ${p.name} (${p.reason})`).join(', ')}</dd>
<dt>Message</dt><dd><a href="/template-test?id=${j.id}">as its channel renders it</a></dd>
</dl>
<h2>Alerts (${c.alerts.length})</h2>
<div class="table-wrap"><table class="responsive"><thead><tr><th>Status</th><th>Summary</th><th>Labels</th><th>Started</th><th>Links</th></tr></thead><tbody>${alerts}</tbody></table></div>${ackForm}`;
}

export function maintenancePage(d: {
  windows: Silence[];
  now: number;
  csrf?: string;
  form: { matchers: string; duration: string; comment: string };
  preview?: { error?: string; matches: Job[]; scanned: number };
}): Html {
  const rows = d.windows.map((w) => {
    const state = w.endsAt <= d.now ? 'ended' : w.startsAt > d.now ? 'scheduled' : 'active';
    return h`<tr><td data-label="Matchers" class="wrap"><code>${w.matchers.join(', ')}</code></td><td data-label="State">${status(state)}</td><td data-label="From">${iso(w.startsAt)}</td><td data-label="Until">${iso(w.endsAt)}</td><td data-label="Comment" class="wrap">${w.comment}</td><td data-label="By">${w.createdBy}</td><td data-label="">${
      w.source === 'api' && state !== 'ended'
        ? postButton(`/maintenance/${encodeURIComponent(w.id)}/end`, 'End now', d.csrf, { kind: 'danger' })
        : w.source === 'config'
          ? h`<span class="muted-text">from the config file</span>`
          : ''
    }</td></tr>`;
  });
  const p = d.preview;
  const preview = p
    ? p.error
      ? h`<p class="notice error" role="alert">${p.error}</p>`
      : h`<h2>Preview</h2><p>Of the last ${p.scanned} notifications, <strong>${p.matches.length}</strong> had alerts these matchers would mute.</p>${
          p.matches.length
            ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Id</th><th>Subject</th><th>Receiver</th><th>Recorded</th></tr></thead><tbody>${p.matches
                .slice(0, 50)
                .map(
                  (j) =>
                    h`<tr><td data-label="Id"><a href="/notifications/${j.id}">#${j.id}</a></td><td data-label="Subject" class="wrap">${subjectOf(j.content, j.createdAt)}</td><td data-label="Receiver">${j.receiver}</td><td data-label="Recorded">${iso(j.createdAt)}</td></tr>`,
                )}</tbody></table></div>`
            : ''
        }`
    : '';
  return h`<form method="post" action="/maintenance" class="stack">${csrfField(d.csrf)}
<label>Matchers, one per line (Alertmanager syntax)<textarea name="matchers" rows="3" required placeholder='service="postgres"'>${d.form.matchers}</textarea></label>
<label>Duration<input name="duration" value="${d.form.duration}" placeholder="2h" required></label>
<label>Comment<input name="comment" value="${d.form.comment}" maxlength="1000"></label>
<div><button type="submit" name="intent" value="preview" class="secondary">Preview</button> <button type="submit" name="intent" value="create">Create window</button></div>
</form>${preview}
<h2>Windows</h2>${
    rows.length
      ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Matchers</th><th>State</th><th>From</th><th>Until</th><th>Comment</th><th>By</th><th></th></tr></thead><tbody>${rows}</tbody></table></div>`
      : h`<p>No maintenance windows.</p>`
  }`;
}

function contactsTable(contacts: readonly (Contact | ResponsibleContact)[]): Html {
  return h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Role</th><th>Title</th><th>Name</th><th>Phone</th><th>Email</th><th>Why</th></tr></thead><tbody>${contacts.map(
    (c) =>
      h`<tr><td data-label="Role">${c.role}</td><td data-label="Title">${c.title}</td><td data-label="Name">${c.name}</td><td data-label="Phone">${c.phone ? h`<a href="tel:${c.phone}">${c.phone}</a>` : ''}</td><td data-label="Email">${c.email ? h`<a href="mailto:${c.email}">${c.email}</a>` : ''}</td><td data-label="Why">${'reason' in c ? c.reason : c.responsibility}</td></tr>`,
  )}</tbody></table></div>`;
}

export function routeTestPage(d: { labelsText: string; result?: RouteTestResult; error?: string }): Html {
  const r = d.result;
  const result = r
    ? h`<h2>Result</h2>${r.muted_by?.length ? h`<p class="notice error">Muted now by maintenance window ${r.muted_by.join(', ')}.</p>` : ''}
<div class="table-wrap"><table class="responsive"><thead><tr><th>Receiver</th><th>Channels</th><th>Email recipients</th></tr></thead><tbody>${r.receivers.map(
        (x) =>
          h`<tr><td data-label="Receiver">${x.name}</td><td data-label="Channels">${x.channels.join(', ')}</td><td data-label="Recipients" class="wrap">${x.recipients.join(', ')}</td></tr>`,
      )}</tbody></table></div>
<h2>Responsible contacts</h2>${r.contacts.length ? contactsTable(r.contacts) : h`<p>None.</p>`}`
    : '';
  return h`<form method="get" action="/route-test" class="stack">
<label>Labels, one <code>name=value</code> per line<textarea name="labels" rows="4" required placeholder="severity=critical&#10;service=postgres">${d.labelsText}</textarea></label>
<div><button type="submit">Test route</button></div></form>
${d.error ? h`<p class="notice error" role="alert">${d.error}</p>` : ''}${result}`;
}

export function contactsPage(contacts: readonly Contact[]): Html {
  return contactsTable(contacts);
}

export function acknowledgementsPage(acks: Acknowledgement[], csrf: string | undefined): Html {
  if (!acks.length) return h`<p>No acknowledgements yet.</p>`;
  return h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Group</th><th>Acknowledged</th><th>Via</th><th>Silence</th><th>Comment</th><th>Ended</th><th></th></tr></thead><tbody>${acks.map(
    (a) =>
      h`<tr><td data-label="Group" class="wrap"><strong>${a.alertname}</strong><br><code>${labelText(a.groupLabels)}</code></td><td data-label="Acknowledged">${a.by} at ${iso(a.at)}</td><td data-label="Via" class="wrap">${a.via}</td><td data-label="Silence">${a.silenceId ? h`<code>${a.silenceId}</code> until ${iso(a.silenceEndsAt)}` : 'none'}</td><td data-label="Comment" class="wrap">${a.comment}</td><td data-label="Ended">${a.endedAt ? h`${iso(a.endedAt)} by ${a.endedBy ?? ''}` : status('active')}</td><td data-label="">${
        a.endedAt
          ? ''
          : postButton('/acknowledgements/end', 'Unacknowledge', csrf, {
              fields: { group: a.groupKey },
              kind: 'secondary',
            })
      }</td></tr>`,
  )}</tbody></table></div>`;
}

/** The confirm page of an Acknowledge link: what the group is, and a button (a GET changes nothing). */
export function ackConfirmPage(d: {
  latest?: Job;
  groupKey: string;
  recipient: string;
  action: string;
  csrf: string;
  current?: Acknowledgement;
  silenceDurations: number[];
  alertmanager: boolean;
}): Html {
  const c = d.latest?.content;
  const group = c
    ? h`<dl><dt>Alert</dt><dd>${subjectOf(c, d.latest?.createdAt)}</dd>
<dt>Group</dt><dd><code>${labelText(c.groupLabels)}</code></dd>
<dt>Summary</dt><dd>${c.commonAnnotations.summary ?? c.alerts[0]?.annotations.summary ?? ''}</dd>
<dt>Alerts</dt><dd>${c.alerts.length} (${c.alerts.filter((a) => a.status === 'firing').length} firing)</dd>
<dt>Sent to</dt><dd>${d.recipient}</dd></dl>`
    : h`<p>No notification of this group is kept any more (<code>${d.groupKey}</code>).</p>`;
  const current = d.current
    ? h`<p class="notice ok" role="status">${ackNote(d.current)}. Confirming again records you instead.</p>`
    : '';
  const silence = silenceSelect(d.silenceDurations, d.alertmanager);
  return h`${current}${group}
<form method="post" action="${d.action}" class="stack">${csrfField(d.csrf)}
<label>Your name<input name="by" value="${d.recipient.split(',')[0] ?? ''}" required maxlength="100" autocomplete="name"></label>
${silence}
<label>Comment (optional)<input name="comment" maxlength="500"></label>
<div><button type="submit">Acknowledge</button></div></form>`;
}

export function ackDonePage(d: {
  ack: Acknowledgement;
  silenceError?: string;
  undoAction: string;
  csrf: string;
}): Html {
  const a = d.ack;
  return h`<p class="notice ok" role="status">${ackNote(a)}. The group will not be escalated${a.silenceId ? h`, and Alertmanager silences it until ${iso(a.silenceEndsAt)} (silence <code>${a.silenceId}</code>)` : ''}.</p>
${d.silenceError ? h`<p class="notice error" role="alert">No silence was made: ${d.silenceError}</p>` : ''}
<p><strong>${a.alertname}</strong> <code>${labelText(a.groupLabels)}</code></p>
<form method="post" action="${d.undoAction}" class="inline">${csrfField(d.csrf)}<button type="submit" class="secondary">Unacknowledge</button></form>`;
}

export function messageBody(text: string, link?: { href: string; label: string }): Html {
  return h`<p>${text}</p>${link ? h`<p><a href="${link.href}">${link.label}</a></p>` : ''}`;
}

/** Template test: what each channel of a receiver sends for a sample or a stored notification. */
export function templateTestPage(d: {
  receivers: readonly string[];
  form: { receiver: string; channel: string; id: string };
  result?: TemplatePreview;
  error?: string;
}): Html {
  const f = d.form;
  const options = (values: readonly string[], value: string, blank: string) =>
    h`<option value="">${blank}</option>${values.map((o) => h`<option${o === value ? raw(' selected') : ''}>${o}</option>`)}`;
  const r = d.result;
  const previews = r
    ? h`<h2>Receiver ${r.receiver}: ${r.what}</h2>${r.previews.map(
        (p) =>
          h`<h3>${p.channel} → ${p.destination}</h3>${
            p.error
              ? h`<p class="notice error" role="alert">${p.error}</p>`
              : h`${p.request ? h`<p><code>${p.request}</code></p>` : ''}${
                  p.headers && Object.keys(p.headers).length
                    ? h`<p>${Object.entries(p.headers).map(([k, v]) => h`<code>${k}: ${v}</code><br>`)}</p>`
                    : ''
                }<pre class="wrap">${p.body}</pre>`
          }`,
      )}`
    : '';
  return h`<form method="get" action="/template-test" class="stack">
<label>Receiver<select name="receiver">${options(d.receivers, f.receiver, 'the route’s default')}</select></label>
<label>Channel<select name="channel">${options(CHANNELS, f.channel, 'every channel of the receiver')}</select></label>
<label>Notification id (empty: a sample critical notification)<input name="id" inputmode="numeric" pattern="[0-9]*" value="${f.id}"></label>
<div><button type="submit">Render</button></div></form>
<p>Nothing is sent: this shows the request each channel would make (its URL cut after the host) and the body.</p>
${d.error ? h`<p class="notice error" role="alert">${d.error}</p>` : ''}${previews}`;
}

/** `2026-12-14 09:00 +08:00`: an instant as read in a schedule's zone. */
function localTime(ms: number, zone: string): string {
  return zonedIso(ms, zone)
    .replace('T', ' ')
    .replace(/:00([+-])/, ' $1');
}

function personLine(p: Person): Html {
  return h`<strong>${p.name}</strong>${p.phone ? h` · <a href="tel:${p.phone}">${p.phone}</a>` : ''}${p.email ? h` · <a href="mailto:${p.email}">${p.email}</a>` : ''}`;
}

/** `datetime-local` value of an instant in a zone: `2026-12-14T09:00`. */
const localInput = (ms: number, zone: string) => zonedIso(ms, zone).slice(0, 16);

/** Who is on call: per schedule, on duty now, the next handoff, the shifts ahead, overrides and a form for one. */
export function schedulesPage(d: {
  schedules: { status: ScheduleStatus; calendarUrl: string }[];
  people: readonly Person[];
  now: number;
  csrf?: string;
  /** A refused override form: which schedule, what was typed, and why. */
  failed?: { schedule: string; error: string; form: Record<string, string> };
}): Html {
  if (!d.schedules.length) return h`<p>No schedules are configured (<code>receiver.schedules</code>).</p>`;
  return h`${d.schedules.map(({ status: s, calendarUrl }) => {
    const zone = s.timeZone;
    const failed = d.failed?.schedule === s.name ? d.failed : undefined;
    const f = failed?.form ?? {};
    const name = (id: string) => d.people.find((p) => p.id === id)?.name ?? id;
    const shifts = s.shifts.map(
      (x) =>
        h`<tr><td data-label="Who">${x.name}</td><td data-label="From">${localTime(x.start, zone)}</td><td data-label="Until">${localTime(x.end, zone)}</td></tr>`,
    );
    const overrides = s.overrides.map(
      (o) =>
        h`<tr><td data-label="Who">${name(o.person)}</td><td data-label="From">${localTime(o.start, zone)}</td><td data-label="Until">${localTime(o.end, zone)}</td><td data-label="Comment" class="wrap">${o.comment}</td><td data-label="By">${o.createdBy}</td><td data-label="">${
          o.source === 'api'
            ? postButton(
                `/schedules/${encodeURIComponent(s.name)}/overrides/${encodeURIComponent(o.id)}/delete`,
                'Delete',
                d.csrf,
                {
                  kind: 'danger',
                },
              )
            : h`<span class="muted-text">from the config file</span>`
        }</td></tr>`,
    );
    return h`<section aria-labelledby="schedule-${s.name}"><h2 id="schedule-${s.name}">${s.name} <span class="muted-text">${zone}</span></h2>
<dl>
<dt>On duty now</dt><dd>${s.onDuty.length ? s.onDuty.map((p, i) => h`${i ? h`<br>` : ''}${personLine(p)}`) : 'nobody'}</dd>
<dt>Next handoff</dt><dd>${s.nextHandoff ? h`${localTime(s.nextHandoff.at, zone)} (${iso(s.nextHandoff.at)}) to ${s.nextHandoff.onDuty.map((p) => p.name).join(', ')}` : 'none within a year'}</dd>
<dt>Rotations</dt><dd>${s.rotations.map((r, i) => h`${i ? h`<br>` : ''}${r.name}: ${r.participants.map(name).join(' → ')}, every ${r.shift} from ${r.handoff}`)}</dd>
<dt>Calendar</dt><dd><a href="${calendarUrl}">Subscribe</a> (a read-only link to this schedule's shifts; it lists names and phone numbers)</dd>
</dl>
<h3>Shifts ahead</h3>
<div class="table-wrap"><table class="responsive"><thead><tr><th>Who</th><th>From</th><th>Until</th></tr></thead><tbody>${shifts}</tbody></table></div>
<h3>Overrides</h3>${
      overrides.length
        ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Who</th><th>From</th><th>Until</th><th>Comment</th><th>By</th><th></th></tr></thead><tbody>${overrides}</tbody></table></div>`
        : h`<p class="muted-text">None ahead.</p>`
    }
<h3>Add an override</h3>
<form method="post" action="/schedules/${encodeURIComponent(s.name)}/overrides" class="stack">${csrfField(d.csrf)}
<p>Put someone on duty instead of the rotation (times in ${zone}).</p>
${failed ? h`<p class="notice error" role="alert">${failed.error}</p>` : ''}
<label>Who<select name="person" required>${d.people.map(
      (p) => h`<option value="${p.id}"${p.id === f.person ? raw(' selected') : ''}>${p.name}</option>`,
    )}</select></label>
<label>From<input type="datetime-local" name="start" value="${f.start ?? localInput(d.now, zone)}" required></label>
<label>Until<input type="datetime-local" name="end" value="${f.end ?? localInput(d.now + 12 * 3_600_000, zone)}" required></label>
<label>Comment<input name="comment" value="${f.comment ?? ''}" maxlength="500"></label>
<div><button type="submit">Add override</button></div></form></section>`;
  })}`;
}
