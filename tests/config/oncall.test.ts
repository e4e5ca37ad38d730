import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { DEFAULT_CONTACTS, DEFAULT_RECEIVERS, legacyEscalationOn } from '../../src/config/receiver.js';
import { CLI, REPO_ROOT } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

const people = [
  {
    id: 'alice',
    name: 'Alice',
    email: 'alice@company.com',
    phone: '13800138010',
    slack_user_id: 'U0ALICE01',
  },
  { id: 'bob', name: 'Bob', email: 'bob@company.com', phone: '13800138011' },
];
const schedule = {
  name: 'primary',
  time_zone: 'Asia/Shanghai',
  rotations: [{ participants: ['alice', 'bob'], shift: '1w', handoff: '2026-01-05T09:00' }],
};
const policy = {
  name: 'critical',
  steps: [
    { after: '0s', notify: ['schedule:primary'] },
    { after: '10m', notify: ['role:techlead', 'bob'], channels: ['email'] },
  ],
};

/** The one error line a receiver section gets, or 'ok'. */
function check(receiver: Record<string, unknown>): string {
  try {
    validateConfig({
      receiver: { people, schedules: [schedule], escalation_policies: [policy], ...receiver },
    });
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('configuration: people, schedules and escalation policies', () => {
  it('accepts the manuals’ team with a schedule-backed on-call role and a policy on a receiver', () => {
    const cfg = validateConfig({
      receiver: {
        people,
        schedules: [schedule],
        escalation_policies: [{ ...policy, repeat: 2, repeat_interval: '30m' }],
        receivers: [{ name: 'team-ops-critical', escalation_policy: 'critical' }],
        route: { receiver: 'team-ops-critical' },
      },
    }).receiver;
    expect(cfg.escalation_policies[0]).toMatchObject({ repeat: 2, repeat_interval: 30 * 60_000 });
    expect(cfg.escalation_policies[0]!.steps[0]!.channels).toEqual(['email', 'slack']);
    // A receiver names a policy: the escalation section steps aside unless it is switched on.
    expect(legacyEscalationOn(cfg)).toBe(false);
    expect(legacyEscalationOn({ ...cfg, escalation: { ...cfg.escalation, enabled: true } })).toBe(true);
    expect(legacyEscalationOn(validateConfig({}).receiver)).toBe(true);
  });

  it.each([
    [
      { schedules: [{ ...schedule, time_zone: 'Mars/Olympus' }] },
      'config: receiver.schedules[0].time_zone: unknown time zone "Mars/Olympus" (an IANA name like Asia/Shanghai or Europe/Berlin)',
    ],
    [
      {
        schedules: [
          { ...schedule, rotations: [{ ...schedule.rotations[0], participants: ['alice', 'zoe'] }] },
        ],
      },
      'config: receiver.schedules[0].rotations[0].participants[1]: unknown person "zoe" (people: alice, bob)',
    ],
    [
      { schedules: [{ ...schedule, rotations: [{ ...schedule.rotations[0], shift: '1 week' }] }] },
      'config: receiver.schedules[0].rotations[0].shift: must be a shift length like 12h, 1d or 1w (value: "1 week")',
    ],
    [
      { schedules: [{ ...schedule, rotations: [{ ...schedule.rotations[0], handoff: 'mondays' }] }] },
      'config: receiver.schedules[0].rotations[0].handoff: invalid time "mondays" (wall-clock time in Asia/Shanghai like 2026-01-05T09:00)',
    ],
    [
      {
        schedules: [
          { ...schedule, overrides: [{ person: 'bob', start: '2026-02-02T09:00', end: '2026-02-01T09:00' }] },
        ],
      },
      'config: receiver.schedules[0].overrides[0].end: must be after start',
    ],
    [
      { contacts: DEFAULT_CONTACTS.map((c) => (c.role === 'oncall' ? { ...c, schedule: 'secondary' } : c)) },
      'config: receiver.contacts[0].schedule: unknown schedule "secondary"',
    ],
    [
      { receivers: [{ name: 'team-ops', escalation_policy: 'night' }], route: { receiver: 'team-ops' } },
      'config: receiver.receivers[0].escalation_policy: unknown escalation policy "night" (policies: critical)',
    ],
    [
      { escalation_policies: [{ ...policy, steps: [policy.steps[1], policy.steps[0]] }] },
      'config: receiver.escalation_policies[0].steps[1].after: must not be earlier than the step before it',
    ],
    [
      { escalation_policies: [{ ...policy, steps: [{ notify: ['schedule:nights'] }] }] },
      'config: receiver.escalation_policies[0].steps[0].notify[0]: unknown schedule "nights"',
    ],
    [
      { escalation_policies: [{ ...policy, steps: [{ notify: ['zoe'] }] }] },
      'config: receiver.escalation_policies[0].steps[0].notify[0]: unknown person "zoe" (people: alice, bob)',
    ],
    [
      { escalation_policies: [{ ...policy, repeat: 2 }] },
      'config: receiver.escalation_policies[0].repeat_interval: is required with repeat: the time from the start of one round to the start of the next',
    ],
    [
      { escalation_policies: [{ ...policy, repeat: 1, repeat_interval: '5m' }] },
      "config: receiver.escalation_policies[0].repeat_interval: must be longer than the last step's after, so that rounds do not overlap",
    ],
    [
      { escalation_policies: [{ ...policy, name: 'escalation' }] },
      'config: receiver.escalation_policies[0].name: "escalation" names the escalation section',
    ],
    [
      { people: [...people, { id: 'carol', name: 'Carol', slack_user_id: '@carol' }] },
      'config: receiver.people[2].slack_user_id: must be a Slack member id like U012AB3CD (value: "@carol")',
    ],
    [{ people: [...people, { ...people[1] }] }, 'config: receiver.people[2].id: duplicate person id "bob"'],
  ])('refuses %j: %s', (receiver, error) => {
    expect(check(receiver)).toBe(error);
  });
});

describe('stackwatch check-config and the escalation section', () => {
  const tmp = tempDir('swcc');
  afterAll(() => tmp.cleanup());
  const checkConfig = async (yamlText: string) => {
    const f = join(tmp.path, 'stackwatch.yml');
    writeFileSync(f, yamlText);
    return run(process.execPath, [CLI, 'check-config', f]);
  };

  it('says how to write the escalation section as a policy, and what it says is a valid one', async () => {
    const r = await checkConfig('receiver:\n  escalation:\n    after: 45m\n    role: techlead\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(
      'note: receiver.escalation escalates every critical group to role:techlead after 45m',
    );
    const snippet = r.stdout.slice(r.stdout.indexOf('  receiver:\n'), r.stdout.indexOf('With a receiver'));
    const written = (
      parse(snippet) as { receiver: Record<string, { name: string; escalation_policy?: string }[]> }
    ).receiver;
    expect(written.escalation_policies).toEqual([
      {
        name: 'tech-lead',
        steps: [{ after: '45m', notify: ['role:techlead'], channels: ['email', 'slack'] }],
      },
    ]);
    expect(written.receivers).toEqual([{ name: 'team-ops-critical', escalation_policy: 'tech-lead' }]);
    // Taken as written into the default tables: valid, and the section steps aside for it.
    const receivers = DEFAULT_RECEIVERS.map((rc) => ({
      ...rc,
      ...written.receivers!.find((w) => w.name === rc.name),
    }));
    const cfg = validateConfig({
      receiver: { escalation_policies: written.escalation_policies, receivers },
    }).receiver;
    expect(cfg.escalation_policies[0]!.steps[0]!.after).toBe(45 * 60_000);
    expect(legacyEscalationOn(cfg)).toBe(false);
  });

  it('has nothing to say when a receiver names a policy: the shipped example', async () => {
    const r = await run(process.execPath, [CLI, 'check-config', join(REPO_ROOT, 'examples/stackwatch.yml')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });
});
