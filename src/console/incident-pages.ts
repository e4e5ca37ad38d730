import { csrfField, h, iso, type Html } from './html.js';
import { durationText, labelText, postButton, status } from './pages.js';
import type {
  HeartbeatView,
  Incident,
  NextEscalation,
  NowGroup,
  NowView,
  OnDuty,
} from '../alerting/index.js';

// The Now page (the console's home) and an incident's timeline, as pure functions of what they
// show. Alert-derived strings go through `h`, which escapes them.

/** Sections of the Now page that hold more groups than this start folded. */
const FOLD_OVER = 50;
/** Groups a section below the urgent ones shows at most (an urgent one shows all). */
const SECTION_MAX = 200;

/** `12 min ago` / `in 8 min` against now. */
function relative(at: number, now: number): string {
  const d = at - now;
  return d >= 0 ? `in ${durationText(d)}` : `${durationText(-d)} ago`;
}

/** `18:30 UTC` today, `2026-12-06 18:30 UTC` another day: short enough for a phone's line. */
function clock(at: number, now: number): string {
  const t = iso(at);
  return `${t.slice(0, 10) === iso(now).slice(0, 10) ? '' : `${t.slice(0, 10)} `}${t.slice(11, 16)} UTC`;
}

function when(at: number, now: number): Html {
  return h`<time datetime="${iso(at)}">${clock(at, now)}</time> <span class="muted-text">(${relative(at, now)})</span>`;
}

function nextText(n: NextEscalation | undefined, now: number): Html {
  if (!n) return h`<span class="muted-text">none (only critical alerts escalate)</span>`;
  switch (n.state) {
    case 'due':
      return h`${n.step} ${n.at <= now ? h`<strong>now</strong>` : h`at ${when(n.at, now)}`} unless acknowledged`;
    case 'escalated':
      return h`escalated at ${when(n.at, now)}; no further step`;
    case 'acknowledged':
      return h`<span class="muted-text">none: acknowledged</span>`;
  }
}

function onDutyText(o: OnDuty | undefined): Html {
  if (!o?.people.length)
    return h`<span class="muted-text">nobody: ${o?.source ?? 'no contact is on duty'}</span>`;
  return h`${o.people.map(
    (p, i) =>
      h`${i ? '; ' : ''}${p.title} ${p.name}${p.phone ? h` · <a href="tel:${p.phone}">${p.phone}</a>` : ''}${p.email ? h` · <a href="mailto:${p.email}">${p.email}</a>` : ''}`,
  )}`;
}

export interface NowActions {
  csrf?: string;
  /** The first silence length offered; undefined without receiver.alertmanager_url. */
  silenceMs?: number;
  /** The Watchdog's heartbeat, when it is watched: whether what fires reaches stackwatch at all. */
  pipeline?: HeartbeatView;
}

/** Whether the alert pipeline works: an empty page means nothing fires only while the Watchdog arrives. */
function pipelineLine(w: HeartbeatView | undefined, now: number): Html | '' {
  if (!w) return '';
  const s = w.state;
  if (s.status === 'down')
    return h`<p class="notice error" role="alert">The alert pipeline is down since ${clock(s.incident?.since ?? now, now)}: the Watchdog ${s.incident?.reason === 'failed' ? 'was resolved by Alertmanager' : 'stopped arriving'}${s.lastSeenAt !== null ? h` (last ${relative(s.lastSeenAt, now)})` : ''}. Alerts may not reach stackwatch: check Prometheus and Alertmanager. <a href="/overview">Heartbeats</a></p>`;
  if (s.status === 'new')
    return h`<p class="muted-text">The Watchdog has not arrived yet: until Alertmanager sends it, this page cannot tell that alerts reach stackwatch (<a href="/overview">heartbeats</a>).</p>`;
  return h`<p class="muted-text">Alert pipeline working: the Watchdog arrived ${s.lastSeenAt !== null ? relative(s.lastSeenAt, now) : 'lately'}.</p>`;
}

function groupCard(g: NowGroup, now: number, a: NowActions): Html {
  const alerts = g.alerts.filter((x) => x.status === 'firing');
  const shown = alerts.slice(0, 5);
  const rest = alerts.length - shown.length + g.more;
  const facts: Html[] = [
    h`<dt>Acknowledged</dt><dd>${g.ack ? h`by <strong>${g.ack.by}</strong> at ${when(g.ack.at, now)}${g.ack.comment ? h` — ${g.ack.comment}` : ''}` : h`<strong class="warn">no</strong>`}</dd>`,
    h`<dt>Next step</dt><dd>${nextText(g.next, now)}</dd>`,
    h`<dt>On duty</dt><dd>${onDutyText(g.onDuty)}</dd>`,
  ];
  if (g.windows.length)
    facts.push(
      h`<dt>Maintenance</dt><dd>${g.windows.map((w) => h`<span class="status muted">muted</span> by <code>${w.id}</code> until ${iso(w.endsAt)}${w.comment ? h` (${w.comment})` : ''} `)}</dd>`,
    );
  if (g.silences.length)
    facts.push(
      h`<dt>Silenced</dt><dd>${g.silences.map((s) => h`in Alertmanager until ${iso(s.endsAt)} by ${s.createdBy} <code>${s.matchers.join(', ')}</code> `)}</dd>`,
    );
  const fields = { incident: String(g.incident) };
  const actions = [
    g.ack ? '' : postButton('/now/acknowledge', 'Acknowledge', a.csrf, { fields }),
    a.silenceMs
      ? postButton('/now/silence', `Silence ${durationText(a.silenceMs)}`, a.csrf, {
          fields: { ...fields, duration: String(a.silenceMs) },
          kind: 'secondary',
        })
      : '',
  ];
  return h`<article class="group lane-${g.lane}${g.ack ? ' acked' : ''}" id="g${g.incident}">
<h3><span class="sev">${g.severity || 'no severity'}</span> <a href="/incidents/${g.incident}">${g.alertname}</a> <span class="muted-text">${g.firing} firing since <time datetime="${iso(g.sinceMs)}">${clock(g.sinceMs, now)}</time> (${durationText(now - g.sinceMs)})</span></h3>
${g.summary ? h`<p>${g.summary}</p>` : ''}
<ul class="alerts">${shown.map((x) => h`<li>${x.summary || g.alertname}${Object.keys(x.labels).length ? h` <code>${labelText(x.labels)}</code>` : ''}</li>`)}${rest > 0 ? h`<li class="muted-text">… and ${rest} more</li>` : ''}</ul>
<dl class="facts">${facts}</dl>
<div class="actions">${actions}</div>
</article>`;
}

const LANE_TITLE: Record<string, string> = { self: 'stackwatch itself', other: 'No severity' };
const laneTitle = (lane: string) => LANE_TITLE[lane] ?? lane.charAt(0).toUpperCase() + lane.slice(1);

export function nowPage(v: NowView, a: NowActions): Html {
  const sections: { lane: string; groups: NowGroup[]; urgent: boolean }[] = [];
  for (const g of v.firing) {
    const last = sections[sections.length - 1];
    if (last?.lane === g.lane) last.groups.push(g);
    else sections.push({ lane: g.lane, groups: [g], urgent: g.urgent });
  }
  const firing = sections.length
    ? sections.map((s, i) => {
        const shown = s.urgent ? s.groups : s.groups.slice(0, SECTION_MAX);
        const hidden = s.groups.length - shown.length;
        const cards = [
          ...shown.map((g) => groupCard(g, v.now, a)),
          hidden
            ? h`<p class="muted-text">… and ${hidden} more, firing for less long: the <a href="/notifications">notifications</a> list them.</p>`
            : '',
        ];
        const unacked = s.groups.filter((g) => !g.ack).length;
        const head = h`${laneTitle(s.lane)} · ${s.groups.length} firing${unacked < s.groups.length ? h`, ${unacked} not acknowledged` : ''}`;
        // The most severe section is always open; a long one further down starts folded.
        return i > 0 && !s.urgent && s.groups.length > FOLD_OVER
          ? h`<details class="lane"><summary><h2>${head}</h2></summary><div class="groups">${cards}</div></details>`
          : h`<section class="lane"><h2>${head}</h2><div class="groups">${cards}</div></section>`;
      })
    : h`<p class="notice ok" role="status">Nothing is firing.</p>`;
  const resolved = v.resolved.length
    ? h`<div class="table-wrap"><table class="responsive"><thead><tr><th>Group</th><th>Severity</th><th>Fired</th><th>Resolved</th><th>Acknowledged</th></tr></thead><tbody>${v.resolved.map(
        (g) =>
          h`<tr><td data-label="Group"><a href="/incidents/${g.incident}">${g.alertname}</a></td><td data-label="Severity">${g.severity}</td><td data-label="Fired">${iso(g.sinceMs)}</td><td data-label="Resolved">${g.resolvedAt ? h`${iso(g.resolvedAt)} (after ${durationText(g.resolvedAt - g.sinceMs)})` : ''}</td><td data-label="Acknowledged">${g.ack?.by ?? ''}</td></tr>`,
      )}</tbody></table></div>`
    : h`<p class="muted-text">None.</p>`;
  const silences =
    v.silences === 'ok' || v.silences === 'off'
      ? ''
      : h`<p class="notice error" role="alert">Alertmanager's silences could not be read: ${v.silences}</p>`;
  return h`<p class="muted-text">As of ${iso(v.now)} · <a href="/">Refresh</a></p>${pipelineLine(a.pipeline, v.now)}${silences}${firing}
<h2>Resolved in the last 24 hours · ${v.resolved.length}</h2>${resolved}`;
}

function entryList(i: Incident): Html {
  return h`<ol class="timeline">${i.entries.map(
    (e) =>
      h`<li class="entry ${e.kind}"><time datetime="${iso(e.at)}">${iso(e.at)}</time> <strong>${e.jobId ? h`<a href="/notifications/${e.jobId}">${e.title}</a>` : e.title}</strong>${
        e.lines.length ? h`<ul>${e.lines.map((l) => h`<li>${l}</li>`)}</ul>` : ''
      }</li>`,
  )}</ol>`;
}

export function incidentPage(
  i: Incident,
  d: { now: number; next?: NextEscalation; onDuty?: OnDuty; csrf?: string; acknowledged: boolean },
): Html {
  const since = (t: number | undefined) =>
    t === undefined ? '' : ` (${durationText(t - i.startedAt)} after it started)`;
  const facts = h`<dl>
<dt>Group</dt><dd><code>${labelText(i.groupLabels)}</code></dd>
<dt>Severity</dt><dd>${i.severity || 'none'}</dd>
<dt>Status</dt><dd>${status(i.status)}</dd>
<dt>Started</dt><dd>${iso(i.startedAt)}</dd>
<dt>Detected</dt><dd>${iso(i.detectedAt)}${since(i.detectedAt)}</dd>
<dt>First notified</dt><dd>${i.firstNotifiedAt ? h`${iso(i.firstNotifiedAt)}${since(i.firstNotifiedAt)}` : 'not yet'}</dd>
<dt>Acknowledged</dt><dd>${i.acknowledged ? h`by ${i.acknowledged.by} at ${iso(i.acknowledged.at)}${since(i.acknowledged.at)}` : 'no'}</dd>
<dt>Escalated</dt><dd>${i.escalatedAt ? h`${iso(i.escalatedAt)}${since(i.escalatedAt)}` : 'no'}</dd>
<dt>Resolved</dt><dd>${i.resolvedAt ? h`${iso(i.resolvedAt)}${since(i.resolvedAt)}` : 'not yet'}</dd>
${i.status === 'firing' ? h`<dt>Next step</dt><dd>${nextText(d.next, d.now)}</dd><dt>On duty</dt><dd>${onDutyText(d.onDuty)}</dd>` : ''}
<dt>Notifications</dt><dd>${i.notifications.sent} delivered${i.notifications.notKept ? `, ${i.notifications.notKept} no longer kept` : ''}</dd>
</dl>`;
  const ack =
    i.status === 'firing' && !d.acknowledged
      ? h`<form method="post" action="/now/acknowledge" class="inline">${csrfField(d.csrf)}<input type="hidden" name="incident" value="${i.id}"><input type="hidden" name="back" value="incident"><button type="submit">Acknowledge</button></form> `
      : '';
  return h`${facts}
<p class="actions">${ack}<a class="button" href="/incidents/${i.id}/postmortem.md" download="incident-${i.id}.md">Export as Markdown</a> <span class="muted-text">a postmortem draft with this timeline</span></p>
<h2>Timeline <span class="muted-text">${i.entries.length} events, UTC</span></h2>
${entryList(i)}${i.truncated ? h`<p class="muted-text">The timeline stops here: the incident has more events than one page holds.</p>` : ''}`;
}
