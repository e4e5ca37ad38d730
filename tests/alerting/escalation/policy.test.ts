import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTACTS, receiverSection } from '../../../src/config/receiver.js';
import { ContactBook } from '../../../src/alerting/ingest/contacts.js';
import { Roster } from '../../../src/alerting/oncall/roster.js';
import { compilePolicies, dueSteps } from '../../../src/alerting/escalation/policy.js';
import { resolveTargets } from '../../../src/alerting/escalation/steps.js';

const MIN = 60_000;
const cfg = receiverSection.parse({
  people: [
    {
      id: 'alice',
      name: 'Alice',
      email: 'alice@company.com',
      phone: '13800138010',
      slack_user_id: 'U0ALICE01',
    },
    { id: 'bob', name: 'Bob', email: 'bob@company.com', phone: '13800138011' },
    { id: 'carol', name: 'Carol', email: 'carol@company.com' },
    { id: 'dave', name: 'Dave', email: 'dave@company.com' },
  ],
  schedules: [
    {
      name: 'primary',
      time_zone: 'Asia/Shanghai',
      rotations: [{ participants: ['alice', 'bob', 'carol'], shift: '1w', handoff: '2026-03-02T09:00' }],
      overrides: [{ person: 'dave', start: '2026-03-04T09:00', end: '2026-03-04T21:00' }],
    },
  ],
  contacts: DEFAULT_CONTACTS.map((c) => (c.role === 'oncall' ? { ...c, schedule: 'primary' } : c)),
  escalation_policies: [
    {
      name: 'critical',
      steps: [
        { notify: ['schedule:primary'] },
        { after: '10m', notify: ['role:oncall', 'bob'] },
        { after: '20m', notify: ['role:techlead'], channels: ['email'] },
      ],
      repeat: 2,
      repeat_interval: '30m',
    },
  ],
});
const policy = compilePolicies(cfg).get('critical')!;
const start = Date.parse('2026-03-03T02:00:00Z');
const due = (nextIndex: number, minutes: number) =>
  dueSteps(policy, start, nextIndex, start + minutes * MIN).map((d) => [d.index, d.step + 1, d.round]);

describe('escalation policies: which steps are due', () => {
  it('sends each step at its delay from the first notification, round after round', () => {
    expect(due(0, 0)).toEqual([[0, 1, 0]]);
    expect(due(1, 9.9)).toEqual([]);
    expect(due(1, 10)).toEqual([[1, 2, 0]]);
    expect(due(2, 20)).toEqual([[2, 3, 0]]);
    // repeat_interval 30m: the second round pages the schedule again at 30 minutes, and so on.
    expect(due(3, 30)).toEqual([[3, 1, 1]]);
    expect(due(8, 80)).toEqual([[8, 3, 2]]);
    // 1 + repeat rounds, then nothing more.
    expect(due(9, 600)).toEqual([]);
  });

  it('sends the steps that came due while nobody checked once each, for their latest round', () => {
    // Stopped after the first page, back 45 minutes later: steps 2 and 3 of round 0 and steps
    // 1 and 2 of round 1 came due; step 2 is sent once (for round 1), not twice.
    expect(due(1, 45)).toEqual([
      [2, 3, 0],
      [3, 1, 1],
      [4, 2, 1],
    ]);
    expect(due(0, 24 * 60)).toEqual([
      [6, 1, 2],
      [7, 2, 2],
      [8, 3, 2],
    ]);
  });
});

describe('escalation targets: who a step pages at the instant it is sent', () => {
  const roster = new Roster(cfg);
  const book = new ContactBook(cfg, roster);
  const at = (t: string) => ({ book, roster, at: Date.parse(t) });

  it('pages whoever is on duty, as the role that schedule staffs, with phone and Slack handle', () => {
    const [primary] = resolveTargets(['schedule:primary'], at('2026-03-03T02:00:00Z'));
    expect(primary).toMatchObject({
      role: 'oncall',
      title: 'On-Call',
      name: 'Alice',
      phone: '13800138010',
      email: 'alice@company.com',
      person: 'alice',
      schedule: 'primary',
      slack_user_id: 'U0ALICE01',
      reason: 'escalation',
    });
    // The override's window (Wednesday 09:00-21:00 in Shanghai) pages Dave instead.
    expect(resolveTargets(['schedule:primary'], at('2026-03-04T02:00:00Z')).map((c) => c.name)).toEqual([
      'Dave',
    ]);
    expect(resolveTargets(['schedule:primary'], at('2026-03-04T13:00:00Z')).map((c) => c.name)).toEqual([
      'Alice',
    ]);
  });

  it('names each person once: a scheduled role, a person id and a plain role', () => {
    const targets = resolveTargets(
      ['role:oncall', 'alice', 'bob', 'role:techlead'],
      at('2026-03-03T02:00:00Z'),
    );
    expect(targets.map((c) => [c.role, c.name, c.email])).toEqual([
      ['oncall', 'Alice', 'alice@company.com'],
      ['person:bob', 'Bob', 'bob@company.com'],
      ['techlead', '技术负责人', 'tech@company.com'],
    ]);
  });
});
