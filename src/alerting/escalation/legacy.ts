import { legacyEscalationOn, type ReceiverConfig } from '../../config/receiver.js';
import { Router } from '../ingest/routing.js';

// The escalation section is a one-step escalation policy; `check-config` shows how to write
// it as one, so a team can grow it into steps (the person on duty first, then the Tech Lead).

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** A duration as the configuration writes it: `30m`, `1h30m`, `500ms`. */
export function durationConfigText(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n) out += `${n}${unit}`;
    rest -= n * size;
  }
  return rest ? `${out}${rest}ms` : out;
}

/** What check-config says about the escalation section while it runs: the same as a policy. */
export function legacyEscalationNote(cfg: ReceiverConfig): string | undefined {
  if (!legacyEscalationOn(cfg)) return undefined;
  const e = cfg.escalation;
  const after = durationConfigText(e.after);
  const receivers = new Router(cfg).match({ severity: 'critical' }).map((m) => m.receiver);
  return [
    `note: receiver.escalation escalates every critical group to role:${e.role} after ${after} (${e.channels.join(', ')}).`,
    'It is a one-step escalation policy; written as one (its delay counted from the group’s first',
    'notification rather than the alert’s start), with steps to add before it, such as the person on duty:',
    '  receiver:',
    '    escalation_policies:',
    '      - name: tech-lead',
    '        steps:',
    `          - { after: ${after}, notify: ['role:${e.role}'], channels: [${e.channels.join(', ')}] }`,
    '    receivers:',
    ...receivers.flatMap((r) => [`      - name: ${r}`, '        escalation_policy: tech-lead']),
    'With a receiver naming a policy, the escalation section is off unless it says enabled: true.',
  ].join('\n');
}
