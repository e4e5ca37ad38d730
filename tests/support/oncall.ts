// The team the on-call tests page, as configuration (YAML lines under `receiver:`).

const HOUR = 3_600_000;

/** Wall-clock time in Shanghai (UTC+8 all year) of an instant, as a handoff or a datetime-local field holds it. */
export const shanghaiWall = (ms: number) => new Date(ms + 8 * HOUR).toISOString().slice(0, 16);

/**
 * Four people, and `primary`: a weekly rotation of Alice, Bob and Carol in Asia/Shanghai whose
 * current week is Alice's (it began a day before `now`), with On-Call on it; `schedules` are
 * more schedule entries (YAML list items indented four spaces).
 */
export function oncallTeam(opts: { now?: number; schedules?: string } = {}): string {
  const now = opts.now ?? Date.now();
  return `  people:
    - { id: alice, name: Alice Wang, email: alice@company.com, phone: '13800138010', slack_user_id: U0ALICE01 }
    - { id: bob, name: Bob Li, email: bob@company.com, phone: '13800138011' }
    - { id: carol, name: Carol Zhang, email: carol@company.com, phone: '13800138012' }
    - { id: dave, name: Dave Chen, email: dave@company.com, phone: '13800138013' }
  schedules:
    - name: primary
      time_zone: Asia/Shanghai
      rotations:
        - { name: weekly, participants: [alice, bob, carol], shift: 1w, handoff: '${shanghaiWall(now - 24 * HOUR)}' }
${opts.schedules ?? ''}  contacts:
    - { role: oncall, title: On-Call, name: 值班, phone: '13800138000', email: oncall@company.com, schedule: primary }
    - { role: techlead, title: Tech Lead, name: 技术负责人, phone: '13800138003', email: tech@company.com }
  areas: []
`;
}
