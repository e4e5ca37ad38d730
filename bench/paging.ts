// How soon an escalation policy pages the person on duty and then the next step (a real SMTP
// server, check_interval 1 s); what naming the person on duty costs a webhook's answer (two
// services side by side, with and without a schedule and a policy); and what the schedule
// arithmetic costs. Rewrites its section of docs/BENCHMARKS.md.
import { receiverSection } from '../src/config/receiver.js';
import { calendarFeed } from '../src/alerting/oncall/calendar.js';
import { Roster } from '../src/alerting/oncall/roster.js';
import { oncallTeam } from '../tests/support/oncall.js';
import { startSmtp } from '../tests/support/smtp.js';
import { apiJson, startStackwatch, type StackwatchHandle } from '../tests/support/stackwatch.js';
import { waitFor } from '../tests/support/util.js';
import { postWebhook, webhook } from '../tests/support/webhooks.js';
import { machineNote, median, writeSection } from './_lib.js';

const TOKEN = 'bench-paging-token-0123456789';
const GROUPS = 5;
const STEP2_S = 5;
const POSTS = 400;

interface Page {
  subject: string;
  kind: string;
  created_at: string;
  escalation: { step: number } | null;
}

const common = `  webhook_token: ${TOKEN}
  digest: { enabled: false }
  escalation:
    check_interval: 1s
`;

async function main(): Promise<void> {
  const smtp = await startSmtp();
  const policy = `${common}  email: { smtp_url: '${smtp.url}' }
${oncallTeam()}  escalation_policies:
    - name: critical
      steps:
        - { after: 0s, notify: ['schedule:primary'], channels: [email] }
        - { after: ${STEP2_S}s, notify: ['role:techlead'], channels: [email] }
  route:
    receiver: team-ops
    routes:
      - { matchers: ['severity="critical"'], receiver: team-ops-critical }
  receivers:
    - { name: team-ops, recipients: [ops@your-company.com] }
    - { name: team-ops-critical, recipients: [ops@your-company.com, 'role:oncall'], escalation_policy: critical }
`;
  const sw = await startStackwatch({ config: `receiver:\n${policy}` });

  // 1. Pages: 2xx → the person on duty's mailbox; step 2 recorded after it fell due.
  const rows: { firstToMail: number; step2Late: number; step2ToMail: number }[] = [];
  const pageMail = (alertname: string, to: string) =>
    waitFor(
      () =>
        smtp.mails.find(
          (m) =>
            m.subject.startsWith('[ESCALATION]') && m.subject.includes(` ${alertname} `) && m.to.includes(to),
        ),
      60_000,
      `${alertname} to ${to}`,
      20,
    );
  for (let i = 0; i < GROUPS; i++) {
    const name = `BenchPage${i}`;
    const answered = await postWebhook(
      sw.url,
      webhook({ alertname: name, severity: 'critical' }),
      TOKEN,
    ).then(() => Date.now());
    const first = await pageMail(name, 'alice@company.com');
    const second = await pageMail(name, 'tech@company.com');
    const all = (await apiJson<{ notifications: Page[] }>(sw.url, TOKEN, '/api/v1/notifications?limit=1000'))
      .notifications;
    const own = all.find((n) => n.kind === 'alert' && n.subject.includes(` ${name} `))!;
    const step2 = all.find((n) => n.escalation?.step === 2 && n.subject.includes(` ${name} `))!;
    const due = Date.parse(own.created_at) + STEP2_S * 1000;
    rows.push({
      firstToMail: first.at - answered,
      step2Late: Date.parse(step2.created_at) - due,
      step2ToMail: second.at - due,
    });
  }
  await sw.stop();
  await smtp.close();

  // 2. The webhook's answer with and without a schedule behind On-Call and a policy (console
  //    channels: nothing is sent), measured alternately against both services.
  const plain = await startStackwatch({ config: `receiver:\n${common}` });
  const rostered = await startStackwatch({ config: `receiver:\n${policy.replace(/ {2}email: .*\n/, '')}` });
  const answerMs = async (s: StackwatchHandle, i: number) => {
    const t = performance.now();
    const r = await postWebhook(s.url, webhook({ alertname: `Answer${i}`, severity: 'critical' }), TOKEN);
    if (r.status !== 200) throw new Error(`webhook ${r.status}`);
    return performance.now() - t;
  };
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < POSTS; i++) {
    times[0].push(await answerMs(plain, i));
    times[1].push(await answerMs(rostered, i));
  }
  await Promise.all([plain.stop(), rostered.stop()]);

  // 3. The arithmetic: who is on duty (a weekly Berlin rotation), a schedule's status with four
  //    weeks of shifts, a 26-week calendar feed.
  const cfg = receiverSection.parse({
    people: ['a', 'b', 'c'].map((id) => ({ id, name: id })),
    schedules: [
      {
        name: 'berlin',
        time_zone: 'Europe/Berlin',
        rotations: [{ participants: ['a', 'b', 'c'], shift: '1w', handoff: '2026-11-02T09:00' }],
      },
    ],
  });
  const roster = new Roster(cfg);
  const perCall = (n: number, fn: (i: number) => unknown) => {
    for (let i = 0; i < Math.min(n, 50); i++) fn(i);
    const t = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    return (performance.now() - t) / n;
  };
  const now = Date.now();
  const onDutyUs = perCall(20_000, (i) => roster.onDuty('berlin', now + i * 60_000)) * 1000;
  const statusMs = perCall(200, (i) => roster.status('berlin', now + i * 3_600_000, 4));
  const calendarMs = perCall(50, (i) => {
    const s = roster.status('berlin', now + i * 3_600_000, 26)!;
    return calendarFeed({
      schedule: 'berlin',
      timeZone: s.timeZone,
      duties: s.shifts,
      person: (id) => roster.person(id),
      now,
      domain: 'b',
    });
  });

  const s1 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const stat = (xs: number[]) => `${s1(median(xs))} / ${s1(Math.max(...xs))}`;
  const [plainMs, rosteredMs] = times.map(median) as [number, number];
  const body = [
    `Measured by \`bench/paging.ts\` on ${machineNote()}.`,
    '',
    `**Pages.** A policy paging the person on duty at once and the Tech Lead after ${STEP2_S} s,`,
    `\`escalation.check_interval: 1s\`, a real SMTP server; ${GROUPS} critical groups one after another; median / worst.`,
    '',
    '| Measure | Median / worst |',
    '|---|---|',
    `| webhook answered → the page in the on-duty person's mailbox | ${stat(rows.map((r) => r.firstToMail))} |`,
    `| step 2 recorded after it fell due (goal: within one check interval) | ${stat(rows.map((r) => r.step2Late))} |`,
    `| step 2 due → in the Tech Lead's mailbox | ${stat(rows.map((r) => r.step2ToMail))} |`,
    '',
    `**The webhook's answer.** ${POSTS} critical webhooks posted alternately to two services, one with the`,
    'default tables and one whose On-Call is a weekly rotation and whose critical receiver names a',
    `policy (the person on duty resolved for the message and the recipients, the episode written in`,
    `the webhook's transaction): median ${plainMs.toFixed(2)} ms and ${rosteredMs.toFixed(2)} ms, a ratio of ${(rosteredMs / plainMs).toFixed(2)}.`,
    '',
    `**The arithmetic** (zone offsets read through Intl, kept per quarter hour): who is on duty in a weekly Europe/Berlin rotation`,
    `${onDutyUs.toFixed(0)} µs; a schedule's status with four weeks of shifts ${statusMs.toFixed(2)} ms; a 26-week`,
    `calendar feed ${calendarMs.toFixed(2)} ms.`,
  ].join('\n');
  console.log(body);
  writeSection('Paging the person on duty', body);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
