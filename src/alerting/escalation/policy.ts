import type { ChannelName, ReceiverConfig } from '../../config/receiver.js';

// Escalation policies as plain data, and when their steps are due: pure functions of
// (policy, episode start, steps done, now). Steps are numbered across rounds, round × steps +
// step, and their due times never decrease along that numbering (steps are ordered by `after`
// and a round is longer than its last step), so "the steps done" is one number.

export interface PolicyStep {
  /** Delay from the start of the round (the first notification, for the first round). */
  after: number;
  /** `schedule:NAME`, `role:NAME` or a person id. */
  notify: string[];
  channels: ChannelName[];
}

export interface Policy {
  name: string;
  steps: PolicyStep[];
  /** Rounds after the first. */
  repeat: number;
  /** From the start of one round to the next (0 without repeats). */
  repeatInterval: number;
}

/** A step of a round, as sent. */
export interface DueStep {
  /** Round × steps + step: the episode is past it once sent. */
  index: number;
  /** 0-based step of the policy. */
  step: number;
  /** 0 for the first round, n for the n-th repeat. */
  round: number;
  dueAt: number;
}

export function compilePolicies(cfg: Pick<ReceiverConfig, 'escalation_policies'>): Map<string, Policy> {
  return new Map(
    cfg.escalation_policies.map((p) => [
      p.name,
      {
        name: p.name,
        steps: p.steps.map((s) => ({ after: s.after, notify: s.notify, channels: s.channels })),
        repeat: p.repeat,
        repeatInterval: p.repeat_interval ?? 0,
      },
    ]),
  );
}

/** How many steps an episode of the policy sends at most: every step of every round. */
export function stepCount(p: Policy): number {
  return p.steps.length * (p.repeat + 1);
}

/** The step numbered `index`, and when it is due in an episode that started at `startedAt`. */
export function stepAt(p: Policy, startedAt: number, index: number): DueStep {
  const step = index % p.steps.length;
  const round = Math.floor(index / p.steps.length);
  const after = (p.steps[step] as PolicyStep).after;
  return { index, step, round, dueAt: startedAt + round * p.repeatInterval + after };
}

/**
 * The steps to send at `now` of an episode whose steps before `nextIndex` are done. Normally
 * one; when several came due since the last check (a check interval longer than a step's
 * delay, or stackwatch stopped in between), each step is sent once, for its latest round, so
 * nobody is paged twice for rounds that passed unseen.
 */
export function dueSteps(p: Policy, startedAt: number, nextIndex: number, now: number): DueStep[] {
  const latest = new Map<number, DueStep>();
  for (let i = nextIndex; i < stepCount(p); i++) {
    const s = stepAt(p, startedAt, i);
    if (s.dueAt > now) break;
    latest.set(s.step, s);
  }
  return [...latest.values()].sort((a, b) => a.index - b.index);
}
