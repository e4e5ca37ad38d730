import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { value } from '../../support/exposition.js';
import { parseCalendar } from '../../support/ical.js';
import { startDingTalk, type DingTalkHandle } from '../../support/dingtalk.js';
import { startSlack, type SlackHandle } from '../../support/slack.js';
import { startSmtp, type ReceivedMail, type SmtpHandle } from '../../support/smtp.js';
import { startStackwatch, type StackwatchHandle } from '../../support/stackwatch.js';
import { freePort, tempDir, waitFor } from '../../support/util.js';
import { postWebhook, webhook } from '../../support/webhooks.js';
import { oncallTeam } from '../../support/oncall.js';

// Escalation policies against a real SMTP server and the Slack fake, with step delays of
// seconds: who is paged, when, and what stops the steps still to come. Whatever must NOT be
// sent is checked after a later event that would have come after it (another group's later
// step), never after a pause.

const WEBHOOK_TOKEN = 'policies-webhook-token';
const API_TOKEN = 'policies-api-token';

interface Page {
  id: number;
  kind: string;
  status: string;
  channel: string;
  subject: string;
  recipients: string[];
  created_at: string;
  contacts: string[];
  escalation: {
    policy: string;
    step: number;
    steps: number;
    repeat: number;
    repeats: number;
    notify: string[];
  } | null;
}

interface ScheduleView {
  name: string;
  time_zone: string;
  on_duty: { id: string; name: string; phone: string }[];
  next_handoff: { at: string; on_duty: { id: string }[] } | null;
  overrides: { id: string; person: string; source: string }[];
  shifts: { person: string; name: string; start: string; end: string; start_local: string }[];
  calendar_url: string;
}

function config(port: number, dingtalk: string): string {
  return `receiver:
  webhook_token: ${WEBHOOK_TOKEN}
  api_token: ${API_TOKEN}
  external_url: http://127.0.0.1:${port}
  acknowledgement:
    secret: policies-test-signing-secret
  email:
    from: 'stackwatch <alerts@stackwatch.test>'
  slack:
    rate: 0
  digest:
    enabled: false
  retry:
    base: 200ms
  escalation:
    check_interval: 200ms
${oncallTeam({
  schedules: `    - name: berlin
      time_zone: Europe/Berlin
      rotations:
        - { participants: [bob, carol], shift: 1w, handoff: '2026-11-02T09:00' }
`,
})}  critical_roles: [oncall]
  escalation_policies:
    - name: critical
      steps:
        - { after: 0s, notify: ['schedule:primary'], channels: [email, slack, dingtalk] }
        - { after: 4s, notify: ['role:techlead'], channels: [email] }
        - { after: 8s, notify: [dave], channels: [email] }
    - name: repeating
      steps:
        - { after: 0s, notify: ['schedule:primary'], channels: [email] }
      repeat: 2
      repeat_interval: 3s
    - name: slow
      steps:
        - { after: 0s, notify: ['schedule:primary'], channels: [email] }
        - { after: 5s, notify: ['role:techlead'], channels: [email] }
        - { after: 25s, notify: [dave], channels: [email] }
  route:
    receiver: team-ops
    routes:
      - { matchers: ['alertname=~"Repeat.*"'], receiver: team-pager }
      - { matchers: ['alertname=~"Slow.*"'], receiver: team-slow }
      - { matchers: ['severity="critical"'], receiver: team-ops-critical }
  receivers:
    - { name: team-ops, channels: [email], recipients: [ops@your-company.com] }
    - name: team-ops-critical
      channels: [email, slack]
      recipients: [ops@your-company.com, 'role:oncall']
      dingtalk_webhook_url: '${dingtalk}'   # the team's group: pages @mention the person paged
      escalation_policy: critical
    # Pages only: no message of its own.
    - { name: team-pager, channels: [email], recipients: [], escalation_policy: repeating }
    - { name: team-slow, channels: [email], recipients: [], escalation_policy: slow }
`;
}

describe('escalation policies: the person on duty is paged, step by step, until someone acknowledges', () => {
  let smtp: SmtpHandle;
  let slack: SlackHandle;
  let dingtalk: DingTalkHandle;
  let robot: string;
  let sw: StackwatchHandle;
  let port: number;
  const dir = tempDir('swpol');
  const start = () =>
    startStackwatch({
      config: config(port, robot),
      dir: dir.path,
      args: [`--web.listen-address=127.0.0.1:${port}`],
      env: { SMTP_URL: smtp.url, SLACK_WEBHOOK_URL: slack.url },
    });

  beforeAll(async () => {
    [smtp, slack, dingtalk] = await Promise.all([startSmtp(), startSlack(), startDingTalk()]);
    robot = dingtalk.addRobot('oncall-group');
    port = await freePort();
    sw = await start();
  });
  afterAll(async () => {
    await sw?.stop();
    await Promise.all([smtp?.close(), slack?.close(), dingtalk?.close()]);
    dir.cleanup();
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${sw.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', ...init.headers },
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const fire = async (alertname: string, status: 'firing' | 'resolved' = 'firing') =>
    expect(
      (await postWebhook(sw.url, webhook({ alertname, severity: 'critical', status }), WEBHOOK_TOKEN)).status,
    ).toBe(200);
  /** The escalation notifications recorded for a group, oldest first. */
  const pagesOf = async (alertname: string) =>
    (await api<{ notifications: Page[] }>('/api/v1/notifications?limit=1000')).body.notifications
      .filter((n) => n.kind === 'escalation' && n.subject.includes(` ${alertname} `))
      .reverse();
  const stepPages = async (alertname: string, step: number, channel = 'email') =>
    (await pagesOf(alertname)).filter((p) => p.escalation?.step === step && p.channel === channel);
  /** Waits for the email of a step of a group, and returns the notification and the mail. */
  const paged = async (alertname: string, step: number, to: string, repeat = 0) => {
    const page = await waitFor(
      async () =>
        (await stepPages(alertname, step)).find(
          (p) => p.escalation?.repeat === repeat && p.status === 'sent',
        ),
      30_000,
      `step ${step} (repeat ${repeat}) of ${alertname}`,
    );
    expect(page.recipients).toEqual([to]);
    const mail = await waitFor(
      () =>
        smtp.mails.find(
          (m) =>
            m.subject.startsWith('[ESCALATION]') && m.subject.includes(` ${alertname} `) && m.to.includes(to),
        ),
      10_000,
      `the mail of step ${step} of ${alertname} to ${to}`,
    );
    return { page, mail };
  };
  const ackLinkIn = (m: ReceivedMail) => {
    const link = /href="(http:\/\/127\.0\.0\.1:\d+\/acknowledge\/[A-Za-z0-9_.-]+)"/.exec(m.html)?.[1];
    expect(link, 'an Acknowledge link in the page').toBeDefined();
    return link as string;
  };
  const metrics = async () => (await fetch(`${sw.url}/metrics`)).text();

  it('pages the primary on duty at once by mail and Slack, then the next step after its delay', async () => {
    await fire('PrimaryPaged');
    const first = await paged('PrimaryPaged', 1, 'alice@company.com');
    expect(first.page.escalation).toEqual({
      policy: 'critical',
      step: 1,
      steps: 3,
      repeat: 0,
      repeats: 0,
      notify: ['schedule:primary'],
    });
    expect(first.mail.headers.get('x-stackwatch-kind')).toBe('escalation');
    expect(first.mail.text).toContain('Escalation policy critical, step 1 of 3');
    expect(first.mail.text).toContain('Paging On-Call Alice Wang.');
    expect(first.mail.text).toMatch(
      /On-Call Alice Wang · phone 13800138010 · alice@company\.com · \(escalation/,
    );
    // The group's own notification names Alice as On-Call too, and went to her (role:oncall).
    const own = await waitFor(
      () => smtp.mails.find((m) => m.subject === '[FIRING:1] PrimaryPaged critical'),
      10_000,
      'the group notification',
    );
    expect(own.to.sort()).toEqual(['alice@company.com', 'ops@your-company.com']);
    expect(own.text).toMatch(/On-Call Alice Wang · phone 13800138010 · alice@company\.com · \(critical/);
    // On Slack the page mentions her.
    const slackPage = await waitFor(
      () => slack.requests.find((r) => r.raw.includes('[ESCALATION]') && r.raw.includes('PrimaryPaged')),
      10_000,
      'the Slack page',
    );
    expect(slackPage.raw).toContain('<@U0ALICE01>');
    // In the team's DingTalk group it @mentions her mobile, so her phone rings.
    const ding = await waitFor(
      () =>
        dingtalk.delivered().find((r) => r.raw.includes('[ESCALATION]') && r.raw.includes('PrimaryPaged')),
      20_000,
      'the DingTalk page',
    );
    const message = ding.body as { markdown: { text: string }; at: { atMobiles: string[] } };
    expect(message.at.atMobiles).toContain('13800138010');
    expect(message.markdown.text).toContain('@13800138010');

    const second = await paged('PrimaryPaged', 2, 'tech@company.com');
    const third = await paged('PrimaryPaged', 3, 'dave@company.com');
    const notified = (
      await api<{ notifications: Page[] }>('/api/v1/notifications?limit=1000')
    ).body.notifications.find(
      (n) => n.kind === 'alert' && n.subject === '[FIRING:1] PrimaryPaged critical' && n.channel === 'email',
    )!;
    const since = (p: Page) => Date.parse(p.created_at) - Date.parse(notified.created_at);
    expect(since(second.page)).toBeGreaterThanOrEqual(4000);
    expect(since(third.page)).toBeGreaterThanOrEqual(8000);
    expect(second.mail.text).toContain('Paging Tech Lead 技术负责人.');
    expect(third.mail.text).toContain('Paging Dave Chen.');
    const m = await metrics();
    for (const step of ['1', '2', '3'])
      expect(
        value(m, 'stackwatch_escalation_steps_total', { policy: 'critical', step }),
      ).toBeGreaterThanOrEqual(1);
    expect(value(m, 'stackwatch_escalation_steps_total', { policy: 'slow', step: '3' })).toBe(0);
  });

  it('stops every later step once someone acknowledges from the link in the page', async () => {
    await fire('AckStops');
    const { mail } = await paged('AckStops', 1, 'alice@company.com');
    const link = ackLinkIn(mail);
    const form = await (await fetch(link)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(form)?.[1] as string;
    const done = await fetch(link, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, by: 'alice', comment: 'on it' }),
    });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Acknowledged by alice');
    // A group that fires after the acknowledgement reaches its last step after AckStops would have.
    await fire('AckMarker');
    await paged('AckMarker', 3, 'dave@company.com');
    expect((await pagesOf('AckStops')).map((p) => [p.escalation?.step, p.channel])).toEqual([
      [1, 'email'],
      [1, 'slack'],
      [1, 'dingtalk'],
    ]);
    expect(
      smtp.mails.filter((m) => m.subject.includes(' AckStops ') && m.to.includes('tech@company.com')),
    ).toEqual([]);
  });

  it('stops every later step when the group resolves', async () => {
    await fire('ResolveStops');
    await paged('ResolveStops', 1, 'alice@company.com');
    await fire('ResolveStops', 'resolved');
    await fire('ResolveMarker');
    await paged('ResolveMarker', 3, 'dave@company.com');
    expect((await pagesOf('ResolveStops')).map((p) => p.escalation?.step)).toEqual([1, 1, 1]);
  });

  it('repeats the whole policy `repeat` times, then stops', async () => {
    await fire('RepeatMe');
    const rounds = [];
    for (const repeat of [0, 1, 2])
      rounds.push((await paged('RepeatMe', 1, 'alice@company.com', repeat)).page);
    expect(rounds.map((p) => p.escalation?.repeat)).toEqual([0, 1, 2]);
    expect(Date.parse(rounds[2]!.created_at) - Date.parse(rounds[0]!.created_at)).toBeGreaterThanOrEqual(
      5000,
    );
    // A group that starts now has its third round after RepeatMe's fourth would have come.
    await fire('RepeatMarker');
    await paged('RepeatMarker', 1, 'alice@company.com', 2);
    expect(await pagesOf('RepeatMe')).toHaveLength(3);
    expect(smtp.mails.filter((m) => m.subject.includes(' RepeatMe '))).toHaveLength(3);
  });

  it('pages the person of an override for its window, and the rotation again once it is deleted', async () => {
    const created = await api<{ override: { id: string; person: string; name: string } }>(
      '/api/v1/schedules/primary/overrides',
      {
        method: 'POST',
        body: JSON.stringify({ person: 'carol', duration: '1h', comment: 'swap with alice' }),
      },
    );
    expect(created.status).toBe(201);
    expect(created.body.override).toMatchObject({ person: 'carol', name: 'Carol Zhang' });
    const { body } = await api<{ schedules: ScheduleView[] }>('/api/v1/schedules');
    const primary = body.schedules.find((s) => s.name === 'primary')!;
    expect(primary.on_duty.map((p) => p.id)).toEqual(['carol']);
    expect(primary.next_handoff?.on_duty.map((p) => p.id)).toEqual(['alice']);
    expect(primary.overrides.map((o) => [o.person, o.source])).toEqual([['carol', 'api']]);

    await fire('OverridePaged');
    const { mail } = await paged('OverridePaged', 1, 'carol@company.com');
    expect(mail.text).toContain('Paging On-Call Carol Zhang.');

    const deleted = await api<{ status: string }>(
      `/api/v1/schedules/primary/overrides/${created.body.override.id}`,
      {
        method: 'DELETE',
      },
    );
    expect(deleted).toEqual({ status: 200, body: { status: 'deleted' } });
    await fire('OverrideGone');
    await paged('OverrideGone', 1, 'alice@company.com');
    expect((await stepPages('OverridePaged', 1)).map((p) => p.recipients)).toEqual([['carol@company.com']]);
  });

  it('serves the shifts as an iCalendar feed that ical.js reads as the API lists them, across a clock change', async () => {
    for (const name of ['primary', 'berlin']) {
      const { body } = await api<{ schedule: ScheduleView }>(`/api/v1/schedules/${name}?weeks=20`);
      const s = body.schedule;
      // The read-only link works without the API token; an altered one does not.
      const res = await fetch(`${s.calendar_url}&weeks=20`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/calendar/);
      const cal = parseCalendar(await res.text());
      expect(cal.name).toBe(`On call: ${name}`);
      expect(cal.events.map((e) => [e.start, e.end, e.summary])).toEqual(
        s.shifts.map((d) => [d.start, d.end, `On call: ${d.name} (${name})`]),
      );
      expect((await fetch(s.calendar_url.replace(/token=.{4}/, 'token=AAAA'))).status).toBe(403);
      expect((await fetch(s.calendar_url.replace(/\?token=.*$/, ''))).status).toBe(401);
    }
    // Berlin hands over every Monday at 09:00 local, before and after the change to summer time.
    const berlin = (await api<{ schedule: ScheduleView }>('/api/v1/schedules/berlin?weeks=26')).body.schedule;
    const handoffs = berlin.shifts.map((d) => d.start_local);
    expect(handoffs.every((t) => /T09:00:00\+0[12]:00$/.test(t))).toBe(true);
    expect(handoffs.some((t) => t.endsWith('+01:00')) && handoffs.some((t) => t.endsWith('+02:00'))).toBe(
      true,
    );
    expect(new Set(berlin.shifts.map((d) => new Date(d.start).getUTCDay()))).toEqual(new Set([1]));
  });

  it('sends a step that came due while stackwatch was stopped once when it is back, and never a step twice', async () => {
    await fire('SlowRestart');
    const { page } = await paged('SlowRestart', 1, 'alice@company.com');
    // Stopped between the first step and the second (due 5 s after the first notification).
    await sw.stop('SIGKILL');
    const due = Date.parse(page.created_at) + 5000;
    await waitFor(() => Date.now() > due + 500, 20_000, 'the second step to fall due while stopped');
    sw = await start();
    const second = await paged('SlowRestart', 2, 'tech@company.com');
    expect(Date.parse(second.page.created_at)).toBeGreaterThan(due);
    // The third step comes 20 s later still: by then any second copy of either would be there.
    await paged('SlowRestart', 3, 'dave@company.com');
    expect((await pagesOf('SlowRestart')).map((p) => p.escalation?.step)).toEqual([1, 2, 3]);
    const mails = smtp.mails.filter((m) => m.subject.includes(' SlowRestart '));
    expect(mails.map((m) => m.to.join()).sort()).toEqual([
      'alice@company.com',
      'dave@company.com',
      'tech@company.com',
    ]);
  }, 90_000);
});
